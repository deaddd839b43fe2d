"""Where the studio keeps things: ``STUDIO_HOME`` (tests point it at a temp folder), and the checks a
path a person typed goes through before it is read (:func:`existing_file`)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from studio.core.errors import BadInput

RESOURCES = Path(__file__).resolve().parents[2] / "resources"
DEMO_MODELS = RESOURCES / "models"


def studio_home() -> Path:
    """The studio's data folder: ``$STUDIO_HOME`` or the platform's user data folder, created.

    A folder that cannot be created (a file in the way, no permission, a read-only disk) is one clear
    :class:`BadInput`, never a traceback."""
    env = os.environ.get("STUDIO_HOME")
    if env:
        home = Path(env).expanduser()
    else:
        import platformdirs

        home = Path(platformdirs.user_data_dir("Studio", "Studio"))
    _make_folder(home, "The studio folder", "Set STUDIO_HOME to a folder you can write to.")
    return home


def home_path(*parts: str) -> Path:
    """A folder under ``STUDIO_HOME`` (gallery, drafts, runs, cache, plugins, logs), created."""
    path = studio_home().joinpath(*parts)
    _make_folder(path, "The studio folder", "Check the permissions of STUDIO_HOME.")
    return path


def _make_folder(path: Path, what: str, hint: str) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise BadInput(f"{what} '{path}' is a file, expected a folder.", hint) from None
    except OSError as exc:
        raise BadInput(f"{what} '{path}' cannot be created ({exc.strerror or exc}).", hint) from None


def log_file() -> Path:
    return home_path("logs") / "studio.log"


def path_kind(path: str | os.PathLike[str]) -> str:
    """What is at ``path``: 'missing', 'file', 'folder', 'device', 'FIFO', 'socket' or 'special file'
    (symbolic links are followed; a dangling one is 'missing')."""
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return "missing"
    except (OSError, ValueError):  # ValueError: a NUL character in the path
        return "special file"
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "folder"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    if stat.S_ISFIFO(mode):
        return "FIFO"
    if stat.S_ISSOCK(mode):
        return "socket"
    return "special file"


def existing_file(path: str | os.PathLike[str], what: str = "file") -> Path:
    """``path`` as a readable regular file, or a :class:`BadInput` that says what is wrong: "does not
    exist" only when nothing is there; "is a folder, expected a file" and the like for the wrong kind."""
    text = os.fspath(path)
    if not text:
        raise BadInput(f"No {what} given.")
    if "\x00" in text:
        raise BadInput(f"The {what} path holds a NUL character.", "Remove it.")
    kind = path_kind(text)
    if kind == "missing":
        raise BadInput(f"The {what} '{text}' does not exist.", "Check the path.")
    if kind != "file":
        raise BadInput(f"The {what} '{text}' is a {kind}, expected a file.")
    if not os.access(text, os.R_OK):
        raise BadInput(f"The {what} '{text}' cannot be read (permission denied).", "Check its permissions.")
    return Path(text)
