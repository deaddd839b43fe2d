"""Headless training: the generic engine, data sets and errors (Qt-free). Recipes live in the
families' plugins (their manifest's ``trainer``) and reach the engine through :mod:`studio.plugins.training`.

Importing this package is light; ``studio.training.engine`` (torch, accelerate) loads on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from studio.training.errors import CheckpointError, DatasetError, TrainingError

if TYPE_CHECKING:  # pragma: no cover
    from studio.training.engine import TrainConfig, Trainer, TrainingTask, TrainResult, train

__all__ = [
    "CheckpointError",
    "DatasetError",
    "TrainConfig",
    "TrainResult",
    "Trainer",
    "TrainingError",
    "TrainingTask",
    "train",
]

_LAZY = {"TrainConfig", "Trainer", "TrainingTask", "TrainResult", "train"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from studio.training import engine

        return getattr(engine, name)
    raise AttributeError(name)
