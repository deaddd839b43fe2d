"""Settings and plugins dialogs, and the layout that survives a restart."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton

from studio.core.settings import Settings
from studio.jobs.queue import JobState
from studio.ui.dialogs.plugins import ERROR_COLUMN, STATE_COLUMN
from tests.plugin_helpers import write_plugin
from tests.ui.conftest import MANIFEST, PLUGIN_ID


def test_settings_dialog_saves(make_window, qtbot, tmp_path: Path, ui_model: Path) -> None:
    window = make_window()
    dialog = window.open_settings()
    dialog.add_folder(str(ui_model.parent))
    dialog.add_folder(str(tmp_path))
    dialog.folders.setCurrentRow(1)
    dialog.remove_selected()
    dialog.device.setCurrentText("cpu")
    dialog.backend.setCurrentText("onnx")
    dialog.memory["vae_tiling"].setChecked(True)
    dialog.allow_pickle(str(tmp_path / "old.ckpt"))
    with qtbot.waitSignal(dialog.saved):
        dialog.save()
    saved = Settings.load()
    assert saved.model_folders == [str(ui_model.parent)]
    assert (saved.device, saved.backend) == ("cpu", "onnx")
    assert saved.vae_tiling and not saved.attention_slicing and not saved.cpu_offload
    assert saved.allowed_pickles == [str(tmp_path / "old.ckpt")]
    assert window.session.settings.model_options()["vae_tiling"] is True  # the next model load uses it
    assert window.backend_label.text() == "Backend: onnx"
    assert window.session.library.folders == [str(ui_model.parent)]
    # the rescan that saving triggers finds the model for the prompt panel
    combo = window.prompt_panel.model
    qtbot.waitUntil(lambda: combo.findText(ui_model.name) >= 0, timeout=10_000)
    assert window.prompt_panel.request().backend == "onnx"


def test_plugins_dialog_lists_a_broken_plugin_and_the_window_keeps_working(
    make_window, qtbot, broken_plugins: Path, ui_model: Path
) -> None:
    window = make_window(extra_plugin_paths=(broken_plugins,))
    dialog = window.open_plugins()
    row = dialog.row_of("studio_broken")
    assert row >= 0
    assert dialog.table.item(row, STATE_COLUMN).text() == "broken"
    error = dialog.table.item(row, ERROR_COLUMN).text()
    assert "Invalid plugin manifest" in error and "colour" in error
    assert dialog.table.item(dialog.row_of(PLUGIN_ID), STATE_COLUMN).text() == "ready"
    assert dialog.table.item(dialog.row_of(PLUGIN_ID), 3).text() == "txt2img"
    dialog.close()
    job = window.prompt_panel
    job.model.setEditText(str(ui_model))
    job.prompt.setPlainText("still works")
    submitted = job.submit()
    assert submitted is not None
    qtbot.waitUntil(lambda: window.queue_model.job_by_id(submitted.id).state is JobState.DONE, timeout=15_000)


def test_plugins_dialog_allows_and_disables_plugins(make_window, qtbot, tmp_path: Path) -> None:
    folder = tmp_path / "more-plugins"
    write_plugin(folder, "studio_other", MANIFEST.replace(PLUGIN_ID, "other").replace("studio_uitest", "studio_other"))
    window = make_window(extra_plugin_paths=(folder,))
    dialog = window.open_plugins()
    row = dialog.row_of("other")
    assert dialog.table.item(row, STATE_COLUMN).text() == "not allowed"
    allow = dialog.table.cellWidget(row, STATE_COLUMN)
    assert isinstance(allow, QPushButton)
    qtbot.mouseClick(allow, Qt.MouseButton.LeftButton)
    assert "other" in window.session.registry.trusted
    assert "other" in Settings.load().trusted_plugins
    assert dialog.table.item(dialog.row_of("other"), STATE_COLUMN).text() == "ready"

    enabled = dialog.table.item(dialog.row_of("other"), 0)
    enabled.setCheckState(Qt.CheckState.Unchecked)
    assert not window.session.registry.get("other").enabled
    assert "other" in Settings.load().disabled_plugins
    assert dialog.table.item(dialog.row_of("other"), STATE_COLUMN).text() == "disabled"
    dialog.close()


def test_window_layout_persists_across_close_and_reopen(make_window, qtbot) -> None:
    first = make_window()
    first.resize(first.width(), 690)
    first.docks["log"].hide()
    first.removeDockWidget(first.docks["gallery"])
    first.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, first.docks["gallery"])
    first.docks["gallery"].show()
    first.close()

    second = make_window()
    assert not second.docks["log"].isVisible()
    assert second.dockWidgetArea(second.docks["gallery"]) == Qt.DockWidgetArea.LeftDockWidgetArea
    assert second.height() == 690  # (the 800 px offscreen screen clamps widths)
    second.reset_layout()
    assert second.docks["log"].isVisible()
    assert second.dockWidgetArea(second.docks["gallery"]) == Qt.DockWidgetArea.RightDockWidgetArea
