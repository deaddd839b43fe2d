"""Errors the training engine reports to a person (no torch import here)."""

from __future__ import annotations

from studio.core.errors import BadInput, StudioError


class TrainingError(StudioError):
    """A training run could not start, continue or finish."""


class DatasetError(BadInput, TrainingError):
    """The training data is missing, empty or unreadable; the message names the file or folder."""


class CheckpointError(TrainingError):
    """A checkpoint to resume from is missing or unreadable."""


class UnreadableCheckpoint(BadInput, CheckpointError):
    """A checkpoint to resume from is damaged or was tampered with (e.g. holds a pickle that would
    run code): the user's files, so a clear line and exit 2, never a traceback."""
