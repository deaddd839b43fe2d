"""Draw the studio's application icon (the design of resources/icons/studio.svg) as PNGs with Pillow.

A rounded square with a blue-to-violet diagonal gradient, a sun and two hills, drawn 4x larger and
scaled down for smooth edges. Run once; the PNGs are committed:

    .venv/bin/python packaging/draw_icon.py        # writes resources/icons/<APP_ID>.png (256) and -512.png
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

APP_ID = "io.github.creativestudio.Studio"
ICONS = Path(__file__).resolve().parents[1] / "resources" / "icons"
START, END = (0x5B, 0x6C, 0xFF), (0xC0, 0x4D, 0xFF)


def draw_icon(size: int) -> Image.Image:
    """The icon at ``size`` pixels square (RGBA, transparent corners)."""
    big = size * 4
    unit = big / 64  # the SVG's 64-unit grid
    gradient = Image.new("RGBA", (big, big))
    pixels = gradient.load()
    for y in range(big):
        for x in range(big):
            t = (x + y) / (2 * (big - 1))
            pixels[x, y] = (*(round(a + (b - a) * t) for a, b in zip(START, END, strict=True)), 255)
    mask = Image.new("L", (big, big), 0)
    ImageDraw.Draw(mask).rounded_rectangle((4 * unit, 4 * unit, 60 * unit, 60 * unit), radius=14 * unit, fill=255)
    icon = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    icon.paste(gradient, (0, 0), mask)
    overlay = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    pen = ImageDraw.Draw(overlay)
    pen.ellipse((17 * unit, 18 * unit, 31 * unit, 32 * unit), fill=(255, 255, 255, 230))
    hills = [(10, 50), (26, 34), (36, 43), (44, 36), (56, 48), (56, 56), (10, 56)]
    pen.polygon([(x * unit, y * unit) for x, y in hills], fill=(255, 255, 255, 190))
    overlay.putalpha(Image.composite(overlay.getchannel("A"), Image.new("L", (big, big), 0), mask))
    icon = Image.alpha_composite(icon, overlay)
    return icon.resize((size, size), Image.Resampling.LANCZOS)


def main() -> None:
    ICONS.mkdir(parents=True, exist_ok=True)
    draw_icon(256).save(ICONS / f"{APP_ID}.png", optimize=True)
    draw_icon(512).save(ICONS / f"{APP_ID}-512.png", optimize=True)
    print(f"wrote {ICONS / APP_ID}.png and -512.png")


if __name__ == "__main__":
    main()
