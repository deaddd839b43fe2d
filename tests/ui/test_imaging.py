"""Prompt panel, canvas and gallery against real generation on a tiny Stable Diffusion pipeline."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QImage
from PySide6.QtWidgets import QApplication

from studio.core.requests import GenerationRequest
from studio.jobs.queue import JobState
from studio.plugins import PluginRegistry
from studio.session import StudioSession
from studio.ui.bridge import JobBridge
from studio.ui.window import MainWindow
from tests.ui.window_helpers import canvas_mask, click_generate

WAIT_MS = 60_000


@pytest.fixture
def sd_window(qtbot, tiny_sd_folder: Path) -> Iterator[MainWindow]:
    """A window on a real session whose prompt panel is set for a 32×32, 2-step tiny-SD job."""
    bridge = JobBridge()
    session = StudioSession(registry=PluginRegistry.from_environment(), listener=bridge)
    window = MainWindow(session, bridge, probe_command=None)
    bridge.setParent(window)
    session.runner.start()
    window.show()
    qtbot.waitExposed(window)
    panel = window.prompt_panel
    panel.model.setEditText(str(tiny_sd_folder))
    panel.prompt.setPlainText("a red circle")
    panel.steps.setValue(2)
    panel.width_box.setValue(32)
    panel.height_box.setValue(32)
    panel.seed.setValue(7)
    yield window
    session.runner.stop()
    window.close()
    window.shutdown()
    session.close()
    window.deleteLater()


def _finish(window: MainWindow, qtbot, job_id: int):
    qtbot.waitUntil(lambda: window.session.queue.get(job_id).state.finished, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: not window.canvas_model.previewing, timeout=WAIT_MS)
    return window.session.queue.get(job_id)


def _pixels(image: QImage) -> np.ndarray:
    rgb = image.convertToFormat(QImage.Format.Format_RGB888)
    data = np.frombuffer(bytes(rgb.constBits()), np.uint8)[: rgb.sizeInBytes()]
    return data.reshape(rgb.height(), rgb.bytesPerLine())[:, : rgb.width() * 3].reshape(rgb.height(), rgb.width(), 3)


def _qimage(array: np.ndarray) -> QImage:
    h, w, _ = array.shape
    return QImage(array.tobytes(), w, h, w * 3, QImage.Format.Format_RGB888).copy()


def _drop(target, paths: list[Path]) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    buttons, keys = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    enter = QDragEnterEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, buttons, keys)
    QApplication.sendEvent(target, enter)  # Qt delivers a drop only where the drag was accepted
    assert enter.isAccepted()
    QApplication.sendEvent(target, QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, buttons, keys))


# -- generation --------------------------------------------------------------------------------
def test_previews_reach_the_canvas_then_the_result_the_gallery_and_use_these_settings(sd_window, qtbot) -> None:
    window = sd_window
    seen: list[tuple[bool, int]] = []
    window.canvas_model.image_changed.connect(lambda img: seen.append((window.canvas_model.previewing, img.width())))
    job = click_generate(window, qtbot, timeout=5000)
    done = _finish(window, qtbot, job.id)
    assert done.state is JobState.DONE, done.error
    assert any(previewing for previewing, _ in seen), "no live preview reached the canvas"
    assert window.canvas.showing_image()
    assert window.canvas_model.document.size().width() == 32  # the result is on the canvas
    # the gallery refreshes and lists it; "Use these settings" fills the prompt panel
    gallery = window.gallery_panel
    qtbot.waitUntil(lambda: window.gallery_model.rowCount() == 1, timeout=WAIT_MS)
    assert gallery.stack.currentWidget() is gallery.list
    item = window.gallery_model.item(0)
    assert item.seed == 7 and item.prompt == "a red circle"
    panel = window.prompt_panel
    panel.prompt.setPlainText("something else")
    panel.steps.setValue(9)
    panel.seed.setValue(-1)
    gallery.select_item(item.id)
    assert "Seed 7" in gallery.details.text() and "2 steps" in gallery.details.text()
    qtbot.mouseClick(gallery.use_button, Qt.MouseButton.LeftButton)
    assert panel.prompt.toPlainText() == "a red circle"
    assert (panel.steps.value(), int(panel.seed.value())) == (2, 7)
    assert panel.request().to_dict() | {"init_image": None} == item.request.to_dict() | {"init_image": None}
    # "Reuse last" fixes the seed of the last image made
    panel.seed.setValue(-1)
    assert panel.reuse_seed.isEnabled()
    qtbot.mouseClick(panel.reuse_seed, Qt.MouseButton.LeftButton)
    assert int(panel.seed.value()) == 7


def test_cancel_stops_a_running_generation_and_drops_its_preview(sd_window, qtbot) -> None:
    window = sd_window
    window.prompt_panel.steps.setValue(400)
    job = click_generate(window, qtbot, timeout=5000)
    qtbot.waitUntil(lambda: window.session.queue.get(job.id).step >= 2, timeout=WAIT_MS)
    window.cancel_job(job.id)
    final = _finish(window, qtbot, job.id)
    assert final.state is JobState.CANCELLED
    assert final.step < 400
    assert window.canvas_model.image.isNull()  # the half-made preview went; the canvas is as before
    assert not window.canvas.showing_image()
    assert window.session.gallery.search() == []


def test_inpaint_from_a_painted_mask_keeps_every_unmasked_pixel(sd_window, qtbot) -> None:
    window = sd_window
    canvas, model, panel = window.canvas, window.canvas_model, window.prompt_panel
    original = np.random.default_rng(3).integers(0, 255, (32, 32, 3), dtype=np.uint8)
    model.set_document(_qimage(original))
    assert panel.mode.currentText() == "img2img"
    canvas.feather.setValue(0)
    canvas.brush_size.setValue(10)
    # B picks the brush; one click of the brush on the view paints a dab; then a stroke across the middle
    view = canvas.view
    qtbot.waitUntil(lambda: view.zoom > 1)
    window.activateWindow()
    view.setFocus()
    qtbot.waitUntil(view.hasFocus)
    qtbot.keyClick(view, Qt.Key.Key_B)
    assert view.tool == "brush"
    centre = (view.offset + QPointF(16, 16) * view.zoom).toPoint()
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=centre)
    assert canvas_mask(window)[16, 16] == 255
    model.paint_stroke([(10, 16), (22, 16)])
    assert panel.mode.currentText() == "inpaint"
    mask = canvas_mask(window).copy()
    assert 0 < (mask > 0).sum() < 32 * 32 / 2
    job = click_generate(window, qtbot, timeout=5000)
    done = _finish(window, qtbot, job.id)
    assert done.state is JobState.DONE, done.error
    assert done.request.mask and done.request.init_image
    assert Path(done.request.mask).parent == Path(done.request.init_image).parent
    assert "cache" in Path(done.request.mask).parts
    result = np.asarray(Image.open(done.result.artifacts[0].path).convert("RGB"))
    keep = mask == 0
    assert np.array_equal(result[keep], original[keep])
    assert not np.array_equal(result[~keep], original[~keep])
    # the result is on the canvas, and compare shows the image it started from
    assert np.array_equal(_pixels(model.document), result)
    assert np.array_equal(_pixels(model.before), original)
    assert canvas.compare_action.isEnabled()
    # the mask is kept for another run: Mode stays inpaint and the next request has the mask
    assert np.array_equal(canvas_mask(window), mask)
    assert panel.mode.currentText() == "inpaint" and panel.request().mask
    # undo puts the painted image back, with its mask, still in inpaint
    model.undo_stack.undo()
    assert np.array_equal(_pixels(model.document), original)
    assert np.array_equal(canvas_mask(window), mask)
    assert panel.mode.currentText() == "inpaint" and panel.request().mask
    assert not canvas.compare_action.isEnabled()  # nothing to compare on the image it started from


# -- canvas edits without generation --------------------------------------------------------------
def test_undo_and_redo_of_a_mask_stroke_restore_its_pixels(make_window, qtbot) -> None:
    window = make_window()
    model = window.canvas_model
    model.set_document(_qimage(np.full((64, 64, 3), 90, np.uint8)))
    model.brush_size = 8
    model.paint_stroke([(8, 8), (40, 8)])
    painted = canvas_mask(window).copy()
    assert painted[8, 20] == 255 and painted[40, 40] == 0
    model.paint_stroke([(20, 2), (20, 14)], erase=True)
    assert canvas_mask(window)[8, 20] == 0
    model.undo_stack.undo()
    assert np.array_equal(canvas_mask(window), painted)
    model.undo_stack.undo()
    assert not canvas_mask(window).any()
    model.undo_stack.redo()
    assert np.array_equal(canvas_mask(window), painted)
    # the Edit menu's Undo acts on the focused canvas too
    window.canvas.view.setFocus()
    qtbot.waitUntil(window.canvas.view.hasFocus)
    window.canvas.view.undo()
    assert not canvas_mask(window).any()


def test_extend_masks_the_new_area_for_outpainting_and_undo_shrinks_it(make_window, qtbot) -> None:
    window = make_window()
    model, panel, canvas = window.canvas_model, window.prompt_panel, window.canvas
    model.set_document(_qimage(np.full((32, 32, 3), 200, np.uint8)))
    canvas.extend_side.setCurrentText("right")
    canvas.extend_by.setValue(16)
    canvas.extend_action.trigger()
    assert (model.document.width(), model.document.height()) == (48, 32)
    assert panel.mode.currentText() == "outpaint"
    mask = canvas_mask(window)
    assert mask[:, 32:].min() == 255 and mask[:, :32].max() == 0
    model.feather = 0
    panel.model.setEditText("some-model")
    request = panel.request()
    assert (request.width, request.height) == (48, 32)
    written = np.asarray(Image.open(request.mask))
    assert written[:, 32:].min() == 255 and written[:, :32].max() == 0
    model.undo_stack.undo()
    assert (model.document.width(), model.document.height()) == (32, 32)


def test_a_dropped_text_file_gives_a_message_and_changes_nothing(make_window, qtbot, tmp_path) -> None:
    window = make_window()
    model = window.canvas_model
    start = _qimage(np.full((16, 16, 3), 50, np.uint8))
    model.set_document(start)
    shown = model.document
    window.prompt_panel.prompt.setPlainText("keep me")
    notices: list[str] = []
    window.statusBar().messageChanged.connect(notices.append)
    note = tmp_path / "notes.txt"
    note.write_text("not a picture")
    _drop(window.canvas, [note])
    qtbot.waitUntil(lambda: any("notes.txt" in n for n in notices), timeout=WAIT_MS)
    assert "not an image" in notices[-1]
    assert model.document.cacheKey() == shown.cacheKey() and model.undo_stack.count() == 1
    assert window.prompt_panel.prompt.toPlainText() == "keep me"
    # a real image dropped on the canvas opens there
    Image.new("RGB", (24, 16), (10, 200, 30)).save(tmp_path / "green.png")
    _drop(window.canvas, [tmp_path / "green.png"])
    qtbot.waitUntil(lambda: model.document.width() == 24, timeout=WAIT_MS)
    assert window.prompt_panel.mode.currentText() == "img2img"
    assert window.prompt_panel.prompt.toPlainText() == "keep me"  # it carried no parameters


def test_dropping_an_a1111_or_comfyui_png_on_the_window_recalls_its_parameters(make_window, qtbot, tmp_path) -> None:
    window = make_window()
    panel = window.prompt_panel
    info = PngInfo()
    info.add_text("parameters", "a lighthouse at dusk, oil\nNegative prompt: blurry\n"
                  "Steps: 23, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 6.5, Seed: 3141592653, "
                  "Size: 640x448, Model hash: abc123, Model: dreamy")
    Image.new("RGB", (8, 8)).save(tmp_path / "a1111.png", pnginfo=info)
    _drop(window, [tmp_path / "a1111.png"])
    qtbot.waitUntil(lambda: panel.prompt.toPlainText() == "a lighthouse at dusk, oil", timeout=WAIT_MS)
    assert panel.negative.toPlainText() == "blurry"
    assert (int(panel.seed.value()), panel.steps.value()) == (3141592653, 23)
    assert panel.scheduler.currentText() == "DPM++ 2M Karras"
    assert (panel.width_box.value(), panel.height_box.value(), panel.guidance.value()) == (640, 448, 6.5)
    assert "AUTOMATIC1111" in panel.feedback.text() and "dreamy" in panel.feedback.text()
    assert not window.canvas_model.has_image()  # dropped beside the canvas: settings only
    panel.prompt.setPlainText("typed")
    _drop(panel.prompt.viewport(), [tmp_path / "a1111.png"])  # on the prompt box: recalled, not pasted
    qtbot.waitUntil(lambda: panel.prompt.toPlainText() == "a lighthouse at dusk, oil", timeout=WAIT_MS)
    graph = {
        "3": {"class_type": "KSampler", "inputs": {"seed": 42, "steps": 12, "cfg": 5.0, "sampler_name": "euler",
                                                    "scheduler": "normal", "positive": ["6", 0],
                                                    "negative": ["7", 0], "latent_image": ["5", 0]}},
        "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 512, "height": 768, "batch_size": 1}},
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a comfy cat"}},
        "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "dogs"}},
    }
    info = PngInfo()
    info.add_text("prompt", json.dumps(graph))
    Image.new("RGB", (8, 8)).save(tmp_path / "comfy.png", pnginfo=info)
    _drop(window, [tmp_path / "comfy.png"])
    qtbot.waitUntil(lambda: panel.prompt.toPlainText() == "a comfy cat", timeout=WAIT_MS)
    assert (panel.negative.toPlainText(), int(panel.seed.value()), panel.steps.value()) == ("dogs", 42, 12)
    assert (panel.scheduler.currentText(), panel.height_box.value()) == ("Euler", 768)


# -- gallery ----------------------------------------------------------------------------------------
def _add_images(window: MainWindow, tmp_path: Path) -> list[int]:
    ids = []
    for n, (prompt, model) in enumerate((("a red fox", "/m/alpha"), ("a blue whale", "/m/beta"),
                                         ("a red kite", "/m/beta"))):
        path = tmp_path / f"img{n}.png"
        Image.new("RGB", (16, 16), (40 * n, 100, 100)).save(path)
        request = GenerationRequest(model=model, prompt=prompt, seed=n, steps=5 + n, width=16, height=16)
        ids.append(window.session.gallery.add(path, request, n).id)
    return ids


def test_gallery_filter_star_trash_and_restore_show_in_the_view(make_window, qtbot, tmp_path) -> None:
    window = make_window()
    gallery, model = window.gallery_panel, window.gallery_model
    fox, whale, kite = _add_images(window, tmp_path)

    def shown() -> set[int]:
        return {model.item(r).id for r in range(model.rowCount())}

    def settle(expected: set[int]) -> None:
        qtbot.waitUntil(lambda: not model.searching and shown() == expected, timeout=WAIT_MS)

    model.refresh()
    settle({fox, whale, kite})
    qtbot.keyClicks(gallery.search, "red")
    settle({fox, kite})
    gallery.model_filter.setText("beta")
    settle({kite})
    gallery.search.clear()
    gallery.model_filter.clear()
    settle({fox, whale, kite})
    # by date: an image from ten days ago drops out of "Last 7 days"
    window.session.gallery._db.execute("UPDATE items SET created_at = created_at - 864000 WHERE id = ?", (fox,))
    gallery.dates.setCurrentText("Last 7 days")
    settle({whale, kite})
    gallery.dates.setCurrentText("Any time")
    settle({fox, whale, kite})
    # star
    gallery.select_item(whale)
    qtbot.mouseClick(gallery.star_button, Qt.MouseButton.LeftButton)
    assert model.data(model.index(model.row_of(whale))).startswith("★")
    gallery.starred.setChecked(True)
    settle({whale})
    gallery.starred.setChecked(False)
    settle({fox, whale, kite})
    # delete to the trash, see it there, restore it
    gallery.select_item(fox)
    qtbot.mouseClick(gallery.delete_button, Qt.MouseButton.LeftButton)
    assert shown() == {whale, kite}
    assert Path(window.session.gallery.get(fox).path).exists()
    gallery.view_choice.setCurrentText("Trash")
    settle({fox})
    assert gallery.restore_button.isVisible() and not gallery.delete_button.isVisible()
    gallery.select_item(fox)
    qtbot.mouseClick(gallery.restore_button, Qt.MouseButton.LeftButton)
    assert shown() == set()
    assert gallery.stack.currentWidget() is gallery.empty
    gallery.view_choice.setCurrentText("Gallery")
    settle({fox, whale, kite})
    # trash one and empty the trash: it is gone for good
    gallery.select_item(kite)
    gallery.trash_selected()
    gallery.view_choice.setCurrentText("Trash")
    settle({kite})
    kite_path = Path(window.session.gallery.get(kite).path)
    qtbot.mouseClick(gallery.empty_trash_button, Qt.MouseButton.LeftButton)
    settle(set())
    assert not kite_path.exists()
    # open on the canvas
    gallery.view_choice.setCurrentText("Gallery")
    settle({fox, whale})
    gallery.select_item(whale)
    qtbot.mouseClick(gallery.open_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.canvas_model.document.width() == 16, timeout=WAIT_MS)
    assert gallery.selected_paths() == [window.session.gallery.get(whale).path]


def test_paste_from_the_clipboard_and_copy_back(make_window, qtbot) -> None:
    window = make_window()
    clipboard = QApplication.clipboard()
    clipboard.setImage(_qimage(np.full((8, 24, 3), 120, np.uint8)))
    window.canvas.paste()
    assert (window.canvas_model.document.width(), window.canvas_model.document.height()) == (24, 8)
    window.canvas_model.set_document(_qimage(np.full((16, 16, 3), 10, np.uint8)))
    window.canvas.copy()
    assert clipboard.image().width() == 16


def test_lora_stack_size_presets_and_size_feedback_reach_the_request(make_window, qtbot, tmp_path) -> None:
    from studio.core.library import ModelEntry

    window = make_window()
    panel = window.prompt_panel
    panel.model.setEditText("some-model")
    lora = tmp_path / "ink.safetensors"
    window.library_model.entries = [ModelEntry("ink", str(lora), "lora")]
    panel._fill_lora_menu()
    next(a for a in panel.lora_menu.actions() if a.text() == "ink").trigger()
    panel.add_lora(str(tmp_path / "paper.safetensors"), 0.4)
    panel._weight_box(0).setValue(0.8)
    assert [(Path(r.path).name, r.weight) for r in panel.request().loras] == [
        ("ink.safetensors", 0.8), ("paper.safetensors", 0.4)]
    panel.loras.selectRow(0)
    qtbot.mouseClick(panel.remove_lora_button, Qt.MouseButton.LeftButton)
    assert [Path(r.path).name for r in panel.request().loras] == ["paper.safetensors"]
    # presets set the size; an impossible size is pointed out before anything is queued
    panel.size_preset.setCurrentIndex(2)
    panel.size_preset.activated.emit(2)
    assert (panel.width_box.value(), panel.height_box.value()) == (1024, 1024)
    panel.width_box.setValue(1003)
    assert panel.size_note.isVisibleTo(panel) and "multiple of 8" in panel.size_note.text()
    assert panel.size_preset.currentText() == "Custom"
    panel.width_box.setValue(768)
    assert not panel.size_note.isVisibleTo(panel)
    # img2img without an image on the canvas says what to do and queues nothing
    panel.mode.setCurrentText("img2img")
    qtbot.mouseClick(panel.generate, Qt.MouseButton.LeftButton)
    assert "needs an image on the canvas" in panel.feedback.text()
    assert window.queue_model.rowCount() == 0


def test_zoom_fit_and_actual_size_and_dragging_the_image_out(make_window, qtbot) -> None:
    from PySide6.QtGui import QWheelEvent

    window = make_window()
    canvas, view = window.canvas, window.canvas.view
    window.canvas_model.set_document(_qimage(np.full((40, 30, 3), 77, np.uint8)))
    qtbot.waitUntil(lambda: view.zoom > 1)
    fitted = view.zoom
    centre = QPointF(view.width() / 2, view.height() / 2)
    wheel = QWheelEvent(centre, view.mapToGlobal(centre), QPoint(0, 0), QPoint(0, 240), Qt.MouseButton.NoButton,
                        Qt.KeyboardModifier.ControlModifier, Qt.ScrollPhase.NoScrollPhase, False)
    before = view.to_image(centre)
    QApplication.sendEvent(view, wheel)
    assert view.zoom > fitted
    after = view.to_image(centre)
    assert abs(before.x() - after.x()) < 1e-6 and abs(before.y() - after.y()) < 1e-6  # Ctrl+wheel: about the cursor
    canvas.actual_action.trigger()
    assert view.zoom == 1.0 and canvas.zoom_label.text() == "100 %"
    canvas.fit_action.trigger()
    assert view.zoom == pytest.approx(fitted)
    mime = canvas.drag_handle.mime_data()
    assert mime.hasImage() and mime.urls() and Path(mime.urls()[0].toLocalFile()).is_file()


def test_an_export_jobs_result_does_not_replace_the_canvas(qapp) -> None:
    from studio.core.requests import ExportRequest
    from studio.jobs.queue import Job
    from studio.ui.canvas_model import CanvasViewModel

    model = CanvasViewModel()
    mine = _qimage(np.full((8, 8, 3), 5, np.uint8))
    model.set_document(mine)
    shown = model.document
    export = Job(7, ExportRequest(images=("a.png",), out_dir="/tmp"), JobState.RUNNING, 0.0, started_at=1.0)
    model.on_job(export)
    model.on_progress(7, 1, 2, "writing a.png")
    model.on_job(Job(7, export.request, JobState.DONE, 0.0, started_at=1.0))
    model.show_result(7, _qimage(np.full((4, 4, 3), 9, np.uint8)))
    assert model.document.cacheKey() == shown.cacheKey() and model.caption == ""
    generation = Job(8, GenerationRequest(model="m", width=16, height=16), JobState.RUNNING, 0.0, started_at=1.0)
    model.on_job(generation)
    model.on_job(Job(8, generation.request, JobState.DONE, 0.0, started_at=1.0))
    model.show_result(8, _qimage(np.full((16, 16, 3), 9, np.uint8)))
    assert model.document.width() == 16 and model.caption == "Job 8 finished."
    model.undo_stack.undo()
    assert model.document.cacheKey() == shown.cacheKey()
    model.deleteLater()
