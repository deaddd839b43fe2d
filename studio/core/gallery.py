"""The gallery: every generated image with the request that made it, indexed in SQLite.

Images live under ``STUDIO_HOME/gallery``; ``gallery/index.sqlite`` holds one row per image with its
request (JSON), so results can be filtered, starred, trashed (recoverably) and reused.

At scale (100,000 images and more) the gallery is read a page at a time: :meth:`Gallery.search`
takes a ``limit`` and an ``after`` cursor (keyset pagination on the row id: newest first is the order
images were added in), words are found through an FTS5 index over prompt, negative prompt and
model, read in the same order so a page stops early (kept in sync by triggers; an older database
gains it when opened), and a row's request and extra JSON are parsed only when used.

Each row may hold a *match* score: how well the image matches its own prompt (the cosine similarity
a scorer model gives, in [-1, 1]) and the scorer that gave it; :meth:`Gallery.unscored` lists the rows
a scorer has not scored yet (rows scored by another scorer count as unscored), and ``order="match"``
sorts best match first (unscored rows last), paged on a ``(score, id)`` cursor.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from functools import cached_property
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
CREATE INDEX IF NOT EXISTS items_starred ON items(starred);
CREATE INDEX IF NOT EXISTS items_in_trash ON items(trashed_at) WHERE trashed_at IS NOT NULL;
"""
# columns later versions added: name -> definition (an older database gains them when opened)
_ADDED_COLUMNS = {
    "negative_prompt": "TEXT NOT NULL DEFAULT ''",
    "model_name": "TEXT NOT NULL DEFAULT ''",
    "match_score": "REAL",  # NULL: not scored
    "match_model": "TEXT NOT NULL DEFAULT ''",  # the scorer that gave match_score
}
ORDERS = ("newest", "match")
FEW_MATCHES = 2000  # up to this many rows with the words: best match first sorts them all
UNSCORED = -2.0  # where rows without a score sort in match order (scores lie in [-1, 1])
_MATCH_KEY = f"coalesce(items.match_score, {UNSCORED})"
_MATCH_INDEX = f"CREATE INDEX IF NOT EXISTS items_match ON items(coalesce(match_score, {UNSCORED}), id)"
_FTS_COLUMNS = ("prompt", "negative_prompt", "model", "model_name")
_FTS = f"""
CREATE VIRTUAL TABLE items_fts USING fts5({", ".join(_FTS_COLUMNS)}, content='items', content_rowid='id');
"""
_NEW = ", ".join(f"new.{c}" for c in _FTS_COLUMNS)
_OLD = ", ".join(f"old.{c}" for c in _FTS_COLUMNS)
_COLS = ", ".join(_FTS_COLUMNS)
_TRIGGERS = f"""
CREATE TRIGGER IF NOT EXISTS items_fts_insert AFTER INSERT ON items BEGIN
    INSERT INTO items_fts(rowid, {_COLS}) VALUES (new.id, {_NEW});
END;
CREATE TRIGGER IF NOT EXISTS items_fts_delete AFTER DELETE ON items BEGIN
    INSERT INTO items_fts(items_fts, rowid, {_COLS}) VALUES ('delete', old.id, {_OLD});
END;
CREATE TRIGGER IF NOT EXISTS items_fts_update AFTER UPDATE OF {_COLS} ON items BEGIN
    INSERT INTO items_fts(items_fts, rowid, {_COLS}) VALUES ('delete', old.id, {_OLD});
    INSERT INTO items_fts(rowid, {_COLS}) VALUES (new.id, {_NEW});
END;
"""
THUMBNAIL_SIZE = 256
BUSY_TIMEOUT_S = 30  # how long a write waits for another program holding the index
_WORD = re.compile(r"\w", re.UNICODE)


def model_display_name(model: str, extra: dict[str, Any] | None = None) -> str:
    """A model's short name: the one its metadata gives, else the last part of its path or id."""
    named = (extra or {}).get("model_name")
    if named:
        return str(named)
    tail = model.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
    for suffix in (".safetensors", ".ckpt", ".bin", ".gguf", ".onnx"):
        if tail.lower().endswith(suffix):
            return tail[: -len(suffix)]
    return tail or model


