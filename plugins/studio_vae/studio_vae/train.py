"""The VAE family's trainer: recipe ``vae`` (``studio train vae --data FOLDER --out FOLDER``).

``train(request, report, cancelled, context=None)`` is the manifest's ``trainer``;
``add_arguments(recipe, parser)`` declares the flags. Importing this module is light: torch loads
when a run starts (:mod:`studio_vae.recipe`).
"""

from __future__ import annotations

import argparse

from studio.plugins import Cancelled, JobResult, LoadContext, Report, TrainRequest, collector_paused
from studio.plugins.recipes import add_control_arguments, add_run_arguments, check_recipe

RECIPES = ("vae",)


def _check(recipe: str) -> None:
    check_recipe("VAE", recipe, RECIPES)


def add_arguments(recipe: str, parser: argparse.ArgumentParser) -> None:
    """The flags of ``studio train vae``; their destinations are the request's options."""
    _check(recipe)
    add_vae_arguments(parser)


def add_vae_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``studio train vae``: the defaults rebuild ``demo-vae`` in a few CPU minutes."""
    add_run_arguments(p, "vae", steps=3000, batch_size=64, lr=2e-3,
                      data_help="folder of pictures (.png/.jpg/.webp, resized to 64x64); default: the shapes data set")
    p.add_argument("--shapes", type=int, default=6000, help="pictures drawn from the shapes data set (no --data)")
    p.add_argument("--latent-dim", type=int, default=32, help="size of the latent vector")
    p.add_argument("--channels", default="32,64,64,128", help="encoder widths, four levels (64 → 4 px)")
    p.add_argument("--prior-components", type=int, default=1024,
                   help="training pictures whose encodings the samples are drawn from (0: N(0, I))")
    p.add_argument("--beta", type=float, default=0.5, help="weight of the KL term (1: a plain VAE; less: sharper)")
    p.add_argument("--sample-every", type=int, default=500, help="steps between sample grids (0: none)")
    add_control_arguments(p)


def train(request: TrainRequest, report: Report, cancelled: Cancelled,
          context: LoadContext | None = None) -> JobResult:
    """Run ``request.recipe``; resumes from the run folder's latest checkpoint when ``resume``."""
    _check(request.recipe)
    with collector_paused():  # the run's libraries (torch…): no GC pass stalls the window meanwhile
        from studio.plugins.training import recipe_settings
        from studio_vae import recipe

    return recipe.run(recipe_settings(request, add_vae_arguments), report, cancelled)
