"""Every menu action, every keyboard shortcut and every dock button of the window, in each mode
(txt2img, img2img, inpaint, the editor focused), with and without a gallery selection: none may let
an exception reach the event loop, log a critical Qt message or hit an ambiguous shortcut."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer, QtMsgType, qInstallMessageHandler
from PySide6.QtGui import QAction, QImage, QKeySequence, QShortcut
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QAbstractButton, QApplication, QDialog, QMenu, QWidget
from shiboken6 import isValid

from studio.ui.tasks import wait_for_background
from studio.ui.window import MainWindow
from tests.ui.window_helpers import generate_gallery_item

MODES = ("txt2img", "img2img", "inpaint", "editor")
SKIPPED = {"Quit"}  # closes the window: triggered last, on its own


class Problems:
    """Exceptions reaching the event loop and critical (or ambiguous-shortcut) Qt messages."""

    def __init__(self) -> None:
        self.found: list[str] = []
        self.step = ""

    def excepthook(self, kind, value, _traceback) -> None:
        self.found.append(f"{self.step}: {kind.__name__}: {value}")

    def message(self, kind: QtMsgType, _context, text: str) -> None:
        if kind in (QtMsgType.QtCriticalMsg, QtMsgType.QtFatalMsg) or "Ambiguous shortcut" in text:
            self.found.append(f"{self.step}: Qt {kind.name}: {text}")


@pytest.fixture
def problems() -> Iterator[Problems]:
    recorder = Problems()
    old_hook = sys.excepthook
    sys.excepthook = recorder.excepthook
    old_handler = qInstallMessageHandler(recorder.message)
    try:
        yield recorder
    finally:
        sys.excepthook = old_hook
        qInstallMessageHandler(old_handler)


@pytest.fixture
def closer(qapp) -> Iterator[None]:
    """Close any modal dialog as soon as it shows (QMessageBox.aboutQt and static file dialogs block)."""

    def close_modal() -> None:
        modal = QApplication.activeModalWidget()
        if modal is not None:
            _dismiss(modal)

    timer = QTimer(interval=30)
    timer.timeout.connect(close_modal)
    timer.start()
    yield
    timer.stop()


def _menu_actions(menu: QMenu) -> Iterator[QAction]:
    for action in menu.actions():
        if action.isSeparator():
            continue
        if action.menu() is not None:
            yield from _menu_actions(action.menu())
        else:
            yield action


def _all_menu_actions(window: MainWindow) -> list[QAction]:
    return [a for top in window.menuBar().actions() for a in _menu_actions(top.menu())
            if a.text().replace("&", "") not in SKIPPED]


def _all_keys(window: MainWindow) -> list[QKeySequence]:
    """Every key sequence an action or shortcut of the window answers to (the Quit key left out)."""
    home_keys = getattr(window, "_home_keys", {})  # the window's own keys, also while yielded to a panel
    skipped = {key.toString() for top in window.menuBar().actions() for action in _menu_actions(top.menu())
               if action.text().replace("&", "") in SKIPPED
               for key in [*action.shortcuts(), *home_keys.get(action, [])]}
    keys: dict[str, QKeySequence] = {}
    for action in window.findChildren(QAction):
        for key in [*action.shortcuts(), *home_keys.get(action, [])]:
            if not key.isEmpty() and key.toString() not in skipped:
                keys.setdefault(key.toString(), key)
    for shortcut in window.findChildren(QShortcut):
        if not shortcut.key().isEmpty():
            keys.setdefault(shortcut.key().toString(), shortcut.key())
    return list(keys.values())


def _close_new_windows(window: MainWindow, before: set[QWidget]) -> None:
    for widget in QApplication.topLevelWidgets():
        if widget is not window and widget not in before and isValid(widget) and widget.isVisible():
            _dismiss(widget)
    QApplication.processEvents()


def _dismiss(widget: QWidget) -> None:
    """Close a window as a user would: a dialog is rejected (a message box without an Escape
    button ignores close())."""
    if isinstance(widget, QDialog):
        widget.reject()
    if widget.isVisible():
        widget.close()


def _set_mode(window: MainWindow, qtbot, mode: str, item_id: int | None = None) -> QWidget:
    """Put the window in ``mode`` and return the widget that gets the focus (``gallery``: the
    gallery list with image ``item_id`` selected, brought back from the trash if Delete sent it)."""
    canvas = window.canvas_model
    panel = window.prompt_panel
    if mode == "gallery" and item_id is not None:
        if window.session.gallery.get(item_id).trashed:
            window.session.gallery.restore(item_id)
            window.gallery_model.refresh()
        window.docks["gallery"].show()
        window.docks["gallery"].raise_()
        qtbot.waitUntil(lambda: window.gallery_model.row_of(item_id) >= 0, timeout=5000)
        window.gallery_panel.select_item(item_id)
        target: QWidget = window.gallery_panel.list
    elif mode in ("img2img", "inpaint"):
        image = QImage(64, 64, QImage.Format.Format_ARGB32)
        image.fill(0xFF3070B0)
        canvas.set_document(image, "A photo")
        if mode == "inpaint":
            canvas.paint_stroke([(8.0, 8.0), (40.0, 40.0)])
        panel.set_mode(mode)
        target = window.canvas.view
    elif mode == "txt2img":
        if canvas.has_image():
            canvas.clear()
        panel.set_mode("txt2img")
        target = panel.mode
    else:
        window.docks["editor"].show()
        window.docks["editor"].raise_()
        tab = window.editor_panel.current_tab() or window.editor_panel.new_document()
        tab.set_preview(False)  # Ctrl+Shift+P (pressed earlier) shows the rendered Markdown instead
        target = tab.edit
    window.raise_()
    window.activateWindow()
    window.windowHandle().requestActivate()  # after a modal box closed, activation may not come back
    qtbot.waitUntil(window.isActiveWindow, timeout=3000)
    target.setFocus()
    QApplication.processEvents()
    assert target.hasFocus(), f"{mode}: {type(target).__name__} cannot take the focus (visible: {target.isVisible()})"
    return target


def _press(key: QKeySequence) -> None:
    combo = key[0]
    focus = QApplication.focusWidget()
    if focus is not None:
        QTest.keyClick(focus, combo.key(), combo.keyboardModifiers())


@pytest.mark.parametrize("selected", [False, True], ids=["no-selection", "selection"])
def test_every_menu_action_and_shortcut_in_every_mode(
        make_window, qtbot, ui_model: Path, problems: Problems, closer, selected: bool) -> None:
    window = make_window()
    item_id = generate_gallery_item(window, qtbot, ui_model) if selected else None
    window.prompt_panel.model.setEditText(str(ui_model))
    before = set(QApplication.topLevelWidgets())
    actions = _all_menu_actions(window)
    assert len(actions) >= 25, [a.text() for a in actions]
    for mode in (*MODES, "gallery") if selected else MODES:
        for action in actions:
            _set_mode(window, qtbot, mode, item_id)
            if item_id is not None:
                window.gallery_panel.select_item(item_id)
            problems.step = f"{mode}, menu {action.text()!r}"
            action.trigger()
            QApplication.processEvents()
            if action.text().replace("&", "") == "Full Screen":
                action.trigger()
            _close_new_windows(window, before)
        keys = _all_keys(window)
        for key in keys:
            focus = _set_mode(window, qtbot, mode, item_id)
            if item_id is not None and mode not in ("editor", "gallery"):
                window.gallery_panel.select_item(item_id)
                focus.setFocus()
            problems.step = f"{mode}, key {key.toString()}"
            _press(key)
            QApplication.processEvents()
            _close_new_windows(window, before)
    wait_for_background(10_000)
    QApplication.processEvents()
    assert not problems.found, "\n".join(problems.found)


def test_every_panel_action_in_every_mode(make_window, qtbot, ui_model: Path, problems: Problems, closer) -> None:
    """The actions outside the menu bar too (canvas tools, gallery context menu, editor tool bar),
    with a gallery selection. Reveal in Folder is left out: it starts the desktop's file manager."""
    window = make_window()
    item_id = generate_gallery_item(window, qtbot, ui_model)
    window.prompt_panel.model.setEditText(str(ui_model))
    before = set(QApplication.topLevelWidgets())
    in_menus = set(_all_menu_actions(window))
    triggered: set[str] = set()
    for mode in MODES:
        for action in window.findChildren(QAction):
            text = action.text().replace("&", "")
            if (action in in_menus or action.menu() is not None or action.isSeparator() or not text
                    or text in SKIPPED or "Reveal" in text or not isValid(action)):
                continue
            _set_mode(window, qtbot, mode)
            window.gallery_panel.select_item(item_id)
            if not action.isEnabled():
                continue
            problems.step = f"{mode}, action {text!r}"
            action.trigger()
            QApplication.processEvents()
            triggered.add(text)
            _close_new_windows(window, before)
    wait_for_background(10_000)
    QApplication.processEvents()
    assert not problems.found, "\n".join(problems.found)
    assert len(triggered) >= 20, sorted(triggered)


