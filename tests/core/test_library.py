import json
import struct

import numpy as np
import pytest
from safetensors.numpy import save_file

from studio.core.errors import ModelError
from studio.core.library import ModelLibrary, identify


def _safetensors(path, names):
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({n: np.zeros((2, 2), dtype=np.float32) for n in names}, str(path))
    return path


def test_diffusers_folder_is_identified_without_loading(tiny_sd_folder):
    entry = identify(tiny_sd_folder)
    assert entry.kind == "diffusers"
    assert entry.details["pipeline"] == "StableDiffusionPipeline"
    assert "unet" in entry.details["components"]


def test_single_file_checkpoints_and_loras_are_told_apart(tmp_path):
    sd1 = _safetensors(tmp_path / "sd15.safetensors", ["model.diffusion_model.input.weight",
                                                      "cond_stage_model.transformer.x"])
    sdxl = _safetensors(tmp_path / "xl.safetensors", ["model.diffusion_model.a", "conditioner.embedders.1.model.x"])
    kohya = _safetensors(tmp_path / "ink.safetensors", ["lora_unet_down_blocks_0.lora_down.weight"])
    peft = _safetensors(tmp_path / "style.safetensors", ["unet.down.to_q.lora_A.weight"])
    assert identify(sd1).details == {"variant": "sd1"}
    assert identify(sdxl).details == {"variant": "sdxl"}
    assert (identify(kohya).kind, identify(kohya).details["format"]) == ("lora", "kohya")
    assert (identify(peft).kind, identify(peft).details["format"]) == ("lora", "diffusers")


def test_truncated_safetensors_is_a_clear_error(tmp_path):
    good = _safetensors(tmp_path / "m.safetensors", ["model.diffusion_model.a"])
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(good.read_bytes()[:-4])
    with pytest.raises(ModelError, match="not a readable safetensors file"):
        ModelLibrary(include_demo=False).resolve(str(broken))
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(struct.pack("<Q", 10**12) + b"{}")
    assert identify(garbage).kind == "unreadable"


def test_causal_lm_folder_and_missing_tokenizer(tmp_path):
    folder = tmp_path / "tiny-llama"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"architectures": ["LlamaForCausalLM"], "model_type": "llama"}))
    _safetensors(folder / "model.safetensors", ["model.embed_tokens.weight"])
    entry = identify(folder)
    assert entry.kind == "causal-lm"
    assert entry.details["has_tokenizer"] is False
    (folder / "tokenizer.json").write_text("{}")
    assert identify(folder).details["has_tokenizer"] is True


def test_scan_finds_folders_files_pickles_and_the_hf_cache(tmp_path, tiny_sd_folder, monkeypatch):
    import shutil

    root = tmp_path / "models"
    shutil.copytree(tiny_sd_folder, root / "sd" / "my-model")
    _safetensors(root / "loras" / "ink.safetensors", ["lora_unet_x.lora_down.weight"])
    (root / "old.ckpt").write_bytes(b"pickle")
    cache = tmp_path / "hf-cache"
    snapshot = cache / "models--acme--tiny-sd" / "snapshots" / "abc123"
    shutil.copytree(tiny_sd_folder, snapshot)
    (cache / "models--acme--tiny-sd" / "refs").mkdir()
    (cache / "models--acme--tiny-sd" / "refs" / "main").write_text("abc123")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    found = {(e.name, e.kind, e.source) for e in ModelLibrary([str(root)], include_demo=False).scan()}
    assert found == {
        ("my-model", "diffusers", "folder"),
        ("ink", "lora", "folder"),
        ("old", "pickle-checkpoint", "folder"),
        ("acme/tiny-sd", "diffusers", "hf-cache"),
    }


def test_resolve_refuses_what_is_not_a_model(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ModelError, match="not a model"):
        ModelLibrary(include_demo=False).resolve(str(tmp_path))
    with pytest.raises(ModelError, match="No model named"):
        ModelLibrary(include_demo=False, scan_hf_cache=False).resolve("nothing-here")


def test_generation_defaults_follow_the_model(tmp_path, tiny_sd_folder):
    import shutil

    from studio.core.library import generation_defaults

    assert generation_defaults(None)["width"] == 512
    folder = tmp_path / "mine"
    shutil.copytree(tiny_sd_folder, folder)
    entry = identify(folder)
    assert entry.details["native_size"] == 16  # UNet sample size 8 × VAE factor 2
    assert generation_defaults(entry)["width"] == 16
    (folder / "studio-defaults.json").write_text(json.dumps({"guidance": 4.0, "scheduler": "DPM++ 2M"}))
    defaults = generation_defaults(identify(folder))
    assert (defaults["guidance"], defaults["scheduler"], defaults["steps"]) == (4.0, "DPM++ 2M", 25)
