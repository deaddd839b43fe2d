"""Settings the core needs, kept in ``STUDIO_HOME/settings.toml``.

Window geometry lives in QSettings (UI only); everything here is plain data the CLI uses too.

Every key is checked on its own when the file is read: a bad value (``device = "tpu"``, a string
where a list belongs, ``nan``) is reported in :attr:`Settings.problems` (and the log) and only that
key falls back to its default. Keys the studio cannot use (bad values, unknown keys, tables) are
written back with the user's values on the next save, unless the studio has changed that key since;
a file that is not TOML at all is copied aside (``settings.toml.unreadable``) before it is replaced.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import logging
import math
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.core.errors import BadInput
from studio.core.paths import studio_home
from studio.core.requests import BACKENDS, DEFAULT_SCORER, DEVICES
from studio.core.storage import atomic_write_text

log = logging.getLogger("studio.settings")
MAX_MEMORY_BUDGET_GB = 1 << 20


@dataclass
class Settings:
    """User settings; a bad value in the file is reported and its key alone gets the default."""

    model_folders: list[str] = field(default_factory=list)
    scan_hf_cache: bool = True
    device: str = "auto"
    backend: str = "torch"
    disabled_plugins: list[str] = field(default_factory=list)
    trusted_plugins: list[str] = field(default_factory=list)
    default_model: str = "demo"
    memory_budget_gb: float = 0.0  # 0: let the studio decide
    attention_slicing: bool = False
    vae_tiling: bool = False
    cpu_offload: bool = False
    allowed_pickles: list[str] = field(default_factory=list)  # pickle checkpoints the user trusts
    output_folder: str = ""  # where generated images are written; empty: STUDIO_HOME/gallery
    scorer_model: str = DEFAULT_SCORER  # the gallery's match scores and "Rank by prompt" use it
    auto_score: bool = False  # score new gallery images against their prompt as they arrive
    # What reading the file found wrong (one line each; the status bar and ``studio info`` show them).
    problems: list[str] = field(default_factory=list, compare=False, repr=False)
    # Keys read from the file that the studio could not use, with their values: written back on save.
    kept: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __setattr__(self, name: str, value: Any) -> None:
        kept = self.__dict__.get("kept")
        if kept and name in kept and value != self.__dict__.get(name):
            del kept[name]  # the studio set this key: the file's unusable value is no longer kept
        object.__setattr__(self, name, value)

    def model_options(self) -> dict[str, object]:
        """Options handed to plugins when they load a model (memory, trusted pickle files)."""
        return {"attention_slicing": self.attention_slicing, "vae_tiling": self.vae_tiling,
                "cpu_offload": self.cpu_offload, "allowed_pickles": list(self.allowed_pickles)}

    def validate(self) -> None:
        """Raise :class:`BadInput` for the first value that is not allowed."""
        for key in setting_keys():
            problem = check_value(key, getattr(self, key))
            if problem:
                raise BadInput(f"Setting {key}: {problem}.", _HINTS.get(key, ""))

    def report(self) -> dict[str, Any]:
        """What ``studio info`` and the status bar say about the settings: the file, its problems and
        the keys kept from it that the studio does not use."""
        return {"settings_file": str(self.path()), "problems": list(self.problems),
                "unused_keys": sorted(self.kept)}

    @staticmethod
    def path() -> Path:
        return studio_home() / "settings.toml"

    @classmethod
    def load(cls) -> Settings:
        """Read the settings file; a missing file gives the defaults, a bad key its default alone."""
        path = cls.path()
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls()
        except (OSError, UnicodeDecodeError) as exc:
            return cls._unreadable(f"{path} cannot be read ({_reason(exc)}); using the default settings.")
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            return cls._unreadable(f"{path} is not valid TOML ({exc}); using the default settings.")
        return cls.from_mapping(data, source=path.name)

    @classmethod
    def from_mapping(cls, data: dict[str, Any], source: str = "settings") -> Settings:
        """Settings from parsed TOML, checking each key on its own."""
        settings = cls()
        known = setting_keys()
        for key, value in data.items():
            if key not in known:
                settings.kept[key] = value
                continue
            problem = check_value(key, value)
            if problem:
                default = getattr(settings, key)
                settings.kept[key] = value
                settings.problems.append(f"{source}: {key} {problem}; using {_show(default)}.")
            else:
                setattr(settings, key, list(value) if isinstance(value, list) else value)
        for line in settings.problems:
            log.warning("%s", line)
        return settings

    @classmethod
    def _unreadable(cls, problem: str) -> Settings:
        log.warning("%s", problem)
        settings = cls()
        settings.problems.append(problem)
        return settings

    def save(self) -> None:
        """Write the file atomically: the studio's keys, then every key it kept from the file."""
        self.validate()
        path = self.path()
        on_disk = _read_table(path)
        if on_disk is None and path.is_file():  # not TOML (any more): keep the user's text aside
            backup = path.with_name(path.name + ".unreadable")
            if not backup.exists():
                backup.write_bytes(path.read_bytes())
                log.warning("The unreadable settings file was kept as %s.", backup)
        known = setting_keys()
        for key, value in (on_disk or {}).items():  # keys added to the file since it was read
            if key not in known and key not in self.kept:
                self.kept[key] = value
        defaults = Settings()
        out = {}
        for key in setting_keys():  # a kept value stays while the studio's value is still the default
            value = getattr(self, key)
            unchanged = key in self.kept and value == getattr(defaults, key)
            out[key] = self.kept[key] if unchanged else value
            if not unchanged:
                self.kept.pop(key, None)
        out.update({k: v for k, v in self.kept.items() if k not in out})
        atomic_write_text(path, to_toml(out))


