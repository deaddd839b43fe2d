"""Encode images as PNG, JPEG or WebP with provenance metadata (or none), to bytes.

Where the metadata goes:

* PNG: tEXt ``parameters`` (A1111 infotext) and ``studio`` (our JSON record), iTXt XMP
  (``Iptc4xmpExt:DigitalSourceType``), and an eXIf chunk with Software.
* JPEG and WebP: EXIF UserComment with the infotext (where A1111 puts it), XMP with the
  DigitalSourceType.
* ``strip``: none of it (only the ICC colour profile is kept, so colours stay right).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image
from PIL.PngImagePlugin import PngInfo

from studio.core.errors import BadInput
from studio.export.provenance import XMP_KEY, Provenance, exif_bytes, xmp_packet

FORMATS = ("png", "jpeg", "webp")


@dataclass(frozen=True)
class EncodeOptions:
    format: str = "png"
    quality: int = 92  # JPEG/WebP quality, 1–100
    lossless: bool = False  # WebP only
    strip: bool = False  # write no metadata at all


def _for_format(image: Image.Image, fmt: str) -> Image.Image:
    if fmt == "jpeg":
        if image.mode in ("RGBA", "LA", "P"):
            rgba = image.convert("RGBA")
            flat = Image.new("RGB", rgba.size, (255, 255, 255))
            flat.paste(rgba, mask=rgba.getchannel("A"))
            return flat
        return image if image.mode in ("RGB", "L") else image.convert("RGB")
    if image.mode not in ("RGB", "RGBA", "L", "LA"):
        return image.convert("RGBA" if "A" in image.getbands() else "RGB")
    if fmt == "webp" and image.mode in ("L", "LA"):
        return image.convert("RGBA" if image.mode == "LA" else "RGB")
    return image


def encode(image: Image.Image, options: EncodeOptions, prov: Provenance | None = None) -> bytes:
    """The file's bytes. ``prov`` is ignored when ``options.strip`` is set."""
    fmt = options.format
    if fmt not in FORMATS:
        raise BadInput(f"Unknown format '{fmt}'.", "Choose png, jpeg or webp.")
    if not 1 <= options.quality <= 100:
        raise BadInput(f"Quality must be between 1 and 100, not {options.quality}.")
    image = _for_format(image, fmt)
    icc = image.info.get("icc_profile")
    kwargs: dict[str, object] = {}
    if icc:
        kwargs["icc_profile"] = icc
    meta = None if options.strip else prov
    if fmt == "png":
        info = PngInfo()
        if meta is not None:
            if meta.parameters:
                info.add_text("parameters", meta.parameters)
            if meta.studio_record:
                info.add_text("studio", meta.studio_record)
            info.add_itxt(XMP_KEY, xmp_packet(meta).decode("utf-8"), zip=False)
            kwargs["exif"] = exif_bytes(meta)
        kwargs["pnginfo"] = info
        kwargs["optimize"] = False
    elif fmt == "jpeg":
        kwargs.update(quality=options.quality, subsampling="4:2:0" if options.quality < 90 else "4:4:4")
        if meta is not None:
            kwargs["exif"] = exif_bytes(meta)
            kwargs["xmp"] = xmp_packet(meta)
    else:  # webp
        kwargs.update(quality=options.quality, lossless=options.lossless, method=4)
        if meta is not None:
            kwargs["exif"] = exif_bytes(meta)
            kwargs["xmp"] = xmp_packet(meta)
    buffer = io.BytesIO()
    clean = image.copy()
    clean.info = {}  # never carry over the source's metadata by accident (strip must strip)
    clean.save(buffer, format=fmt.upper(), **kwargs)
    return buffer.getvalue()
