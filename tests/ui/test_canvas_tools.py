"""Canvas tools as in Krita/Photoshop: Pan by default, B/E/H and Space, [ ], Ctrl+0/1, the wheel."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication

from studio.jobs.queue import JobState
from tests.ui.window_helpers import flat_image, generate

WAIT_MS = 15_000


def _focus(window, widget, qtbot) -> None:
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    widget.setFocus()
    qtbot.waitUntil(widget.hasFocus)


def _wheel(view, modifiers: Qt.KeyboardModifier, notches: int = 1) -> None:
    centre = QPointF(view.width() / 3, view.height() / 3)
    event = QWheelEvent(centre, view.mapToGlobal(centre), QPoint(0, 0), QPoint(0, 120 * notches),
                        Qt.MouseButton.NoButton, modifiers, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(view, event)


def test_a_click_to_focus_a_result_neither_paints_nor_changes_the_mode(make_window, qtbot, ui_model) -> None:
    window = make_window()
    panel, model, view = window.prompt_panel, window.canvas_model, window.canvas.view
    job = generate(window, qtbot, ui_model, "a calm lake", steps=2)
    qtbot.waitUntil(lambda: window.session.queue.get(job.id).state is JobState.DONE, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: model.job_id == job.id and not model.previewing and model.has_image(), timeout=WAIT_MS)
    assert window.canvas.tool_actions["pan"].isChecked() and view.tool == "pan"
    centre = (view.offset + QPointF(32, 32) * view.zoom).toPoint()
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=centre)
    assert view.hasFocus()
    assert not model.has_mask()
    assert panel.mode.currentText() == "txt2img"


def test_tool_keys_work_from_the_canvas_and_the_window_but_not_in_a_text_field(make_window, qtbot) -> None:
    window = make_window()
    canvas, view, panel = window.canvas, window.canvas.view, window.prompt_panel
    window.canvas_model.set_document(flat_image(64, 48))
    _focus(window, view, qtbot)
    for key, tool in ((Qt.Key.Key_B, "brush"), (Qt.Key.Key_E, "eraser"), (Qt.Key.Key_H, "pan"),
                      (Qt.Key.Key_B, "brush")):
        qtbot.keyClick(view, key)
        assert view.tool == tool and canvas.tool_actions[tool].isChecked()
    # holding Space pans for as long as it is held
    qtbot.keyPress(view, Qt.Key.Key_Space)
    assert view.tool == "pan"
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=QPoint(40, 40))
    qtbot.mouseMove(view, QPoint(70, 50))
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=QPoint(70, 50))
    assert not window.canvas_model.has_mask()  # panned, not painted
    qtbot.keyRelease(view, Qt.Key.Key_Space)
    assert view.tool == "brush" and canvas.tool_actions["brush"].isChecked()
    # with another panel's (non-text) control focused, E still picks the eraser (a window shortcut)
    _focus(window, panel.mode, qtbot)
    qtbot.keyClick(panel.mode, Qt.Key.Key_E)
    assert view.tool == "eraser" and panel.mode.currentText() == "img2img"
    # typing in the prompt types letters
    _focus(window, panel.prompt, qtbot)
    qtbot.keyClicks(panel.prompt, "heb [b]")
    assert panel.prompt.toPlainText() == "heb [b]"
    assert view.tool == "eraser" and canvas.brush_size.value() == 24
    _focus(window, panel.steps, qtbot)  # a number field keeps its keys too
    qtbot.keyClicks(panel.steps, "b]")
    assert view.tool == "eraser" and canvas.brush_size.value() == 24


def test_brush_size_keys_fit_and_actual_size_keys_and_ctrl_wheel_zoom(make_window, qtbot) -> None:
    window = make_window()
    canvas, view, model = window.canvas, window.canvas.view, window.canvas_model
    model.set_document(flat_image(40, 30))
    qtbot.waitUntil(lambda: view.zoom > 1)
    fitted = view.zoom
    _focus(window, view, qtbot)
    notices: list[str] = []
    window.statusBar().messageChanged.connect(notices.append)
    qtbot.keyClick(view, Qt.Key.Key_BracketRight)
    assert canvas.brush_size.value() > 24 and model.brush_size == canvas.brush_size.value()
    assert f"{model.brush_size} px" in notices[-1]
    for _ in range(3):
        qtbot.keyClick(view, Qt.Key.Key_BracketLeft)
    assert canvas.brush_size.value() < 24
    # the plain wheel scrolls: the zoom stays, the picture moves
    offset = QPointF(view.offset)
    _wheel(view, Qt.KeyboardModifier.NoModifier)
    assert view.zoom == fitted and view.offset.y() > offset.y()
    # Ctrl+wheel zooms about the cursor
    anchor = QPointF(view.width() / 3, view.height() / 3)
    under = view.to_image(anchor)
    _wheel(view, Qt.KeyboardModifier.ControlModifier)
    assert view.zoom > fitted
    after = view.to_image(anchor)
    assert abs(after.x() - under.x()) < 1e-6 and abs(after.y() - under.y()) < 1e-6
    qtbot.keyClick(view, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    assert view.zoom == 1.0 and canvas.zoom_label.text() == "100 %"
    qtbot.keyClick(view, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier)
    assert abs(view.zoom - fitted) < 1e-9 and view.fitting
