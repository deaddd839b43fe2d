"""Stable Diffusion over ONNX Runtime sessions: diffusers' own schedulers and denoising loop.

The loop is diffusers' ``StableDiffusionPipeline`` / ``StableDiffusionImg2ImgPipeline`` step for
step — the same tokenisation, classifier-free guidance, initial noise (``randn_tensor`` with one
CPU generator per image, ``seed + i``), VAE sampling and post-processing — with the four networks
run by ONNX Runtime. The latents stay torch tensors on the CPU (the schedulers want them); only
the network inputs and outputs cross to numpy. So the same request gives the same picture on
either backend (within ORT's float rounding).
"""

from __future__ import annotations

import inspect
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from diffusers.image_processor import VaeImageProcessor
from diffusers.models.autoencoders.vae import DiagonalGaussianDistribution
from diffusers.utils.torch_utils import randn_tensor
from PIL import Image

from studio.plugins import BadInput, GenerationRequest
from studio.plugins.devices import cpu_generator
from studio.plugins.onnx import ProviderChoice, create_session
from studio_diffusers.inpaint import composite
from studio_diffusers.onnx_export import CONFIG, GRAPHS
from studio_diffusers.previews import LatentPreview, StepPreviews
from studio_diffusers.schedulers import make_scheduler


class OnnxStableDiffusion:
    """An exported model (a cache entry's folder) ready to run requests on ``choice``'s providers."""

    def __init__(self, folder: Path, choice: ProviderChoice) -> None:
        from transformers import CLIPTokenizer

        self.folder = Path(folder)
        self.choice = choice
        self.config = json.loads((self.folder / CONFIG).read_text(encoding="utf-8"))
        self.tokenizer = CLIPTokenizer.from_pretrained(self.folder / "tokenizer", local_files_only=True)
        self.sdxl: dict[str, Any] | None = self.config.get("sdxl")
        self.tokenizer_2 = (CLIPTokenizer.from_pretrained(self.folder / "tokenizer_2", local_files_only=True)
                            if self.sdxl else None)
        self.added_cond: dict[str, torch.Tensor] = {}  # SDXL: the pooled text and time ids of this run
        self.vae_scale = int(self.config["vae"]["scale_factor"])
        self.image_processor = VaeImageProcessor(vae_scale_factor=self.vae_scale)
        self.mask_processor = VaeImageProcessor(vae_scale_factor=self.vae_scale, do_normalize=False,
                                                do_binarize=True, do_convert_grayscale=True)
        self.unet_channels = int(self.config["unet"]["in_channels"])
        self.preview = LatentPreview(np.asarray(self.config["preview"]["weights"]),
                                     np.asarray(self.config["preview"]["bias"]))
        self._sessions: dict[str, Any] = {}

    def session(self, graph: str):
        """The graph's ``InferenceSession``, started on first use (img2img alone needs the encoder)."""
        if graph not in self._sessions:
            assert graph in GRAPHS
            self._sessions[graph] = create_session(self.folder / graph / "model.onnx", self.choice)
        return self._sessions[graph]

    @property
    def provider(self) -> str:
        """The provider the UNet actually runs on (short name: CUDA, CPU …)."""
        from studio.plugins.onnx import provider_name

        return provider_name(self.session("unet").get_providers()[0])

    def _run(self, graph: str, **feeds: Any) -> torch.Tensor:
        arrays = {k: np.ascontiguousarray(v.numpy() if isinstance(v, torch.Tensor) else v) for k, v in feeds.items()}
        return torch.from_numpy(self.session(graph).run(None, arrays)[0])

    # ---------------------------------------------------------------------------------- the parts

    def encode_prompt(self, prompts: list[str], negatives: list[str] | None, guidance: bool) -> torch.Tensor:
        """Text states as diffusers' ``encode_prompt``: [negative; positive] under guidance. For SDXL
        the pooled text goes to :attr:`added_cond` (the UNet's extra input), as the SDXL pipeline does."""
        if self.sdxl:
            return self._encode_prompt_sdxl(prompts, negatives, guidance)
        length = int(self.config["text"]["max_length"])

        def encode(texts: list[str]) -> torch.Tensor:
            ids = self.tokenizer(texts, padding="max_length", max_length=length, truncation=True,
                                 return_tensors="np").input_ids.astype(np.int64)
            return self._run("text_encoder", input_ids=ids)

        states = encode(prompts)
        if not guidance:
            return states
        return torch.cat([encode(negatives or [""] * len(prompts)), states])

    def _encode_prompt_sdxl(self, prompts: list[str], negatives: list[str] | None, guidance: bool) -> torch.Tensor:
        """``StableDiffusionXLPipeline.encode_prompt``: both encoders' penultimate states side by side,
        the second's pooled projection; an empty negative prompt is zeros when the model says so."""
        assert self.sdxl is not None and self.tokenizer_2 is not None

        def ids(tokenizer, texts: list[str]) -> np.ndarray:
            return tokenizer(texts, padding="max_length", max_length=tokenizer.model_max_length, truncation=True,
                             return_tensors="np").input_ids.astype(np.int64)

        def encode(texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
            first = self._run("text_encoder", input_ids=ids(self.tokenizer, texts))
            outputs = self.session("text_encoder_2").run(None, {"input_ids": ids(self.tokenizer_2, texts)})
            pooled, second = (torch.from_numpy(array) for array in outputs)
            return torch.cat([first, second], dim=-1), pooled

        states, pooled = encode(prompts)
        if guidance:
            if negatives is None and self.sdxl["force_zeros_for_empty_prompt"]:
                negative_states, negative_pooled = torch.zeros_like(states), torch.zeros_like(pooled)
            else:
                negative_states, negative_pooled = encode(negatives or [""] * len(prompts))
            states = torch.cat([negative_states, states])
            pooled = torch.cat([negative_pooled, pooled])
        self.added_cond = {"text_embeds": pooled}
        return states

    def _time_ids(self, height: int, width: int, rows: int) -> torch.Tensor:
        """SDXL's size conditioning: original size, crop corner, target size (the picture's own size)."""
        return torch.tensor([[height, width, 0, 0, height, width]], dtype=torch.float32).repeat(rows, 1)

    def unet(self, latents: torch.Tensor, timestep, states: torch.Tensor) -> torch.Tensor:
        steps = np.full((latents.shape[0],), float(timestep), dtype=np.float32)
        return self._run("unet", sample=latents, timestep=steps, encoder_hidden_states=states, **self.added_cond)

    def encode_image(self, pixels: torch.Tensor) -> DiagonalGaussianDistribution:
        return DiagonalGaussianDistribution(self._run("vae_encoder", sample=pixels))

    def decode(self, latents: torch.Tensor) -> list[Image.Image]:
        vae = self.config["vae"]
        latents = latents / vae["scaling_factor"]
        if vae.get("shift_factor"):
            latents = latents + vae["shift_factor"]
        pixels = torch.cat([self._run("vae_decoder", latent_sample=latents[i:i + 1]) for i in range(len(latents))])
        return self.image_processor.postprocess(pixels, output_type="pil", do_denormalize=[True] * len(pixels))

    # --------------------------------------------------------------------------------------- run

    def check_size(self, request: GenerationRequest) -> None:
        if getattr(request, "hires_scale", 1) > 1:
            raise BadInput("The hires fix runs on the torch backend only.",
                           "Use --backend torch, or set --hires-scale 1 and upscale with 'studio upscale'.")
        multiple = int(self.config["unet"].get("side_multiple", 8))
        if request.width % multiple or request.height % multiple:
            raise BadInput(
                f"On the ONNX backend this model needs a width and height that are multiples of {multiple} "
                f"(asked {request.width}×{request.height}).",
                f"Use e.g. {_round(request.width, multiple)}×{_round(request.height, multiple)}, "
                "or the torch backend.",
            )

    def generate(self, request: GenerationRequest, report, cancelled, init: Image.Image | None = None,
                 mask: Image.Image | None = None) -> tuple[list[Image.Image], Any]:
        """The request's images and the scheduler it ran with; ``report`` every step."""
        self.check_size(request)
        seed, batch = request.seed, request.batch
        size = (request.width, request.height)
        generators = [cpu_generator(seed + i) for i in range(batch)]
        guidance = request.guidance > 1.0
        states = self.encode_prompt([request.prompt] * batch,
                                    [request.negative_prompt] * batch if request.negative_prompt else None, guidance)
        if self.sdxl:
            self.added_cond["time_ids"] = self._time_ids(request.height, request.width, len(states))
        scheduler = make_scheduler(request.scheduler, self.config["scheduler"])
        steps = request.steps
        if init is not None:  # as the torch path: at least one step of steps × strength
            steps = max(steps, math.ceil(1 / request.strength))
        scheduler.set_timesteps(steps, device="cpu")
        timesteps = scheduler.timesteps
        blend, extra = None, None
        if init is None:
            if self.unet_channels == 9:
                raise BadInput("This is an inpainting model (a 9-channel UNet): it needs an image and a mask.",
                               "Open an image and paint the area to repaint, or choose another model.")
            shape = (batch, self.unet_channels, request.height // self.vae_scale, request.width // self.vae_scale)
            latents = randn_tensor(shape, generator=generators, device=torch.device("cpu"), dtype=torch.float32)
            latents = latents * scheduler.init_noise_sigma
        elif mask is not None and self.unet_channels in (4, 9):
            timesteps, latents, blend, extra = self._inpaint_latents(request, scheduler, steps, init, mask,
                                                                     generators, guidance)
        else:
            timesteps, latents, blend = self._image_latents(request, scheduler, steps, init, mask, generators)
        step_kwargs = _step_kwargs(scheduler, generators)
        previews = StepPreviews(self.preview, torch.device("cpu"), size)
        total = len(timesteps) if init is None else int(steps * request.strength)
        for i, t in enumerate(timesteps):
            if cancelled():
                report(i, total)  # raises JobCancelled
            model_input = torch.cat([latents] * 2) if guidance else latents
            model_input = scheduler.scale_model_input(model_input, t)
            if extra is not None:  # a 9-channel inpainting UNet also reads the mask and the masked image
                model_input = torch.cat([model_input, extra], dim=1)
            noise = self.unet(model_input, t, states)
            if guidance:
                uncond, text = noise.chunk(2)
                noise = uncond + request.guidance * (text - uncond)
            latents = scheduler.step(noise, t, latents, **step_kwargs, return_dict=False)[0]
            if blend is not None:
                latents = blend(scheduler, timesteps, i, latents)
            report(min(i + 1, total), total, preview=previews(latents[0]))
        images = self.decode(latents)
        if mask is not None and init is not None:
            images = [composite(init, image, mask) for image in images]
        return images, scheduler

    def _start(self, scheduler, steps: int, strength: float) -> torch.Tensor:
        """The timesteps an image-to-image run takes (diffusers' ``get_timesteps``)."""
        start = max(steps - min(int(steps * strength), steps), 0)
        if hasattr(scheduler, "set_begin_index"):
            scheduler.set_begin_index(start * scheduler.order)
        return scheduler.timesteps[start * scheduler.order:]

    def _inpaint_latents(self, request, scheduler, steps, init, mask, generators, guidance: bool):
        """diffusers' ``StableDiffusionInpaintPipeline`` start, which the torch path runs for 4- and
        9-channel UNets: the image encoded with the first generator, one noise per image, the binarised
        mask at latent size; a 9-channel UNet gets mask and masked-image latents as extra channels, a
        4-channel one has the area outside the mask put back after every step."""
        strength, batch = request.strength, request.batch
        timesteps = self._start(scheduler, steps, strength)
        scaling = self.config["vae"]["scaling_factor"]
        height, width = request.height // self.vae_scale, request.width // self.vae_scale
        shape = (batch, int(self.config["vae"]["latent_channels"]), height, width)
        pixels = self.image_processor.preprocess(init).to(torch.float32)
        strength_max = strength == 1.0
        image_latents = None
        if self.unet_channels == 4 or not strength_max:
            image_latents = (self.encode_image(pixels).sample(generators[0]) * scaling).repeat(batch, 1, 1, 1)
        noise = randn_tensor(shape, generator=generators, device=torch.device("cpu"), dtype=torch.float32)
        if strength_max:
            latents = noise * scheduler.init_noise_sigma
        else:
            latents = scheduler.add_noise(image_latents, noise, timesteps[:1].repeat(batch))
        condition = self.mask_processor.preprocess(mask, height=request.height, width=request.width)
        small_mask = torch.nn.functional.interpolate(condition, size=(height, width))
        # diffusers encodes the masked image for 4-channel UNets too (unused, but it draws from the first
        # generator, which an ancestral scheduler draws from next): so do we
        masked = self.encode_image(pixels * (condition < 0.5)).sample(generators[0]) * scaling
        if self.unet_channels == 9:
            extra = torch.cat([small_mask.repeat(batch, 1, 1, 1), masked.repeat(batch, 1, 1, 1)], dim=1)
            return timesteps, latents, None, torch.cat([extra] * 2) if guidance else extra

        def blend(scheduler, timesteps, i: int, latents: torch.Tensor) -> torch.Tensor:
            original = image_latents
            if i < len(timesteps) - 1:
                original = scheduler.add_noise(original, noise, torch.tensor([timesteps[i + 1]]))
            return (1 - small_mask) * original + small_mask * latents

        return timesteps, latents, blend, None

    def _image_latents(self, request, scheduler, steps, init, mask, generators):
        """img2img's start (diffusers' ``get_timesteps`` + ``prepare_latents``), and for inpainting
        the latent blend the torch path uses for UNets diffusers' inpaint pipeline does not take."""
        strength, batch = request.strength, request.batch
        timesteps = self._start(scheduler, steps, strength)
        pixels = self.image_processor.preprocess(init).to(torch.float32)
        scaling = self.config["vae"]["scaling_factor"]
        encoded = self.encode_image(pixels)
        init_latents = torch.cat([encoded.sample(generators[i]) for i in range(batch)]) * scaling
        noise = randn_tensor(init_latents.shape, generator=generators, device=torch.device("cpu"),
                             dtype=torch.float32)
        latents = scheduler.add_noise(init_latents, noise, timesteps[:1].repeat(batch))
        blend = _LatentBlend(encoded.mode() * scaling, mask, request.seed) if mask is not None else None
        return timesteps, latents, blend


class _LatentBlend:
    """:class:`studio_diffusers.inpaint.LatentBlend` on the ONNX path: after each step the latents
    outside the mask are the original's, noised to the next step's level."""

    def __init__(self, original: torch.Tensor, mask: Image.Image, seed: int) -> None:
        h, w = original.shape[-2:]
        keep = 1.0 - np.asarray(mask.convert("L").resize((w, h), Image.Resampling.BILINEAR), np.float32) / 255.0
        self.keep = torch.from_numpy(keep)[None, None]
        self.original = original
        self.noise = torch.randn(original.shape, generator=cpu_generator(seed), dtype=torch.float32)

    def __call__(self, scheduler, timesteps, step: int, latents: torch.Tensor) -> torch.Tensor:
        original = self.original
        if step + 1 < len(timesteps):
            original = scheduler.add_noise(original, self.noise, torch.tensor([timesteps[step + 1]]))
        return self.keep * original.to(latents.dtype) + (1.0 - self.keep) * latents


def _step_kwargs(scheduler, generators) -> dict[str, Any]:
    """diffusers' ``prepare_extra_step_kwargs`` (eta 0, the generators where the scheduler takes them)."""
    accepted = set(inspect.signature(scheduler.step).parameters)
    kwargs: dict[str, Any] = {}
    if "eta" in accepted:
        kwargs["eta"] = 0.0
    if "generator" in accepted:
        kwargs["generator"] = generators
    return kwargs


def _round(value: int, multiple: int) -> int:
    return max(multiple, round(value / multiple) * multiple)

