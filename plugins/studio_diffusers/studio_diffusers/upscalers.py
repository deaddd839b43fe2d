"""Upscalers: Lanczos, or a model (ESRGAN family) from a local ``.safetensors`` / ``.pth`` file.

Files are read as tensors only: safetensors as is, a pickle (``.pth``, ``.pt``, ``.ckpt``, ``.bin``)
only when the user allowed that very file in Settings, and then with torch's weights-only loader.
The architecture comes from the tensor names (:mod:`studio_diffusers.esrgan`; spandrel, when it is
installed, for the other families it knows). A model runs in overlapping tiles, so a 2048² output
needs about the memory of one tile, not of the whole picture.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from studio.plugins import BadInput, ImageOutput, JobCancelled, JobResult, ModelError

LANCZOS = "lanczos"
PICKLE_SUFFIXES = (".pth", ".pt", ".ckpt", ".bin")
DEFAULT_TILE = 256  # input pixels per tile side
MAX_OUTPUT_SIDE = 16384  # 16384² RGB is 805 MB as bytes
TILE_OVERLAP = 16  # input pixels each tile reaches into its neighbours (cropped away after the model)


@dataclass
class Upscaler:
    """A loaded upscaler: ``model`` None is Lanczos."""

    name: str
    model: torch.nn.Module | None = None
    scale: int = 1

    def to(self, device: Any) -> Upscaler:
        """The model moved to ``device`` (a torch device or its name); Lanczos stays on the CPU."""
        if self.model is not None:
            self.model.to(device)
        return self

    def upscale(self, image: Image.Image, size: tuple[int, int], tile: int = DEFAULT_TILE,
                progress: Callable[[int, int], None] | None = None) -> Image.Image:
        """``image`` brought to ``size``: the model in tiles (then Lanczos to the exact size), or Lanczos."""
        image = image.convert("RGB")
        if self.model is not None and size != image.size:
            image = run_tiled(self.model, self.scale, image, tile or DEFAULT_TILE, progress)
        if image.size == size:
            return image
        return image.resize(size, Image.Resampling.LANCZOS)


def load_upscaler(spec: str, allowed_pickles: list[str] | tuple[str, ...] = ()) -> Upscaler:
    """``"lanczos"`` or the upscaler model in the file ``spec``; a bad file is one clear :class:`BadInput`."""
    if not spec or spec.strip().lower() == LANCZOS:
        return Upscaler("Lanczos")
    path = Path(spec).expanduser()
    if not path.is_file():
        raise BadInput(f"The upscaler '{spec}' is neither 'lanczos' nor an existing file.",
                       "Pass --upscaler lanczos or the path of an ESRGAN .safetensors/.pth file.")
    state = _read_tensors(path, allowed_pickles)
    model, scale = _architecture(path, state)
    return Upscaler(path.stem, model, scale)


def _read_tensors(path: Path, allowed_pickles: list[str] | tuple[str, ...]) -> dict[str, torch.Tensor]:
    suffix = path.suffix.lower()
    if suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except (SafetensorError, OSError, ValueError) as exc:
            raise ModelError(f"The upscaler '{path.name}' is not a readable safetensors file ({exc}).") from None
    if suffix not in PICKLE_SUFFIXES:
        raise BadInput(f"'{path.name}' is not an upscaler file (.safetensors or .pth).")
    if str(path.resolve()) not in {str(Path(p).expanduser().resolve()) for p in allowed_pickles}:
        raise ModelError(
            f"The upscaler '{path.name}' is a pickle file, which can run hidden code when opened.",
            "Prefer a .safetensors version. If you trust the file, allow it in Settings → Models → "
            "'Allow pickle files'; it is then read with torch's weights-only loader.",
        )
    try:
        data = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # weights-only unpickling refuses anything but tensors and plain containers
        raise ModelError(f"The upscaler '{path.name}' could not be read as weights "
                         f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}).") from None
    return _unwrap(data, path)


def _unwrap(data: Any, path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a training checkpoint (BasicSR keeps them under ``params_ema`` or ``params``)."""
    if isinstance(data, dict):
        for key in ("params_ema", "params", "state_dict", "model"):
            if isinstance(data.get(key), dict):
                data = data[key]
                break
    if not isinstance(data, dict) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise ModelError(f"'{path.name}' holds no upscaler weights.")
    return data


