"""The GAN family's trainer: recipe ``gan`` (``studio train gan --data FOLDER --out FOLDER``).

``train(request, report, cancelled, context=None)`` is the manifest's ``trainer``;
``add_arguments(recipe, parser)`` declares the flags. Importing this module is light: torch loads
when a run starts (:mod:`studio_gan.recipe`).
"""

from __future__ import annotations

import argparse

from studio.plugins import Cancelled, JobResult, LoadContext, Report, TrainRequest, collector_paused
from studio.plugins.recipes import add_control_arguments, add_run_arguments, check_recipe

RECIPES = ("gan",)


def _check(recipe: str) -> None:
    check_recipe("GAN", recipe, RECIPES)


def add_arguments(recipe: str, parser: argparse.ArgumentParser) -> None:
    """The flags of ``studio train gan``; their destinations are the request's options."""
    _check(recipe)
    add_gan_arguments(parser)


def add_gan_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``studio train gan``: the defaults rebuild ``demo-gan`` on a CPU."""
    add_run_arguments(p, "gan", steps=5200, batch_size=64, lr=2e-4,
                      data_help="folder of pictures (.png/.jpg/.webp, resized to 64x64); default: the shapes data set",
                      steps_help="optimiser steps (each updates both networks, Adam betas 0.5, 0.999)")
    p.add_argument("--shapes", type=int, default=30000, help="pictures drawn from the shapes data set (no --data)")
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
    add_control_arguments(p)


def train(request: TrainRequest, report: Report, cancelled: Cancelled,
          context: LoadContext | None = None) -> JobResult:
    """Run ``request.recipe``; resumes from the run folder's latest checkpoint when ``resume``."""
    _check(request.recipe)
    with collector_paused():  # the run's libraries (torch…): no GC pass stalls the window meanwhile
        from studio.plugins.training import recipe_settings
        from studio_gan import recipe

    return recipe.run(recipe_settings(request, add_gan_arguments), report, cancelled)
