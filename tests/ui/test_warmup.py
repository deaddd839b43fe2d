"""The default model is warmed after the first paint, on a worker thread, through the session's model
cache: the first job of the session finds it loaded (no second load), even when it comes while the
warm-up is still loading."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from studio.core.paths import DEMO_MODELS
from studio.core.requests import GenerationRequest
from studio.core.settings import Settings
from studio.jobs import JobState
from studio.ui.probe import DeviceProbe
from studio.ui.warmup import ModelWarmup, memory_allows
from studio.ui.window import MainWindow
from tests.plugin_helpers import manifest_text, write_plugin
from tests.ui.window_helpers import run_studio

PLUGIN_ID = "warmtest"
# The loader notes the thread it ran on in the file the model folder names (not in the folder
# itself: a changed folder would be loaded afresh), after sleeping the folder's "delay".
MODEL_CODE = """
import json
import threading
import time
from pathlib import Path

from PIL import Image

from studio.plugins import ImageOutput, JobResult


class Model:
    def run(self, request, report, cancelled):
        report(1, 1)
        return JobResult(images=(ImageOutput(Image.new("RGB", (8, 8), (20, 200, 40)), request),))

    def unload(self):
        pass


def load(context):
    config = json.loads((Path(context.model.path) / "warm.json").read_text())
    time.sleep(config["delay"])
    with open(config["log"], "a", encoding="utf-8") as handle:
        handle.write(threading.current_thread().name + "\\n")
    return Model()
"""


@pytest.fixture(scope="module")
def warm_plugins(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("warm-plugins")
    write_plugin(folder, "studio_warmtest", manifest_text(PLUGIN_ID, "studio_warmtest", model_files=("warm.json",)),
                 MODEL_CODE)
    return folder


def warm_model(tmp_path: Path, delay: float = 0.0) -> tuple[Path, Path]:
    """A model folder of the test family and the file its loads are written to."""
    folder, loads = tmp_path / "warm-model", tmp_path / "loads.txt"
    folder.mkdir()
    (folder / "warm.json").write_text(json.dumps({"delay": delay, "log": str(loads)}))
    return folder, loads


def load_threads(loads: Path) -> list[str]:
    return loads.read_text(encoding="utf-8").split() if loads.exists() else []


def job_request(model: Path) -> GenerationRequest:
    return GenerationRequest(model=str(model), prompt="a first image", width=64, height=64, steps=1)


def test_warmup_loads_on_a_worker_and_the_first_job_reuses_the_model(make_window, warm_plugins, qtbot, tmp_path):
    window = make_window(extra_plugin_paths=(warm_plugins,), trusted=(PLUGIN_ID,))
    model, loads = warm_model(tmp_path)
    warmup = ModelWarmup(window.session, str(model))
    warmup.start()
    assert warmup.wait(10)
    assert warmup.stage == "ready", warmup.error
    assert load_threads(loads) == ["studio-warmup"]  # not the GUI thread, not the job's worker
    assert threading.current_thread() is threading.main_thread()

    job = window.submit(job_request(model))
    qtbot.waitUntil(lambda: window.session.queue.get(job.id).state is JobState.DONE, timeout=10_000)
    assert load_threads(loads) == ["studio-warmup"]  # the job found the model loaded


def test_a_job_sent_while_the_warmup_loads_waits_for_that_load(make_window, warm_plugins, qtbot, tmp_path):
    window = make_window(extra_plugin_paths=(warm_plugins,), trusted=(PLUGIN_ID,))
    model, loads = warm_model(tmp_path, delay=0.8)
    warmup = ModelWarmup(window.session, str(model))
    warmup.start()
    qtbot.waitUntil(lambda: warmup.stage == "loading", timeout=5_000)
    job = window.submit(job_request(model))  # clicked Generate before the model was ready
    qtbot.waitUntil(lambda: window.session.queue.get(job.id).state is JobState.DONE, timeout=10_000)
    assert warmup.wait(5) and warmup.stage == "ready"
    assert load_threads(loads) == ["studio-warmup"]


def test_without_the_memory_the_warmup_only_imports(make_window, warm_plugins, tmp_path):
    window = make_window(extra_plugin_paths=(warm_plugins,), trusted=(PLUGIN_ID,))
    model, loads = warm_model(tmp_path)
    warmup = ModelWarmup(window.session, str(model), free_memory=lambda: 1)
    warmup.start()
    assert warmup.wait(10) and warmup.stage == "imported"
    assert load_threads(loads) == []
    assert memory_allows(1_000, budget_bytes=0, free_bytes=None)
    assert not memory_allows(1_000, budget_bytes=500, free_bytes=10**12)  # Settings' memory budget
    assert not memory_allows(1_000, budget_bytes=0, free_bytes=2_000)


def test_a_cancelled_warmup_loads_nothing(make_window, warm_plugins, tmp_path):
    window = make_window(extra_plugin_paths=(warm_plugins,), trusted=(PLUGIN_ID,))
    model, loads = warm_model(tmp_path)
    warmup = ModelWarmup(window.session, str(model))
    warmup.cancel()  # quit before the worker got going
    warmup.start()
    assert warmup.wait(10) and warmup.stage == "cancelled"
    assert load_threads(loads) == []


def test_the_studio_warms_its_default_model_after_the_first_paint(qapp, monkeypatch, warm_plugins, tmp_path):
    monkeypatch.setattr(DeviceProbe, "start", lambda self: None)  # no torch-importing child here
    model, loads = warm_model(tmp_path)
    monkeypatch.setenv("STUDIO_PLUGINS_PATH", str(warm_plugins))
    settings = Settings.load()
    settings.model_folders = [str(model.parent)]  # listed by the scan, and chosen as the default
    settings.default_model = model.name
    settings.trusted_plugins = [PLUGIN_ID]
    settings.save()
    seen: dict[str, object] = {}

    def check() -> None:
        windows = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow)]
        window = windows[0] if windows else None
        if window is not None and load_threads(loads) and "job" not in seen:
            seen["job"] = window.submit(job_request(model)).id  # the first Generate of the session
        if window is not None and "job" in seen:
            state = window.session.queue.get(seen["job"]).state
            if state in (JobState.DONE, JobState.FAILED):
                seen["state"] = state
                window.close()
                return
        QTimer.singleShot(20, check)

    assert run_studio(check) == 0  # quit after 30 s at the most: never hang the suite
    assert seen.get("state") is JobState.DONE
    assert load_threads(loads) == ["studio-warmup"]


def test_the_model_the_panel_shows_after_the_scan_is_the_one_generate_sends(make_window, qtbot):
    """A fresh studio lists its one image model, the default (here the demo folder, which the test
    family claims); the first Generate must use it. It said "No model chosen": the combo made the
    first item it was given current while its signals were blocked, so the request never heard."""
    window = make_window()
    window.start_background_work()
    panel = window.prompt_panel
    qtbot.waitUntil(lambda: not window.library_model.scanning and panel.model.count() > 0, timeout=10_000)
    assert [panel.model.itemText(i) for i in range(panel.model.count())] == ["demo"]
    assert panel.request().model == str(DEMO_MODELS / "demo")
