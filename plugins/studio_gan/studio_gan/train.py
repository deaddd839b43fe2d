"""The GAN family's trainer: recipe ``gan`` (``studio train gan --data FOLDER --out FOLDER``).

``train(request, report, cancelled, context=None)`` is the manifest's ``trainer``;
``add_arguments(recipe, parser)`` declares the flags. Importing this module is light: torch loads
when a run starts (:mod:`studio_gan.recipe`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from studio.plugins import BadInput, Cancelled, JobResult, LoadContext, Report, TrainRequest

RECIPES = ("gan",)


def _check(recipe: str) -> None:
    if recipe not in RECIPES:
        raise BadInput(f"The GAN family has no training recipe '{recipe}'.", f"Its recipes: {', '.join(RECIPES)}.")


def _path(text: str) -> str:
    """A path flag, made absolute (the request is stored with the job and may run elsewhere later)."""
    return str(Path(text).expanduser().absolute())


def add_arguments(recipe: str, parser: argparse.ArgumentParser) -> None:
    """The flags of ``studio train gan``; their destinations are the request's options."""
    _check(recipe)
    add_gan_arguments(parser)


def add_gan_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``studio train gan``: the defaults rebuild ``demo-gan`` on a CPU."""
    p.add_argument("--data", type=_path, default=None,
                   help="folder of pictures (.png/.jpg/.webp, resized to 64x64); default: the shapes data set")
    p.add_argument("--shapes", type=int, default=30000, help="pictures drawn from the shapes data set (no --data)")
    p.add_argument("--out", type=_path, default=None,
                   help="model folder to write (default: RUN_DIR/model, under STUDIO_HOME/runs)")
    p.add_argument("--run-dir", type=_path, default=None,
                   help="checkpoints, samples and metrics, resumed if present (default: STUDIO_HOME/runs/gan)")
    p.add_argument("--steps", type=int, default=5200, help="optimiser steps (each updates both networks)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-4, help="Adam learning rate of both networks (betas 0.5, 0.999)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--latent-dim", type=int, default=64, help="size of the noise vector")
    p.add_argument("--g-width", type=int, default=32, help="generator base width (8x, 4x, 2x, 1x from 4 px up)")
    p.add_argument("--d-width", type=int, default=16, help="discriminator base width (1x, 2x, 4x, 8x from 64 px down)")
    p.add_argument("--upsampling", default="nearest", choices=("nearest", "transposed"),
                   help="the generator's last level: nearest upsampling + 3x3 conv (no pixel checkerboard) "
                        "or the DCGAN paper's transposed conv")
    p.add_argument("--conditional", action="store_true",
                   help="condition both networks on the shapes data set's labels (size, colour, shape, position, "
                        "background); samples draw a label combination of the training set with the seed")
    p.add_argument("--ema-decay", type=float, default=0.999,
                   help="running average of the generator's weights, the one saved and sampled (0: none)")
    p.add_argument("--sample-every", type=int, default=250, help="steps between sample grids (0: none)")
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
    from studio_gan import recipe

    return recipe.run(recipe_settings(request, add_gan_arguments), report, cancelled)
