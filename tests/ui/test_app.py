"""Start-up: the smoke test, the device probe in its own process, the model scan after first paint."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from studio.ui.probe import DeviceProbe
from studio.ui.window import MainWindow
from tests.ui.window_helpers import run_studio

FAKE_PROBE = (sys.executable, "-c", 'print(\'{"device": "CPU", "memory": "1.0 GB RAM", "torch": null}\')')


def test_smoke_test_prints_startup_time_without_importing_torch(studio_home: Path) -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "STUDIO_SMOKE_REPORT_MODULES": "1"}
    code = "import sys; from studio.ui.app import run; sys.exit(run(smoke_test=True))"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1
    report = json.loads(lines[0])
    assert report["startup_ms"] > 0
    assert report["torch_imported"] is False


def test_status_bar_shows_the_probed_device(make_window, qtbot) -> None:
    window = make_window(probe_command=FAKE_PROBE)
    assert window.device_label.text() == "Device: detecting…"
    window.start_background_work()
    qtbot.waitUntil(lambda: window.device_label.text() == "Device: CPU", timeout=15_000)
    assert window.memory_label.text() == "Memory: 1.0 GB RAM"


def test_a_failing_probe_does_not_break_the_window(qtbot) -> None:
    probe = DeviceProbe((sys.executable, "-c", "import sys; sys.exit(3)"))
    with qtbot.waitSignal(probe.finished, timeout=15_000) as blocker:
        probe.start()
    assert blocker.args[0]["device"] == "unknown"
    probe.deleteLater()


def test_backends_probe_reports_a_device() -> None:
    done = subprocess.run([sys.executable, "-m", "studio.backends.probe"], capture_output=True, text=True, timeout=120)
    info = json.loads(done.stdout)
    assert info["device"] == "CPU" or info["device"].startswith(("CUDA: ", "MPS"))
    assert info["memory"]


def test_run_opens_the_session_after_the_first_paint_and_closes_cleanly(qapp, monkeypatch) -> None:
    monkeypatch.setattr(DeviceProbe, "start", lambda self: None)  # no torch-importing child here
    seen: dict[str, bool] = {}

    def check() -> None:
        windows = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow)]
        if windows and windows[0].session is not None:
            seen.update(running=windows[0].session.runner.running, scanning_started=windows[0]._started)
            windows[0].close()
        else:
            QTimer.singleShot(20, check)

    assert run_studio(check) == 0  # quit after 30 s at the most: never hang the suite
    assert seen == {"running": True, "scanning_started": True}
