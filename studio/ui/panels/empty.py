"""A clear empty state: what will appear in a panel, and how to get it there."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget


class EmptyState(QWidget):
    """A centred title and explanation, drawn in the palette's placeholder colour."""

    def __init__(self, title: str, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("emptyState")
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        self.title = QLabel(title)
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.25)
        font.setBold(True)
        self.title.setFont(font)
        self.title.setWordWrap(True)  # a long title must not set the window's minimum width
        self.text = QLabel(text)
        self.text.setWordWrap(True)
        for label in (self.title, self.text):
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            layout.addWidget(label)
        layout.addStretch(1)

    def message(self) -> str:
        return f"{self.title.text()} {self.text.text()}"


def gallery_panel() -> EmptyState:
    return EmptyState(
        "The gallery is empty",
        "Images you generate will be collected here, each with the settings that made it, "
        "ready to reuse, compare and export.",
    )


def editor_panel() -> EmptyState:
    return EmptyState(
        "Nothing to edit",
        "Images you choose to inpaint, outpaint or retouch will open here, with their masks and layers.",
    )

