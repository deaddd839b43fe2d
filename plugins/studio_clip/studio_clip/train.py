"""The scorer family's trainer: recipe ``clip`` (``studio train clip [--data FOLDER] --out FOLDER``).

``train(request, report, cancelled, context=None)`` is the manifest's ``trainer``;
``add_arguments(recipe, parser)`` declares the flags. Importing this module is light: torch loads
when a run starts (:mod:`studio_clip.recipe`).
"""

from __future__ import annotations

import argparse

from studio.plugins import Cancelled, JobResult, LoadContext, Report, TrainRequest, collector_paused
from studio.plugins.recipes import add_control_arguments, add_run_arguments, check_recipe

RECIPES = ("clip",)


def _check(recipe: str) -> None:
    check_recipe("CLIP", recipe, RECIPES)


def add_arguments(recipe: str, parser: argparse.ArgumentParser) -> None:
    """The flags of ``studio train clip``; their destinations are the request's options."""
    _check(recipe)
    add_clip_arguments(parser)


def add_clip_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``studio train clip``: the defaults rebuild ``demo-clip``."""
    add_run_arguments(p, "clip", steps=2500, batch_size=128, lr=2e-3,
                      data_help="folder of pictures, each with a caption (NAME.txt or metadata.jsonl); "
                                "default: the shapes data set",
                      batch_help="pairs per batch (the contrastive negatives)")
    p.add_argument("--shapes", type=int, default=6000, help="pairs drawn from the shapes data set (no --data)")
    p.add_argument("--embed-dim", type=int, default=64, help="size of the shared embedding")
    p.add_argument("--eval-every", type=int, default=100,
                   help="steps between held-out text→image top-1 measurements (0: only at the end)")
    p.add_argument("--partial-captions", type=float, default=0.5,
                   help="share of shapes captions that say only some attributes ('a red circle'), so short "
                        "prompts score well too (0: whole captions only; the shapes data set only)")
    p.add_argument("--no-augment", action="store_true",
                   help="train on the pictures as they are (no shifts, blur or colour jitter)")
    p.add_argument("--sample-every", type=int, default=250, help="steps between retrieval previews (0: none)")
    add_control_arguments(p)


def train(request: TrainRequest, report: Report, cancelled: Cancelled,
          context: LoadContext | None = None) -> JobResult:
    """Run ``request.recipe``; resumes from the run folder's latest checkpoint when ``resume``."""
    _check(request.recipe)
    with collector_paused():  # the run's libraries (torch…): no GC pass stalls the window meanwhile
        from studio.plugins.training import recipe_settings
        from studio_clip import recipe

    return recipe.run(recipe_settings(request, add_clip_arguments), report, cancelled)
