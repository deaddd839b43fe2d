"""Settings the core needs, kept in ``STUDIO_HOME/settings.toml``.

Window geometry lives in QSettings (UI only); everything here is plain data the CLI uses too.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.core.errors import BadInput
from studio.core.paths import studio_home
from studio.core.requests import BACKENDS, DEVICES
from studio.core.storage import atomic_write_text


@dataclass
class Settings:
    """User settings; unknown keys in the file are kept out, bad values refused on save."""

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

    def model_options(self) -> dict[str, object]:
        """Options handed to plugins when they load a model (memory, trusted pickle files)."""
        return {"attention_slicing": self.attention_slicing, "vae_tiling": self.vae_tiling,
                "cpu_offload": self.cpu_offload, "allowed_pickles": list(self.allowed_pickles)}

    def validate(self) -> None:
        if self.device not in DEVICES:
            raise BadInput(f"Unknown device '{self.device}'.", f"Choose one of: {', '.join(DEVICES)}.")
        if self.backend not in BACKENDS:
            raise BadInput(f"Unknown backend '{self.backend}'.", f"Choose one of: {', '.join(BACKENDS)}.")

    @staticmethod
    def path() -> Path:
        return studio_home() / "settings.toml"

    @classmethod
    def load(cls) -> Settings:
        """Read the settings file; a missing or unreadable file gives the defaults."""
        try:
            data = tomllib.loads(cls.path().read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
            return cls()
        known = {f.name for f in dataclasses.fields(cls)}
        settings = cls(**{k: v for k, v in data.items() if k in known})
        try:
            settings.validate()
        except BadInput:
            return cls()
        return settings

    def save(self) -> None:
        self.validate()
        atomic_write_text(self.path(), _to_toml(dataclasses.asdict(self)))


def _to_toml(data: dict[str, Any]) -> str:
    """Write a flat mapping of str/bool/number/list-of-str as TOML."""
    import json

    lines = []
    for key, value in data.items():
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, (int, float)):
            text = repr(value)
        elif isinstance(value, str):
            text = json.dumps(value, ensure_ascii=False)
        else:
            text = "[" + ", ".join(json.dumps(str(v), ensure_ascii=False) for v in value) + "]"
        lines.append(f"{key} = {text}")
    return "\n".join(lines) + "\n"
