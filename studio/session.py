"""The studio session: settings, model library, plugin registry, job queue and runner in one place.

The CLI, the tests and the UI all drive the studio through a :class:`StudioSession`. It imports
only the core, the plugin API and jobs (never Qt, never torch): plugin code arrives lazily.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from studio.core.errors import BadInput, CapabilityError, ModelError, PluginError, StudioError
from studio.core.hashing import files_signature
from studio.core.library import DEMO_NAMES, ModelEntry
from studio.core.logs import setup_logging
from studio.core.paths import existing_file, home_path
from studio.core.requests import GenerationRequest, Request, TrainRequest
from studio.core.results import JobResult
from studio.core.settings import Settings
from studio.core.weights_loading import loading_weights
from studio.jobs import JobListener, JobQueue, JobRunner
from studio.library_setup import library_for
from studio.outputs import open_gallery, recover_outputs, write_images
from studio.plugins import LoadContext, LoadedModel, PluginRecord, PluginRegistry

log = logging.getLogger("studio")


class ModelCache:
    """Loaded models, least recently used out first, within a count and a memory budget.

    Switching back to a model still in the cache is instant. A model may expose ``memory_bytes``
    (an int attribute) so the budget can be kept; the most recent model always stays. A model is
    kept with the signature of its files when it was loaded (:func:`files_signature`): when they
    have changed on disk since, it is unloaded first and loaded again. A loaded model may still
    read its files (diffusers maps safetensors weights and uses fp32 tensors where they lie), so a
    file rewritten in place must never be read through the old model: a shorter file would end
    the process with SIGBUS, a longer one give a mix of old and new weights.
    """

    def __init__(self, max_models: int = 3, budget_bytes: int = 0) -> None:
        self.max_models = max_models
        self.budget_bytes = budget_bytes
        self._models: OrderedDict[tuple[str, ...], LoadedModel] = OrderedDict()
        self._signatures: dict[tuple[str, ...], tuple] = {}
        self._lock = threading.Lock()
        self._loading: dict[tuple[str, ...], threading.Lock] = {}  # one load at a time per key

    def __contains__(self, key: tuple[str, ...]) -> bool:
        return key in self._models

    def get(self, key: tuple[str, ...], load: Callable[[], LoadedModel], signature: tuple = ()) -> LoadedModel:
        """The model under ``key``, loaded once: a second caller (a job behind the window's warm-up)
        waits for the load in progress and shares its model."""
        with self._lock:
            key_lock = self._loading.setdefault(key, threading.Lock())
        with key_lock:
            return self._get(key, load, signature)

    def _get(self, key: tuple[str, ...], load: Callable[[], LoadedModel], signature: tuple) -> LoadedModel:
        stale = None
        with self._lock:
            if key in self._models:
                if self._signatures.get(key, ()) == signature:
                    self._models.move_to_end(key)
                    return self._models[key]
                stale = self._models.pop(key)
                self._signatures.pop(key, None)
        if stale is not None:
            log.info("The files of %s changed on disk: loading it again.", key[1] if len(key) > 1 else key)
            stale.unload()
        model = load()
        with self._lock:
            self._models[key] = model
            self._signatures[key] = signature
            while len(self._models) > 1 and (
                len(self._models) > self.max_models or (self.budget_bytes and self.total_bytes() > self.budget_bytes)
            ):
                old_key, old = self._models.popitem(last=False)
                self._signatures.pop(old_key, None)
                old.unload()
        return model

    def total_bytes(self) -> int:
        return sum(int(getattr(model, "memory_bytes", 0) or 0) for model in self._models.values())

    def clear(self) -> None:
        with self._lock:
            self._signatures.clear()
            while self._models:
                _, model = self._models.popitem()
                model.unload()


def check_input_files(request: Request) -> None:
    """Refuse a generation whose init image, mask or LoRA files are missing, the wrong kind of path,
    not images or too large to decode (read from their headers), before any model loads."""
    if not isinstance(request, GenerationRequest):
        return
    from studio.core.imagemeta import check_image_file

    if request.init_image:
        check_image_file(request.init_image, "init image")
    if request.mask:
        check_image_file(request.mask, "mask")
    for lora in request.loras:
        check_lora_file(lora.path)
    for control in request.controls:
        check_image_file(control.image, "control image")
        if not Path(control.model).exists():
            raise BadInput(f"The ControlNet '{control.model}' does not exist.",
                           "Pass a ControlNet folder or .safetensors file.")
    if request.refiner and not Path(request.refiner).is_dir():
        raise BadInput(f"The refiner '{request.refiner}' is not a model folder.",
                       "Pass the folder of an SDXL refiner (diffusers format).")


def check_lora_file(path: str) -> None:
    """A LoRA is a readable ``.safetensors`` file whose header is a JSON object (read without torch);
    pickles are refused (they can run code when loaded)."""
    import json
    import struct

    file = existing_file(path, "LoRA file")
    if file.suffix.lower() != ".safetensors":
        raise ModelError(f"The LoRA '{file.name}' is not a .safetensors file.",
                         "Pickle files can run code when loaded; convert it to safetensors first.")
    size = file.stat().st_size
    try:
        with open(file, "rb") as handle:
            (length,) = struct.unpack("<Q", handle.read(8))
            if not 2 <= length <= min(size - 8, 100_000_000):
                raise ValueError("header length out of range")
            header = json.loads(handle.read(length))
        if not isinstance(header, dict):
            raise ValueError("header is not a JSON object")
    except (OSError, ValueError, struct.error, RecursionError) as exc:
        raise ModelError(f"The LoRA '{file.name}' is not a safetensors file ({exc}).",
                         "Is the file damaged or incomplete?") from None


def _check_backend(record: PluginRecord, backend: str) -> None:
    backends = record.manifest.backends  # type: ignore[union-attr]
    if backend not in backends:
        raise BadInput(f"'{record.id}' cannot run on the {backend} backend.",
                       f"Choose one of: {', '.join(backends)} (--backend, or Backend in Settings).")


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
        self.library = library_for(self.settings, self.registry)
        self.models = ModelCache(budget_bytes=int(self.settings.memory_budget_gb * 1e9))
        self.queue = JobQueue()
        self.gallery = open_gallery()  # a locked or read-only index: images are still made and noted
        recover_outputs(self.gallery)  # crash debris removed, images a crash left unindexed indexed
        self.runner = JobRunner(self.queue, self.execute, listener)
        self._entries: dict[str, tuple[tuple, ModelEntry]] = {}

    def close(self) -> None:
        self.runner.stop()
        self.models.clear()
        self.queue.close()
        self.gallery.close()

    # -- execution (runs on the worker) --------------------------------------------------
    def execute(self, request: Request, report: Callable[..., None], cancelled: Callable[[], bool]) -> JobResult:
        """Find the model and the plugin for ``request``, load it (cached) and run it; the images it
        returns are written and indexed here (:mod:`studio.outputs`)."""
        if request.kind == "export":  # a light job: no model, no plugin; the export package does it all
            return self._export(request, report, cancelled)
        if request.kind == "upscale":
            return self._upscale(request, report, cancelled)
        if request.kind in ("interpolate", "score"):  # frames / scores come back in the result for the caller
            model, record = self._loaded(request, report)
            with record.blamed_for(f"Running {request.kind} on {request.model}"):
                return model.run(request, report, cancelled)
        if isinstance(request, TrainRequest):
            return self._train(request, report, cancelled)
        if request.kind == "batch":  # every prompt × seed of a list, one picture at a time
            from studio.batch_render import render_batch

            return render_batch(self, request, report, cancelled)  # type: ignore[arg-type]
        check_input_files(request)
        model, record = self._loaded(request, report)
        with record.blamed_for(f"Running {request.kind} on {request.model}"):
            result = model.run(request, report, cancelled)
        return write_images(result, self.gallery, report, root=self.settings.output_folder)

    def _train(self, request: TrainRequest, report: Callable[..., None], cancelled: Callable[[], bool]) -> JobResult:
        """Run a training recipe with the trainer its plugin's manifest names (the run folder was
        chosen when the job was queued: :meth:`TrainRequest.resolved`). A recipe that trains on a
        model (``request.model``: fine-tuning) gets it found and described as a loader would, in
        ``context``."""
        record = self.registry.for_recipe(request.recipe)
        trainer = self.registry.load_callable(record, "trainer")
        request = request.resolved()  # type: ignore[assignment]
        if not request.model:
            with record.blamed_for(f"Training {request.recipe}"):
                result = trainer(request, report, cancelled)
            return write_images(result, self.gallery, root=self.settings.output_folder)
        entry, _signature = self._resolve(request.model)
        device = request.device if request.device != "auto" else self.settings.device
        context = LoadContext(model=entry, device=device, backend=request.backend, cache_dir=home_path("cache"),
                              options=self.settings.model_options())
        with record.blamed_for(f"Training {request.recipe} on {entry.name}"):
            result = trainer(request, report, cancelled, context=context)
        return write_images(result, self.gallery, root=self.settings.output_folder)


    def load_model(self, request: Request, report: Callable[..., None] | None = None) -> LoadedModel:
        """The loaded model (and plugin) for ``request``: from the cache, else loaded now."""
        return self._loaded(request, report)[0]

    def _loaded(self, request: Request,
                report: Callable[..., None] | None = None) -> tuple[LoadedModel, PluginRecord]:
        """:meth:`load_model` and the plugin whose code runs it (named in the Plugins dialog when it fails)."""
        entry, signature = self._resolve(request.model)
        capability = "train" if request.kind == "train" else request.capability
        record = self._family(entry, capability)
        _check_backend(record, request.backend)
        device = request.device if request.device != "auto" else self.settings.device
        options = self.settings.model_options()
        key = (record.id, entry.path, device, request.backend, repr(sorted(options.items())))
        if report is not None:
            report(0, 1, message=f"Loading {entry.name}…")
        model = self.models.get(key, lambda: self._load(record.id, entry, device, request.backend, options),
                                signature)
        return model, record

    def _family(self, entry: ModelEntry, capability: str) -> PluginRecord:
        """The plugin that runs ``capability`` on ``entry``; asking a model for what its family cannot
        do (an image from a language model, text from an image model) is a :class:`BadInput`."""
        try:
            return self.registry.for_model(entry.kind, capability)
        except PluginError as exc:
            if any(entry.kind in r.manifest.model_kinds for r in self.registry.usable()):  # type: ignore[union-attr]
                kind = {"text": "a language model", "score": "a scorer (e.g. demo-clip)"}.get(capability,
                                                                                          "an image model")
                raise CapabilityError(f"'{entry.name}' cannot do {capability}: {exc.message}",
                               f"Choose {kind} for this.") from None
            raise

    def check_backend(self, request: Request) -> None:
        """Raise :class:`BadInput` now (before queueing) when the family of ``request``'s model cannot do
        what it asks or does not declare the request's backend; a model that cannot be resolved is left
        for the job to report."""
        if request.kind in ("export", "train") or not getattr(request, "model", ""):
            return
        try:
            entry, _ = self._resolve(request.model)
            record = self._family(entry, request.capability)
        except CapabilityError:
            raise
        except StudioError:
            return
        _check_backend(record, request.backend)

    def check_request(self, request: Request) -> None:
        """Everything that can be refused before a job is queued and a model loads: the values
        (:meth:`Request.validate`), the input files, and that the model's family can run it."""
        request.validate()
        check_input_files(request)
        self.check_backend(request)

    def _resolve(self, name: str) -> tuple[ModelEntry, tuple]:
        """``library.resolve`` and the signature of the model's files (:func:`files_signature`). For
        demo names and paths the entry is remembered while that signature holds (identifying a folder
        reads its configs; a job should not pay that every time)."""
        if name not in DEMO_NAMES and not Path(name).expanduser().exists():
            entry = self.library.resolve(name)  # a scanned name: the library's folders decide
            return entry, files_signature(entry.path)
        cached = self._entries.get(name)
        if cached is not None and cached[0]:
            signature = files_signature(cached[1].path)
            if signature == cached[0]:
                return cached[1], signature
        entry = self.library.resolve(name)
        signature = files_signature(entry.path)
        self._entries[name] = (signature, entry)
        return entry, signature

    def _upscale(self, request: Request, report: Callable[..., None], cancelled: Callable[[], bool]) -> JobResult:
        """A light job without a diffusion model: the ``upscale`` function beside the loader of the first
        plugin offering the capability; the picture comes back in the result for the caller to write."""
        record = next((r for r in self.registry.usable() if "upscale" in r.manifest.capabilities), None)  # type: ignore[union-attr]
        if record is None:
            raise PluginError("No enabled plugin can upscale pictures.")
        upscale = self.registry.load_attribute(record, "loader", "upscale")
        return upscale(request, report, cancelled, self.settings.model_options())

    @staticmethod
    def _export(request: Request, report: Callable[..., None], cancelled: Callable[[], bool]) -> JobResult:
        from studio.export.batch import export_images  # Pillow/numpy, imported when first used

        return export_images(request, report, cancelled)  # type: ignore[arg-type]

    def _load(
        self, plugin_id: str, entry: ModelEntry, device: str, backend: str, options: dict[str, Any]
    ) -> LoadedModel:
        record = self.registry.get(plugin_id)
        loader = self.registry.load_callable(record, "loader")
        context = LoadContext(
            model=entry, device=device, backend=backend, cache_dir=home_path("cache"), options=options
        )
        try:
            with record.blamed_for(f"Loading {entry.name}"), loading_weights():
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

    # -- the ONNX export cache (Settings shows its size and clears it) ---------------------
    @staticmethod
    def onnx_cache_size() -> int:
        """Bytes the ONNX exports take under ``STUDIO_HOME/cache/onnx`` (no onnxruntime loaded)."""
        from studio.backends.onnx import cache_size

        return cache_size(home_path("cache"))

    @staticmethod
    def clear_onnx_cache() -> int:
        """Delete every ONNX export; the bytes freed. Models already loaded keep their sessions in
        memory (a running job is not disturbed); the next job that finds no export makes it again."""
        from studio.backends.onnx import clear_cache

        return clear_cache(home_path("cache"))
