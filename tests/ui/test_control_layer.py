"""A ControlNet's control image is shown as a layer on the canvas (#16): it appears when a control with
an image file is added, the canvas's Control layer toggle hides it, and it goes with the control."""

from __future__ import annotations

from pathlib import Path

from PIL import Image
from PySide6.QtGui import QColor, QImage

from studio.core.requests import ControlRef
from studio.ui.panels.power_tools import CANVAS_IMAGE


def _centre(window) -> QColor:
    view = window.canvas.view
    shot = view.grab().toImage()
    return QColor(shot.pixel(view.image_rect().center().toPoint()))


def test_the_control_image_is_a_layer_on_the_canvas(make_window, qtbot, tmp_path: Path) -> None:
    window = make_window()
    dark = QImage(64, 64, QImage.Format.Format_RGB32)
    dark.fill(QColor(20, 20, 20))
    window.canvas_model.set_document(dark)
    qtbot.wait(50)
    assert _centre(window).blue() < 40  # the picture alone
    assert not window.canvas.control_action.isEnabled()

    edges = tmp_path / "edges.png"
    Image.new("RGB", (32, 32), (255, 255, 255)).save(edges)  # a white (full) edge map: all cyan
    vm = window.prompt_panel.view_model
    vm.set("controls", (ControlRef(model=str(tmp_path / "net"), image=str(edges)),))
    qtbot.waitUntil(lambda: not window.canvas.view.control_layer.isNull(), timeout=5000)
    assert window.canvas.control_action.isEnabled() and window.canvas.control_action.isChecked()
    shown = _centre(window)
    assert shown.blue() > 150 and shown.green() > 120 and shown.red() < 60  # cyan over the dark picture

    window.canvas.control_action.trigger()  # hide the layer
    assert _centre(window).blue() < 40
    window.canvas.control_action.trigger()
    assert _centre(window).blue() > 150

    vm.set("controls", (ControlRef(model=str(tmp_path / "net"), image=CANVAS_IMAGE),))  # the canvas itself
    qtbot.waitUntil(lambda: window.canvas.view.control_layer.isNull(), timeout=5000)
    assert not window.canvas.control_action.isEnabled() and _centre(window).blue() < 40