@dataclass(frozen=True)
class GalleryItem:
    """One gallery row; ``request`` and ``extra`` are parsed from their JSON on first use."""

    id: int
    path: str
    thumbnail: str
    created_at: float
    model: str
    prompt: str
    seed: int | None
    width: int
    height: int
    request_json: str = field(repr=False)
    extra_json: str = field(repr=False)
    starred: bool
    trashed: bool
    negative_prompt: str = ""
    model_name: str = ""
    match_score: float | None = None
    match_model: str = ""

    @cached_property
    def request(self) -> GenerationRequest:
        request = request_from_dict(json.loads(self.request_json))
        assert isinstance(request, GenerationRequest)
        return request

    @cached_property
    def extra(self) -> dict[str, Any]:
        extra: dict[str, Any] = json.loads(self.extra_json)
        return extra

    @property
    def cursor(self) -> int:
        """Where the page after this item starts (see :meth:`Gallery.search`'s ``after``)."""
        return self.id

    @property
    def match_cursor(self) -> tuple[float, int]:
        """Where the page after this item starts in match order (``search(order="match", after=…)``)."""
        return (UNSCORED if self.match_score is None else self.match_score, self.id)

    def cursor_for(self, order: str) -> int | tuple[float, int]:
        return self.match_cursor if order == "match" else self.cursor


