"""One document of the editor pane: a plain-text editor, a rendered Markdown preview, marked AI spans.

The text is always plain (no rich text is accepted); the only formatting a document carries is the
mark of generated spans (a character format with :data:`AI_PROPERTY`), removed when the user accepts
them. :class:`AiInsertion` streams a job's text chunks into the document so that one undo removes the
whole insertion.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QInputMethodEvent,
    QKeyEvent,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
    QTextFormat,
)
from PySide6.QtWidgets import QStackedWidget, QTextBrowser, QTextEdit, QVBoxLayout, QWidget

from studio.core.drafts import Draft

AI_PROPERTY = int(QTextFormat.Property.UserProperty) + 17
AI_TINT = QColor(255, 196, 0, 80)  # a translucent amber: readable on light and dark palettes
AI_LINE = QColor(200, 130, 0)


def ai_format() -> QTextCharFormat:
    """How generated text looks until it is accepted."""
    fmt = QTextCharFormat()
    fmt.setBackground(AI_TINT)
    fmt.setUnderlineStyle(QTextCharFormat.UnderlineStyle.DotLine)
    fmt.setUnderlineColor(AI_LINE)
    fmt.setProperty(AI_PROPERTY, True)
    return fmt


def is_ai(fmt: QTextCharFormat) -> bool:
    return bool(fmt.property(AI_PROPERTY))


def is_continue_key(event: QKeyEvent) -> bool:
    """Ctrl+Return (or Ctrl+Enter), without Shift: the editor's Continue while typing."""
    mods = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
    return event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and mods == Qt.KeyboardModifier.ControlModifier


class TextEdit(QTextEdit):
    """Plain text only; undo and redo wait while a generation streams into the document.

    Ctrl+Return while typing is the editor's own (``continue_requested``): the key is taken before
    any window shortcut (e.g. an image job's Generate) can see it.
    """

    continue_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAcceptRichText(False)
        self.setTabChangesFocus(False)
        self.setLineWrapMode(QTextEdit.LineWrapMode.WidgetWidth)
        self.busy = False

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ShortcutOverride and isinstance(event, QKeyEvent) and is_continue_key(event):
            event.accept()  # delivered to keyPressEvent, not to a window action
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if is_continue_key(event):
            event.accept()
            self.continue_requested.emit()
            return
        text = event.text()
        typing = bool(text) and (text.isprintable() or text in "\r\t")
        if typing and not event.modifiers() & Qt.KeyboardModifier.ControlModifier and not self.busy:
            self._plain_typing()
        super().keyPressEvent(event)

    def inputMethodEvent(self, event: QInputMethodEvent) -> None:
        if event.commitString() and not self.busy:
            self._plain_typing()
        super().inputMethodEvent(event)

    def _plain_typing(self) -> None:
        """What the user types is theirs: it never takes the mark of the generated text next to it."""
        cursor = self.textCursor()
        if is_ai(cursor.charFormat()) or (cursor.hasSelection() and is_ai(self._format_at(cursor.selectionStart()))):
            if cursor.hasSelection():
                cursor.removeSelectedText()
            cursor.setCharFormat(QTextCharFormat())
            self.setTextCursor(cursor)

    def _format_at(self, position: int) -> QTextCharFormat:
        cursor = QTextCursor(self.document())
        cursor.setPosition(min(position + 1, max(0, self.document().characterCount() - 1)))
        return cursor.charFormat()

    def undo(self) -> None:
        if not self.busy:
            super().undo()

    def redo(self) -> None:
        if not self.busy:
            super().redo()

    def insertFromMimeData(self, source) -> None:
        if source.hasText():
            self.textCursor().insertText(source.text(), QTextCharFormat())


