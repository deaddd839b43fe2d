"""``studio models list``: models found on disk (demo models included), with family and path."""

from __future__ import annotations

import argparse

from studio.cli.output import print_json, print_table


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("models", help="models found on disk")
    sub = parser.add_subparsers(dest="models_command", required=True, parser_class=type(parser))
    listing = sub.add_parser("list", help="list models")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(func=list_models)


def list_models(args: argparse.Namespace) -> int:
    from studio.core.settings import Settings
    from studio.library_setup import library_for
    from studio.plugins import PluginRegistry

    settings = Settings.load()
    registry = PluginRegistry.from_environment(settings.disabled_plugins, settings.trusted_plugins)
    library = library_for(settings, registry)  # identifying may import a plugin's code: kinds after it
    families = {kind: r.id for r in registry.usable() for kind in r.manifest.model_kinds}  # type: ignore[union-attr]
    models = [{**m.to_dict(), "family": families.get(m.kind)} for m in library.scan()]
    if args.json:
        print_json(models)
        return 0
    rows = [[m["name"], m["kind"], m["family"] or "-", m["source"], m["path"]] for m in models]
    print_table(rows, ["NAME", "KIND", "FAMILY", "SOURCE", "PATH"])
    return 0
