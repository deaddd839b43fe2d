"""The lightbox: one gallery image at full view; Left/Right move through the gallery, Esc closes.

It reads rows from the gallery's :class:`~studio.ui.gallery_model.GalleryViewModel` (asking it for
the next page at the end) and decodes each image off the GUI thread.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QImageReader, QKeyEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import QDialog, QLabel, QVBoxLayout, QWidget

from studio.core.gallery import GalleryItem
from studio.ui.gallery_model import GalleryViewModel, match_text
from studio.ui.tasks import run_in_background

BACKDROP = QColor(24, 24, 24)
MAX_SIDE = 4096  # larger images are decoded at this size (the screen shows no more)


def read_image(path: str) -> QImage:
    """Off the GUI thread: the image at ``path``, decoded no larger than :data:`MAX_SIDE`."""
    reader = QImageReader(path)
    reader.setAutoTransform(True)
    size = reader.size()
    if size.isValid() and max(size.width(), size.height()) > MAX_SIDE:
        reader.setScaledSize(size.scaled(MAX_SIDE, MAX_SIDE, Qt.AspectRatioMode.KeepAspectRatio))
    return reader.read()


class ImageView(QWidget):
    """Paints an image scaled to fit, centred on a dark backdrop; a message when there is none."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.image = QImage()
        self.message = ""
        self.setMinimumSize(200, 150)

    def show_image(self, image: QImage, message: str = "") -> None:
        self.image, self.message = image, message
        self.update()

    def paintEvent(self, _event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), BACKDROP)
        if self.image.isNull():
            painter.setPen(QColor(200, 200, 200))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.message)
            return
        size = self.image.size().scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio)
        if size.width() > self.image.width():  # small images grow in whole steps: crisp pixels
            factor = max(1, min(self.width() // self.image.width(), self.height() // self.image.height()))
            size = self.image.size() * factor
        else:
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        x = (self.width() - size.width()) / 2
        y = (self.height() - size.height()) / 2
        painter.drawImage(QRectF(x, y, size.width(), size.height()), self.image)


class Lightbox(QDialog):
    """Full view of the gallery's row ``row``; Left/Right (or Up/Down) move, Home/End jump, Esc closes."""

    row_changed = Signal(int)  # the row now shown (the gallery selects it)
    shown = Signal(str)  # the path of the image now on screen (once decoded)

    def __init__(self, model: GalleryViewModel, row: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("galleryLightbox")
        self.setWindowTitle("Gallery")
        self.model = model
        self.row = -1
        self.path = ""
        self.shown_path = ""  # the image on screen (``path`` once it is decoded)
        self.view = ImageView()
        self.caption = QLabel(objectName="lightboxCaption", wordWrap=True)
        self.caption.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.caption.setStyleSheet("color: #ddd; background: #181818; padding: 6px;")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.caption)
        self.setStyleSheet("QDialog#galleryLightbox { background: #181818; }")
        window = parent.window() if parent is not None else None
        if window is not None and window.isVisible():
            self.resize(window.size() * 0.9)
        else:
            self.resize(1024, 768)
        model.modelReset.connect(self._model_reset)
        self.go(row)

    def go(self, row: int) -> None:
        """Show the gallery's row ``row`` (clamped; the next page is fetched at the end)."""
        if row >= self.model.rowCount() - 1 and self.model.canFetchMore():
            self.model.fetchMore()
        count = self.model.rowCount()
        if count == 0:
            self._show_none()
            return
        row = max(0, min(row, count - 1))
        item = self.model.item(row)
        if item is None or (row == self.row and item.path == self.path):
            return
        self.row, self.path = row, item.path
        self.caption.setText(self._caption(item, row, count))
        self.setWindowTitle(f"Gallery — {row + 1} of {count}{'+' if self.model.canFetchMore() else ''}")
        self.row_changed.emit(row)
        path = item.path
        run_in_background(lambda: read_image(path), lambda image: self._read(path, image), owner=self)

    def current_item(self) -> GalleryItem | None:
        return self.model.item(self.row)

    def _read(self, path: str, image: QImage) -> None:
        if path != self.path:  # the user moved on meanwhile
            return
        self.view.show_image(image, "" if not image.isNull() else "This image could not be read; "
                                                                  "it may have been moved or deleted.")
        self.shown_path = path
        self.shown.emit(path)

    def _caption(self, item: GalleryItem, row: int, count: int) -> str:
        more = "+" if self.model.canFetchMore() else ""
        prompt = item.prompt.replace("\n", " ").strip() or "(no prompt)"
        match = f"   ·   match {match_text(item.match_score)}" if item.match_score is not None else ""
        return (f"{row + 1} / {count}{more}   ·   {prompt}{match}   ·   {item.model_name or item.model}"
                f"   ·   seed {item.seed}   ·   {item.width}×{item.height}      (← → move, Esc closes)")

    def _show_none(self) -> None:
        self.row, self.path = -1, ""
        self.caption.setText("")
        self.view.show_image(QImage(), "No images")

    def _model_reset(self) -> None:
        """The gallery was searched again: stay on the same image when it is still there."""
        item_row = next((r for r, item in enumerate(self.model.items) if item.path == self.path), 0)
        self.row, self.path = -1, ""
        self.go(item_row)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        moves = {Qt.Key.Key_Right: 1, Qt.Key.Key_Down: 1, Qt.Key.Key_Space: 1,
                 Qt.Key.Key_Left: -1, Qt.Key.Key_Up: -1, Qt.Key.Key_Backspace: -1}
        if key in moves:
            self.go(self.row + moves[key])
        elif key == Qt.Key.Key_Home:
            self.go(0)
        elif key == Qt.Key.Key_End:
            self.go(self.model.rowCount() - 1)
        else:
            super().keyPressEvent(event)  # Esc closes
