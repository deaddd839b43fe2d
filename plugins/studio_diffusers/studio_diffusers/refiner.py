"""The SDXL refiner hand-off: the base denoises the first fraction of the steps and hands its
latents (never decoded) to the refiner, which denoises the rest (diffusers' ``denoising_end`` /
``denoising_start`` "ensemble of expert denoisers").
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from studio.plugins import BadInput, GenerationRequest, ModelError, files_signature, loading_weights
from studio_diffusers.schedulers import make_scheduler

#: What the refiner takes from the base's call (the rest, such as the size, it reads from the latents).
_SHARED_ARGUMENTS = ("num_inference_steps", "guidance_scale", "generator", "callback_on_step_end_tensor_inputs")


class Refiners:
    """The refiner pipeline loaded for one SDXL base (kept by folder identity, one at a time)."""

    def __init__(self, base, device: torch.device) -> None:
        self.base = base
        self.device = device
        self.key = ""
        self.pipe = None
        self.default_scheduler_config: dict[str, Any] = {}

    def hand_off(self, base, request: GenerationRequest, prompt_arguments: Callable) -> HandOff:
        """A callable like a pipeline: ``base`` (its scheduler already set) then the request's refiner,
        whose prompt arguments ``prompt_arguments(refiner, request)`` makes (its one text encoder)."""
        if type(self.base).__name__ != "StableDiffusionXLPipeline":
            raise BadInput(f"A refiner needs an SDXL base model, not a {type(self.base).__name__}.",
                           "Drop --refiner, or pick an SDXL model.")
        self._load(request.refiner)
        self.pipe.scheduler = make_scheduler(request.scheduler, self.default_scheduler_config)
        return HandOff(base, self.pipe, request.refiner_at, prompt_arguments(self.pipe, request))

    def _load(self, path: str) -> None:
        folder = Path(path)
        if not folder.is_dir():
            raise BadInput(f"The refiner '{path}' is not a model folder.",
                           "Pass the folder of an SDXL refiner (diffusers format).")
        key = f"{folder.resolve()}|{files_signature(folder)}"  # a refiner saved again is loaded again
        if key == self.key:
            return
        from diffusers import StableDiffusionXLImg2ImgPipeline

        try:
            with loading_weights():
                pipe = StableDiffusionXLImg2ImgPipeline.from_pretrained(
                    folder, dtype=self.base.unet.dtype, local_files_only=True, use_safetensors=True)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"'{folder.name}' could not be loaded as an SDXL refiner: {first[:300]}") from None
        for what, theirs, ours in (
            ("latent channels", pipe.vae.config.latent_channels, self.base.vae.config.latent_channels),
            ("latent scale", pipe.vae_scale_factor, self.base.vae_scale_factor),
        ):
            if theirs != ours:
                raise BadInput(f"The refiner '{folder.name}' does not fit this base: its {what} is {theirs}, "
                               f"the base's is {ours}.", "Pick a refiner made for this model's family.")
        pipe.set_progress_bar_config(disable=True)
        pipe.vae.enable_slicing()
        self.pipe = pipe.to(self.device)
        self.key = key
        self.default_scheduler_config = dict(pipe.scheduler.config)


class HandOff:
    """Runs like a pipeline (``pipe(**kwargs).images``): base to ``at`` of the steps, refiner after.
    Step reports continue across the hand-off (the refiner's first step follows the base's last)."""

    def __init__(self, base, refiner, at: float, prompt: dict[str, Any]) -> None:
        self.base = base
        self.refiner = refiner
        self.at = at
        self.prompt = prompt

    @property
    def vae(self):
        """The VAE that decodes the picture (the refiner's): what an out-of-memory retry tiles."""
        return self.refiner.vae

    @property
    def scheduler(self):
        return self.base.scheduler

    def __call__(self, **kwargs: Any):
        callback = kwargs.pop("callback_on_step_end", None)
        base_steps = 0

        def on_base_step(pipeline, step, timestep, callback_kwargs):
            nonlocal base_steps
            base_steps = step + 1
            return callback(pipeline, step, timestep, callback_kwargs) if callback else callback_kwargs

        def on_refiner_step(pipeline, step, timestep, callback_kwargs):
            return callback(pipeline, base_steps + step, timestep, callback_kwargs) if callback else callback_kwargs

        base = self.base(**kwargs, denoising_end=self.at, output_type="latent", callback_on_step_end=on_base_step)
        if getattr(self.base, "_interrupt", False):  # cancelled: the caller stops before using the pictures
            return base
        refiner_kwargs = {**{name: kwargs[name] for name in _SHARED_ARGUMENTS if name in kwargs}, **self.prompt}
        return self.refiner(**refiner_kwargs, image=base.images, denoising_start=self.at,
                            callback_on_step_end=on_refiner_step)
