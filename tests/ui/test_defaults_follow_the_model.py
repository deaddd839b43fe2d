"""One source of generation defaults: the request definition, overlaid by what a model recommends in
its own folder (studio-defaults.json). Change that one file and the prompt panel, ``studio generate``
and the metadata written into the picture all follow."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from studio.cli.main import main
from studio.core.imagemeta import read_metadata
from studio.core.settings import Settings
from studio.plugins import PluginRegistry
from studio.session import StudioSession
from studio.ui.bridge import JobBridge
from studio.ui.window import MainWindow

FIRST_PARTY = Path(__file__).resolve().parents[2] / "plugins" / "studio_diffusers"
WAIT_MS = 15_000


def _painter(tiny_sd_folder: Path, root: Path, recommended: dict) -> Path:
    folder = root / "painter"
    shutil.copytree(tiny_sd_folder, folder)
    (folder / "studio-defaults.json").write_text(json.dumps(recommended))
    return folder


def _cli_request(folder: Path, out: Path) -> dict:
    assert main(["generate", "--model", str(folder), "--prompt", "a red circle", "--seed", "1", "--out", str(out)]) == 0
    return read_metadata(out)["request"]


@pytest.fixture
def diffusers_window(qtbot):
    """Opens a window whose only family is the first-party diffusers plugin (found on its path)."""
    opened = []

    def open_window() -> MainWindow:
        registry = PluginRegistry(use_entry_points=False, paths=[FIRST_PARTY])
        registry.discover()
        bridge = JobBridge()
        session = StudioSession(registry=registry, listener=bridge)
        window = MainWindow(session, bridge, probe_command=())
        bridge.setParent(window)
        opened.append((window, session))
        session.runner.start()
        window.show()
        qtbot.waitExposed(window)
        window.start_background_work()  # the model scan (the app starts it after the first paint)
        return window

    yield open_window
    for window, session in opened:
        session.runner.stop()
        window.close()
        window.shutdown()
        session.close()
        window.deleteLater()


def test_a_models_recommended_settings_reach_panel_cli_and_file(diffusers_window, qtbot, tiny_sd_folder, tmp_path):
    folder = _painter(tiny_sd_folder, tmp_path / "models", {"steps": 3, "guidance": 4.5, "scheduler": "DDIM"})
    settings = Settings.load()
    settings.model_folders = [str(tmp_path / "models")]
    settings.save()

    written = _cli_request(folder, tmp_path / "a.png")
    assert (written["steps"], written["guidance"], written["scheduler"]) == (3, 4.5, "DDIM")

    window = diffusers_window()
    panel = window.prompt_panel
    qtbot.waitUntil(lambda: panel.model.findText("painter") >= 0, timeout=WAIT_MS)
    panel.model.setCurrentIndex(panel.model.findText("painter"))
    panel.apply_model_defaults()
    assert (panel.steps.value(), panel.guidance.value(), panel.scheduler.currentText()) == (3, 4.5, "DDIM")
    request = panel.request()
    assert (request.steps, request.guidance, request.scheduler) == (3, 4.5, "DDIM")
    assert (request.width, request.height) == (written["width"], written["height"])  # the model's native size

    # The one place changes: everything follows.
    (folder / "studio-defaults.json").write_text(json.dumps({"steps": 5, "guidance": 2.0, "scheduler": "Euler"}))
    written = _cli_request(folder, tmp_path / "b.png")
    assert (written["steps"], written["guidance"], written["scheduler"]) == (5, 2.0, "Euler")
    panel.library.refresh()
    qtbot.waitUntil(lambda: not panel.library.scanning, timeout=WAIT_MS)
    qtbot.wait(50)
    panel.model.setCurrentIndex(panel.model.findText("painter"))
    panel.apply_model_defaults()
    assert (panel.steps.value(), panel.guidance.value(), panel.scheduler.currentText()) == (5, 2.0, "Euler")
