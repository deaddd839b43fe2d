"""Model file hashes as AUTOMATIC1111 writes them ("Model hash": the first 10 hex digits of SHA-256),
computed once per file and remembered in ``STUDIO_HOME/cache/hashes.json`` by path, size and time."""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path

from studio.core.paths import home_path
from studio.core.storage import atomic_write_text

_lock = threading.Lock()


def model_hash(path: str | Path) -> str:
    """The A1111 "AutoV2" hash of a checkpoint file (``""`` for a folder or a missing file)."""
    path = Path(path)
    if not path.is_file():
        return ""
    stat = path.stat()
    key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    cache_file = home_path("cache") / "hashes.json"
    with _lock:
        try:
            cache = json.loads(cache_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            cache = {}
        if key in cache:
            return cache[key]
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    value = digest.hexdigest()[:10]
    with _lock:
        try:
            cache = json.loads(cache_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            cache = {}
        cache[key] = value
        atomic_write_text(cache_file, json.dumps(cache))
    return value
