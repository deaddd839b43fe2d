"""The model library: finds models on disk and asks the families what each is, loading no weights.

What a file or folder *is* is family knowledge: each plugin recognises its own models (its
``identify`` code, or the ``model_files`` globs of its manifest). The library only walks: the
configured folders, the demo models (``resources/models/*``) and the Hugging Face cache's
snapshots, and hands each path to its **identifiers** — callables ``path -> ModelEntry | None``,
tried in order, the first answer wins (the plugin registry builds them: ``identifiers()``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from studio.core.errors import ModelError
from studio.core.paths import DEMO_MODELS
from studio.core.requests import GenerationRequest

DEMO_NAMES = {"demo": "demo", "demo-text": "demo-text", "demo-vae": "demo-vae", "demo-lstm": "demo-lstm",
              "demo-clip": "demo-clip", "demo-gan": "demo-gan"}
MAX_DEPTH = 4


@dataclass(frozen=True)
class ModelEntry:
    """A model found on disk.

    ``details`` is what its family says about it; ``details["defaults"]`` holds the generation
    settings that suit it (any of width, height, steps, guidance, scheduler), ``details["ignores"]``
    those it does not use (any of prompt, negative_prompt, steps, guidance, scheduler, loras)."""

    name: str
    path: str
    kind: str
    source: str = "folder"  # folder | demo | hf-cache
    size_bytes: int = 0
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


Identifier = Callable[[Path], "ModelEntry | None"]


def hf_cache_dir() -> Path:
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]) / "hub"
    return Path.home() / ".cache" / "huggingface" / "hub"


def identify(path: str | Path, identifiers: Iterable[Identifier] = ()) -> ModelEntry | None:
    """Tell what model ``path`` holds, or ``None`` if no identifier claims it (the first answer wins)."""
    path = Path(path)
    if not path.exists():
        return None
    for identifier in identifiers:
        entry = identifier(path)
        if entry is not None:
            return entry
    return None


def glob_identifier(kind: str, globs: Sequence[str]) -> Identifier:
    """An identifier for a plugin without code: a file matching one of ``globs``, or a folder holding
    such a file, is a model of ``kind`` (a manifest's ``model_files``)."""
    globs = tuple(globs)

    def identify_by_name(path: Path) -> ModelEntry | None:
        if any(path.match(g) for g in globs) or (path.is_dir() and any(next(path.glob(g), None) for g in globs)):
            size = folder_size(path) if path.is_dir() else path.stat().st_size
            return ModelEntry(path.stem if path.is_file() else path.name, str(path), kind, size_bytes=size)
        return None

    identify_by_name.__qualname__ = f"glob_identifier({kind!r})"
    return identify_by_name


def folder_size(path: str | Path) -> int:
    """Bytes in every file under ``path`` (links followed, unreadable files skipped)."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += (Path(root) / name).stat().st_size
            except OSError:
                pass
    return total


def generation_defaults(entry: ModelEntry | None) -> dict[str, Any]:
    """Width, height, steps, guidance and scheduler that suit ``entry``: the request's own defaults
    overlaid with what its family found (``details["defaults"]``)."""
    return GenerationRequest.defaults_for(entry.details.get("defaults") if entry else None)


@dataclass
class ModelLibrary:
    """Scans configured folders, the demo models and the Hugging Face cache with ``identifiers``.

    ``identifiers`` is a list, or a callable returning one that is asked again at each scan and
    resolve (so a plugin the user enables or allows meanwhile takes part in the next scan)."""

    folders: list[str] = field(default_factory=list)
    scan_hf_cache: bool = True
    include_demo: bool = True
    identifiers: Sequence[Identifier] | Callable[[], Sequence[Identifier]] = field(default_factory=list)

    def current_identifiers(self) -> list[Identifier]:
        return list(self.identifiers() if callable(self.identifiers) else self.identifiers)

    def identify(self, path: str | Path) -> ModelEntry | None:
        return identify(path, self.current_identifiers())

    def scan(self) -> list[ModelEntry]:
        ids = self.current_identifiers()
        entries: list[ModelEntry] = []
        if self.include_demo:
            entries.extend(self._demo_models(ids))
        for folder in self.folders:
            entries.extend(self._scan_folder(Path(folder).expanduser(), 0, ids))
        if self.scan_hf_cache:
            entries.extend(self._scan_hf_cache(ids))
        return entries

    def resolve(self, name_or_path: str) -> ModelEntry:
        """Find a model by library name (``demo``), scanned name, or path; else :class:`ModelError`."""
        ids = self.current_identifiers()
        if name_or_path in DEMO_NAMES:
            entry = identify(DEMO_MODELS / DEMO_NAMES[name_or_path], ids)
            if entry is None:
                raise ModelError(
                    f"The demo model '{name_or_path}' is not installed.",
                    "Rebuild it with 'studio train demo-image' / 'studio train demo-text'.",
                )
            return _renamed(entry, name_or_path, "demo")
        path = Path(name_or_path).expanduser()
        if path.exists():
            entry = identify(path, ids)
            if entry is None:
                raise ModelError(
                    f"'{name_or_path}' is not a model the studio recognises.",
                    "Point to a diffusers folder, a .safetensors checkpoint or a language-model folder"
                    " (or a model of an installed plugin: see 'studio plugins list').",
                )
            if entry.kind == "unreadable":
                raise ModelError(entry.details.get("error") or f"'{name_or_path}' cannot be read.")
            return entry
        for entry in self.scan():
            if entry.name == name_or_path:
                return entry
        raise ModelError(f"No model named '{name_or_path}' was found.", "Run 'studio models list' to see them.")

    @staticmethod
    def _demo_models(ids: list[Identifier]) -> list[ModelEntry]:
        found = []
        for name, folder in DEMO_NAMES.items():
            entry = identify(DEMO_MODELS / folder, ids)
            if entry is not None:
                found.append(_renamed(entry, name, "demo"))
        return found

    def _scan_folder(self, folder: Path, depth: int, ids: list[Identifier]) -> list[ModelEntry]:
        if depth > MAX_DEPTH or not folder.is_dir():
            return []
        entry = identify(folder, ids)
        if entry is not None:
            return [entry]
        found: list[ModelEntry] = []
        try:
            children = sorted(folder.iterdir())
        except OSError:
            return []
        for child in children:
            if child.name.startswith("."):
                continue
            if child.is_dir():
                found.extend(self._scan_folder(child, depth + 1, ids))
            elif (file_entry := identify(child, ids)) is not None:
                found.append(file_entry)
        return found

    @staticmethod
    def _scan_hf_cache(ids: list[Identifier]) -> list[ModelEntry]:
        cache = hf_cache_dir()
        found: list[ModelEntry] = []
        if not cache.is_dir():
            return found
        for repo in sorted(cache.glob("models--*")):
            snapshot = _hf_snapshot(repo)
            if snapshot is None:
                continue
            entry = identify(snapshot, ids)
            if entry is not None:
                repo_id = repo.name.removeprefix("models--").replace("--", "/")
                found.append(_renamed(entry, repo_id, "hf-cache"))
        return found


def _hf_snapshot(repo: Path) -> Path | None:
    ref = repo / "refs" / "main"
    if ref.is_file():
        snapshot = repo / "snapshots" / ref.read_text().strip()
        if snapshot.is_dir():
            return snapshot
    snapshots = sorted((repo / "snapshots").glob("*"), key=lambda p: p.stat().st_mtime)
    return snapshots[-1] if snapshots else None


def _renamed(entry: ModelEntry, name: str, source: str) -> ModelEntry:
    return ModelEntry(name, entry.path, entry.kind, source, entry.size_bytes, entry.details)
