"""Where a job's outputs become files: families return, the studio writes.

A family returns images (:class:`~studio.core.results.ImageOutput`, each with its resolved request);
:func:`write_images` saves each as a PNG with its generation metadata in the gallery folder, indexes
it in the gallery and returns the job's result naming the files. The seed in the file, in the gallery
row and in the job's result is the one the queue drew when the job was submitted.

The image file always comes first and is never lost to the index: a gallery folder that cannot be
written gets the file saved under ``STUDIO_HOME/recovered`` (or the system's temp folder) instead; a
gallery index that is locked or read-only leaves a small note in ``STUDIO_HOME/gallery-pending``,
is retried in the background, and the note is indexed at the next start
(:func:`recover_outputs`). Every such detour is said in a notice on the job.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from studio import __version__
from studio.core.errors import BadInput, StudioError
from studio.core.gallery import Gallery
from studio.core.imagemeta import save_png
from studio.core.paths import home_path, studio_home
from studio.core.requests import request_from_json
from studio.core.results import Artifact, ImageOutput, JobResult
from studio.core.storage import atomic_write_text, sweep_debris

log = logging.getLogger("studio.outputs")
PROBE_TIMEOUT_S = 0.5  # how long writing to the index may wait before it is left to the background
RETRY_DELAYS_S = (1, 2, 5, 10, 30, 60, 120, 300)
Report = Callable[..., None]


def image_path(output: ImageOutput, folder: Path | None = None) -> Path:
    """A new file name in today's gallery folder: time, seed and a short random tag."""
    folder = folder or home_path("gallery", time.strftime("%Y-%m-%d"))
    seed = getattr(output.request, "seed", None)
    return folder / f"{time.strftime('%H%M%S')}-{seed}-{uuid.uuid4().hex[:6]}.png"


def write_images(result: JobResult, gallery: Gallery | UnavailableGallery, report: Report | None = None,
                 root: str | Path = "") -> JobResult:
    """Write every image of ``result`` with its metadata, index it, and name the files as artifacts;
    under ``root`` (Settings' output folder, a folder a day) when given, else in the gallery folder."""
    if not result.images:
        return result
    artifacts = list(result.artifacts)
    notices: list[str] = []
    for output in result.images:
        request, seed = output.request, output.request.seed
        metadata = {**output.metadata, "studio_version": __version__}
        path, notice = _save(output, request, seed, metadata, root)
        if notice:
            notices.append(notice)
        gallery_id, notice = _index(gallery, path, request, seed, metadata)
        if notice:
            notices.append(notice)
        artifacts.append(Artifact(str(path), "image", {"seed": seed, "gallery_id": gallery_id}))
    data = dict(result.data)
    data.setdefault("seed", result.images[0].request.seed)
    if notices:
        data["notices"] = [*data.get("notices", []), *dict.fromkeys(notices)]
        for notice in dict.fromkeys(notices):
            log.warning("%s", notice)
            if report is not None:
                report(1, 1, notice=notice)
    return JobResult(tuple(artifacts), result.text, data)


def _save(output: ImageOutput, request: Any, seed: Any, metadata: dict[str, Any],
          root: str | Path = "") -> tuple[Path, str]:
    """Save in the output (or gallery) folder, else in a recovery folder; the path and a notice for a detour."""
    try:
        folder = _day_folder(root) if root else None
        return save_png(output.image, image_path(output, folder), request, seed, metadata), ""
    except (OSError, StudioError) as exc:  # StudioError: the day folder cannot be made
        first = exc
    for folder in _recovery_folders():
        try:
            path = save_png(output.image, image_path(output, folder), request, seed, metadata)
        except (OSError, StudioError):
            continue
        reason = getattr(first, "strerror", None) or first
        return path, f"The gallery folder cannot be written ({reason}); the image was saved as {path} instead."
    raise first


def _day_folder(root: str | Path) -> Path:
    folder = Path(root).expanduser() / time.strftime("%Y-%m-%d")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _recovery_folders() -> list[Path]:
    folders = []
    for make in (lambda: home_path("recovered"), lambda: Path(tempfile.gettempdir()) / "studio-recovered"):
        try:
            folder = make()
            folder.mkdir(parents=True, exist_ok=True)
            folders.append(folder)
        except (OSError, StudioError):
            continue
    return folders


# -- indexing ---------------------------------------------------------------------------------------
def _pending_folder() -> Path:
    return studio_home() / "gallery-pending"


def _note_pending(path: Path, request: Any, seed: Any, metadata: dict[str, Any]) -> Path | None:
    """Remember an image to index (removed once it is indexed); None where it cannot be written."""
    note = _pending_folder() / f"{uuid.uuid4().hex}.json"
    record = {"path": str(path), "request": request.to_json(), "seed": seed, "extra": metadata}
    try:
        note.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(note, json.dumps(record))
    except (OSError, TypeError, ValueError) as exc:
        log.warning("could not note %s for indexing: %s", path, exc)
        return None
    return note


class UnavailableGallery:
    """Stands for a gallery whose index could not be opened (locked by another program for longer than
    the probe waits, read-only, damaged): the studio still starts and makes images, which are written
    to the gallery folder and noted for indexing (:func:`index_pending` at the next start)."""

    def __init__(self, root: Path, reason: str) -> None:
        self.root = root
        self.reason = reason

    def add(self, *args: Any, **kwargs: Any) -> Any:
        raise sqlite3.OperationalError(self.reason)

    def search(self, *args: Any, **kwargs: Any) -> list:
        return []

    def count(self, *args: Any, **kwargs: Any) -> int:
        return 0

    def empty_trash(self) -> int:
        return 0

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise BadInput(f"The gallery index cannot be used now ({self.reason}).",
                       "Close the program holding it, then restart the studio.")

    get = set_starred = trash = restore = _refuse

    def close(self) -> None:
        pass


