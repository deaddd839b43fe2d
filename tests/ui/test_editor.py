"""The editor pane with a real tiny Llama loaded through the causal-LM plugin: streaming, Stop, undo,
marked spans, autosave and the restore offer, find/replace, export."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from PySide6.QtGui import QTextCursor

from studio.jobs import JobState
from studio.ui.panels.editor import EditorPanel
from tests.text.conftest import PLUGIN_DIR, build_tiny_llama
from tests.ui.conftest import PLUGIN_ID

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def ui_llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The text tests' tiny Llama (same builder), as a user's model folder."""
    return build_tiny_llama(tmp_path_factory.mktemp("ui-text-models") / "tiny-llama")


def _text_window(make_window, folder: Path):
    window = make_window(extra_plugin_paths=(PLUGIN_DIR,), trusted=(PLUGIN_ID, "transformers"))
    entry = window.session.library.resolve(str(folder))
    window.library_model.entries = [entry]
    window.library_model.changed.emit()
    panel: EditorPanel = window.editor_panel
    panel.start()
    assert panel.model_ref() == str(folder)
    return window, panel


def _type(qtbot, panel: EditorPanel, text: str):
    tab = panel.current_tab()
    tab.edit.setFocus()
    qtbot.keyClicks(tab.edit, text)
    tab.edit.moveCursor(QTextCursor.MoveOperation.End)
    return tab


def _loaded_model(window):
    return next(iter(window.session.models._models.values()))


def test_continue_streams_into_the_document_marked_and_one_undo_removes_it(make_window, qtbot, ui_llama) -> None:
    _window, panel = _text_window(make_window, ui_llama)
    tab = _type(qtbot, panel, "The studio draws")
    lengths: list[int] = []
    tab.document.contentsChanged.connect(lambda: lengths.append(len(tab.text())))
    panel.sampling.max_tokens.setValue(30)
    panel.sampling.seed.setValue(3)

    assert panel.continue_text()
    assert tab.edit.isReadOnly()
    qtbot.waitUntil(lambda: not panel.busy, timeout=90_000)

    text = tab.text()
    assert text.startswith("The studio draws") and len(text) > len("The studio draws")
    assert len(set(lengths)) >= 5, lengths  # the document grew in several steps while tokens arrived
    assert "Done" in panel.message.text()
    assert tab.ai_spans() == [[len("The studio draws"), len(text)]]  # the generated span is marked
    assert not tab.edit.isReadOnly()
    assert tab.draft.meta["ai_spans"] == tab.ai_spans()

    tab.edit.undo()  # one undo removes the whole insertion
    assert tab.text() == "The studio draws"
    tab.edit.redo()
    assert tab.text() == text

    panel.accept_ai()  # accepted: no longer marked
    assert tab.ai_spans() == []
    assert tab.text() == text


def test_stop_halts_within_one_token_and_keeps_the_text(make_window, qtbot, ui_llama) -> None:
    window, panel = _text_window(make_window, ui_llama)
    tab = _type(qtbot, panel, "A brief for the client")
    panel.sampling.max_tokens.setValue(400)
    seen: dict[str, int] = {}

    def maybe_stop() -> None:
        if panel.active is not None and panel.active.chunks >= 4 and "at_stop" not in seen:
            seen["at_stop"] = _loaded_model(window).tokens_generated
            seen["job"] = panel.active.job_id
            panel.stop()

    tab.document.contentsChanged.connect(maybe_stop)
    assert panel.continue_text()
    qtbot.waitUntil(lambda: not panel.busy, timeout=90_000)

    job = window.session.queue.get(seen["job"])
    assert job.state is JobState.CANCELLED
    assert _loaded_model(window).tokens_generated <= seen["at_stop"] + 1
    assert _loaded_model(window).tokens_generated < 400
    kept = tab.text()
    assert kept.startswith("A brief for the client") and len(kept) > len("A brief for the client")
    assert "Stopped" in panel.message.text()
    qtbot.wait(200)
    assert tab.text() == kept  # nothing arrives after Stop
    assert tab.ai_spans()  # what was written stays, marked
    tab.edit.undo()
    assert tab.text() == "A brief for the client"