def _architecture(path: Path, state: dict[str, torch.Tensor]) -> tuple[torch.nn.Module, int]:
    from studio_diffusers.esrgan import build_rrdbnet

    try:
        model = build_rrdbnet(state)
    except ValueError as exc:
        raise ModelError(f"'{path.name}' looks like an ESRGAN upscaler but its weights do not fit ({exc}).") from None
    if model is not None:
        return model, model.scale
    try:  # other families (SwinIR, HAT, …) when spandrel is installed: it reads a state dict, no pickle
        from spandrel import ModelLoader
    except ImportError:
        ModelLoader = None
    if ModelLoader is not None:
        try:
            descriptor = ModelLoader().load_from_state_dict(state)
        except Exception:  # spandrel raises its own error kinds for unknown architectures
            descriptor = None
        if descriptor is not None and getattr(descriptor, "purpose", "SR") == "SR":
            return descriptor.model.eval(), int(descriptor.scale)
    raise ModelError(f"'{path.name}' is not an upscaler model the studio knows (ESRGAN / Real-ESRGAN).",
                     "Use an ESRGAN-family .safetensors or .pth file, or --upscaler lanczos.")


def tile_starts(length: int, tile: int) -> list[int]:
    """Start offsets of tiles of ``tile`` covering ``length`` (the last one flush with the end)."""
    if length <= tile:
        return [0]
    count = math.ceil(length / tile)
    return [min(i * tile, length - tile) for i in range(count)]


@torch.inference_mode()
def run_tiled(model: torch.nn.Module, scale: int, image: Image.Image, tile: int,
              progress: Callable[[int, int], None] | None = None) -> Image.Image:
    """The model's output for ``image``, computed tile by tile: the model sees at most ``tile`` × ``tile``
    input pixels at once, a core and ``TILE_OVERLAP`` pixels of its neighbours around it (so its borders
    are drawn as in one piece), and only the core is kept; the output is filled in place as bytes, so
    memory is one tile's activations plus the output picture."""
    pixels = np.asarray(image, dtype=np.uint8)
    height, width = pixels.shape[:2]
    out = np.empty((height * scale, width * scale, 3), dtype=np.uint8)
    param = next(model.parameters())
    core_h, core_w = (side if side <= tile else max(16, tile - 2 * TILE_OVERLAP) for side in (height, width))
    spots = [(y, x) for y in tile_starts(height, core_h) for x in tile_starts(width, core_w)]
    for done, (y, x) in enumerate(spots):
        y1, x1 = min(y + core_h, height), min(x + core_w, width)
        py0, px0 = max(0, y - TILE_OVERLAP), max(0, x - TILE_OVERLAP)
        py1, px1 = min(height, y1 + TILE_OVERLAP), min(width, x1 + TILE_OVERLAP)
        patch = torch.from_numpy(pixels[py0:py1, px0:px1].copy()).permute(2, 0, 1)[None]
        patch = patch.to(device=param.device, dtype=param.dtype) / 255.0
        result = model(patch).clamp_(0, 1)[0].permute(1, 2, 0).float().mul_(255).round_().byte().cpu().numpy()
        keep = result[(y - py0) * scale:(y1 - py0) * scale, (x - px0) * scale:(x1 - px0) * scale]
        out[y * scale:y1 * scale, x * scale:x1 * scale] = keep
        if progress is not None:
            progress(done + 1, len(spots))
    return Image.fromarray(out)


def target_size(size: tuple[int, int], scale: float, multiple: int = 1) -> tuple[int, int]:
    """``size`` × ``scale``, each side rounded to a multiple of ``multiple`` (at least one)."""
    return tuple(max(multiple, round(side * scale / multiple) * multiple) for side in size)  # type: ignore[return-value]


def run_upscale(request: Any, report: Callable[..., None], cancelled: Callable[[], bool],
                options: dict[str, Any]) -> JobResult:
    """The ``upscale`` job (an ``UpscaleRequest``): the picture upscaled, returned for the studio to write."""
    try:
        with Image.open(request.image) as source:
            source.load()
            image = source.convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise BadInput(f"'{request.image}' is not an image the studio can read ({exc}).") from None
    from studio.plugins.devices import resolve_device

    upscaler = load_upscaler(request.upscaler, options.get("allowed_pickles", [])).to(resolve_device(request.device))
    size = target_size(image.size, request.scale)
    if max(size) > MAX_OUTPUT_SIDE:
        raise BadInput(f"{image.width}×{image.height} × {request.scale:g} would be {size[0]}×{size[1]} pixels, more "
                       f"than the {MAX_OUTPUT_SIDE} px a side the studio writes.", "Lower --scale.")

    def progress(step: int, total: int) -> None:
        if cancelled():
            raise JobCancelled()
        report(step, total, message=f"Upscaling with {upscaler.name}")

    result = upscaler.upscale(image, size, request.tile, progress)
    about = {"upscaler": upscaler.name, "upscaler_scale": upscaler.scale, "source_size": list(image.size)}
    return JobResult(images=(ImageOutput(result, request, about),), data={"size": list(result.size), **about})
