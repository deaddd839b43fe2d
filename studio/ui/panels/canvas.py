"""The central canvas: the latest preview or result, or an empty state saying how to make one."""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QImage, QPainter, QPaintEvent
from PySide6.QtWidgets import QLabel, QStackedWidget, QVBoxLayout, QWidget

from studio.ui.panels.empty import EmptyState
from studio.ui.viewmodels import CanvasViewModel

EMPTY_TEXT = "No image yet — write a prompt and press Generate"


class ImageView(QWidget):
    """Paints one image, scaled to fit with its aspect ratio kept."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.image = QImage()

    def set_image(self, image: QImage) -> None:
        self.image = image
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(512, 512)

    def paintEvent(self, _event: QPaintEvent) -> None:
        if self.image.isNull():
            return
        size = self.image.size().scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio)
        if self.image.width() <= self.width() and self.image.height() <= self.height():
            size = self.image.size()  # small images are shown at their own size, not blown up
        target = QRect(0, 0, size.width(), size.height())
        target.moveCenter(self.rect().center())
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.drawImage(target, self.image)


class Canvas(QWidget):
    """Binds to a :class:`CanvasViewModel`."""

    def __init__(self, model: CanvasViewModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("canvas")
        self.model = model
        self.empty = EmptyState(
            EMPTY_TEXT, "Each image appears here while it is made; the queue shows every job's progress."
        )
        self.view = ImageView()
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.view)
        self.caption = QLabel()
        self.caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.caption.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.stack, 1)
        layout.addWidget(self.caption)
        model.image_changed.connect(self._show)
        model.caption_changed.connect(self.caption.setText)

    def empty_text(self) -> str:
        return EMPTY_TEXT

    def showing_image(self) -> bool:
        return self.stack.currentWidget() is self.view

    def _show(self, image: QImage) -> None:
        self.view.set_image(image)
        self.stack.setCurrentWidget(self.view if not image.isNull() else self.empty)
