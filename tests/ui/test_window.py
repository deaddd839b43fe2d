"""The window opens with every panel, shows clear empty states and standard menus."""

from __future__ import annotations

from PySide6.QtGui import QKeySequence

from studio.ui.panels.canvas import EMPTY_TEXT
from studio.ui.panels.empty import EmptyState
from studio.ui.window import DOCKS


def test_window_opens_with_all_docks_and_empty_states(make_window) -> None:
    window = make_window()
    assert set(window.docks) == set(DOCKS)
    for key in ("prompt", "queue"):
        assert window.docks[key].isVisible(), key
    for key in ("gallery", "training"):  # the editor has its own tests (test_editor.py)
        widget = window.docks[key].widget()
        empty = widget.empty  # the gallery and the training monitor show one while empty
        assert isinstance(empty, EmptyState)
        assert "will" in empty.message() or "appear" in empty.message(), key
    assert "No image yet" in EMPTY_TEXT
    assert not window.canvas.showing_image()
    assert window.queue_panel.stack.currentWidget() is window.queue_panel.empty
    assert window.canvas.empty.title.text() == EMPTY_TEXT
    assert window.device_label.text() == "Device: detecting…"
    assert window.backend_label.text() == "Backend: torch"


def test_menus_offer_dock_toggles_and_standard_shortcuts(make_window) -> None:
    window = make_window()
    menus = {a.text().replace("&", ""): a.menu() for a in window.menuBar().actions()}
    assert list(menus) == ["File", "Edit", "View", "Models", "Jobs", "Training", "Tools", "Help"]
    view_titles = {a.text() for a in menus["View"].actions()}
    assert {"Prompt", "Gallery", "Queue", "Editor", "Training monitor", "Log"} <= view_titles
    actions = _actions(window)
    for text, key, fallback in (
        ("Quit", QKeySequence.StandardKey.Quit, "Ctrl+Q"),
        ("Copy", QKeySequence.StandardKey.Copy, "Ctrl+C"),
        ("Undo", QKeySequence.StandardKey.Undo, "Ctrl+Z"),
        ("Settings…", QKeySequence.StandardKey.Preferences, "Ctrl+,"),
    ):
        platform_keys = QKeySequence.keyBindings(key)
        assert actions[text].shortcuts() == (platform_keys or [QKeySequence(fallback)]), text
    window.docks["log"].toggleViewAction().trigger()
    assert not window.docks["log"].isVisible()


def test_edit_menu_acts_on_the_focused_field(make_window, qtbot) -> None:
    window = make_window()
    prompt = window.prompt_panel.prompt
    prompt.setFocus()
    qtbot.waitUntil(prompt.hasFocus)
    qtbot.keyClicks(prompt, "a fox")
    actions = _actions(window)
    actions["Select All"].trigger()
    actions["Cut"].trigger()
    assert prompt.toPlainText() == ""
    actions["Paste"].trigger()
    assert prompt.toPlainText() == "a fox"


def _actions(window) -> dict:
    return {a.text().replace("&", ""): a for top in window.menuBar().actions() for a in top.menu().actions()}


def test_log_panel_starts_with_the_tail_of_the_log_file(make_window) -> None:
    from studio.core.paths import log_file

    log_file().write_text("2026-01-01 10:00:00,000 INFO studio: an earlier session said hello\n")
    window = make_window()
    assert "an earlier session said hello" in window.log_panel.text()
