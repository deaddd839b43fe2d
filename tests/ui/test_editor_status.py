"""The editor as a writer uses it: typing after generated text, Ctrl+Return, the status line and the
AI actions in a narrow dock, the "Stopped after N words" message."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import QApplication

from studio.jobs import JobState
from studio.jobs.queue import Job
from studio.ui.panels.editor import EditorPanel
from studio.ui.panels.editor_doc import AiInsertion
from tests.text.conftest import PLUGIN_DIR, build_tiny_llama
from tests.ui.conftest import PLUGIN_ID


@pytest.fixture(scope="session")
def status_llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_llama(tmp_path_factory.mktemp("ui-status-models") / "tiny-llama")


def _editor_shown(window) -> EditorPanel:
    window.resize(1440, 900)
    window.docks["editor"].raise_()
    panel: EditorPanel = window.editor_panel
    panel.start()
    for _ in range(5):
        QApplication.processEvents()
    return panel


def test_ctrl_return_continues_and_text_typed_after_the_generated_passage_is_not_marked(
    make_window, qtbot, status_llama
) -> None:
    window = make_window(extra_plugin_paths=(PLUGIN_DIR,), trusted=(PLUGIN_ID, "transformers"))
    window.library_model.entries = [window.session.library.resolve(str(status_llama))]
    window.library_model.changed.emit()
    panel = _editor_shown(window)
    panel.sampling.max_tokens.setValue(12)
    panel.sampling.seed.setValue(5)
    tab = panel.current_tab()
    tab.edit.setFocus()
    qtbot.keyClicks(tab.edit, "The brief")
    jobs_before = len(window.session.queue.jobs())

    qtbot.keyClick(tab.edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)  # the editor's Continue
    assert panel.active is not None
    qtbot.waitUntil(lambda: not panel.busy, timeout=90_000)
    jobs = window.session.queue.jobs()[jobs_before:]
    assert [job.request.kind for job in jobs] == ["text"]  # no image job was queued
    generated = tab.text()
    assert generated.startswith("The brief") and len(generated) > len("The brief")
    assert tab.ai_spans() == [[len("The brief"), len(generated)]]

    tab.edit.moveCursor(QTextCursor.MoveOperation.End)
    qtbot.keyClicks(tab.edit, " mine")  # typed right after the generated passage
    qtbot.keyClick(tab.edit, Qt.Key.Key_Return)
    qtbot.keyClicks(tab.edit, "also mine")
    assert tab.text() == generated + " mine\nalso mine"
    assert tab.ai_spans() == [[len("The brief"), len(generated)]]  # only the generated tokens are marked

    cursor = tab.edit.textCursor()  # typing over a piece of the generated text: the new letters are not marked
    cursor.setPosition(len("The brief") + 1)
    cursor.setPosition(len("The brief") + 2, QTextCursor.MoveMode.KeepAnchor)
    tab.edit.setTextCursor(cursor)
    qtbot.keyClick(tab.edit, Qt.Key.Key_X)
    spans = tab.ai_spans()
    assert all(not (start <= len("The brief") + 1 < end) for start, end in spans), spans


def test_the_status_line_reads_as_a_paragraph_and_every_ai_action_is_in_view(make_window, qtbot) -> None:
    window = make_window()
    panel = _editor_shown(window)
    assert panel.width() < 420  # the default layout's narrow dock
    text = ("The model could not write: the model folder holds no tokenizer (tokenizer.json or "
            "tokenizer_config.json). Nothing was changed.")
    panel.show_message(text)
    QApplication.processEvents()
    message = panel.message
    assert message.isVisible()
    assert message.width() >= panel.width() * 0.9  # the whole width, not squeezed beside the counts
    lines = message.heightForWidth(message.width()) / message.fontMetrics().lineSpacing()
    words = len(text.split())
    assert lines <= 4 < words / 2, (lines, words)  # a paragraph, not one word a line
    counts = panel.counts
    assert counts.isVisible() and counts.geometry().top() >= message.geometry().bottom()

    for name in ("continue", "rewrite", "regenerate", "stop", "accept", "check"):
        button = panel.ai_toolbar.button_for(panel.actions_by_name[name])
        assert button.isVisible(), name
        assert button.visibleRegion().boundingRect() == button.rect(), name  # not behind a » menu
        assert panel.rect().contains(button.geometry().translated(button.mapTo(panel, button.rect().topLeft())
                                                                 - button.geometry().topLeft()))
    accept = panel.ai_toolbar.button_for(panel.actions_by_name["accept"])
    qtbot.mouseClick(accept, Qt.MouseButton.LeftButton)
    assert panel.message.text() == "There is no generated text to accept."


@pytest.mark.parametrize(("chunk", "expected"), [(" word", "Stopped after 1 word."),
                                                  (" two words", "Stopped after 2 words.")])
def test_stopped_after_n_words_uses_the_right_plural(make_window, qtbot, chunk: str, expected: str) -> None:
    window = make_window()
    panel = _editor_shown(window)
    tab = panel.current_tab()
    qtbot.keyClicks(tab.edit, "Start")
    request = panel.sampling.request("demo-text", "Start", mode="continue")
    job = Job(id=7, request=request, state=JobState.CANCELLED, created_at=time.time(), started_at=time.time())
    panel.active = AiInsertion(tab, job.id, request, len("Start"), None)  # as if the job had streamed a chunk
    panel.active.add(chunk)
    panel._on_cancelled(job)
    assert panel.message.text() == expected
