"""File › Open Image / Save Image As / Open Recent: formats by extension, the studio's metadata kept
in saved PNGs, and the recent-files list (in the window's QSettings, missing files pruned)."""

from __future__ import annotations

import io
import os
from collections.abc import Iterable
from pathlib import Path

from PySide6.QtCore import QBuffer, QIODevice
from PySide6.QtGui import QImage

from studio.core.errors import BadInput
from studio.core.storage import write_atomically
from studio.ui.qsettings import ui_settings

SAVE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}
OPEN_FILTER = "Images (*.png *.jpg *.jpeg *.webp *.bmp *.tif *.tiff);;All files (*)"
SAVE_FILTER = "PNG image (*.png);;JPEG image (*.jpg *.jpeg);;WebP image (*.webp)"
RECENT_KEY = "files/recent"
RECENT_LIMIT = 10
QUALITY = 95


def recent_files() -> list[str]:
    """The recently opened or saved images, newest first; files gone from disk are dropped."""
    store = ui_settings()
    value = store.value(RECENT_KEY, [])
    stored = [value] if isinstance(value, str) else [str(v) for v in (value or [])]
    present = [path for path in stored if os.path.isfile(path)][:RECENT_LIMIT]
    if present != stored:
        store.setValue(RECENT_KEY, present)
        store.sync()
    return present


def remember_recent(path: str) -> list[str]:
    """Put ``path`` first in the recent list (once; at most :data:`RECENT_LIMIT`)."""
    path = os.path.abspath(path)
    paths = [path, *(p for p in recent_files() if p != path)][:RECENT_LIMIT]
    store = ui_settings()
    store.setValue(RECENT_KEY, paths)
    store.sync()
    return paths


def clear_recent() -> None:
    store = ui_settings()
    store.remove(RECENT_KEY)
    store.sync()


def png_text(path: str) -> dict[str, str]:
    """The text chunks of the PNG at ``path`` (the studio's JSON and A1111 ``parameters``), or ``{}``."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            image.load()
            return {str(k): str(v) for k, v in getattr(image, "text", {}).items()}
    except (OSError, ValueError, SyntaxError):
        return {}


def to_pil(image: QImage):  # -> PIL.Image.Image (Pillow is imported lazily)
    """``image`` as a Pillow RGBA image (through an in-memory PNG: exact, no stride handling)."""
    from PIL import Image

    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    pil = Image.open(io.BytesIO(bytes(buffer.data().data())))
    pil.load()
    return pil.convert("RGBA")


def metadata_source(image, candidates: Iterable[str]) -> str | None:
    """The first file of ``candidates`` holding exactly the pixels of ``image`` (Pillow RGBA)."""
    from PIL import Image

    wanted = image.tobytes()
    for path in candidates:
        try:
            with Image.open(path) as source:
                if source.size != image.size:
                    continue
                if source.convert("RGBA").tobytes() == wanted:
                    return path
        except (OSError, ValueError, SyntaxError):
            continue
    return None


def save_image(image: QImage, path: str, sources: Iterable[str] = ()) -> bool:
    """Save ``image`` as PNG, JPEG or WebP (by ``path``'s extension), atomically and following the
    user's umask. A PNG keeps the generation metadata of the first of ``sources`` with the same
    pixels (the file the canvas image came from). Returns whether metadata was kept."""
    from PIL.PngImagePlugin import PngInfo

    suffix = Path(path).suffix.lower()
    kind = SAVE_FORMATS.get(suffix)
    if kind is None:
        raise BadInput(f"'{Path(path).name}' has no image extension the studio writes.",
                       "End the name with .png, .jpg or .webp.")
    if image.isNull():
        raise BadInput("There is no image on the canvas to save.", "Generate one, or open one first.")
    pil = to_pil(image)
    options: dict[str, object] = {}
    kept = False
    if kind == "PNG":
        source = metadata_source(pil, sources)
        if source is not None:
            info = PngInfo()
            for key, value in png_text(source).items():
                info.add_itxt(key, value) if not value.isascii() else info.add_text(key, value)
            options["pnginfo"] = info
            kept = True
    else:
        pil = pil.convert("RGB") if kind == "JPEG" else pil
        options["quality"] = QUALITY
    target = Path(path)
    try:  # the studio's own temp name (.studio-*.tmp): a crash leaves nothing the next start does not sweep
        write_atomically(target, lambda handle: pil.save(handle, kind, **options), label="save-as")
    except OSError as exc:
        raise BadInput(f"Could not write {target}: {exc.strerror or exc}.", "Choose another folder.") from exc
    return kept
