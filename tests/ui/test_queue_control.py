"""Pause, resume and cancel from the queue dock: this window's own jobs, and jobs another process
runs (``studio train …`` in a terminal), which the window finds by polling the queue database."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import Qt

from studio.core.events import Progress, TextChunk
from studio.core.requests import GenerationRequest, TextRequest, TrainRequest
from studio.jobs.queue import JobQueue, JobState, process_start
from tests.plugin_helpers import gradient_model, install_example_plugin
from tests.ui.conftest import PLUGIN_ID

WAIT_MS = 15_000
POLL_WAIT_MS = 3_000  # the window looks at the queue once a second


def _shown(window, job_id: int):
    return window.queue_model.job_by_id(job_id)


def _state_cell(window, job_id: int) -> str:
    return window.queue_model.index(window.queue_model.row_of(job_id), 3).data()


def _gradient_window(make_window, tmp_path: Path):
    plugins = install_example_plugin(tmp_path / "plugins")
    model = gradient_model(tmp_path / "models" / "dusk")
    window = make_window(extra_plugin_paths=(plugins,), trusted=(PLUGIN_ID, "gradient"))
    return window, model


def test_pause_holds_a_running_job_and_resume_lets_it_finish(make_window, qtbot, tmp_path) -> None:
    window, model = _gradient_window(make_window, tmp_path)
    panel, queue = window.prompt_panel, window.queue_panel
    # the example plugin sleeps guidance/100 s a step: 40 steps of 50 ms
    panel.view_model.update({"model": str(model), "prompt": "dusk", "steps": 40, "guidance": 5.0,
                             "width": 64, "height": 64})
    job = panel.submit()
    assert job is not None, panel.feedback.text()
    qtbot.waitUntil(lambda: (j := _shown(window, job.id)) is not None and j.step >= 2, timeout=WAIT_MS)
    queue.select_job(job.id)
    assert queue.pause_button.isEnabled() and not queue.resume_button.isEnabled(), queue.selected_job()
    qtbot.mouseClick(queue.pause_button, Qt.MouseButton.LeftButton)

    qtbot.waitUntil(lambda: _shown(window, job.id).state is JobState.PAUSED, timeout=WAIT_MS)
    assert _state_cell(window, job.id) == "paused"
    assert window.session.queue.get(job.id).state is JobState.PAUSED
    qtbot.waitUntil(lambda: f"Job {job.id} paused." in window.log_panel.text(), timeout=WAIT_MS)
    assert queue.resume_button.isEnabled() and queue.cancel_button.isEnabled()
    assert not queue.pause_button.isEnabled()
    held = _shown(window, job.id).step
    assert 2 <= held < 40
    qtbot.wait(600)  # ~12 steps' time: none is made while paused
    assert _shown(window, job.id).step == held
    assert window.session.queue.get(job.id).step <= held

    qtbot.mouseClick(queue.resume_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: _shown(window, job.id).state is JobState.DONE, timeout=WAIT_MS)
    assert window.session.queue.get(job.id).step == 40
    assert not queue.pause_button.isEnabled() and not queue.resume_button.isEnabled()


def test_a_job_another_process_runs_shows_up_and_is_controlled_through_the_queue(make_window, qtbot) -> None:
    window = make_window()
    window.session.runner.stop()  # this window's worker must not claim the job meant for the other process
    other_process = subprocess.Popen(["sleep", "30"])  # stands for `studio train demo-text` in a terminal
    other = JobQueue()
    try:
        job = other.submit(TrainRequest(recipe="demo-text", steps=20))
        other.claim(job.id)
        other._db.execute("UPDATE jobs SET owner_pid = ?, owner_start = ? WHERE id = ?",
                          (other_process.pid, process_start(other_process.pid), job.id))
        other.set_progress(job.id, 3, 20, "step 3")

        qtbot.waitUntil(lambda: (j := _shown(window, job.id)) is not None and j.step == 3, timeout=POLL_WAIT_MS)
        assert _state_cell(window, job.id) == "running"
        assert window.queue_model.index(window.queue_model.row_of(job.id), 1).data() == "train"
        other.set_progress(job.id, 7, 20, "step 7")  # live progress follows
        qtbot.waitUntil(lambda: _shown(window, job.id).step == 7, timeout=POLL_WAIT_MS)

        queue = window.queue_panel
        queue.select_job(job.id)
        assert queue.pause_button.isEnabled()
        qtbot.mouseClick(queue.pause_button, Qt.MouseButton.LeftButton)
        assert JobQueue().control(job.id) == "pause"  # the other process reads it at its next step

        other.set_state(job.id, JobState.PAUSED)  # … and obeys
        qtbot.waitUntil(lambda: _shown(window, job.id).state is JobState.PAUSED, timeout=POLL_WAIT_MS)
        assert _state_cell(window, job.id) == "paused"
        assert queue.resume_button.isEnabled()
        qtbot.mouseClick(queue.resume_button, Qt.MouseButton.LeftButton)
        assert JobQueue().control(job.id) == "resume"

        other.set_state(job.id, JobState.RUNNING)
        qtbot.waitUntil(lambda: _shown(window, job.id).state is JobState.RUNNING, timeout=POLL_WAIT_MS)
        qtbot.mouseClick(queue.cancel_button, Qt.MouseButton.LeftButton)
        assert JobQueue().control(job.id) == "cancel"
        other.finish(job.id, JobState.CANCELLED, error="Cancelled by the user.")
        qtbot.waitUntil(lambda: _shown(window, job.id).state is JobState.CANCELLED, timeout=POLL_WAIT_MS)
        # an ended training run resumes from its checkpoints: "Resume" re-queues it, "Run again" is off
        assert queue.resume_button.isEnabled() and not queue.requeue_button.isEnabled()
        qtbot.mouseClick(queue.resume_button, Qt.MouseButton.LeftButton)
        assert window.session.queue.get(job.id).state is JobState.QUEUED
    finally:
        other.close()
        other_process.kill()
        other_process.wait()


def test_pictures_a_terminal_makes_join_the_open_windows_gallery(make_window, qtbot, tmp_path) -> None:
    """``studio generate`` in a terminal while the window is open: its job shows in the queue and its
    picture in the gallery, without restarting the window (found by using the app: the gallery stayed
    at the window's own pictures)."""
    window = make_window()
    window.session.runner.stop()
    assert window.gallery_model.rowCount() == 0
    done = subprocess.run([sys.executable, "-m", "studio.cli.main", "generate", "--model", "demo", "--prompt",
                           "a large red circle on the left on a white background", "--steps", "2", "--seed", "7",
                           "--out", str(tmp_path / "terminal.png")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    qtbot.waitUntil(lambda: window.gallery_model.rowCount() == 1, timeout=POLL_WAIT_MS + WAIT_MS)
    item = window.gallery_model.item(0)
    assert item is not None and item.prompt == "a large red circle on the left on a white background"
    assert item.seed == 7 and Path(item.path).is_file()
    shown = window.queue_model.job_by_id(window.session.queue.jobs()[-1].id)
    assert shown is not None and shown.state is JobState.DONE


def test_queue_context_menu_follows_the_job_state(make_window) -> None:
    window = make_window()
    window.session.runner.stop()
    queue = window.session.queue
    waiting = window.session.runner.submit(GenerationRequest(model="m", prompt="later"))
    queue.finish(queue.claim(queue.submit(GenerationRequest(model="m", prompt="x")).id).id, JobState.FAILED,
                 error="boom")
    failed = queue.jobs()[-1]
    window.queue_model.upsert(failed)

    def enabled(job) -> dict[str, bool]:
        menu = window.queue_panel.context_menu(job)
        try:
            return {a.text(): a.isEnabled() for a in menu.actions() if a.text()}
        finally:
            menu.deleteLater()

    assert enabled(waiting) == {"Pause": False, "Resume": False, "Cancel": True, "Run again": False,
                                "Use these settings": True}
    assert enabled(failed) == {"Pause": False, "Resume": False, "Cancel": False, "Run again": True,
                               "Use these settings": True}
    assert not any(enabled(None).values())


def test_text_job_rows_show_a_status_never_the_streamed_text(make_window, qtbot) -> None:
    window = make_window()
    window.session.runner.stop()
    job = window.session.runner.submit(TextRequest(model="demo-text", prompt="Once"))
    texts: list[str] = []
    watch = window.bridge.watch(job.id)
    watch.text.connect(texts.append)
    window.bridge.job_event(job.id, TextChunk(" upon a time", 3))  # as the runner sends them
    window.bridge.job_event(job.id, Progress(3, 100, ""))
    qtbot.waitUntil(lambda: _shown(window, job.id).step == 3, timeout=WAIT_MS)
    assert texts == [" upon a time"]  # the job's own watch has the text …
    message = window.queue_model.index(window.queue_model.row_of(job.id), 5).data()
    assert "upon" not in message and "3 tokens" in message  # … the queue row a status
    watch.release()