class Gallery:
    """Thread-safe gallery index; the worker adds, the UI reads."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or home_path("gallery")
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.root / "index.sqlite", timeout=BUSY_TIMEOUT_S, check_same_thread=False,
                                   isolation_level=None)
        self._db.row_factory = sqlite3.Row
        use_wal(self._db)
        # INSERT OR REPLACE deletes the old row first: its delete trigger must keep the index in sync
        self._db.execute("PRAGMA recursive_triggers = ON")
        self._db.executescript(_SCHEMA)
        self._migrate()

    def _migrate(self) -> None:
        """Add what older databases lack: columns, then the word index (filled once) and its triggers."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                present = {row["name"] for row in self._db.execute("PRAGMA table_info(items)")}
                for name, definition in _ADDED_COLUMNS.items():
                    if name not in present:
                        self._db.execute(f"ALTER TABLE items ADD COLUMN {name} {definition}")
                if "model_name" not in present:
                    self._fill_added_columns()
                has_fts = self._db.execute(
                    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'items_fts'"
                ).fetchone()
                if not has_fts:
                    self._db.execute(_FTS)
                    self._db.execute("INSERT INTO items_fts(items_fts) VALUES ('rebuild')")
                for statement in _TRIGGERS.split("END;")[:-1]:
                    self._db.execute(statement + "END;")
                self._db.execute(_MATCH_INDEX)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def _fill_added_columns(self) -> None:
        """The new columns of rows an older version wrote, from their request and extra JSON (one pass)."""
        self._db.create_function("studio_model_name", 2, _model_name_sql, deterministic=True)
        self._db.execute(
            "UPDATE items SET negative_prompt = coalesce(CASE WHEN json_valid(request)"
            " THEN json_extract(request, '$.negative_prompt') END, ''), model_name = studio_model_name(model, extra)"
        )

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def add(self, path: str | Path, request: GenerationRequest, seed: int | None,
            extra: dict[str, Any] | None = None) -> GalleryItem:
        """Index an image file (already written) and make its thumbnail."""
        path = Path(path).resolve()
        thumbnail = self._thumbnail(path)
        extra = extra or {}
        with self._lock:
            cur = self._db.execute(
                "INSERT OR REPLACE INTO items (path, thumbnail, created_at, model, prompt, seed, width, height,"
                " request, extra, negative_prompt, model_name) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (str(path), str(thumbnail), time.time(), request.model, request.prompt, seed, request.width,
                 request.height, request.replace(seed=seed).to_json(), json.dumps(extra),
                 request.negative_prompt, model_display_name(request.model, extra)),
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
               starred: bool | None = None, trashed: bool = False, negative: str = "",
               limit: int | None = None, after: int | tuple[float, int] | None = None,
               order: str = "newest") -> list[GalleryItem]:
        """Newest first (the order images were added in), or with ``order="match"`` best match first
        (unscored rows last, newest first among equals). ``text`` matches words of the prompt,
        ``negative`` of the negative prompt and ``model`` of the model's name or path, each word as a
        word start ("red" finds "reddish"). At most ``limit`` rows, those after the ``after`` cursor
        (the last shown item's ``cursor_for(order)``)."""
        if order not in ORDERS:
            raise BadInput(f"Unknown gallery order '{order}'.", f"Choose one of: {', '.join(ORDERS)}.")
        clauses = ["items.trashed_at IS NOT NULL" if trashed else "items.trashed_at IS NULL"]
        args: list[Any] = []
        words = [(("prompt",), text), (("negative_prompt",), negative), (("model", "model_name"), model)]
        match = " AND ".join(q for columns, value in words if (q := _fts_query(columns, value)))
        for columns, value in words:  # text with no word in it (e.g. "%"): a literal substring
            if value.strip() and not _fts_query(columns, value):
                clauses.append("(" + " OR ".join(f"items.{c} LIKE ? ESCAPE '\\'" for c in columns) + ")")
                args.extend([f"%{_escape_like(value.strip())}%"] * len(columns))
        if since is not None:  # the id bound holds for every row it keeps, and lets a scan stop there
            clauses.append("items.created_at >= ? AND items.id >= "
                           "(SELECT min(id) FROM items INDEXED BY items_created WHERE created_at >= ?)")
            args.extend((since, since))
        if until is not None:
            clauses.append("items.created_at < ?")
            args.append(until)
        if starred is not None:
            clauses.append("items.starred = ?")
            args.append(int(starred))
        by_match = order == "match"
        if after is not None and by_match:  # (key, id) < (score, id): a range on the key, then the id
            score, last_id = after if isinstance(after, tuple) else (UNSCORED, after)
            clauses.append(f"{_MATCH_KEY} <= ? AND ({_MATCH_KEY} < ? OR items.id < ?)")
            args.extend((float(score), float(score), int(last_id)))
        elif after is not None:
            clauses.append(f"{'items_fts.rowid' if match else 'items.id'} < ?")
            args.append(after)
        by_key = f"{_MATCH_KEY} DESC, items.id DESC"
        with self._lock:
            if match and by_match and not self._few_matches(match):
                # many rows have the words: walk the match index, keeping rows the word index lists
                sql = ("SELECT * FROM items INDEXED BY items_match WHERE items.id IN"
                       f" (SELECT rowid FROM items_fts WHERE items_fts MATCH ?) AND {' AND '.join(clauses)}"
                       f" ORDER BY {by_key}")
                args.insert(0, match)
            elif match:  # the word index in rowid order drives the join, so LIMIT stops it early
                ordering = by_key if by_match else "items_fts.rowid DESC"
                sql = ("SELECT items.* FROM items_fts CROSS JOIN items ON items.id = items_fts.rowid"
                       f" WHERE items_fts MATCH ? AND {' AND '.join(clauses)} ORDER BY {ordering}")
                args.insert(0, match)
            else:
                table = "items INDEXED BY items_in_trash" if trashed else "items"  # the trash is small
                ordering = by_key if by_match else "items.id DESC"
                sql = f"SELECT * FROM {table} WHERE {' AND '.join(clauses)} ORDER BY {ordering}"
            if limit is not None:
                sql += " LIMIT ?"
                args.append(int(limit))
            rows = self._db.execute(sql, args).fetchall()
        return [_item(r) for r in rows]

    def _few_matches(self, match: str) -> bool:
        """Whether at most :data:`FEW_MATCHES` rows have the words (then sorting them all is quick)."""
        found = self._db.execute("SELECT count(*) FROM (SELECT rowid FROM items_fts WHERE items_fts MATCH ?"
                                 " LIMIT ?)", (match, FEW_MATCHES + 1)).fetchone()[0]
        return int(found) <= FEW_MATCHES

    def count(self, trashed: bool = False) -> int:
        with self._lock:
            where = "trashed_at IS NOT NULL" if trashed else "trashed_at IS NULL"
            return int(self._db.execute(f"SELECT count(*) FROM items WHERE {where}").fetchone()[0])

    def unscored(self, scorer: str, paths: list[str] | None = None, limit: int | None = None) -> list[GalleryItem]:
        """Rows (not in the trash, with a prompt) that ``scorer`` has not scored: never scored, or
        scored by another scorer; newest first; only those of ``paths`` when given."""
        sql = ("SELECT * FROM items WHERE trashed_at IS NULL AND trim(prompt) != ''"
               " AND (match_score IS NULL OR match_model != ?)")
        args: list[Any] = [scorer]
        if paths is not None:
            wanted = [str(Path(p).resolve()) for p in paths]
            if not wanted:
                return []
            sql += f" AND path IN ({', '.join('?' * len(wanted))})"
            args.extend(wanted)
        sql += " ORDER BY id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(int(limit))
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return [_item(r) for r in rows]

    def set_match(self, scores: dict[str, float], scorer: str, wait_s: float | None = None) -> int:
        """Store each image's match score (by path) and the scorer that gave it, in one transaction;
        how many rows were updated (an image removed meanwhile is skipped). With ``wait_s``, an index
        another program holds longer than that raises ``sqlite3.OperationalError`` (nothing stored)."""
        rows = [(max(-1.0, min(1.0, float(score))), scorer, str(Path(path).resolve()))
                for path, score in scores.items() if math.isfinite(score)]
        with self._lock:
            if wait_s is not None:
                self._db.execute(f"PRAGMA busy_timeout = {int(wait_s * 1000)}")
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    updated = 0
                    for row in rows:
                        updated += self._db.execute(
                            "UPDATE items SET match_score = ?, match_model = ? WHERE path = ?", row).rowcount
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
            finally:
                if wait_s is not None:
                    self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_S * 1000}")
        return updated

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


