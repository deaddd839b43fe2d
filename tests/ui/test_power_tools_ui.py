"""The prompt dock's power tools (issue 16): hires fix, ControlNet and refiner widgets bound both ways
to the request, collapsed by default, and the dock still fits at 1024x700 with them open."""

from __future__ import annotations

from pathlib import Path

from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication

from studio.core.errors import BadInput
from studio.core.imagemeta import save_png
from studio.core.requests import ControlRef, GenerationRequest
from studio.ui.panels.power_tools import CANVAS_IMAGE
from studio.ui.recall import recall
from tests.ui.test_layout import _check_prompt_dock, _inside_horizontally, _resized

RECALLED = GenerationRequest(
    model="/m/painter", prompt="a harbour", hires_scale=2.0, hires_strength=0.35, upscaler="/u/4x-ultra.safetensors",
    controls=(ControlRef("/c/canny-net", "/img/edges.png", 0.6, 0.1, 0.7, "canny"),
              ControlRef("/c/depth.safetensors", "/img/depth.png", 1.2, 0.0, 1.0, "")),
    refiner="/m/sdxl-refiner", refiner_at=0.75,
)


def test_sections_are_collapsed_by_default_and_the_request_keeps_its_defaults(make_window) -> None:
    panel = make_window().prompt_panel
    tools = panel.power_tools
    assert not any(section.is_expanded() or section.body.isVisible() for section in tools.sections.values())
    assert panel.view_model.state == GenerationRequest()
    assert tools.hires.scale.currentText() == "Off" and not tools.hires.strength.isEnabled()


def test_each_control_reaches_the_built_request(make_window, tmp_path: Path) -> None:
    panel = make_window().prompt_panel
    panel.view_model.set("model", "/m/painter")
    tools = panel.power_tools
    hires = tools.hires
    hires.scale.setCurrentIndex(hires.scale.findText("1.5×"))
    hires.scale.activated.emit(hires.scale.currentIndex())
    hires.strength.setValue(0.3)
    hires.set_upscaler_file("/u/esrgan.pth")
    edges = tmp_path / "edges.png"
    Image.new("RGB", (64, 64), (10, 20, 30)).save(edges)
    tools.controls.add_control("/c/canny-net")
    row = tools.controls.rows[0]
    row.set_image_file(str(edges))
    row.weight.setValue(0.8)
    row.start.setValue(0.2)
    row.end.setValue(0.6)
    row.preprocess.setCurrentIndex(row.preprocess.findData("canny"))
    row.preprocess.activated.emit(row.preprocess.currentIndex())
    tools.refiner.path.setText(" /m/refiner ")
    tools.refiner.at.setValue(0.7)

    request = panel.request()
    assert (request.hires_scale, request.hires_strength, request.upscaler) == (1.5, 0.3, "/u/esrgan.pth")
    assert request.controls == (ControlRef("/c/canny-net", str(edges), 0.8, 0.2, 0.6, "canny"),)
    assert (request.refiner, request.refiner_at) == ("/m/refiner", 0.7)

    hires.scale.setCurrentIndex(hires.scale.findText("Custom"))
    hires.scale.activated.emit(hires.scale.currentIndex())
    assert hires.custom_scale.isVisibleTo(hires)
    hires.custom_scale.setValue(2.5)
    assert panel.request().hires_scale == 2.5
    row.remove.click()
    assert panel.request().controls == () and tools.controls.rows == []


def test_a_control_on_the_canvas_image_gets_the_canvas_file(make_window) -> None:
    window = make_window()
    panel = window.prompt_panel
    panel.view_model.set("model", "/m/painter")
    panel.power_tools.controls.add_control("/c/canny-net")
    assert panel.view_model.state.controls[0].image == CANVAS_IMAGE
    try:
        panel.request()
        raise AssertionError("an empty canvas gave a control image")
    except BadInput as exc:
        assert "canvas is empty" in exc.user_text()
    picture = QImage(48, 32, QImage.Format.Format_RGB32)
    picture.fill(Qt.GlobalColor.red)
    window.canvas_model.set_document(picture)
    panel.set_mode("txt2img")
    request = panel.request()
    image = request.controls[0].image
    assert image != CANVAS_IMAGE and Path(image).is_file() and request.init_image is None
    assert Image.open(image).size == (48, 32)


