"""Which folders are GANs of this family: read while the studio scans, so light (no torch; only
``studio-gan.json`` is read).

A folder with a ``studio-gan.json`` whose ``family`` is ``studio-gan`` and a ``model.safetensors``
beside it is a ``gan``; its details say the noise size and the picture size it draws.
"""

from __future__ import annotations

from pathlib import Path

from studio.plugins import ModelEntry, folder_size
from studio.plugins.seeded import folder_config

CONFIG_NAME = "studio-gan.json"
FAMILY = "studio-gan"


def identify(path: Path) -> ModelEntry | None:
    """The GAN in folder ``path``, or ``None`` when it is not one."""
    path = Path(path)
    config = folder_config(path, CONFIG_NAME, FAMILY)
    if config is None:
        return None
    side = int(config.get("side", 64))
    conditional = bool(config.get("labels"))
    # what the prompt dock hides for it: a GAN draws from a seed (and, conditional, a prompt naming labels)
    ignores = ["negative_prompt", "steps", "guidance", "scheduler", "loras", *(() if conditional else ("prompt",))]
    details = {"latent_dim": config.get("latent_dim"), "side": side, "conditional": conditional,
               "defaults": {"width": side, "height": side, "steps": 1}, "ignores": ignores}
    return ModelEntry(path.name, str(path), "gan", size_bytes=folder_size(path), details=details)
