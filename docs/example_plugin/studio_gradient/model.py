"""The gradient 'model': a folder holding gradient.json with two RGB colours."""

from __future__ import annotations

import json
import time
from pathlib import Path

from PIL import Image

from studio.core.errors import ModelError
from studio.core.imagemeta import save_png
from studio.core.paths import home_path
from studio.core.results import Artifact, JobResult
from studio.plugins import LoadContext


def load(context: LoadContext) -> GradientModel:
    """Called on a worker the first time a model of this family is used."""
    spec = json.loads((Path(context.model.path) / "gradient.json").read_text())
    try:
        top, bottom = (tuple(int(c) for c in spec[k]) for k in ("top", "bottom"))
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"gradient.json needs 'top' and 'bottom' RGB colours ({exc}).") from None
    return GradientModel(top, bottom, context.model.name)


class GradientModel:
    def __init__(self, top: tuple[int, ...], bottom: tuple[int, ...], name: str) -> None:
        self.top, self.bottom, self.name = top, bottom, name

    def run(self, request, report, cancelled) -> JobResult:
        image = Image.new("RGB", (request.width, request.height), (0, 0, 0))
        for step in range(request.steps):
            rows = range(step * request.height // request.steps, (step + 1) * request.height // request.steps)
            for y in rows:
                t = y / max(1, request.height - 1)
                color = tuple(round(a + (b - a) * t) for a, b in zip(self.top, self.bottom, strict=True))
                image.paste(color, (0, y, request.width, y + 1))
            time.sleep(request.guidance / 100)  # pretend each step is real work
            report(step + 1, request.steps, preview=image.copy())  # raises once cancelled
        path = home_path("gallery") / f"gradient-{time.time_ns()}.png"
        save_png(image, path, request, request.seed or 0, {"model_name": self.name})
        return JobResult(artifacts=(Artifact(str(path)),))

    def unload(self) -> None:
        pass
