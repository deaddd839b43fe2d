"""The GAN family's loader and loaded model: sample pictures with a seed (``txt2img``; a prompt only
for a conditional GAN, naming some of its labels).

Runs on the worker (torch imported here). A seeded CPU generator draws the noise vector (so a seed
gives the same picture on every device); the saved generator (the running average of the trained
one's weights) draws the picture. The seed-per-picture job itself is :class:`SeededPictureModel`'s.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from studio.plugins import BadInput, LoadContext
from studio.plugins.devices import cpu_generator, resolve_device
from studio.plugins.seeded import SeededPictureModel, read_or_refuse
from studio_gan.labels import named_values
from studio_gan.network import SIDE, load_generator
from studio_gan.recipe import to_image


def load(context: LoadContext) -> GanModel:
    """The GAN in ``context.model.path``; a :class:`ModelError` when its files cannot be read."""
    folder = Path(context.model.path)
    generator = read_or_refuse(folder, load_generator, "GAN", "gan")
    return GanModel(context.model.name, folder, generator, resolve_device(context.device), SIDE)


class GanModel(SeededPictureModel):
    """A loaded GAN generator: ``run`` draws one picture per seed (GenerationRequest)."""

    label = "GAN"

    @torch.no_grad()
    def draw(self, seed: int, condition: Any):
        noise, labels = self.network.draw(1, cpu_generator(seed), condition)
        return to_image(self.network.pictures(noise.to(self.device), labels)[0])

    def condition(self, prompt: str) -> torch.Tensor | None:
        """The label combinations a conditional GAN may draw for ``prompt`` (None: any); a prompt
        for an unconditional GAN is refused."""
        factors = self.network.config.labels
        if not prompt or not factors:
            return super().condition(prompt)
        named = named_values(prompt, factors)
        table = self.network.label_table
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
