"""What plugin code implements and receives.

A plugin's ``loader`` is a callable ``load(context: LoadContext) -> LoadedModel``. A loaded model
runs requests with ``run(request, report, cancelled)`` and frees its memory with ``unload()``.
A plugin's ``trainer`` is a callable ``train(request: TrainRequest, report, cancelled) -> JobResult``
that runs the recipes its manifest lists. Its ``identify`` (optional) is a callable
``identify(path: Path) -> ModelEntry | None`` that tells whether a file or folder is one of its
models, reading only small files (it runs while the studio scans the user's folders).

**Families return, the studio writes.** ``run`` returns a :class:`JobResult` whose ``images`` are
:class:`ImageOutput` (the picture, the resolved request that makes exactly it, and what only the
family knows, such as the model's hash); text goes in ``text``, numbers in ``data``. The studio
writes the files with their metadata and indexes the gallery. The request a family receives is
already resolved: its ``seed`` is set (a batch uses ``seed``, ``seed + 1`` …).

``report(step, total, preview=None, message=None, *, text=None, metrics=None, notice=None)``
publishes, each as its own typed event (:mod:`studio.core.events`): progress (``step`` of ``total``
and a short status ``message``), a ``preview`` picture (PIL), a streamed ``text`` chunk, training
``metrics`` (a dict of numbers), a ``notice`` the user should read (a log line). It raises
:class:`JobCancelled` once the user has cancelled, and holds while the user has paused the job,
so a plugin that calls it every step obeys both within one step. ``cancelled()`` lets a plugin
poll too (e.g. to set diffusers' ``pipe._interrupt``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from studio.core.library import ModelEntry
from studio.core.requests import Request, TrainRequest
from studio.core.results import JobResult

API_VERSION = 1

Report = Callable[..., None]
Cancelled = Callable[[], bool]


@dataclass(frozen=True)
class LoadContext:
    """Everything a loader needs: the model found on disk and where/how to run it.

    ``cache_dir`` is the studio's cache folder (a family keeps derived files there, e.g. exports);
    ``options`` are the user's settings that concern loading (memory options, allowed pickles …)."""

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


Trainer = Callable[[TrainRequest, Report, Cancelled], JobResult]
Identify = Callable[[Path], "ModelEntry | None"]
