"""Atomic file writes (a temp file beside the target, then a rename: nothing is half-written), the
clean-up of temp files a killed process left behind, and reading back small JSON caches.

Every temp file the studio makes is named ``.studio-<pid>-<random>-<name>.tmp``: a later start (or
any process that calls :func:`sweep_debris`) recognises its own debris and removes the files of
processes that are gone, never a file another live process is still writing. Other folders that
received such a temp file (export folders, ``--out`` folders, caches) are remembered in
``STUDIO_HOME/temp-folders.txt`` (the last 64) so they are swept too. Files are created with mode ``0o666`` less
the user's umask (0644 with umask 022), as any other program's files.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import secrets
import shutil
import signal
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

log = logging.getLogger("studio.storage")

TEMP_PREFIX = ".studio-"
TEMP_SUFFIX = ".tmp"
KILL_ENV = "STUDIO_TEST_KILL_AT"
_MAX_REMEMBERED = 64
_remembered: set[str] = set()
_STARTED_AT = time.time() - 1.0  # about when this process started (with a margin for coarse clocks)


def kill_point(name: str) -> None:
    """Tests only: SIGKILL this process here when ``$STUDIO_TEST_KILL_AT`` names this point."""
    if name and os.environ.get(KILL_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


def temp_name(target: Path) -> Path:
    """A temp file name beside ``target`` that :func:`sweep_debris` recognises."""
    return target.with_name(f"{TEMP_PREFIX}{os.getpid()}-{secrets.token_hex(4)}-{target.name[:120]}{TEMP_SUFFIX}")


def write_atomically(
    path: str | os.PathLike[str], fill: Callable[[BinaryIO], None], *, overwrite: bool = True, label: str = ""
) -> Path:
    """Create ``path`` from what ``fill`` writes into a temp file, then rename it into place.

    With ``overwrite=False`` an existing file is never replaced (``FileExistsError``). The temp file is
    removed on every failure path (a full disk leaves nothing behind). ``label`` names the kill points
    ``<label>-fsync`` and ``<label>-rename`` (tests; a gallery file is ``gallery`` by default)."""
    target = Path(path)
    if not overwrite and target.exists():
        raise FileExistsError(f"{target} already exists")
    label = label or _label_for(target)
    remember_folder(target.parent)
    tmp = temp_name(target)
    mode = _mode_of(target) if overwrite else None
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            if mode is not None:
                os.chmod(tmp, mode)  # replacing a file keeps its permissions
            fill(handle)
            handle.flush()
            kill_point(f"{label}-fsync")
            os.fsync(handle.fileno())
        kill_point(f"{label}-rename")
        if overwrite:
            os.replace(tmp, target)
        else:
            _link_new(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_folder(target.parent)
    return target


def _link_new(tmp: Path, target: Path) -> None:
    """Move ``tmp`` to ``target`` only if ``target`` does not exist (``FileExistsError`` if it does).
    A hard link does it atomically; where the file system has none (FAT and exFAT drives, some network
    shares) the name is reserved with an exclusive create and then replaced."""
    try:
        os.link(tmp, target)  # fails if the target appeared meanwhile
    except FileExistsError:
        raise
    except OSError as exc:
        if exc.errno not in _NO_LINKS:
            raise
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        os.replace(tmp, target)
        return
    os.unlink(tmp)


_NO_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS, errno.EMLINK, errno.EXDEV}


def atomic_write_bytes(
    path: str | os.PathLike[str], data: bytes, *, overwrite: bool = True, label: str = ""
) -> Path:
    """Write ``data`` to ``path`` atomically; refuse to replace an existing file unless allowed."""
    return write_atomically(path, lambda handle: handle.write(data), overwrite=overwrite, label=label)


@contextmanager
def replaced_folder(out: str | os.PathLike[str]) -> Iterator[Path]:
    """Write a whole folder (a saved model) at once: fill the empty folder this yields, beside ``out``;
    when the block ends it replaces ``out`` (the old one kept aside until the new one is in place), and
    when the block raises it is removed and ``out`` stays as it was."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = out.with_name(f".{out.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if out.exists():
        out.rename(old)
    tmp.rename(out)
    shutil.rmtree(old, ignore_errors=True)


def atomic_write_text(path: str | os.PathLike[str], text: str, *, overwrite: bool = True, label: str = "") -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"), overwrite=overwrite, label=label)


def atomic_copy_file(
    source: str | os.PathLike[str], target: str | os.PathLike[str], *, overwrite: bool = True, label: str = ""
) -> Path:
    """Copy ``source`` to ``target`` atomically (``--out`` files: label ``out``)."""
    with open(source, "rb") as src:
        return write_atomically(target, lambda handle: shutil.copyfileobj(src, handle), overwrite=overwrite,
                                label=label)


def _mode_of(target: Path) -> int | None:
    try:
        info = target.stat()
    except OSError:
        return None
    import stat

    return stat.S_IMODE(info.st_mode) if stat.S_ISREG(info.st_mode) else None


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX; a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _home() -> Path | None:
    try:
        from studio.core.paths import studio_home

        return studio_home()
    except OSError:
        return None


def _label_for(target: Path) -> str:
    home = _home()
    if home is not None and (home / "gallery") in target.parents:
        return "gallery"
    return "write"


def _registry_file(home: Path) -> Path:
    return home / "temp-folders.txt"


def remember_folder(folder: Path) -> None:
    """Note a folder where a temp file is about to be made, so a later start sweeps it (the home's
    own top folders and the gallery's day folders are always swept, so they are not noted)."""
    home = _home()
    try:
        folder = folder.resolve()
        home = home.resolve() if home is not None else None
    except OSError:
        return
    key = f"{home}\0{folder}"
    if home is None or key in _remembered:
        return
    if folder == home or folder.parent == home or folder.parent == home / "gallery":
        _remembered.add(key)  # swept anyway (see sweep_debris)
        return
    try:
        known = [str(f) for f in remembered_folders(home)]
        if str(folder) not in known:
            kept = [*known[-(_MAX_REMEMBERED - 1):], str(folder)]
            atomic_write_text(_registry_file(home), "".join(f"{line}\n" for line in kept))
        _remembered.add(key)
    except OSError as exc:  # a read-only home must not stop the write itself
        log.debug("could not remember %s: %s", folder, exc)


def remembered_folders(home: Path | None = None) -> list[Path]:
    """Folders the studio wrote temp files into (export and ``--out`` folders, caches)."""
    home = home or _home()
    if home is None:
        return []
    try:
        lines = _registry_file(home).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return []
    return [Path(line) for line in lines if line.strip()]


def _pid_of(name: str) -> int | None:
    head = name[len(TEMP_PREFIX):].split("-", 1)[0]
    return int(head) if head.isdigit() else None


def _owner_alive(pid: int | None) -> bool:
    if pid is None:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True
    return True


def is_debris(name: str, modified: float | None = None) -> bool:
    """Whether a file name is a studio temp file whose writer process is gone. A file named with this
    process's pid but last written before this process started (``modified``) is an earlier process's
    with the same pid (a container's pid 1): debris too."""
    if not (name.startswith(TEMP_PREFIX) and name.endswith(TEMP_SUFFIX)):
        return False
    pid = _pid_of(name)
    if pid == os.getpid():
        return modified is not None and modified < _STARTED_AT
    return not _owner_alive(pid)


def sweep_folder(folder: Path) -> list[Path]:
    """Remove the studio temp files of dead processes directly in ``folder``; the paths removed."""
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.startswith(TEMP_PREFIX):
            continue
        try:
            if entry.is_file(follow_symlinks=False) and is_debris(entry.name, entry.stat().st_mtime):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError as exc:
            log.warning("Could not remove the temp file %s: %s", entry.path, exc)
    return removed


def sweep_debris(extra: Iterable[Path] = ()) -> list[Path]:
    """Remove crash debris (temp files of dead processes) from ``STUDIO_HOME`` (its top folders and
    the gallery's day folders), the remembered folders and ``extra``; the paths removed."""
    home = _home()
    folders: list[Path] = list(extra)
    if home is not None:
        folders.append(home)
        folders += _subfolders(home)
        folders += _subfolders(home / "gallery")
        folders += remembered_folders(home)
    removed: list[Path] = []
    for folder in dict.fromkeys(folders):
        removed += sweep_folder(folder)
    if removed:
        log.info("Removed %d temp file(s) left by a stopped studio: %s", len(removed), ", ".join(map(str, removed)))
    return removed


def _subfolders(folder: Path) -> list[Path]:
    try:
        return [Path(e.path) for e in os.scandir(folder) if e.is_dir(follow_symlinks=False)]
    except OSError:
        return []


def read_json_dict(path: str | os.PathLike[str] | None) -> dict:
    """A JSON object from ``path``; ``{}`` when the file is missing, unreadable or not an object."""
    if path is None:
        return {}
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def use_wal(db) -> None:
    """Put an SQLite connection in WAL mode. Switching takes a moment's exclusive lock, which
    SQLite's busy timeout does not wait for: two processes opening the same file at once (a window
    and ``studio train``, or two training ranks) retry for a few seconds instead of failing."""
    import sqlite3
    import time

    for attempt in range(100):
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == 99:
                raise
            time.sleep(0.05)
