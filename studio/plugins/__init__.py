"""The plugin API: manifests, discovery, the registry and the protocols a loaded model follows.

Imports only :mod:`studio.core`; plugin code is imported lazily, on a worker, when first used.
"""

from studio.plugins.api import API_VERSION, LoadContext, LoadedModel, Report
from studio.plugins.manifest import CAPABILITIES, Manifest, parse_manifest
from studio.plugins.registry import PluginRecord, PluginRegistry

__all__ = [
    "API_VERSION",
    "CAPABILITIES",
    "LoadContext",
    "LoadedModel",
    "Manifest",
    "PluginRecord",
    "PluginRegistry",
    "Report",
    "parse_manifest",
]
