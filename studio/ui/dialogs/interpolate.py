"""Interpolate between two pictures through a model's latent space (a VAE's): the window's twin of
``studio interpolate --model M A B --frames N --out DIR``.

The two ends start as the canvas picture and the gallery's selected image (Browse… picks files). The
models offered are those whose family declares the ``interpolate`` capability. Run queues an
:class:`~studio.core.requests.InterpolateRequest` with a finalize step (``JobRunner.submit``) that
writes the frames under ``STUDIO_HOME/cache/interpolate`` on the worker before the job is done; the
dialog follows the job through a :class:`~studio.ui.bridge.JobWatch` and shows the frames in a
:class:`~studio.ui.panels.frame_strip.FrameStrip`. "Open in canvas" puts the chosen frame on the
canvas (undoable); "Save frames…" copies them as ``frame-000.png`` … like the command line.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QImage, QImageReader
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from studio.core.errors import BadInput, StudioError
from studio.core.paths import home_path
from studio.core.requests import InterpolateRequest, Request
from studio.core.results import Artifact, JobResult
from studio.core.storage import atomic_copy_file, write_atomically
from studio.jobs.queue import Job
from studio.ui.bridge import JobBridge, JobWatch
from studio.ui.panels.frame_strip import FrameStrip, scaled_pixmap

if TYPE_CHECKING:
    from studio.session import StudioSession
    from studio.ui.canvas_model import CanvasViewModel
    from studio.ui.viewmodels import LibraryViewModel

CAPABILITY = "interpolate"
DEFAULT_MODEL = "demo-vae"
MAX_FRAMES = 64  # the window's limit (the request allows more; a strip of 64 is already long)
DEFAULT_FRAMES = 8
END_THUMB = 96
KEEP_RUNS = 5  # frame folders kept in the cache (older runs' frames are removed)
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.webp *.bmp);;All files (*)"
ERROR_STYLE = "color: #d9534f;"
DIALOG_SIZE = QSize(820, 760)  # eight frames fit in the strip without scrolling


def frame_name(index: int) -> str:
    """The file name of frame ``index`` (the command line's)."""
    return f"frame-{index:03d}.png"


def frame_writer(folder: Path) -> Callable[[JobResult], JobResult]:
    """A finalize step (runs on the worker): the result's frames written into ``folder`` as
    ``frame-000.png`` …, named by the result's artifacts of kind ``frame``."""

    def finalize(result: JobResult) -> JobResult:
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for index, output in enumerate(result.images):
            def fill(handle: BinaryIO, picture=output.image) -> None:
                picture.save(handle, format="PNG")

            path = write_atomically(folder / frame_name(index), fill, label="frames")
            written.append(Artifact(str(path), "frame", {"frame": index}))
        return replace(result, artifacts=(*result.artifacts, *written))

    return finalize


def new_frames_folder() -> Path:
    """A fresh folder for one run's frames; the oldest runs beyond :data:`KEEP_RUNS` are removed."""
    root = home_path("cache", "interpolate")
    runs = sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith("run-"))  # oldest first
    for old in runs[: max(len(runs) - KEEP_RUNS + 1, 0)]:
        shutil.rmtree(old, ignore_errors=True)
    return root / f"run-{time.time_ns():020d}-{os.getpid()}"


def read_thumbnail(path: str, side: int = END_THUMB) -> QImage:
    """A picture's thumbnail, decoded at a small size where the format allows (a null image when the
    file is not a picture Qt can read)."""
    reader = QImageReader(path)
    reader.setAutoTransform(True)
    size = reader.size()
    if size.isValid() and (size.width() > side * 4 or size.height() > side * 4):
        reader.setScaledSize(size.scaled(side * 2, side * 2, Qt.AspectRatioMode.KeepAspectRatio))
    return reader.read()


