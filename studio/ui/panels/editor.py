"""The editor pane: tabs of drafts (plain text or Markdown), find/replace, counts, autosave and crash
recovery, export, and AI actions (Continue, Rewrite, Regenerate, Stop, Check watermark) that stream a
local language model's tokens into the document.

Model work runs as jobs on the session's worker (``submit`` → :class:`~studio.jobs.runner.JobRunner`);
the pane follows each of its jobs through a :class:`~studio.ui.bridge.JobWatch` (``bridge.watch(id)``):
``text`` carries each new chunk, ``log`` a notice, ``finished`` the authoritative text.
The sampling settings live in a :class:`~studio.ui.request_model.TextSettingsViewModel` the widgets
are bound to; an action's request is that state with the action's prompt and mode.
"""

from __future__ import annotations

import contextlib
import logging
import random
import re
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDockWidget,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.core import text_presets
from studio.core.drafts import Autosaver, Draft, DraftStore
from studio.core.errors import StudioError, describe
from studio.core.library import ModelEntry
from studio.core.requests import MAX_SEED, TextRequest
from studio.jobs.queue import Job
from studio.ui.bridge import JobWatch
from studio.ui.panels.editor_doc import AiInsertion, DocumentTab, place_cursor_after
from studio.ui.panels.editor_io import EXPORT_FILTERS, ActionStrip, FindBar, read_document, write_document
from studio.ui.request_model import TextSettingsViewModel, bind, seed_from_widget, seed_to_widget
from studio.ui.tasks import run_in_background

log = logging.getLogger("studio.ui")

DEFAULT_MODEL = "demo-text"
COUNT_DELAY_MS = 400
_WORD = re.compile(r"\w+(?:['’-]\w+)*")


def word_count(text: str) -> int:
    return len(_WORD.findall(text))


class _SaverSignals(QObject):
    """Carries the autosaver's callbacks (its own thread) to the GUI thread."""

    saved = Signal(str)
    error = Signal(str, str)


class TokenCounter:
    """Counts tokens with the chosen model's ``tokenizer.json`` (the Rust ``tokenizers`` library, loaded
    off the GUI thread); until one is loaded, an estimate of four characters a token."""

    def __init__(self) -> None:
        self.folder: str | None = None
        self.tokenizer = None

    def use(self, folder: str | None, on_ready: Callable[[], None], owner: QObject | None = None) -> None:
        if folder == self.folder:
            return
        self.folder, self.tokenizer = folder, None
        file = Path(folder) / "tokenizer.json" if folder else None
        if file is None or not file.is_file():
            return

        def load():
            from tokenizers import Tokenizer

            return Tokenizer.from_file(str(file))

        def done(tokenizer) -> None:
            if self.folder == folder:
                self.tokenizer = tokenizer
                on_ready()

        run_in_background(load, done, lambda exc: log.info("No token counter for %s: %s", folder, exc), owner)

    def count(self, text: str) -> tuple[int, bool]:
        """(tokens, exact)."""
        if self.tokenizer is not None:
            try:
                return len(self.tokenizer.encode(text, add_special_tokens=False).ids), True
            except Exception:  # a tokenizer that cannot encode: fall back to the estimate
                pass
        return (len(text) + 3) // 4, False


