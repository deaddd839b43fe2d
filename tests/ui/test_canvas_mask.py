"""The inpaint mask: Mode and mask agree through undo/redo; invert, grow, shrink, feather, clear."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from tests.ui.window_helpers import brush_drag, canvas_mask, flat_image


def _request_mask(window) -> str | None:
    panel = window.prompt_panel
    panel.model.setEditText("some-model")
    return panel.request().mask


def test_undoing_and_redoing_a_mask_keeps_mode_and_request_in_step(make_window, qtbot) -> None:
    window = make_window()
    panel, model = window.prompt_panel, window.canvas_model
    model.set_document(flat_image(64, 64))
    qtbot.waitUntil(lambda: window.canvas.view.zoom > 1)
    window.canvas.brush_size.setValue(8)
    assert panel.mode.currentText() == "img2img"
    brush_drag(window, qtbot, (10, 30), (50, 30))
    assert model.has_mask() and panel.mode.currentText() == "inpaint" and _request_mask(window)
    model.undo_stack.undo()  # the mask goes: inpaint would fail, img2img is what is left
    assert not model.has_mask() and panel.mode.currentText() == "img2img" and _request_mask(window) is None
    model.undo_stack.redo()
    assert panel.mode.currentText() == "inpaint" and _request_mask(window)
    # Clear Mask is undoable too, and so is the mode it implies
    qtbot.mouseClick(window.canvas.toolbar.widgetForAction(window.canvas.clear_mask_action),
                     Qt.MouseButton.LeftButton)
    assert not model.has_mask() and panel.mode.currentText() == "img2img"
    qtbot.keyClick(window.canvas.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert model.has_mask() and panel.mode.currentText() == "inpaint" and _request_mask(window)
    # undo past the stroke: the mode the canvas had before it (img2img), whatever was chosen since
    panel.mode.setCurrentText("txt2img")
    model.undo_stack.undo()
    assert not model.has_mask() and panel.mode.currentText() == "img2img"


def test_invert_grow_shrink_and_feather_are_each_one_undo_step(make_window, qtbot) -> None:
    window = make_window()
    canvas, model = window.canvas, window.canvas_model
    model.set_document(flat_image(64, 64))
    qtbot.waitUntil(lambda: canvas.view.zoom > 1)
    assert not canvas.mask_actions["grow"].isEnabled()  # nothing to grow yet
    canvas.brush_size.setValue(10)
    brush_drag(window, qtbot, (32, 32), (32, 32))
    painted = canvas_mask(window)
    area = int((painted > 0).sum())
    assert 50 < area < 150 and canvas.mask_actions["grow"].isEnabled()
    canvas.mask_amount.setValue(4)
    canvas.mask_actions["grow"].trigger()
    grown = canvas_mask(window)
    assert (grown >= painted).all() and (grown > 0).sum() > area + 100
    assert grown[32, 32 + 5 + 3] == 255 and grown[32, 32 + 5 + 6] == 0  # 4 px past the edge, no further
    canvas.mask_amount.setValue(3)
    canvas.mask_actions["shrink"].trigger()
    canvas.mask_actions["shrink"].trigger()
    shrunk = canvas_mask(window)
    assert 0 < (shrunk > 0).sum() < area
    canvas.mask_actions["feather"].trigger()
    soft = canvas_mask(window)
    assert ((soft > 0) & (soft < 255)).sum() > 20  # a soft edge
    canvas.mask_actions["invert"].trigger()
    assert np.array_equal(canvas_mask(window), 255 - soft)
    assert window.prompt_panel.mode.currentText() == "inpaint"
    for expected in (soft, shrunk, None, grown, painted):
        model.undo_stack.undo()
        if expected is not None:
            assert np.array_equal(canvas_mask(window), expected)
    assert model.undo_stack.undoText() == "Paint mask"


def test_the_no_mask_message_goes_once_a_mask_is_painted(make_window, qtbot) -> None:
    window = make_window()
    panel, model = window.prompt_panel, window.canvas_model
    panel.model.setEditText("some-model")
    panel.prompt.setPlainText("a hat")
    model.set_document(flat_image(64, 64))
    qtbot.waitUntil(lambda: window.canvas.view.zoom > 1)
    panel.mode.setCurrentText("inpaint")
    qtbot.mouseClick(panel.generate, Qt.MouseButton.LeftButton)
    assert panel.feedback.text().startswith("No mask is painted")
    brush_drag(window, qtbot, (20, 20), (40, 20))
    QApplication.processEvents()
    assert "No mask" not in panel.feedback.text()
    assert not panel.feedback_icon.isVisibleTo(panel)
