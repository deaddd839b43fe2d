"""Shared fixtures: an isolated STUDIO_HOME for every test, offscreen Qt, tiny real models."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

pytest_plugins = ["tests.fixtures.models"]


@pytest.fixture(autouse=True)
def garbage_collected_between_tests() -> Iterator[None]:
    """Once a window exists, automatic collection is off for the process (studio.ui.collection: the
    GUI thread collects on a timer); tests that run no event loop collect what is due after each."""
    yield
    from studio.core.collector import collect_due

    collect_due()


@pytest.fixture(autouse=True)
def studio_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own STUDIO_HOME, no user plugins path and an empty HF cache."""
    home = tmp_path / "studio-home"
    home.mkdir()
    monkeypatch.setenv("STUDIO_HOME", str(home))
    monkeypatch.delenv("STUDIO_PLUGINS_PATH", raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    return home
