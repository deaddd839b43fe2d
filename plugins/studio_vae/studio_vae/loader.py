"""The VAE family's loader and loaded model: sample pictures with a seed (``txt2img`` without a
prompt) and interpolate between two pictures in latent space (``interpolate``).

Runs on the worker (torch imported here). Sampling: a seeded CPU generator draws standard normal
noise, the sampling prior (fitted to the training pictures' latents) shapes it, the decoder draws.
Interpolation: both pictures are encoded to their latent means, the frames decode evenly spaced
points on the line between them (first frame = the model's picture of the first image). The
seed-per-picture job itself is :class:`SeededPictureModel`'s.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from studio.plugins import BadInput, ImageOutput, JobResult, LoadContext, Report, Request
from studio.plugins.devices import cpu_generator, resolve_device
from studio.plugins.seeded import SeededPictureModel, read_or_refuse
from studio_vae.network import SIDE, load_model
from studio_vae.recipe import to_image, to_tensor


def load(context: LoadContext) -> VaeModel:
    """The VAE in ``context.model.path``; a :class:`ModelError` when its files cannot be read."""
    folder = Path(context.model.path)
    network = read_or_refuse(folder, load_model, "VAE", "vae")
    return VaeModel(context.model.name, folder, network, resolve_device(context.device), SIDE)


class VaeModel(SeededPictureModel):
    """A loaded VAE: ``run`` draws samples (GenerationRequest) or interpolation frames."""

    label = "VAE"

    @torch.no_grad()
    def draw(self, seed: int, condition: Any):
        latent = self.network.sample_latent(cpu_generator(seed)).to(self.device)
        return to_image(self.network.decode(latent)[0])

    def run_other(self, request: Request, report: Report, cancelled: Any) -> JobResult:
        if request.kind == "interpolate":
            return self._interpolate(request, report)
        return super().run_other(request, report, cancelled)

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
