"""``studio plugins list|trust|enable|disable``."""

from __future__ import annotations

import argparse

from studio.cli.output import print_json, print_table
from studio.core.errors import BadInput


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("plugins", help="model families, capabilities, backends, errors")
    sub = parser.add_subparsers(dest="plugins_command", required=True, parser_class=type(parser))
    listing = sub.add_parser("list", help="list plugins")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(func=list_plugins)
    for name, func in (("trust", trust), ("enable", enable), ("disable", disable)):
        cmd = sub.add_parser(name, help=f"{name} a plugin")
        cmd.add_argument("plugin_id")
        cmd.set_defaults(func=func)


def _registry():
    from studio.core.settings import Settings
    from studio.plugins import PluginRegistry

    settings = Settings.load()
    return settings, PluginRegistry.from_environment(settings.disabled_plugins, settings.trusted_plugins)


def list_plugins(args: argparse.Namespace) -> int:
    _, registry = _registry()
    records = [r.to_dict() for r in registry.records]
    if args.json:
        print_json(records)
        return 0
    rows = [
        [
            r["id"],
            r["name"],
            ",".join(r["capabilities"]) or "-",
            ",".join(r["backends"]) or "-",
            "error: " + r["error"] if r["error"] else ("enabled" if r["enabled"] else "disabled"),
        ]
        for r in records
    ]
    print_table(rows, ["ID", "NAME", "CAPABILITIES", "BACKENDS", "STATE"])
    return 0


def _change(plugin_id: str, **change: bool) -> int:
    settings, registry = _registry()
    known = sorted(record.id for record in registry.records)
    if plugin_id not in known:
        raise BadInput(f"No plugin '{plugin_id}' is installed.",
                       f"Installed: {', '.join(known) or 'none'} ('studio plugins list' shows them).")
    if change.get("trust"):
        settings.trusted_plugins = sorted({*settings.trusted_plugins, plugin_id})
    if "enabled" in change:
        disabled = set(settings.disabled_plugins)
        (disabled.discard if change["enabled"] else disabled.add)(plugin_id)
        settings.disabled_plugins = sorted(disabled)
    settings.save()
    return 0


def trust(args: argparse.Namespace) -> int:
    return _change(args.plugin_id, trust=True)


def enable(args: argparse.Namespace) -> int:
    return _change(args.plugin_id, enabled=True)


def disable(args: argparse.Namespace) -> int:
    return _change(args.plugin_id, enabled=False)