class PictureEnd(QGroupBox):
    """One end of the interpolation: a picture file with its thumbnail; Browse… picks another."""

    changed = Signal()

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(title, parent)
        self.path = ""
        self.readable = False
        self.thumbnail = QLabel("No picture", objectName="endThumbnail")
        self.thumbnail.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.thumbnail.setFixedSize(END_THUMB, END_THUMB)
        self.thumbnail.setStyleSheet("border: 1px solid palette(mid);")
        self.caption = QLabel("", objectName="endCaption", wordWrap=True)
        self.caption.setMinimumWidth(160)
        self.browse = QPushButton("Browse…")
        self.browse.clicked.connect(self._browse)
        side = QVBoxLayout()
        side.addWidget(self.caption, 1)
        side.addWidget(self.browse, 0, Qt.AlignmentFlag.AlignLeft)
        layout = QHBoxLayout(self)
        layout.addWidget(self.thumbnail)
        layout.addLayout(side, 1)

    def set_path(self, path: str, caption: str = "") -> bool:
        """Use the picture at ``path``; False (and "cannot read" in place of the thumbnail) when it
        is not a picture."""
        self.path = path
        image = read_thumbnail(path) if path else QImage()
        self.readable = not image.isNull()
        if self.readable:
            self.thumbnail.setPixmap(scaled_pixmap(image, END_THUMB))
        else:
            self.thumbnail.setPixmap(scaled_pixmap(QImage(), END_THUMB))
            self.thumbnail.setText("Cannot read" if path else "No picture")
        name = caption or os.path.basename(path)
        self.caption.setText(name)
        self.caption.setToolTip(path)
        self.changed.emit()
        return self.readable

    def _browse(self) -> None:
        start = os.path.dirname(self.path) if self.path else ""
        dialog = QFileDialog(self, f"Choose the {self.title().lower()} picture", start, IMAGE_FILTER)
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.fileSelected.connect(lambda chosen: chosen and self.set_path(chosen))
        dialog.open()


