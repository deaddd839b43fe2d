"""The training engine and its data helpers, as a family's trainer uses them.

Imports torch and accelerate (through :mod:`studio.training`): only family code imports this, on
the worker that runs a training job.
"""

from studio.training import shapes
from studio.training.data import ImageCaptionFolder, export_shapes_folder
from studio.training.engine import (
    TrainConfig,
    Trainer,
    TrainingTask,
    TrainResult,
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
    "export_shapes_folder",
    "latest_checkpoint",
    "list_checkpoints",
    "read_metrics",
    "shapes",
]
