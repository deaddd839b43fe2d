"""Jobs through the real runner: failures are shown and the queue moves on; cancel stops a job."""

from __future__ import annotations

import os

from PySide6.QtCore import Qt

from studio.core.requests import GenerationRequest
from studio.jobs.queue import JobQueue, JobState
from tests.ui.window_helpers import generate

WAIT_MS = 15_000


def _state(window, job_id: int) -> JobState | None:
    job = window.queue_model.job_by_id(job_id)
    return job.state if job else None


def test_failed_job_shows_its_message_and_the_next_job_runs(make_window, qtbot, ui_model) -> None:
    window = make_window()
    notices: list[str] = []
    window.statusBar().messageChanged.connect(notices.append)
    failing = generate(window, qtbot, ui_model, "fail please", steps=4)
    following = generate(window, qtbot, ui_model, "a calm lake", steps=3)
    qtbot.waitUntil(lambda: _state(window, following.id) is JobState.DONE, timeout=WAIT_MS)

    assert _state(window, failing.id) is JobState.FAILED
    row = window.queue_model.row_of(failing.id)
    message_cell = window.queue_model.index(row, 5)
    assert "asked to fail" in message_cell.data()
    assert "asked to fail" in message_cell.data(Qt.ItemDataRole.ToolTipRole)
    assert any(f"Job {failing.id} failed" in n and "asked to fail" in n for n in notices)
    qtbot.waitUntil(lambda: "asked to fail" in window.log_panel.text(), timeout=WAIT_MS)
    assert f"Job {failing.id} failed" in window.log_panel.text()
    assert "Traceback" not in window.log_panel.text()  # one line per record; details stay in the file
    # the next job ran to the end and its image is on the canvas
    qtbot.waitUntil(window.canvas.showing_image, timeout=WAIT_MS)
    assert window.canvas_model.job_id == following.id
    assert window.canvas_model.image.width() == 512 // 8


def test_cancel_from_the_queue_panel_stops_a_running_job(make_window, qtbot, ui_model) -> None:
    window = make_window()
    job = generate(window, qtbot, ui_model, "slow sunrise", steps=400)
    qtbot.waitUntil(lambda: (j := window.queue_model.job_by_id(job.id)) is not None and j.step >= 2, timeout=WAIT_MS)
    assert window.canvas.showing_image()  # previews arrive while it runs
    panel = window.queue_panel
    panel.select_job(job.id)
    assert panel.cancel_button.isEnabled()
    qtbot.mouseClick(panel.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: _state(window, job.id) is JobState.CANCELLED, timeout=WAIT_MS)
    final = window.session.queue.get(job.id)
    assert final.step < 400
    assert panel.requeue_button.isEnabled()
    assert not panel.cancel_button.isEnabled()


def test_bad_input_is_shown_inline_and_queues_nothing(make_window, qtbot, ui_model) -> None:
    window = make_window()
    panel = window.prompt_panel
    panel.model.setEditText(str(ui_model))
    panel.width_box.setValue(500)
    qtbot.mouseClick(panel.generate, Qt.MouseButton.LeftButton)
    assert "not a usable image size" in panel.feedback.text()
    assert panel.feedback_icon.isVisibleTo(panel)
    assert window.queue_model.rowCount() == 0
    panel.model.setEditText("")
    panel.width_box.setValue(512)
    qtbot.mouseClick(panel.generate, Qt.MouseButton.LeftButton)
    assert "No model chosen" in panel.feedback.text()


def test_interrupted_jobs_are_listed_after_a_restart_and_can_be_requeued(make_window, qtbot, ui_model) -> None:
    queue = JobQueue()
    job = queue.submit(GenerationRequest(model=str(ui_model), prompt="left running", steps=2))
    queue.claim_next()
    dead_pid = 2**22 + 12345
    while True:  # a pid that no process holds: the studio that ran the job is gone
        try:
            os.kill(dead_pid, 0)
        except ProcessLookupError:
            break
        dead_pid += 1
    queue._db.execute("UPDATE jobs SET owner_pid = ? WHERE id = ?", (dead_pid, job.id))
    queue.close()

    window = make_window()
    assert _state(window, job.id) is JobState.INTERRUPTED
    panel = window.queue_panel
    panel.select_job(job.id)
    assert panel.requeue_button.isEnabled()
    qtbot.mouseClick(panel.requeue_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: _state(window, job.id) is JobState.DONE, timeout=WAIT_MS)


def test_bridge_signals_arrive_on_the_gui_thread(make_window, qtbot, ui_model) -> None:
    from PySide6.QtCore import QThread
    from PySide6.QtWidgets import QApplication

    window = make_window()
    threads: list[object] = []
    window.bridge.progress.connect(lambda *_: threads.append(QThread.currentThread()))
    window.bridge.changed.connect(lambda *_: threads.append(QThread.currentThread()))
    with qtbot.waitSignal(window.bridge.finished, timeout=WAIT_MS):
        generate(window, qtbot, ui_model, "a quiet forest", steps=5)
    assert threads and all(t is QApplication.instance().thread() for t in threads)


def test_only_recent_finished_jobs_are_listed() -> None:
    from studio.ui.window import jobs_to_show

    queue = JobQueue()
    ids = [queue.submit(GenerationRequest(model="m", prompt=str(i))).id for i in range(6)]
    queue.finish(queue.claim(ids[0]).id, JobState.DONE)
    queue.finish(queue.claim(ids[4]).id, JobState.DONE)
    shown = [j.id for j in jobs_to_show(queue.jobs(), recent=2)]
    queue.close()
    assert shown == ids[1:]  # the old finished job drops out; queued ones and the recent stay
