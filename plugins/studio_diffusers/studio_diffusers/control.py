"""ControlNet and T2I-Adapter for SD 1.x/2.x and SDXL pipelines: several at once, each with a
control image, a weight and the fraction of the steps it acts between.

A ControlNet is a diffusers folder (``config.json`` + safetensors weights) or one ``.safetensors``
file (diffusers or original keys; its config is derived from the loaded model's UNet, offline).
A T2I-Adapter is a diffusers folder whose config names ``T2IAdapter`` (text-to-image only; it acts
from the first step to END). Each is checked against the model before any step runs: one made for
another family (another cross-attention width, other UNet channels, another latent scale) is a
one-line error.
"""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from studio.plugins import BadInput, GenerationRequest, ModelError, file_key, files_signature, loading_weights
from studio_diffusers.preprocess import preprocess

#: base txt2img pipeline class -> its ControlNet (txt2img, img2img) pipeline classes.
CONTROL_PIPELINES = {
    "StableDiffusionPipeline": ("StableDiffusionControlNetPipeline", "StableDiffusionControlNetImg2ImgPipeline"),
    "StableDiffusionXLPipeline": ("StableDiffusionXLControlNetPipeline",
                                  "StableDiffusionXLControlNetImg2ImgPipeline"),
}
#: base txt2img pipeline class -> its T2I-Adapter pipeline class.
ADAPTER_PIPELINES = {"StableDiffusionPipeline": "StableDiffusionAdapterPipeline",
                     "StableDiffusionXLPipeline": "StableDiffusionXLAdapterPipeline"}
PICKLE_SUFFIXES = (".ckpt", ".pt", ".pth", ".bin")


@dataclass
class ControlPlan:
    """What one run needs: the ControlNet pipeline, its extra arguments, the record kept in the
    image's metadata and notices for the user (a resized control image)."""

    pipeline: Any
    kwargs: dict[str, Any]
    record: list[dict[str, Any]]
    notices: list[str] = field(default_factory=list)


class ControlNets:
    """The ControlNets loaded for one model (kept by file identity) and their pipelines."""

    def __init__(self, pipe, device: torch.device) -> None:
        self.pipe = pipe
        self.device = device
        self.loaded: dict[str, Any] = {}  # file key -> ControlNetModel
        self._pipelines: dict[tuple[str, ...], Any] = {}

    def prepare(self, request: GenerationRequest, size: tuple[int, int]) -> ControlPlan:
        """Load and check the request's ControlNets, read (and preprocess) its control images."""
        img2img = bool(request.init_image)
        keys = [self._load(control.model) for control in request.controls]
        self.loaded = {key: self.loaded[key] for key in keys}  # nets no longer asked for are let go
        adapters = [is_adapter(self.loaded[key]) for key in keys]
        if any(adapters):
            return self._prepare_adapters(request, size, keys, all(adapters), img2img)
        pipeline = self._pipeline((*keys, "img2img" if img2img else "txt2img"), keys, img2img)
        images, record, notices = _images_and_record(request, size)
        single = len(images) == 1
        kwargs: dict[str, Any] = {
            "control_image" if img2img else "image": images[0] if single else images,
            "controlnet_conditioning_scale": _one_or_all([c.weight for c in request.controls]),
            "control_guidance_start": _one_or_all([c.start for c in request.controls]),
            "control_guidance_end": _one_or_all([c.end for c in request.controls]),
        }
        return ControlPlan(pipeline, kwargs, record, notices)

    def _prepare_adapters(self, request: GenerationRequest, size: tuple[int, int], keys: list[str], only: bool,
                          img2img: bool) -> ControlPlan:
        """T2I-Adapters: text-to-image, all from the first step to one shared end."""
        if not only:
            raise BadInput("ControlNets and T2I-Adapters cannot steer one picture together.",
                           "Use ControlNets only, or T2I-Adapters only.")
        if img2img:
            raise BadInput("T2I-Adapters steer text-to-image only.", "Drop the init image, or use a ControlNet.")
        xl = type(self.pipe).__name__ == "StableDiffusionXLPipeline"
        ends = {control.end for control in request.controls}
        if any(control.start for control in request.controls) or len(ends) > 1 or (not xl and ends != {1.0}):
            raise BadInput("T2I-Adapters act from the first step: START must be 0 and all ENDs the same "
                           "(1 on SD 1.x/2.x, where diffusers' adapter pipeline has no end).",
                           "Write FILE:ADAPTER:WEIGHT:0:END with one END for every adapter.")
        cache_key = (*keys, "adapter")
        if cache_key not in self._pipelines:
            import diffusers

            base = type(self.pipe).__name__
            if base not in ADAPTER_PIPELINES:
                raise BadInput(f"T2I-Adapters work with SD 1.x/2.x and SDXL models, not a {base}.")
            nets = [self.loaded[key] for key in keys]
            adapter = nets[0] if len(nets) == 1 else diffusers.MultiAdapter(nets)
            pipeline = getattr(diffusers, ADAPTER_PIPELINES[base]).from_pipe(self.pipe, adapter=adapter)
            pipeline.set_progress_bar_config(disable=True)
            self._pipelines = {cache_key: StepCallbackShim(pipeline)}
        images, record, notices = _images_and_record(request, size)
        kwargs = {"image": images[0] if len(images) == 1 else images,
                  "adapter_conditioning_scale": _one_or_all([c.weight for c in request.controls])}
        if xl:
            kwargs["adapter_conditioning_factor"] = request.controls[0].end
        return ControlPlan(self._pipelines[cache_key], kwargs, record, notices)

    def _load(self, path: str) -> str:
        """Load (once per version of its files) and check the ControlNet or adapter at ``path``."""
        key = file_key(path) or f"{Path(path).resolve()}|{files_signature(path)}"
        if key not in self.loaded:
            if _names_adapter(Path(path)):
                model = load_adapter(path, self.pipe.unet.dtype)
                check_adapter_fits(model, Path(path).name, self.pipe)
            else:
                model = load_controlnet(path, self.pipe.unet, self.pipe.unet.dtype)
                check_fits(model, Path(path).name, self.pipe)
            self.loaded[key] = model.to(self.device)
        return key

    def _pipeline(self, cache_key: tuple[str, ...], keys: list[str], img2img: bool):
        if cache_key not in self._pipelines:
            from diffusers.models.controlnets.multicontrolnet import MultiControlNetModel

            base = type(self.pipe).__name__
            if base not in CONTROL_PIPELINES:
                raise BadInput(f"ControlNet works with SD 1.x/2.x and SDXL models, not a {base}.")
            import diffusers

            cls = getattr(diffusers, CONTROL_PIPELINES[base][1 if img2img else 0])
            nets = [self.loaded[key] for key in keys]
            controlnet = nets[0] if len(nets) == 1 else MultiControlNetModel(nets)
            pipeline = cls.from_pipe(self.pipe, controlnet=controlnet)
            pipeline.set_progress_bar_config(disable=True)
            self._pipelines = {cache_key: pipeline}  # keep one: a new set of nets makes a new pipeline
        return self._pipelines[cache_key]


