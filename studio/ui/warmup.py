"""Warm the default model after the window's first paint, so the session's first image is quick.

On a worker thread (never the GUI thread), in two stages that each check for cancel:

1. imports: the family's loader module (for Stable Diffusion: torch and diffusers, seconds on a CPU);
2. the model itself, through the session's model cache (:meth:`StudioSession.load_model`) with the
   request the prompt panel would send, so the first job finds it loaded; only when memory allows
   (its files fit three times in the free memory, and within Settings' memory budget) and on the
   torch backend (an ONNX export is minutes of work nobody asked for).

A job that comes while the model is still loading waits for that load (the cache loads a key once).
:meth:`ModelWarmup.cancel` (at quit) stops it between stages and waits briefly for the thread.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from studio.core.errors import StudioError, describe
from studio.core.requests import GenerationRequest

if TYPE_CHECKING:
    from studio.session import StudioSession

log = logging.getLogger("studio.ui.warmup")
MEMORY_FACTOR = 3  # a model is loaded only when its files fit this many times in the free memory
CANCEL_WAIT_S = 2.0


def available_memory() -> int | None:
    """Bytes of memory the system can give now (Linux: MemAvailable), or None when unknown."""
    try:
        for line in Path("/proc/meminfo").read_text(encoding="ascii").splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def memory_allows(size_bytes: int, budget_bytes: int, free_bytes: int | None) -> bool:
    """Whether a model of ``size_bytes`` on disk may be loaded without being asked for."""
    if budget_bytes and size_bytes > budget_bytes:
        return False
    return free_bytes is None or size_bytes * MEMORY_FACTOR <= free_bytes


class ModelWarmup:
    """Imports the family of ``model`` and loads the model into ``session``'s cache, off the GUI thread.

    ``stage`` tells how far it got: ``idle`` → ``importing`` → ``loading`` → ``ready``, or ``imported``
    (memory or backend kept the model out), ``skipped`` (no image family for it), ``failed`` or
    ``cancelled``. ``on_done(stage)`` is called on the worker thread at the end."""

    def __init__(self, session: StudioSession, model: str, on_done: Callable[[str], None] | None = None,
                 free_memory: Callable[[], int | None] = available_memory) -> None:
        self.session = session
        self.model = model
        self.on_done = on_done
        self.free_memory = free_memory
        self.stage = "idle"
        self.error = ""
        self._cancelled = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None and self.model:
            self._thread = threading.Thread(target=self._run, name="studio-warmup", daemon=True)
            self._thread.start()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the warm-up to end; True when it has."""
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    def cancel(self, wait_s: float = CANCEL_WAIT_S) -> None:
        """Stop at the next stage boundary; wait up to ``wait_s`` for an import or load in progress."""
        self._cancelled.set()
        self.wait(wait_s)

    def request(self) -> GenerationRequest:
        """The request whose model the first job will ask for (same device, backend and options)."""
        settings = self.session.settings
        return GenerationRequest(model=self.model, prompt="warm-up", backend=settings.backend,
                                 device=settings.device)

    def _run(self) -> None:
        try:
            self.stage = self._warm()
        except StudioError as exc:  # the job will say it again, where the user looks
            self.stage, self.error = "failed", exc.user_text()
            log.info("Warm-up of %s stopped: %s", self.model, self.error)
        except Exception as exc:  # never let a warm-up take the window down
            self.stage, self.error = "failed", describe(exc)
            log.warning("Warm-up of %s failed", self.model, exc_info=True)
        if self.on_done is not None:
            self.on_done(self.stage)

    def _warm(self) -> str:
        request = self.request()
        entry = self.session.library.resolve(request.model)
        registry = self.session.registry
        try:
            record = registry.for_model(entry.kind, request.capability)
        except StudioError:
            return "skipped"  # not an image model (a text model as the default, say)
        if self._cancelled.is_set():
            return "cancelled"
        self.stage = "importing"
        registry.load_callable(record, "loader")
        settings = self.session.settings
        budget = int(settings.memory_budget_gb * 1e9)
        if request.backend != "torch" or not memory_allows(entry.size_bytes, budget, self.free_memory()):
            log.info("Warm-up imported the %s family; %s stays on disk until a job needs it.", record.id, entry.name)
            return "imported"
        if self._cancelled.is_set():
            return "cancelled"
        self.stage = "loading"
        self.session.load_model(request)
        log.info("Warm-up loaded %s.", entry.name)
        return "ready" if not self._cancelled.is_set() else "cancelled"
