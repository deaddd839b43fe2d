"""ControlNet for SD 1.x/2.x and SDXL pipelines: several at once, each with a control image, a
weight and the fraction of the steps it acts between.

A ControlNet is a diffusers folder (``config.json`` + safetensors weights) or one ``.safetensors``
file (diffusers or original keys; its config is derived from the loaded model's UNet, offline).
Each is checked against the model before any step runs: a ControlNet made for another family
(another cross-attention width, other UNet channels, another latent scale) is a one-line error.
"""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from studio.plugins import BadInput, GenerationRequest, ModelError, file_key
from studio_diffusers.preprocess import preprocess

#: base txt2img pipeline class -> its ControlNet (txt2img, img2img) pipeline classes.
CONTROL_PIPELINES = {
    "StableDiffusionPipeline": ("StableDiffusionControlNetPipeline", "StableDiffusionControlNetImg2ImgPipeline"),
    "StableDiffusionXLPipeline": ("StableDiffusionXLControlNetPipeline",
                                  "StableDiffusionXLControlNetImg2ImgPipeline"),
}
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
        pipeline = self._pipeline((*keys, "img2img" if img2img else "txt2img"), keys, img2img)
        images, record, notices = [], [], []
        for control in request.controls:
            image, notice = control_image(control.image, control.preprocess, size)
            images.append(image)
            notices += [notice] if notice else []
            record.append({"model": control.model, "model_name": Path(control.model).name,
                           "weight": control.weight, "start": control.start, "end": control.end,
                           "preprocess": control.preprocess, "image": control.image,
                           "image_sha256": file_sha256(control.image)})
        single = len(images) == 1
        kwargs: dict[str, Any] = {
            "control_image" if img2img else "image": images[0] if single else images,
            "controlnet_conditioning_scale": _one_or_all([c.weight for c in request.controls]),
            "control_guidance_start": _one_or_all([c.start for c in request.controls]),
            "control_guidance_end": _one_or_all([c.end for c in request.controls]),
        }
        return ControlPlan(pipeline, kwargs, record, notices)

    def _load(self, path: str) -> str:
        key = file_key(path) or str(Path(path).resolve())
        if key not in self.loaded:
            controlnet = load_controlnet(path, self.pipe.unet, self.pipe.unet.dtype)
            check_fits(controlnet, Path(path).name, self.pipe)
            self.loaded[key] = controlnet.to(self.device)
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
            return ControlNetModel.from_pretrained(file, dtype=dtype, local_files_only=True, use_safetensors=True)
        if file.suffix.lower() != ".safetensors":
            raise BadInput(f"The ControlNet '{name}' is neither a diffusers folder nor a .safetensors file.")
        with tempfile.TemporaryDirectory(prefix="studio-controlnet-") as folder:
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
