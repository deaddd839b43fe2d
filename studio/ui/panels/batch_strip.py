"""A strip of thumbnails under the canvas: pick which image of the last batch is on the canvas."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import QListView, QListWidget, QListWidgetItem, QWidget

from studio.ui.canvas_model import CanvasViewModel

THUMB = 64


class BatchStrip(QListWidget):
    """One thumbnail per image of the model's last batch; hidden unless a batch has two or more."""

    def __init__(self, model: CanvasViewModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.setObjectName("batchStrip")
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(False)
        self.setMovement(QListView.Movement.Static)
        self.setIconSize(QSize(THUMB, THUMB))
        self.setSpacing(2)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFixedHeight(THUMB + 2 * self.frameWidth() + 14 + self.horizontalScrollBar().sizeHint().height())
        self.setToolTip("The images of the last batch: click one to put it on the canvas (undoable)")
        self.currentRowChanged.connect(self._picked)
        model.batch_changed.connect(self._refill)
        model.document_changed.connect(self._follow_document)
        self._refill()

    def _refill(self) -> None:
        self.blockSignals(True)
        self.clear()
        for number, image in enumerate(self.model.batch, 1):
            item = QListWidgetItem(QIcon(QPixmap.fromImage(_thumbnail(image))), str(number))
            item.setToolTip(f"Image {number} of job {self.model.batch_job} ({image.width()} × {image.height()})")
            self.addItem(item)
        self.setCurrentRow(self.model.batch_index())
        self.blockSignals(False)
        self.setVisible(self.count() > 1)

    def _follow_document(self) -> None:
        """Undo/redo may put another batch image (or none of them) on the canvas."""
        self.blockSignals(True)
        self.setCurrentRow(self.model.batch_index())
        self.blockSignals(False)

    def _picked(self, row: int) -> None:
        if row >= 0:
            self.model.pick_from_batch(row)


def _thumbnail(image: QImage) -> QImage:
    return image.scaled(THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
