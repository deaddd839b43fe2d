"""The model library a user's studio sees: their folders and HF cache, identified by the plugins.

One place builds it, so the window (through :class:`studio.session.StudioSession`), ``studio models
list`` and ``studio generate``'s defaults recognise exactly the same models.
"""

from __future__ import annotations

from studio.core.library import ModelLibrary
from studio.core.settings import Settings
from studio.plugins import PluginRegistry


def library_for(
    settings: Settings | None = None,
    registry: PluginRegistry | None = None,
    *,
    scan_hf_cache: bool | None = None,
) -> ModelLibrary:
    """A :class:`ModelLibrary` over ``settings``' model folders whose identifiers are ``registry``'s
    (both default to the user's own); ``scan_hf_cache`` overrides the setting. The registry is asked
    for its identifiers at each scan, so a plugin enabled, disabled or allowed meanwhile counts."""
    settings = settings or Settings.load()
    if registry is None:
        registry = PluginRegistry.from_environment(settings.disabled_plugins, settings.trusted_plugins)
    return ModelLibrary(
        list(settings.model_folders),
        settings.scan_hf_cache if scan_hf_cache is None else scan_hf_cache,
        identifiers=registry.identifiers,  # asked at each scan: plugins enabled or allowed later count
    )
