"""The plugin API: the only part of the studio a model family imports.

Light (no torch, no Qt): manifests, discovery, the registry, the protocols a family implements, and
what a family's code receives and returns — requests, results, errors, model entries and the
model-file helpers (hashing, atomic writes, safetensors headers, shipped configs). Two submodules
bring torch and are imported only by family code on a worker: :mod:`studio.plugins.devices` (device,
dtype, seeded generators) and :mod:`studio.plugins.training` (the training engine).
"""

from studio.core.collector import collector_paused
from studio.core.errors import BadInput, JobCancelled, ModelError, OutOfMemory, PluginError, StudioError
from studio.core.events import JobEvent, LogLine, Metric, Preview, Progress, TextChunk
from studio.core.hashing import BackgroundHash, file_key, files_signature, model_hash
from studio.core.library import ModelEntry, folder_size
from studio.core.paths import RESOURCES
from studio.core.requests import (
    MAX_SEED,
    MAX_SIDE,
    SCHEDULER_NAMES,
    GenerationRequest,
    LoraRef,
    Request,
    TextRequest,
    TrainRequest,
)
from studio.core.results import Artifact, ImageOutput, JobResult
from studio.core.safetensors_header import read_header, tensor_names
from studio.core.storage import atomic_write_bytes, atomic_write_text, read_json_dict, replaced_folder
from studio.core.weights_loading import loading_weights
from studio.plugins.api import API_VERSION, Cancelled, Identify, LoadContext, LoadedModel, Report, Trainer
from studio.plugins.manifest import CAPABILITIES, Manifest, parse_manifest
from studio.plugins.registry import PluginRecord, PluginRegistry

__all__ = [
    "API_VERSION",
    "CAPABILITIES",
    "MAX_SEED",
    "MAX_SIDE",
    "RESOURCES",
    "SCHEDULER_NAMES",
    "Artifact",
    "BackgroundHash",
    "BadInput",
    "Cancelled",
    "GenerationRequest",
    "Identify",
    "ImageOutput",
    "JobCancelled",
    "JobEvent",
    "JobResult",
    "LoadContext",
    "LoadedModel",
    "LogLine",
    "LoraRef",
    "Manifest",
    "Metric",
    "ModelEntry",
    "ModelError",
    "OutOfMemory",
    "PluginError",
    "PluginRecord",
    "PluginRegistry",
    "Preview",
    "Progress",
    "Report",
    "Request",
    "StudioError",
    "TextChunk",
    "TextRequest",
    "TrainRequest",
    "Trainer",
    "atomic_write_bytes",
    "atomic_write_text",
    "collector_paused",
    "file_key",
    "files_signature",
    "folder_size",
    "loading_weights",
    "model_hash",
    "parse_manifest",
    "read_header",
    "read_json_dict",
    "replaced_folder",
    "tensor_names",
]
