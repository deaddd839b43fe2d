"""The gradient 'model': a folder holding gradient.json with two RGB colours.

A complete family in one file. It imports :mod:`studio.plugins` and nothing else of the studio:
it *returns* its picture and the studio writes it (PNG with metadata, gallery, artifacts).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from PIL import Image

from studio.plugins import GenerationRequest, ImageOutput, JobResult, LoadContext, ModelError


def load(context: LoadContext) -> GradientModel:
    """Called on a worker the first time a model of this family is used."""
    try:
        spec = json.loads((Path(context.model.path) / "gradient.json").read_text(encoding="utf-8"))
        top, bottom = (tuple(int(c) for c in spec[k]) for k in ("top", "bottom"))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(
            f"{context.model.name}: gradient.json needs 'top' and 'bottom' RGB colours ({exc}).",
            'Write e.g. {"top": [250, 120, 40], "bottom": [40, 20, 90]}.',
        ) from None
    return GradientModel(top, bottom, context.model.name)


class GradientModel:
    """A loaded model: ``run`` makes one picture, ``unload`` frees memory (nothing to free here)."""

    def __init__(self, top: tuple[int, ...], bottom: tuple[int, ...], name: str) -> None:
        self.top, self.bottom, self.name = top, bottom, name

    def run(self, request: GenerationRequest, report, cancelled) -> JobResult:
        # The request is resolved: request.seed is already set (the studio drew it when the job
        # was queued). This family paints no noise, so it does not need it; a family that draws
        # noise seeds its generator with exactly request.seed and never picks one itself.
        width, height, steps = request.width, request.height, request.steps
        image = Image.new("RGB", (width, height), (0, 0, 0))
        for step in range(steps):
            for y in range(step * height // steps, (step + 1) * height // steps):
                t = y / max(1, height - 1)
                color = tuple(round(a + (b - a) * t) for a, b in zip(self.top, self.bottom, strict=True))
                image.paste(color, (0, y, width, y + 1))
            time.sleep(request.guidance / 100)  # pretend each step is real work
            # one progress event and one preview per step; raises JobCancelled once the user has
            # cancelled and holds here while the job is paused
            report(step + 1, steps, preview=image.copy())
        # Families return, the studio writes: the image, the request that makes exactly it, and
        # what only the family knows (it goes into the file beside the request).
        output = ImageOutput(image, request, {"model_name": self.name})
        return JobResult(images=(output,), data={"top": list(self.top), "bottom": list(self.bottom)})

    def unload(self) -> None:
        pass
