"""What plugin code implements and receives.

A plugin's ``loader`` is a callable ``load(context: LoadContext) -> LoadedModel``. A loaded model
runs requests with ``run(request, report, cancelled)`` and frees its memory with ``unload()``.

``report(step, total, preview=None, message=None)`` publishes progress (``preview`` is a PIL image
or ``None``); it raises :class:`studio.core.errors.JobCancelled` once the user has cancelled, so
a plugin that calls it every step stops within one step. ``cancelled()`` lets a plugin poll too
(e.g. to set diffusers' ``pipe._interrupt``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from studio.core.library import ModelEntry
from studio.core.requests import Request
from studio.core.results import JobResult

API_VERSION = 1

Report = Callable[..., None]
Cancelled = Callable[[], bool]


@dataclass(frozen=True)
class LoadContext:
    """Everything a loader needs: the model found on disk and where/how to run it."""

    model: ModelEntry
    device: str = "auto"
    backend: str = "torch"
    cache_dir: Path | None = None
    options: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class LoadedModel(Protocol):
    """A model in memory, ready to run requests."""

    def run(self, request: Request, report: Report, cancelled: Cancelled) -> JobResult: ...

    def unload(self) -> None: ...
