"""Plugin manifests (``studio-plugin.toml``): validated strictly, unknown keys refused."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.core.errors import PluginError

MANIFEST_NAME = "studio-plugin.toml"
CAPABILITIES = frozenset(
    {"txt2img", "img2img", "inpaint", "outpaint", "text", "rewrite", "train", "score", "embed", "upscale",
     "interpolate"}
)
BACKENDS = frozenset({"torch", "onnx"})
_ID = re.compile(r"^[a-z][a-z0-9_.-]{1,63}$")
_DOTTED = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


@dataclass(frozen=True)
class Manifest:
    """What a plugin declares before any of its code is imported."""

    id: str
    name: str
    version: str
    api_version: int
    capabilities: tuple[str, ...]
    backends: tuple[str, ...]
    model_kinds: tuple[str, ...]
    loader: str
    trainer: str = ""
    description: str = ""
    model_files: tuple[str, ...] = ()
    identify: str = ""
    recipes: tuple[str, ...] = ()


_REQUIRED = {
    "id": str,
    "name": str,
    "version": str,
    "api_version": int,
    "capabilities": list,
    "backends": list,
    "model_kinds": list,
    "loader": str,
}
_OPTIONAL = {"trainer": str, "description": str, "model_files": list, "identify": str, "recipes": list}


def parse_manifest(data: dict[str, Any], source: str = "manifest") -> Manifest:
    """Validate a manifest mapping; every problem is reported in one :class:`PluginError`."""
    from studio.plugins.api import API_VERSION

    problems: list[str] = []
    unknown = sorted(set(data) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        problems.append(f"unknown key(s) {', '.join(unknown)}")
    for key, kind in {**_REQUIRED, **_OPTIONAL}.items():
        if key not in data:
            if key in _REQUIRED:
                problems.append(f"missing '{key}'")
        elif not isinstance(data[key], kind) or (kind is int and isinstance(data[key], bool)):
            problems.append(f"'{key}' must be a {kind.__name__}")
    if not problems:
        if not _ID.match(data["id"]):
            problems.append(f"id '{data['id']}' must be lower-case letters, digits, '.', '-' or '_'")
        if data["api_version"] != API_VERSION:
            problems.append(f"targets plugin API {data['api_version']}, this studio offers {API_VERSION}")
        bad_caps = sorted(set(map(str, data["capabilities"])) - CAPABILITIES)
        if bad_caps or not data["capabilities"]:
            problems.append(
                f"unknown capabilities {bad_caps} (known: {', '.join(sorted(CAPABILITIES))})"
                if bad_caps
                else "no capabilities declared"
            )
        bad_backends = sorted(set(map(str, data["backends"])) - BACKENDS)
        if bad_backends or not data["backends"]:
            problems.append(f"backends must be among {sorted(BACKENDS)}")
        if data.get("model_files") and data["id"] not in data["model_kinds"]:
            problems.append(f"model_files describe models of kind '{data['id']}': list it in model_kinds")
        if data.get("recipes") and not data.get("trainer"):
            problems.append("'recipes' need a 'trainer' that runs them")
        if data.get("recipes") and "train" not in data["capabilities"]:
            problems.append("'recipes' need the 'train' capability")
        for key in ("loader", "trainer", "identify"):
            if data.get(key) and not _DOTTED.match(data[key]):
                problems.append(f"'{key}' must look like 'package.module:function'")
    if problems:
        raise PluginError(f"Invalid plugin manifest in {source}: {'; '.join(problems)}.")
    return Manifest(
        id=data["id"],
        name=data["name"],
        version=data["version"],
        api_version=data["api_version"],
        capabilities=tuple(data["capabilities"]),
        backends=tuple(data["backends"]),
        model_kinds=tuple(data["model_kinds"]),
        loader=data["loader"],
        trainer=data.get("trainer", ""),
        description=data.get("description", ""),
        model_files=tuple(map(str, data.get("model_files", ()))),
        identify=data.get("identify", ""),
        recipes=tuple(map(str, data.get("recipes", ()))),
    )


def read_manifest(path: Path) -> Manifest:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise PluginError(f"Cannot read plugin manifest {path}: {exc}.") from None
    except tomllib.TOMLDecodeError as exc:
        raise PluginError(f"Plugin manifest {path} is not valid TOML: {exc}.") from None
    return parse_manifest(data, str(path))
