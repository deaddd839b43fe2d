"""The ONNX tests share one export cache for the whole run (an export takes ~30 s here): each test's
``STUDIO_HOME/cache/onnx`` is a link to it. ``session`` is a studio session that keeps its jobs' events."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from studio.session import StudioSession
from tests.onnx.events import Events


@pytest.fixture(scope="session")
def shared_onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx-cache")


@pytest.fixture
def onnx_home(studio_home: Path, shared_onnx_cache: Path) -> Path:
    """This test's STUDIO_HOME, its ONNX exports in the run's shared cache."""
    cache = studio_home / "cache"
    cache.mkdir(exist_ok=True)
    os.symlink(shared_onnx_cache, cache / "onnx", target_is_directory=True)
    return studio_home


@pytest.fixture
def session(onnx_home: Path) -> Iterator[StudioSession]:
    """A studio session on ``onnx_home`` whose jobs' events are kept in ``session.events``."""
    events = Events()
    session = StudioSession(listener=events)
    events.session = session
    session.events = events
    yield session
    session.close()