def score_table(data: dict[str, Any]) -> dict[str, dict[str, float]]:
    """A score job's result data (``{"images": [{"image": PATH, "scores": [{"prompt": P, "score": X}]}]}``)
    as ``{PATH: {P: X}}``; entries that are not of that shape, or not finite numbers, are left out."""
    table: dict[str, dict[str, float]] = {}
    for entry in data.get("images") or ():
        if not isinstance(entry, dict) or not isinstance(entry.get("image"), str):
            continue
        scores = table.setdefault(entry["image"], {})
        for pair in entry.get("scores") or ():
            score = pair.get("score") if isinstance(pair, dict) else None
            if isinstance(pair, dict) and isinstance(pair.get("prompt"), str) and isinstance(score, int | float) \
                    and not isinstance(score, bool) and math.isfinite(score):
                scores[pair["prompt"]] = float(score)
    return table


def own_prompt_scores(data: dict[str, Any], prompts: dict[str, str]) -> dict[str, float]:
    """Each image's score against its own prompt (``prompts``: path -> the image's prompt), from a score
    job's result data; images the job did not score are left out."""
    table = score_table(data)
    out = {}
    for path, prompt in prompts.items():
        score = table.get(path, {}).get(prompt)
        if score is not None:
            out[path] = score
    return out


def _model_name_sql(model: str | None, extra_json: str | None) -> str:
    try:
        extra = json.loads(extra_json or "{}")
    except ValueError:
        extra = {}
    return model_display_name(model or "", extra if isinstance(extra, dict) else {})


def _fts_query(columns: tuple[str, ...], text: str) -> str:
    """An FTS5 query: every word of ``text`` as a word start, in one of ``columns`` ("" if no word)."""
    phrases = ['"' + word.replace('"', '""') + '"*' for word in text.split() if _WORD.search(word)]
    if not phrases:
        return ""
    scope = columns[0] if len(columns) == 1 else "{" + " ".join(columns) + "}"
    return f"{scope} : ({' AND '.join(phrases)})"


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _item(row: sqlite3.Row) -> GalleryItem:
    return GalleryItem(
        id=row["id"], path=row["path"], thumbnail=row["thumbnail"], created_at=row["created_at"],
        model=row["model"], prompt=row["prompt"], seed=row["seed"], width=row["width"], height=row["height"],
        request_json=row["request"], extra_json=row["extra"], starred=bool(row["starred"]),
        trashed=row["trashed_at"] is not None, negative_prompt=row["negative_prompt"], model_name=row["model_name"],
        match_score=row["match_score"], match_model=row["match_model"],
    )
