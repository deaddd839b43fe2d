"""Cheap latent-to-RGB previews: a per-model linear map from latent channels to colours.

The map is fitted by encoding a few flat colours with the model's own VAE, so it works for any
latent space (SD 1.x/2.x, SDXL, the demo model) without a table of constants. The fit is done when
the first preview is asked for, not at load time, and remembered on disk per VAE weights file
(``cache/preview-maps.json``, by path, size and modification time), so a model is fitted once.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from studio.plugins import atomic_write_text, file_key, read_json_dict

_COLOURS = [(0, 0, 0), (255, 255, 255), (220, 40, 40), (40, 180, 60), (40, 80, 220), (240, 210, 40),
            (140, 60, 180), (245, 140, 30), (128, 128, 128), (30, 200, 200)]
_FIT_VERSION = 1  # bump when the fit changes, so remembered maps are fitted again
_lock = threading.Lock()


class LatentPreview:
    """Maps latents ``(C, h, w)`` to an RGB preview with ``rgb = latents·W + b``."""

    def __init__(self, weights: np.ndarray, bias: np.ndarray) -> None:
        self.weights = np.asarray(weights, dtype=np.float64)
        self.bias = np.asarray(bias, dtype=np.float64)
        self._on_device: dict[torch.device, tuple[torch.Tensor, torch.Tensor]] = {}

    @classmethod
    def fit(cls, vae, device: torch.device, dtype: torch.dtype) -> LatentPreview:
        size = 8 * (2 ** (len(vae.config.block_out_channels) - 1))
        images = torch.tensor(_COLOURS, dtype=torch.float32).div(127.5).sub(1.0)
        batch = images[:, :, None, None].expand(-1, -1, size, size).to(device=device, dtype=dtype)
        with torch.inference_mode():
            latents = vae.encode(batch).latent_dist.mean.float()
        scale = getattr(vae.config, "scaling_factor", 1.0) or 1.0
        features = (latents * scale).mean(dim=(2, 3)).cpu().numpy()  # (n, C)
        design = np.concatenate([features, np.ones((len(features), 1))], axis=1)
        targets = np.asarray(_COLOURS, dtype=np.float64) / 255.0
        solution, *_ = np.linalg.lstsq(design, targets, rcond=None)
        return cls(solution[:-1], solution[-1])

    def pixels(self, latents: torch.Tensor) -> torch.Tensor:
        """The preview's ``(h, w, 3)`` uint8 pixels, computed where the latents are (nothing waits:
        only h×w×3 bytes ever need to come to the CPU, not C×h×w floats)."""
        if latents.device not in self._on_device:
            self._on_device[latents.device] = (
                torch.as_tensor(self.weights, dtype=torch.float32, device=latents.device) * 255.0,
                torch.as_tensor(self.bias, dtype=torch.float32, device=latents.device) * 255.0,
            )
        weights, bias = self._on_device[latents.device]
        with torch.inference_mode():
            rgb = torch.tensordot(latents.detach().float(), weights, dims=([0], [0])).add_(bias)  # (h, w, 3)
            return rgb.clamp_(0, 255).to(torch.uint8)

    def __call__(self, latents: torch.Tensor, size: tuple[int, int] | None = None) -> Image.Image:
        return to_image(self.pixels(latents).cpu(), size)


def to_image(pixels: torch.Tensor, size: tuple[int, int] | None = None) -> Image.Image:
    """A PIL image of ``(h, w, 3)`` uint8 pixels on the CPU, resized to ``size``."""
    image = Image.fromarray(pixels.numpy(), "RGB")
    return image.resize(size, Image.Resampling.BILINEAR) if size and size != image.size else image


class LazyPreview:
    """A :class:`LatentPreview` fitted on the first call (or read from the disk cache)."""

    def __init__(self, vae, device: torch.device, dtype: torch.dtype, identity: str = "",
                 cache_file: Path | None = None) -> None:
        self.vae = vae
        self.device = device
        self.dtype = dtype
        self.key = f"v{_FIT_VERSION}|{identity}|{dtype}" if identity else ""
        self.cache_file = cache_file
        self._map: LatentPreview | None = None

    @property
    def map(self) -> LatentPreview:
        if self._map is None:
            self._map = self._remembered() or self._fit_and_remember()
        return self._map

    def __call__(self, latents: torch.Tensor, size: tuple[int, int] | None = None) -> Image.Image:
        return self.map(latents, size)

    def pixels(self, latents: torch.Tensor) -> torch.Tensor:
        return self.map.pixels(latents)

    def _remembered(self) -> LatentPreview | None:
        entry = read_json_dict(self.cache_file).get(self.key) if self.key and self.cache_file else None
        if not entry:
            return None
        try:
            return LatentPreview(np.asarray(entry["weights"]), np.asarray(entry["bias"]))
        except (KeyError, TypeError, ValueError):
            return None

    def _fit_and_remember(self) -> LatentPreview:
        fitted = LatentPreview.fit(self.vae, self.device, self.dtype)
        if self.key and self.cache_file:
            with _lock:
                maps = read_json_dict(self.cache_file)
                maps[self.key] = {"weights": fitted.weights.tolist(), "bias": fitted.bias.tolist()}
                try:
                    self.cache_file.parent.mkdir(parents=True, exist_ok=True)
                    atomic_write_text(self.cache_file, json.dumps(maps))
                except OSError:
                    pass  # a cache: the map is fitted again next time
        return fitted


class StepPreviews:
    """The previews of one run, a step at a time, without ever making the denoising wait.

    On a CPU each step's preview is made there and then. On a GPU that would wait for the GPU at
    every step (reading a tensor back synchronises), where the bare pipeline never waits: the CPU
    queues the next step's kernels while the GPU still works on this one. So on a GPU each step's
    pixels are copied to pinned memory without waiting, and handed over by the first later step
    that finds the copy finished (the newest finished one; older ones are dropped): previews come a
    step or two late, and the loop runs as fast as the bare pipeline's.
    """

    def __init__(self, preview: Any, device: torch.device, size: tuple[int, int] | None,
                 event: Callable[[], Any] | None = None) -> None:
        self.preview = preview
        self.size = size
        self.overlap = device.type == "cuda" or event is not None
        self._pin = device.type == "cuda"
        self._event = event or (torch.cuda.Event if self._pin else None)
        self._pending: deque[tuple[torch.Tensor, Any]] = deque()

    def __call__(self, latents: torch.Tensor) -> Image.Image | None:
        if not self.overlap:
            return self.preview(latents, self.size)
        pixels = self.preview.pixels(latents)
        copy = torch.empty(pixels.shape, dtype=torch.uint8, pin_memory=self._pin)
        copy.copy_(pixels, non_blocking=True)
        done = self._event()
        done.record()
        self._pending.append((copy, done))
        ready = None
        while self._pending and self._pending[0][1].query():
            ready = self._pending.popleft()[0]
        return to_image(ready, self.size) if ready is not None else None


def file_identity(*paths: str | Path) -> str:
    """The cache key (``path|size|mtime``) of the first existing file of ``paths`` ("" if none)."""
    return next((key for key in map(file_key, paths) if key is not None), "")
