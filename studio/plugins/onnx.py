"""ONNX Runtime helpers for families that declare the ``onnx`` backend: providers, sessions, the
export cache, and :class:`ModelExports`, the steps every ONNX family takes per loaded model (the
cache entry found or exported and timed, the provider notice told once).

Imports :mod:`studio.backends.onnx` (which loads onnxruntime when a session is made): only family
code imports this, on a worker, never the UI.
"""

from __future__ import annotations

import gc
import logging
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from studio.backends.onnx import (
    CPU_PROVIDER,
    OPSET,
    CacheProblem,
    ExportCache,
    ProviderChoice,
    cache_key,
    cache_root,
    cache_size,
    choose_providers,
    clear_cache,
    create_session,
    folder_identity,
    ort_version,
    provider_name,
    working_providers,
)
from studio.plugins.api import LoadContext, Report

__all__ = [
    "CPU_PROVIDER",
    "OPSET",
    "CacheProblem",
    "ExportCache",
    "ModelExports",
    "ProviderChoice",
    "cache_key",
    "cache_root",
    "cache_size",
    "choose_providers",
    "clear_cache",
    "create_session",
    "folder_identity",
    "ort_version",
    "provider_name",
    "working_providers",
]

log = logging.getLogger("studio.onnx")

TorchModel = TypeVar("TorchModel")


class ModelExports:
    """One loaded model's ONNX exports: :meth:`folder` finds the cache entry for a key (checked) or
    exports it, timing the export; :meth:`provider_notice` tells the provider notice once."""

    def __init__(self, name: str, cache: ExportCache, choice: ProviderChoice) -> None:
        self.name = name
        self.cache = cache
        self.choice = choice
        self.last_export_seconds: float | None = None  # None when the last lookup reused the cache
        self._told_provider = False

    @classmethod
    def for_context(cls, context: LoadContext) -> ModelExports:
        """The exports of the context's model: in the studio's cache folder (a temporary one when the
        context has none), on the providers its device allows."""
        cache_dir = Path(context.cache_dir) if context.cache_dir else Path(tempfile.gettempdir()) / "studio-cache"
        return cls(context.model.name, ExportCache(cache_dir), choose_providers(context.device))

    def provider_notice(self) -> str:
        """The provider choice's notice (logged as a warning) the first time it is asked for; "" after,
        and when there is none."""
        if self._told_provider or not self.choice.notice:
            return ""
        self._told_provider = True
        log.warning(self.choice.notice)
        return self.choice.notice

    def folder(self, key: str, report: Report, *, release: Callable[[], None], load: Callable[[], TorchModel],
               write: Callable[[TorchModel, Path], dict[str, Any]]) -> Path:
        """The cache entry for ``key`` when it is there and whole; otherwise (none, or a damaged one,
        which is told) an export: ``release()`` frees the sessions in use, ``load()`` gives the
        torch model, ``write(model, folder)`` exports it into the new entry and returns its meta."""
        folder = self.cache.usable(key, self.name, report)
        if folder is not None:
            self.last_export_seconds = None
            return folder
        release()
        return self._export(key, report, load, write)

    def _export(self, key: str, report: Report, load: Callable[[], TorchModel],
                write: Callable[[TorchModel, Path], dict[str, Any]]) -> Path:
        started = time.monotonic()
        report(0, 1, message=f"Loading '{self.name}' to export it to ONNX…")
        model = load()
        try:
            folder = self.cache.build(key, lambda target: write(model, target))
        finally:
            model = None  # the torch weights go before the ONNX sessions load
            gc.collect()
        self.last_export_seconds = time.monotonic() - started
        log.info("Exported '%s' to ONNX in %.1f s (%s)", self.name, self.last_export_seconds, folder)
        return folder
