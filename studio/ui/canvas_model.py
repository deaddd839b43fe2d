"""The canvas document: the working image, the inpaint mask, live previews and undoable edits.

Widgets draw what this view-model holds and send it edits; it owns no widget, so tests can check
its pixels directly. Mask strokes, image replacements (a result, a drop, a paste) and extending the
canvas for outpainting are :class:`QUndoCommand`\\ s on :attr:`CanvasViewModel.undo_stack`.

The mask is an ARGB image the size of the document whose alpha is the mask (255 = repaint);
:meth:`CanvasViewModel.write_request_files` writes the init image and the (feathered) mask as PNG
files under ``STUDIO_HOME/cache`` for a request.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QPoint, QPointF, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPen, QUndoCommand, QUndoStack

from studio.core.errors import BadInput
from studio.core.paths import home_path
from studio.jobs.queue import Job, JobState
from studio.ui import mask_ops

MASK_COLOUR = QColor(255, 48, 48)
SIDES = ("right", "left", "bottom", "top")
MODES = ("txt2img", "img2img", "inpaint", "outpaint")


def blank_mask(size: QSize) -> QImage:
    mask = QImage(size, QImage.Format.Format_ARGB32_Premultiplied)
    mask.fill(Qt.GlobalColor.transparent)
    return mask


def mask_alpha(mask: QImage) -> QImage:
    """The mask as an 8-bit image (255 = repaint)."""
    return mask.convertToFormat(QImage.Format.Format_Alpha8)


def _bytes_of(image: QImage) -> bytes:
    return bytes(image.constBits())[: image.sizeInBytes()]


class _Edit(QUndoCommand):
    """An undoable canvas edit. After it is done or undone the Mode follows the canvas: each
    command remembers the mode before and after, and the model makes it agree with the mask."""

    def __init__(self, model: CanvasViewModel, text: str, mode_after: str) -> None:
        super().__init__(text)
        self.model = model
        self.mode_before = model.mode
        self.mode_after = mode_after

    def redo(self) -> None:
        self._apply(forward=True)
        self.model._follow_mode(self.mode_after)

    def undo(self) -> None:
        self._apply(forward=False)
        self.model._follow_mode(self.mode_before)

    def _apply(self, forward: bool) -> None:
        raise NotImplementedError


class _ReplaceImage(_Edit):
    """Swap the document, its mask and its compare image for others; undo swaps back."""

    def __init__(self, model: CanvasViewModel, image: QImage, text: str, *, keep_mask: bool = False,
                 before: QImage | None = None, mode_after: str | None = None) -> None:
        super().__init__(model, text, model.mode if mode_after is None else mode_after)
        self.old = (model.document, model.mask, model.before)
        mask = blank_mask(image.size())
        if keep_mask and not model.mask.isNull() and not image.isNull():
            mask = model.mask.scaled(image.size(), Qt.AspectRatioMode.IgnoreAspectRatio,
                                     Qt.TransformationMode.SmoothTransformation) \
                if model.mask.size() != image.size() else model.mask.copy()
        self.new = (image, mask, QImage() if before is None else before)

    def _apply(self, forward: bool) -> None:
        self.model._set_document(*(self.new if forward else self.old))


class _MaskEdit(_Edit):
    """A change to one rectangle of the mask (a stroke already painted live, or a whole-mask
    edit already applied): redo/undo write back the rectangle's pixels."""

    def __init__(self, model: CanvasViewModel, text: str, rect: QRect, before: QImage, after: QImage,
                 mode_after: str) -> None:
        super().__init__(model, text, mode_after)
        self.rect, self.before, self.after = rect, before, after
        self._first = True

    def _apply(self, forward: bool) -> None:
        if forward and self._first:  # already on the mask when the command was made
            self._first = False
            self.model._mask_edited(self.rect)
            return
        painter = QPainter(self.model.mask)
        painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_Source)
        painter.drawImage(self.rect.topLeft(), self.after if forward else self.before)
        painter.end()
        self.model._mask_edited(self.rect)