def _read_table(path: Path) -> dict[str, Any] | None:
    """The file's TOML table now: ``{}`` when there is no file, None when it cannot be read as TOML."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None


_HINTS = {
    "device": f"Choose one of: {', '.join(DEVICES)}.",
    "backend": f"Choose one of: {', '.join(BACKENDS)}.",
}


def setting_keys() -> tuple[str, ...]:
    """The keys the studio reads from the file."""
    return tuple(f.name for f in dataclasses.fields(Settings) if f.name not in ("problems", "kept"))


def _kind_of(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return "a date or time"


def _show(value: Any) -> str:
    text = to_toml_value(value) if _representable(value) else repr(value)
    return text if len(text) <= 60 else text[:57] + "…"


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or type(exc).__name__


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and "\0" not in value


def _check_list(value: Any) -> str:
    if not isinstance(value, list):
        return f"must be a list of strings, e.g. [\"a\", \"b\"], not {_kind_of(value)} ({_show(value)})"
    for item in value:
        if not _is_text(item) or not item.strip():
            return f"must hold only non-empty strings; {_show(item)} is not one"
    return ""


def _check_bool(value: Any) -> str:
    return "" if isinstance(value, bool) else f"must be true or false, not {_show(value)}"


def _choice(choices: tuple[str, ...]) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if isinstance(value, str) and value in choices:
            return ""
        return f"must be one of {', '.join(choices)}, not {_show(value)}"

    return check


def _check_model(value: Any) -> str:
    return "" if _is_text(value) and value.strip() else f"must be a model name or path, not {_show(value)}"


def _check_budget(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"must be a number of gigabytes, not {_kind_of(value)} ({_show(value)})"
    if not math.isfinite(value) or not 0 <= value <= MAX_MEMORY_BUDGET_GB:
        return f"must be between 0 and {MAX_MEMORY_BUDGET_GB} gigabytes, not {_show(value)}"
    return ""


def _check_folder(value: Any) -> str:
    return "" if _is_text(value) else f"must be a folder path (or empty), not {_show(value)}"


_CHECKS: dict[str, Callable[[Any], str]] = {
    "model_folders": _check_list,
    "scan_hf_cache": _check_bool,
    "device": _choice(DEVICES),
    "backend": _choice(BACKENDS),
    "disabled_plugins": _check_list,
    "trusted_plugins": _check_list,
    "default_model": _check_model,
    "memory_budget_gb": _check_budget,
    "attention_slicing": _check_bool,
    "vae_tiling": _check_bool,
    "cpu_offload": _check_bool,
    "allowed_pickles": _check_list,
    "output_folder": _check_folder,
    "scorer_model": _check_model,
    "auto_score": _check_bool,
}


def check_value(key: str, value: Any) -> str:
    """What is wrong with ``value`` for setting ``key`` ("" when nothing is)."""
    return _CHECKS[key](value)


# -- writing TOML ------------------------------------------------------------------------------------
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _representable(value: Any) -> bool:
    return isinstance(value, (str, bool, int, float, list, dict, _dt.date, _dt.time))


def _key(key: str) -> str:
    return key if _BARE_KEY.match(key) else _string(key)


def _string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def to_toml_value(value: Any) -> str:
    """One TOML value (tables inline), for every value :mod:`tomllib` returns."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return repr(value) if math.isfinite(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(to_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_key(str(k))} = {to_toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def to_toml(data: dict[str, Any]) -> str:
    """A flat TOML document: ``key = value`` lines (tables written inline)."""
    return "".join(f"{_key(key)} = {to_toml_value(value)}\n" for key, value in data.items())
