"""A strip of frames: thumbnails in one scrolling row, a slider that scrubs through them and a large
preview of the chosen frame (the interpolation dialog's result view)."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QSlider,
    QVBoxLayout,
    QWidget,
)

THUMB_SIDE = 72
PREVIEW_SIDE = 288


def scaled_pixmap(image: QImage, side: int) -> QPixmap:
    """``image`` fitted in a ``side`` square; a small picture is enlarged with sharp pixels."""
    if image.isNull():
        return QPixmap()
    grow = image.width() <= side and image.height() <= side
    mode = Qt.TransformationMode.FastTransformation if grow else Qt.TransformationMode.SmoothTransformation
    return QPixmap.fromImage(image.scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio, mode))


class FrameStrip(QWidget):
    """Shows frames; the slider and the strip choose the same frame (``current_changed``)."""

    current_changed = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.frames: list[QImage] = []
        self.preview = QLabel("Run to see the frames here.", objectName="framePreview")
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setMinimumSize(PREVIEW_SIDE, PREVIEW_SIDE)
        self.strip = QListWidget(objectName="frameStrip")
        self.strip.setViewMode(QListView.ViewMode.IconMode)
        self.strip.setFlow(QListView.Flow.LeftToRight)
        self.strip.setWrapping(False)
        self.strip.setMovement(QListView.Movement.Static)
        self.strip.setIconSize(QSize(THUMB_SIDE, THUMB_SIDE))
        self.strip.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.strip.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.strip.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.strip.setFixedHeight(THUMB_SIDE + 52)
        self.slider = QSlider(Qt.Orientation.Horizontal, objectName="frameSlider")
        self.slider.setRange(0, 0)
        self.slider.setEnabled(False)
        self.position = QLabel("", objectName="framePosition")
        self.position.setMinimumWidth(110)

        scrub = QHBoxLayout()
        scrub.addWidget(self.slider, 1)
        scrub.addWidget(self.position)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.preview, 1)
        layout.addLayout(scrub)
        layout.addWidget(self.strip)

        self.slider.valueChanged.connect(self.show_frame)
        self.strip.currentRowChanged.connect(self._row_chosen)

    def set_frames(self, frames: list[QImage]) -> None:
        """Replace the frames; the first one is shown."""
        self.frames = [frame for frame in frames if not frame.isNull()]
        self.strip.blockSignals(True)
        self.strip.clear()
        for index, frame in enumerate(self.frames):
            item = QListWidgetItem(QIcon(scaled_pixmap(frame, THUMB_SIDE)), str(index + 1))
            item.setToolTip(f"Frame {index + 1} of {len(self.frames)}")
            self.strip.addItem(item)
        self.strip.blockSignals(False)
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(len(self.frames) - 1, 0))
        self.slider.setValue(0)
        self.slider.blockSignals(False)
        self.slider.setEnabled(len(self.frames) > 1)
        if self.frames:
            self.show_frame(0)
        else:
            self.preview.setPixmap(QPixmap())
            self.preview.setText("Run to see the frames here.")
            self.position.setText("")

    def current(self) -> int:
        """The chosen frame's index (-1 without frames)."""
        return self.slider.value() if self.frames else -1

    def current_frame(self) -> QImage:
        index = self.current()
        return self.frames[index] if index >= 0 else QImage()

    def show_frame(self, index: int) -> None:
        """Choose frame ``index``: the preview, the slider and the strip follow."""
        if not 0 <= index < len(self.frames):
            return
        if self.slider.value() != index:
            self.slider.setValue(index)  # comes back here through valueChanged
            return
        self.preview.setPixmap(scaled_pixmap(self.frames[index], PREVIEW_SIDE))
        self.position.setText(f"Frame {index + 1} of {len(self.frames)}")
        if self.strip.currentRow() != index:
            self.strip.blockSignals(True)
            self.strip.setCurrentRow(index)
            self.strip.blockSignals(False)
        self.strip.scrollToItem(self.strip.item(index))
        self.current_changed.emit(index)

    def _row_chosen(self, row: int) -> None:
        if row >= 0:
            self.show_frame(row)
