"""Cheap latent-to-RGB previews: a per-model linear map from latent channels to colours.

The map is fitted once per loaded model by encoding a few flat colours with the model's own VAE,
so it works for any latent space (SD 1.x/2.x, SDXL, the demo model) without a table of constants.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

_COLOURS = [(0, 0, 0), (255, 255, 255), (220, 40, 40), (40, 180, 60), (40, 80, 220), (240, 210, 40),
            (140, 60, 180), (245, 140, 30), (128, 128, 128), (30, 200, 200)]


class LatentPreview:
    """Maps latents ``(C, h, w)`` to an RGB preview with ``rgb = latents·W + b``."""

    def __init__(self, weights: np.ndarray, bias: np.ndarray) -> None:
        self.weights = weights
        self.bias = bias

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
        array = latents.detach().float().cpu().numpy()  # (C, h, w)
        rgb = np.tensordot(array, self.weights, axes=([0], [0])) + self.bias  # (h, w, 3)
        image = Image.fromarray((rgb.clip(0, 1) * 255).astype(np.uint8), "RGB")
        return image.resize(size, Image.Resampling.BILINEAR) if size else image