class StepCallbackShim:
    """A T2I-Adapter pipeline called like the others: diffusers' adapter pipelines take the older
    ``callback(step, timestep, latents)``, so ``callback_on_step_end`` is passed through that (the
    studio's step reports, previews and cancel); every other attribute is the pipeline's."""

    def __init__(self, pipe) -> None:
        object.__setattr__(self, "pipe", pipe)

    def __getattr__(self, name: str):
        return getattr(self.pipe, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self.pipe, name, value)

    def __call__(self, **kwargs: Any):
        on_step_end = kwargs.pop("callback_on_step_end", None)
        kwargs.pop("callback_on_step_end_tensor_inputs", None)
        if on_step_end is not None:
            def callback(step: int, timestep, latents) -> None:
                on_step_end(self.pipe, step, timestep, {"latents": latents})

            kwargs["callback"] = callback
        return self.pipe(**kwargs)


def _images_and_record(request: GenerationRequest, size: tuple[int, int]):
    """The control images (resized and preprocessed), what the picture's record keeps, notices."""
    images, record, notices = [], [], []
    for control in request.controls:
        image, notice = control_image(control.image, control.preprocess, size)
        images.append(image)
        notices += [notice] if notice else []
        record.append({"model": control.model, "model_name": Path(control.model).name,
                       "weight": control.weight, "start": control.start, "end": control.end,
                       "preprocess": control.preprocess, "image": control.image,
                       "image_sha256": file_sha256(control.image)})
    return images, record, notices


def _names_adapter(path: Path) -> bool:
    """True for a diffusers folder whose config is a ``T2IAdapter``'s."""
    import json

    config = path / "config.json"
    try:
        return path.is_dir() and json.loads(config.read_text(encoding="utf-8")).get("_class_name") == "T2IAdapter"
    except (OSError, ValueError, AttributeError):
        return False


def is_adapter(model) -> bool:
    return type(model).__name__ == "T2IAdapter"


def load_adapter(path: str, dtype: torch.dtype):
    from diffusers import T2IAdapter

    try:
        with loading_weights():
            return T2IAdapter.from_pretrained(path, dtype=dtype, local_files_only=True, use_safetensors=True)
    except (OSError, ValueError, KeyError, RuntimeError, TypeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"'{Path(path).name}' could not be loaded as a T2I-Adapter: {first[:300]}") from None