def test_recalled_settings_show_in_the_widgets(make_window) -> None:
    panel = make_window().prompt_panel
    tools = panel.power_tools
    panel.apply_request(RECALLED)
    assert tools.hires.scale.currentText() == "2×" and tools.hires.strength.value() == 0.35
    assert tools.hires.upscaler.currentData() == "/u/4x-ultra.safetensors" and tools.hires.strength.isEnabled()
    shown = [row.control() for row in tools.controls.rows]
    assert shown == list(RECALLED.controls)
    assert tools.controls.rows[0].preprocess.currentText() == "Canny edges"
    assert tools.refiner.path.text() == "/m/sdxl-refiner" and tools.refiner.at.value() == 0.75
    assert all(section.is_expanded() for section in tools.sections.values())  # a tool in use is shown
    tools.expand_all(False)  # collapsed, a section still says that its tool is on
    headers = [section.header.text() for section in tools.sections.values()]
    assert headers == ["High resolution · 2×", "ControlNet · 2", "Refiner (SDXL) · at 0.75"]
    assert panel.view_model.state.replace(prompt="a harbour") == RECALLED

    panel.apply_request(RECALLED.replace(hires_scale=3.25, controls=(), refiner="", upscaler="lanczos"))
    assert tools.hires.scale.currentText() == "Custom" and tools.hires.custom_scale.value() == 3.25
    assert tools.controls.rows == [] and tools.refiner.path.text() == ""
    assert tools.hires.upscaler.currentText() == "Lanczos"
    assert [section.header.text() for section in tools.sections.values()][1:] == ["ControlNet", "Refiner (SDXL)"]


def test_the_dock_still_fits_at_1024_by_700_with_every_section_open(make_window, qtbot) -> None:
    window = make_window()
    _resized(window, qtbot, 1024, 700)
    panel = window.prompt_panel
    panel.apply_request(RECALLED)
    panel.power_tools.expand_all()
    QApplication.processEvents()
    _check_prompt_dock(window)
    for widget in (panel.power_tools.hires.upscaler_file, panel.power_tools.refiner.browse,
                   *(row.remove for row in panel.power_tools.controls.rows),
                   *(row.end for row in panel.power_tools.controls.rows)):
        panel.scroll.ensureWidgetVisible(widget)
        QApplication.processEvents()
        assert _inside_horizontally(widget, panel.scroll), widget


def test_use_these_settings_of_a_gallery_picture_fills_the_power_tools(make_window, qtbot, tmp_path: Path) -> None:
    window = make_window()
    panel, gallery = window.prompt_panel, window.gallery_panel
    Image.new("RGB", (16, 16), (10, 20, 30)).save(tmp_path / "made.png")
    item_id = window.session.gallery.add(tmp_path / "made.png", RECALLED, 7).id  # stored in SQLite, read back
    window.gallery_model.refresh()
    qtbot.waitUntil(lambda: window.gallery_model.rowCount() == 1, timeout=15_000)
    gallery.select_item(item_id)
    qtbot.mouseClick(gallery.use_button, Qt.MouseButton.LeftButton)
    tools = panel.power_tools
    assert [row.control() for row in tools.controls.rows] == list(RECALLED.controls)
    assert (tools.hires.scale_value(), tools.hires.upscaler.currentData()) == (2.0, "/u/4x-ultra.safetensors")
    assert tools.refiner.path.text() == "/m/sdxl-refiner"
    request = panel.request()
    assert (request.controls, request.hires_scale, request.refiner_at) == (RECALLED.controls, 2.0, 0.75)


def test_generate_queues_the_power_tools_and_the_job_gives_them_back(make_window, qtbot, ui_model) -> None:
    window = make_window()
    panel = window.prompt_panel
    panel.view_model.update({"model": str(ui_model), "prompt": "a kite", "steps": 2, "width": 64, "height": 64})
    panel.power_tools.hires.set_upscaler_file("/u/esrgan.pth")
    panel.power_tools.hires.scale.setCurrentIndex(2)
    panel.power_tools.hires.scale.activated.emit(2)
    job = panel.submit()
    assert job is not None, panel.feedback.text()
    assert (job.request.hires_scale, job.request.upscaler) == (2.0, "/u/esrgan.pth")
    panel.apply_request(GenerationRequest())
    assert panel.power_tools.hires.scale.currentText() == "Off"
    window.use_job_settings(window.session.queue.get(job.id))
    assert panel.power_tools.hires.scale.currentText() == "2×"
    assert panel.power_tools.hires.upscaler.currentText() == "esrgan.pth"


def test_a_dropped_studio_picture_recalls_the_power_tools(make_window, tmp_path: Path) -> None:
    panel = make_window().prompt_panel
    picture = save_png(Image.new("RGB", (16, 16)), tmp_path / "made.png", RECALLED, 9, {})
    source, fields = recall(str(picture))  # what a drop on the prompt dock reads (off the GUI thread)
    panel.apply_fields(fields, source or "")
    tools = panel.power_tools
    assert [row.control() for row in tools.controls.rows] == list(RECALLED.controls)
    assert (tools.hires.scale_value(), tools.hires.strength.value()) == (2.0, 0.35)
    assert (tools.refiner.path.text(), tools.refiner.at.value()) == ("/m/sdxl-refiner", 0.75)
