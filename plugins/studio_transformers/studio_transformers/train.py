"""The transformers family's trainer: the recipes its manifest lists (``demo-text``).

``train(request, report, cancelled)`` is the manifest's ``trainer``: the job runner calls it with a
:class:`TrainRequest`. ``add_arguments(recipe, parser)`` declares a recipe's command-line flags
(``studio train demo-text --help``). Importing this module is light: torch loads when a run starts.
"""

from __future__ import annotations

import argparse

from studio.plugins import BadInput, Cancelled, JobResult, Report, TrainRequest, collector_paused

RECIPES = ("demo-text",)


def _check(recipe: str) -> None:
    if recipe not in RECIPES:
        raise BadInput(f"The transformers family has no training recipe '{recipe}'.",
                       f"Its recipes: {', '.join(RECIPES)}.")


def add_arguments(recipe: str, parser: argparse.ArgumentParser) -> None:
    """The flags of ``studio train RECIPE``; their destinations are the request's options."""
    _check(recipe)
    from studio_transformers import demo_text

    demo_text.add_arguments(parser)


def train(request: TrainRequest, report: Report, cancelled: Cancelled) -> JobResult:
    """Run ``request.recipe``; resumes from the run folder's latest checkpoint when ``resume``."""
    _check(request.recipe)
    with collector_paused():  # the run's libraries (torch…): no GC pass stalls the window meanwhile
        from studio.plugins.training import recipe_settings
        from studio_transformers import demo_text

    return demo_text.run(recipe_settings(request, demo_text.add_arguments), report, cancelled)
