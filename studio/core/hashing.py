"""Model file hashes as AUTOMATIC1111 writes them ("Model hash": the first 10 hex digits of SHA-256),
computed once per file and remembered in ``STUDIO_HOME/cache/hashes.json`` by path, size and time."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path

from studio.core.paths import home_path
from studio.core.storage import atomic_write_text, read_json_dict

_lock = threading.Lock()


def file_key(path: str | Path) -> str | None:
    """``resolved path|size|mtime_ns`` of a file (``None`` if it is not one): what caches key on."""
    path = Path(path)
    if not path.is_file():
        return None
    stat = path.stat()
    return f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"


def files_signature(path: str | Path, max_depth: int = 3, max_files: int = 4000) -> tuple:
    """Inode, size and modification time of ``path``, or of every file in a model folder (hidden
    entries skipped): it changes whenever a model's files are replaced or rewritten in place, which
    is when a loaded copy of the model must not be used any more. ``()`` if nothing is there."""
    path = Path(path)
    try:
        if not path.is_dir():
            stat = path.stat()
            return ((stat.st_ino, stat.st_size, stat.st_mtime_ns),)
    except OSError:
        return ()
    found: list[tuple[str, int, int, int]] = []
    folders = [(path, 0)]
    while folders and len(found) < max_files:
        folder, depth = folders.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                if entry.is_dir():
                    if depth < max_depth:
                        folders.append((Path(entry.path), depth + 1))
                    continue
                stat = entry.stat()  # follows links: a Hugging Face snapshot's files are links to blobs
            except OSError:
                continue
            found.append((os.path.relpath(entry.path, path), stat.st_ino, stat.st_size, stat.st_mtime_ns))
    return tuple(sorted(found))


def _cache_file() -> Path:
    return home_path("cache") / "hashes.json"


def _remembered(key: str) -> str | None:
    with _lock:
        value = read_json_dict(_cache_file()).get(key)
    return value if isinstance(value, str) else None


def model_hash(path: str | Path) -> str:
    """The A1111 "AutoV2" hash of a checkpoint file (``""`` for a folder or a missing file)."""
    path = Path(path)
    key = file_key(path)
    if key is None:
        return ""
    if (value := _remembered(key)) is not None:
        return value
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    value = digest.hexdigest()[:10]
    with _lock:
        cache = read_json_dict(_cache_file())
        cache[key] = value
        atomic_write_text(_cache_file(), json.dumps(cache))
    return value


class BackgroundHash:
    """:func:`model_hash` of ``path`` computed on a thread, so loading a model does not wait for it.

    A remembered hash (or a folder's ``""``) is known at once; otherwise the thread reads the file
    (SHA-256 releases the GIL) while the model loads and runs. :attr:`value` waits for it: the hash
    is needed only when the first image's metadata is written.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._value: str | None = None
        self._thread: threading.Thread | None = None
        key = file_key(self.path)
        if key is None:
            self._value = ""
        elif (value := _remembered(key)) is not None:
            self._value = value
        else:
            self._thread = threading.Thread(target=self._run, name="studio-model-hash", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        try:
            self._value = model_hash(self.path)
        except Exception:  # hashed again by value(), where the caller sees the error
            pass

    @property
    def value(self) -> str:
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._value is None:  # the thread failed: hash here, so the error reaches the caller
            self._value = model_hash(self.path)
        return self._value
