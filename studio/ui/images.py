"""Image conversions that are safe off the GUI thread (QImage, unlike QPixmap, is thread-safe)."""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QImage


def to_qimage(image: Any) -> QImage | None:
    """A PIL image (or a QImage) as a QImage that owns its pixels; ``None`` for anything else."""
    if isinstance(image, QImage):
        return image.copy()
    if not hasattr(image, "convert") or not hasattr(image, "size"):
        return None
    rgba = image.convert("RGBA")
    width, height = rgba.size
    data = rgba.tobytes("raw", "RGBA")
    return QImage(data, width, height, width * 4, QImage.Format.Format_RGBA8888).copy()


def load_qimage(path: str) -> QImage | None:
    """Read an image file; ``None`` if it cannot be read."""
    image = QImage(path)
    return None if image.isNull() else image
