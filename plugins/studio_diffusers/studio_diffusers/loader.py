"""Load a Stable Diffusion model and run txt2img / img2img / inpaint requests with diffusers.

Only the pipeline classes a job needs are imported: ``DiffusionPipeline`` (which imports the class
the folder names), the image-to-image / inpaint variant of that class when such a job first comes,
and the single-file machinery for checkpoint files only. diffusers' ``AutoPipeline*`` classes import
every pipeline diffusers has (ControlNet, Kandinsky …, about 2 s on a CPU): they are the fallback
for pipeline classes the table below does not know.
"""

from __future__ import annotations

import copy
import gc
import math
from pathlib import Path
from typing import Any

import torch
from diffusers import DiffusionPipeline
from diffusers.utils import logging as diffusers_logging
from PIL import Image

from studio.plugins import (
    BackgroundHash,
    BadInput,
    GenerationRequest,
    ImageOutput,
    JobResult,
    LoadContext,
    ModelEntry,
    ModelError,
    OutOfMemory,
    loading_weights,
)
from studio.plugins.devices import cpu_generator, default_dtype, resolve_device
from studio_diffusers.hires import apply_hires, plan_hires
from studio_diffusers.inpaint import LatentBlend, composite, prepare_mask
from studio_diffusers.loras import LoraStack
from studio_diffusers.previews import LazyPreview, StepPreviews, file_identity
from studio_diffusers.prompt_weights import prompt_arguments
from studio_diffusers.schedulers import make_scheduler
from studio_diffusers.tiles import vae_tiling, wants_vae_tiling

#: txt2img pipeline class -> its (img2img, inpaint) siblings, imported by name when first needed.
DERIVED_PIPELINES = {
    "StableDiffusionPipeline": ("StableDiffusionImg2ImgPipeline", "StableDiffusionInpaintPipeline"),
    "StableDiffusionXLPipeline": ("StableDiffusionXLImg2ImgPipeline", "StableDiffusionXLInpaintPipeline"),
}

# What the imports above made (torch, diffusers, transformers: ~450k objects) lives as long as the
# process: kept out of the cyclic collector's sight, each full collection (a model's unload, the one
# at exit) takes milliseconds instead of 0.17 s. Models loaded later are collected as before.
gc.freeze()


def load(context: LoadContext) -> StableDiffusionModel:
    if context.backend == "onnx":  # exported on first use, run by ONNX Runtime
        from studio_diffusers.onnx_model import load_onnx

        return load_onnx(context)  # type: ignore[return-value]
    entry = context.model
    device = resolve_device(context.device)
    pipe = load_pipeline(entry, default_dtype(device), context.options)
    if Path(entry.path).is_dir():
        vae_files = sorted(Path(entry.path, "vae").glob("diffusion_pytorch_model*"))
    else:
        vae_files = [Path(entry.path)]
    model = StableDiffusionModel(pipe, entry.name, device, context.options, preview_identity=file_identity(
        *vae_files), cache_dir=Path(context.cache_dir) if context.cache_dir else None)
    model.hash = BackgroundHash(entry.path)  # a checkpoint file is hashed while the model runs
    return model


def load_pipeline(entry: ModelEntry, dtype: torch.dtype, options: dict[str, Any]) -> DiffusionPipeline:
    """The Stable Diffusion pipeline of a diffusers folder or a single-file checkpoint (a pickle one
    only when the user allowed that very file), checked complete. Generation and training load
    the user's model through here."""
    with loading_weights():  # no other thread builds modules meanwhile (the loaders patch torch)
        return _load_pipeline(entry, dtype, options)


def _load_pipeline(entry: ModelEntry, dtype: torch.dtype, options: dict[str, Any]) -> DiffusionPipeline:
    diffusers_logging.disable_progress_bar()
    diffusers_logging.set_verbosity_error()
    if entry.kind in ("pickle-checkpoint", "sd-checkpoint"):
        from studio_diffusers.single_file import load_single_file, refuse_pickle
    if entry.kind == "pickle-checkpoint":
        refuse_pickle(entry, options.get("allowed_pickles", []))
        pipe = load_single_file(entry, dtype, options.get("single_file_config"))
    elif entry.kind == "sd-checkpoint":
        pipe = load_single_file(entry, dtype, options.get("single_file_config"))
    else:
        try:
            pipe = DiffusionPipeline.from_pretrained(
                entry.path, dtype=dtype, local_files_only=True, use_safetensors=True
            )
        except (OSError, ValueError, KeyError) as exc:
            raise ModelError(f"'{entry.name}' could not be loaded as a Stable Diffusion model: {exc}") from None
    if not hasattr(pipe, "vae") or not hasattr(pipe, "unet"):
        raise ModelError(f"'{entry.name}' is a {type(pipe).__name__}, not a Stable Diffusion pipeline.")
    if missing := _missing_weights(pipe):
        raise ModelError(
            f"'{entry.name}' is incomplete: weights are missing from {', '.join(missing)}.",
            "The file may be damaged, still being copied, or from another model; copy it again.",
        )
    pipe.set_progress_bar_config(disable=True)
    return pipe


