"""Sampling presets for text generation: built-in (Precise, Balanced, Creative) and the user's own.

User presets live in ``STUDIO_HOME/presets/text/<name>.json`` (one small JSON object each, written
atomically). A preset sets the sampling fields of a :class:`TextRequest`; everything else
(model, prompt, seed, mode, watermark) is left as it was.

    request = apply_preset(request, get_preset("Creative"))
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.core.errors import BadInput
from studio.core.paths import home_path
from studio.core.requests import TextRequest
from studio.core.storage import atomic_write_text

SAMPLING_FIELDS = ("temperature", "top_p", "top_k", "repetition_penalty", "max_new_tokens")
_NAME = re.compile(r"^[\w][\w .-]{0,63}$")


@dataclass(frozen=True)
class TextPreset:
    """Named sampling settings."""

    name: str
    temperature: float = 0.8
    top_p: float = 0.95
    top_k: int = 50
    repetition_penalty: float = 1.1
    max_new_tokens: int = 100
    builtin: bool = False

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data.pop("builtin")
        return data

    def validate(self) -> None:
        if not _NAME.match(self.name):
            raise BadInput(f"'{self.name}' is not a usable preset name.",
                           "Use up to 64 letters, digits, spaces, dots, dashes or underscores.")
        apply_preset(TextRequest(model="m", prompt="p"), self).validate()


BUILTIN_PRESETS: tuple[TextPreset, ...] = (
    TextPreset("Precise", temperature=0.3, top_p=0.85, top_k=20, repetition_penalty=1.15, builtin=True),
    TextPreset("Balanced", temperature=0.8, top_p=0.95, top_k=50, repetition_penalty=1.1, builtin=True),
    TextPreset("Creative", temperature=1.1, top_p=0.98, top_k=100, repetition_penalty=1.05, builtin=True),
)
DEFAULT_PRESET = "Balanced"


def presets_dir() -> Path:
    return home_path("presets", "text")


def _user_file(name: str) -> Path:
    return presets_dir() / f"{name}.json"


def load_user_presets() -> tuple[list[TextPreset], list[str]]:
    """The user's presets, and a message for each preset file that could not be read (kept as is)."""
    presets, problems = [], []
    for path in sorted(presets_dir().glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            data.pop("builtin", None)
            preset = TextPreset(**data)
            preset.validate()
        except (OSError, ValueError, TypeError, BadInput) as exc:
            problems.append(f"The preset file {path} could not be read ({exc}).")
            continue
        presets.append(preset)
    return presets, problems


def list_presets() -> list[TextPreset]:
    """Built-in presets first, then the user's (a user preset never hides a built-in one)."""
    builtin_names = {p.name.lower() for p in BUILTIN_PRESETS}
    user, _ = load_user_presets()
    return [*BUILTIN_PRESETS, *(p for p in user if p.name.lower() not in builtin_names)]


def get_preset(name: str) -> TextPreset:
    for preset in list_presets():
        if preset.name.lower() == name.lower():
            return preset
    names = ", ".join(p.name for p in list_presets())
    raise BadInput(f"There is no text preset named '{name}'.", f"Choose one of: {names}.")


def save_preset(preset: TextPreset) -> Path:
    """Save (or replace) a user preset; built-in names are refused."""
    preset.validate()
    if any(p.name.lower() == preset.name.lower() for p in BUILTIN_PRESETS):
        raise BadInput(f"'{preset.name}' is a built-in preset.", "Save yours under another name.")
    return atomic_write_text(_user_file(preset.name), json.dumps(preset.to_dict(), indent=1, sort_keys=True))


def delete_preset(name: str) -> None:
    if any(p.name.lower() == name.lower() for p in BUILTIN_PRESETS):
        raise BadInput(f"'{name}' is a built-in preset and cannot be deleted.")
    _user_file(name).unlink(missing_ok=True)


def preset_from_request(name: str, request: TextRequest) -> TextPreset:
    """A preset holding the sampling settings of ``request`` (to save what the user tuned)."""
    return TextPreset(name, **{f: getattr(request, f) for f in SAMPLING_FIELDS})


def apply_preset(request: TextRequest, preset: TextPreset) -> TextRequest:
    """``request`` with the preset's sampling settings."""
    return dataclasses.replace(request, **{f: getattr(preset, f) for f in SAMPLING_FIELDS})
