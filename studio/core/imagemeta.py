"""Generation parameters in image files: written as A1111 infotext plus our own JSON, read back
from ours, AUTOMATIC1111's or ComfyUI's.

Pillow is imported inside functions so ``import studio.core`` stays light.
"""

from __future__ import annotations

import json
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


def read_metadata(path: str | Path) -> dict[str, Any]:
    """What generation parameters ``path`` carries: ``{"source": ..., ...}``."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            text = dict(getattr(image, "text", {}) or {})
            text.update({k: v for k, v in image.info.items() if isinstance(v, str)})
    except (OSError, UnidentifiedImageError) as exc:
        raise BadInput(f"'{path}' is not an image the studio can read ({exc}).") from None
    if STUDIO_CHUNK in text:
        data = json.loads(text[STUDIO_CHUNK])
        return {"source": "studio", **data, "parameters": text.get(A1111_CHUNK, "")}
    if A1111_CHUNK in text:
        return {"source": "a1111", "parameters": text[A1111_CHUNK], **parse_infotext(text[A1111_CHUNK])}
    if "prompt" in text or "workflow" in text:
        out: dict[str, Any] = {"source": "comfyui"}
        for key in ("prompt", "workflow"):
            if key in text:
                try:
                    out[key] = json.loads(text[key])
                except ValueError:
                    out[key] = text[key]
        return out
    return {"source": None}


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
    for part in settings_line.split(", "):
        key, sep, value = part.partition(": ")
        if sep:
            settings[key.strip()] = value.strip()
    return {"prompt": "\n".join(prompt), "negative_prompt": "\n".join(negative), "settings": settings}


def request_from_image(path: str | Path) -> GenerationRequest:
    """Rebuild the request a studio image was made with (for ``studio regenerate``)."""
    meta = read_metadata(path)
    if meta.get("source") != "studio":
        raise BadInput(f"'{path}' holds no studio generation record to regenerate from.")
    request = request_from_dict(meta["request"])
    if not isinstance(request, GenerationRequest):
        raise BadInput(f"'{path}' was not made by an image generation.")
    return request
