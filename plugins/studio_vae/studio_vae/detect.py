"""Which folders are VAEs of this family: read while the studio scans, so light (no torch; only
``studio-vae.json`` is read).

A folder with a ``studio-vae.json`` whose ``family`` is ``studio-vae`` and a ``model.safetensors``
beside it is a ``vae``; its details say the latent size and the picture size it draws.
"""

from __future__ import annotations

from pathlib import Path

from studio.plugins import ModelEntry, folder_size
from studio.plugins.seeded import folder_config

CONFIG_NAME = "studio-vae.json"
FAMILY = "studio-vae"


def identify(path: Path) -> ModelEntry | None:
    """The VAE in folder ``path``, or ``None`` when it is not one."""
    path = Path(path)
    config = folder_config(path, CONFIG_NAME, FAMILY)
    if config is None:
        return None
    side = int(config.get("side", 64))
    details = {"latent_dim": config.get("latent_dim"), "side": side,
               "defaults": {"width": side, "height": side, "steps": 1},
               # what the prompt dock hides for it: a VAE draws from a seed alone
               "ignores": ["prompt", "negative_prompt", "steps", "guidance", "scheduler", "loras"]}
    return ModelEntry(path.name, str(path), "vae", size_bytes=folder_size(path), details=details)
