"""Tiny real scorers for the CLIP family's tests: one trained by ``studio train clip`` for a few steps,
and a transformers ``CLIPModel`` built from a config with the demo model's CLIP tokenizer, saved as a
local folder (nothing fetched)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from studio.core.paths import RESOURCES


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
    import torch
    from transformers import AutoTokenizer, CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor

    folder = tmp_path_factory.mktemp("tiny-clip") / "tiny-clip"
    tokenizer_files = tmp_path_factory.mktemp("clip-tokenizer")
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(RESOURCES / "models" / "demo" / "tokenizer" / name, tokenizer_files / name)
    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_files), local_files_only=True)
    torch.manual_seed(0)
    layers = {"hidden_size": 32, "intermediate_size": 37, "num_hidden_layers": 2, "num_attention_heads": 2}
    config = CLIPConfig(
        text_config={**layers, "vocab_size": len(tokenizer), "max_position_embeddings": 77,
                     "bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id,
                     "pad_token_id": tokenizer.pad_token_id},
        vision_config={**layers, "image_size": 32, "patch_size": 8}, projection_dim=16)
    CLIPModel(config).eval().save_pretrained(str(folder))
    image_processor = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(str(folder))
    return folder
