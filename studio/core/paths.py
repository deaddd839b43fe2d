"""Where the studio keeps things: ``STUDIO_HOME`` (tests point it at a temp folder)."""

from __future__ import annotations

import os
from pathlib import Path

RESOURCES = Path(__file__).resolve().parents[2] / "resources"
DEMO_MODELS = RESOURCES / "models"


def studio_home() -> Path:
    """The studio's data folder: ``$STUDIO_HOME`` or the platform's user data folder."""
    env = os.environ.get("STUDIO_HOME")
    if env:
        home = Path(env).expanduser()
    else:
        import platformdirs

        home = Path(platformdirs.user_data_dir("Studio", "Studio"))
    home.mkdir(parents=True, exist_ok=True)
    return home


def home_path(*parts: str) -> Path:
    """A folder under ``STUDIO_HOME`` (gallery, drafts, runs, cache, plugins, logs), created."""
    path = studio_home().joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def log_file() -> Path:
    return home_path("logs") / "studio.log"
