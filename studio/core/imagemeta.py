"""Generation parameters in image files: written as A1111 infotext plus our own JSON, read back
from ours, AUTOMATIC1111's or ComfyUI's.

Pillow is imported inside functions so ``import studio.core`` stays light.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from studio.core.errors import BadInput
from studio.core.requests import GenerationRequest, request_from_dict

STUDIO_CHUNK = "studio"
A1111_CHUNK = "parameters"


def a1111_infotext(request: GenerationRequest, seed: int, model_name: str = "", model_hash: str = "") -> str:
    """The infotext AUTOMATIC1111 writes, so other tools and sites read our parameters."""
    lines = [request.prompt]
    if request.negative_prompt:
        lines.append(f"Negative prompt: {request.negative_prompt}")
    sampler, _, schedule = request.scheduler.partition(" Karras")
    fields = [
        f"Steps: {request.steps}",
        f"Sampler: {sampler.strip()}",
        *(["Schedule type: Karras"] if _ or schedule else []),
        f"CFG scale: {request.guidance:g}",
        f"Seed: {seed}",
        f"Size: {request.width}x{request.height}",
    ]
    if model_hash:
        fields.append(f"Model hash: {model_hash}")
    if model_name:
        fields.append(f"Model: {model_name}")
    if request.init_image:
        fields.append(f"Denoising strength: {request.strength:g}")
    for index, control in enumerate(request.controls):  # as A1111's ControlNet extension writes them
        fields.append(f'ControlNet {index}: "Module: {control.preprocess or "none"}, '
                      f"Model: {Path(control.model).stem}, Weight: {control.weight:g}, "
                      f'Guidance Start: {control.start:g}, Guidance End: {control.end:g}"')
    if request.refiner:
        fields += [f"Refiner: {Path(request.refiner).name}", f"Refiner switch at: {request.refiner_at:g}"]
    if request.hires_scale > 1:  # as A1111 writes its hires fix
        upscaler = "Lanczos" if request.upscaler.strip().lower() in ("", "lanczos") else Path(request.upscaler).stem
        fields += [*([] if request.init_image else [f"Denoising strength: {request.hires_strength:g}"]),
                   f"Hires upscale: {request.hires_scale:g}", f"Hires upscaler: {upscaler}"]
    lines.append(", ".join(fields))
    return "\n".join(lines)


def save_png(image: Any, path: str | Path, request: GenerationRequest, seed: int, extra: dict[str, Any]) -> Path:
    """Save ``image`` (PIL) as PNG with tEXt ``parameters`` and our JSON chunk, atomically."""
    import io

    from PIL.PngImagePlugin import PngInfo

    from studio.core.storage import atomic_write_bytes

    info = PngInfo()
    info.add_text(A1111_CHUNK, a1111_infotext(request, seed, extra.get("model_name", ""), extra.get("model_hash", "")))
    record = {"request": request.replace(seed=seed).to_dict(), **extra}
    info.add_text(STUDIO_CHUNK, json.dumps(record, sort_keys=True))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=info)
    return atomic_write_bytes(path, buffer.getvalue())


#: The pixel count of an image the studio decodes (init images, masks) is limited as the export limits
#: it (Pillow's decompression-bomb limit), checked on the header, before decoding.
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_MAX_TEXT_BYTES = 8_000_000  # all text chunks together (Pillow allows 64 MB; a request is a few kB)


def max_source_pixels() -> int:
    from PIL import Image

    return int(Image.MAX_IMAGE_PIXELS or 89_478_485)


def check_image_file(path: str | Path, what: str = "image") -> tuple[int, int]:
    """The size of the image at ``path``, read from its header only; a :class:`BadInput` when it is
    missing, the wrong kind of path, not an image, or larger than the studio decodes."""
    import warnings

    from PIL import Image, UnidentifiedImageError

    from studio.core.paths import existing_file

    file = existing_file(path, what)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(file) as image:
                size = image.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_large(what, path) from None
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as exc:
        raise BadInput(f"The {what} '{path}' is not an image the studio can read ({exc}).") from None
    if size[0] * size[1] > max_source_pixels():
        raise _too_large(what, path, size)
    return size


def _too_large(what: str, path: str | Path, size: tuple[int, int] | None = None) -> BadInput:
    dims = f" ({size[0]}×{size[1]} pixels)" if size else ""
    return BadInput(
        f"The {what} '{path}' is too large to open safely{dims}; the limit is {max_source_pixels():,} pixels.",
        "Scale it down in another program first.",
    )


def png_text_chunks(path: str | Path) -> dict[str, str] | None:
    """The tEXt/zTXt/iTXt chunks of a PNG, read without decoding a pixel (any image size is fine);
    None when ``path`` is not a PNG. A damaged file gives what was read before the damage."""
    import zlib

    out: dict[str, str] = {}
    budget = _MAX_TEXT_BYTES
    with open(path, "rb") as handle:
        if handle.read(8) != _PNG_SIGNATURE:
            return None
        while True:
            header = handle.read(8)
            if len(header) < 8:
                return out
            length, kind = int.from_bytes(header[:4], "big"), header[4:]
            if kind == b"IEND":
                return out
            if kind not in (b"tEXt", b"zTXt", b"iTXt") or length > budget:
                handle.seek(length + 4, 1)
                continue
            data = handle.read(length)
            handle.seek(4, 1)
            budget -= length
            key, _, rest = data.partition(b"\0")
            try:
                if kind == b"tEXt":
                    value = rest
                elif kind == b"zTXt":
                    value = _inflate(rest[1:], budget)
                else:
                    compressed, rest = rest[:1] == b"\1", rest[2:]
                    _lang, _, rest = rest.partition(b"\0")
                    _translated, _, value = rest.partition(b"\0")
                    value = _inflate(value, budget) if compressed else value
                    out[key.decode("latin-1")] = value.decode("utf-8")
                    continue
                out[key.decode("latin-1")] = value.decode("latin-1")
            except (zlib.error, UnicodeDecodeError, ValueError):
                continue


def _inflate(data: bytes, limit: int) -> bytes:
    import zlib

    inflater = zlib.decompressobj()
    value = inflater.decompress(data, max(1, limit))
    if inflater.unconsumed_tail:
        raise ValueError("text chunk too large")
    return value


def _image_text(path: str | Path) -> dict[str, str]:
    from PIL import Image, UnidentifiedImageError

    from studio.core.paths import existing_file

    existing_file(path, "image")
    try:
        chunks = png_text_chunks(path)
        if chunks is not None:
            return chunks
        with Image.open(path) as image:
            return {k: v for k, v in image.info.items() if isinstance(k, str) and isinstance(v, str)}
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_large("image", path) from None
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as exc:
        raise BadInput(f"'{path}' is not an image the studio can read ({exc}).") from None


def read_metadata(path: str | Path) -> dict[str, Any]:
    """What generation parameters ``path`` carries: ``{"source": ..., ...}``. A studio record that is
    not a JSON object is a :class:`BadInput` (the file was edited or damaged), never a crash."""
    text = _image_text(path)
    if STUDIO_CHUNK in text:
        try:
            data = json.loads(text[STUDIO_CHUNK])
        except (ValueError, RecursionError):
            raise BadInput(f"The studio record in '{path}' is damaged (not valid JSON).",
                           "The image can still be opened; its parameters are lost.") from None
        if not isinstance(data, dict):
            raise BadInput(f"The studio record in '{path}' is damaged (a {type(data).__name__}, not an object).",
                           "The image can still be opened; its parameters are lost.")
        return {"source": "studio", **data, "parameters": text.get(A1111_CHUNK, "")}
    if A1111_CHUNK in text:
        return {"source": "a1111", "parameters": text[A1111_CHUNK], **parse_infotext(text[A1111_CHUNK])}
    if "prompt" in text or "workflow" in text:
        out: dict[str, Any] = {"source": "comfyui"}
        for key in ("prompt", "workflow"):
            if key in text:
                try:
                    out[key] = json.loads(text[key])
                except (ValueError, RecursionError):
                    out[key] = text[key]
        return out
    return {"source": None}


#: One ``Key: value`` of an infotext's settings line, the value plain or "quoted" (A1111's own pattern).
_SETTING = re.compile(r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')


def parse_infotext(text: str) -> dict[str, Any]:
    """Parse A1111 infotext into prompt, negative prompt and a settings mapping."""
    lines = text.strip().split("\n")
    settings_line = lines[-1] if len(lines) > 1 and "Steps:" in lines[-1] else ""
    body = lines[:-1] if settings_line else lines
    prompt, negative = [], []
    target = prompt
    for line in body:
        if line.startswith("Negative prompt:"):
            target = negative
            line = line.removeprefix("Negative prompt:").strip()
        target.append(line)
    settings: dict[str, str] = {}
    for key, value in _SETTING.findall(settings_line):  # a "quoted value" may hold ", " (ControlNet units)
        value = value.strip()
        settings[key.strip()] = value[1:-1] if len(value) > 1 and value[0] == value[-1] == '"' else value
    return {"prompt": "\n".join(prompt), "negative_prompt": "\n".join(negative), "settings": settings}


def request_from_image(path: str | Path) -> GenerationRequest:
    """Rebuild the request a studio image was made with (for ``studio regenerate``)."""
    meta = read_metadata(path)
    if meta.get("source") != "studio":
        raise BadInput(f"'{path}' holds no studio generation record to regenerate from.")
    if not isinstance(meta.get("request"), dict):
        raise BadInput(f"The studio record in '{path}' holds no request to regenerate from.")
    try:
        request = request_from_dict(meta["request"])
    except BadInput as exc:
        raise BadInput(f"The studio record in '{path}' cannot be used: {exc.message}", exc.hint) from None
    if not isinstance(request, GenerationRequest):
        raise BadInput(f"'{path}' was not made by an image generation.")
    try:
        request.validate()
    except BadInput as exc:
        raise BadInput(f"The studio record in '{path}' cannot be used: {exc.message}", exc.hint) from None
    return request
