"""Single-file checkpoints (.safetensors from CivitAI, A1111, ComfyUI) loaded fully offline.

The component configs for each architecture ship in ``resources/configs/<variant>`` (no weights);
CLIP's tokenizer ships in ``resources/configs/clip_tokenizer``. Pickle files (.ckpt/.pt/.bin) are
refused unless the user opted in for that very file, and are then read with ``weights_only=True``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline
from transformers import CLIPTokenizer

from studio.plugins import RESOURCES, ModelEntry, ModelError

CONFIGS = RESOURCES / "configs"


def load_single_file(entry: ModelEntry, dtype: torch.dtype, config_folder: str | None = None):
    """Build a pipeline from one checkpoint file with the shipped (or given) component configs."""
    variant = entry.details.get("variant", "sd1")
    folder = Path(config_folder) if config_folder else CONFIGS / variant
    if not (folder / "model_index.json").is_file():
        raise ModelError(f"No component configs for '{variant}' checkpoints in {folder}.")
    pad = "!" if variant in ("sd2", "sdxl") else "<|endoftext|>"
    components = {"tokenizer": CLIPTokenizer.from_pretrained(CONFIGS / "clip_tokenizer", pad_token=pad)}
    pipeline_class = StableDiffusionPipeline
    if variant == "sdxl":
        pipeline_class = StableDiffusionXLPipeline
        components = {
            "tokenizer": CLIPTokenizer.from_pretrained(CONFIGS / "clip_tokenizer"),
            "tokenizer_2": CLIPTokenizer.from_pretrained(CONFIGS / "clip_tokenizer", pad_token="!"),
        }
    else:
        components.update(safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    try:
        return pipeline_class.from_single_file(
            entry.path, config=str(folder), local_files_only=True, dtype=dtype, **components
        )
    except Exception as exc:  # diffusers raises many types for a file it cannot read
        raise ModelError(
            f"'{entry.name}' could not be loaded as a {variant.upper()} checkpoint: {exc}",
            "The file may be incomplete or of another architecture.",
        ) from None


def refuse_pickle(entry: ModelEntry, allowed: list[str]) -> None:
    """Pickle checkpoints can run code when opened: refuse unless this file was allowed."""
    if str(Path(entry.path).resolve()) not in {str(Path(p).resolve()) for p in allowed}:
        raise ModelError(
            f"'{Path(entry.path).name}' is a pickle checkpoint, which can run hidden code when opened.",
            "Prefer a .safetensors version of this model. If you trust the file, allow it in Settings → "
            "Models → 'Allow pickle files'; it is then read with torch's weights-only loader.",
        )