def test_rewrite_replaces_the_selection_and_regenerate_replaces_the_insertion(make_window, qtbot, ui_llama) -> None:
    _window, panel = _text_window(make_window, ui_llama)
    tab = _type(qtbot, panel, "Keep this. Rewrite this part.")
    cursor = tab.edit.textCursor()
    cursor.setPosition(len("Keep this. "))
    cursor.movePosition(QTextCursor.MoveOperation.End, QTextCursor.MoveMode.KeepAnchor)
    tab.edit.setTextCursor(cursor)
    panel.instruction.setText("Make it shorter")
    panel.sampling.max_tokens.setValue(12)
    assert panel.rewrite_selection()
    qtbot.waitUntil(lambda: not panel.busy, timeout=90_000)
    first = tab.text()
    assert first.startswith("Keep this. ") and "Rewrite this part." not in first
    assert tab.last_insertion is not None

    assert panel.regenerate()
    qtbot.waitUntil(lambda: not panel.busy, timeout=90_000)
    assert tab.text().startswith("Keep this. ")
    tab.edit.undo()  # the regenerated text goes, the first rewrite comes back
    assert tab.text() == first


def test_empty_prompt_and_missing_model_give_clear_messages(make_window, qtbot) -> None:
    window = make_window()
    panel = window.editor_panel
    panel.start()
    assert not panel.continue_text()
    assert "no text before the cursor" in panel.message.text()
    _type(qtbot, panel, "Hello")
    assert not panel.continue_text()
    assert "No language model" in panel.message.text()
    assert not panel.rewrite_selection()
    assert "Select the text" in panel.message.text()
    assert panel.tabs.count() == 1


def test_autosave_keeps_the_draft_and_a_restart_offers_it(make_window, qtbot, studio_home) -> None:
    window = make_window()
    panel = window.editor_panel
    panel.start()
    tab = _type(qtbot, panel, "Caption ideas: a red circle")
    draft_file = studio_home / "drafts" / f"{tab.draft.id}.json"
    qtbot.waitUntil(lambda: draft_file.is_file(), timeout=6_000)  # autosave a few seconds after typing
    assert json.loads(draft_file.read_text())["text"] == "Caption ideas: a red circle"

    # a studio that starts again (the first one never closed: as after a crash) offers the draft
    again = EditorPanel(window.library_model, window.bridge, window.submit, window.cancel_job)
    try:
        again.start()
        assert again.banner.isVisibleTo(again)
        assert "never saved" in again.banner_text.text()
        again.restore_drafts()
        assert again.tabs.count() == 1
        assert again.current_tab().text() == "Caption ideas: a red circle"
    finally:
        again.shutdown()
        again.deleteLater()


def test_find_replace_counts_and_export(make_window, qtbot, tmp_path) -> None:
    window = make_window()
    panel = window.editor_panel
    panel.start()
    panel.new_document(markdown=True)
    tab = _type(qtbot, panel, "# Title")
    tab.edit.insertPlainText("\n\nOne fox, two fox.")
    panel.update_counts()
    assert panel.counts.text().startswith("5 words")
    assert "Markdown" in panel.counts.text()
    panel.open_find(replace=True)
    panel.find_bar.find_field.setText("fox")
    panel.find_bar.replace_field.setText("cat")
    assert panel.find_bar.replace_all() == 2
    assert tab.text() == "# Title\n\nOne cat, two cat."
    tab.edit.undo()
    assert "fox" in tab.text()
    panel.toggle_preview()
    assert tab.previewing and "Title" in tab.preview.toPlainText() and "#" not in tab.preview.toPlainText()
    panel.toggle_preview()
    for ext in ("md", "txt", "html", "pdf"):
        out = panel.export_document(str(tmp_path / f"doc.{ext}"))
        assert out is not None and out.stat().st_size > 0, ext
    assert (tmp_path / "doc.pdf").read_bytes().startswith(b"%PDF")
    assert "<h1" in (tmp_path / "doc.html").read_text()
    assert panel.save_document(path=str(tmp_path / "saved.md"))
    assert tab.draft.saved and not tab.title().endswith("•")


