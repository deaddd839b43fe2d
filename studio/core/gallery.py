"""The gallery: every generated image with the request that made it, indexed in SQLite.

Images live under ``STUDIO_HOME/gallery``; ``gallery/index.sqlite`` holds one row per image with its
request (JSON), so results can be filtered, starred, trashed (recoverably) and reused.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.core.errors import BadInput
from studio.core.paths import home_path
from studio.core.requests import GenerationRequest, request_from_dict
from studio.core.storage import use_wal

_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    path TEXT NOT NULL UNIQUE,
    thumbnail TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    model TEXT NOT NULL DEFAULT '',
    prompt TEXT NOT NULL DEFAULT '',
    seed INTEGER,
    width INTEGER NOT NULL DEFAULT 0,
    height INTEGER NOT NULL DEFAULT 0,
    request TEXT NOT NULL,
    extra TEXT NOT NULL DEFAULT '{}',
    starred INTEGER NOT NULL DEFAULT 0,
    trashed_at REAL
);
CREATE INDEX IF NOT EXISTS items_created ON items(created_at);
"""
THUMBNAIL_SIZE = 256


@dataclass(frozen=True)
class GalleryItem:
    id: int
    path: str
    thumbnail: str
    created_at: float
    model: str
    prompt: str
    seed: int | None
    width: int
    height: int
    request: GenerationRequest
    extra: dict[str, Any]
    starred: bool
    trashed: bool


class Gallery:
    """Thread-safe gallery index; the worker adds, the UI reads."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or home_path("gallery")
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.root / "index.sqlite", timeout=30, check_same_thread=False,
                                   isolation_level=None)
        self._db.row_factory = sqlite3.Row
        use_wal(self._db)
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def add(self, path: str | Path, request: GenerationRequest, seed: int | None,
            extra: dict[str, Any] | None = None) -> GalleryItem:
        """Index an image file (already written) and make its thumbnail."""
        path = Path(path).resolve()
        thumbnail = self._thumbnail(path)
        with self._lock:
            cur = self._db.execute(
                "INSERT OR REPLACE INTO items (path, thumbnail, created_at, model, prompt, seed, width, height,"
                " request, extra) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (str(path), str(thumbnail), time.time(), request.model, request.prompt, seed, request.width,
                 request.height, request.replace(seed=seed).to_json(), json.dumps(extra or {})),
            )
            return self.get(cur.lastrowid)

    def _thumbnail(self, path: Path) -> Path:
        """A small copy for the gallery view; an image already that small is its own thumbnail."""
        from PIL import Image

        with Image.open(path) as image:  # reads the header only, unless the image must be shrunk
            if max(image.size) <= THUMBNAIL_SIZE:
                return path
            folder = home_path("cache", "thumbnails")
            target = folder / f"{hashlib.sha1(str(path).encode()).hexdigest()[:12]}-{path.stem}.png"
            image.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE))
            image.save(target, compress_level=1)  # a cache file: fast to write matters more than size
        return target

    def get(self, item_id: int) -> GalleryItem:
        with self._lock:
            row = self._db.execute("SELECT * FROM items WHERE id = ?", (item_id,)).fetchone()
        if row is None:
            raise BadInput(f"There is no gallery item {item_id}.")
        return _item(row)

    def search(self, text: str = "", model: str = "", since: float | None = None, until: float | None = None,
               starred: bool | None = None, trashed: bool = False) -> list[GalleryItem]:
        """Newest first; ``text`` matches the prompt, ``model`` the model name or path (substring)."""
        clauses = ["trashed_at IS NOT NULL" if trashed else "trashed_at IS NULL"]
        args: list[Any] = []
        if text:
            clauses.append("prompt LIKE ? ESCAPE '\\'")
            args.append(f"%{_escape_like(text)}%")
        if model:
            clauses.append("model LIKE ? ESCAPE '\\'")
            args.append(f"%{_escape_like(model)}%")
        if since is not None:
            clauses.append("created_at >= ?")
            args.append(since)
        if until is not None:
            clauses.append("created_at < ?")
            args.append(until)
        if starred is not None:
            clauses.append("starred = ?")
            args.append(int(starred))
        with self._lock:
            rows = self._db.execute(
                f"SELECT * FROM items WHERE {' AND '.join(clauses)} ORDER BY created_at DESC, id DESC", args
            ).fetchall()
        return [_item(r) for r in rows]

    def set_starred(self, item_id: int, starred: bool = True) -> GalleryItem:
        with self._lock:
            self._db.execute("UPDATE items SET starred = ? WHERE id = ?", (int(starred), item_id))
        return self.get(item_id)

    def trash(self, item_id: int) -> GalleryItem:
        """Move to the trash: hidden from the gallery, file kept, recoverable with :meth:`restore`."""
        with self._lock:
            self._db.execute("UPDATE items SET trashed_at = ? WHERE id = ?", (time.time(), item_id))
        return self.get(item_id)

    def restore(self, item_id: int) -> GalleryItem:
        with self._lock:
            self._db.execute("UPDATE items SET trashed_at = NULL WHERE id = ?", (item_id,))
        return self.get(item_id)

    def empty_trash(self) -> int:
        """Delete trashed images for good; returns how many."""
        items = self.search(trashed=True)
        for item in items:
            Path(item.path).unlink(missing_ok=True)
            if item.thumbnail:
                Path(item.thumbnail).unlink(missing_ok=True)
        with self._lock:
            self._db.execute("DELETE FROM items WHERE trashed_at IS NOT NULL")
        return len(items)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _item(row: sqlite3.Row) -> GalleryItem:
    request = request_from_dict(json.loads(row["request"]))
    assert isinstance(request, GenerationRequest)
    return GalleryItem(
        id=row["id"], path=row["path"], thumbnail=row["thumbnail"], created_at=row["created_at"],
        model=row["model"], prompt=row["prompt"], seed=row["seed"], width=row["width"], height=row["height"],
        request=request, extra=json.loads(row["extra"]), starred=bool(row["starred"]),
        trashed=row["trashed_at"] is not None,
    )
