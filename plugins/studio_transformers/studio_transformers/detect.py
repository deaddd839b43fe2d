"""Which folders are causal language models: read while the studio scans, so light (no torch,
no transformers; only ``config.json`` is read).

A Hugging Face folder with a ``config.json`` whose architecture ends in ``ForCausalLM`` or
``LMHeadModel``, and weights beside it, is a ``causal-lm``; its details say the architecture, the
``model_type`` and whether a tokenizer ships with it (``has_tokenizer``).
"""

from __future__ import annotations

from pathlib import Path

from studio.plugins import ModelEntry, folder_size, read_json_dict

WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json")


def identify(path: Path) -> ModelEntry | None:
    """The causal language model in folder ``path``, or ``None`` when it is not one."""
    path = Path(path)
    if not path.is_dir() or not (path / "config.json").is_file():
        return None
    config = read_json_dict(path / "config.json")
    architectures = config.get("architectures") or []
    if not isinstance(architectures, list):
        return None
    is_lm = any(str(a).endswith(("ForCausalLM", "LMHeadModel")) for a in architectures)
    has_weights = any((path / w).exists() for w in WEIGHT_FILES) or any(path.glob("*.safetensors"))
    if not (is_lm and has_weights):
        return None
    details = {
        "architecture": architectures[0],
        "model_type": config.get("model_type", ""),
        "has_tokenizer": any((path / f).exists() for f in TOKENIZER_FILES),
    }
    return ModelEntry(path.name, str(path), "causal-lm", size_bytes=folder_size(path), details=details)
