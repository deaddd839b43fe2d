"""Image-to-image far above a model's native size: MultiDiffusion-style overlapping latent tiles.

At every denoising step the UNet sees one native-size window of the latents at a time; the noise
predictions of overlapping windows are blended with weights that fall off towards each window's
edges (so no seam shows), and the scheduler steps the whole latent once (Bar-Tal et al. 2023, the
idea of diffusers' ``StableDiffusionPanoramaPipeline``, which blends the stepped latents instead; for
these schedulers' steps, linear in the prediction, the two agree). The VAE encodes and decodes in
tiles too (:func:`vae_tiling`), so memory grows with the picture's latents, not its activations.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from PIL import Image

from studio.plugins import JobCancelled
from studio.plugins.devices import cpu_generator

#: VAE tiling is turned on for an output whose long side is above this, or above twice the model's native
#: side when that is larger (SD 1.x: above 1024 px, SDXL: above 2048 px).
VAE_TILING_ABOVE = 1024
VAE_TILE_SIDE = 512
TILE_STRIDE = 0.75  # a window moves this fraction of its side: a quarter overlaps its neighbour
WINDOW_BATCH = 8  # windows denoised in one UNet call


def native_side(pipe: Any) -> int:
    """The pixel side the model was trained at (UNet sample size × VAE scale factor)."""
    sample = pipe.unet.config.sample_size
    sample = sample[0] if isinstance(sample, list | tuple) else sample
    return int(sample) * int(pipe.vae_scale_factor)


def wants_vae_tiling(pipe: Any, width: int, height: int) -> bool:
    """True when a ``width`` × ``height`` picture should be encoded/decoded in VAE tiles."""
    return max(width, height) > max(VAE_TILING_ABOVE, 2 * native_side(pipe))


def wants_latent_tiles(pipe: Any, width: int, height: int) -> bool:
    """True when a ``width`` × ``height`` img2img should denoise in tiles (above twice the native side)."""
    return max(width, height) > 2 * native_side(pipe)


@contextmanager
def vae_tiling(pipe: Any, on: bool) -> Iterator[None]:
    """VAE tiling on (or left as it is) while the block runs, then as it was. The VAE's tiles are at least
    ``VAE_TILE_SIDE`` px (diffusers takes the model's native side: 64 px tiles for the demo, whose seams
    would show), overlapping by a quarter."""
    vae = pipe.vae
    was = bool(getattr(vae, "use_tiling", False))
    sizes = (getattr(vae, "tile_sample_min_size", None), getattr(vae, "tile_latent_min_size", None))
    if on and not was:
        vae.enable_tiling()
        if isinstance(sizes[0], int) and sizes[0] < VAE_TILE_SIDE:
            vae.tile_sample_min_size = VAE_TILE_SIDE
            vae.tile_latent_min_size = VAE_TILE_SIDE // int(pipe.vae_scale_factor)
    try:
        yield
    finally:
        if on and not was:
            vae.disable_tiling()
            if isinstance(sizes[0], int):
                vae.tile_sample_min_size, vae.tile_latent_min_size = sizes


def windows(length: int, tile: int) -> list[int]:
    """Start offsets of windows of ``tile`` along ``length``, overlapping, the last flush with the end."""
    if length <= tile:
        return [0]
    stride = max(1, int(tile * TILE_STRIDE))
    count = math.ceil((length - tile) / stride) + 1
    return [min(i * stride, length - tile) for i in range(count)]


def window_weight(height: int, width: int) -> torch.Tensor:
    """A (1, 1, H, W) weight: 1 in the middle, falling linearly to small values at the borders."""
    def ramp(n: int) -> torch.Tensor:
        index = torch.arange(n, dtype=torch.float32)
        return torch.minimum(index + 1, n - index).div(max(1.0, n / 4)).clamp(0.05, 1.0)

    return (ramp(height)[:, None] * ramp(width)[None, :])[None, None]


def _prompt_states(pipe: Any, prompt_args: dict[str, Any], cfg: bool) -> torch.Tensor:
    """The text states the UNet takes ([negative; positive] with guidance), one picture's worth."""
    positive, negative = pipe.encode_prompt(
        prompt=prompt_args.get("prompt"), device=pipe.unet.device, num_images_per_prompt=1,
        do_classifier_free_guidance=cfg, negative_prompt=prompt_args.get("negative_prompt"),
        prompt_embeds=prompt_args.get("prompt_embeds"),
        negative_prompt_embeds=prompt_args.get("negative_prompt_embeds"),
    )
    return torch.cat([negative, positive]) if cfg else positive


