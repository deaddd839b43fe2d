"""Which folders are scorers of this family: read while the studio scans, so light (no torch; only
a JSON config is read).

- A folder with ``studio-clip.json`` (``family`` = ``studio-clip``) and ``model.safetensors``: the
  family's own dual encoder (``details["format"] = "studio"``).
- A Hugging Face folder whose ``config.json`` names ``CLIPModel`` (or ``model_type`` ``clip``), with
  weights and a tokenizer beside it: a transformers CLIP (``details["format"] = "transformers"``).
"""

from __future__ import annotations

from pathlib import Path

from studio.plugins import ModelEntry, folder_size, read_json_dict

CONFIG_NAME = "studio-clip.json"
WEIGHTS_NAME = "model.safetensors"
FAMILY = "studio-clip"
HF_WEIGHTS = ("model.safetensors", "pytorch_model.bin")
HF_TOKENIZER = ("tokenizer.json", "vocab.json")


def identify(path: Path) -> ModelEntry | None:
    """The scorer in folder ``path``, or ``None`` when it is not one."""
    path = Path(path)
    if not path.is_dir():
        return None
    if (path / CONFIG_NAME).is_file() and (path / WEIGHTS_NAME).is_file():
        config = read_json_dict(path / CONFIG_NAME)
        if config.get("family") != FAMILY:
            return None
        details = {"format": "studio", "embed_dim": config.get("embed_dim"), "side": config.get("side", 64)}
        return ModelEntry(path.name, str(path), "clip", size_bytes=folder_size(path), details=details)
    if (path / "config.json").is_file():
        config = read_json_dict(path / "config.json")
        architectures = config.get("architectures") or []
        is_clip = config.get("model_type") == "clip" or (
            isinstance(architectures, list) and "CLIPModel" in architectures)
        has_files = any((path / w).is_file() for w in HF_WEIGHTS) and any((path / t).is_file() for t in HF_TOKENIZER)
        if is_clip and has_files:
            details = {"format": "transformers", "embed_dim": config.get("projection_dim")}
            return ModelEntry(path.name, str(path), "clip", size_bytes=folder_size(path), details=details)
    return None