class SamplingBox(QFrame):
    """Model, preset and sampling settings (bound to ``view_model``); builds the :class:`TextRequest`
    of an action. ``model_kinds()``: the model kinds the plugins can write text with."""

    def __init__(self, model_kinds: Callable[[], set[str]] = set, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("editorSampling")
        self.view_model = TextSettingsViewModel(self)
        self._model_kinds = model_kinds
        self.model = QComboBox()
        self.model.setObjectName("editorModel")
        self.model.setPlaceholderText("No language model found")
        self.model.setMinimumContentsLength(12)
        self.model.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.preset = QComboBox()
        self.save_preset = QToolButton(text="Save…")
        self.save_preset.setToolTip("Save these sampling settings as a preset of your own")
        self.temperature = self._double(0.0, 3.0, 0.05, "Temperature (0 = always the likeliest token)")
        self.top_p = self._double(0.01, 1.0, 0.01, "Top-p: sample from the smallest set of tokens this likely")
        self.top_k = QSpinBox(minimum=0, maximum=1000, toolTip="Top-k (0 = off)")
        self.repetition = self._double(0.5, 3.0, 0.01, "Repetition penalty")
        self.max_tokens = QSpinBox(minimum=1, maximum=32768, toolTip="Max new tokens")
        self.seed = QDoubleSpinBox(minimum=-1, maximum=MAX_SEED, decimals=0, toolTip="Seed (-1 = random)")
        self.seed.setSpecialValueText("random")  # -1: the view-model's seed is None
        self.watermark = QCheckBox("Watermark")
        self.watermark.setToolTip("Mark generated text with a green-list watermark (detectable later)")

        grid = QGridLayout(self)
        grid.setContentsMargins(4, 2, 4, 2)
        grid.setHorizontalSpacing(6)
        grid.setVerticalSpacing(2)
        row1 = QHBoxLayout()
        row1.addWidget(QLabel("Model"))
        row1.addWidget(self.model, 2)
        row1.addWidget(QLabel("Preset"))
        row1.addWidget(self.preset, 1)
        row1.addWidget(self.save_preset)
        grid.addLayout(row1, 0, 0, 1, 4)
        form_a, form_b = QFormLayout(), QFormLayout()
        form_a.addRow("Temperature", self.temperature)
        form_a.addRow("Top-p", self.top_p)
        form_a.addRow("Top-k", self.top_k)
        form_b.addRow("Repetition", self.repetition)
        form_b.addRow("Max tokens", self.max_tokens)
        form_b.addRow("Seed", self.seed)
        grid.addLayout(form_a, 1, 0)
        grid.addLayout(form_b, 1, 1)
        grid.addWidget(self.watermark, 2, 0, 1, 2)
        vm = self.view_model
        bind(vm, "model", self.model, read=lambda: str(self.model.currentData() or ""),
             write=self._choose_model, signal=self.model.currentIndexChanged)
        for name, box in (("temperature", self.temperature), ("top_p", self.top_p), ("top_k", self.top_k),
                          ("repetition_penalty", self.repetition), ("max_new_tokens", self.max_tokens)):
            bind(vm, name, box)
        bind(vm, "seed", self.seed, to_widget=seed_to_widget, from_widget=seed_from_widget)
        bind(vm, "watermark", self.watermark, "checked")
        self.preset.currentIndexChanged.connect(self._preset_chosen)
        self.save_preset.clicked.connect(self._save_preset)
        self.reload_presets(text_presets.DEFAULT_PRESET)

    @staticmethod
    def _double(low: float, high: float, step: float, tip: str) -> QDoubleSpinBox:
        box = QDoubleSpinBox(minimum=low, maximum=high, singleStep=step, decimals=2, toolTip=tip)
        return box

    # -- presets -----------------------------------------------------------------------
    def reload_presets(self, select: str | None = None) -> None:
        current = select or self.preset.currentText()
        self.preset.blockSignals(True)
        self.preset.clear()
        for preset in text_presets.list_presets():
            self.preset.addItem(preset.name, preset)
        self.preset.blockSignals(False)
        index = max(0, self.preset.findText(current))
        self.preset.setCurrentIndex(index)
        self._preset_chosen(index)

    def _preset_chosen(self, index: int) -> None:
        preset = self.preset.itemData(index)
        if preset is not None:
            self.view_model.set_request(text_presets.apply_preset(self.view_model.state, preset))

    def _save_preset(self) -> None:
        name, ok = QInputDialog.getText(self, "Save preset", "Name of the preset:")
        if not ok or not name.strip():
            return
        try:
            text_presets.save_preset(text_presets.preset_from_request(name.strip(), self.request("", "x")))
        except StudioError as exc:
            QMessageBox.warning(self, "Preset not saved", exc.user_text())
            return
        self.reload_presets(name.strip())

    # -- models ------------------------------------------------------------------------
    def set_models(self, entries: list[ModelEntry]) -> None:
        current = self.model.currentData()
        kinds = self._model_kinds()
        models = [e for e in entries if e.kind in kinds]
        self.model.blockSignals(True)
        self.model.clear()
        for entry in models:
            ref = entry.name if entry.source == "demo" else entry.path
            label = entry.name if entry.source != "hf-cache" else f"{entry.name} (HF cache)"
            self.model.addItem(label, ref)
            self.model.setItemData(self.model.count() - 1, entry.path, Qt.ItemDataRole.ToolTipRole)
            self.model.setItemData(self.model.count() - 1, entry.path, Qt.ItemDataRole.UserRole + 1)
        self.model.blockSignals(False)
        index = self.model.findData(current) if current else -1
        if index < 0:
            index = self.model.findText(DEFAULT_MODEL)
        self.model.setCurrentIndex(max(0, index) if self.model.count() else -1)
        self.model.currentIndexChanged.emit(self.model.currentIndex())

    def _choose_model(self, reference: str) -> None:
        index = self.model.findData(reference)
        if index >= 0:
            self.model.setCurrentIndex(index)

    def model_folder(self) -> str | None:
        return self.model.currentData(Qt.ItemDataRole.UserRole + 1)

    def request(self, model: str, prompt: str, **fields) -> TextRequest:
        """The settings' request for ``prompt`` on ``model`` (``fields``: the action's mode …)."""
        return self.view_model.request(model=model, prompt=prompt, **fields)

    def apply_request(self, request: TextRequest) -> None:
        """"Use these settings" of a text job: model and sampling settings in one step."""
        self.view_model.set_request(request)


class EditorPanel(QWidget):
    """Documents, AI actions and their settings. ``submit(request) -> Job`` and ``cancel(job_id)``
    send intents; ``bridge`` brings the jobs' events back (GUI thread)."""

    message_changed = Signal(str)

    def __init__(
        self,
        library,
        bridge,
        submit: Callable[[TextRequest], Job],
        cancel: Callable[[int], None],
        store: DraftStore | None = None,
        autosave_delay: float = 2.0,
        autosave_max_wait: float = 4.0,
        parent: QWidget | None = None,
        model_kinds: Callable[[], set[str]] = set,
    ) -> None:
        """``model_kinds()``: the model kinds the plugins can write text with (their manifests')."""
        super().__init__(parent)
        self.setObjectName("editorPanel")
        self.library = library
        self.bridge = bridge
        self._submit = submit
        self._cancel = cancel
        self._store = store
        self._delay, self._max_wait = autosave_delay, autosave_max_wait
        self.saver: Autosaver | None = None
        self._saver_signals = _SaverSignals(self)
        self._saver_signals.saved.connect(self._draft_saved)
        self._saver_signals.error.connect(self._draft_error)
        self.active: AiInsertion | None = None  # the generation streaming now
        self.detect_job: int | None = None
        self._watches: list[JobWatch] = []  # the jobs this pane follows (released when they end)
        self.stopping = False
        self.counter = TokenCounter()
        self.count_timer = QTimer(self, singleShot=True, interval=COUNT_DELAY_MS)
        self.count_timer.timeout.connect(self.update_counts)
        self.recoverable: list[Draft] = []
        self.quit_box: QMessageBox | None = None  # the Save / Discard / Cancel question on quit
        self._quit_confirmed = False

        self.toolbar = ActionStrip()  # documents
        self.ai_toolbar = ActionStrip()  # the model's actions: rows that wrap, so a narrow dock shows them all
        self.actions_by_name: dict[str, QAction] = {}
        self._build_actions()

        self.instruction = QLineEdit(placeholderText="Rewrite instruction, e.g. “Make it shorter and friendlier”")
        self.instruction.setObjectName("editorInstruction")
        self.instruction.setClearButtonEnabled(True)
        self.sampling = SamplingBox(model_kinds)
        self.sampling.setVisible(False)
        self.settings_button = QToolButton(text="Sampling ▾", checkable=True)
        self.settings_button.setToolTip("Model, preset and sampling settings")
        self.settings_button.toggled.connect(self.sampling.setVisible)
        top = QHBoxLayout()
        top.addWidget(self.instruction, 1)
        top.addWidget(self.settings_button)

        self.banner = QFrame(objectName="editorRecovery")
        self.banner.setFrameShape(QFrame.Shape.StyledPanel)
        self.banner_text = QLabel(wordWrap=True)
        restore = QPushButton("Restore")
        discard = QPushButton("Discard")
        restore.clicked.connect(self.restore_drafts)
        discard.clicked.connect(self.discard_recoverable)
        banner_layout = QVBoxLayout(self.banner)  # the question reads as a sentence over its answers
        banner_layout.setContentsMargins(6, 4, 6, 4)
        banner_layout.addWidget(self.banner_text)
        answers = QHBoxLayout()
        answers.addStretch(1)
        answers.addWidget(restore)
        answers.addWidget(discard)
        banner_layout.addLayout(answers)
        self.banner.hide()

        self.find_bar = FindBar()
        self.find_bar.hide()
        self.find_bar.message.connect(self.show_message)
        self.tabs = QTabWidget(documentMode=True, tabsClosable=True, movable=True)
        self.tabs.setObjectName("editorTabs")
        self.tabs.tabCloseRequested.connect(self.close_tab)
        self.tabs.currentChanged.connect(self._tab_switched)

        # the status line: the message has the dock's whole width (it wraps as a paragraph, never a
        # word a line beside the counts), the counts sit under it, right-aligned
        self.message = QLabel(objectName="editorMessage", wordWrap=True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.hide()
        self.counts = QLabel(objectName="editorCounts")
        self.counts.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.counts.setMinimumWidth(1)  # elided by the dock's width rather than widening it
        bottom = QVBoxLayout()
        bottom.setSpacing(0)
        bottom.addWidget(self.message)
        bottom.addWidget(self.counts)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(3)
        layout.addWidget(self.toolbar)
        layout.addWidget(self.ai_toolbar)
        layout.addLayout(top)
        layout.addWidget(self.sampling)
        layout.addWidget(self.banner)
        layout.addWidget(self.find_bar)
        layout.addWidget(self.tabs, 1)
        layout.addLayout(bottom)

        self.sampling.model.currentIndexChanged.connect(self._model_chosen)
        library.changed.connect(self._library_changed)
        self._library_changed()
        self._update_actions()

    # -- construction ------------------------------------------------------------------
    def _build_actions(self) -> None:
        def add(name: str, text: str, slot, shortcut: str | QKeySequence.StandardKey | None = None, tip: str = ""):
            action = QAction(text, self)
            action.triggered.connect(slot)
            if shortcut is not None:
                action.setShortcut(QKeySequence(shortcut))
                action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            keys = QKeySequence(shortcut).toString(QKeySequence.SequenceFormat.NativeText) if shortcut else ""
            action.setToolTip(f"{tip or text} ({keys})" if keys else (tip or text))
            self.addAction(action)
            self.actions_by_name[name] = action
            return action

        tb = self.toolbar
        tb.addAction(add("new", "New", self.new_document, "Ctrl+N", "New text document"))
        tb.addAction(add("new_md", "New Markdown", lambda: self.new_document(markdown=True), "Ctrl+Shift+N"))
        tb.addAction(add("open", "Open…", self.open_document, tip="Open a .txt or .md file"))
        tb.addAction(add("save", "Save", self.save_document, "Ctrl+S"))
        add("save_as", "Save As…", lambda: self.save_document(ask=True), "Ctrl+Shift+S")
        tb.addAction(add("export", "Export…", self.export_document, "Ctrl+Shift+E",
                         "Export as .md, .txt, .html or .pdf"))
        add("close", "Close Tab", lambda: self.close_tab(self.tabs.currentIndex()), "Ctrl+W")
        tb.addSeparator()
        preview = add("preview", "Preview", self.toggle_preview, "Ctrl+Shift+P", "Show the rendered Markdown")
        preview.setCheckable(True)
        tb.addAction(preview)
        tb.addAction(add("find", "Find", lambda: self.open_find(False), "Ctrl+F", "Find"))
        add("replace", "Replace", lambda: self.open_find(True), "Ctrl+H")
        add("find_next", "Find Next", self._find_next, "F3")
        tb = self.ai_toolbar
        tb.addAction(add("continue", "Continue", self.continue_text, "Ctrl+Shift+Return",
                         "Let the model continue at the cursor (also Ctrl+Return while typing)"))
        tb.addAction(add("rewrite", "Rewrite", self.rewrite_selection, "Ctrl+Shift+R",
                         "Rewrite the selection following the instruction"))
        tb.addAction(add("regenerate", "Regenerate", self.regenerate, "Ctrl+Shift+G", "Replace the last insertion"))
        tb.addAction(add("stop", "Stop", self.stop, "Ctrl+.", "Stop the generation"))
        tb.addAction(add("accept", "Accept", self.accept_ai, "Ctrl+Shift+A", "Accept generated text (remove its mark)"))
        tb.addAction(add("check", "Check watermark", self.check_watermark, tip="Z-score of the text watermark"))

    # -- lifecycle ---------------------------------------------------------------------
    @property
    def store(self) -> DraftStore:
        if self._store is None:
            self._store = DraftStore()
        return self._store

    def _saver(self) -> Autosaver:
        if self.saver is None:
            signals = self._saver_signals
            self.saver = Autosaver(
                self.store,
                delay=self._delay,
                max_wait=self._max_wait,
                on_error=lambda draft_id, exc: signals.error.emit(draft_id, describe(exc)),
                on_saved=signals.saved.emit,
            )
        return self.saver

    def start(self) -> None:
        """After the first paint: offer the drafts an earlier session left unsaved (once: after a
        crash, all of them; after a normal end, those never offered), open a first tab."""
        try:
            crashed = self.store.begin_session()
            self.recoverable = [d for d in self.store.recoverable(include_offered=crashed) if d.text.strip()]
            problems = list(self.store.problems)
            self.store.mark_offered(self.recoverable)
        except OSError as exc:
            self.recoverable, problems = [], [f"The drafts folder cannot be read ({exc})."]
        if self.recoverable:
            n = len(self.recoverable)
            names = ", ".join(f"“{d.title}”" for d in self.recoverable[:3]) + ("…" if n > 3 else "")
            self.banner_text.setText(
                f"{n} draft{'s' if n != 1 else ''} from an earlier session {'were' if n != 1 else 'was'} "
                f"never saved: {names}. Restore {'them' if n != 1 else 'it'}?"
            )
            self.banner.show()
            self._bring_forward()
        if problems:
            self.show_message(" ".join(problems))
        if self.tabs.count() == 0:
            self.new_document()

    def _bring_forward(self) -> None:
        """Show the editor's dock on top of the docks tabbed with it (the restore offer must be seen)."""
        widget = self.parentWidget()
        while widget is not None and not isinstance(widget, QDockWidget):
            widget = widget.parentWidget()
        if widget is not None:
            widget.show()
            widget.raise_()

    def shutdown(self) -> None:
        """Write pending drafts now, stop following jobs (idempotent)."""
        for watch in self._watches:
            watch.release()
        self._watches.clear()
        if self.saver is not None:
            self.saver.close()
            self.saver = None
            with contextlib.suppress(OSError):
                self.store.end_session()

    # -- quitting ------------------------------------------------------------------------
    def unsaved_tabs(self) -> list[DocumentTab]:
        """Open documents with text that no file holds."""
        return [tab for tab in self.tabs_list() if not tab.draft.saved and tab.text().strip()]

    def ask_before_quit(self, proceed: Callable[[], object]) -> bool:
        """True when the window may close now. Otherwise asks Save / Discard / Cancel (without
        blocking) and calls ``proceed`` once the documents were saved or discarded; Cancel keeps
        the window open."""
        unsaved = self.unsaved_tabs()
        if self._quit_confirmed or not unsaved:
            return True
        if self.quit_box is not None:
            self.quit_box.raise_()
            return False
        n = len(unsaved)
        names = ", ".join(f"“{tab.draft.title}”" for tab in unsaved[:3]) + ("…" if n > 3 else "")
        box = QMessageBox(
            QMessageBox.Icon.Warning, "Unsaved documents",
            f"{names} {'have' if n != 1 else 'has'} changes that were not saved to a file.",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            self,
        )
        box.setObjectName("editorQuitBox")
        box.setInformativeText("Save them before quitting? Discard drops them (they are not offered again).")
        box.setDefaultButton(QMessageBox.StandardButton.Save)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.finished.connect(lambda answer: self._quit_answered(QMessageBox.StandardButton(answer), proceed))
        self.quit_box = box
        box.open()
        return False

    def _quit_answered(self, answer: QMessageBox.StandardButton, proceed: Callable[[], object]) -> None:
        self.quit_box = None
        if answer == QMessageBox.StandardButton.Save:
            for tab in self.unsaved_tabs():
                self.tabs.setCurrentWidget(tab)
                if not self.save_document(tab=tab):
                    self.show_message(f"“{tab.draft.title}” was not saved; the studio stays open.")
                    return
        elif answer == QMessageBox.StandardButton.Discard:
            for tab in self.unsaved_tabs():
                self._saver().discard(tab.draft.id)
        else:
            return
        self._quit_confirmed = True
        proceed()

    def restore_drafts(self) -> None:
        for draft in self.recoverable:
            self._open_tab(draft)
        restored = len(self.recoverable)
        self.recoverable = []
        self.banner.hide()
        # an empty first tab nobody typed in makes way for the restored drafts
        first = self.tab_at(0)
        if restored and first is not None and not first.text() and self.tabs.count() > 1:
            self.tabs.removeTab(0)
            first.deleteLater()
        self.show_message(f"Restored {restored} draft{'s' if restored != 1 else ''}.")

    def discard_recoverable(self) -> None:
        for draft in self.recoverable:
            self._saver().discard(draft.id)
        self.recoverable = []
        self.banner.hide()
        self.show_message("The earlier drafts were discarded.")

    # -- tabs --------------------------------------------------------------------------
    def tab_at(self, index: int) -> DocumentTab | None:
        widget = self.tabs.widget(index)
        return widget if isinstance(widget, DocumentTab) else None

    def current_tab(self) -> DocumentTab | None:
        return self.tab_at(self.tabs.currentIndex())

    def tabs_list(self) -> list[DocumentTab]:
        return [t for i in range(self.tabs.count()) if (t := self.tab_at(i)) is not None]

    def new_document(self, markdown: bool = False, text: str = "") -> DocumentTab:
        n = 1 + sum(1 for t in self.tabs_list() if t.draft.title.startswith("Untitled"))
        draft = Draft(title=f"Untitled {n}" if n > 1 else "Untitled", text=text,
                      format="markdown" if markdown else "text")
        return self._open_tab(draft)

    def _open_tab(self, draft: Draft) -> DocumentTab:
        tab = DocumentTab(draft)
        tab.text_changed.connect(lambda t=tab: self._text_changed(t))
        tab.edit.continue_requested.connect(self.continue_text)
        index = self.tabs.addTab(tab, tab.title())
        self.tabs.setTabToolTip(index, draft.path or "Not saved to a file yet (kept as a draft)")
        self.tabs.setCurrentIndex(index)
        tab.edit.setFocus()
        return tab

    def close_tab(self, index: int) -> None:
        tab = self.tab_at(index)
        if tab is None:
            return
        if self.active is not None and self.active.tab is tab:
            self.show_message("Stop the generation before closing this document.")
            return
        if not tab.draft.saved and tab.text().strip():
            answer = QMessageBox.question(
                self, "Close document",
                f"“{tab.draft.title}” has changes that were not saved to a file. Save them first?",
                QMessageBox.StandardButton.Save
                | QMessageBox.StandardButton.Discard
                | QMessageBox.StandardButton.Cancel,
            )
            if answer == QMessageBox.StandardButton.Cancel:
                return
            if answer == QMessageBox.StandardButton.Save and not self.save_document(tab=tab):
                return
        self._saver().discard(tab.draft.id) if not tab.draft.saved else self._saver().forget(tab.draft.id)
        self.tabs.removeTab(index)
        tab.deleteLater()

    def _tab_switched(self, _index: int) -> None:
        tab = self.current_tab()
        self.actions_by_name["preview"].setChecked(bool(tab and tab.previewing))
        if self.find_bar.isVisible() and tab is not None:
            self.find_bar.edit = tab.edit
        self.update_counts()
        self._update_actions()

    def _text_changed(self, tab: DocumentTab) -> None:
        self._saver().changed(tab.draft)
        index = self.tabs.indexOf(tab)
        if index >= 0 and self.tabs.tabText(index) != tab.title():
            self.tabs.setTabText(index, tab.title())
        if tab is self.current_tab():
            self.count_timer.start()

    def _draft_saved(self, draft_id: str) -> None:
        tab = next((t for t in self.tabs_list() if t.draft.id == draft_id), None)
        if tab is not None and tab is self.current_tab():
            self._set_counts_suffix("draft kept")

    def _draft_error(self, draft_id: str, text: str) -> None:
        self.show_message(f"The draft could not be kept on disk: {text} It will be tried again.")

    # -- counts ------------------------------------------------------------------------
    def update_counts(self) -> None:
        tab = self.current_tab()
        if tab is None:
            self.counts.setText("")
            return
        text = tab.text()
        tokens, exact = self.counter.count(text)
        words = word_count(text)
        kind = "Markdown" if tab.markdown else "Plain text"
        self._counts_base = f"{words} word{'s' if words != 1 else ''} · {'' if exact else '≈'}{tokens} tokens · {kind}"
        self.counts.setText(self._counts_base)

    def _set_counts_suffix(self, suffix: str) -> None:
        base = getattr(self, "_counts_base", "")
        self.counts.setText(f"{base} · {suffix}" if base else suffix)

    # -- files -------------------------------------------------------------------------
    def open_document(self, path: str | None = None) -> DocumentTab | None:
        if not path:
            path, _ = QFileDialog.getOpenFileName(self, "Open", "", "Text (*.md *.markdown *.txt);;All files (*)")
            if not path:
                return None
        try:
            text = read_document(path)
        except StudioError as exc:
            self.show_message(exc.user_text())
            return None
        p = Path(path)
        markdown = p.suffix.lower() in (".md", ".markdown")
        draft = Draft(title=p.name, text=text, format="markdown" if markdown else "text",
                      path=str(p), saved=True)
        return self._open_tab(draft)

    def save_document(self, ask: bool = False, tab: DocumentTab | None = None, path: str | None = None) -> bool:
        tab = tab or self.current_tab()
        if tab is None:
            return False
        target = path or (None if ask else tab.draft.path)
        if not target:
            suggested = tab.draft.title.rstrip(" •") + (".md" if tab.markdown else ".txt")
            target, _ = QFileDialog.getSaveFileName(self, "Save", suggested, "Markdown (*.md);;Plain text (*.txt)")
            if not target:
                return False
        if Path(target).suffix.lower() not in (".md", ".txt", ".markdown"):
            target = str(Path(target).with_suffix(".md" if tab.markdown else ".txt"))
        try:
            write_document(target, tab.text(), tab.markdown)
        except (StudioError, OSError) as exc:
            self.show_message(f"Not saved: {describe(exc)}")
            return False
        tab.draft.title = Path(target).name
        self._saver().mark_saved(tab.draft, target)
        index = self.tabs.indexOf(tab)
        self.tabs.setTabText(index, tab.title())
        self.tabs.setTabToolTip(index, target)
        self.show_message(f"Saved to {target}.")
        return True

    def export_document(self, path: str | None = None) -> Path | None:
        tab = self.current_tab()
        if tab is None:
            return None
        if not path:
            stem = Path(tab.draft.title.rstrip(" •")).stem
            path, chosen = QFileDialog.getSaveFileName(self, "Export", stem, EXPORT_FILTERS)
            if not path:
                return None
            if not Path(path).suffix:
                path += "." + chosen.split("*.")[-1].rstrip(")")
        try:
            out = write_document(path, tab.text(), tab.markdown)
        except (StudioError, OSError) as exc:
            self.show_message(f"Not exported: {describe(exc)}")
            return None
        self.show_message(f"Exported to {out}.")
        return out

    # -- view --------------------------------------------------------------------------
    def toggle_preview(self) -> None:
        tab = self.current_tab()
        if tab is not None:
            tab.set_preview(not tab.previewing)
            self.actions_by_name["preview"].setChecked(tab.previewing)

    def open_find(self, replace: bool) -> None:
        tab = self.current_tab()
        if tab is not None:
            tab.set_preview(False)
            self.find_bar.open_for(tab.edit, replace)

    def _find_next(self) -> None:
        tab = self.current_tab()
        if tab is not None and self.find_bar.find_field.text():
            self.find_bar.edit = tab.edit
            self.find_bar.find_next()

    def show_message(self, text: str) -> None:
        self.message.setText(text)
        self.message.setToolTip(text)
        self.message.setVisible(bool(text))
        self.message_changed.emit(text)

    # -- models ------------------------------------------------------------------------
    def _library_changed(self) -> None:
        self.sampling.set_models(list(getattr(self.library, "entries", [])))
        self._update_actions()

    def _model_chosen(self, _index: int) -> None:
        self.counter.use(self.sampling.model_folder(), self.update_counts, owner=self)
        self._update_actions()

    def model_ref(self) -> str:
        return self.sampling.view_model.state.model

    # -- AI actions --------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self.active is not None or self.detect_job is not None

    def _update_actions(self) -> None:
        a = self.actions_by_name
        tab = self.current_tab()
        generating = self.active is not None
        for name in ("continue", "rewrite", "check"):
            a[name].setEnabled(tab is not None and not self.busy)
        a["regenerate"].setEnabled(tab is not None and not self.busy and tab.last_insertion is not None)
        a["stop"].setEnabled(generating and not self.stopping)
        a["accept"].setEnabled(tab is not None and not generating)

    def _send(self, request: TextRequest) -> Job | None:
        if not request.model:
            self.show_message("No language model is available. Add a model folder (File ▸ Add Model Folder…) "
                              "holding a Hugging Face causal-LM, or build demo-text with 'studio train demo-text'.")
            return None
        try:
            request.validate()
            return self._submit(request)
        except StudioError as exc:
            self.show_message(exc.user_text())
        except Exception as exc:  # the session may still be starting, the queue may refuse
            self.show_message(describe(exc))
        return None

    def _start(self, tab: DocumentTab, request: TextRequest, at: int, replace: tuple[int, int] | None) -> bool:
        job = self._send(request)
        if job is None:
            return False
        self.active = AiInsertion(tab, job.id, request, at, replace)
        watch = self._watch(job)
        watch.text.connect(self._on_text)
        watch.log.connect(self._on_notice)
        watch.finished.connect(self._on_finished)
        watch.failed.connect(self._on_failed)
        watch.cancelled.connect(self._on_cancelled)
        self.stopping = False
        tab.edit.busy = True
        tab.edit.setReadOnly(True)
        self.show_message("Waiting for the model…")
        self._update_actions()
        return True

    def continue_text(self) -> bool:
        """Let the model continue the text before the cursor, inserting at the cursor."""
        tab = self.current_tab()
        if tab is None or self.busy:
            return False
        tab.set_preview(False)
        cursor = tab.edit.textCursor()
        at = cursor.selectionEnd()
        prompt = tab.text()[:at] if not cursor.hasSelection() else tab.text()[: cursor.selectionEnd()]
        if not prompt.strip():
            self.show_message("There is no text before the cursor to continue. Type a first line, then press Continue.")
            return False
        request = self.sampling.request(self.model_ref(), prompt, mode="continue")
        return self._start(tab, request, at, None)

    def rewrite_selection(self) -> bool:
        """Rewrite the selected text following the instruction; the selection is replaced as tokens arrive."""
        tab = self.current_tab()
        if tab is None or self.busy:
            return False
        tab.set_preview(False)
        cursor = tab.edit.textCursor()
        if not cursor.hasSelection():
            self.show_message("Select the text to rewrite first (and type an instruction above, if you like).")
            return False
        start, end = cursor.selectionStart(), cursor.selectionEnd()
        selection = cursor.selectedText().replace("\u2029", "\n")
        request = self.sampling.request(self.model_ref(), selection, mode="rewrite",
                                        instruction=self.instruction.text().strip())
        return self._start(tab, request, start, (start, end))

    def regenerate(self) -> bool:
        """Replace the last insertion with a new one (same request, another seed)."""
        tab = self.current_tab()
        last = tab.last_insertion if tab is not None else None
        if tab is None or last is None or self.busy:
            return False
        if not last.still_intact(last.final_text):
            tab.last_insertion = None
            self._update_actions()
            self.show_message("The last insertion was edited since; select text and use Rewrite instead.")
            return False
        seed = random.randrange(2**32) if last.request.seed is None else (last.request.seed + 1) % 2**32
        request = last.request.replace(seed=seed)
        return self._start(tab, request, last.start, (last.start, last.end))

    def stop(self) -> None:
        if self.active is None:
            return
        self.stopping = True
        # Cancel first, so no token arrives while the panel updates. A job still queued is cancelled
        # at once: _on_cancelled has then already run and said so.
        self._cancel(self.active.job_id)
        if self.active is None:
            return
        self.show_message("Stopping…")
        self._update_actions()

    def accept_ai(self) -> None:
        tab = self.current_tab()
        if tab is None:
            return
        count = tab.accept_ai()
        self._update_actions()
        self.show_message(f"Accepted {count} generated passage{'s' if count != 1 else ''}." if count
                          else "There is no generated text to accept.")

    def check_watermark(self) -> bool:
        tab = self.current_tab()
        if tab is None or self.busy:
            return False
        cursor = tab.edit.textCursor()
        text = cursor.selectedText().replace("\u2029", "\n") if cursor.hasSelection() else tab.text()
        settings = tab.draft.meta.get("watermark") or {}
        fields = {"mode": "detect"}
        if settings:
            fields.update(watermark_key=int(settings.get("hashing_key", 15485863)),
                          watermark_bias=float(settings.get("bias", 2.0)),
                          watermark_ratio=float(settings.get("greenlist_ratio", 0.25)))
            if settings.get("threshold"):
                fields["detect_threshold"] = float(settings["threshold"])
        model = str(settings.get("model") or self.model_ref())
        job = self._send(self.sampling.request(model, text, **fields))
        if job is None:
            return False
        self.detect_job = job.id
        watch = self._watch(job)
        watch.finished.connect(self._on_detected)
        watch.failed.connect(self._on_detect_failed)
        watch.cancelled.connect(self._on_detect_cancelled)
        self.show_message("Checking the watermark…")
        self._update_actions()
        return True

    # -- job events (GUI thread; each from the watch of this pane's own job) ------------
    def _watch(self, job: Job) -> JobWatch:
        watch = self.bridge.watch(job.id)
        self._watches.append(watch)
        watch.ended.connect(lambda _job, w=watch: self._watches.remove(w) if w in self._watches else None)
        return watch

    def _on_text(self, chunk: str) -> None:
        active = self.active
        if active is None:
            return
        active.add(chunk)
        if active.chunks == 1:
            self.show_message("Writing… (Stop halts it)")

    def _on_notice(self, text: str) -> None:
        if self.active is not None:
            self.show_message(text)

    def _finish_generation(self) -> AiInsertion | None:
        active, self.active = self.active, None
        if active is None:
            return None
        active.tab.edit.busy = False
        active.tab.edit.setReadOnly(False)
        self.stopping = False
        return active

    def _on_detected(self, job: Job) -> None:
        self.detect_job = None
        self._show_detection(job.result.data if job.result else {})
        self._update_actions()

    def _on_detect_failed(self, job: Job) -> None:
        self.detect_job = None
        self.show_message(f"The watermark check failed: {job.error}")
        self._update_actions()

    def _on_detect_cancelled(self, _job: Job) -> None:
        self.detect_job = None
        self._update_actions()

    def _on_finished(self, job: Job) -> None:
        if self.active is None:
            return
        active = self._finish_generation()
        data = job.result.data if job.result else {}
        active.finish(job.result.text if job.result else None)
        self._remember(active, data)
        stopped = data.get("stopped")
        notices = " ".join(data.get("notices") or [])
        words = word_count(active.final_text)
        done = f"Done: {data.get('new_tokens', '?')} tokens, {words} words (marked until you accept them)."
        text = "Stopped." if stopped else done
        self.show_message(f"{text} {notices}".strip())
        self._update_actions()

    def _remember(self, active: AiInsertion, data: dict) -> None:
        active.final_text = active.text()
        tab = active.tab
        tab.last_insertion = active if active.started else tab.last_insertion
        if data.get("watermark"):
            tab.draft.meta["watermark"] = data["watermark"]
            self._saver().changed(tab.draft)
        place_cursor_after(tab, active.end)
        tab.edit.setFocus()

    def _on_failed(self, job: Job) -> None:
        if self.active is None:
            return
        active = self._finish_generation()
        self._remember(active, {})
        kept = " What was written so far is kept." if active.started else " Nothing was changed."
        self.show_message(f"The model could not write: {job.error}{kept}")
        self._update_actions()

    def _on_cancelled(self, _job: Job) -> None:
        if self.active is None:
            return
        active = self._finish_generation()
        self._remember(active, {})
        words = word_count(active.final_text)
        self.show_message(f"Stopped after {words} word{'s' if words != 1 else ''}." if active.started
                          else "Stopped before any text was written.")
        self._update_actions()

    def _show_detection(self, data: dict) -> None:
        z = data.get("z_score")
        if z is None:
            self.show_message("The watermark check gave no result.")
            return
        threshold = (data.get("watermark") or {}).get("threshold", 4.0)
        verdict = "watermark detected" if data.get("detected") else "no watermark detected"
        self.show_message(f"Watermark check: z = {z:.2f} — {verdict} (threshold {threshold:g}; "
                          f"{data.get('tokens_scored', '?')} tokens scored, green fraction "
                          f"{data.get('green_fraction', 0):.2f}).")
        self.last_detection = data
