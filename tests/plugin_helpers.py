"""Helpers that write real plugin packages and model folders into temp folders for tests."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

EXAMPLE_PLUGIN = Path(__file__).resolve().parents[1] / "docs" / "example_plugin" / "studio_gradient"


def install_example_plugin(folder: Path) -> Path:
    """Copy the documented example plugin into ``folder`` (a plugins-path folder)."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copytree(EXAMPLE_PLUGIN, folder / "studio_gradient")
    return folder


def gradient_model(folder: Path, top=(250, 120, 40), bottom=(40, 20, 90)) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "gradient.json").write_text(json.dumps({"top": list(top), "bottom": list(bottom)}))
    return folder


def manifest_text(plugin_id: str, package: str, name: str | None = None, *,
                  model_kinds: tuple[str, ...] | None = None, model_files: tuple[str, ...] = (),
                  capabilities: tuple[str, ...] = ("txt2img",), version: str = "1.0") -> str:
    """A ``studio-plugin.toml`` for a test plugin whose loader is ``<package>.model:load``."""

    def toml_list(items: tuple[str, ...]) -> str:
        return "[" + ", ".join(f'"{i}"' for i in items) + "]"

    lines = [f'id = "{plugin_id}"', f'name = "{name or plugin_id}"', f'version = "{version}"',
             "api_version = 1", f"capabilities = {toml_list(capabilities)}", 'backends = ["torch"]',
             f"model_kinds = {toml_list(model_kinds or (plugin_id,))}"]
    if model_files:
        lines.append(f"model_files = {toml_list(model_files)}")
    lines.append(f'loader = "{package}.model:load"')
    return "\n".join(lines) + "\n"


def write_plugin(folder: Path, package: str, manifest: str, code: str = "") -> Path:
    """Write a plugin package ``package`` with the given manifest text and model code."""
    pkg = folder / package
    pkg.mkdir(parents=True, exist_ok=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "studio-plugin.toml").write_text(textwrap.dedent(manifest))
    if code:
        (pkg / "model.py").write_text(textwrap.dedent(code))
    return pkg


def first_party_registry():
    """A registry of the installed first-party plugins only (entry points, no plugin folders)."""
    from studio.plugins import PluginRegistry

    registry = PluginRegistry(paths=[])
    registry.discover()
    return registry


def identify(path: Path | str, registry=None):
    """What the studio takes ``path`` for, asking the installed first-party plugins (as a scan does)."""
    from studio.core.library import identify as library_identify

    return library_identify(path, (registry or first_party_registry()).identifiers())


def library(*folders: Path | str, registry=None, **options):
    """A :class:`ModelLibrary` over ``folders`` that identifies with ``registry`` (first-party by default)."""
    from studio.core.library import ModelLibrary

    return ModelLibrary([str(f) for f in folders], identifiers=(registry or first_party_registry()).identifiers,
                        **options)
