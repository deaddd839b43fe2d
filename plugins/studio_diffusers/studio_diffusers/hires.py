"""The hires fix: generate at the model's size, upscale, then image-to-image at the large size.

``plan_hires`` runs before the first pass (a bad upscaler file is refused before any denoising);
``apply_hires`` takes the first pass's pictures to ``hires_scale`` × their size with the chosen
upscaler and denoises them again with ``hires_strength``: in one piece up to twice the model's
native side, in overlapping latent tiles above that (:mod:`studio_diffusers.tiles`); the VAE tiles
above :data:`~studio_diffusers.tiles.VAE_TILING_ABOVE`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PIL import Image

from studio.plugins import GenerationRequest, JobCancelled
from studio.plugins.devices import cpu_generator
from studio_diffusers.tiles import tiled_img2img, vae_tiling, wants_latent_tiles, wants_vae_tiling
from studio_diffusers.upscalers import Upscaler, load_upscaler, target_size


@dataclass(frozen=True)
class HiresPlan:
    """What the second pass does: the upscaler and the large size."""

    upscaler: Upscaler
    size: tuple[int, int]

    def about(self) -> dict[str, Any]:
        """For the picture's metadata."""
        return {"hires_size": list(self.size), "hires_upscaler": self.upscaler.name}


def plan_hires(request: GenerationRequest, options: dict[str, Any]) -> HiresPlan | None:
    """The second pass of ``request``, or None when its hires scale is off (0 or 1)."""
    if request.hires_scale <= 1:
        return None
    upscaler = load_upscaler(request.upscaler, options.get("allowed_pickles", []))
    return HiresPlan(upscaler, target_size((request.width, request.height), request.hires_scale, 8))


def apply_hires(model: Any, request: GenerationRequest, images: list[Image.Image], plan: HiresPlan,
                report: Callable[..., None], cancelled: Callable[[], bool]) -> list[Image.Image]:
    """Each first-pass picture upscaled and denoised again at ``plan.size`` (seed: its own)."""
    from studio_diffusers.prompt_weights import prompt_arguments

    single = request.replace(batch=1)
    plain = {"init_image": request.init_image or "hires", "mask": None, "controls": (), "refiner": ""}
    pipe = model._pipeline(single.replace(**{k: v for k, v in plain.items() if hasattr(single, k)}))
    steps = max(request.steps, math.ceil(1 / request.hires_strength))
    total = int(steps * request.hires_strength)
    plan.upscaler.to(model.device)
    out = []
    for index, image in enumerate(images):
        pipe.scheduler = model._scheduler(request.scheduler)
        report(0, total, message=f"Upscaling {index + 1}/{len(images)} with {plan.upscaler.name}")
        large = plan.upscaler.upscale(image, plan.size)
        prompt_args = prompt_arguments(pipe, single)
        seed = request.seed + index

        def progress(step: int, count: int, index: int = index) -> None:
            report(step, count, message=f"Hires pass {index + 1}/{len(images)}")

        if wants_latent_tiles(pipe, *plan.size) and not _needs_added_conditions(pipe):
            out.append(tiled_img2img(pipe, large, prompt_args, steps=steps, strength=request.hires_strength,
                                     guidance=request.guidance, seed=seed, report=progress, cancelled=cancelled))
            continue

        def on_step_end(pipeline: Any, step: int, timestep: Any, callback_kwargs: dict[str, Any]) -> dict[str, Any]:
            if cancelled():
                pipeline._interrupt = True
            progress(min(step + 1, total), total)
            return callback_kwargs

        with vae_tiling(pipe, wants_vae_tiling(pipe, *plan.size)):
            result = pipe(**prompt_args, image=large, strength=request.hires_strength, num_inference_steps=steps,
                          guidance_scale=request.guidance, generator=cpu_generator(seed),
                          callback_on_step_end=on_step_end, callback_on_step_end_tensor_inputs=["latents"])
        if cancelled():  # the pipeline stopped early: its picture is unfinished
            raise JobCancelled()
        out.append(result.images[0])
    return out


def _needs_added_conditions(pipe: Any) -> bool:
    """SDXL's UNet also takes pooled text states and size ids: the tiled loop feeds SD 1.x/2.x only
    (SDXL goes through its own img2img pipeline in one piece, with VAE tiling)."""
    return getattr(pipe.unet.config, "addition_embed_type", None) is not None
