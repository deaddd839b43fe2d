"""Tiny real scorers for the CLIP family's tests: one trained by ``studio train clip`` for a few steps,
and a transformers ``CLIPModel`` built from a config with the demo model's CLIP tokenizer, saved as a
local folder (nothing fetched)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.tiny_clip import build_tiny_clip


@pytest.fixture(scope="session")
def trained_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dual encoder trained 6 steps on 64 shapes pairs, as a job of the queue (``studio train clip``)."""
    from studio.cli.main import main

    root = tmp_path_factory.mktemp("clip")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STUDIO_HOME", str(root / "home"))
        code = main(["train", "clip", "--shapes", "64", "--steps", "6", "--batch-size", "16", "--embed-dim", "16",
                     "--eval-every", "3", "--sample-every", "3", "--threads", "1", "--run-dir", str(root / "run"),
                     "--out", str(root / "model")])
    assert code == 0
    return root


@pytest.fixture(scope="session")
def tiny_transformers_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A seeded tiny ``CLIPModel`` folder (config.json, safetensors, tokenizer, processor config)."""
    return build_tiny_clip(tmp_path_factory.mktemp("tiny-clip"))