class StableDiffusionModel:
    """A loaded pipeline; img2img and inpaint pipelines share its components (no extra memory)."""

    def __init__(self, pipe: DiffusionPipeline, name: str, device: torch.device, options: dict[str, Any],
                 preview_identity: str = "", cache_dir: Path | None = None) -> None:
        self.name = name
        self.hash: BackgroundHash | None = None
        self.device = device
        self.options = options
        if options.get("cpu_offload") and device.type == "cuda":
            pipe.enable_model_cpu_offload()
        elif not _all_on(pipe, device):  # pipe.to walks every module even when there is nothing to move
            pipe.to(device)
        if options.get("attention_slicing"):
            pipe.enable_attention_slicing()
        if options.get("vae_tiling"):
            pipe.vae.enable_tiling()
        pipe.vae.enable_slicing()  # batch decoding one image at a time: same pixels, less memory
        self.pipe = pipe
        self.loras = LoraStack(pipe)
        self.controlnets: Any = None  # control.ControlNets, made when a request first has controls
        self.refiners: Any = None  # refiner.Refiners, made when a request first names a refiner
        self._derived: dict[str, DiffusionPipeline] = {}
        self.default_scheduler_config = dict(pipe.scheduler.config)
        self._schedulers: dict[str, Any] = {}  # name -> a pristine scheduler, copied for each run
        # The preview map is fitted with the VAE on the first preview (or read from the cache), not here.
        self.preview = LazyPreview(pipe.vae, device, pipe.vae.dtype, preview_identity,
                                   cache_dir / "preview-maps.json" if cache_dir else None)
        self.memory_bytes = sum(
            p.numel() * p.element_size()
            for module in pipe.components.values() if isinstance(module, torch.nn.Module)
            for p in module.parameters()
        )

    @property
    def model_hash(self) -> str:
        return self.hash.value if self.hash is not None else ""

    def _scheduler(self, name: str):
        """A fresh scheduler of the named kind (a copy of one built once from the model's config)."""
        if name not in self._schedulers:
            self._schedulers[name] = make_scheduler(name, self.default_scheduler_config)
        return copy.deepcopy(self._schedulers[name])

    def unload(self) -> None:
        self.pipe = None
        self._derived.clear()
        gc.collect()
        if self.device.type == "cuda":
            torch.cuda.empty_cache()

    def _pipeline(self, request: GenerationRequest) -> DiffusionPipeline:
        """The pipeline for the request's capability, sharing the loaded components."""
        capability = request.capability
        if capability == "inpaint" and self.blends_to_inpaint:
            capability = "img2img"
        if capability not in ("img2img", "inpaint"):
            return self.pipe
        if capability not in self._derived:
            derived = derived_pipeline_class(type(self.pipe).__name__, capability).from_pipe(self.pipe)
            derived.set_progress_bar_config(disable=True)
            self._derived[capability] = derived
        return self._derived[capability]

    def _controlnets(self):
        if self.controlnets is None:
            from studio_diffusers.control import ControlNets

            self.controlnets = ControlNets(self.pipe, self.device)
        return self.controlnets

    def _refiners(self):
        if self.refiners is None:
            from studio_diffusers.refiner import Refiners

            self.refiners = Refiners(self.pipe, self.device)
        return self.refiners

    @property
    def blends_to_inpaint(self) -> bool:
        """True for UNets diffusers' inpaint pipeline does not take (neither 4 nor 9 input channels):
        they inpaint through image-to-image with :class:`LatentBlend`."""
        return self.pipe.unet.config.in_channels not in (4, 9)

    def run(self, request: GenerationRequest, report, cancelled) -> JobResult:
        seed = request.seed  # resolved by the studio when the job was queued
        size = (request.width, request.height)
        init = _open_image(request.init_image, "init image").resize(size) if request.init_image else None
        mask = prepare_mask(_open_image(request.mask, "mask"), size) if request.mask else None
        hires = plan_hires(request, self.options)  # hires.py: a bad upscaler is refused before the first pass
        self.loras.apply(request.loras)
        control = self._controlnets().prepare(request, size) if request.controls else None  # control.py
        pipe = control.pipeline if control else self._pipeline(request)
        pipe.scheduler = self._scheduler(request.scheduler)
        steps = request.steps
        if init is not None:  # img2img/inpaint run steps × strength steps: make that at least one
            steps = max(steps, math.ceil(1 / request.strength))
        total = steps if init is None else int(steps * request.strength)

        blend = LatentBlend(pipe, init, mask, seed) if mask is not None and self.blends_to_inpaint else None
        previews = StepPreviews(self.preview, self.device, size)

        def on_step_end(pipeline, step, timestep, callback_kwargs):
            if blend is not None:
                callback_kwargs["latents"] = blend(pipeline, step, callback_kwargs["latents"])
            if cancelled():
                pipeline._interrupt = True
            report(min(step + 1, total), total, preview=previews(callback_kwargs["latents"][0]))
            return callback_kwargs

        kwargs: dict[str, Any] = dict(
            **prompt_arguments(pipe, request),  # the texts, or A1111-weighted states (prompt_weights.py)
            num_inference_steps=steps,
            guidance_scale=request.guidance,
            generator=[cpu_generator(seed + i) for i in range(request.batch)],
            callback_on_step_end=on_step_end,
            callback_on_step_end_tensor_inputs=["latents"],
            width=request.width,
            height=request.height,
        )
        if init is not None:
            kwargs.update(image=init, strength=request.strength)
            if mask is not None and blend is None:
                kwargs["mask_image"] = mask
            else:
                del kwargs["width"], kwargs["height"]
        if control:
            kwargs.update(control.kwargs)
            for text in control.notices:  # a resized control image
                report(0, total, notice=text)
        if request.refiner:  # base → refiner hand-off (refiner.py)
            pipe = self._refiners().hand_off(pipe, request, prompt_arguments)
        with vae_tiling(self.pipe, wants_vae_tiling(self.pipe, *size)):  # tiles.py: above 1024 px (or 2× native)
            images, notice = self._call_with_oom_retry(pipe, kwargs, report)
        notice = " ".join([*(control.notices if control else []), *([notice] if notice else [])])
        if cancelled():
            report(total, total)  # raises JobCancelled
        if mask is not None:
            images = [composite(init, image, mask) for image in images]
        if hires is not None:  # upscale, then img2img at the large size
            images = apply_hires(self, request, images, hires, report, cancelled)
        about = {"model_name": self.name, "model_hash": self.model_hash, "backend": "torch",
                 "scheduler_config": _public_config(pipe.scheduler.config)}
        if control:
            about["controls"] = control.record
        if hires is not None:
            about.update(hires.about())
        outputs = tuple(ImageOutput(image, request.replace(seed=seed + i), about) for i, image in enumerate(images))
        return JobResult(images=outputs, data={"seed": seed, "notice": notice})

    def _call_with_oom_retry(self, pipe, kwargs: dict[str, Any], report) -> tuple[list[Image.Image], str]:
        """Run the pipeline; on out-of-memory free memory and retry once with VAE tiling."""
        try:
            return pipe(**kwargs).images, ""
        except torch.OutOfMemoryError:
            gc.collect()
            if self.device.type == "cuda":
                torch.cuda.empty_cache()
            if self.options.get("vae_tiling"):
                raise _oom() from None
        notice = "Ran out of memory; retried once with VAE tiling."
        report(0, 1, notice=notice)
        pipe.vae.enable_tiling()
        try:
            return pipe(**kwargs).images, notice
        except torch.OutOfMemoryError:
            gc.collect()
            if self.device.type == "cuda":
                torch.cuda.empty_cache()
            raise _oom() from None
        finally:
            pipe.vae.disable_tiling()