@torch.inference_mode()
def tiled_img2img(pipe: Any, image: Image.Image, prompt_args: dict[str, Any], *, steps: int, strength: float,
                  guidance: float, seed: int, report: Callable[[int, int], None],
                  cancelled: Callable[[], bool]) -> Image.Image:
    """``image`` (already at the large size) re-noised by ``strength`` and denoised in latent tiles."""
    unet, vae, scheduler = pipe.unet, pipe.vae, pipe.scheduler
    device, dtype = unet.device, unet.dtype
    factor = vae.config.scaling_factor
    generator = cpu_generator(seed)  # drawn from in diffusers' img2img order: encoding, noise, steps
    vae_tiles = wants_vae_tiling(pipe, *image.size)
    with vae_tiling(pipe, vae_tiles):
        pixels = pipe.image_processor.preprocess(image).to(device=device, dtype=vae.dtype)
        latents = vae.encode(pixels).latent_dist.sample(generator).to(dtype) * factor
    scheduler.set_timesteps(steps, device=device)
    start = max(steps - min(int(steps * strength), steps), 0) * scheduler.order
    timesteps = scheduler.timesteps[start:]
    if hasattr(scheduler, "set_begin_index"):
        scheduler.set_begin_index(start)
    noise = torch.randn(latents.shape, generator=generator, dtype=torch.float32).to(device=device, dtype=dtype)
    latents = scheduler.add_noise(latents, noise, timesteps[:1])
    cfg = guidance > 1.0
    states = _prompt_states(pipe, prompt_args, cfg)
    tile = int(native_side(pipe) // pipe.vae_scale_factor)
    height, width = latents.shape[-2:]
    spots = [(y, x) for y in windows(height, tile) for x in windows(width, tile)]
    tile_h, tile_w = min(tile, height), min(tile, width)
    weight = window_weight(tile_h, tile_w).to(device)
    for step, t in enumerate(timesteps):
        scaled = scheduler.scale_model_input(latents, t)
        total = torch.zeros_like(latents, dtype=torch.float32)
        weight_sum = torch.zeros((1, 1, height, width), dtype=torch.float32, device=device)
        for first in range(0, len(spots), WINDOW_BATCH):  # windows of one size: several per UNet call
            group = spots[first:first + WINDOW_BATCH]
            parts = [scaled[:, :, y:y + tile_h, x:x + tile_w] for y, x in group]
            inputs = torch.cat(parts + parts if cfg else parts)
            prediction = unet(inputs, t, encoder_hidden_states=states.repeat_interleave(len(group), 0)).sample
            if cfg:
                uncond, cond = prediction.chunk(2)
                prediction = uncond + guidance * (cond - uncond)
            for (y, x), one in zip(group, prediction.float().split(latents.shape[0]), strict=True):
                total[:, :, y:y + tile_h, x:x + tile_w] += one * weight
                weight_sum[:, :, y:y + tile_h, x:x + tile_w] += weight
            if cancelled():
                raise JobCancelled()
        latents = scheduler.step((total / weight_sum).to(dtype), t, latents, generator=generator).prev_sample
        report(step + 1, len(timesteps))
    with vae_tiling(pipe, vae_tiles):
        decoded = vae.decode(latents.to(vae.dtype) / factor).sample
    return pipe.image_processor.postprocess(decoded, output_type="pil")[0]
