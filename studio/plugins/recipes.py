"""The flags every training recipe shares, for a family's ``add_arguments`` (light: no torch).

A recipe declares ``--data --out --run-dir --steps --batch-size --lr --seed`` with
:func:`add_run_arguments` and ``--threads --resume --no-resume`` with :func:`add_control_arguments`,
then its own flags; :func:`studio.plugins.training.recipe_settings` reads them back from a request.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from studio.core.errors import BadInput


def absolute_path(text: str) -> str:
    """A path flag, made absolute (the request is stored with the job and may run elsewhere later)."""
    return str(Path(text).expanduser().absolute())


def check_recipe(family: str, recipe: str, recipes: tuple[str, ...]) -> None:
    """Refuse a recipe name the family does not train."""
    if recipe not in recipes:
        raise BadInput(f"The {family} family has no training recipe '{recipe}'.", f"Its recipes: {', '.join(recipes)}.")


def add_run_arguments(p: argparse.ArgumentParser, recipe: str, *, data_help: str, steps: int, batch_size: int,
                      lr: float, steps_help: str = "optimiser steps", batch_help: str | None = None) -> None:
    """``--data --out --run-dir --steps --batch-size --lr --seed`` with the recipe's defaults."""
    p.add_argument("--data", type=absolute_path, default=None, help=data_help)
    p.add_argument("--out", type=absolute_path, default=None,
                   help="model folder to write (default: RUN_DIR/model, under STUDIO_HOME/runs)")
    p.add_argument("--run-dir", type=absolute_path, default=None,
                   help=f"checkpoints, samples and metrics, resumed if present (default: STUDIO_HOME/runs/{recipe})")
    p.add_argument("--steps", type=int, default=steps, help=steps_help)
    p.add_argument("--batch-size", type=int, default=batch_size, help=batch_help)
    p.add_argument("--lr", type=float, default=lr)
    p.add_argument("--seed", type=int, default=0)


def add_control_arguments(p: argparse.ArgumentParser, threads: int = 0) -> None:
    """``--threads --resume --no-resume``."""
    p.add_argument("--threads", type=int, default=threads,
                   help="torch CPU threads (0: torch's default; 1 is fastest on a busy machine)")
    p.add_argument("--resume", dest="no_resume", action="store_false", default=False,
                   help="continue from the run folder's latest checkpoint (the default)")
    p.add_argument("--no-resume", dest="no_resume", action="store_true", help="start over")