class CanvasViewModel(QObject):
    """What the canvas shows and edits.

    ``image`` is what is on screen now: a live preview while a job runs, else the document.
    ``document`` is the working image (the init image of img2img/inpaint), ``mask`` its inpaint
    mask, ``before`` the image a finished img2img/inpaint job started from (for compare).
    """

    image_changed = Signal(QImage)  # what is shown changed (preview, result, edit)
    caption_changed = Signal(str)
    document_changed = Signal()  # the document or its size changed
    mask_changed = Signal(QRect)  # a region of the mask changed
    mode_hint = Signal(str)  # the mode the canvas now calls for ("img2img", "inpaint", "outpaint", "txt2img")
    notice = Signal(str)  # a message for the user (status bar)
    batch_changed = Signal()  # the images of the last batch, or which of them is shown, changed

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.image = QImage()
        self.document = QImage()
        self.mask = QImage()
        self.before = QImage()
        self.caption = ""
        self.job_id: int | None = None
        self.previewing = False
        self.preview_size = QSize()  # the size of the image the running job makes
        self.brush_size = 24
        self.feather = 4
        self.undo_stack = QUndoStack(self)
        self.undo_stack.setUndoLimit(100)  # image replacements hold whole images
        self._stroke: tuple[QImage, QRect, bool, QPointF] | None = None
        self._inits: dict[str, QImage] = {}  # init files written → their pixels (for compare)
        self._job_inits: dict[int, QImage] = {}
        self._inpainting: set[int] = set()  # running jobs that repaint inside the mask
        self._other_jobs: set[int] = set()  # jobs that are not image generations (export…): not shown
        self._mask_jobs: set[int] = set()  # inpaint/outpaint jobs: their result keeps the mask
        self.mode = "txt2img"  # the prompt panel's mode, as last told (note_mode) or hinted
        self.batch: list[QImage] = []  # the images of the last batch job (two or more)
        self.batch_job: int | None = None

    # -- job events ------------------------------------------------------------------------
    def show_image(self, job_id: int, image: QImage) -> None:
        """A live preview of a running job; an inpaint job's preview shows inside its mask only."""
        if job_id in self._other_jobs:  # an interpolation's frames, a training's samples: shown elsewhere
            return
        self.job_id = job_id
        self.previewing = True
        if job_id in self._inpainting and self.has_image() and self.mask.size() == self.document.size():
            image = self._masked_preview(image)
        self.image = image
        self.image_changed.emit(image)

    def _masked_preview(self, preview: QImage) -> QImage:
        layer = preview.scaled(self.document.size(), Qt.AspectRatioMode.IgnoreAspectRatio,
                               Qt.TransformationMode.SmoothTransformation)
        layer = layer.convertToFormat(QImage.Format.Format_ARGB32_Premultiplied)
        painter = QPainter(layer)
        painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_DestinationIn)
        painter.drawImage(0, 0, self.mask)
        painter.end()
        out = self.document.convertToFormat(QImage.Format.Format_ARGB32_Premultiplied)
        painter = QPainter(out)
        painter.drawImage(0, 0, layer)
        painter.end()
        return out

    def show_result(self, job_id: int, image: QImage) -> None:
        """A finished generation's first image becomes the document (undoable); an inpaint or
        outpaint job's mask stays, so the next run repaints the same area (Clear Mask drops it)."""
        if job_id in self._other_jobs:  # e.g. an export job's files: the canvas stays as it is
            self._other_jobs.discard(job_id)
            return
        self.job_id = job_id
        self.previewing = False
        if self.batch_job is not None and self.batch_job != job_id:
            self.batch, self.batch_job = [], None
            self.batch_changed.emit()
        before = self._job_inits.pop(job_id, QImage())
        keep = job_id in self._mask_jobs
        self._mask_jobs.discard(job_id)
        self.undo_stack.push(_ReplaceImage(self, image, f"Result of job {job_id}", keep_mask=keep, before=before))
        self.image_changed.emit(self.image)

    def set_batch(self, job_id: int, images: list[QImage]) -> None:
        """The images a batch job made, in order (the first is the one :meth:`show_result` showed)."""
        self.batch = [image for image in images if not image.isNull()]
        self.batch_job = job_id if len(self.batch) > 1 else None
        if self.batch_job is None:
            self.batch = []
        self.batch_changed.emit()

    def batch_index(self) -> int:
        """Which batch image is the document now (-1: none of them)."""
        if self.document.isNull():
            return -1
        return next((i for i, image in enumerate(self.batch) if image == self.document), -1)

    def pick_from_batch(self, index: int) -> None:
        """Put the batch's ``index``-th image on the canvas (undoable; the mask and compare stay)."""
        if not 0 <= index < len(self.batch) or index == self.batch_index():
            return
        self.undo_stack.push(_ReplaceImage(
            self, self.batch[index], f"Pick image {index + 1} of job {self.batch_job}",
            keep_mask=self.has_mask(), before=self.before))
        self.batch_changed.emit()

    def on_progress(self, job_id: int, step: int, total: int, message: str) -> None:
        if job_id in self._other_jobs:  # text, export and training jobs report elsewhere
            return
        text = f"Job {job_id}: step {step} of {total}" if total else f"Job {job_id}"
        self._set_caption(f"{text} — {message}" if message else text)

    def on_job(self, job: Job) -> None:
        if job.request.kind != "generate":
            if job.state.finished:
                self._other_jobs.discard(job.id)
            if job.state is JobState.DONE or not job.state.finished:
                self._other_jobs.add(job.id)  # its result (an export's files) is not shown
            return
        if job.state is JobState.RUNNING:
            init = getattr(job.request, "init_image", None)
            if init and init in self._inits:
                self._job_inits[job.id] = self._inits[init]
            if init and getattr(job.request, "mask", None):
                self._inpainting.add(job.id)
                self._mask_jobs.add(job.id)
            self.preview_size = QSize(getattr(job.request, "width", 0), getattr(job.request, "height", 0))
            self._set_caption(f"Job {job.id}: starting…")
            return
        if not job.state.finished:
            return
        self._inpainting.discard(job.id)
        if job.state is JobState.DONE:
            self._set_caption(f"Job {job.id} finished.")
            return
        self._job_inits.pop(job.id, None)
        self._mask_jobs.discard(job.id)
        if self.previewing and job.id == self.job_id:  # drop the half-made preview
            self.previewing = False
            self.image = self.document
            self.image_changed.emit(self.image)
        if job.state is JobState.FAILED:
            self._set_caption(f"Job {job.id} failed: {job.error}")
        elif job.state is JobState.CANCELLED and job.started_at is not None:
            self._set_caption(f"Job {job.id} was cancelled.")

    def _set_caption(self, text: str) -> None:
        self.caption = text
        self.caption_changed.emit(text)

    # -- document edits (undoable) ------------------------------------------------------------
    def set_document(self, image: QImage, text: str = "Open image") -> None:
        """Put ``image`` on the canvas for img2img/inpaint (a drop, a paste, the gallery)."""
        if image.isNull():
            self.notice.emit("That image could not be read; the canvas is unchanged.")
            return
        image = image.convertToFormat(QImage.Format.Format_ARGB32)
        self.undo_stack.push(_ReplaceImage(self, image, text, mode_after="img2img"))
        self._set_caption("")  # "Job 4 finished." is about another image

    def clear(self) -> None:
        """Empty the canvas (undoable); the next generation is text-to-image."""
        if not self.document.isNull():
            self.undo_stack.push(_ReplaceImage(self, QImage(), "Clear canvas", mode_after="txt2img"))
            self._set_caption("")

    def extend(self, side: str, pixels: int) -> None:
        """Grow the canvas by ``pixels`` on ``side``; the new area is masked for outpainting."""
        if self.document.isNull():
            raise BadInput("There is no image on the canvas to extend.", "Generate or drop an image first.")
        if side not in SIDES:
            raise BadInput(f"Unknown side '{side}'.", f"Choose one of: {', '.join(SIDES)}.")
        if pixels <= 0 or pixels % 8:
            raise BadInput(f"Extend by a positive multiple of 8 pixels, not {pixels}.")
        old = self.document
        w, h = old.width(), old.height()
        grow_x = pixels if side in ("left", "right") else 0
        grow_y = pixels if side in ("top", "bottom") else 0
        image = QImage(w + grow_x, h + grow_y, QImage.Format.Format_ARGB32)
        origin = QPoint(grow_x if side == "left" else 0, grow_y if side == "top" else 0)
        painter = QPainter(image)
        # stretch the edge row/column into the new area: a neutral start for the model
        if side == "right":
            painter.drawImage(QRect(w, 0, pixels, h), old, QRect(w - 1, 0, 1, h))
        elif side == "left":
            painter.drawImage(QRect(0, 0, pixels, h), old, QRect(0, 0, 1, h))
        elif side == "bottom":
            painter.drawImage(QRect(0, h, w, pixels), old, QRect(0, h - 1, w, 1))
        else:
            painter.drawImage(QRect(0, 0, w, pixels), old, QRect(0, 0, w, 1))
        painter.drawImage(origin, old)
        painter.end()
        command = _ReplaceImage(self, image, f"Extend {side} by {pixels} px", mode_after="outpaint")
        mask = blank_mask(image.size())
        painter = QPainter(mask)
        if not self.mask.isNull():
            painter.drawImage(origin, self.mask)
        rect = {
            "right": QRect(w, 0, pixels, h), "left": QRect(0, 0, pixels, h),
            "bottom": QRect(0, h, w, pixels), "top": QRect(0, 0, w, pixels),
        }[side]
        painter.fillRect(rect, MASK_COLOUR)
        painter.end()
        command.new = (image, mask, QImage())
        self.undo_stack.push(command)

    # -- whole-mask edits (undoable) ---------------------------------------------------------
    def clear_mask(self) -> None:
        """Drop the mask on purpose (a run keeps it); the mode goes back to img2img."""
        if self.has_mask():
            self._edit_mask("Clear mask", lambda alpha: alpha * 0)

    def invert_mask(self) -> None:
        """Repaint what was kept and keep what was repainted."""
        if self.has_image():
            self._edit_mask("Invert mask", mask_ops.invert)

    def grow_mask(self, pixels: int) -> None:
        """Grow the mask by ``pixels`` (shrink it for a negative number)."""
        if self.has_mask() and pixels:
            text = f"Grow mask by {pixels} px" if pixels > 0 else f"Shrink mask by {-pixels} px"
            self._edit_mask(text, lambda alpha: mask_ops.grow(alpha, pixels))

    def feather_mask(self, pixels: int) -> None:
        """Soften the mask's edge by ``pixels`` (the mask itself; see also :attr:`feather`)."""
        if self.has_mask() and pixels > 0:
            self._edit_mask(f"Feather mask by {pixels} px", lambda alpha: mask_ops.feather(alpha, pixels))

    def _edit_mask(self, text: str, edit: Callable[[np.ndarray], np.ndarray]) -> None:
        if self.mask.size() != self.document.size():
            self.mask = blank_mask(self.document.size())
        before = self.mask.copy()
        after = mask_ops.mask_from_alpha(edit(mask_ops.alpha_of(self.mask)), MASK_COLOUR)
        painter = QPainter(self.mask)  # in place: the undo stack's states share this image
        painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_Source)
        painter.drawImage(0, 0, after)
        painter.end()
        mode = self.mode if self.mode in ("inpaint", "outpaint") else "inpaint"
        # kept as alpha only (a quarter of the memory): only the mask's alpha is ever read
        self.undo_stack.push(_MaskEdit(self, text, self.mask.rect(), mask_alpha(before), mask_alpha(after), mode))

    # -- mask strokes ------------------------------------------------------------------------
    def begin_stroke(self, point: QPointF, erase: bool = False) -> None:
        """Start painting (or erasing) the mask at ``point`` (image coordinates)."""
        if self.document.isNull():
            self.notice.emit("Put an image on the canvas before painting a mask.")
            return
        self._stroke = (self.mask.copy(), QRect(), erase, point)
        self._dab(point, point)

    def stroke_to(self, point: QPointF) -> None:
        if self._stroke is not None:
            self._dab(self._stroke[3], point)

    def end_stroke(self) -> None:
        if self._stroke is None:
            return
        before, rect, erase, _ = self._stroke
        self._stroke = None
        rect = rect.intersected(self.mask.rect())
        if rect.isEmpty():
            return
        mode = self.mode if self.mode in ("inpaint", "outpaint") or erase else "inpaint"
        text = "Erase mask" if erase else "Paint mask"
        self.undo_stack.push(_MaskEdit(self, text, rect, before.copy(rect), self.mask.copy(rect), mode))

    def paint_stroke(self, points: list[tuple[float, float]], erase: bool = False) -> None:
        """A whole stroke through ``points`` (image coordinates), as one undo step."""
        self.begin_stroke(QPointF(*points[0]), erase)
        for point in points[1:]:
            self.stroke_to(QPointF(*point))
        self.end_stroke()

    def _dab(self, start: QPointF, end: QPointF) -> None:
        assert self._stroke is not None
        before, rect, erase, _ = self._stroke
        painter = QPainter(self.mask)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        if erase:
            painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_Clear)
        pen = QPen(MASK_COLOUR, self.brush_size, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap)
        painter.setPen(pen)
        if start == end:
            painter.setBrush(MASK_COLOUR)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.drawEllipse(start, self.brush_size / 2, self.brush_size / 2)
        else:
            painter.drawLine(start, end)
        painter.end()
        r = self.brush_size // 2 + 2
        dirty = QRect(
            QPoint(int(min(start.x(), end.x())) - r, int(min(start.y(), end.y())) - r),
            QPoint(int(max(start.x(), end.x())) + r, int(max(start.y(), end.y())) + r),
        )
        self._stroke = (before, rect.united(dirty), erase, end)
        self.mask_changed.emit(dirty)

    # -- state read by the panels --------------------------------------------------------------
    def has_image(self) -> bool:
        return not self.document.isNull()

    def painting(self) -> bool:
        """A stroke is being drawn (its undo step comes when it ends)."""
        return self._stroke is not None

    def has_mask(self) -> bool:
        if self.mask.isNull():
            return False
        mask = self.mask
        if mask.format() != QImage.Format.Format_ARGB32_Premultiplied:
            mask = mask.convertToFormat(QImage.Format.Format_ARGB32_Premultiplied)
        # premultiplied: a fully transparent pixel is all zero bytes (asked on every dab: no copy)
        return bool(np.frombuffer(mask.constBits(), np.uint8, mask.sizeInBytes()).any())

    def size(self) -> QSize:
        return self.document.size()

    def write_request_files(self, with_mask: bool) -> tuple[str, str | None]:
        """Write the document (and the feathered mask) as PNGs under ``STUDIO_HOME/cache``."""
        if self.document.isNull():
            raise BadInput("There is no image on the canvas.", "Generate one, drop one in, or paste one.")
        if with_mask and not self.has_mask():
            raise BadInput("No mask is painted on the canvas.", "Paint the area to repaint with the brush first.")
        folder = home_path("cache", "canvas")
        init = _save_png(folder, "init", self.document.convertToFormat(QImage.Format.Format_RGB32))
        self._inits[init] = self.document.copy()
        mask_path = None
        if with_mask:
            alpha = mask_alpha(self.mask)
            gray = QImage(_bytes_of(alpha), alpha.width(), alpha.height(), alpha.bytesPerLine(),
                          QImage.Format.Format_Grayscale8).copy()
            if self.feather > 0:
                gray = _feather(gray, self.feather)
            mask_path = _save_png(folder, "mask", gray)
        return init, mask_path

    # -- internals ---------------------------------------------------------------------------
    def note_mode(self, mode: str) -> None:
        """The mode the user chose in the prompt panel (edits and undo start from it)."""
        if mode in MODES:
            self.mode = mode

    def consistent_mode(self, wanted: str) -> str:
        """``wanted``, made to agree with the canvas: no image → txt2img; a mask → inpaint (or
        outpaint); no mask → not inpaint/outpaint (img2img)."""
        if self.document.isNull():
            return "txt2img"
        if self.has_mask():
            return wanted if wanted in ("inpaint", "outpaint") else "inpaint"
        return "img2img" if wanted in ("inpaint", "outpaint") else wanted

    def _follow_mode(self, wanted: str) -> None:
        mode = self.consistent_mode(wanted)
        if mode != self.mode:
            self.mode = mode
            self.mode_hint.emit(mode)

    def _set_document(self, image: QImage, mask: QImage, before: QImage) -> None:
        self.document = image
        self.mask = mask
        self.before = before
        self.previewing = False
        self.image = image
        self.document_changed.emit()
        self.image_changed.emit(image)
        self.mask_changed.emit(mask.rect())

    def _mask_edited(self, rect: QRect) -> None:
        self.mask_changed.emit(rect)


def _save_png(folder: Path, stem: str, image: QImage) -> str:
    """Save ``image`` under a name made from its pixels (the same pixels reuse the same file)."""
    digest = hashlib.sha1(_bytes_of(image) + f"{image.width()}x{image.height()}".encode()).hexdigest()[:16]
    path = folder / f"{stem}-{digest}.png"
    if not path.exists():
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        if not image.save(str(tmp), "PNG"):
            raise BadInput(f"Could not write {path}.", "Check that the studio's data folder is writable.")
        os.replace(tmp, path)
    return str(path)


def _feather(gray: QImage, radius: int) -> QImage:
    """Blur the mask's edge by ``radius`` pixels (Pillow's Gaussian blur, as A1111's mask blur)."""
    from PIL import Image, ImageFilter

    data = _bytes_of(gray)
    pil = Image.frombytes("L", (gray.width(), gray.height()), data, "raw", "L", gray.bytesPerLine())
    blurred = pil.filter(ImageFilter.GaussianBlur(radius))
    raw = blurred.tobytes()
    return QImage(raw, blurred.width, blurred.height, blurred.width, QImage.Format.Format_Grayscale8).copy()
