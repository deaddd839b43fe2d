"""An example Studio plugin (see docs/plugins.md).

Importing the package does nothing: the studio reads ``studio-plugin.toml`` at discovery and imports
``studio_gradient.model`` only when a gradient model is first used.
"""
