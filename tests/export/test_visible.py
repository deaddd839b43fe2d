"""Visible marks land where they are placed, at the chosen opacity (checked by pixels)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from studio.core.errors import BadInput
from studio.export.visible import ANCHORS, VisibleMark, anchor_position, apply_visible, placements

SIZE = (400, 300)


def logo(color=(255, 0, 0)) -> Image.Image:
    return Image.new("RGBA", (100, 50), (*color, 255))


@pytest.mark.parametrize("anchor", ANCHORS)
def test_logo_lands_at_its_anchor_with_its_opacity(anchor: str) -> None:
    base = Image.new("RGB", SIZE, (0, 0, 0))
    mark = VisibleMark(anchor=anchor, margin=0.05, opacity=0.5, scale=0.25)
    out = np.asarray(apply_visible(base, mark, logo()))
    (x0, y0, x1, y1), = placements(mark, SIZE, logo())
    assert (x1 - x0, y1 - y0) == (100, 50)  # 25 % of the width, aspect kept
    m = 15  # 5 % of the shorter side
    expected_x = {"left": m, "right": SIZE[0] - 100 - m}.get(anchor.split("-")[-1], (SIZE[0] - 100) // 2)
    expected_y = {"top": m, "bottom": SIZE[1] - 50 - m}.get(anchor.split("-")[0], (SIZE[1] - 50) // 2)
    assert (x0, y0) == (expected_x, expected_y)
    inside = out[y0:y1, x0:x1]
    assert np.all(np.abs(inside[..., 0].astype(int) - 128) <= 1) and inside[..., 1:].max() == 0
    outside = out.copy()
    outside[y0:y1, x0:x1] = 0
    assert outside.max() == 0  # nothing else touched


def test_text_mark_is_inside_its_box_only() -> None:
    base = Image.new("RGB", SIZE, (0, 0, 0))
    mark = VisibleMark(text="© Studio", anchor="bottom-right", opacity=1.0, scale=0.3)
    out = np.asarray(apply_visible(base, mark)).max(axis=2)
    (x0, y0, x1, y1), = placements(mark, SIZE)
    assert x1 <= SIZE[0] - 9 and y1 <= SIZE[1] - 9  # margin 3 % of 300
    assert abs((x1 - x0) - 120) <= 2  # 30 % of the width
    assert out[y0:y1, x0:x1].max() == 255  # opaque white glyphs
    ys, xs = np.nonzero(out)
    assert xs.min() >= x0 and xs.max() < x1 and ys.min() >= y0 and ys.max() < y1


def test_opacity_scales_the_blend() -> None:
    base = Image.new("RGB", SIZE, (100, 100, 100))
    for opacity in (0.0, 0.25, 1.0):
        mark = VisibleMark(anchor="center", opacity=opacity)
        out = np.asarray(apply_visible(base, mark, logo((200, 200, 200))))
        assert abs(int(out[150, 200, 0]) - round(100 + 100 * opacity)) <= 1


def test_tiled_mark_covers_the_image() -> None:
    base = Image.new("RGB", SIZE, (0, 0, 0))
    mark = VisibleMark(opacity=1.0, scale=0.1, tile=True)
    out = np.asarray(apply_visible(base, mark, logo((255, 255, 255))))[..., 0]
    boxes = placements(mark, SIZE, logo())
    assert len(boxes) >= 12
    for qy in range(3):
        for qx in range(3):
            quarter = out[qy * 100:(qy + 1) * 100, qx * 133:(qx + 1) * 133]
            assert quarter.max() == 255 and quarter.min() == 0


def test_alpha_of_the_logo_is_respected_and_mode_kept() -> None:
    base = Image.new("L", SIZE, 0)
    half = Image.new("RGBA", (100, 50), (255, 255, 255, 0))
    half.paste((255, 255, 255, 255), (0, 0, 50, 50))
    out = np.asarray(apply_visible(base, VisibleMark(anchor="top-left", margin=0, opacity=1.0), half))
    assert out.ndim == 2 and out[10, 10] == 255 and out[10, 80] == 0


def test_bad_settings_are_clear() -> None:
    with pytest.raises(BadInput, match="anchor"):
        VisibleMark(anchor="middle").validate()
    with pytest.raises(BadInput, match="Opacity"):
        VisibleMark(opacity=2).validate()
    with pytest.raises(BadInput):
        apply_visible(Image.new("RGB", SIZE), VisibleMark())


def test_anchor_position_math() -> None:
    assert anchor_position("bottom-right", (1000, 500), (100, 50), 0.1) == (850, 400)
    assert anchor_position("center", (1000, 500), (100, 50), 0.1) == (450, 225)
