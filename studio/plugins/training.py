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

from studio.core.requests import TrainRequest
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
    "latest_checkpoint",
    "list_checkpoints",
    "read_metrics",
    "recipe_settings",
    "shapes",
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
