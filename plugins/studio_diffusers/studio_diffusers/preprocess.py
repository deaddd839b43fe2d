"""Control-image preprocessors that need no model weights: Canny edges with Pillow and numpy.

Other preprocessors (depth, pose, line art) need networks whose weights are downloaded by the
packages that provide them (controlnet_aux); the studio names none of those. A control image made
elsewhere is used as it is (preprocess ``""``).
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter

#: A1111's defaults for its Canny preprocessor (on 0–255 grey levels).
CANNY_LOW = 100.0
CANNY_HIGH = 200.0


def preprocess(image: Image.Image, name: str) -> Image.Image:
    """The control image ``name`` makes from ``image`` (RGB); ``""`` returns it unchanged."""
    if name == "canny":
        return canny(image)
    return image.convert("RGB")


def canny(image: Image.Image, low: float = CANNY_LOW, high: float = CANNY_HIGH) -> Image.Image:
    """White edges on black: Gaussian blur, Sobel gradients, thinning to local maxima along the
    gradient, then edges above ``high`` grown through pixels above ``low`` (hysteresis)."""
    grey = np.asarray(image.convert("L").filter(ImageFilter.GaussianBlur(1.4)), dtype=np.float32)
    p = np.pad(grey, 1, mode="edge")
    gx = (p[:-2, 2:] + 2 * p[1:-1, 2:] + p[2:, 2:]) - (p[:-2, :-2] + 2 * p[1:-1, :-2] + p[2:, :-2])
    gy = (p[2:, :-2] + 2 * p[2:, 1:-1] + p[2:, 2:]) - (p[:-2, :-2] + 2 * p[:-2, 1:-1] + p[:-2, 2:])
    magnitude = np.hypot(gx, gy)
    thin = _local_maxima(magnitude, gx, gy)
    strong = thin >= high
    weak = thin >= low
    edges = strong
    while True:  # grow strong edges into touching weak ones until nothing changes
        grown = _dilate(edges) & weak
        if np.array_equal(grown, edges):
            break
        edges = grown
    return Image.fromarray(edges.astype(np.uint8) * 255, mode="L").convert("RGB")


def _local_maxima(magnitude: np.ndarray, gx: np.ndarray, gy: np.ndarray) -> np.ndarray:
    """``magnitude`` where it is a maximum across the edge (the gradient direction, in 4 bins), else 0."""
    angle = (np.degrees(np.arctan2(gy, gx)) + 180.0) % 180.0
    bins = ((angle + 22.5) // 45).astype(int) % 4  # 0: horizontal gradient, 1: 45°, 2: vertical, 3: 135°
    padded = np.pad(magnitude, 1)
    h, w = magnitude.shape
    neighbours = {0: ((0, 1), (0, -1)), 1: ((1, 1), (-1, -1)), 2: ((1, 0), (-1, 0)), 3: ((1, -1), (-1, 1))}
    keep = np.zeros_like(magnitude, dtype=bool)
    for index, ((r1, c1), (r2, c2)) in neighbours.items():
        first = padded[1 + r1:1 + r1 + h, 1 + c1:1 + c1 + w]
        second = padded[1 + r2:1 + r2 + h, 1 + c2:1 + c2 + w]
        keep |= (bins == index) & (magnitude >= first) & (magnitude >= second)
    return np.where(keep, magnitude, 0.0)


def _dilate(mask: np.ndarray) -> np.ndarray:
    """``mask`` grown by one pixel in all 8 directions."""
    padded = np.pad(mask, 1)
    h, w = mask.shape
    out = np.zeros_like(mask)
    for r in (0, 1, 2):
        for c in (0, 1, 2):
            out |= padded[r:r + h, c:c + w]
    return out
