"""Whether a 64x64 picture is a valid shapes picture, judged by its pixels: a plain background of
the data set, one solid shape of a palette colour on it, nothing else."""

from __future__ import annotations

import numpy as np
from PIL import Image

from studio.training import shapes
from tests.fixtures.stars import foreground

BACKGROUNDS = np.array(list(shapes.BACKGROUNDS.values()), float)
PALETTE = np.array(list(shapes.PALETTE.values()), float)


def _nearest(colour: np.ndarray, table: np.ndarray) -> float:
    return float(np.linalg.norm(table - colour, axis=1).min())


def is_valid(image: Image.Image) -> bool:
    """One shape of a palette colour on a plain background: three quarters of the border within 40
    of a data-set background, the shape's colour within 60 of a palette colour, at least 30 px, and
    nearly every pixel far from the background belongs to that one shape."""
    a = np.asarray(image.convert("RGB"), dtype=float)
    border = np.concatenate([a[:2].reshape(-1, 3), a[-2:].reshape(-1, 3), a[:, :2].reshape(-1, 3),
                             a[:, -2:].reshape(-1, 3)])
    background = np.median(border, axis=0)
    if _nearest(background, BACKGROUNDS) > 40 or np.percentile(np.linalg.norm(border - background, axis=1), 75) > 40:
        return False
    mask, colour = foreground(image)
    if mask.sum() < 30 or _nearest(colour, PALETTE) > 60:
        return False
    far = np.linalg.norm(a - background, axis=2) > 80
    stray = far & ~_grown(mask)
    return stray.sum() <= 0.1 * mask.sum()


def _grown(mask: np.ndarray) -> np.ndarray:
    """``mask`` grown by two pixels (a shape's blurred edge belongs to it)."""
    out = mask.copy()
    for _ in range(2):
        grown = out.copy()
        grown[1:] |= out[:-1]
        grown[:-1] |= out[1:]
        grown[:, 1:] |= out[:, :-1]
        grown[:, :-1] |= out[:, 1:]
        out = grown
    return out


def shape_at(image: Image.Image) -> tuple[str, float]:
    """The palette colour nearest the shape's and the x of the shape's centre (pixels)."""
    mask, colour = foreground(image)
    name = min(shapes.PALETTE, key=lambda k: float(np.linalg.norm(np.array(shapes.PALETTE[k]) - colour)))
    xs = np.nonzero(mask)[1]
    return name, float(xs.mean()) if len(xs) else -1.0
