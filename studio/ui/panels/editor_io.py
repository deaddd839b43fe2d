"""Saving and exporting editor documents (.md, .txt, .html, .pdf), atomically; the find/replace bar;
the rows of action buttons that wrap instead of hiding actions behind an overflow menu."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from PySide6.QtCore import QPoint, QRect, QSaveFile, QSize, Qt, Signal
from PySide6.QtGui import QAction, QKeyEvent, QPageSize, QPdfWriter, QTextDocument
from PySide6.QtWidgets import (
    QCheckBox,
    QFrame,
    QHBoxLayout,
    QLayout,
    QLayoutItem,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QTextEdit,
    QToolButton,
    QWidget,
)

from studio.core.errors import BadInput

EXPORT_FILTERS = "Markdown (*.md);;Plain text (*.txt);;HTML (*.html);;PDF (*.pdf)"
EXTENSIONS = (".md", ".txt", ".html", ".pdf")


def _document(text: str, markdown: bool) -> QTextDocument:
    doc = QTextDocument()
    if markdown:
        doc.setMarkdown(text)
    else:
        doc.setPlainText(text)
    return doc


def write_document(path: str | Path, text: str, markdown: bool) -> Path:
    """Write ``text`` to ``path`` in the format its extension names; atomic (temp file + rename)."""
    target = Path(path)
    ext = target.suffix.lower()
    if ext not in EXTENSIONS:
        raise BadInput(f"The studio cannot export to '{ext or target.name}'.", "Choose .md, .txt, .html or .pdf.")
    if not target.parent.is_dir():
        raise BadInput(f"The folder '{target.parent}' does not exist.")
    if ext == ".pdf":
        fd, tmp = tempfile.mkstemp(prefix=".export-", suffix=".pdf", dir=target.parent)
        os.close(fd)
        try:
            writer = QPdfWriter(tmp)
            writer.setPageSize(QPageSize(QPageSize.PageSizeId.A4))
            writer.setResolution(300)
            writer.setTitle(target.stem)
            _document(text, markdown).print_(writer)
            del writer  # flushes and closes the file
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target
    data = (_document(text, markdown).toHtml() if ext == ".html" else text).encode("utf-8")
    out = QSaveFile(str(target))
    if not out.open(QSaveFile.OpenModeFlag.WriteOnly):
        raise BadInput(f"Cannot write '{target}' ({out.errorString()}).", "Choose a folder you can write to.")
    out.write(data)
    if not out.commit():
        raise BadInput(f"Could not save '{target}' ({out.errorString()}).", "Nothing was overwritten.")
    return target


def read_document(path: str | Path) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise BadInput(f"'{path}' is not a UTF-8 text file.") from None
    except OSError as exc:
        raise BadInput(f"Cannot open '{path}' ({exc.strerror}).") from None


class FindBar(QWidget):
    """Find (Enter / Shift+Enter), replace, replace all; Escape hides it."""

    message = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("editorFindBar")
        self.edit: QTextEdit | None = None
        self.find_field = QLineEdit(placeholderText="Find")
        self.replace_field = QLineEdit(placeholderText="Replace with")
        self.case = QCheckBox("Match case")
        previous = QPushButton("Previous")
        following = QPushButton("Next")
        replace = QPushButton("Replace")
        replace_all = QPushButton("Replace all")
        close = QPushButton("✕")
        close.setToolTip("Close (Esc)")
        close.setFlat(True)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        for w in (self.find_field, previous, following, self.replace_field, replace, replace_all, self.case, close):
            layout.addWidget(w)
        self.find_field.returnPressed.connect(self.find_next)
        self.replace_field.returnPressed.connect(self.replace_one)
        previous.clicked.connect(self.find_previous)
        following.clicked.connect(self.find_next)
        replace.clicked.connect(self.replace_one)
        replace_all.clicked.connect(self.replace_all)
        close.clicked.connect(self.hide)

    def open_for(self, edit: QTextEdit, replace: bool = False) -> None:
        self.edit = edit
        selected = edit.textCursor().selectedText()
        if selected and "\u2029" not in selected:
            self.find_field.setText(selected)
        self.show()
        (self.replace_field if replace and self.find_field.text() else self.find_field).setFocus()
        self.find_field.selectAll()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape:
            self.hide()
            if self.edit is not None:
                self.edit.setFocus()
            return
        shift = event.modifiers() & Qt.KeyboardModifier.ShiftModifier
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and shift:
            self.find_previous()
            return
        super().keyPressEvent(event)

    def _flags(self, backward: bool = False) -> QTextDocument.FindFlag:
        flags = QTextDocument.FindFlag(0)
        if self.case.isChecked():
            flags |= QTextDocument.FindFlag.FindCaseSensitively
        if backward:
            flags |= QTextDocument.FindFlag.FindBackward
        return flags

    def _find(self, backward: bool) -> bool:
        needle = self.find_field.text()
        if self.edit is None or not needle:
            return False
        if self.edit.find(needle, self._flags(backward)):
            return True
        cursor = self.edit.textCursor()  # wrap around
        cursor.movePosition(cursor.MoveOperation.End if backward else cursor.MoveOperation.Start)
        self.edit.setTextCursor(cursor)
        found = self.edit.find(needle, self._flags(backward))
        self.message.emit("" if found else f"'{needle}' was not found.")
        return found

    def find_next(self) -> bool:
        return self._find(False)

    def find_previous(self) -> bool:
        return self._find(True)

    def _matches(self, text: str) -> bool:
        needle = self.find_field.text()
        return text == needle if self.case.isChecked() else text.lower() == needle.lower()

    def replace_one(self) -> None:
        if self.edit is None or self.edit.isReadOnly():
            return
        cursor = self.edit.textCursor()
        if cursor.hasSelection() and self._matches(cursor.selectedText()):
            cursor.insertText(self.replace_field.text())
        self.find_next()

    def replace_all(self) -> int:
        if self.edit is None or self.edit.isReadOnly() or not self.find_field.text():
            return 0
        doc = self.edit.document()
        count = 0
        cursor = doc.find(self.find_field.text(), 0, self._flags())
        edit = self.edit.textCursor()
        edit.beginEditBlock()  # one undo reverts every replacement
        while not cursor.isNull():
            edit.setPosition(cursor.selectionStart())
            edit.setPosition(cursor.selectionEnd(), edit.MoveMode.KeepAnchor)
            edit.insertText(self.replace_field.text())
            count += 1
            cursor = doc.find(self.find_field.text(), edit.position(), self._flags())
        edit.endEditBlock()
        self.message.emit(f"Replaced {count} occurrence{'s' if count != 1 else ''}.")
        return count


class FlowLayout(QLayout):
    """Lays its items out left to right and wraps to a new row when the width runs out."""

    def __init__(self, parent: QWidget | None = None, spacing: int = 2) -> None:
        super().__init__(parent)
        self._items: list[QLayoutItem] = []
        self.setSpacing(spacing)
        self.setContentsMargins(0, 0, 0, 0)

    def addItem(self, item: QLayoutItem) -> None:
        self._items.append(item)

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index: int) -> QLayoutItem | None:
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int) -> QLayoutItem | None:
        return self._items.pop(index) if 0 <= index < len(self._items) else None

    def expandingDirections(self) -> Qt.Orientation:
        return Qt.Orientation(0)

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return self._arrange(QRect(0, 0, width, 0), move=False)

    def setGeometry(self, rect: QRect) -> None:
        super().setGeometry(rect)
        self._arrange(rect, move=True)

    def sizeHint(self) -> QSize:
        return self.minimumSize()

    def minimumSize(self) -> QSize:
        size = QSize()
        for item in self._items:
            size = size.expandedTo(item.minimumSize())
        return size.grownBy(self.contentsMargins())

    def _arrange(self, rect: QRect, move: bool) -> int:
        margins = self.contentsMargins()
        area = rect.marginsRemoved(margins)
        x, y, row_height = area.x(), area.y(), 0
        for item in self._items:
            if item.isEmpty():
                continue
            hint = item.sizeHint()
            if x > area.x() and x + hint.width() > area.right() + 1:
                x, y, row_height = area.x(), y + row_height + self.spacing(), 0
            if move:
                item.setGeometry(QRect(QPoint(x, y), hint))
            x += hint.width() + self.spacing()
            row_height = max(row_height, hint.height())
        return y + row_height - rect.y() + margins.bottom()


class ActionStrip(QWidget):
    """A row of buttons for actions that wraps onto more rows in a narrow dock: every action stays
    one click away (a tool bar would hide the last ones behind its » menu)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.flow = FlowLayout(self)
        policy = QSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        policy.setHeightForWidth(True)
        self.setSizePolicy(policy)
        self.buttons: dict[QAction, QToolButton] = {}

    def addAction(self, action: QAction) -> None:  # type: ignore[override]  # a button, not a context action
        button = QToolButton(self)
        button.setDefaultAction(action)
        button.setAutoRaise(True)
        button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.flow.addWidget(button)
        self.buttons[action] = button

    def addSeparator(self) -> None:
        line = QFrame(self)
        line.setFrameShape(QFrame.Shape.VLine)
        line.setFrameShadow(QFrame.Shadow.Sunken)
        self.flow.addWidget(line)

    def button_for(self, action: QAction) -> QToolButton:
        return self.buttons[action]
