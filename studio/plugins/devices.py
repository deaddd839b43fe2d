"""Device helpers for torch families: which device, which dtype, seeded generators.

Imports torch (through :mod:`studio.backends.torch_device`): only family code imports this, on a
worker, never the UI.
"""

from studio.backends.torch_device import cpu_generator, default_dtype, resolve_device

__all__ = ["cpu_generator", "default_dtype", "resolve_device"]
