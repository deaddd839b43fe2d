"""Read a ``.safetensors`` header (tensor names, dtypes, shapes) without loading any weights."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

from studio.core.errors import ModelError

MAX_HEADER_BYTES = 100 * 1024 * 1024


def read_header(path: str | Path) -> dict[str, Any]:
    """Return the header mapping; a truncated or corrupt file raises :class:`ModelError`."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            raw_len = handle.read(8)
            if len(raw_len) < 8:
                raise ValueError("shorter than a header")
            (header_len,) = struct.unpack("<Q", raw_len)
            if header_len > min(MAX_HEADER_BYTES, size - 8):
                raise ValueError("header length beyond the end of the file")
            header = json.loads(handle.read(header_len))
        if not isinstance(header, dict):
            raise ValueError("header is not a mapping")
        data_len = size - 8 - header_len
        for name, info in header.items():
            if name == "__metadata__":
                continue
            start, end = info["data_offsets"]
            if not 0 <= start <= end <= data_len:
                raise ValueError(f"tensor {name} lies beyond the end of the file")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(
            f"'{path.name}' is not a readable safetensors file ({exc}).",
            "The download may be incomplete: download it again.",
        ) from None
    return header


def tensor_names(header: dict[str, Any]) -> list[str]:
    return [name for name in header if name != "__metadata__"]
