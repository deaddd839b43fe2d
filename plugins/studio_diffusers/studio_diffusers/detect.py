"""Which files and folders are Stable Diffusion models: read while the studio scans, so light.

No torch, no diffusers: only small files are read (JSON configs, safetensors headers). Recognised:

- ``diffusers``: a folder with ``model_index.json`` (its ``_class_name`` is ``details["pipeline"]``);
- ``sd-checkpoint``: a single-file ``.safetensors`` checkpoint, ``details["variant"]`` sd1, sd2 or sdxl;
- ``lora``: a LoRA ``.safetensors``, ``details["format"]`` kohya (A1111) or diffusers (peft);
- ``pickle-checkpoint``: ``.ckpt``/``.pt``/``.pth``/``.bin`` files, listed but refused unless allowed;
- ``unreadable``: a ``.safetensors`` whose header cannot be read (``details["error"]`` says why).

``details["defaults"]`` holds the generation settings that suit a model: its native size (the UNet's
sample size × the VAE's scale factor for a folder, the variant's size for a single file) and what
the folder's author recommends in ``studio-defaults.json`` (steps, guidance, scheduler).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from studio.plugins import ModelEntry, ModelError, folder_size, read_header, read_json_dict, tensor_names

PICKLE_SUFFIXES = {".ckpt", ".pt", ".pth", ".bin"}
SINGLE_FILE_SIZES = {"sd1": 512, "sd2": 768, "sdxl": 1024}
RECOMMENDED_KEYS = ("steps", "guidance", "scheduler")


def identify(path: Path) -> ModelEntry | None:
    """The Stable Diffusion model (or LoRA) at ``path``, or ``None`` when it is none of ours."""
    path = Path(path)
    if path.is_dir():
        return _identify_folder(path)
    if path.is_file():
        return _identify_file(path)
    return None


def _identify_folder(path: Path) -> ModelEntry | None:
    if not (path / "model_index.json").is_file():
        return None
    index = read_json_dict(path / "model_index.json")
    if not index:
        return None
    details: dict[str, Any] = {
        "pipeline": index.get("_class_name", ""),
        "components": sorted(k for k in index if not k.startswith("_")),
    }
    defaults: dict[str, Any] = {}
    size = native_size(path)
    if size:
        details["native_size"] = size
        defaults["width"] = defaults["height"] = size
    recommended = read_json_dict(path / "studio-defaults.json")
    defaults.update({k: recommended[k] for k in RECOMMENDED_KEYS if k in recommended})
    if isinstance(recommended.get("lora"), dict):  # the author's fine-tuning recommendation (steps, lr …)
        defaults["lora"] = {k: v for k, v in recommended["lora"].items() if isinstance(v, int | float | str)}
    if defaults:
        details["defaults"] = defaults
    return ModelEntry(path.name, str(path), "diffusers", size_bytes=folder_size(path), details=details)


def native_size(folder: Path) -> int | None:
    """The image side a diffusers folder was trained at: UNet sample size × VAE scale factor."""
    unet = read_json_dict(folder / "unet" / "config.json")
    vae = read_json_dict(folder / "vae" / "config.json")
    sample = unet.get("sample_size")
    channels = vae.get("block_out_channels")
    if isinstance(sample, int) and isinstance(channels, list) and channels:
        return sample * 2 ** (len(channels) - 1)
    return None


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
        side = SINGLE_FILE_SIZES[variant]
        details = {"variant": variant, "defaults": {"width": side, "height": side}}
        return ModelEntry(path.stem, str(path), "sd-checkpoint", size_bytes=size, details=details)
    return None
