"""Typed job events: what a running job tells the studio, each kind its own type.

A family calls ``report(step, total, preview=…, message=…, text=…, metrics=…)`` (see
:mod:`studio.plugins.api`); the job runner turns each keyword into its own event and hands the events
to its listener (the CLI's progress line, the UI's per-job view-models). Nothing here imports
anything heavy: ``Preview.image`` is whatever image object the family made (a PIL image).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Progress:
    """How far the job is: ``step`` of ``total`` (``total`` 0: unknown), with a short status line."""

    step: int
    total: int
    message: str = ""


@dataclass(frozen=True)
class Preview:
    """An intermediate picture (a denoising step's latents, a training sample)."""

    step: int
    total: int
    image: Any


@dataclass(frozen=True)
class TextChunk:
    """A piece of streamed text, in order; ``tokens`` counts the tokens made so far."""

    text: str
    tokens: int = 0


@dataclass(frozen=True)
class Metric:
    """Numbers measured at a step (training loss, learning rate, it/s …)."""

    step: int
    total: int
    values: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class LogLine:
    """A line for the job's log: a notice the user should see, not a status."""

    text: str
    level: str = "info"


JobEvent = Progress | Preview | TextChunk | Metric | LogLine
