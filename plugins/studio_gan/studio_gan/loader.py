"""The GAN family's loader and loaded model: sample pictures with a seed (``txt2img``; a prompt only
for a conditional GAN, naming some of its labels).

Runs on the worker (torch imported here). A seeded CPU generator draws the noise vector (so a seed
gives the same picture on every device); the saved generator (the running average of the trained
one's weights) draws the picture.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from studio.plugins import BadInput, ImageOutput, JobResult, LoadContext, ModelError, Report, Request, model_hash
from studio.plugins.devices import cpu_generator, resolve_device
from studio_gan.labels import named_values
from studio_gan.network import SIDE, load_generator
from studio_gan.recipe import to_image


def load(context: LoadContext) -> GanModel:
    """The GAN in ``context.model.path``; a :class:`ModelError` when its files cannot be read."""
    folder = Path(context.model.path)
    try:
        generator = load_generator(folder)
    except Exception as exc:  # a missing, truncated or foreign file: the model's problem, said as such
        raise ModelError(f"The GAN in {folder} cannot be read ({exc}).",
                         "Train it again with 'studio train gan --out FOLDER'.") from exc
    return GanModel(context.model.name, folder, generator, resolve_device(context.device))


class GanModel:
    """A loaded GAN generator: ``run`` draws one picture per seed (GenerationRequest)."""

    def __init__(self, name: str, folder: Path, generator: Any, device: Any) -> None:
        self.name, self.folder = name, folder
        self.device = torch.device(device) if not isinstance(device, torch.device) else device
        self.generator = generator.to(self.device)
        self.memory_bytes = sum(p.numel() * p.element_size() for p in generator.parameters())
        self._hash = ""

    def metadata(self) -> dict[str, Any]:
        if not self._hash:
            self._hash = model_hash(self.folder / "model.safetensors")
        return {"model_name": self.name, "model_hash": self._hash}

    def run(self, request: Request, report: Report, cancelled: Any) -> JobResult:
        if request.kind != "generate":
            raise BadInput(f"'{self.name}' cannot run a {request.kind} job.")
        return self._sample(request, report, cancelled)

    @torch.no_grad()
    def _sample(self, request: Any, report: Report, cancelled: Any) -> JobResult:
        rows = self._rows(request.prompt.strip())
        if (request.width, request.height) != (SIDE, SIDE):
            raise BadInput(f"'{self.name}' draws {SIDE}x{SIDE} pictures, not {request.width}x{request.height}.",
                           f"Use --width {SIDE} --height {SIDE} (its defaults).")
        outputs = []
        for index in range(request.batch):
            if cancelled():
                break
            seed = request.seed + index
            noise, labels = self.generator.draw(1, cpu_generator(seed), rows)
            image = to_image(self.generator.pictures(noise.to(self.device), labels)[0])
            outputs.append(ImageOutput(image, request.replace(seed=seed), self.metadata()))
            report(index + 1, request.batch, preview=image)
        return JobResult(images=tuple(outputs))

    def _rows(self, prompt: str) -> torch.Tensor | None:
        """The label combinations a conditional GAN may draw for ``prompt`` (None: any); a prompt
        for an unconditional GAN is refused."""
        factors = self.generator.config.labels
        if not prompt:
            return None
        if not factors:
            raise BadInput(f"'{self.name}' is a GAN: it draws from a seed, without a prompt.",
                           "Leave the prompt empty (no --prompt).")
        named = named_values(prompt, factors)
        table = self.generator.label_table
        keep = torch.ones(len(table), dtype=torch.bool)
        for column, (name, values) in enumerate(factors):
            if name in named:
                keep &= table[:, column] == values.index(named[name])
        if not keep.any():
            said = ", ".join(f"{name} {value}" for name, value in named.items())
            raise BadInput(f"'{self.name}' never saw a picture with {said}.",
                           "It draws only the label combinations of its training pictures (a shape is never "
                           "on a background of its own colour; some captions are held out): name fewer labels "
                           "or change one.")
        return table[keep]

    def unload(self) -> None:
        self.generator = None
