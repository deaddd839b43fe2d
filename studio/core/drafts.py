"""Drafts of the editor's documents, kept safe on disk (Qt-free, standard library only).

Every open document is mirrored to ``STUDIO_HOME/drafts/<id>.json``, written atomically (temp file,
fsync, rename), so a crash or a SIGKILL leaves either the previous or the new draft, never half of
one. :class:`Autosaver` writes a draft a short ``delay`` after the last change and at least every
``max_wait`` seconds while the user keeps typing, so a killed process loses at most ``max_wait``
seconds (plus one write) of typing. On the next start :meth:`DraftStore.recoverable` lists the
drafts with changes that were never saved to a file: the UI offers to restore them;
:meth:`DraftStore.begin_session` tells whether the previous studio ended without
:meth:`DraftStore.end_session`, i.e. crashed or was killed.

A draft file that cannot be read is never deleted: it is moved to ``drafts/unreadable/`` and
reported with a :class:`DraftError` (or in :attr:`DraftStore.problems` when listing).

    store = DraftStore()
    draft = store.new("Caption ideas", format="markdown")
    saver = Autosaver(store)                 # one per editor
    draft.text += "A red circle"; saver.changed(draft)   # after every edit
    saver.close()                            # flushes on exit
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.core.errors import BadInput
from studio.core.paths import home_path
from studio.core.storage import atomic_write_text

log = logging.getLogger("studio.drafts")

DRAFT_VERSION = 1
FORMATS = ("text", "markdown")
UNREADABLE = "unreadable"
SESSION_MARKER = ".running"
OFFERED = "offered_at"  # meta key: when the UI last offered to restore this draft


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. no permission: it exists
        return True
    return True


class DraftError(BadInput):
    """A draft file could not be read (it has been kept aside, nothing was deleted)."""


@dataclass
class Draft:
    """One document of the editor as autosaved.

    ``path`` is the file the user saved it to (if any) and ``saved`` tells whether ``text`` is what
    that file holds; a draft with ``saved=False`` has changes that only the draft keeps.
    ``meta`` holds what travels with the document: e.g. ``{"watermark": {...settings...}}`` so a
    later "Check watermark" uses the settings it was generated with, or the marked AI spans.
    """

    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    title: str = "Untitled"
    text: str = ""
    format: str = "text"
    path: str | None = None
    saved: bool = False
    created: float = field(default_factory=time.time)
    updated: float = field(default_factory=time.time)
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"version": DRAFT_VERSION, **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, data: Any) -> Draft:
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        data = dict(data)
        version = data.pop("version", DRAFT_VERSION)
        if not isinstance(version, int) or version > DRAFT_VERSION:
            raise ValueError(f"written by a newer studio (draft version {version})")
        names = {f.name for f in dataclasses.fields(cls)}
        draft = cls(**{k: v for k, v in data.items() if k in names})
        if not isinstance(draft.id, str) or not draft.id or not isinstance(draft.text, str):
            raise ValueError("missing id or text")
        if draft.format not in FORMATS:
            draft.format = "text"
        if not isinstance(draft.meta, dict):
            draft.meta = {}
        return draft

    def copy(self) -> Draft:
        return dataclasses.replace(self, meta=json.loads(json.dumps(self.meta)))


class DraftStore:
    """The drafts folder: save, load, list, recover and discard drafts."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = Path(root) if root is not None else home_path("drafts")
        self.root.mkdir(parents=True, exist_ok=True)
        self.problems: list[str] = []
        self._lock = threading.Lock()

    # -- crash detection ------------------------------------------------------------------
    def begin_session(self) -> bool:
        """Note that a studio is running; True when the previous one ended without
        :meth:`end_session` (a crash or a kill), i.e. when to offer :meth:`recoverable` drafts."""
        marker = self.root / SESSION_MARKER
        crashed = False
        try:
            pid = int(marker.read_text(encoding="utf-8").strip() or 0)
        except FileNotFoundError:
            pid = None
        except (OSError, ValueError):
            pid, crashed = None, True
        if pid is not None:
            crashed = pid != os.getpid() and not _pid_alive(pid)
        atomic_write_text(marker, str(os.getpid()))
        return crashed

    def end_session(self) -> None:
        """The studio is closing normally (after its drafts were flushed)."""
        (self.root / SESSION_MARKER).unlink(missing_ok=True)

    def file_of(self, draft_id: str) -> Path:
        if not draft_id or any(c in draft_id for c in "/\\") or draft_id.startswith("."):
            raise BadInput(f"'{draft_id}' is not a draft id.")
        return self.root / f"{draft_id}.json"

    def new(self, title: str = "Untitled", text: str = "", format: str = "text") -> Draft:
        draft = Draft(title=title, text=text, format=format if format in FORMATS else "text")
        self.save(draft)
        return draft

    def save(self, draft: Draft) -> Path:
        """Write ``draft`` atomically (the previous version stays intact until the rename)."""
        draft.updated = time.time()
        payload = json.dumps(draft.to_dict(), ensure_ascii=False, indent=1)
        with self._lock:
            return atomic_write_text(self.file_of(draft.id), payload)

    def load(self, draft_id: str) -> Draft:
        return self._read(self.file_of(draft_id))

    def _read(self, path: Path) -> Draft:
        try:
            raw = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise DraftError(f"There is no draft {path.stem}.") from None
        except (OSError, UnicodeDecodeError) as exc:
            kept = self._keep_aside(path)
            raise DraftError(f"The draft file {path.name} could not be read ({exc}).",
                             f"It was moved to {kept}; nothing was deleted.") from None
        try:
            return Draft.from_dict(json.loads(raw))
        except (ValueError, TypeError) as exc:
            if "newer studio" in str(exc):
                raise DraftError(f"The draft {path.name} was {exc}.", "Open it with that studio.") from None
            kept = self._keep_aside(path)
            raise DraftError(f"The draft file {path.name} is damaged ({exc}).",
                             f"It was moved to {kept} as it was; nothing was deleted.") from None

    def _keep_aside(self, path: Path) -> Path:
        aside = self.root / UNREADABLE
        aside.mkdir(exist_ok=True)
        target = aside / path.name
        n = 1
        while target.exists():
            target = aside / f"{path.stem}.{n}{path.suffix}"
            n += 1
        try:
            os.replace(path, target)
        except OSError:
            return path  # could not move it: it stays where it was, still untouched
        log.warning("Unreadable draft %s kept aside as %s", path, target)
        return target

    def list(self) -> list[Draft]:
        """Every readable draft, most recently changed first. Unreadable files are moved aside and
        described in :attr:`problems`."""
        self.problems = []
        drafts = []
        for path in sorted(self.root.glob("*.json")):
            if path.name.startswith("."):
                continue
            try:
                drafts.append(self._read(path))
            except DraftError as exc:
                self.problems.append(exc.user_text())
        drafts.sort(key=lambda d: d.updated, reverse=True)
        return drafts

    def recoverable(self, include_offered: bool = True) -> list[Draft]:
        """Drafts with changes never saved to a file: what to offer after a crash. Without
        ``include_offered``, only those never offered before (a restore offer is made once)."""
        return [d for d in self.list() if not d.saved and (include_offered or not d.meta.get(OFFERED))]

    def mark_offered(self, drafts: list[Draft]) -> None:
        """The user was offered to restore ``drafts``: a later normal start does not ask again."""
        for draft in drafts:
            draft.meta[OFFERED] = time.time()
            self.save(draft)

    def mark_saved(self, draft: Draft, path: str | os.PathLike[str]) -> None:
        """The user saved the document to ``path``: the draft no longer needs recovering."""
        draft.path, draft.saved = str(path), True
        self.save(draft)

    def discard(self, draft_id: str) -> None:
        """Forget a draft (the user closed the document on purpose)."""
        self.file_of(draft_id).unlink(missing_ok=True)