class DocumentTab(QWidget):
    """An editor tab: the document of a :class:`Draft`, with a Markdown preview page."""

    text_changed = Signal()

    def __init__(self, draft: Draft, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.draft = draft
        self.edit = TextEdit()
        self.edit.setObjectName("editorText")
        self.edit.setPlaceholderText("Write here; Ctrl+Return continues.")  # one line (Qt draws only one)
        self.preview = QTextBrowser()
        self.preview.setObjectName("editorPreview")
        self.preview.setOpenExternalLinks(False)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.edit)
        self.stack.addWidget(self.preview)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack)
        self.last_insertion: AiInsertion | None = None
        self._loading = True
        self.edit.setPlainText(draft.text)
        for start, end in draft.meta.get("ai_spans", []) or []:
            self._format_range(int(start), int(end), ai_format())
        self.edit.document().clearUndoRedoStacks()
        self.edit.document().setModified(False)
        self._loading = False
        self.edit.document().contentsChanged.connect(self._changed)

    # -- content -----------------------------------------------------------------------
    @property
    def document(self) -> QTextDocument:
        return self.edit.document()

    def text(self) -> str:
        return self.edit.toPlainText()

    @property
    def markdown(self) -> bool:
        return self.draft.format == "markdown"

    def title(self) -> str:
        return self.draft.title + ("" if self.draft.saved or not self.draft.text else " •")

    def _changed(self) -> None:
        if self._loading:
            return
        self.draft.text = self.text()
        self.draft.saved = False
        self.draft.meta["ai_spans"] = self.ai_spans()
        if self.previewing:
            self.refresh_preview()
        self.text_changed.emit()

    # -- preview -----------------------------------------------------------------------
    @property
    def previewing(self) -> bool:
        return self.stack.currentWidget() is self.preview

    def set_preview(self, on: bool) -> None:
        if on:
            self.refresh_preview()
        self.stack.setCurrentWidget(self.preview if on else self.edit)

    def refresh_preview(self) -> None:
        if self.markdown:
            self.preview.setMarkdown(self.text())
        else:
            self.preview.setPlainText(self.text())

    # -- generated spans ---------------------------------------------------------------
    def ai_spans(self) -> list[list[int]]:
        """``[start, end)`` ranges of generated text not yet accepted (document positions)."""
        spans: list[list[int]] = []
        separators: set[int] = set()  # positions of the paragraph breaks (a span may run across them)
        block = self.document.begin()
        while block.isValid():
            it = block.begin()
            while not it.atEnd():
                fragment = it.fragment()
                if fragment.isValid() and is_ai(fragment.charFormat()):
                    start, end = fragment.position(), fragment.position() + fragment.length()
                    if spans and (spans[-1][1] >= start or (spans[-1][1] == start - 1 and start - 1 in separators)):
                        spans[-1][1] = end
                    else:
                        spans.append([start, end])
                it += 1
            separators.add(block.position() + block.length() - 1)
            block = block.next()
        return spans

    def accept_ai(self) -> int:
        """Accept every generated span (their mark goes; one undo brings it back); returns how many."""
        spans = self.ai_spans()
        if not spans:
            return 0
        cursor = QTextCursor(self.document)
        cursor.beginEditBlock()
        for start, end in spans:
            cursor.setPosition(start)
            cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
            cursor.setCharFormat(QTextCharFormat())
        cursor.endEditBlock()
        self.last_insertion = None
        return len(spans)

    def _format_range(self, start: int, end: int, fmt: QTextCharFormat) -> None:
        last = max(0, self.document.characterCount() - 1)
        start, end = max(0, min(start, last)), max(0, min(end, last))
        if end <= start:
            return
        cursor = QTextCursor(self.document)
        cursor.setPosition(start)
        cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
        cursor.setCharFormat(fmt)


class AiInsertion:
    """Streams one job's text into a document tab as a single undoable edit.

    The first chunk opens an edit block (removing ``replace`` — a selection to rewrite or the span to
    regenerate — in the same block); later chunks join it. Positions are kept as integers: the
    editor is read-only while the job runs, so nothing else moves them.
    """

    def __init__(self, tab: DocumentTab, job_id: int, request, at: int, replace: tuple[int, int] | None = None) -> None:
        self.tab = tab
        self.job_id = job_id
        self.request = request
        self.start = at if replace is None else replace[0]
        self.end = self.start
        self.replace = replace
        self.chunks = 0
        self.started = False
        self.final_text = ""

    def add(self, chunk: str) -> None:
        if not chunk:
            return
        cursor = QTextCursor(self.tab.document)
        if not self.started:
            cursor.beginEditBlock()
            if self.replace is not None:
                cursor.setPosition(self.replace[0])
                cursor.setPosition(self.replace[1], QTextCursor.MoveMode.KeepAnchor)
                cursor.removeSelectedText()
            self.started = True
        else:
            cursor.joinPreviousEditBlock()
        cursor.setPosition(self.end)
        cursor.insertText(chunk, ai_format())
        cursor.endEditBlock()
        self.end = cursor.position()
        self.chunks += 1

    def text(self) -> str:
        cursor = QTextCursor(self.tab.document)
        cursor.setPosition(self.start)
        cursor.setPosition(self.end, QTextCursor.MoveMode.KeepAnchor)
        return cursor.selectedText().replace("\u2029", "\n")

    def finish(self, text: str | None) -> None:
        """The job's whole text is authoritative: make the span hold exactly it (same undo step)."""
        if text is None or (not self.started and not text):
            return
        if self.started and self.text() == text:
            return
        cursor = QTextCursor(self.tab.document)
        if self.started:
            cursor.joinPreviousEditBlock()
            cursor.setPosition(self.start)
            cursor.setPosition(self.end, QTextCursor.MoveMode.KeepAnchor)
            cursor.removeSelectedText()
        else:
            cursor.beginEditBlock()
            if self.replace is not None:
                cursor.setPosition(self.replace[0])
                cursor.setPosition(self.replace[1], QTextCursor.MoveMode.KeepAnchor)
                cursor.removeSelectedText()
            self.started = True
        cursor.setPosition(self.start)
        cursor.insertText(text, ai_format())
        cursor.endEditBlock()
        self.end = cursor.position()

    def still_intact(self, text: str) -> bool:
        """Whether the span still holds ``text`` (the user did not edit it since)."""
        return self.end <= self.tab.document.characterCount() and self.text() == text


def place_cursor_after(tab: DocumentTab, position: int) -> None:
    cursor = tab.edit.textCursor()
    cursor.setPosition(min(position, max(0, tab.document.characterCount() - 1)))
    tab.edit.setTextCursor(cursor)