class InterpolateDialog(QDialog):
    """Choose two pictures, a model and a frame count; Run shows the frames (Cancel stops the job).

    ``run_ended`` carries the job's final state (``done``, ``failed``, ``cancelled``)."""

    run_ended = Signal(str)

    def __init__(
        self,
        session: StudioSession,
        bridge: JobBridge,
        library: LibraryViewModel,
        canvas: CanvasViewModel,
        check_model: Callable[[Request], None],
        cancel: Callable[[int], None],
        gallery_paths: Callable[[], list[str]] = list,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Interpolate between pictures")
        self.setObjectName("interpolateDialog")
        self.session, self.bridge, self.library, self.canvas = session, bridge, library, canvas
        self._check_model, self._cancel = check_model, cancel
        self.job_id: int | None = None
        self._watch: JobWatch | None = None
        self.frame_paths: list[str] = []

        self.first = PictureEnd("First")
        self.last = PictureEnd("Last")
        self.model = QComboBox(objectName="interpolateModel", editable=True)
        self.model.setMinimumWidth(220)
        self.model.lineEdit().setPlaceholderText("Choose a model or type a path")
        self.model.setToolTip("Models whose family interpolates (the VAE family's, e.g. demo-vae)")
        self.frames = QSpinBox(objectName="interpolateFrames", minimum=2, maximum=MAX_FRAMES, value=DEFAULT_FRAMES)
        self.frames.setToolTip("Frames from the first picture to the last, both included")
        self.frames.setMaximumWidth(120)
        self.run_button = QPushButton("Run", objectName="interpolateRun")
        self.run_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel", objectName="interpolateCancel")
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.hide()
        self.message = QLabel("", objectName="interpolateMessage", wordWrap=True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.strip = FrameStrip()
        self.open_button = QPushButton("Open in canvas", objectName="interpolateOpen")
        self.save_button = QPushButton("Save frames…", objectName="interpolateSave")
        close = QPushButton("Close")

        ends = QHBoxLayout()
        ends.addWidget(self.first, 1)
        ends.addWidget(self.last, 1)
        form = QFormLayout()
        form.addRow("Model", self.model)
        form.addRow("Frames", self.frames)
        run_row = QHBoxLayout()
        run_row.addLayout(form, 1)
        run_row.addWidget(self.run_button, 0, Qt.AlignmentFlag.AlignBottom)
        run_row.addWidget(self.cancel_button, 0, Qt.AlignmentFlag.AlignBottom)
        actions = QHBoxLayout()
        actions.addWidget(self.open_button)
        actions.addWidget(self.save_button)
        actions.addStretch(1)
        actions.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addLayout(ends)
        layout.addLayout(run_row)
        layout.addWidget(self.progress)
        layout.addWidget(self.message)
        layout.addWidget(self.strip, 1)
        layout.addLayout(actions)

        self.run_button.clicked.connect(self.run)
        self.cancel_button.clicked.connect(self.cancel)
        self.open_button.clicked.connect(self.open_in_canvas)
        self.save_button.clicked.connect(self._choose_folder)
        close.clicked.connect(self.reject)
        self.library.changed.connect(self._fill_models)
        self.resize(DIALOG_SIZE)
        self._fill_models()
        self._default_ends(gallery_paths())
        self._update_buttons()

    # -- choices ---------------------------------------------------------------------------
    def interpolating_kinds(self) -> set[str]:
        return self.session.registry.model_kinds(CAPABILITY)

    def _fill_models(self) -> None:
        """The library's models whose family interpolates; the typed or chosen one stays."""
        current = self.model.currentText()
        kinds = self.interpolating_kinds()
        self.model.blockSignals(True)
        self.model.clear()
        for entry in self.library.entries:
            if entry.kind in kinds:
                self.model.addItem(entry.name, entry.name if entry.source == "demo" else entry.path)
                self.model.setItemData(self.model.count() - 1, f"{entry.kind} · {entry.path}",
                                       Qt.ItemDataRole.ToolTipRole)
        self.model.blockSignals(False)
        wanted = current or DEFAULT_MODEL
        index = self.model.findText(wanted)
        if index >= 0:
            self.model.setCurrentIndex(index)
        elif current or self.model.count() == 0:
            self.model.setEditText(wanted)  # a typed path, or demo-vae before the first scan ends
        else:
            self.model.setCurrentIndex(0)

    def model_reference(self) -> str:
        """What the request names: a listed model's name (demo) or path, else the typed text."""
        text = self.model.currentText().strip()
        index = self.model.findText(text)
        return str(self.model.itemData(index) or text) if index >= 0 else text

    def _default_ends(self, selected: list[str]) -> None:
        """The canvas picture first and the gallery's selected image last (two selected images when
        the canvas is empty)."""
        sources: list[tuple[str, str]] = []
        if self.canvas.has_image():
            try:
                path, _mask = self.canvas.write_request_files(with_mask=False)
                sources.append((path, "The canvas picture"))
            except (StudioError, OSError) as exc:
                self.show_error(f"The canvas picture could not be used: {exc}")
        sources.extend((path, f"Gallery: {os.path.basename(path)}") for path in selected)
        for end, (path, caption) in zip((self.first, self.last), sources, strict=False):
            end.set_path(path, caption)

    # -- the job ---------------------------------------------------------------------------
    def build_request(self) -> InterpolateRequest:
        """The request for the current choices; a :class:`StudioError` says what is missing."""
        from studio.core.imagemeta import check_image_file

        for end in (self.first, self.last):
            if not end.path:
                raise BadInput(f"Choose the {end.title().lower()} picture.",
                               "Browse… for a file, or open the dialog with a picture on the canvas.")
            check_image_file(end.path, f"{end.title().lower()} picture")
        model = self.model_reference()
        if not model:
            raise BadInput("Choose a model that interpolates (e.g. demo-vae).")
        request = InterpolateRequest(model=model, images=(self.first.path, self.last.path),
                                     frames=self.frames.value())
        self._check_model(request)  # a missing model; a family that cannot interpolate
        self.session.check_request(request)
        return request

    def run(self) -> Job | None:
        """Queue the interpolation; None (and a message) when it cannot run."""
        if self.job_id is not None:
            return None
        try:
            request = self.build_request()
        except StudioError as exc:
            self.show_error(exc.user_text())
            return None
        folder = new_frames_folder()
        job = self.session.runner.submit(request, finalize=frame_writer(folder))
        self.job_id = job.id
        self._watch = watch = self.bridge.watch(job.id)
        watch.progress.connect(self._progress)
        watch.finished.connect(self._finished)
        watch.failed.connect(lambda ended: self._ended(ended, f"The interpolation failed: {ended.error}"))
        watch.cancelled.connect(lambda ended: self._ended(ended, "The interpolation was cancelled."))
        self.progress.setRange(0, 0)
        self.progress.show()
        self.show_message(f"Job {job.id} queued: {request.frames} frames with {request.model}.")
        self._update_buttons()
        return job

    def cancel(self) -> None:
        if self.job_id is not None:
            self._cancel(self.job_id)
            self.show_message(f"Cancelling job {self.job_id}…")

    def _progress(self, step: int, total: int, message: str) -> None:
        if total > 1:
            self.progress.setRange(0, total)
            self.progress.setValue(step)
            self.progress.setFormat(f"Frame {step} of {total}")
        elif message:
            self.progress.setFormat(message)

    def _finished(self, job: Job) -> None:
        artifacts = job.result.artifacts if job.result is not None else ()
        self.frame_paths = [a.path for a in artifacts if a.kind == "frame"]
        frames = [QImage(path) for path in self.frame_paths]
        self.strip.set_frames(frames)
        self._ended(job, f"{len(self.strip.frames)} frames from job {job.id}: drag the slider to scrub.",
                    error=False)

    def _ended(self, job: Job, text: str, error: bool = True) -> None:
        self.job_id, self._watch = None, None  # the bridge releases the watch
        self.progress.hide()
        self.show_error(text) if error else self.show_message(text)
        self._update_buttons()
        self.run_ended.emit(job.state.value)

    # -- the chosen frame ----------------------------------------------------------------------
    def open_in_canvas(self) -> None:
        """The chosen frame becomes the canvas picture (Undo brings the old one back)."""
        frame = self.strip.current_frame()
        if frame.isNull():
            return
        self.canvas.set_document(frame, f"Interpolation frame {self.strip.current() + 1}")
        self.show_message(f"Frame {self.strip.current() + 1} is on the canvas.")

    def _choose_folder(self) -> None:
        dialog = QFileDialog(self, "Save the frames into a folder")
        dialog.setFileMode(QFileDialog.FileMode.Directory)
        dialog.setOption(QFileDialog.Option.ShowDirsOnly, True)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.fileSelected.connect(lambda folder: folder and self.save_frames(folder))
        dialog.open()

    def save_frames(self, folder: str) -> list[Path]:
        """Copy every frame into ``folder`` as ``frame-000.png`` …; nothing is written (and a message
        says why) when a frame file is already there."""
        target = Path(folder).expanduser()
        names = [frame_name(index) for index in range(len(self.frame_paths))]
        taken = [name for name in names if (target / name).exists()]
        if taken:
            self.show_error(f"'{target}' already holds {taken[0]}: choose an empty folder (nothing was written).")
            return []
        try:
            target.mkdir(parents=True, exist_ok=True)
            written = [atomic_copy_file(source, target / name, overwrite=False, label="out")
                       for source, name in zip(self.frame_paths, names, strict=True)]
        except OSError as exc:
            self.show_error(f"The frames could not be saved in '{target}': {exc.strerror or exc}.")
            return []
        self.show_message(f"Saved {len(written)} frames in {target}.")
        return written

    # -- state -----------------------------------------------------------------------------------
    def show_message(self, text: str) -> None:
        self.message.setStyleSheet("")
        self.message.setText(text)

    def show_error(self, text: str) -> None:
        self.message.setStyleSheet(ERROR_STYLE)
        self.message.setText(text)

    def _update_buttons(self) -> None:
        running = self.job_id is not None
        self.run_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        has_frames = bool(self.strip.frames)
        self.open_button.setEnabled(has_frames)
        self.save_button.setEnabled(has_frames and bool(self.frame_paths))

    def done(self, result: int) -> None:
        """Closing stops a job still running (its frames would have nowhere to go)."""
        if self.job_id is not None:
            self._cancel(self.job_id)
        if self._watch is not None:
            self._watch.release()
            self.job_id, self._watch = None, None
        super().done(result)


def open_interpolate(window) -> InterpolateDialog | None:
    """Open the dialog on ``window``'s session (a notice while the studio is still starting)."""
    if window.session is None:
        window.notify("The studio is still starting; try again in a moment.")
        return None
    panel = getattr(window, "gallery_panel", None)
    dialog = InterpolateDialog(
        window.session, window.bridge, window.library_model, window.canvas_model, window.check_model,
        window.cancel_job, gallery_paths=getattr(panel, "selected_paths", list), parent=window,
    )
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.show()
    return dialog
