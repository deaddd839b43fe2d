"""Messages that must not go stale: the status bar's job notices, the queue's Message column of text
jobs, and the Progress cell of a job that ended early."""

from __future__ import annotations

import time

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QProxyStyle, QStyle

from studio.core.requests import GenerationRequest, TextRequest, TrainRequest
from studio.jobs.queue import Job, JobState
from studio.ui.panels.queue import QueuePanel
from studio.ui.viewmodels import QueueModel
from tests.ui.window_helpers import generate

WAIT_MS = 15_000
MESSAGE_COLUMN = 5


def test_job_finished_goes_once_the_user_pastes_a_photo(make_window, qtbot, ui_model) -> None:
    window = make_window()
    job = generate(window, qtbot, ui_model, "a calm lake")
    finished = f"Job {job.id} finished."
    qtbot.waitUntil(lambda: window.statusBar().currentMessage() == finished, timeout=WAIT_MS)
    qtbot.wait(int(window.notices.grace_s * 1000) + 100)  # the user has had time to read it

    photo = QImage(48, 32, QImage.Format.Format_RGB32)
    photo.fill(Qt.GlobalColor.darkGreen)
    QApplication.clipboard().setImage(photo)
    window.activateWindow()
    window.canvas.setFocus()
    # Ctrl+V the way a keyboard sends it: to the window, which hands it to the canvas (focused)
    qtbot.keyClick(window.windowHandle(), Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    assert window.canvas_model.document.size().toTuple() == (48, 32)  # the photo is on the canvas
    assert window.statusBar().currentMessage() != finished


def test_a_notice_just_shown_survives_the_keystroke_that_caused_it_and_times_out(make_window, qtbot) -> None:
    window = make_window()
    window.notices._timer.setInterval(300)
    window.notify("Settings saved.")
    window.activateWindow()
    window.prompt_panel.prompt.setFocus()
    qtbot.keyClick(window.windowHandle(), Qt.Key.Key_A)  # within the grace time: still shown
    assert window.prompt_panel.prompt.toPlainText() == "a"
    assert window.statusBar().currentMessage() == "Settings saved."
    qtbot.waitUntil(lambda: window.statusBar().currentMessage() == "", timeout=2_000)  # it times out


def test_queued_as_job_goes_after_a_while_an_error_stays(make_window, qtbot, ui_model) -> None:
    window = make_window()
    panel = window.prompt_panel
    panel.feedback_timer.setInterval(200)
    job = generate(window, qtbot, ui_model, "a calm lake")
    assert panel.feedback.text() == f"Queued as job {job.id}."
    qtbot.waitUntil(lambda: panel.feedback.text() == "", timeout=2_000)
    panel.model.setEditText("")
    qtbot.mouseClick(panel.generate, Qt.MouseButton.LeftButton)
    error = panel.feedback.text()
    assert error and panel.feedback_icon.isVisibleTo(panel)
    qtbot.wait(400)
    assert panel.feedback.text() == error  # a problem stays until the next try


def _text_job(job_id: int, state: JobState, step: int, total: int, message: str = "") -> Job:
    return Job(id=job_id, request=TextRequest(model="demo-text", prompt="Once upon a time"), state=state,
               created_at=time.time(), step=step, total=total, message=message)


def test_the_message_column_of_a_text_job_counts_tokens_never_shows_the_text(qtbot) -> None:
    model = QueueModel()
    panel = QueuePanel(model, cancel=lambda _id: None, requeue=lambda _id: None)
    qtbot.addWidget(panel)
    model.upsert(_text_job(1, JobState.RUNNING, 0, 142, "Loading demo-text…"))
    message = model.index(0, MESSAGE_COLUMN)
    assert message.data() == "Loading demo-text…"  # before the first token: what it is doing

    model.set_progress(1, 1, 142, " fox")  # a family that streams its tokens as the step message
    assert message.data() == "writing… 1 token"
    model.set_progress(1, 141, 142, " snow")
    assert "snow" not in message.data() and message.data() == "writing… 141 tokens"
    model.upsert(_text_job(1, JobState.DONE, 142, 142, " end"))  # the stored row holds the last token
    assert message.data() == "142 tokens"
    model.upsert(_text_job(2, JobState.CANCELLED, 17, 142, " halfway"))
    assert model.index(1, MESSAGE_COLUMN).data() == "stopped after 17 tokens"


class _RecordingStyle(QProxyStyle):
    """Fusion, noting every progress bar it draws."""

    def __init__(self) -> None:
        super().__init__("Fusion")
        self.bars: list[tuple[str, bool]] = []

    def drawControl(self, element, option, painter, widget=None) -> None:
        if element == QStyle.ControlElement.CE_ProgressBar:
            self.bars.append((option.text, option.textVisible))
        super().drawControl(element, option, painter, widget)


def test_cancelled_is_never_drawn_over_a_progress_bar(qtbot) -> None:
    model = QueueModel()
    panel = QueuePanel(model, cancel=lambda _id: None, requeue=lambda _id: None)
    qtbot.addWidget(panel)
    panel.resize(900, 200)
    request = GenerationRequest(model="demo", prompt="a fox")
    for job_id, state, step in ((1, JobState.RUNNING, 5), (2, JobState.CANCELLED, 3), (3, JobState.DONE, 20)):
        model.upsert(Job(id=job_id, request=request, state=state, created_at=time.time(), step=step, total=20))
    panel.show()
    qtbot.waitExposed(panel)
    previous = QApplication.style().name()
    style = _RecordingStyle()
    QApplication.setStyle(style)  # the application's: whatever style the delegate asks, it is this one
    try:
        panel.table.viewport().grab()
    finally:
        QApplication.setStyle(previous)

    drawn = {text for text, visible in style.bars if visible}
    assert drawn == {"5/20"}, style.bars  # the running job's bar; no state word on any bar
    assert model.index(1, QueueModel.PROGRESS_COLUMN).data() == "3/20"  # where it stopped, as plain text
    assert model.index(1, 3).data() == "cancelled"  # the State column says it, once


def test_the_summary_says_what_a_job_without_a_prompt_works_on(qtbot) -> None:
    from studio.core.requests import ExportRequest, InterpolateRequest, ScoreRequest

    model = QueueModel()
    cases = [  # (request, what the Summary column says)
        (InterpolateRequest(model="demo-vae", images=("/p/red.png", "/p/blue.png"), frames=8),
            "8 frames: red.png → blue.png"),
        (ScoreRequest(model="demo-clip", images=("/g/a.png", "/g/b.png"), prompts=("a red star",)),
            "a.png, b.png against “a red star”"),
        (ScoreRequest(model="demo-clip", images=tuple(f"/g/{i}.png" for i in range(5)), prompts=("x", "y")),
            "5 pictures against 2 prompts"),
        (ScoreRequest(model="demo-clip", images=("/g/a.png",), prompts=("a " + "very " * 30 + "long prompt",)),
            ("a.png against “a " + "very " * 30)[:79] + "…"),  # 80 characters at most
        (ExportRequest(images=("/g/a.png",), out_dir="/tmp/out"), "a.png"),
        (GenerationRequest(model="/models/demo-vae", seed=12), "demo-vae, seed 12"),  # no prompt: a VAE's
        (GenerationRequest(model="demo-gan"), "demo-gan, a random seed"),
        (TrainRequest(recipe="lora", model="demo", data="/work/stars", options={"out": "/l/stars.safetensors"}),
            "lora on demo from stars → stars.safetensors"),  # a training says what it learns from and writes
        (TrainRequest(recipe="demo-image", options={}), "demo-image"),
    ]
    for job_id, (request, summary) in enumerate(cases, start=1):
        model.upsert(Job(job_id, request, JobState.QUEUED, created_at=0.0))
        assert model.item(model.rowCount() - 1, 2).text() == summary
