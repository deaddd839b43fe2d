"""Inpainting helpers: masks and compositing the untouched pixels back, as A1111 does."""

from __future__ import annotations

from PIL import Image, ImageFilter


def prepare_mask(mask: Image.Image, size: tuple[int, int], feather: int = 0) -> Image.Image:
    """A grayscale mask at ``size`` (white = repaint); ``feather`` blurs its edge by that many pixels."""
    mask = mask.convert("L")
    if mask.size != size:
        mask = mask.resize(size, Image.Resampling.NEAREST)
    if feather > 0:
        mask = mask.filter(ImageFilter.GaussianBlur(feather))
    return mask


def composite(original: Image.Image, generated: Image.Image, mask: Image.Image) -> Image.Image:
    """Keep ``original`` wherever the mask is black; take ``generated`` where it is white."""
    generated = generated.convert("RGB")
    if generated.size != original.size:
        generated = generated.resize(original.size, Image.Resampling.LANCZOS)
    return Image.composite(generated, original.convert("RGB"), mask)
