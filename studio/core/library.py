"""The model library: finds models on disk and tells what each is by its files, loading no weights.

Kinds recognised (plugins declare which kinds they handle in their manifest):
- ``diffusers``: a folder with ``model_index.json`` (its ``_class_name`` in ``details``);
- ``sd-checkpoint``: a single-file Stable Diffusion ``.safetensors`` (variant sd1, sd2 or sdxl);
- ``lora``: a LoRA ``.safetensors`` (diffusers/peft or kohya/A1111 key format);
- ``causal-lm``: a Hugging Face causal language-model folder (``config.json`` + weights);
- ``pickle-checkpoint``: ``.ckpt``/``.pt``/``.bin`` files, listed but refused unless opted in.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from studio.core.errors import ModelError
from studio.core.paths import DEMO_MODELS
from studio.core.safetensors_header import read_header, tensor_names

DEMO_NAMES = {"demo": "demo", "demo-text": "demo-text"}
PICKLE_SUFFIXES = {".ckpt", ".pt", ".pth", ".bin"}
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")
MAX_DEPTH = 4


@dataclass(frozen=True)
class ModelEntry:
    """A model found on disk."""

    name: str
    path: str
    kind: str
    source: str = "folder"  # folder | demo | hf-cache
    size_bytes: int = 0
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def hf_cache_dir() -> Path:
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]) / "hub"
    return Path.home() / ".cache" / "huggingface" / "hub"


def identify(path: str | Path, patterns: dict[str, tuple[str, ...]] | None = None) -> ModelEntry | None:
    """Tell what model ``path`` holds, or ``None`` if it is not one. Reads only small files.

    ``patterns`` maps plugin-declared model kinds to file-name globs: a file matching one, or a
    folder holding such a file, is a model of that kind.
    """
    path = Path(path)
    for kind, globs in (patterns or {}).items():
        if any(path.match(g) for g in globs) or (path.is_dir() and any(next(path.glob(g), None) for g in globs)):
            size = _folder_size(path) if path.is_dir() else path.stat().st_size
            return ModelEntry(path.stem if path.is_file() else path.name, str(path), kind, size_bytes=size)
    if path.is_dir():
        return _identify_folder(path)
    if path.is_file():
        return _identify_file(path)
    return None


def _folder_size(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += (Path(root) / name).stat().st_size
            except OSError:
                pass
    return total


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _identify_folder(path: Path) -> ModelEntry | None:
    index = _read_json(path / "model_index.json") if (path / "model_index.json").exists() else None
    if index is not None:
        details = {"pipeline": index.get("_class_name", ""), "components": sorted(
            k for k in index if not k.startswith("_")), **_native_settings(path)}
        return ModelEntry(path.name, str(path), "diffusers", size_bytes=_folder_size(path), details=details)
    config = _read_json(path / "config.json") if (path / "config.json").exists() else None
    if config is not None:
        architectures = config.get("architectures") or []
        is_lm = any(str(a).endswith(("ForCausalLM", "LMHeadModel")) for a in architectures)
        has_weights = any((path / w).exists() for w in WEIGHT_FILES) or any(path.glob("*.safetensors"))
        if is_lm and has_weights:
            has_tokenizer = any(
                (path / f).exists() for f in ("tokenizer.json", "tokenizer.model", "vocab.json")
            )
            details = {
                "architecture": architectures[0],
                "model_type": config.get("model_type", ""),
                "has_tokenizer": has_tokenizer,
            }
            return ModelEntry(path.name, str(path), "causal-lm", size_bytes=_folder_size(path), details=details)
    return None


def _native_settings(folder: Path) -> dict[str, Any]:
    """The image size a diffusers folder was trained at (UNet sample size × VAE factor) and the
    settings its author recommends in ``studio-defaults.json`` (steps, guidance, scheduler)."""
    out: dict[str, Any] = {}
    unet = _read_json(folder / "unet" / "config.json") or {}
    vae = _read_json(folder / "vae" / "config.json") or {}
    sample = unet.get("sample_size")
    if isinstance(sample, int) and vae.get("block_out_channels"):
        out["native_size"] = sample * 2 ** (len(vae["block_out_channels"]) - 1)
    recommended = _read_json(folder / "studio-defaults.json") if (folder / "studio-defaults.json").exists() else None
    if recommended:
        out["recommended"] = {k: recommended[k] for k in ("steps", "guidance", "scheduler") if k in recommended}
    return out


SINGLE_FILE_SIZES = {"sd1": 512, "sd2": 768, "sdxl": 1024}


def generation_defaults(entry: ModelEntry | None) -> dict[str, Any]:
    """Width, height, steps, guidance and scheduler that suit ``entry`` (its native size first)."""
    defaults: dict[str, Any] = {"width": 512, "height": 512, "steps": 25, "guidance": 7.0, "scheduler": "Euler a"}
    if entry is None:
        return defaults
    size = entry.details.get("native_size") or SINGLE_FILE_SIZES.get(entry.details.get("variant", ""))
    if size:
        defaults["width"] = defaults["height"] = int(size)
    defaults.update(entry.details.get("recommended", {}))
    return defaults


def _identify_file(path: Path) -> ModelEntry | None:
    suffix = path.suffix.lower()
    size = path.stat().st_size
    if suffix in PICKLE_SUFFIXES:
        if suffix == ".bin" and (path.parent / "config.json").exists():
            return None  # a weight file inside a model folder, not a checkpoint of its own
        return ModelEntry(path.stem, str(path), "pickle-checkpoint", size_bytes=size, details={"unsafe": True})
    if suffix != ".safetensors":
        return None
    try:
        names = tensor_names(read_header(path))
    except ModelError as exc:
        return ModelEntry(path.stem, str(path), "unreadable", size_bytes=size, details={"error": exc.message})
    if any("lora" in n for n in names[:2000]):
        fmt = "kohya" if any(n.startswith(("lora_unet_", "lora_te")) for n in names) else "diffusers"
        return ModelEntry(path.stem, str(path), "lora", size_bytes=size, details={"format": fmt})
    if any(n.startswith("model.diffusion_model.") for n in names):
        if any(n.startswith("conditioner.embedders.1") for n in names):
            variant = "sdxl"
        elif any(n.startswith("cond_stage_model.model.") for n in names):
            variant = "sd2"
        else:
            variant = "sd1"
        return ModelEntry(path.stem, str(path), "sd-checkpoint", size_bytes=size, details={"variant": variant})
    return None


@dataclass
class ModelLibrary:
    """Scans configured folders, the demo models and the Hugging Face cache."""

    folders: list[str] = field(default_factory=list)
    scan_hf_cache: bool = True
    include_demo: bool = True
    patterns: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def scan(self) -> list[ModelEntry]:
        entries: list[ModelEntry] = []
        if self.include_demo:
            entries.extend(self._demo_models())
        for folder in self.folders:
            entries.extend(self._scan_folder(Path(folder).expanduser(), 0))
        if self.scan_hf_cache:
            entries.extend(self._scan_hf_cache())
        return entries

    def resolve(self, name_or_path: str) -> ModelEntry:
        """Find a model by library name (``demo``), scanned name, or path; else :class:`ModelError`."""
        if name_or_path in DEMO_NAMES:
            entry = identify(DEMO_MODELS / DEMO_NAMES[name_or_path])
            if entry is None:
                raise ModelError(
                    f"The demo model '{name_or_path}' is not installed.",
                    "Rebuild it with 'studio train demo-image' / 'studio train demo-text'.",
                )
            return _renamed(entry, name_or_path, "demo")
        path = Path(name_or_path).expanduser()
        if path.exists():
            entry = identify(path, self.patterns)
            if entry is None:
                raise ModelError(
                    f"'{name_or_path}' is not a model the studio recognises.",
                    "Point to a diffusers folder, a .safetensors checkpoint or a language-model folder.",
                )
            if entry.kind == "unreadable":
                raise ModelError(entry.details["error"])
            return entry
        for entry in self.scan():
            if entry.name == name_or_path:
                return entry
        raise ModelError(f"No model named '{name_or_path}' was found.", "Run 'studio models list' to see them.")

    def _demo_models(self) -> list[ModelEntry]:
        found = []
        for name, folder in DEMO_NAMES.items():
            entry = identify(DEMO_MODELS / folder)
            if entry is not None:
                found.append(_renamed(entry, name, "demo"))
        return found

    def _scan_folder(self, folder: Path, depth: int) -> list[ModelEntry]:
        if depth > MAX_DEPTH or not folder.is_dir():
            return []
        entry = identify(folder, self.patterns)
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
                found.extend(self._scan_folder(child, depth + 1))
            elif (file_entry := identify(child, self.patterns)) is not None:
                found.append(file_entry)
        return found

    def _scan_hf_cache(self) -> list[ModelEntry]:
        cache = hf_cache_dir()
        found: list[ModelEntry] = []
        if not cache.is_dir():
            return found
        for repo in sorted(cache.glob("models--*")):
            snapshot = _hf_snapshot(repo)
            if snapshot is None:
                continue
            entry = identify(snapshot)
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
