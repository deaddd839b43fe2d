"""The canvas across real runs: the mask kept after inpainting, compare after undo, a batch's strip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QImage

from studio.jobs.queue import JobState
from tests.plugin_helpers import manifest_text, write_plugin
from tests.ui.window_helpers import brush_drag, canvas_mask, click_generate, flat_image

WAIT_MS = 15_000
PLUGIN_ID = "canvastest"

# txt2img: one flat colour an image (image n of a batch: red 40·n); img2img: the init image with a
# blue stripe; inpaint: the init image, green where the mask is.
MODEL_CODE = """
from PIL import Image

from studio.plugins import ImageOutput, JobResult


class Model:
    def run(self, request, report, cancelled):
        report(1, 1)
        outputs = []
        for n in range(request.batch):
            if request.init_image:
                image = Image.open(request.init_image).convert("RGB")
                if request.mask:
                    mask = Image.open(request.mask).convert("L").point(lambda v: 255 if v > 127 else 0)
                    image.paste((0, 255, 0), (0, 0), mask)
                else:
                    image.paste((0, 0, 255), (0, 0, image.width, 4))
            else:
                image = Image.new("RGB", (request.width // 8, request.height // 8), (40 * n, 60, 90))
            outputs.append(ImageOutput(image, request.replace(seed=request.seed + n)))
        return JobResult(images=tuple(outputs))

    def unload(self):
        pass


def load(context):
    return Model()
"""


@pytest.fixture
def canvas_window(make_window, tmp_path: Path):
    """A window whose prompt panel runs the ``canvastest`` family (txt2img, img2img, inpaint)."""
    plugins = tmp_path / "plugins"
    write_plugin(plugins, "studio_canvastest", manifest_text(
        PLUGIN_ID, "studio_canvastest", model_files=("canvastest.json",),
        capabilities=("txt2img", "img2img", "inpaint")), MODEL_CODE)
    model = tmp_path / "models" / "canvas-model"
    model.mkdir(parents=True)
    (model / "canvastest.json").write_text("{}")
    window = make_window(extra_plugin_paths=(plugins,), trusted=("uitest", PLUGIN_ID))
    panel = window.prompt_panel
    panel.model.setEditText(str(model))
    panel.prompt.setPlainText("a hat")
    panel.steps.setValue(1)
    return window


def _rgb(image: QImage) -> tuple[int, int, int]:
    colour = image.pixelColor(image.width() // 2, image.height() - 1)
    return colour.red(), colour.green(), colour.blue()


def _run(window, qtbot):
    model = window.canvas_model
    job = click_generate(window, qtbot, timeout=5000)
    qtbot.waitUntil(lambda: window.session.queue.get(job.id).state.finished, timeout=WAIT_MS)
    done = window.session.queue.get(job.id)
    assert done.state is JobState.DONE, done.error
    qtbot.waitUntil(lambda: model.job_id == job.id and not model.previewing, timeout=WAIT_MS)
    return done


def test_the_mask_is_kept_after_inpainting_and_ctrl_z_keeps_mode_and_request_with_it(canvas_window, qtbot) -> None:
    window = canvas_window
    panel, model, canvas = window.prompt_panel, window.canvas_model, window.canvas
    model.set_document(flat_image(64, 64))
    qtbot.waitUntil(lambda: canvas.view.zoom > 1)
    canvas.brush_size.setValue(8)
    canvas.feather.setValue(0)
    brush_drag(window, qtbot, (10, 32), (54, 32))
    painted = canvas_mask(window)
    assert panel.mode.currentText() == "inpaint"
    done = _run(window, qtbot)
    assert done.request.mask
    result = np.asarray(Image.open(done.result.artifacts[0].path).convert("RGB"))
    assert tuple(result[32, 32]) == (0, 255, 0)  # repainted where the mask is
    # the mask stays for another try; Mode and the next request keep it
    assert np.array_equal(canvas_mask(window), painted)
    assert panel.mode.currentText() == "inpaint" and panel.request().mask
    # cleared on purpose: img2img, and the request has no mask
    canvas.clear_mask_action.trigger()
    assert not model.has_mask() and panel.mode.currentText() == "img2img" and panel.request().mask is None
    # Ctrl+Z on the canvas: the mask is back, so is inpaint, so is the request's mask
    qtbot.keyClick(canvas.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert np.array_equal(canvas_mask(window), painted)
    assert panel.mode.currentText() == "inpaint" and panel.request().mask
    # undo the result, then the stroke: the photo without a mask, img2img
    model.undo_stack.undo()
    assert _rgb(model.document) == (90, 90, 90) and panel.mode.currentText() == "inpaint"
    model.undo_stack.undo()
    assert not model.has_mask() and panel.mode.currentText() == "img2img" and panel.request().mask is None


def test_compare_is_offered_only_while_before_and_after_differ(canvas_window, qtbot) -> None:
    window = canvas_window
    model, canvas = window.canvas_model, window.canvas
    model.set_document(flat_image(64, 64))
    qtbot.waitUntil(lambda: canvas.view.zoom > 1)
    assert window.prompt_panel.mode.currentText() == "img2img"
    _run(window, qtbot)
    assert canvas.compare_action.isEnabled()
    canvas.compare_action.setChecked(True)
    assert canvas.view.compare and canvas.view.tool == "pan"
    rect = canvas.view.image_rect()  # with the Pan tool too, a drag moves the divider
    qtbot.mouseClick(canvas.view, Qt.MouseButton.LeftButton,
                     pos=QPointF(rect.left() + rect.width() / 4, rect.center().y()).toPoint())
    assert abs(canvas.view.split - 0.25) < 0.05
    model.undo_stack.undo()  # back on the image it started from: nothing to compare with
    assert not canvas.compare_action.isEnabled() and not canvas.compare_action.isChecked()
    assert not canvas.view.compare
    model.undo_stack.redo()
    assert canvas.compare_action.isEnabled()
    # a pasted photo: the caption no longer speaks of the job's image
    assert "finished" in canvas.caption.text()
    model.set_document(flat_image(32, 32, 10), "Paste image")
    assert canvas.caption.text() == "" and not canvas.compare_action.isEnabled()


def test_a_batch_shows_a_strip_to_pick_its_images_from(canvas_window, qtbot) -> None:
    window = canvas_window
    panel, model, strip = window.prompt_panel, window.canvas_model, window.canvas.batch_strip
    assert not strip.isVisible()
    panel.batch.setValue(3)
    done = _run(window, qtbot)
    assert len(done.result.artifacts) == 3
    qtbot.waitUntil(lambda: strip.count() == 3, timeout=WAIT_MS)
    assert strip.isVisible() and strip.currentRow() == 0
    assert _rgb(model.document) == (0, 60, 90)
    rect = strip.visualItemRect(strip.item(2))
    qtbot.mouseClick(strip.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert _rgb(model.document) == (80, 60, 90)
    assert panel.mode.currentText() == "txt2img"  # picking an image is not an edit of it
    model.undo_stack.undo()
    assert _rgb(model.document) == (0, 60, 90) and strip.currentRow() == 0
    # a single image later: the strip goes
    panel.batch.setValue(1)
    _run(window, qtbot)
    assert strip.count() == 0 and not strip.isVisible()