def check_adapter_fits(adapter, name: str, pipe) -> None:
    """An adapter's features must meet the UNet's down blocks: same channels, first at the latent
    scale, and every block but the last one with cross-attention (a plain down block takes its
    feature after downsampling, where an adapter's does not fit)."""
    ours, theirs = pipe.unet.config, adapter.config
    xl = ours.get("addition_embed_type") == "text_time"
    family = "SDXL" if xl else "SD"
    if (theirs.adapter_type == "full_adapter_xl") != xl:
        raise BadInput(f"The T2I-Adapter '{name}' is for another model family ({theirs.adapter_type}), "
                       f"this is an {family} model.", "Pick an adapter made for this model's base.")
    checks = [] if xl else [("latent scale", theirs.downscale_factor, pipe.vae_scale_factor),
                             ("UNet channels", list(theirs.channels), list(ours.block_out_channels))]
    for what, their_value, our_value in checks:
        if their_value != our_value:
            raise BadInput(f"The T2I-Adapter '{name}' is for another model family: its {what} is {their_value}, "
                           f"this {family} model's is {our_value}.", "Pick an adapter made for this model's base.")
    if not xl and any(not block.startswith("CrossAttn") for block in ours.down_block_types[:-1]):
        raise BadInput(f"This model's UNet takes no T2I-Adapter ('{name}'): a plain down block comes before "
                       "the last.", "Use a ControlNet with this model.")


def _one_or_all(values: list[float]) -> float | list[float]:
    return values[0] if len(values) == 1 else values


def load_controlnet(path: str, unet, dtype: torch.dtype):
    """A ``ControlNetModel`` from a diffusers folder or a ``.safetensors`` file (pickles refused)."""
    from diffusers import ControlNetModel
    from diffusers.utils import logging as diffusers_logging

    diffusers_logging.set_verbosity_error()
    file = Path(path)
    name = file.name
    if not file.exists():
        raise BadInput(f"The ControlNet '{path}' does not exist.")
    if file.suffix.lower() in PICKLE_SUFFIXES:
        raise ModelError(f"The ControlNet '{name}' is a pickle file, which can run hidden code when opened.",
                         "Use a .safetensors version of it.")
    try:
        if file.is_dir():
            with loading_weights():
                return ControlNetModel.from_pretrained(file, dtype=dtype, local_files_only=True, use_safetensors=True)
        if file.suffix.lower() != ".safetensors":
            raise BadInput(f"The ControlNet '{name}' is neither a diffusers folder nor a .safetensors file.")
        with tempfile.TemporaryDirectory(prefix="studio-controlnet-") as folder, loading_weights():
            config = dict(ControlNetModel.from_unet(unet, load_weights_from_unet=False).config)
            config.update(_conditioning_channels(file))
            ControlNetModel.from_config(config).save_config(folder)
            return ControlNetModel.from_single_file(str(file), config=folder, local_files_only=True, dtype=dtype)
    except (OSError, ValueError, KeyError, RuntimeError, TypeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"'{name}' could not be loaded as a ControlNet for this model: {first[:300]}") from None


def _conditioning_channels(file: Path) -> dict[str, Any]:
    """The control-image encoder's channels of a diffusers-format file (a demo ControlNet downsamples
    by 4, not 8); nothing for original-format keys (they take the standard encoder)."""
    from safetensors import safe_open

    with safe_open(str(file), framework="pt") as handle:
        names = set(handle.keys())
        prefix = "controlnet_cond_embedding."
        if f"{prefix}conv_in.weight" not in names:
            return {}
        conv_in = handle.get_slice(f"{prefix}conv_in.weight").get_shape()
        channels, index = [conv_in[0]], 1
        while f"{prefix}blocks.{index}.weight" in names:
            channels.append(handle.get_slice(f"{prefix}blocks.{index}.weight").get_shape()[0])
            index += 2
        return {"conditioning_embedding_out_channels": tuple(channels), "conditioning_channels": conv_in[1]}


def check_fits(controlnet, name: str, pipe) -> None:
    """Refuse a ControlNet made for another model family, before any step runs."""
    ours, theirs = pipe.unet.config, controlnet.config
    family = "SDXL" if ours.get("addition_embed_type") == "text_time" else "SD"
    checks = (
        ("cross-attention width", theirs.cross_attention_dim, ours.cross_attention_dim),
        ("UNet channels", list(theirs.block_out_channels), list(ours.block_out_channels)),
        ("latent channels", theirs.in_channels, ours.in_channels),
        ("extra conditioning", theirs.get("addition_embed_type"), ours.get("addition_embed_type")),
        ("latent scale", 2 ** (len(theirs.conditioning_embedding_out_channels) - 1), pipe.vae_scale_factor),
    )
    for what, their_value, our_value in checks:
        if their_value != our_value:
            raise BadInput(f"The ControlNet '{name}' is for another model family: its {what} is {their_value}, "
                           f"this {family} model's is {our_value}.", "Pick a ControlNet made for this model's base.")


def control_image(path: str, name: str, size: tuple[int, int]) -> tuple[Image.Image, str]:
    """The control image at ``size`` (resized when it is not, with a notice), then preprocessed."""
    file = Path(path)
    try:
        with Image.open(file) as opened:
            opened.load()
            image = opened.convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise BadInput(f"The control image '{path}' is not an image the studio can read ({exc}).") from None
    notice = ""
    if image.size != size:
        notice = (f"The control image '{file.name}' is {image.size[0]}×{image.size[1]}; "
                  f"resized to {size[0]}×{size[1]}.")
        image = image.resize(size, Image.Resampling.LANCZOS)
    return preprocess(image, name), notice


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
