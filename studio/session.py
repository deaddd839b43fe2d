"""The studio session: settings, model library, plugin registry, job queue and runner in one place.

The CLI, the tests and the UI all drive the studio through a :class:`StudioSession`. It imports
only the core, the plugin API and jobs (never Qt, never torch): plugin code arrives lazily.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from studio.core.errors import PluginError
from studio.core.gallery import Gallery
from studio.core.library import DEMO_NAMES, ModelEntry, ModelLibrary
from studio.core.logs import setup_logging
from studio.core.paths import home_path
from studio.core.requests import GenerationRequest, Request
from studio.core.results import Artifact, JobResult
from studio.core.settings import Settings
from studio.jobs import JobListener, JobQueue, JobRunner
from studio.plugins import LoadContext, LoadedModel, PluginRegistry

log = logging.getLogger("studio")


def _signature(path: str) -> tuple[int, ...]:
    try:
        stat = os.stat(path)
    except OSError:
        return ()
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns)


class ModelCache:
    """Loaded models, least recently used out first, within a count and a memory budget.

    Switching back to a model still in the cache is instant. A model may expose ``memory_bytes``
    (an int attribute) so the budget can be kept; the most recent model always stays.
    """

    def __init__(self, max_models: int = 3, budget_bytes: int = 0) -> None:
        self.max_models = max_models
        self.budget_bytes = budget_bytes
        self._models: OrderedDict[tuple[str, ...], LoadedModel] = OrderedDict()
        self._lock = threading.Lock()

    def __contains__(self, key: tuple[str, ...]) -> bool:
        return key in self._models

    def get(self, key: tuple[str, ...], load: Callable[[], LoadedModel]) -> LoadedModel:
        with self._lock:
            if key in self._models:
                self._models.move_to_end(key)
                return self._models[key]
        model = load()
        with self._lock:
            self._models[key] = model
            while len(self._models) > 1 and (
                len(self._models) > self.max_models or (self.budget_bytes and self.total_bytes() > self.budget_bytes)
            ):
                _, old = self._models.popitem(last=False)
                old.unload()
        return model

    def total_bytes(self) -> int:
        return sum(int(getattr(model, "memory_bytes", 0) or 0) for model in self._models.values())

    def clear(self) -> None:
        with self._lock:
            while self._models:
                _, model = self._models.popitem()
                model.unload()


class StudioSession:
    """One studio: what the window, a CLI command or a test works with."""

    def __init__(
        self,
        settings: Settings | None = None,
        registry: PluginRegistry | None = None,
        listener: JobListener | None = None,
    ) -> None:
        setup_logging()
        self.settings = settings or Settings.load()
        self.registry = registry or PluginRegistry.from_environment(
            self.settings.disabled_plugins, self.settings.trusted_plugins
        )
        self.library = ModelLibrary(
            list(self.settings.model_folders),
            self.settings.scan_hf_cache,
            patterns=self.registry.model_file_patterns(),
        )
        self.models = ModelCache(budget_bytes=int(self.settings.memory_budget_gb * 1e9))
        self.queue = JobQueue()
        self.gallery = Gallery()
        self.runner = JobRunner(self.queue, self.execute, listener)
        self._entries: dict[str, tuple[tuple[int, ...], ModelEntry]] = {}

    def close(self) -> None:
        self.runner.stop()
        self.models.clear()
        self.queue.close()
        self.gallery.close()

    # -- execution (runs on the worker) --------------------------------------------------
    def execute(self, request: Request, report: Callable[..., None], cancelled: Callable[[], bool]) -> JobResult:
        """Find the model and the plugin for ``request``, load it (cached) and run it."""
        if request.kind == "export":  # a light job: no model, no plugin; the export package does it all
            return self._export(request, report, cancelled)
        model = self.load_model(request, report)
        result = model.run(request, report, cancelled)
        if isinstance(request, GenerationRequest):
            result = self._add_to_gallery(request, result)
        return result

    def load_model(self, request: Request, report: Callable[..., None] | None = None) -> LoadedModel:
        """The loaded model (and plugin) for ``request``: from the cache, else loaded now."""
        entry = self._resolve(request.model)
        capability = "train" if request.kind == "train" else request.capability
        record = self.registry.for_model(entry.kind, capability)
        if request.backend not in record.manifest.backends:  # type: ignore[union-attr]
            raise PluginError(
                f"'{record.id}' cannot run on the {request.backend} backend.",
                f"Choose one of: {', '.join(record.manifest.backends)}.",  # type: ignore[union-attr]
            )
        device = request.device if request.device != "auto" else self.settings.device
        options = self.settings.model_options()
        key = (record.id, entry.path, device, request.backend, repr(sorted(options.items())))
        if report is not None:
            report(0, 1, message=f"Loading {entry.name}…")
        return self.models.get(key, lambda: self._load(record.id, entry, device, request.backend, options))

    def _resolve(self, name: str) -> ModelEntry:
        """``library.resolve``, remembered for demo names and paths while the path's stat is unchanged
        (identifying a folder walks it; a job should not pay that every time)."""
        if name not in DEMO_NAMES and not Path(name).expanduser().exists():
            return self.library.resolve(name)  # a scanned name: the library's folders decide
        cached = self._entries.get(name)
        if cached is not None and cached[0] and cached[0] == _signature(cached[1].path):
            return cached[1]
        entry = self.library.resolve(name)
        self._entries[name] = (_signature(entry.path), entry)
        return entry

    @staticmethod
    def _export(request: Request, report: Callable[..., None], cancelled: Callable[[], bool]) -> JobResult:
        from studio.export.batch import export_images  # Pillow/numpy, imported when first used

        return export_images(request, report, cancelled)  # type: ignore[arg-type]

    def _add_to_gallery(self, request: GenerationRequest, result: JobResult) -> JobResult:
        """Index every image of a generation in the gallery; artifacts gain their gallery id."""
        artifacts = []
        for artifact in result.artifacts:
            if artifact.kind == "image":
                item = self.gallery.add(artifact.path, request, artifact.metadata.get("seed"), artifact.metadata)
                artifact = Artifact(artifact.path, artifact.kind, {**artifact.metadata, "gallery_id": item.id})
            artifacts.append(artifact)
        return JobResult(tuple(artifacts), result.text, result.data)

    def _load(
        self, plugin_id: str, entry: ModelEntry, device: str, backend: str, options: dict[str, Any]
    ) -> LoadedModel:
        record = self.registry.get(plugin_id)
        loader = self.registry.load_callable(record, "loader")
        context = LoadContext(
            model=entry, device=device, backend=backend, cache_dir=home_path("cache"), options=options
        )
        try:
            return loader(context)
        except Exception as exc:
            if isinstance(exc, PluginError) or type(exc).__module__.startswith("studio"):
                raise
            raise PluginError(f"'{record.id}' could not load {entry.name}: {exc}") from exc

    def trust_plugin(self, plugin_id: str) -> None:
        self.registry.trusted.add(plugin_id)
        if plugin_id not in self.settings.trusted_plugins:
            self.settings.trusted_plugins.append(plugin_id)
            self.settings.save()

    def set_plugin_enabled(self, plugin_id: str, enabled: bool) -> None:
        record = self.registry.get(plugin_id)
        record.enabled = enabled
        disabled = set(self.settings.disabled_plugins)
        (disabled.discard if enabled else disabled.add)(plugin_id)
        self.registry.disabled = disabled
        self.settings.disabled_plugins = sorted(disabled)
        self.settings.save()

    def summary(self) -> dict[str, Any]:
        return {"plugins": [r.to_dict() for r in self.registry.records]}
