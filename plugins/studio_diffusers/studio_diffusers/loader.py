"""Load a Stable Diffusion model and run txt2img / img2img / inpaint requests with diffusers."""

from __future__ import annotations

import random
import time
import uuid
from pathlib import Path

import torch
from diffusers import AutoPipelineForImage2Image, AutoPipelineForInpainting, DiffusionPipeline
from diffusers.utils import logging as diffusers_logging
from PIL import Image

from studio.backends.torch_device import cpu_generator, default_dtype, resolve_device
from studio.core.errors import BadInput, ModelError
from studio.core.imagemeta import save_png
from studio.core.paths import home_path
from studio.core.requests import GenerationRequest
from studio.core.results import Artifact, JobResult
from studio.plugins.api import LoadContext
from studio_diffusers.schedulers import make_scheduler


def load(context: LoadContext) -> StableDiffusionModel:
    diffusers_logging.disable_progress_bar()
    diffusers_logging.set_verbosity_error()
    entry = context.model
    device = resolve_device(context.device)
    if entry.kind != "diffusers":
        raise ModelError(
            f"Single-file checkpoints like '{entry.name}' are not supported yet.",
            "Use a diffusers folder for now.",
        )
    try:
        pipe = DiffusionPipeline.from_pretrained(
            entry.path, dtype=default_dtype(device), local_files_only=True, use_safetensors=True
        )
    except (OSError, ValueError) as exc:
        raise ModelError(f"'{entry.name}' could not be loaded as a Stable Diffusion model: {exc}") from None
    pipe.set_progress_bar_config(disable=True)
    return StableDiffusionModel(pipe.to(device), entry.name, device)


class StableDiffusionModel:
    """A loaded pipeline; img2img and inpaint pipelines share its components (no extra memory)."""

    def __init__(self, pipe: DiffusionPipeline, name: str, device: torch.device) -> None:
        self.pipe = pipe
        self.name = name
        self.device = device
        self.default_scheduler_config = dict(pipe.scheduler.config)

    def unload(self) -> None:
        self.pipe = None
        if self.device.type == "cuda":
            torch.cuda.empty_cache()

    def _pipeline(self, request: GenerationRequest) -> DiffusionPipeline:
        if request.capability == "inpaint":
            return AutoPipelineForInpainting.from_pipe(self.pipe)
        if request.capability == "img2img":
            return AutoPipelineForImage2Image.from_pipe(self.pipe)
        return self.pipe

    def run(self, request: GenerationRequest, report, cancelled) -> JobResult:
        seed = request.seed if request.seed is not None else random.randrange(2**32)
        pipe = self._pipeline(request)
        pipe.scheduler = make_scheduler(request.scheduler, self.default_scheduler_config)
        total = request.steps

        def on_step_end(pipeline, step, timestep, callback_kwargs):
            if cancelled():
                pipeline._interrupt = True
            report(step + 1, total)
            return callback_kwargs

        kwargs = dict(
            prompt=[request.prompt] * request.batch,
            negative_prompt=[request.negative_prompt] * request.batch if request.negative_prompt else None,
            num_inference_steps=request.steps,
            guidance_scale=request.guidance,
            generator=[cpu_generator(seed + i) for i in range(request.batch)],
            callback_on_step_end=on_step_end,
        )
        if request.init_image:
            init = _open_image(request.init_image, "init image").resize((request.width, request.height))
            kwargs.update(image=init, strength=request.strength)
            if request.mask:
                mask = _open_image(request.mask, "mask").convert("L").resize((request.width, request.height))
                kwargs["mask_image"] = mask
        else:
            kwargs.update(width=request.width, height=request.height)
        images = pipe(**kwargs).images
        if cancelled():
            report(total, total)  # raises JobCancelled
        folder = home_path("gallery", time.strftime("%Y-%m-%d"))
        artifacts = []
        for i, image in enumerate(images):
            path = folder / f"{time.strftime('%H%M%S')}-{seed + i}-{uuid.uuid4().hex[:6]}.png"
            save_png(image, path, request, seed + i, {"model_name": self.name, "backend": "torch"})
            artifacts.append(Artifact(str(path), "image", {"seed": seed + i}))
        return JobResult(artifacts=tuple(artifacts), data={"seed": seed})


def _open_image(path: str, what: str) -> Image.Image:
    try:
        with Image.open(Path(path)) as image:
            return image.convert("RGB")
    except (OSError, ValueError) as exc:
        raise BadInput(f"The {what} '{path}' is not an image the studio can read ({exc}).") from None
