"""The ONNX Runtime backend in the window: the provider in the status bar, the CUDA-missing notice,
the export cache in Settings, and a family that does not declare the chosen backend refused before
its job is queued."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from studio.jobs.queue import JobState
from tests.plugin_helpers import write_plugin
from tests.ui.conftest import MANIFEST, MODEL_CODE, PLUGIN_ID

NOTICE = "ONNX Runtime's CUDA provider could not start (test); running on the CPU."

# The test family, declaring onnx too: its jobs say which provider they ran on, and the first one
# carries the CUDA-missing notice (as report(notice=…) and result data), as the real families do.
ONNX_CODE = MODEL_CODE.replace(
    "        return JobResult(images=(ImageOutput(image, request),))  # families return, the studio writes",
    f"""        if request.backend == "onnx":
            report(0, request.steps, notice={NOTICE!r})
            return JobResult(images=(ImageOutput(image, request),), data={{"provider": "CPU", "notice": {NOTICE!r}}})
        return JobResult(images=(ImageOutput(image, request),))""",
)


@pytest.fixture
def onnx_plugins(tmp_path: Path) -> Path:
    folder = tmp_path / "onnx-plugins"
    manifest = MANIFEST.replace(PLUGIN_ID, "uionnx").replace("studio_uitest", "studio_uionnx").replace(
        'backends = ["torch"]', 'backends = ["torch", "onnx"]').replace('model_files = ["model_index.json"]',
                                                                      'model_files = ["onnx_index.json"]')
    write_plugin(folder, "studio_uionnx", manifest, ONNX_CODE)
    return folder


def _use_backend(window, backend: str) -> None:
    window.settings.backend = backend
    window.status_model.set_backend(backend)


def test_status_bar_shows_the_provider_and_the_cuda_notice(make_window, qtbot, onnx_plugins, tmp_path) -> None:
    model = tmp_path / "onnx-model"
    model.mkdir()
    (model / "onnx_index.json").write_text("{}")
    window = make_window(extra_plugin_paths=(onnx_plugins,), trusted=(PLUGIN_ID, "uionnx"))
    _use_backend(window, "onnx")
    assert window.backend_label.text() == "Backend: onnx"
    panel = window.prompt_panel
    panel.model.setEditText(str(model))
    panel.prompt.setPlainText("a square")
    job = panel.submit()
    assert job is not None, panel.feedback.text()
    qtbot.waitUntil(lambda: window.queue_model.job_by_id(job.id).state is JobState.DONE, timeout=15_000)
    qtbot.waitUntil(lambda: window.backend_label.text() == "Backend: onnx (CPU)", timeout=5_000)
    assert window.statusBar().currentMessage() == NOTICE
    qtbot.waitUntil(lambda: any(NOTICE in line for line in window.log_model.lines), timeout=5_000)
    _use_backend(window, "torch")  # the provider belongs to the onnx backend
    assert window.backend_label.text() == "Backend: torch"
    _use_backend(window, "onnx")
    assert window.backend_label.text() == "Backend: onnx (CPU)"


def test_a_family_without_the_backend_is_refused_before_queueing(make_window, ui_model) -> None:
    window = make_window()
    _use_backend(window, "onnx")
    panel = window.prompt_panel
    panel.model.setEditText(str(ui_model))
    panel.prompt.setPlainText("a square")
    assert panel.submit() is None
    assert "'uitest' cannot run on the onnx backend" in panel.feedback.text()
    assert "Choose one of: torch" in panel.feedback.text()
    assert window.queue_model.rowCount() == 0


def test_settings_show_and_clear_the_onnx_export_cache(make_window, qtbot, studio_home) -> None:
    entry = studio_home / "cache" / "onnx" / "0123abcd"
    entry.mkdir(parents=True)
    (entry / "model.onnx").write_bytes(b"\0" * 1_500_000)
    (entry / "manifest.json").write_text("{}")
    window = make_window()
    dialog = window.open_settings()
    assert dialog.onnx_cache.text() == "1.5 MB"
    assert dialog.clear_onnx.isEnabled()
    qtbot.mouseClick(dialog.clear_onnx, Qt.MouseButton.LeftButton)
    assert not entry.exists()
    assert dialog.onnx_cache.text() == "empty (1.5 MB freed)"
    assert not dialog.clear_onnx.isEnabled()
    dialog.close()
