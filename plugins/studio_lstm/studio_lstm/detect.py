"""Which folders are character-level LSTMs: read while the studio scans, so light (no torch; only
``char-lstm.json`` is read)."""

from __future__ import annotations

from pathlib import Path

from studio.plugins import ModelEntry, folder_size, read_json_dict

CONFIG_FILE = "char-lstm.json"
WEIGHTS_FILE = "model.safetensors"
FORMAT = "studio-char-lstm"


def identify(path: Path) -> ModelEntry | None:
    """The character LSTM in folder ``path`` (``char-lstm.json`` + ``model.safetensors``), else ``None``."""
    path = Path(path)
    if not (path.is_dir() and (path / CONFIG_FILE).is_file() and (path / WEIGHTS_FILE).is_file()):
        return None
    config = read_json_dict(path / CONFIG_FILE)
    if config.get("format") != FORMAT:
        return None
    details = {key: config.get(key) for key in ("hidden", "layers", "embed")}
    details["vocab_size"] = len(config.get("vocab") or ())
    return ModelEntry(path.name, str(path), "char-lstm", size_bytes=folder_size(path), details=details)
