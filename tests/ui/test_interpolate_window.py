"""Models › Interpolate Between Pictures… on the real window with the shipped demo-vae: the dialog
starts from the canvas picture and the gallery's selection, a run fills the strip (first frame red on
the left, last blue on the right), the slider scrubs, a frame goes to the canvas, the frames are saved
like the command line's, a cancelled run leaves the dialog usable and errors are messages."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QFileDialog

from studio.core.paths import RESOURCES
from studio.core.requests import GenerationRequest
from studio.jobs import JobState
from studio.training import shapes
from studio.ui.dialogs.interpolate import KEEP_RUNS, InterpolateDialog, new_frames_folder
from studio.ui.window import MainWindow
from tests.vae.judge import shape_at

VAE_PLUGINS = RESOURCES.parent / "plugins" / "studio_vae"
WAIT_MS = 60_000
ACTION_TEXT = "&Interpolate Between Pictures…"


def _picture(folder: Path, name: str, colour: str, shape: str, position: str) -> Path:
    path = folder / f"{name}.png"
    shapes.render(shapes.ShapeSpec("large", colour, shape, position, "white")).save(path)
    return path


@pytest.fixture
def pictures(tmp_path: Path) -> tuple[Path, Path]:
    """A red circle on the left and a blue square on the right (the issue's example)."""
    return (_picture(tmp_path, "red", "red", "circle", "left"),
            _picture(tmp_path, "blue", "blue", "square", "right"))


def _vae_window(make_window, qtbot) -> MainWindow:
    """A window whose registry has the VAE family (and the UI test family); models scanned."""
    window = make_window(extra_plugin_paths=(VAE_PLUGINS,))
    window.library_model.refresh()
    qtbot.waitUntil(lambda: any(e.name == "demo-vae" for e in window.library_model.entries), timeout=WAIT_MS)
    return window


def _select_in_gallery(window: MainWindow, qtbot, path: Path) -> None:
    request = GenerationRequest(model="demo-vae", prompt="", seed=1, width=64, height=64)
    item = window.session.gallery.add(path, request, 1)
    window.gallery_model.refresh()
    qtbot.waitUntil(lambda: window.gallery_model.rowCount() == 1 and not window.gallery_model.searching,
                    timeout=WAIT_MS)
    window.gallery_panel.select_item(item.id)
    assert window.gallery_panel.selected_paths() == [str(path.resolve())]


def _open_from_menu(window: MainWindow) -> InterpolateDialog:
    menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Models")
    action = next(a for a in menu.actions() if a.text() == ACTION_TEXT)
    action.trigger()
    dialogs = window.findChildren(InterpolateDialog)
    assert len(dialogs) == 1 and dialogs[0].isVisible()
    return dialogs[0]


def _opened(make_window, qtbot, pictures: tuple[Path, Path]) -> tuple[MainWindow, InterpolateDialog]:
    window = _vae_window(make_window, qtbot)
    window.canvas_model.set_document(QImage(str(pictures[0])), "Open")
    _select_in_gallery(window, qtbot, pictures[1])
    return window, _open_from_menu(window)


def _run(qtbot, dialog: InterpolateDialog, frames: int) -> int:
    dialog.frames.setValue(frames)
    with qtbot.waitSignal(dialog.run_ended, timeout=WAIT_MS) as ended:
        dialog.run_button.click()
        job_id = dialog.job_id
    assert ended.args == ["done"], dialog.message.text()
    return job_id


def _pil(image: QImage) -> Image.Image:
    rgba = image.convertToFormat(QImage.Format.Format_RGBA8888)
    data = bytes(rgba.constBits())[: rgba.sizeInBytes()]
    return Image.frombuffer("RGBA", (rgba.width(), rgba.height()), data, "raw", "RGBA", rgba.bytesPerLine(), 1)


def _same_pixels(a: QImage, b: QImage) -> bool:
    return np.array_equal(np.asarray(_pil(a).convert("RGB")), np.asarray(_pil(b).convert("RGB")))


def _hold_at_first_frame(window: MainWindow) -> tuple[threading.Event, threading.Event, object]:
    """Make the next job wait on the worker after its first frame until ``release`` is set."""
    reached, release = threading.Event(), threading.Event()

    def hold(_job_id: int, step: int, _total: int, _message: str) -> None:
        if step >= 1 and not reached.is_set():
            reached.set()
            release.wait(20)

    return reached, release, window.bridge.progress.connect(hold, Qt.ConnectionType.DirectConnection)


def test_the_action_opens_the_dialog_on_the_canvas_and_gallery_pictures(make_window, qtbot, pictures) -> None:
    window, dialog = _opened(make_window, qtbot, pictures)
    assert dialog.first.caption.text() == "The canvas picture" and dialog.first.readable
    assert _same_pixels(QImage(dialog.first.path), window.canvas_model.document)
    assert dialog.last.path == str(pictures[1].resolve()) and dialog.last.readable
    assert not dialog.first.thumbnail.pixmap().isNull() and not dialog.last.thumbnail.pixmap().isNull()
    listed = [dialog.model.itemText(i) for i in range(dialog.model.count())]
    assert listed == ["demo-vae"]  # only families that declare "interpolate" (not the UI test family)
    assert dialog.model.currentText() == "demo-vae" and dialog.frames.value() == 8
    assert (dialog.frames.minimum(), dialog.frames.maximum()) == (2, 64)
    assert not dialog.open_button.isEnabled() and not dialog.save_button.isEnabled()


def test_a_run_fills_the_strip_and_the_slider_shows_frame_k(make_window, qtbot, pictures) -> None:
    window, dialog = _opened(make_window, qtbot, pictures)
    job_id = _run(qtbot, dialog, 4)
    strip = dialog.strip
    assert strip.strip.count() == 4 and len(strip.frames) == 4
    assert (strip.slider.minimum(), strip.slider.maximum()) == (0, 3)
    colour, x = shape_at(_pil(strip.frames[0]).convert("RGB"))
    assert colour == "red" and x < 32
    colour, x = shape_at(_pil(strip.frames[-1]).convert("RGB"))
    assert colour == "blue" and x > 32
    strip.slider.setValue(2)
    assert strip.strip.currentRow() == 2 and strip.position.text() == "Frame 3 of 4"
    shown = strip.preview.pixmap().toImage()
    assert _same_pixels(shown.scaled(64, 64), strip.frames[2])
    strip.strip.setCurrentRow(1)  # a click in the strip moves the slider
    assert strip.slider.value() == 1 and strip.current() == 1
    assert _same_pixels(window.canvas_model.image, QImage(str(pictures[0])))  # frames were not canvas previews
    queued = window.queue_model.job_by_id(job_id)
    assert queued is not None and queued.state is JobState.DONE and queued.request.kind == "interpolate"


def test_open_in_canvas_and_save_frames(make_window, qtbot, pictures, tmp_path: Path) -> None:
    window, dialog = _opened(make_window, qtbot, pictures)
    _run(qtbot, dialog, 4)
    dialog.strip.slider.setValue(3)
    dialog.open_button.click()
    assert _same_pixels(window.canvas_model.document, dialog.strip.frames[3])
    window.canvas_model.undo_stack.undo()  # the red circle comes back
    assert _same_pixels(window.canvas_model.document, QImage(str(pictures[0])))

    out = tmp_path / "frames"
    written = dialog.save_frames(str(out))
    assert [p.name for p in written] == [f"frame-{i:03d}.png" for i in range(4)]
    assert sorted(p.name for p in out.iterdir()) == [f"frame-{i:03d}.png" for i in range(4)]
    assert _same_pixels(QImage(str(out / "frame-002.png")), dialog.strip.frames[2])
    before = (out / "frame-000.png").read_bytes()
    assert dialog.save_frames(str(out)) == []  # never over the frames already there
    assert "already holds frame-000.png" in dialog.message.text()
    assert (out / "frame-000.png").read_bytes() == before


def test_cancel_mid_job_leaves_the_dialog_usable(make_window, qtbot, pictures) -> None:
    window, dialog = _opened(make_window, qtbot, pictures)
    reached, release, connection = _hold_at_first_frame(window)
    try:
        dialog.frames.setValue(64)
        with qtbot.waitSignal(dialog.run_ended, timeout=WAIT_MS) as ended:
            dialog.run_button.click()
            qtbot.waitUntil(reached.is_set, timeout=WAIT_MS)
            assert dialog.cancel_button.isEnabled() and not dialog.run_button.isEnabled()
            dialog.cancel_button.click()
            release.set()
    finally:
        release.set()
        window.bridge.progress.disconnect(connection)
    assert ended.args == ["cancelled"]
    assert "cancelled" in dialog.message.text() and dialog.strip.frames == []
    assert dialog.run_button.isEnabled() and not dialog.cancel_button.isEnabled()
    _run(qtbot, dialog, 3)  # the dialog runs on
    assert len(dialog.strip.frames) == 3


def test_a_bad_picture_or_a_model_without_interpolation_is_a_message(
        make_window, qtbot, pictures, tmp_path: Path, ui_model: Path) -> None:
    window, dialog = _opened(make_window, qtbot, pictures)
    jobs_before = len(window.session.queue.jobs())
    notes = tmp_path / "notes.png"
    notes.write_text("not a picture")
    dialog.last.browse.click()  # Browse… picks the file
    chooser = dialog.last.findChild(QFileDialog)
    chooser.selectFile(str(notes))
    chooser.accept()
    assert dialog.last.path == str(notes) and not dialog.last.readable
    assert dialog.last.thumbnail.text() == "Cannot read"
    assert dialog.run() is None
    assert "is not an image the studio can read" in dialog.message.text()

    dialog.last.set_path(str(pictures[1]))
    dialog.model.setEditText(str(ui_model))  # a model whose family cannot interpolate
    assert dialog.run() is None
    assert "cannot do 'interpolate'" in dialog.message.text()
    assert len(window.session.queue.jobs()) == jobs_before and dialog.run_button.isEnabled()

    dialog.model.setCurrentIndex(dialog.model.findText("demo-vae"))
    _run(qtbot, dialog, 2)  # the dialog runs on


def test_closing_the_dialog_mid_job_cancels_the_job(make_window, qtbot, pictures) -> None:
    window, dialog = _opened(make_window, qtbot, pictures)
    reached, release, connection = _hold_at_first_frame(window)
    try:
        dialog.frames.setValue(64)
        job = dialog.run()
        qtbot.waitUntil(reached.is_set, timeout=WAIT_MS)
        dialog.close()
        release.set()
    finally:
        release.set()
        window.bridge.progress.disconnect(connection)
    qtbot.waitUntil(lambda: window.session.queue.get(job.id).state.finished, timeout=WAIT_MS)
    assert window.session.queue.get(job.id).state is JobState.CANCELLED
    assert not window.bridge.watching(job.id)


def test_the_cache_keeps_the_frames_of_the_last_runs_only() -> None:
    made = []
    for _ in range(KEEP_RUNS + 3):
        folder = new_frames_folder()
        folder.mkdir()
        made.append(folder)
    kept = [folder for folder in made if folder.exists()]
    assert kept == made[-KEEP_RUNS:]
