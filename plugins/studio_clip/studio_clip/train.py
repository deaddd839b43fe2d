"""The scorer family's trainer: recipe ``clip`` (``studio train clip [--data FOLDER] --out FOLDER``).

``train(request, report, cancelled, context=None)`` is the manifest's ``trainer``;
``add_arguments(recipe, parser)`` declares the flags. Importing this module is light: torch loads
when a run starts (:mod:`studio_clip.recipe`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from studio.plugins import BadInput, Cancelled, JobResult, LoadContext, Report, TrainRequest

RECIPES = ("clip",)


def _check(recipe: str) -> None:
    if recipe not in RECIPES:
        raise BadInput(f"The CLIP family has no training recipe '{recipe}'.", f"Its recipes: {', '.join(RECIPES)}.")


def _path(text: str) -> str:
    """A path flag, made absolute (the request is stored with the job and may run elsewhere later)."""
    return str(Path(text).expanduser().absolute())


def add_arguments(recipe: str, parser: argparse.ArgumentParser) -> None:
    """The flags of ``studio train clip``; their destinations are the request's options."""
    _check(recipe)
    add_clip_arguments(parser)


def add_clip_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``studio train clip``: the defaults rebuild ``demo-clip``."""
    p.add_argument("--data", type=_path, default=None,
                   help="folder of pictures, each with a caption (NAME.txt or metadata.jsonl); "
                        "default: the shapes data set")
    p.add_argument("--shapes", type=int, default=6000, help="pairs drawn from the shapes data set (no --data)")
    p.add_argument("--out", type=_path, default=None,
                   help="model folder to write (default: RUN_DIR/model, under STUDIO_HOME/runs)")
    p.add_argument("--run-dir", type=_path, default=None,
                   help="checkpoints, samples and metrics, resumed if present (default: STUDIO_HOME/runs/clip)")
    p.add_argument("--steps", type=int, default=2500, help="optimiser steps")
    p.add_argument("--batch-size", type=int, default=128, help="pairs per batch (the contrastive negatives)")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--embed-dim", type=int, default=64, help="size of the shared embedding")
    p.add_argument("--eval-every", type=int, default=100,
                   help="steps between held-out text→image top-1 measurements (0: only at the end)")
    p.add_argument("--partial-captions", type=float, default=0.5,
                   help="share of shapes captions that say only some attributes ('a red circle'), so short "
                        "prompts score well too (0: whole captions only; the shapes data set only)")
    p.add_argument("--no-augment", action="store_true",
                   help="train on the pictures as they are (no shifts, blur or colour jitter)")
    p.add_argument("--sample-every", type=int, default=250, help="steps between retrieval previews (0: none)")
    p.add_argument("--threads", type=int, default=0,
                   help="torch CPU threads (0: torch's default; 1 is fastest on a busy machine)")
    p.add_argument("--resume", dest="no_resume", action="store_false", default=False,
                   help="continue from the run folder's latest checkpoint (the default)")
    p.add_argument("--no-resume", dest="no_resume", action="store_true", help="start over")


def train(request: TrainRequest, report: Report, cancelled: Cancelled,
          context: LoadContext | None = None) -> JobResult:
    """Run ``request.recipe``; resumes from the run folder's latest checkpoint when ``resume``."""
    _check(request.recipe)
    from studio.plugins.training import recipe_settings
    from studio_clip import recipe

    return recipe.run(recipe_settings(request, add_clip_arguments), report, cancelled)
