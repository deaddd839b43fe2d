"""Whole-mask edits on the canvas's inpaint mask: invert, grow/shrink, feather.

They work on the mask's alpha as a NumPy array (255 = repaint) and give back a new mask image
in the canvas's format; the canvas model makes each one an undoable step.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QColor, QImage, QPainter

GROW_LIMIT = 256  # pixels: a larger grow is a different tool (select all)


def alpha_of(mask: QImage) -> np.ndarray:
    """The mask's alpha as an ``(h, w)`` uint8 array (a copy)."""
    alpha = mask.convertToFormat(QImage.Format.Format_Alpha8)
    data = np.frombuffer(bytes(alpha.constBits()), np.uint8)[: alpha.sizeInBytes()]
    return data.reshape(alpha.height(), alpha.bytesPerLine())[:, : alpha.width()].copy()


def mask_from_alpha(alpha: np.ndarray, colour: QColor) -> QImage:
    """A premultiplied ARGB mask of ``colour`` whose alpha is ``alpha``."""
    height, width = alpha.shape
    data = np.ascontiguousarray(alpha, np.uint8)
    image = QImage(data.tobytes(), width, height, width, QImage.Format.Format_Alpha8)
    mask = image.convertToFormat(QImage.Format.Format_ARGB32_Premultiplied)
    painter = QPainter(mask)
    painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_SourceIn)
    painter.fillRect(mask.rect(), colour)
    painter.end()
    return mask


def invert(alpha: np.ndarray) -> np.ndarray:
    return 255 - alpha


def grow(alpha: np.ndarray, pixels: int) -> np.ndarray:
    """Dilate the mask by ``pixels`` (erode for a negative number); an octagon close to a disc."""
    pixels = max(-GROW_LIMIT, min(GROW_LIMIT, pixels))
    op = np.maximum if pixels > 0 else np.minimum
    out = alpha.copy()
    height, width = alpha.shape
    for step in range(abs(pixels)):
        padded = np.pad(out, 1, mode="edge")  # the image's border neither grows nor eats the mask
        offsets = [(0, 1), (1, 0), (1, 2), (2, 1)]
        if step % 2:  # alternate cross and square steps: round-ish rather than square corners
            offsets += [(0, 0), (0, 2), (2, 0), (2, 2)]
        for dy, dx in offsets:
            op(out, padded[dy : dy + height, dx : dx + width], out=out)
    return out


def feather(alpha: np.ndarray, pixels: int) -> np.ndarray:
    """Blur the mask's edge by ``pixels`` (a Gaussian blur of that radius)."""
    if pixels <= 0:
        return alpha.copy()
    from PIL import Image, ImageFilter

    blurred = Image.fromarray(np.ascontiguousarray(alpha, np.uint8), "L").filter(ImageFilter.GaussianBlur(pixels))
    return np.asarray(blurred, np.uint8).copy()

