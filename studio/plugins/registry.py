"""Plugin discovery and the registry: a broken plugin becomes an error record, never a crash.

Sources: the ``studio.plugins`` entry-point group (value: the plugin's top-level package), the
folders in ``STUDIO_PLUGINS_PATH`` and the user's ``STUDIO_HOME/plugins`` folder (each child
folder holding a ``studio-plugin.toml`` is a plugin package). Discovery reads manifests only.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import sys
import threading
import traceback
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from studio.core.collector import collector_paused
from studio.core.errors import PluginError, StudioError
from studio.core.library import ModelEntry, glob_identifier
from studio.core.paths import home_path
from studio.plugins.manifest import MANIFEST_NAME, Manifest, read_manifest

log = logging.getLogger("studio.plugins")

ENTRY_POINT_GROUP = "studio.plugins"
FIRST_PARTY_MODULES = frozenset({"studio_diffusers", "studio_transformers", "studio_lstm", "studio_vae", "studio_gan",
                                 "studio_clip"})
#: Where the studio itself is installed: the repository root, a site-packages folder or the bundle.
STUDIO_ROOT = Path(__file__).resolve().parents[2]


def shipped_with_the_studio(module: str, folder: Path) -> bool:
    """A first-party family: one of ours by name *and* installed with the studio (beside its package,
    or in the repository's plugins folder). A copy of one installed elsewhere is a third-party plugin
    like any other (its code runs only once allowed), so a name alone earns no trust."""
    if module not in FIRST_PARTY_MODULES:
        return False
    try:
        where = folder.resolve()
    except OSError:
        return False
    return where.parent == STUDIO_ROOT or where.is_relative_to(STUDIO_ROOT / "plugins")


class PluginNotTrusted(PluginError):
    """A third-party plugin is used for the first time and the user has not allowed it yet."""

    exit_code = 2


@dataclass
class PluginRecord:
    """One discovered plugin: its manifest, or the error that kept it out."""

    module: str
    location: str
    source: str  # entry-point | path
    manifest: Manifest | None = None
    error: str = ""
    error_detail: str = ""
    enabled: bool = True
    first_party: bool = False
    #: The plugin's code raised while loading a model, running a job or training (the plugin is
    #: still usable; the Plugins dialog shows which one failed and how). Cleared by a later success.
    last_failure: str = ""
    last_failure_detail: str = ""

    @property
    def id(self) -> str:
        return self.manifest.id if self.manifest else self.module

    @property
    def ok(self) -> bool:
        return self.manifest is not None and not self.error

    def to_dict(self) -> dict[str, Any]:
        m = self.manifest
        return {
            "id": self.id,
            "name": m.name if m else self.module,
            "version": m.version if m else "",
            "capabilities": list(m.capabilities) if m else [],
            "backends": list(m.backends) if m else [],
            "model_kinds": list(m.model_kinds) if m else [],
            "recipes": list(m.recipes) if m else [],
            "source": self.source,
            "location": self.location,
            "first_party": self.first_party,
            "enabled": self.enabled,
            "error": self.error,
            "last_failure": self.last_failure,
        }

    @contextmanager
    def blamed_for(self, action: str) -> Iterator[None]:
        """Run the plugin's code for ``action`` ("Loading demo-vae"); an unexpected exception (not one
        of the studio's own, clear errors) is noted as :attr:`last_failure` and raised on."""
        try:
            yield
        except Exception as exc:
            if not isinstance(exc, StudioError):
                self.last_failure = f"{action} failed: {type(exc).__name__}: {exc}"
                self.last_failure_detail = traceback.format_exc()
            raise
        else:
            self.last_failure = self.last_failure_detail = ""


@dataclass
class PluginRegistry:
    """Knows every plugin, picks the one for a model and capability, imports code on demand."""

    use_entry_points: bool = True
    paths: list[Path] = field(default_factory=list)
    disabled: set[str] = field(default_factory=set)
    trusted: set[str] = field(default_factory=set)
    records: list[PluginRecord] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.paths = [Path(p) for p in self.paths]

    @classmethod
    def from_environment(cls, disabled: Iterable[str] = (), trusted: Iterable[str] = ()) -> PluginRegistry:
        """The registry a user's studio sees: entry points, ``STUDIO_PLUGINS_PATH``, user folder."""
        paths = [Path(p) for p in os.environ.get("STUDIO_PLUGINS_PATH", "").split(os.pathsep) if p]
        paths.append(home_path("plugins"))
        registry = cls(paths=paths, disabled=set(disabled), trusted=set(trusted))
        registry.discover()
        return registry

    def discover(self) -> list[PluginRecord]:
        records: list[PluginRecord] = []
        if self.use_entry_points:
            for ep in entry_points(group=ENTRY_POINT_GROUP):
                records.append(self._from_entry_point(ep.value, ep.name))
        for folder in self.paths:
            if not folder.is_dir():
                continue
            for child in sorted(folder.iterdir()):
                if (child / MANIFEST_NAME).is_file():
                    records.append(self._record(child.name, child, "path"))
        seen: dict[str, PluginRecord] = {}
        for record in records:
            if record.ok and record.id in seen and seen[record.id].ok:
                record.error = f"Plugin id '{record.id}' is already provided by {seen[record.id].location}."
            else:
                seen.setdefault(record.id, record)
            record.enabled = record.id not in self.disabled
        self.records = records
        return records

    def _from_entry_point(self, value: str, name: str) -> PluginRecord:
        module = value.split(":")[0].strip()
        try:
            spec = importlib.util.find_spec(module)
        except (ImportError, ValueError) as exc:
            spec = None
            error = f"cannot locate package '{module}': {exc}"
        else:
            error = f"package '{module}' is not installed"
        if spec is None or not spec.submodule_search_locations:
            return PluginRecord(module, name, "entry-point", error=f"Plugin '{name}': {error}.")
        folder = Path(next(iter(spec.submodule_search_locations)))
        return self._record(module, folder, "entry-point")

    def _record(self, module: str, folder: Path, source: str) -> PluginRecord:
        record = PluginRecord(module, str(folder), source, first_party=shipped_with_the_studio(module, folder))
        try:
            record.manifest = read_manifest(folder / MANIFEST_NAME)
        except PluginError as exc:
            record.error = exc.message
        if record.manifest and record.manifest.loader.split(".")[0].split(":")[0] != module:
            record.error = f"Plugin '{record.id}': its loader must live inside its own package '{module}'."
        return record

    # -- queries -------------------------------------------------------------------------
    def get(self, plugin_id: str) -> PluginRecord:
        for record in self.records:
            if record.id == plugin_id:
                return record
        raise PluginError(f"No plugin '{plugin_id}' is installed.", "Run 'studio plugins list'.")

    def usable(self) -> list[PluginRecord]:
        return [r for r in self.records if r.ok and r.enabled]

    def capabilities(self) -> set[str]:
        return {c for r in self.usable() for c in r.manifest.capabilities}  # type: ignore[union-attr]

    def model_file_patterns(self) -> dict[str, tuple[str, ...]]:
        """Model kinds that plugins recognise by file name (``model_files`` in their manifest)."""
        return {r.id: r.manifest.model_files for r in self.usable() if r.manifest.model_files}  # type: ignore[union-attr]

    def identifiers(self) -> list[Callable[[Path], ModelEntry | None]]:
        """What tells the model library what a file or folder is, in order: every usable plugin's
        ``model_files`` globs, then the ``identify`` code of first-party and trusted plugins (an
        untrusted plugin's code never runs before the user allows it). Code that fails to import
        becomes its record's error and is left out; code that raises on a path is logged and
        answers ``None`` for it."""
        code: list[Callable[[Path], ModelEntry | None]] = []
        for record in self.usable():
            if not record.manifest.identify:  # type: ignore[union-attr]
                continue
            if not record.first_party and record.id not in self.trusted:
                continue
            try:
                code.append(_guarded(record.id, self.load_callable(record, "identify")))
            except StudioError as exc:
                log.warning("Plugin '%s' cannot identify models: %s", record.id, exc)
        globs = [
            glob_identifier(r.id, r.manifest.model_files)  # type: ignore[union-attr]
            for r in self.usable() if r.manifest.model_files  # type: ignore[union-attr]
        ]
        return globs + code

    def model_kinds(self, *capabilities: str) -> set[str]:
        """Model kinds some enabled plugin can do any of ``capabilities`` with (the UI's model lists)."""
        return {
            kind for r in self.usable() if set(capabilities) & set(r.manifest.capabilities)  # type: ignore[union-attr]
            for kind in r.manifest.model_kinds  # type: ignore[union-attr]
        }

    def recipes(self) -> dict[str, PluginRecord]:
        """Training recipe name → the enabled plugin whose trainer runs it."""
        found: dict[str, PluginRecord] = {}
        for record in self.usable():
            for name in record.manifest.recipes:  # type: ignore[union-attr]
                found.setdefault(name, record)
        return found

    def for_recipe(self, recipe: str) -> PluginRecord:
        """The enabled plugin that trains ``recipe``."""
        record = self.recipes().get(recipe)
        if record is None:
            known = ", ".join(sorted(self.recipes())) or "none"
            raise PluginError(f"No enabled plugin trains '{recipe}'.", f"Known recipes: {known}.")
        return record

    def for_model(self, model_kind: str, capability: str) -> PluginRecord:
        """The enabled plugin that handles models of ``model_kind`` with ``capability``."""
        kind_matches = [r for r in self.usable() if model_kind in r.manifest.model_kinds]  # type: ignore[union-attr]
        for record in kind_matches:
            if capability in record.manifest.capabilities:  # type: ignore[union-attr]
                return record
        if kind_matches:
            raise PluginError(
                f"Models of kind '{model_kind}' cannot do '{capability}'.",
                f"'{kind_matches[0].id}' offers: {', '.join(kind_matches[0].manifest.capabilities)}.",  # type: ignore[union-attr]
            )
        broken = [r for r in self.records if not r.ok]
        hint = " Some plugins failed to load: see 'studio plugins list'." if broken else ""
        raise PluginError(f"No enabled plugin handles models of kind '{model_kind}'.{hint}")

    # -- code --------------------------------------------------------------------------
    def load_callable(self, record: PluginRecord, attribute: str = "loader") -> Callable[..., Any]:
        """Import the plugin's ``loader`` (or ``trainer``); failures become the record's error."""
        if not record.ok:
            raise PluginError(f"Plugin '{record.id}' is broken: {record.error}")
        if not record.enabled:
            raise PluginError(f"Plugin '{record.id}' is disabled.", "Enable it in the Plugins dialog.")
        if not record.first_party and record.id not in self.trusted:
            raise PluginNotTrusted(
                f"Plugin '{record.id}' ({record.location}) has not been allowed to run yet.",
                f"Plugins are code: allow it in the Plugins dialog or with 'studio plugins trust {record.id}'.",
            )
        dotted = getattr(record.manifest, attribute)
        if not dotted:
            raise PluginError(f"Plugin '{record.id}' declares no {attribute}.")
        module_name, _, name = dotted.partition(":")
        with self._lock:
            if record.source == "path":
                parent = str(Path(record.location).parent)
                if parent not in sys.path:
                    sys.path.append(parent)
            try:
                with collector_paused():  # a full GC pass over a growing heap stalls the window (collector.py)
                    module = importlib.import_module(module_name)
                return getattr(module, name)
            except StudioError:
                raise
            except Exception as exc:  # plugin code is foreign: any error becomes a record
                record.error = f"Importing {dotted} failed: {type(exc).__name__}: {exc}"
                record.error_detail = traceback.format_exc()
                raise PluginError(f"Plugin '{record.id}' failed to import: {exc}") from exc

    def load_attribute(self, record: PluginRecord, attribute: str, name: str) -> Any:
        """``name`` from the module that holds the plugin's ``attribute`` (e.g. the ``add_arguments``
        beside its ``trainer``), imported as :meth:`load_callable` does; missing is a PluginError."""
        self.load_callable(record, attribute)
        module_name = getattr(record.manifest, attribute).partition(":")[0]
        try:
            return getattr(sys.modules[module_name], name)
        except (KeyError, AttributeError) as exc:
            raise PluginError(f"Plugin '{record.id}' has no '{name}' in {module_name}.") from exc


def _guarded(plugin_id: str, identify: Callable[[Path], ModelEntry | None]) -> Callable[[Path], ModelEntry | None]:
    """``identify`` that logs and answers ``None`` when the plugin's code raises on a path."""

    def guarded(path: Path) -> ModelEntry | None:
        try:
            return identify(path)
        except Exception as exc:  # plugin code is foreign: one odd file must not stop a scan
            log.warning("Plugin '%s' failed to identify %s: %s: %s", plugin_id, path, type(exc).__name__, exc)
            return None

    guarded.__qualname__ = f"identify[{plugin_id}]"
    return guarded
