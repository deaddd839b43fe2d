"""Picture models drawn from a seed: what the GAN and VAE families (and any like them) share.

A family whose model is one folder — a ``studio-<family>.json`` config beside ``model.safetensors`` —
and whose pictures come from a seeded noise draw gets here:

- :func:`folder_config`: for ``identify``, the folder's config when the folder is one of the family's
  (light: reads one JSON file, no torch);
- :func:`read_or_refuse`: for ``load``, the network read from the folder, or one clear
  :class:`ModelError` naming the family and the command that trains it again;
- :class:`SeededPictureModel`: the loaded model — memory, metadata (name and file hash), ``run`` for
  ``generate`` jobs (the size checked, one picture per seed of the batch, a preview each, cancel between
  pictures), ``unload``. A family implements :meth:`SeededPictureModel.draw` (and, for a prompt or
  other job kinds, :meth:`~SeededPictureModel.condition` and :meth:`~SeededPictureModel.run_other`).

Nothing here imports torch: the family's ``draw`` does its tensor work (under ``torch.no_grad()``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from studio.core.errors import BadInput, ModelError
from studio.core.hashing import model_hash
from studio.core.requests import Request
from studio.core.results import ImageOutput, JobResult
from studio.core.storage import read_json_dict

WEIGHTS_NAME = "model.safetensors"


def folder_config(path: Path, config_name: str, family: str) -> dict[str, Any] | None:
    """The config of the ``family`` model in folder ``path`` (``config_name`` with ``"family": family``
    beside ``model.safetensors``), or ``None`` when the folder is not one."""
    path = Path(path)
    if not path.is_dir() or not (path / config_name).is_file() or not (path / WEIGHTS_NAME).is_file():
        return None
    config = read_json_dict(path / config_name)
    return config if config.get("family") == family else None


def read_or_refuse(folder: Path, read: Callable[[Path], Any], label: str, recipe: str) -> Any:
    """``read(folder)``; any failure (a missing, truncated or foreign file) becomes a :class:`ModelError`
    that names the model (``label``: "GAN", "VAE") and how to train it again (``studio train RECIPE``)."""
    try:
        return read(folder)
    except Exception as exc:  # the model's problem, said as such
        raise ModelError(f"The {label} in {folder} cannot be read ({exc}).",
                         f"Train it again with 'studio train {recipe} --out FOLDER'.") from exc


class SeededPictureModel:
    """A loaded picture model that draws one picture per seed (the batch takes seed, seed + 1, …)."""

    label = "model"  # the family's short name in messages: "GAN", "VAE"

    def __init__(self, name: str, folder: Path, network: Any, device: Any, side: int) -> None:
        self.name, self.folder, self.device, self.side = name, Path(folder), device, side
        self.network = network.to(device)
        self.memory_bytes = sum(p.numel() * p.element_size() for p in network.parameters())
        self._hash = ""

    def metadata(self) -> dict[str, Any]:
        if not self._hash:
            self._hash = model_hash(self.folder / WEIGHTS_NAME)
        return {"model_name": self.name, "model_hash": self._hash}

    def run(self, request: Request, report: Callable[..., None], cancelled: Callable[[], bool]) -> JobResult:
        if request.kind == "generate":
            return self.sample(request, report, cancelled)
        return self.run_other(request, report, cancelled)

    def run_other(self, request: Request, report: Callable[..., None], cancelled: Callable[[], bool]) -> JobResult:
        """Job kinds besides ``generate`` (a VAE's ``interpolate``); by default refused."""
        raise BadInput(f"'{self.name}' cannot run a {request.kind} job.")

    def condition(self, prompt: str) -> Any:
        """What ``prompt`` asks of every picture (a conditional GAN's labels); by default a prompt is
        refused: the model draws from a seed alone."""
        if prompt:
            raise BadInput(f"'{self.name}' is a {self.label}: it draws from a seed, without a prompt.",
                           "Leave the prompt empty (no --prompt).")
        return None

    def draw(self, seed: int, condition: Any) -> Any:
        """The picture (PIL) for ``seed``."""
        raise NotImplementedError

    def sample(self, request: Any, report: Callable[..., None], cancelled: Callable[[], bool]) -> JobResult:
        condition = self.condition(request.prompt.strip())
        side = self.side
        if (request.width, request.height) != (side, side):
            raise BadInput(f"'{self.name}' draws {side}x{side} pictures, not {request.width}x{request.height}.",
                           f"Use --width {side} --height {side} (its defaults).")
        outputs = []
        for index in range(request.batch):
            if cancelled():
                break
            seed = request.seed + index
            image = self.draw(seed, condition)
            outputs.append(ImageOutput(image, request.replace(seed=seed), self.metadata()))
            report(index + 1, request.batch, preview=image)
        return JobResult(images=tuple(outputs))

    def unload(self) -> None:
        self.network = None
