"""ONNX Runtime helpers for families that declare the ``onnx`` backend: providers, sessions and the
export cache.

Imports :mod:`studio.backends.onnx` (which loads onnxruntime when a session is made): only family
code imports this, on a worker, never the UI.
"""

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

__all__ = [
    "CPU_PROVIDER",
    "OPSET",
    "CacheProblem",
    "ExportCache",
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
