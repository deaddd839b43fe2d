"""The procedural shapes data set the ``demo`` text-to-image model learns from.

Every image is 64×64 and shows one shape (circle, square, triangle) in one palette colour, large or
small, at one of five places, on a white, black or gray background that is never the shape's own
colour. Captions read like "a large red circle on the left on a white background". Items are pure
functions of ``(seed, index)``, so the data set is the same on every machine. "star" is kept out on
purpose: a later fine-tuning issue teaches it as a new concept.

Pure numpy + Pillow: no torch here, so tests and the evaluation judge can use it cheaply.
"""

from __future__ import annotations

import itertools
import zlib
from dataclasses import asdict, dataclass

import numpy as np
from PIL import Image, ImageDraw

IMAGE_SIZE = 64

PALETTE: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "green": (40, 180, 60),
    "blue": (40, 80, 220),
    "yellow": (240, 210, 40),
    "purple": (140, 60, 180),
    "orange": (245, 140, 30),
    "white": (245, 245, 245),
    "black": (20, 20, 20),
}
BACKGROUNDS: dict[str, tuple[int, int, int]] = {
    "white": (245, 245, 245),
    "black": (20, 20, 20),
    "gray": (128, 128, 128),
}
SHAPES = ("circle", "square", "triangle")
SIZES = ("large", "small")
#: Nominal extent of a shape in pixels (diameter, side, or triangle base and height).
SIZE_PX = {"large": 28.0, "small": 14.0}
#: Where a shape's bounding box is centred, in pixels (x, y), and how a caption says it.
POSITIONS: dict[str, tuple[float, float]] = {
    "left": (17.0, 32.0),
    "right": (47.0, 32.0),
    "top": (32.0, 17.0),
    "bottom": (32.0, 47.0),
    "centre": (32.0, 32.0),
}
POSITION_PHRASES = {
    "left": "on the left",
    "right": "on the right",
    "top": "at the top",
    "bottom": "at the bottom",
    "centre": "in the centre",
}
#: Random jitter of each item: position in pixels (±), size as a fraction (±).
POSITION_JITTER = 2.0
SIZE_JITTER = 0.08
HOLDOUT_SEED = 1234
HOLDOUT_FRACTION = 0.1
_SUPERSAMPLE = 4


@dataclass(frozen=True)
class ShapeSpec:
    """What one image shows; ``caption`` renders it as the model reads it."""

    size: str
    colour: str
    shape: str
    position: str
    background: str

    @property
    def caption(self) -> str:
        return (
            f"a {self.size} {self.colour} {self.shape} {POSITION_PHRASES[self.position]}"
            f" on a {self.background} background"
        )

    @property
    def key(self) -> str:
        return f"{self.size}-{self.colour}-{self.shape}-{self.position}-{self.background}"

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def all_specs() -> list[ShapeSpec]:
    """Every valid combination (660), in a fixed order; background never equals shape colour."""
    out = []
    for size, colour, shape, position, bg in itertools.product(
        SIZES, PALETTE, SHAPES, POSITIONS, BACKGROUNDS
    ):
        if PALETTE[colour] == BACKGROUNDS[bg]:
            continue
        out.append(ShapeSpec(size, colour, shape, position, bg))
    return out


def _split() -> tuple[list[ShapeSpec], list[ShapeSpec]]:
    specs = all_specs()
    rng = np.random.default_rng(HOLDOUT_SEED)
    n_hold = round(len(specs) * HOLDOUT_FRACTION)
    idx = set(rng.permutation(len(specs))[:n_hold].tolist())
    train = [s for i, s in enumerate(specs) if i not in idx]
    held = [s for i, s in enumerate(specs) if i in idx]
    return train, held


def train_specs() -> list[ShapeSpec]:
    """The combinations the model trains on (about 90 %)."""
    return _split()[0]


def heldout_specs() -> list[ShapeSpec]:
    """Combinations never shown in training, for evaluating compositional generalisation."""
    return _split()[1]


def render(spec: ShapeSpec, dx: float = 0.0, dy: float = 0.0, scale: float = 1.0) -> Image.Image:
    """Draw ``spec`` as a 64×64 RGB image (anti-aliased by supersampling)."""
    ss = _SUPERSAMPLE
    big = IMAGE_SIZE * ss
    img = Image.new("RGB", (big, big), BACKGROUNDS[spec.background])
    draw = ImageDraw.Draw(img)
    cx, cy = POSITIONS[spec.position]
    cx, cy = (cx + dx) * ss, (cy + dy) * ss
    half = SIZE_PX[spec.size] * scale * ss / 2
    colour = PALETTE[spec.colour]
    box = (cx - half, cy - half, cx + half, cy + half)
    if spec.shape == "circle":
        draw.ellipse(box, fill=colour)
    elif spec.shape == "square":
        draw.rectangle(box, fill=colour)
    elif spec.shape == "triangle":
        draw.polygon([(cx, cy - half), (cx + half, cy + half), (cx - half, cy + half)], fill=colour)
    else:  # pragma: no cover - guarded by SHAPES
        raise ValueError(f"unknown shape {spec.shape!r}")
    return img.resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BOX)


class ShapesDataset:
    """``length`` items drawn from ``split`` ("train", "heldout" or "all"), reproducible by seed.

    Item ``i`` is a dict with ``image`` (PIL RGB 64×64), ``caption`` and ``spec``. It depends only
    on ``(seed, split, i)``: the same on every machine and every run.
    """

    def __init__(self, length: int = 6600, seed: int = 0, split: str = "train") -> None:
        if split == "train":
            self.specs = train_specs()
        elif split == "heldout":
            self.specs = heldout_specs()
        elif split == "all":
            self.specs = all_specs()
        else:
            raise ValueError(f"unknown split {split!r}; use train, heldout or all")
        self.length = int(length)
        self.seed = int(seed)
        self._split_id = zlib.crc32(split.encode())

    def __len__(self) -> int:
        return self.length

    def spec(self, index: int) -> ShapeSpec:
        return self.specs[index % len(self.specs)]

    def __getitem__(self, index: int) -> dict:
        if not 0 <= index < self.length:
            raise IndexError(index)
        spec = self.spec(index)
        rng = np.random.default_rng([self.seed, self._split_id, index])
        dx, dy = rng.uniform(-POSITION_JITTER, POSITION_JITTER, size=2)
        scale = 1.0 + rng.uniform(-SIZE_JITTER, SIZE_JITTER)
        image = render(spec, float(dx), float(dy), float(scale))
        return {"image": image, "caption": spec.caption, "spec": spec}


def vocabulary() -> list[str]:
    """Every word a caption uses, for the demo tokenizer's word-level vocabulary."""
    words: set[str] = set()
    for spec in all_specs():
        words.update(spec.caption.split())
    return sorted(words)
