"""The log panel: the tail of the studio's log, job failures included."""

from __future__ import annotations

from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QPlainTextEdit, QVBoxLayout, QWidget

from studio.ui.viewmodels import LogViewModel


class LogPanel(QWidget):
    """Binds to a :class:`LogViewModel`."""

    def __init__(self, model: LogViewModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = QPlainTextEdit()
        self.view.setReadOnly(True)
        self.view.setMaximumBlockCount(model.lines.maxlen or 2000)
        self.view.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.view.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.view.setPlaceholderText("Messages from the studio and its jobs will appear here.")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.view)
        for line in model.lines:
            self.view.appendPlainText(line)
        model.line_added.connect(self.view.appendPlainText)

    def text(self) -> str:
        return self.view.toPlainText()