def derived_pipeline_class(base: str, capability: str) -> type:
    """The img2img or inpaint pipeline class for a pipeline of class ``base`` (imported now)."""
    import diffusers

    names = DERIVED_PIPELINES.get(base)
    if names is not None:
        return getattr(diffusers, names[0] if capability == "img2img" else names[1])
    if capability == "img2img":
        return diffusers.AutoPipelineForImage2Image
    return diffusers.AutoPipelineForInpainting


def _missing_weights(pipe: DiffusionPipeline) -> list[str]:
    """Components with weights the files did not give (left on the meta device), e.g. "unet (3 of 86)"."""
    missing = []
    for name, module in pipe.components.items():
        if isinstance(module, torch.nn.Module):
            tensors = [*module.parameters(), *module.buffers()]
            if empty := sum(tensor.is_meta for tensor in tensors):
                missing.append(f"{name} ({empty} of {len(tensors)})")
    return missing


def _all_on(pipe: DiffusionPipeline, device: torch.device) -> bool:
    return all(
        tensor.device == device
        for module in pipe.components.values() if isinstance(module, torch.nn.Module)
        for tensor in (*module.parameters(), *module.buffers())
    )


def _public_config(config) -> dict[str, Any]:
    """A scheduler config without diffusers' private bookkeeping (set-ordered, so not reproducible)."""
    return {k: v for k, v in dict(config).items() if k == "_class_name" or not k.startswith("_")}


def _oom() -> OutOfMemory:
    return OutOfMemory(
        "The GPU ran out of memory, even with VAE tiling.",
        "Lower the size or batch, or turn on attention slicing or CPU offload in Settings → Memory.",
    )


def _open_image(path: str, what: str) -> Image.Image:
    try:
        with Image.open(Path(path)) as image:
            image.load()
            return image.convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise BadInput(f"The {what} '{path}' is not an image the studio can read ({exc}).") from None


def upscale(request: Any, report: Any, cancelled: Any, options: dict[str, Any]) -> JobResult:
    """The ``upscale`` capability (``studio upscale``): a light job without a diffusion model."""
    from studio_diffusers.upscalers import run_upscale

    return run_upscale(request, report, cancelled, options)
