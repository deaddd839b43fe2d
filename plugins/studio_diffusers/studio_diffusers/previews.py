"""Cheap latent-to-RGB previews: a per-model linear map from latent channels to colours.

The map is fitted by encoding a few flat colours with the model's own VAE, so it works for any
latent space (SD 1.x/2.x, SDXL, the demo model) without a table of constants. The fit is done when
the first preview is asked for, not at load time, and remembered on disk per VAE weights file
(``cache/preview-maps.json``, by path, size and modification time), so a model is fitted once.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from studio.core.hashing import file_key
from studio.core.storage import atomic_write_text, read_json_dict

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

    def __call__(self, latents: torch.Tensor, size: tuple[int, int] | None = None) -> Image.Image:
        # The map runs where the latents are; only h×w×3 bytes come to the CPU (not C×h×w floats).
        if latents.device not in self._on_device:
            self._on_device[latents.device] = (
                torch.as_tensor(self.weights, dtype=torch.float32, device=latents.device) * 255.0,
                torch.as_tensor(self.bias, dtype=torch.float32, device=latents.device) * 255.0,
            )
        weights, bias = self._on_device[latents.device]
        with torch.inference_mode():
            rgb = torch.tensordot(latents.detach().float(), weights, dims=([0], [0])).add_(bias)  # (h, w, 3)
            pixels = rgb.clamp_(0, 255).to(torch.uint8).cpu().numpy()
        image = Image.fromarray(pixels, "RGB")
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


def file_identity(*paths: str | Path) -> str:
    """The cache key (``path|size|mtime``) of the first existing file of ``paths`` ("" if none)."""
    return next((key for key in map(file_key, paths) if key is not None), "")
