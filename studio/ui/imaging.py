"""Wires the image-making parts of the window together: prompt panel ↔ canvas ↔ gallery, job
events, and files dropped on the canvas or the window (images open, parameters are recalled).

Kept out of ``window.py`` so the window only creates the parts and calls :func:`connect_imaging`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QDropEvent, QImage
from shiboken6 import isValid

from studio.core.errors import BadInput
from studio.core.gallery import GalleryItem
from studio.core.requests import GenerationRequest
from studio.jobs.queue import Job
from studio.ui.panels.canvas import dropped_files
from studio.ui.recall import SOURCES, recall
from studio.ui.tasks import run_in_background

if TYPE_CHECKING:
    from studio.ui.window import MainWindow

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"}


def read_dropped(path: str) -> tuple[QImage, str | None, dict[str, Any], str]:
    """Off the GUI thread: the image at ``path``, its generation parameters, and an error text."""
    image = QImage(path)
    if image.isNull():
        if Path(path).is_dir():
            return image, None, {}, f"'{Path(path).name}' is a folder, not an image; nothing was changed."
        return image, None, {}, f"'{Path(path).name}' is not an image the studio can read; nothing was changed."
    try:
        source, fields = recall(path)
    except (BadInput, ValueError, OSError):
        source, fields = None, {}
    return image, source, fields, ""


class Imaging(QObject):
    """The glue between the window's prompt panel, canvas, gallery and the job bridge."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        w = window
        w.prompt_panel.set_canvas(w.canvas_model)
        # one source of truth for Mode and mask: the canvas knows the chosen mode, undo/redo and
        # mask edits set the mode that agrees with the mask (and so the request built from it)
        w.canvas_model.note_mode(w.prompt_panel.mode.currentText())
        w.prompt_panel.mode.currentTextChanged.connect(w.canvas_model.note_mode)
        w.canvas_model.mask_changed.connect(self._mask_changed)
        w.canvas_model.notice.connect(w.notify)
        w.canvas.files_dropped.connect(lambda paths: self.open_files(paths, on_canvas=True))
        w.gallery_panel.use_settings.connect(self.use_settings)
        w.gallery_panel.open_item.connect(self.open_item)
        w.gallery_model.failed.connect(lambda text: w.notify(f"The gallery could not be read: {text}"))
        w.bridge.finished.connect(self._job_finished)
        self._control_image = ""  # the file shown as the canvas's control layer
        w.prompt_panel.view_model.changed.connect(self._prompt_changed)
        w.setAcceptDrops(True)
        w.installEventFilter(self)
        # a picture dropped on the prompt fields recalls its settings instead of pasting its path
        self._text_targets = {w.prompt_panel.prompt.viewport(), w.prompt_panel.negative.viewport()}
        for target in self._text_targets:
            target.installEventFilter(self)

    # -- the control layer -----------------------------------------------------------------
    def _prompt_changed(self, name: str) -> None:
        if name == "controls":
            self.show_control_layer()

    def show_control_layer(self) -> None:
        """The first control's image file as the canvas's control layer (the canvas image itself is
        already on the canvas: no layer then)."""
        from studio.ui.panels.power_tools import CANVAS_IMAGE

        controls = self.window.prompt_panel.view_model.state.controls
        path = next((c.image for c in controls if c.image and c.image != CANVAS_IMAGE), "")
        if path == self._control_image:
            return
        self._control_image = path
        canvas = self.window.canvas
        if not path:
            canvas.set_control_layer(None)
            return

        def loaded(image: QImage) -> None:
            if path == self._control_image:  # not replaced meanwhile
                canvas.set_control_layer(image)

        run_in_background(lambda: QImage(path), loaded, owner=canvas)

    # -- job events ------------------------------------------------------------------------
    def _job_finished(self, job: Job) -> None:
        if isinstance(job.request, GenerationRequest):
            self.window.prompt_panel.note_finished(job)
            self.window.gallery_model.refresh()
            self._load_batch(job)

    def _load_batch(self, job: Job) -> None:
        """A batch's images reach the canvas's strip (the first one is already on the canvas)."""
        artifacts = job.result.artifacts if job.result is not None else ()
        paths = [a.path for a in artifacts if a.kind == "image"]
        if len(paths) < 2:
            return
        canvas = self.window.canvas_model

        def loaded(images: list[QImage]) -> None:
            if isValid(self) and isValid(canvas):
                canvas.set_batch(job.id, images)

        run_in_background(lambda: [QImage(path) for path in paths], loaded)

    def _mask_changed(self, *_args: object) -> None:
        """A mask painted: the "No mask is painted…" message no longer holds."""
        panel = self.window.prompt_panel
        if panel.feedback.text().startswith("No mask is painted") and self.window.canvas_model.has_mask():
            panel.feedback.setText("")
            panel.feedback.setProperty("error", False)
            panel.feedback_icon.setVisible(False)

    # -- gallery -----------------------------------------------------------------------------
    def use_settings(self, item: GalleryItem) -> None:
        self.window.prompt_panel.apply_request(item.request)
        self.window.docks["prompt"].raise_()
        self.window.notify(f"Settings of gallery image {item.id} are in the prompt panel.")

    def open_item(self, item: GalleryItem) -> None:
        canvas = self.window.canvas_model

        def opened(image: QImage) -> None:
            if not isValid(self) or not isValid(canvas):  # the window closed meanwhile
                return
            if image.isNull():
                self.window.notify(f"'{item.path}' could not be read; it may have been moved or deleted.")
            else:
                canvas.set_document(image, "Open from the gallery")

        run_in_background(lambda: QImage(item.path), opened)

    # -- drops -------------------------------------------------------------------------------
    def open_files(self, paths: list[str], on_canvas: bool) -> None:
        """Open dropped files: an image goes on the canvas (when dropped there, or when it carries
        no parameters); parameters found in it fill the prompt panel. Anything else: a message."""
        if not paths:
            return
        path = paths[0]
        if len(paths) > 1:
            self.window.notify(f"{len(paths)} files were dropped; opening the first, '{Path(path).name}'.")
        run_in_background(lambda: read_dropped(path), lambda result: self._dropped(path, on_canvas, *result))

    def _dropped(self, path: str, on_canvas: bool, image: QImage, source: str | None,
                 fields: dict[str, Any], error: str) -> None:
        w = self.window
        if not isValid(self) or not isValid(w):  # the window closed while the file was read
            return
        if error:
            w.notify(error)
            return
        name = Path(path).name
        if fields and source:
            w.prompt_panel.apply_fields(fields, f"{SOURCES.get(source, source)} ({name})")
            w.docks["prompt"].raise_()
        if on_canvas or not fields:
            w.canvas_model.set_document(image, f"Open {name}")
        if fields and source:
            where = " and put it on the canvas" if on_canvas else ""
            w.notify(f"Recalled the settings of {name} ({SOURCES.get(source, source)}){where}.")
        else:
            w.notify(f"Opened {name} on the canvas.")

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind not in (QEvent.Type.DragEnter, QEvent.Type.DragMove, QEvent.Type.Drop):
            return False
        if watched is self.window:
            files = dropped_files(event.mimeData())  # type: ignore[attr-defined]
        elif watched in self._text_targets:
            files = [f for f in dropped_files(event.mimeData()) if Path(f).suffix.lower() in IMAGE_SUFFIXES]  # type: ignore[attr-defined]
        else:
            return False
        if not files:
            return False
        assert isinstance(event, QDropEvent)
        event.acceptProposedAction()
        if kind == QEvent.Type.Drop:
            self.open_files(files, on_canvas=False)
        return True


def connect_imaging(window: MainWindow) -> Imaging:
    return Imaging(window)
