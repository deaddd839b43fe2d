"""The training engine and its data helpers, as a family's trainer uses them.

Imports torch and accelerate (through :mod:`studio.training`): only family code imports this, on
the worker that runs a training job.

:func:`recipe_settings` turns a :class:`TrainRequest` back into the options of a recipe, as the
recipe's own command-line parser defines them (``studio train RECIPE --flag …`` builds the request
the other way round: the request's fields carry run folder, steps, batch size, learning rate, seed
and resume; ``options`` every other flag).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from studio.core.errors import BadInput, JobCancelled
from studio.core.requests import TrainRequest
from studio.core.results import Artifact
from studio.training import shapes
from studio.training.data import ImageCaptionFolder, export_shapes_folder
from studio.training.engine import (
    TrainConfig,
    Trainer,
    TrainingTask,
    TrainResult,
    checkpoint_interval,
    latest_checkpoint,
    list_checkpoints,
    read_metrics,
)
from studio.training.errors import CheckpointError, DatasetError, TrainingError
from studio.training.pictures import folder_pictures, picture_image, picture_tensor
from studio.training.threads import torch_threads

__all__ = [
    "CheckpointError",
    "DatasetError",
    "ImageCaptionFolder",
    "TrainConfig",
    "TrainResult",
    "Trainer",
    "TrainingError",
    "TrainingTask",
    "checkpoint_interval",
    "export_shapes_folder",
    "folder_pictures",
    "latest_checkpoint",
    "list_checkpoints",
    "model_folders",
    "picture_image",
    "picture_tensor",
    "read_metrics",
    "recipe_settings",
    "shapes",
    "torch_threads",
    "trained_artifacts",
    "unless_done",
]

#: ``TrainRequest`` field → the ``argparse`` destination of the flag a recipe declares for it.
REQUEST_FIELDS = {"run_dir": "run_dir", "steps": "steps", "batch_size": "batch_size",
                  "learning_rate": "lr", "seed": "seed", "data": "data", "model": "model"}


def recipe_settings(request: TrainRequest,
                    add_arguments: Callable[[argparse.ArgumentParser], None]) -> argparse.Namespace:
    """The recipe's options for ``request``: its parser's defaults, then ``request.options``, then
    the request's own fields (those the recipe declares) and ``no_resume = not request.resume``."""
    parser = argparse.ArgumentParser(add_help=False)
    add_arguments(parser)
    settings = parser.parse_args([])
    known = vars(settings)
    for key, value in request.options.items():
        known[key] = value
    for field_name, dest in REQUEST_FIELDS.items():
        value = getattr(request, field_name)
        if dest in known and value not in ("", None):
            known[dest] = value
    known["no_resume"] = not request.resume
    return settings


# -- what every recipe's ``run`` does around its training -------------------------------------
def model_folders(args: argparse.Namespace, recipe: str) -> tuple[Path, Path]:
    """``(run folder, output folder)`` of a recipe's options: ``--run-dir`` is required (a clear
    :class:`BadInput` without it); ``--out`` defaults to ``RUN_DIR/model``, never a path relative to
    the current folder (from the repository root that was a shipped demo model)."""
    if not getattr(args, "run_dir", None):
        raise BadInput(f"The {recipe} recipe needs a run folder.", "Pass --run-dir DIR.")
    work = Path(args.run_dir)
    out = getattr(args, "out", None)
    return work, Path(out) if out else work / "model"


def unless_done(result: TrainResult, what: str = "Training") -> None:
    """Raise :class:`JobCancelled` when the user stopped the run (its checkpoint stays for a resume)."""
    if result.status != "done":
        raise JobCancelled(f"{what} stopped at step {result.step} of {result.total}; "
                           "run it again with the same run folder to resume.")


def trained_artifacts(out: Path, recipe: str, result: TrainResult,
                      **details: Any) -> tuple[Artifact, ...]:
    """The saved model (and the run's last checkpoint, when one was written) as job artifacts."""
    artifacts = [Artifact(str(out), "model", {"recipe": recipe, **details})]
    if result.checkpoint is not None:
        artifacts.append(Artifact(str(result.checkpoint), "checkpoint", {"step": result.step}))
    return tuple(artifacts)
