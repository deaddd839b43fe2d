"""Generation parameters recalled from an image file (ours, AUTOMATIC1111's or ComfyUI's) as the
prompt panel's fields. Qt-free: a plain mapping of request field name → value, only for what was
found (plus ``model_name`` when a file names its model but not its path)."""

from __future__ import annotations

import dataclasses
from typing import Any

from studio.core.errors import BadInput
from studio.core.imagemeta import parse_infotext, read_metadata
from studio.core.requests import SCHEDULER_NAMES, GenerationRequest, request_from_dict

# ComfyUI's sampler names → ours (a "karras" scheduler adds " Karras" where we have it)
COMFY_SAMPLERS = {
    "euler_ancestral": "Euler a", "euler": "Euler", "dpmpp_2m": "DPM++ 2M", "ddim": "DDIM",
    "uni_pc": "UniPC", "uni_pc_bh2": "UniPC", "lms": "LMS", "pndm": "PNDM",
}
SOURCES = {"studio": "the studio", "a1111": "AUTOMATIC1111", "comfyui": "ComfyUI"}


def fields_from_request(request: GenerationRequest) -> dict[str, Any]:
    """Every field of ``request`` by name (the prompt panel's view-model takes the ones it shows)."""
    return {item.name: getattr(request, item.name) for item in dataclasses.fields(request)}


def recall(path: str) -> tuple[str | None, dict[str, Any]]:
    """``(source, fields)`` read from the image at ``path``; ``(None, {})`` when it holds none.

    Raises :class:`BadInput` when ``path`` is not an image.
    """
    meta = read_metadata(path)
    source = meta.get("source")
    if source == "studio":
        try:
            request = request_from_dict(meta["request"])
        except (BadInput, KeyError, TypeError):
            request = None
        if isinstance(request, GenerationRequest):
            return source, fields_from_request(request)
        if meta.get("parameters"):
            return "a1111", from_infotext(meta["parameters"])
        return None, {}
    if source == "a1111":
        return source, from_infotext(meta.get("parameters", ""))
    if source == "comfyui":
        fields = from_comfy(meta.get("prompt"))
        return (source, fields) if fields else (None, {})
    return None, {}


def from_infotext(text: str) -> dict[str, Any]:
    parsed = parse_infotext(text)
    settings: dict[str, str] = parsed["settings"]
    fields: dict[str, Any] = {"prompt": parsed["prompt"], "negative_prompt": parsed["negative_prompt"]}
    _int(fields, "steps", settings.get("Steps"))
    _int(fields, "seed", settings.get("Seed"))
    _float(fields, "guidance", settings.get("CFG scale"))
    _float(fields, "strength", settings.get("Denoising strength"))
    width, _, height = settings.get("Size", "").partition("x")
    _int(fields, "width", width)
    _int(fields, "height", height)
    sampler = settings.get("Sampler", "")
    if settings.get("Schedule type", "").lower() == "karras" and not sampler.endswith("Karras"):
        sampler += " Karras"
    if sampler in SCHEDULER_NAMES:
        fields["scheduler"] = sampler
    elif sampler.removesuffix(" Karras") in SCHEDULER_NAMES:
        fields["scheduler"] = sampler.removesuffix(" Karras")
    if settings.get("Model"):
        fields["model_name"] = settings["Model"]
    return fields


def from_comfy(graph: Any) -> dict[str, Any]:
    """The KSampler's settings, its prompts, the latent size and the checkpoint of a ComfyUI graph."""
    if not isinstance(graph, dict):
        return {}
    nodes = {str(k): v for k, v in graph.items() if isinstance(v, dict)}
    sampler = next((n for n in nodes.values() if "KSampler" in str(n.get("class_type", ""))), None)
    if sampler is None:
        return {}
    inputs = sampler.get("inputs", {})
    fields: dict[str, Any] = {}
    _int(fields, "seed", inputs.get("seed", inputs.get("noise_seed")))
    _int(fields, "steps", inputs.get("steps"))
    _float(fields, "guidance", inputs.get("cfg"))
    name = COMFY_SAMPLERS.get(str(inputs.get("sampler_name", "")))
    if name:
        karras = f"{name} Karras"
        fields["scheduler"] = karras if inputs.get("scheduler") == "karras" and karras in SCHEDULER_NAMES else name
    for key, field in (("positive", "prompt"), ("negative", "negative_prompt")):
        text = _text_of(nodes, inputs.get(key))
        if text is not None:
            fields[field] = text
    latent = _node(nodes, inputs.get("latent_image"))
    if latent is not None:
        _int(fields, "width", latent.get("inputs", {}).get("width"))
        _int(fields, "height", latent.get("inputs", {}).get("height"))
    checkpoint = next((n for n in nodes.values() if "CheckpointLoader" in str(n.get("class_type", ""))), None)
    if checkpoint is not None and checkpoint.get("inputs", {}).get("ckpt_name"):
        fields["model_name"] = str(checkpoint["inputs"]["ckpt_name"]).rsplit(".", 1)[0]
    return fields


def _node(nodes: dict[str, Any], link: Any) -> dict[str, Any] | None:
    if isinstance(link, list) and link:
        return nodes.get(str(link[0]))
    return None


def _text_of(nodes: dict[str, Any], link: Any) -> str | None:
    node = _node(nodes, link)
    for _ in range(8):  # follow conditioning nodes back to the text encoder
        if node is None:
            return None
        inputs = node.get("inputs", {})
        if isinstance(inputs.get("text"), str):
            return inputs["text"]
        node = _node(nodes, inputs.get("conditioning") or inputs.get("conditioning_1"))
    return None


def _int(fields: dict[str, Any], key: str, value: Any) -> None:
    try:
        fields[key] = int(str(value).strip())
    except (TypeError, ValueError):
        pass


def _float(fields: dict[str, Any], key: str, value: Any) -> None:
    try:
        fields[key] = float(str(value).strip())
    except (TypeError, ValueError):
        pass