class Autosaver:
    """Saves drafts on a background thread, ``delay`` s after the last change and at most ``max_wait`` s
    after the first unsaved one. ``changed(draft)`` is cheap: call it after every edit.

    ``on_error(draft_id, exc)`` hears about failed writes (disk full, read-only folder); the draft
    stays pending and is retried.
    """

    def __init__(self, store: DraftStore, delay: float = 2.0, max_wait: float = 4.0,
                 on_error: Callable[[str, BaseException], None] | None = None,
                 on_saved: Callable[[str], None] | None = None) -> None:
        self.store = store
        self.delay = delay
        self.max_wait = max(delay, max_wait)
        self.on_error = on_error
        self.on_saved = on_saved
        self._pending: dict[str, tuple[Draft, float, float]] = {}  # id -> (snapshot, first, last change)
        self._cond = threading.Condition()
        self._write_lock = threading.Lock()
        self._settled: dict[str, float] = {}  # id -> when it was saved to a file or discarded
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="studio-draft-autosave", daemon=True)
        self._thread.start()

    def changed(self, draft: Draft) -> None:
        snapshot = draft.copy()
        snapshot.saved = False
        now = time.monotonic()
        with self._cond:
            first = self._pending[draft.id][1] if draft.id in self._pending else now
            self._pending[draft.id] = (snapshot, first, now)
            self._cond.notify()

    @property
    def pending(self) -> int:
        with self._cond:
            return len(self._pending)

    def forget(self, draft_id: str) -> None:
        with self._cond:
            self._pending.pop(draft_id, None)

    def mark_saved(self, draft: Draft, path: str | os.PathLike[str]) -> None:
        """The user saved the document to ``path``: drop pending autosaves, record it as saved."""
        with self._write_lock:
            self.forget(draft.id)
            self._settled[draft.id] = time.monotonic()
            self.store.mark_saved(draft, path)

    def discard(self, draft_id: str) -> None:
        """The user closed the document on purpose: no autosave, no recovery offer."""
        with self._write_lock:
            self.forget(draft_id)
            self._settled[draft_id] = time.monotonic()
            self.store.discard(draft_id)

    def flush(self) -> None:
        """Write every pending draft now (on this thread)."""
        with self._cond:
            items = list(self._pending.items())
            self._pending.clear()
        for _id, (draft, first, last) in items:
            self._write(draft, first, last)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(timeout=5)
        self.flush()

    def _due(self, now: float) -> tuple[list[tuple[Draft, float, float]], float | None]:
        due, wake = [], None
        for draft_id, (draft, first, last) in list(self._pending.items()):
            at = min(last + self.delay, first + self.max_wait)
            if at <= now:
                due.append((draft, first, last))
                del self._pending[draft_id]
            else:
                wake = at if wake is None else min(wake, at)
        return due, wake

    def _loop(self) -> None:
        while True:
            with self._cond:
                if self._closed:
                    return
                due, wake = self._due(time.monotonic())
                if not due:
                    self._cond.wait(None if wake is None else max(0.0, wake - time.monotonic()))
                    continue
            for draft, first, last in due:
                self._write(draft, first, last)

    def _write(self, draft: Draft, first: float, last: float) -> None:
        try:
            with self._write_lock:
                if last <= self._settled.get(draft.id, float("-inf")):
                    return  # an edit from before the user saved or closed the document
                self.store.save(draft)
        except Exception as exc:  # keep the draft pending and tell the UI
            log.error("Could not autosave draft %s: %s", draft.id, exc)
            with self._cond:
                if draft.id not in self._pending:
                    self._pending[draft.id] = (draft, first, last)
            if self.on_error is not None:
                with contextlib.suppress(Exception):
                    self.on_error(draft.id, exc)
            time.sleep(min(1.0, self.delay))
            return
        if self.on_saved is not None:
            with contextlib.suppress(Exception):
                self.on_saved(draft.id)
