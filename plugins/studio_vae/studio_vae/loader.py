"""The VAE family's loader and loaded model: sample pictures with a seed (``txt2img`` without a
prompt) and interpolate between two pictures in latent space (``interpolate``).

Runs on the worker (torch imported here). Sampling: a seeded CPU generator draws standard normal
noise, the sampling prior (fitted to the training pictures' latents) shapes it, the decoder draws.
Interpolation: both pictures are encoded to their latent means, the frames decode evenly spaced
points on the line between them (first frame = the model's picture of the first image).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from studio.plugins import BadInput, ImageOutput, JobResult, LoadContext, ModelError, Report, Request, model_hash
from studio.plugins.devices import cpu_generator, resolve_device
from studio_vae.network import SIDE, load_model
from studio_vae.recipe import to_image, to_tensor


def load(context: LoadContext) -> VaeModel:
    """The VAE in ``context.model.path``; a :class:`ModelError` when its files cannot be read."""
    folder = Path(context.model.path)
    try:
        network = load_model(folder)
    except Exception as exc:  # a missing, truncated or foreign file: the model's problem, said as such
        raise ModelError(f"The VAE in {folder} cannot be read ({exc}).",
                         "Train it again with 'studio train vae --out FOLDER'.") from exc
    return VaeModel(context.model.name, folder, network, resolve_device(context.device))


class VaeModel:
    """A loaded VAE: ``run`` draws samples (GenerationRequest) or interpolation frames."""

    def __init__(self, name: str, folder: Path, network: Any, device: Any) -> None:
        self.name, self.folder = name, folder
        self.device = torch.device(device) if not isinstance(device, torch.device) else device
        self.network = network.to(self.device)
        self.memory_bytes = sum(p.numel() * p.element_size() for p in network.parameters())
        self._hash = ""

    def metadata(self) -> dict[str, Any]:
        if not self._hash:
            self._hash = model_hash(self.folder / "model.safetensors")
        return {"model_name": self.name, "model_hash": self._hash}

    def run(self, request: Request, report: Report, cancelled: Any) -> JobResult:
        if request.kind == "interpolate":
            return self._interpolate(request, report)
        if request.kind == "generate":
            return self._sample(request, report)
        raise BadInput(f"'{self.name}' cannot run a {request.kind} job.")

    @torch.no_grad()
    def _sample(self, request: Any, report: Report) -> JobResult:
        if request.prompt.strip():
            raise BadInput(f"'{self.name}' is a VAE: it draws from a seed, without a prompt.",
                           "Leave the prompt empty (no --prompt).")
        if (request.width, request.height) != (SIDE, SIDE):
            raise BadInput(f"'{self.name}' draws {SIDE}x{SIDE} pictures, not {request.width}x{request.height}.",
                           f"Use --width {SIDE} --height {SIDE} (its defaults).")
        outputs = []
        for index in range(request.batch):
            seed = request.seed + index
            latent = self.network.sample_latent(cpu_generator(seed)).to(self.device)
            image = to_image(self.network.decode(latent)[0])
            outputs.append(ImageOutput(image, request.replace(seed=seed), self.metadata()))
            report(index + 1, request.batch, preview=image)
        return JobResult(images=tuple(outputs))

    @torch.no_grad()
    def _interpolate(self, request: Any, report: Report) -> JobResult:
        from PIL import Image

        pictures = []
        for path in request.images:
            try:
                with Image.open(path) as image:
                    pictures.append(to_tensor(image))
            except OSError as exc:
                raise BadInput(f"'{path}' is not a readable picture ({exc}).") from exc
        means, _logvar = self.network.encode(torch.stack(pictures).to(self.device))
        outputs = []
        for index in range(request.frames):
            weight = index / (request.frames - 1)
            latent = means[0] * (1 - weight) + means[1] * weight
            image = to_image(self.network.decode(latent[None])[0])
            outputs.append(ImageOutput(image, request, {**self.metadata(), "frame": index, "weight": weight}))
            report(index + 1, request.frames, preview=image)
        return JobResult(images=tuple(outputs), data={"frames": request.frames})

    def unload(self) -> None:
        self.network = None
