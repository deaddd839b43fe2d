"""``studio train RECIPE [flags]``: run a training recipe as a job.

    studio train demo-image [--steps N] [--resume|--no-resume] [--tensorboard] [--run-dir DIR] [--out DIR] …
    studio train demo-text  [--steps N] [--resume|--no-resume] [--tensorboard] [--corpus-dir DIR] …

Recipes come from the plugins' manifests (``recipes``, run by the manifest's ``trainer``):
``studio train --help`` lists them reading manifests only. A recipe's flags are declared by
``add_arguments(recipe, parser)`` in the module of its plugin's trainer (light: no torch), so
``studio train RECIPE --help`` shows them. The flags become one :class:`TrainRequest` (run folder,
steps, batch size, learning rate, seed and resume in its fields, every other flag in ``options``)
that runs through the job queue like ``studio generate``: it shows in the window's queue, can be
paused, resumed or cancelled from there, and a run killed mid-way is left ``interrupted``; running
the same command again resumes from the run folder's latest checkpoint.

Building the parser imports nothing heavy and reads no manifest; torch loads when a recipe runs.
"""

from __future__ import annotations

import argparse
from functools import partial
from typing import Any

from studio.core.errors import BadInput, PluginError
from studio.core.requests import TrainRequest

#: flag destination → TrainRequest field (``studio.plugins.training.recipe_settings`` maps back).
REQUEST_FIELDS = {"run_dir": "run_dir", "steps": "steps", "batch_size": "batch_size",
                  "lr": "learning_rate", "seed": "seed", "data": "data", "model": "model"}


def add_parser(commands: argparse._SubParsersAction) -> None:
    train = commands.add_parser(
        "train", help="train a model with a plugin's recipe, as a job",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Train a model with a recipe of an installed plugin, as a job of the studio's queue. "
                    "'studio train RECIPE --help' lists the recipe's flags.",
    )
    train.add_argument("recipe", nargs="?", metavar="RECIPE", help="the recipe to run (listed below)")
    train.add_argument("flags", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    base_format_help = train.format_help

    def format_help() -> str:  # the recipes are read from the manifests only when help is asked for
        train.epilog = _recipes_epilog()
        return base_format_help()

    train.format_help = format_help  # type: ignore[method-assign]
    train.set_defaults(func=partial(run, train_parser=train))


def _registry():
    from studio.core.settings import Settings
    from studio.plugins import PluginRegistry

    settings = Settings.load()
    return PluginRegistry.from_environment(settings.disabled_plugins, settings.trusted_plugins)


def _recipes_epilog() -> str:
    try:
        recipes = _registry().recipes()
    except Exception as exc:  # help must show even when discovery fails
        return f"recipes: unavailable ({exc})"
    if not recipes:
        return "recipes: none (no enabled plugin declares one; see 'studio plugins list')"
    lines = [f"  {name:<16} {record.manifest.name} [{record.id}]"  # type: ignore[union-attr]
             for name, record in sorted(recipes.items())]
    return "recipes:\n" + "\n".join(lines)


def recipe_parser(recipe: str, parser_class: type[argparse.ArgumentParser] = argparse.ArgumentParser,
                  registry: Any = None, model: str | None = None, entry: Any = None) -> argparse.ArgumentParser:
    """The parser of ``studio train RECIPE``: its flags come from the recipe's plugin. With ``model``
    (what ``--model`` names) or its library ``entry``, flag defaults the plugin recommends for that
    model apply (``recipe_defaults(recipe, entry)`` beside ``add_arguments``, optional), so the
    request holds the values the run will use."""
    registry = registry or _registry()
    try:
        record = registry.for_recipe(recipe)
    except PluginError as exc:
        raise BadInput(exc.message, exc.hint) from exc
    add_arguments = registry.load_attribute(record, "trainer", "add_arguments")
    parser = parser_class(prog=f"studio train {recipe}",
                          description=f"The '{recipe}' recipe of {record.manifest.name}, run as a job.")
    add_arguments(recipe, parser)
    if model or entry is not None:
        try:
            suggest = registry.load_attribute(record, "trainer", "recipe_defaults")
        except PluginError:
            suggest = None  # the plugin recommends nothing per model
        if suggest is not None:
            parser.set_defaults(**suggest(recipe, entry if entry is not None else _model_entry(model, registry)))
    return parser


def _model_entry(model: str, registry: Any):
    """The model ``--model`` names, as the library finds it, or None (the job reports it later)."""
    from studio.core.errors import ModelError
    from studio.library_setup import library_for

    try:
        return library_for(registry=registry, scan_hf_cache=False).resolve(model)
    except ModelError:
        return None


def model_flag(flags: list[str]) -> str | None:
    """The value of ``--model`` among a recipe's raw flags."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--model", default=None)
    known, _rest = pre.parse_known_args(flags)
    return known.model


def request_from_flags(recipe: str, flags: argparse.Namespace) -> TrainRequest:
    """One TrainRequest from a recipe's parsed flags (JSON-serialisable options)."""
    values = dict(vars(flags))
    fields: dict[str, Any] = {}
    for dest, name in REQUEST_FIELDS.items():
        value = values.pop(dest, None)
        if value is not None:
            fields[name] = value
    resume = not values.pop("no_resume", False)
    resume = bool(values.pop("resume", resume))
    return TrainRequest(recipe=recipe, resume=resume, options=values, **fields)


def run(args: argparse.Namespace, train_parser: argparse.ArgumentParser) -> int:
    from studio.cli.jobs import run_request
    from studio.cli.output import print_json

    if not args.recipe:
        train_parser.print_help()
        return 2
    parser = recipe_parser(args.recipe, type(train_parser), model=model_flag(args.flags))
    request = request_from_flags(args.recipe, parser.parse_args(args.flags))
    request.validate()
    if _helper_rank():
        return _train_beside_rank_0(request)
    job = run_request(request)
    result = job.result
    print_json({"job": job.id, **(result.data if result else {}),
                "artifacts": [a.path for a in (result.artifacts if result else ())]})
    return 0


def _helper_rank() -> bool:
    """Whether this is a process of ``accelerate launch`` (or torchrun) other than rank 0."""
    import os

    return int(os.environ.get("RANK", "0") or 0) > 0


def _train_beside_rank_0(request: TrainRequest) -> int:
    """A helper rank trains beside rank 0, which owns the job: its queue row, progress, files and
    output. This process adds no job to the queue and reports nothing."""
    from studio.session import StudioSession

    session = StudioSession()
    try:
        session.execute(request, lambda *args, **kwargs: None, lambda: False)
    finally:
        session.close()
    return 0
