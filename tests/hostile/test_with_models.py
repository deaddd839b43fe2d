"""Hostile cases that need a model to get as far as they do: a LoRA with an odd key layout, a full disk
under ``--out`` (a real 64 kB tmpfs, filled), and ``--overwrite``. The tiny SD model is built once per
session; each case still exits 2 with one line and leaves no file (and no temp file) behind."""

from __future__ import annotations

import contextlib
import subprocess
from pathlib import Path

import pytest

from studio.core.paths import DEMO_MODELS
from tests.hostile.conftest import assert_refused, run_main, snapshot

SMALL = ["--width", "32", "--height", "32", "--steps", "2", "--seed", "1"]


@contextlib.contextmanager
def full_disk(path: Path):
    """A 64 kB tmpfs at ``path``, filled to the last byte."""
    path.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(path)],
                             capture_output=True).returncode == 0
    if not mounted:
        pytest.skip("cannot mount a small tmpfs here (not root, or no mount rights)")
    try:
        with contextlib.suppress(OSError), open(path / "filler", "wb", buffering=0) as handle:
            while True:
                handle.write(b"\0" * 512)
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=False)


def _odd_lora(folder: Path, keys: dict) -> Path:
    import torch
    from safetensors.torch import save_file

    path = folder / "odd.safetensors"
    save_file({name: torch.zeros(shape) for name, shape in keys.items()}, str(path))
    return path


@pytest.mark.parametrize("keys", [
    pytest.param({"unet.down_blocks.0.attentions.0.proj_in.lora_A.weight": (4, 8)}, id="peft-A-without-B"),
    pytest.param({"lora_te_.lora_down.weight": (2, 2)}, id="kohya-empty-module"),
    pytest.param({"lora_unet_x.lora_down.weight": (4, 8), "lora_unet_x.lora_up.weight": (8, 4)}, id="kohya-unknown"),
    pytest.param({"weights": (2,)}, id="no-lora-keys"),
])
def test_a_lora_with_an_odd_key_layout_is_one_line(keys, tiny_sd_folder, tmp_path, capsys) -> None:
    lora = _odd_lora(tmp_path, keys)
    out = tmp_path / "out"
    out.mkdir()
    outcome = run_main(["generate", "--model", str(tiny_sd_folder), "--prompt", "p", *SMALL, "--lora", str(lora),
                        "--out", str(out / "a.png")], capsys)
    assert_refused(outcome, "is not a LoRA that fits this model")
    assert snapshot(out) == {}


def test_a_full_disk_under_generate_out_is_one_line_and_leaves_nothing(tiny_sd_folder, tmp_path, capsys) -> None:
    with full_disk(tmp_path / "full") as full:
        before = snapshot(full)
        outcome = run_main(["generate", "--model", str(tiny_sd_folder), "--prompt", "p", *SMALL,
                            "--out", str(full / "a.png")], capsys)
        assert_refused(outcome, "no space left on the device")
        assert snapshot(full) == before  # no a.png, no .studio-*.tmp


@pytest.mark.skipif(not (DEMO_MODELS / "demo-text" / "model.safetensors").is_file(),
                    reason="resources/models/demo-text is not built")
def test_a_full_disk_under_text_out_is_one_line_and_leaves_nothing(tmp_path, capsys) -> None:
    with full_disk(tmp_path / "full") as full:
        before = snapshot(full)
        outcome = run_main(["text", "--model", "demo-text", "--prompt", "Once", "--max-new-tokens", "40",
                            "--seed", "1", "--out", str(full / "story.txt")], capsys)
        assert_refused(outcome, "no space left on the device")
        assert snapshot(full) == before


def test_out_is_replaced_only_with_overwrite_and_a_batch_names_its_files(tiny_sd_folder, tmp_path, capsys) -> None:
    folder = tmp_path / "pictures"
    folder.mkdir()
    out = folder / "a.png"
    out.write_bytes(b"the user's own picture")
    args = ["generate", "--model", str(tiny_sd_folder), "--prompt", "p", *SMALL, "--out", str(out)]
    assert_refused(run_main(args, capsys), "already exists")
    assert out.read_bytes() == b"the user's own picture"
    assert run_main([*args, "--overwrite", "--batch", "2"], capsys).code == 0
    assert out.read_bytes().startswith(b"\x89PNG")
    assert (folder / "a-1.png").read_bytes().startswith(b"\x89PNG")
    assert sorted(p.name for p in folder.iterdir()) == ["a-1.png", "a.png"]  # no temp file left
