"""Qt-free, torch-free core: requests, results, errors, settings, storage, model library.

Importing this package must stay fast and light: the standard library and platformdirs only.
"""

from studio.core.errors import BadInput, ModelError, PluginError, StudioError
from studio.core.requests import (
    SCHEMA_VERSION,
    ExportRequest,
    GenerationRequest,
    LoraRef,
    TextRequest,
    TrainRequest,
    request_from_dict,
    request_from_json,
)
from studio.core.results import Artifact, JobResult

__all__ = [
    "SCHEMA_VERSION",
    "Artifact",
    "BadInput",
    "ExportRequest",
    "GenerationRequest",
    "JobResult",
    "LoraRef",
    "ModelError",
    "PluginError",
    "StudioError",
    "TextRequest",
    "TrainRequest",
    "request_from_dict",
    "request_from_json",
]