def open_gallery(root: Path | None = None) -> Gallery | UnavailableGallery:
    """The gallery index, or an :class:`UnavailableGallery` (at once, not after SQLite's 30 s busy
    wait) when it is locked, read-only or damaged; the reason is logged."""
    root = root or home_path("gallery")
    reason = _probe(root)
    if not reason:
        try:
            return Gallery(root)
        except sqlite3.Error as exc:
            reason = str(exc)
    log.warning("The gallery index %s cannot be opened (%s); images are saved and indexed later.",
                root / "index.sqlite", reason)
    return UnavailableGallery(root, reason)


def _index_free(gallery: Gallery | UnavailableGallery) -> bool:
    """Whether the index can be written now (a short probe: a locked index never stalls the job)."""
    return not _probe(Path(gallery.root))


def _probe(root: Path) -> str:
    """Why the index in ``root`` cannot be written now ("" when it can)."""
    db_path = root / "index.sqlite"
    try:
        probe = sqlite3.connect(db_path, timeout=PROBE_TIMEOUT_S, isolation_level=None)
    except sqlite3.Error as exc:
        return str(exc)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
        return ""
    except sqlite3.Error as exc:
        return str(exc) or type(exc).__name__
    finally:
        probe.close()


def _index(gallery: Gallery | UnavailableGallery, path: Path, request: Any, seed: Any,
           metadata: dict[str, Any]) -> tuple[Any, str]:
    """Index ``path`` now, or leave it to the background; its gallery id (or None) and a notice."""
    note = _note_pending(path, request, seed, metadata)
    error: BaseException | None = None
    if _index_free(gallery):
        try:
            item = gallery.add(path, request, seed, metadata)
        except (sqlite3.Error, OSError) as exc:
            error = exc
        else:
            if note is not None:
                note.unlink(missing_ok=True)
            return item.id, ""
    reason = f" ({error})" if error else " (it is locked or read-only)"
    if note is not None:
        _retry_in_background(Path(gallery.root), note)
    return None, (f"The image {path} is saved, but the gallery index could not be updated{reason}; "
                  "it will be indexed when the index is free again.")


def _retry_in_background(root: Path, note: Path) -> None:
    def retry() -> None:
        for delay in RETRY_DELAYS_S:
            time.sleep(delay)
            if not note.exists() or index_noted(root, note):
                return
        log.warning("The gallery index stayed unavailable; %s will be indexed at the next start.", note)

    threading.Thread(target=retry, name="studio-gallery-index-retry", daemon=True).start()


def index_noted(root: Path, note: Path, gallery: Gallery | None = None) -> bool:
    """Index the image a pending note names (a missing image just drops the note); True when done."""
    try:
        record = json.loads(note.read_text(encoding="utf-8"))
        path = Path(record["path"])
        if not path.is_file():
            note.unlink(missing_ok=True)
            return True
        request = request_from_json(record["request"])
    except FileNotFoundError:
        return True
    except Exception as exc:  # a damaged note is dropped, never retried forever
        log.warning("dropping an unreadable gallery note %s: %s", note, exc)
        note.unlink(missing_ok=True)
        return True
    own = gallery is None
    try:
        gallery = gallery or Gallery(root)
        gallery.add(path, request, record.get("seed"), record.get("extra") or {})
    except (sqlite3.Error, OSError) as exc:
        log.info("indexing %s must wait: %s", path, exc)
        return False
    finally:
        if own and gallery is not None:
            gallery.close()
    note.unlink(missing_ok=True)
    return True


def index_pending(gallery: Gallery | UnavailableGallery) -> int:
    """Index every image noted as pending (a crash or a locked index left them); how many were done."""
    try:
        notes = sorted(_pending_folder().glob("*.json"))
    except OSError:
        return 0
    if not notes or not _index_free(gallery):
        return 0
    usable = gallery if isinstance(gallery, Gallery) else None
    done = sum(index_noted(Path(gallery.root), note, usable) for note in notes)
    if done:
        log.info("Indexed %d image(s) left unindexed by an earlier run.", done)
    return done


def recover_outputs(gallery: Gallery | UnavailableGallery, extra_folders: tuple[Path, ...] = ()) -> None:
    """At start: remove crash debris (temp files of dead processes), index pending images."""
    try:
        sweep_debris(extra_folders)
        index_pending(gallery)
    except Exception:  # recovery must never stop the studio from starting
        log.exception("recovering earlier outputs failed")


def startup_notice(problems: list[str], gallery: Gallery | UnavailableGallery) -> str:
    """One line for the status bar at start: the settings' problems (the first, and how many more)
    and a gallery index that cannot be used; "" when all is well."""
    parts = []
    if problems:
        more = f" ({len(problems) - 1} more problem(s): 'studio info' lists them.)" if len(problems) > 1 else ""
        parts.append(f"Settings: {problems[0]}{more}")
    if isinstance(gallery, UnavailableGallery):
        parts.append(f"The gallery index cannot be used now ({gallery.reason}); new images are saved and "
                     "indexed once it is free.")
    return " ".join(parts)


def pending_count() -> int:
    """How many images wait to be indexed."""
    try:
        return sum(1 for _ in _pending_folder().glob("*.json"))
    except OSError:
        return 0