def test_every_dock_button_in_every_mode(make_window, qtbot, ui_model: Path, problems: Problems, closer) -> None:
    window = make_window()
    item_id = generate_gallery_item(window, qtbot, ui_model)
    window.prompt_panel.model.setEditText(str(ui_model))
    before = set(QApplication.topLevelWidgets())
    clicked: set[str] = set()
    for mode in MODES:
        for key, dock in window.docks.items():
            try:
                _set_mode(window, qtbot, mode)
            except Exception as exc:
                raise AssertionError(f"after {problems.step}: {exc}") from exc
            window.gallery_panel.select_item(item_id)
            dock.show()
            dock.raise_()
            QApplication.processEvents()
            for button in dock.widget().findChildren(QAbstractButton):
                if not isValid(button) or not button.isVisible() or not button.isEnabled():
                    continue
                name = button.text() or button.toolTip() or button.objectName()
                problems.step = f"{mode}, {key} dock, button {name!r}"
                button.click()
                QApplication.processEvents()
                clicked.add(f"{key}:{name}")
                _close_new_windows(window, before)
    wait_for_background(10_000)
    QApplication.processEvents()
    assert not problems.found, "\n".join(problems.found)
    assert any(c.startswith("prompt:") for c in clicked) and any(c.startswith("gallery:") for c in clicked)


def test_quit_closes_the_window_cleanly(make_window, qtbot, problems: Problems) -> None:
    window = make_window()
    quit_action = next(a for top in window.menuBar().actions() for a in _menu_actions(top.menu())
                       if a.text().replace("&", "") == "Quit")
    problems.step = "Quit"
    quit_action.trigger()
    qtbot.waitUntil(lambda: not window.isVisible())
    assert not problems.found, "\n".join(problems.found)
