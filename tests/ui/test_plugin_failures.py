"""A plugin whose code raises at import, at load or while it samples shows as an error in the Plugins
dialog (which plugin, what it raised), the job fails with a message, and the window runs on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from studio.jobs.queue import JobState
from studio.ui.dialogs.plugins import ERROR_COLUMN, STATE_COLUMN
from tests.plugin_helpers import manifest_text, write_plugin
from tests.ui.conftest import PLUGIN_ID

LOAD_FAILS = """
def load(context):
    raise ValueError("the weights layout is not what this loader expects")
"""
IMPORT_FAILS = """
raise ImportError("this plugin needs a library that is not installed: magicwand")
"""


@pytest.fixture
def failing_plugins(tmp_path: Path) -> Path:
    """Two more plugins: ``loadfail`` raises in its loader, ``importfail`` when its module is imported."""
    folder = tmp_path / "failing-plugins"
    write_plugin(folder, "studio_loadfail",
                 manifest_text("loadfail", "studio_loadfail", model_files=("loadfail.json",)), LOAD_FAILS)
    write_plugin(folder, "studio_importfail",
                 manifest_text("importfail", "studio_importfail", model_files=("importfail.json",)), IMPORT_FAILS)
    return folder


def model_folder(root: Path, marker: str) -> Path:
    folder = root / marker.split(".")[0]
    folder.mkdir(parents=True)
    (folder / marker).write_text(json.dumps({"kind": marker}))
    return folder


def run(window, qtbot, model: Path, prompt: str) -> JobState:
    panel = window.prompt_panel
    panel.model.setEditText(str(model))
    panel.prompt.setPlainText(prompt)
    job = panel.submit()
    assert job is not None
    finished = (JobState.DONE, JobState.FAILED)
    qtbot.waitUntil(lambda: window.queue_model.job_by_id(job.id).state in finished, timeout=15_000)
    return window.queue_model.job_by_id(job.id)


def dialog_row(window, plugin_id: str) -> tuple[str, str]:
    dialog = window.open_plugins()
    row = dialog.row_of(plugin_id)
    state, error = dialog.table.item(row, STATE_COLUMN).text(), dialog.table.item(row, ERROR_COLUMN).text()
    dialog.close()
    return state, error


def test_plugins_that_raise_at_import_load_or_sample_show_in_the_dialog(
    make_window, qtbot, failing_plugins: Path, ui_model: Path, tmp_path: Path
) -> None:
    window = make_window(extra_plugin_paths=(failing_plugins,), trusted=(PLUGIN_ID, "loadfail", "importfail"))
    assert dialog_row(window, "loadfail") == ("ready", "")

    failed = run(window, qtbot, model_folder(tmp_path / "models", "loadfail.json"), "a lighthouse")
    assert failed.state is JobState.FAILED and "could not load" in failed.error
    state, error = dialog_row(window, "loadfail")
    assert state == "failed"
    assert "Loading loadfail failed: ValueError: the weights layout is not what this loader expects" in error

    failed = run(window, qtbot, model_folder(tmp_path / "models", "importfail.json"), "a lighthouse")
    assert failed.state is JobState.FAILED and "failed to import" in failed.error
    state, error = dialog_row(window, "importfail")
    assert state == "broken" and "magicwand" in error

    failed = run(window, qtbot, ui_model, "fail on purpose")  # the uitest family raises while sampling
    assert failed.state is JobState.FAILED
    state, error = dialog_row(window, PLUGIN_ID)
    assert state == "failed" and "RuntimeError: the test plugin was asked to fail" in error

    # the studio runs on: the same family works again, and a success clears its mark
    assert run(window, qtbot, ui_model, "a lighthouse at dusk").state is JobState.DONE
    assert dialog_row(window, PLUGIN_ID) == ("ready", "")
    assert dialog_row(window, "loadfail")[0] == "failed"  # the others keep theirs