KILL_SCRIPT = r"""
import sys, time
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QApplication
from studio.ui.panels.editor import EditorPanel

class Stub(QObject):
    changed = Signal(); progress = Signal(int, int, int, str)
    finished = Signal(object); failed = Signal(object); cancelled = Signal(object)
    entries = []

app = QApplication([])
stub = Stub()
panel = EditorPanel(stub, stub, lambda r: None, lambda i: None)
panel.start()
edit = panel.current_tab().edit
n = 0
def type_one():
    global n
    n += 1
    edit.insertPlainText(f"w{n} ")
    print(n, time.time(), flush=True)
timer = QTimer(interval=100); timer.timeout.connect(type_one); timer.start()
app.exec()
"""


def test_sigkill_while_typing_loses_at_most_five_seconds(studio_home, tmp_path) -> None:
    env = {**os.environ, "STUDIO_HOME": str(studio_home), "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT], stdout=subprocess.PIPE, env=env, cwd=REPO, text=True)
    typed: dict[int, float] = {}
    watchdog = threading.Timer(60, proc.kill)
    watchdog.start()
    try:
        start = None
        for line in proc.stdout:  # keep typing for ~7 s after the first keystroke
            n, when = line.split()
            typed[int(n)] = float(when)
            start = start or float(when)
            if float(when) - start > 7:
                break
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        watchdog.cancel()
    killed_at = time.time()
    drafts = list((studio_home / "drafts").glob("*.json"))
    assert len(drafts) == 1
    text = json.loads(drafts[0].read_text())["text"]
    last_saved = max(int(w[1:]) for w in text.split())
    assert killed_at - typed[last_saved] <= 5.0, (killed_at - typed[last_saved], last_saved, len(typed))


def test_watermarked_generation_then_check_watermark_shows_the_z_score(make_window, qtbot, ui_llama) -> None:
    _window, panel = _text_window(make_window, ui_llama)
    tab = _type(qtbot, panel, "The studio draws")
    panel.sampling.watermark.setChecked(True)
    panel.sampling.max_tokens.setValue(40)
    assert panel.continue_text()
    qtbot.waitUntil(lambda: not panel.busy, timeout=90_000)
    assert tab.draft.meta["watermark"]["hashing_key"]  # the settings a later check needs travel with the draft
    assert panel.check_watermark()
    qtbot.waitUntil(lambda: not panel.busy, timeout=90_000)
    assert "Watermark check: z = " in panel.message.text(), panel.message.text()
    assert isinstance(panel.last_detection["z_score"], float)


def test_a_model_folder_without_tokenizer_gives_a_clear_message(make_window, qtbot, ui_llama, tmp_path) -> None:
    import shutil

    broken = tmp_path / "no-tokenizer"
    broken.mkdir()
    for name in ("config.json", "generation_config.json", "model.safetensors"):
        shutil.copy(ui_llama / name, broken / name)
    _window, panel = _text_window(make_window, broken)
    tab = _type(qtbot, panel, "Hello there")
    assert panel.continue_text()
    qtbot.waitUntil(lambda: not panel.busy, timeout=60_000)
    assert "no tokenizer" in panel.message.text() and "Nothing was changed" in panel.message.text()
    assert tab.text() == "Hello there" and not tab.edit.isReadOnly()


def test_an_unreadable_draft_is_reported_and_kept(make_window, studio_home) -> None:
    drafts = studio_home / "drafts"
    drafts.mkdir(parents=True, exist_ok=True)
    (drafts / "broken.json").write_text("{ not json")
    window = make_window()
    panel = window.editor_panel
    panel.start()
    assert "broken.json" in panel.message.text() and "nothing was deleted" in panel.message.text()
    assert (drafts / "unreadable" / "broken.json").read_text() == "{ not json"
    assert not panel.banner.isVisibleTo(panel)
    assert panel.tabs.count() == 1
