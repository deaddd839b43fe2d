"""Drafts when quitting and starting again: Save / Discard / Cancel on quit, and the restore offer that
is seen (the editor comes to the front) and made once."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox, QPushButton, QWidget

from studio.core.drafts import SESSION_MARKER, DraftStore
from studio.ui.panels.editor import EditorPanel


def _typed(qtbot, panel: EditorPanel, text: str) -> None:
    tab = panel.current_tab()
    tab.edit.setFocus()
    qtbot.keyClicks(tab.edit, text)


def _answer(panel: EditorPanel, button: QMessageBox.StandardButton) -> None:
    box = panel.quit_box
    assert box is not None and box.isVisible(), "no Save / Discard / Cancel question"
    box.button(button).click()
    QApplication.processEvents()


def test_quitting_with_an_unsaved_draft_asks_and_cancel_keeps_the_window_open(make_window, qtbot, studio_home) -> None:
    window = make_window()
    panel = window.editor_panel
    panel.start()
    _typed(qtbot, panel, "Caption ideas")

    window.close()
    assert window.isVisible()  # the question is asked first
    _answer(panel, QMessageBox.StandardButton.Cancel)
    assert window.isVisible() and panel.current_tab().text() == "Caption ideas"

    window.close()
    draft_id = panel.current_tab().draft.id
    _answer(panel, QMessageBox.StandardButton.Discard)
    assert not window.isVisible()  # discarded: the window closed
    assert not (studio_home / "drafts" / f"{draft_id}.json").exists()  # and the draft is not offered again
    assert DraftStore().recoverable() == []


def test_save_on_quit_writes_the_file_and_closes(make_window, qtbot, tmp_path: Path) -> None:
    notes = tmp_path / "notes.md"
    notes.write_text("Notes", encoding="utf-8")
    window = make_window()
    panel = window.editor_panel
    panel.start()
    tab = panel.open_document(str(notes))
    tab.edit.moveCursor(tab.edit.textCursor().MoveOperation.End)
    qtbot.keyClicks(tab.edit, " for the client")

    window.close()
    _answer(panel, QMessageBox.StandardButton.Save)
    assert not window.isVisible()
    assert notes.read_text(encoding="utf-8") == "Notes for the client"


def test_nothing_unsaved_closes_without_a_question(make_window) -> None:
    window = make_window()
    window.editor_panel.start()
    window.close()
    assert not window.isVisible() and window.editor_panel.quit_box is None


def _earlier_draft(text: str = "A draft from yesterday") -> str:
    store = DraftStore()
    draft = store.new("Yesterday", text)
    return draft.id


def test_the_restore_offer_is_in_front_of_the_gallery_and_made_once(make_window, qtbot, studio_home) -> None:
    _earlier_draft()
    window = make_window()
    gallery = window.docks["gallery"].widget()
    assert _on_screen(gallery) and not _on_screen(window.editor_panel)  # the gallery tab is in front at first
    panel = window.editor_panel
    panel.start()
    QApplication.processEvents()
    assert _on_screen(panel.banner)  # seen: the editor came to the front
    assert "Yesterday" in panel.banner_text.text()
    assert not _on_screen(gallery)
    panel.shutdown()  # a normal end, the offer left unanswered

    again = EditorPanel(window.library_model, window.bridge, window.submit, window.cancel_job)
    try:
        again.start()
        assert not again.banner.isVisibleTo(again)  # not at every start
    finally:
        again.shutdown()
        again.deleteLater()


def test_after_a_crash_the_offer_is_made_again_and_restoring_clears_it(make_window, qtbot, studio_home) -> None:
    _earlier_draft()
    store = DraftStore()
    store.mark_offered(store.recoverable())  # offered once already …
    (studio_home / "drafts" / SESSION_MARKER).write_text(str(_dead_pid()))  # … then the studio was killed
    window = make_window()
    panel = window.editor_panel
    panel.start()
    assert _on_screen(panel.banner)
    qtbot.mouseClick(_banner_button(panel, "Restore"), Qt.MouseButton.LeftButton)
    assert not panel.banner.isVisibleTo(panel)
    assert panel.current_tab().text() == "A draft from yesterday"


def test_declining_the_offer_clears_it(make_window, qtbot, studio_home) -> None:
    draft_id = _earlier_draft()
    window = make_window()
    panel = window.editor_panel
    panel.start()
    qtbot.mouseClick(_banner_button(panel, "Discard"), Qt.MouseButton.LeftButton)
    assert not panel.banner.isVisibleTo(panel)
    assert not (studio_home / "drafts" / f"{draft_id}.json").exists()


def _on_screen(widget: QWidget) -> bool:
    """Shown and not covered (a dock tabbed behind another is covered)."""
    return widget.isVisible() and not widget.visibleRegion().isEmpty()


def _banner_button(panel: EditorPanel, text: str) -> QPushButton:
    return next(b for b in panel.banner.findChildren(QPushButton) if b.text() == text)


def _dead_pid() -> int:
    pid = 999_999
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except OSError:
            pass
        pid -= 1
