"""UI fixtures: a real tiny plugin, a window factory that always stops its runner, a leak check."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, QEvent
from PySide6.QtWidgets import QApplication

from studio.plugins import PluginRegistry
from studio.session import StudioSession
from studio.ui.bridge import JobBridge
from studio.ui.tasks import wait_for_background
from studio.ui.window import MainWindow
from tests.plugin_helpers import manifest_text, write_plugin

PLUGIN_ID = "uitest"

MANIFEST = manifest_text(PLUGIN_ID, "studio_uitest", "UI test family", model_files=("model_index.json",))

# Prompts steer the model: "fail…" raises, "slow…" sleeps 50 ms a step; every step sends a preview.
MODEL_CODE = """
import time

from PIL import Image

from studio.plugins import ImageOutput, JobResult


class Model:
    def run(self, request, report, cancelled):
        if request.prompt.startswith("fail"):
            raise RuntimeError("the test plugin was asked to fail")
        delay = 0.05 if request.prompt.startswith("slow") else 0.0
        for step in range(1, request.steps + 1):
            time.sleep(delay)
            report(step, request.steps, preview=Image.new("RGB", (32, 32), (step * 7 % 256, 90, 160)))
        image = Image.new("RGB", (request.width // 8, request.height // 8), (200, 120, 40))
        return JobResult(images=(ImageOutput(image, request),))  # families return, the studio writes

    def unload(self):
        pass


def load(context):
    return Model()
"""


@pytest.fixture(scope="session")
def ui_plugins(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A plugins folder holding one real, working third-party plugin (``uitest``)."""
    folder = tmp_path_factory.mktemp("ui-plugins")
    write_plugin(folder, "studio_uitest", MANIFEST, MODEL_CODE)
    return folder


@pytest.fixture(scope="session")
def ui_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model folder the ``uitest`` plugin's ``model_files`` claim (kind ``uitest``; no weights)."""
    folder = tmp_path_factory.mktemp("ui-models") / "tiny-fake"
    folder.mkdir()
    (folder / "model_index.json").write_text(json.dumps({"_class_name": "UITestPipeline"}))
    return folder


@pytest.fixture
def broken_plugins(tmp_path: Path) -> Path:
    """A plugins folder with a plugin whose manifest is invalid."""
    folder = tmp_path / "broken-plugins"
    write_plugin(folder, "studio_broken", 'id = "broken"\nname = "Broken"\ncolour = "red"\n')
    return folder


@pytest.fixture(autouse=True)
def no_leaked_widgets(qapp: QApplication) -> Iterator[None]:
    """Fail a test that leaves top-level widgets or thread-pool work behind."""
    before = set(QApplication.topLevelWidgets())
    yield
    assert wait_for_background(10_000), "background work still running after the test"
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    QCoreApplication.processEvents()
    leaked = [w for w in QApplication.topLevelWidgets() if w not in before]
    assert not leaked, f"leaked top-level widgets: {leaked}"


WindowFactory = Callable[..., MainWindow]


@pytest.fixture
def make_window(qtbot, ui_plugins: Path) -> Iterator[WindowFactory]:
    """Build started windows on real sessions; every runner is stopped and window closed after."""
    opened: list[tuple[MainWindow, StudioSession]] = []

    def factory(
        extra_plugin_paths: tuple[Path, ...] = (),
        trusted: tuple[str, ...] = (PLUGIN_ID,),
        probe_command: tuple[str, ...] | None = None,
        show: bool = True,
    ) -> MainWindow:
        registry = PluginRegistry(use_entry_points=False, paths=[ui_plugins, *extra_plugin_paths], trusted=set(trusted))
        registry.discover()
        bridge = JobBridge()
        session = StudioSession(registry=registry, listener=bridge)
        window = MainWindow(session, bridge, probe_command=probe_command)
        bridge.setParent(window)
        opened.append((window, session))
        session.runner.start()
        if show:
            window.show()
            qtbot.waitExposed(window)
        return window

    yield factory
    for window, session in opened:
        session.runner.stop()
        if window.isVisible():
            window.close()
        window.shutdown()
        session.close()
        window.deleteLater()
