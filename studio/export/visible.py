"""Visible watermarks: a text or a logo, at one of 9 anchors with a margin, an opacity and a scale
relative to the image, or tiled over the whole image.

Pure functions over PIL images, so the canvas can preview exactly what export writes:
``placements(mark, image_size, logo)`` gives the boxes, ``apply_visible(image, mark, logo)`` the result.
"""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFont

from studio.core.errors import BadInput

ANCHORS = (
    "top-left", "top", "top-right",
    "left", "center", "right",
    "bottom-left", "bottom", "bottom-right",
)


@dataclass(frozen=True)
class VisibleMark:
    """A visible mark. ``scale`` is the mark's width as a fraction of the image width; ``margin`` a
    fraction of the image's shorter side; ``opacity`` 0–1 (multiplies a logo's own alpha)."""

    text: str | None = None
    anchor: str = "bottom-right"
    margin: float = 0.03
    opacity: float = 0.5
    scale: float = 0.25
    tile: bool = False
    color: tuple[int, int, int] = (255, 255, 255)
    spacing: float = 0.5  # tiled: gap between marks as a fraction of the mark's size

    def validate(self) -> None:
        if self.anchor not in ANCHORS:
            raise BadInput(f"Unknown anchor '{self.anchor}'.", f"Choose one of: {', '.join(ANCHORS)}.")
        if not 0.0 <= self.opacity <= 1.0:
            raise BadInput(f"Opacity must be between 0 and 1, not {self.opacity}.")
        if not 0.0 < self.scale <= 1.0:
            raise BadInput(f"Scale must be above 0 and at most 1, not {self.scale}.")
        if not 0.0 <= self.margin < 0.5:
            raise BadInput(f"Margin must be between 0 and 0.5, not {self.margin}.")


def render_mark(mark: VisibleMark, image_size: tuple[int, int], logo: Image.Image | None = None) -> Image.Image:
    """The mark alone as RGBA at its final size, opacity applied."""
    mark.validate()
    width = max(1, round(image_size[0] * mark.scale))
    if logo is not None:
        src = logo.convert("RGBA")
        height = max(1, round(src.height * width / src.width))
        out = src.resize((width, height), Image.Resampling.LANCZOS)
    elif mark.text:
        out = _render_text(mark.text, width, mark.color)
    else:
        raise BadInput("A visible mark needs a text or a logo image.")
    alpha = out.getchannel("A").point(lambda a: round(a * mark.opacity))
    out.putalpha(alpha)
    return out


def _render_text(text: str, width: int, color: tuple[int, int, int]) -> Image.Image:
    size = 64
    font = ImageFont.load_default(size=size)
    left, top, right, bottom = font.getbbox(text)
    size = max(4, round(size * width / max(1, right - left)))
    font = ImageFont.load_default(size=size)
    left, top, right, bottom = font.getbbox(text)
    out = Image.new("RGBA", (max(1, right - left), max(1, bottom - top)), (*color, 0))
    ImageDraw.Draw(out).text((-left, -top), text, font=font, fill=(*color, 255))
    return out


def anchor_position(
    anchor: str, image_size: tuple[int, int], mark_size: tuple[int, int], margin: float
) -> tuple[int, int]:
    """Top-left corner of a mark of ``mark_size`` placed at ``anchor`` with ``margin``."""
    iw, ih = image_size
    mw, mh = mark_size
    m = round(min(iw, ih) * margin)
    row, col = divmod(ANCHORS.index(anchor), 3)
    x = (m, (iw - mw) // 2, iw - mw - m)[col]
    y = (m, (ih - mh) // 2, ih - mh - m)[row]
    return x, y


def placements(
    mark: VisibleMark, image_size: tuple[int, int], logo: Image.Image | None = None
) -> list[tuple[int, int, int, int]]:
    """Boxes ``(x0, y0, x1, y1)`` where the mark lands (one, or many when tiled)."""
    w, h = render_mark(mark, image_size, logo).size
    if not mark.tile:
        x, y = anchor_position(mark.anchor, image_size, (w, h), mark.margin)
        return [(x, y, x + w, y + h)]
    step_x = max(1, round(w * (1 + mark.spacing)))
    step_y = max(1, round(h * (1 + mark.spacing)))
    boxes = []
    for row, y in enumerate(range(0, image_size[1], step_y)):
        shift = (step_x // 2) if row % 2 else 0
        for x in range(-shift, image_size[0], step_x):
            boxes.append((x, y, x + w, y + h))
    return boxes


def apply_visible(image: Image.Image, mark: VisibleMark, logo: Image.Image | None = None) -> Image.Image:
    """A copy of ``image`` with the visible mark composited on it (same size, same mode family)."""
    stamp = render_mark(mark, image.size, logo)
    base = image.convert("RGBA")
    layer = Image.new("RGBA", base.size, (0, 0, 0, 0))
    for x0, y0, _, _ in placements(mark, image.size, logo):
        layer.alpha_composite(stamp, (max(0, x0), max(0, y0)), (max(0, -x0), max(0, -y0)))
    out = Image.alpha_composite(base, layer)
    if image.mode == "RGBA":
        return out
    return out.convert("RGB" if image.mode != "L" else "L")
