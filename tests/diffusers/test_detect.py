"""The Stable Diffusion family tells its folders and files apart by reading small files only."""

import json
import shutil
import struct
import subprocess
import sys

import numpy as np
import pytest
from safetensors.numpy import save_file

from studio.core.errors import ModelError
from studio.core.library import generation_defaults
from studio.core.requests import GenerationRequest
from tests.plugin_helpers import identify, library


def _safetensors(path, names):
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({n: np.zeros((2, 2), dtype=np.float32) for n in names}, str(path))
    return path


def test_the_detector_imports_nothing_heavy():
    code = ("import sys, studio_diffusers.detect; "
            "print(sorted(m for m in ('torch', 'diffusers', 'transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_diffusers_folder_is_identified_without_loading(tiny_sd_folder):
    entry = identify(tiny_sd_folder)
    assert entry.kind == "diffusers"
    assert entry.details["pipeline"] == "StableDiffusionPipeline"
    assert "unet" in entry.details["components"]


def test_single_file_checkpoints_and_loras_are_told_apart(tmp_path):
    sd1 = _safetensors(tmp_path / "sd15.safetensors", ["model.diffusion_model.input.weight",
                                                      "cond_stage_model.transformer.x"])
    sd2 = _safetensors(tmp_path / "sd21.safetensors", ["model.diffusion_model.a", "cond_stage_model.model.x"])
    sdxl = _safetensors(tmp_path / "xl.safetensors", ["model.diffusion_model.a", "conditioner.embedders.1.model.x"])
    kohya = _safetensors(tmp_path / "ink.safetensors", ["lora_unet_down_blocks_0.lora_down.weight"])
    peft = _safetensors(tmp_path / "style.safetensors", ["unet.down.to_q.lora_A.weight"])
    other = _safetensors(tmp_path / "other.safetensors", ["encoder.weight"])
    for path, variant, side in ((sd1, "sd1", 512), (sd2, "sd2", 768), (sdxl, "sdxl", 1024)):
        entry = identify(path)
        assert (entry.kind, entry.details["variant"]) == ("sd-checkpoint", variant)
        defaults = generation_defaults(entry)
        assert (defaults["width"], defaults["height"]) == (side, side)
        assert defaults["steps"] == GenerationRequest().steps
    assert (identify(kohya).kind, identify(kohya).details["format"]) == ("lora", "kohya")
    assert (identify(peft).kind, identify(peft).details["format"]) == ("lora", "diffusers")
    assert identify(other) is None


def test_truncated_safetensors_is_a_clear_error(tmp_path):
    good = _safetensors(tmp_path / "m.safetensors", ["model.diffusion_model.a"])
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(good.read_bytes()[:-4])
    with pytest.raises(ModelError, match="not a readable safetensors file"):
        library(include_demo=False).resolve(str(broken))
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(struct.pack("<Q", 10**12) + b"{}")
    entry = identify(garbage)
    assert entry.kind == "unreadable" and entry.details["error"]


def test_pickles_are_listed_as_unsafe_but_weights_inside_a_model_folder_are_not(tmp_path):
    assert identify(tmp_path / "old.ckpt") is None  # missing
    (tmp_path / "old.ckpt").write_bytes(b"pickle")
    entry = identify(tmp_path / "old.ckpt")
    assert (entry.kind, entry.details["unsafe"]) == ("pickle-checkpoint", True)
    lm = tmp_path / "lm"
    lm.mkdir()
    (lm / "config.json").write_text("{}")
    (lm / "pytorch_model.bin").write_bytes(b"pickle")
    assert identify(lm / "pytorch_model.bin") is None


def test_defaults_follow_the_folder(tmp_path, tiny_sd_folder):
    folder = tmp_path / "mine"
    shutil.copytree(tiny_sd_folder, folder)
    entry = identify(folder)
    assert entry.details["native_size"] == 16  # UNet sample size 8 × VAE factor 2
    assert entry.details["defaults"] == {"width": 16, "height": 16}
    assert generation_defaults(entry)["width"] == 16
    (folder / "studio-defaults.json").write_text(json.dumps({"guidance": 4.0, "scheduler": "DPM++ 2M"}))
    defaults = generation_defaults(identify(folder))
    # what the folder does not recommend comes from the request's own defaults (one source)
    assert (defaults["guidance"], defaults["scheduler"], defaults["steps"]) == (4.0, "DPM++ 2M",
                                                                               GenerationRequest().steps)
    (folder / "studio-defaults.json").write_text(json.dumps({"steps": 9}))
    assert generation_defaults(identify(folder))["steps"] == 9


def test_scan_finds_folders_files_pickles_and_the_hf_cache(tmp_path, tiny_sd_folder, monkeypatch):
    root = tmp_path / "models"
    shutil.copytree(tiny_sd_folder, root / "sd" / "my-model")
    _safetensors(root / "loras" / "ink.safetensors", ["lora_unet_x.lora_down.weight"])
    _safetensors(root / "checkpoints" / "sd15.safetensors", ["model.diffusion_model.a"])
    (root / "old.ckpt").write_bytes(b"pickle")
    cache = tmp_path / "hf-cache"
    snapshot = cache / "models--acme--tiny-sd" / "snapshots" / "abc123"
    shutil.copytree(tiny_sd_folder, snapshot)
    (cache / "models--acme--tiny-sd" / "refs").mkdir()
    (cache / "models--acme--tiny-sd" / "refs" / "main").write_text("abc123")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    found = {(e.name, e.kind, e.source) for e in library(root, include_demo=False).scan()}
    assert found == {
        ("my-model", "diffusers", "folder"),
        ("ink", "lora", "folder"),
        ("sd15", "sd-checkpoint", "folder"),
        ("old", "pickle-checkpoint", "folder"),
        ("acme/tiny-sd", "diffusers", "hf-cache"),
    }


def test_models_list_shows_what_the_plugins_recognise(tmp_path, tiny_sd_folder, capsys):
    from studio.cli.main import main
    from studio.core.settings import Settings

    root = tmp_path / "models"
    shutil.copytree(tiny_sd_folder, root / "my-model")
    _safetensors(root / "xl.safetensors", ["model.diffusion_model.a", "conditioner.embedders.1.model.x"])
    settings = Settings.load()
    settings.model_folders = [str(root)]
    settings.save()
    assert main(["models", "list", "--json"]) == 0
    models = {m["name"]: m for m in json.loads(capsys.readouterr().out)}
    assert (models["my-model"]["kind"], models["my-model"]["family"]) == ("diffusers", "diffusers")
    assert models["my-model"]["path"] == str(root / "my-model")
    assert (models["xl"]["kind"], models["xl"]["details"]["variant"]) == ("sd-checkpoint", "sdxl")
