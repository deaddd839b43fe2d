"""The gallery dock: thumbnails of every result, filters, star, trash and restore, details, reuse.

Right-click (or the keys shown in the menu) acts on the selection: Open on the canvas, View in the
lightbox, Reveal in folder, Copy, Export…, Use settings, Star, Score Match, Rank by Prompt…, Move to
Trash. The keys work only while the gallery has focus (Delete on the canvas never trashes the
gallery's selection).

Match: each image's score against its own prompt (a scorer model's cosine similarity, shown as a
percentage) is on its caption, tooltip and details; "Best match first" sorts by it. The panel only
asks for scores (``score_requested``, ``rank_requested``); the window's
:class:`~studio.ui.gallery_scoring.GalleryScoring` runs them as jobs.
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QModelIndex, QPoint, QSize, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QDesktopServices, QGuiApplication, QImage, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListView,
    QMenu,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from studio.core.gallery import GalleryItem, model_display_name
from studio.ui.gallery_model import (
    DATE_RANGES,
    ICON_SIZE,
    SORT_ORDERS,
    GalleryViewModel,
    ItemRole,
    ThumbnailDelegate,
    match_line,
)
from studio.ui.panels.empty import EmptyState
from studio.ui.panels.lightbox import Lightbox
from studio.ui.tasks import run_in_background

EMPTY_TITLE = "The gallery is empty"
EMPTY_TEXT = (
    "Images you generate will be collected here, each with the settings that made it, "
    "ready to reuse, compare and export."
)


class GalleryPanel(QWidget):
    """Binds to a :class:`GalleryViewModel`; asks the window to reuse, open or export items."""

    use_settings = Signal(object)  # GalleryItem whose request should fill the prompt panel
    open_item = Signal(object)  # GalleryItem to open on the canvas
    export_requested = Signal(list)  # image paths for the window's export dialog
    score_requested = Signal(list)  # GalleryItems to score against their own prompt ([]: every unscored image)
    rank_requested = Signal(list, str)  # GalleryItems to rank by how well they match the prompt

    def __init__(self, model: GalleryViewModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("galleryPanel")
        self.model = model
        self.lightbox: Lightbox | None = None
        self._last_trashed: list[int] = []
        self._keep_selected: list[int] = []

        self.search = QLineEdit()
        self.search.setPlaceholderText("Filter by prompt…")
        self.search.setToolTip("Words of the prompt (word starts: 'cas' finds 'castle'); neg:WORD searches the "
                               "negative prompt")
        self.search.setClearButtonEnabled(True)
        self.model_filter = QLineEdit()
        self.model_filter.setPlaceholderText("Model…")
        self.model_filter.setClearButtonEnabled(True)
        self.model_filter.setToolTip("Show images made with a model whose name or path has this word")
        self.dates = QComboBox()
        for text, _days in DATE_RANGES:
            self.dates.addItem(text)
        self.starred = QCheckBox("★ only")
        self.starred.setToolTip("Show starred images only")
        self.sort = QComboBox()
        self.sort.setObjectName("gallerySort")
        for text, _order in SORT_ORDERS:
            self.sort.addItem(text)
        self.sort.setToolTip("Best match first: images that match their own prompt best come first "
                             "(images not scored yet come last)")
        self.score_button = QPushButton("Score match")
        self.score_button.setObjectName("galleryScoreMatch")
        self.score_button.setToolTip("Score every image not scored yet against its own prompt, in the background "
                                     "(the scorer is chosen in Settings)")
        self.score_button.clicked.connect(lambda: self.score_requested.emit([]))
        self.match_status = QLabel(objectName="galleryMatchStatus", wordWrap=True)
        self.match_status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.match_status.hide()
        self.view_choice = QComboBox()
        self.view_choice.addItems(["Gallery", "Trash"])
        self.view_choice.setToolTip("Deleted images stay in the trash until it is emptied")
        self._typing = QTimer(self)
        self._typing.setSingleShot(True)
        self._typing.setInterval(250)
        self._typing.timeout.connect(self.apply_filter)
        self.search.textChanged.connect(lambda _t: self._typing.start())
        self.model_filter.textChanged.connect(lambda _t: self._typing.start())
        self.dates.currentIndexChanged.connect(lambda _i: self.apply_filter())
        self.starred.toggled.connect(lambda _b: self.apply_filter())
        self.sort.currentIndexChanged.connect(lambda _i: self.apply_filter())
        self.view_choice.currentIndexChanged.connect(lambda _i: self.apply_filter())

        self.list = QListView()
        self.list.setObjectName("galleryList")
        self.list.setModel(model)
        self.list.setItemDelegate(ThumbnailDelegate(self.list))
        self.list.setViewMode(QListView.ViewMode.IconMode)
        self.list.setIconSize(QSize(ICON_SIZE, ICON_SIZE))
        self.list.setGridSize(QSize(ICON_SIZE + 20, ICON_SIZE + 38))
        self.list.setResizeMode(QListView.ResizeMode.Adjust)
        self.list.setMovement(QListView.Movement.Static)
        self.list.setUniformItemSizes(True)
        self.list.setWordWrap(True)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.list.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.list.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.list.doubleClicked.connect(lambda index: self._open(index))
        self.list.selectionModel().selectionChanged.connect(self._selection_changed)
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._show_context_menu)
        self.empty = EmptyState(EMPTY_TITLE, EMPTY_TEXT)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.list)

        self.details = QLabel()
        self.details.setObjectName("galleryDetails")
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self._build_actions()
        self.star_button = QPushButton("Star")
        self.star_button.setCheckable(True)
        self.star_button.setToolTip("Star or unstar the selected images (S)")
        self.star_button.clicked.connect(self.star_selected)
        self.delete_button = QPushButton("Delete")
        self.delete_button.setToolTip("Move the selected images to the trash (Delete, while the gallery has focus)")
        self.delete_button.clicked.connect(self.trash_selected)
        self.undo_button = QPushButton("Undo")
        self.undo_button.setToolTip("Bring back the images just moved to the trash")
        self.undo_button.clicked.connect(self.undo_trash)
        self.undo_button.hide()
        self.restore_button = QPushButton("Restore")
        self.restore_button.clicked.connect(self.restore_selected)
        self.empty_trash_button = QPushButton("Empty Trash")
        self.empty_trash_button.setToolTip("Delete the images in the trash for good")
        self.empty_trash_button.clicked.connect(self.model.empty_trash)
        self.use_button = QPushButton("Use these settings")
        self.use_button.setToolTip("Fill the prompt panel with the settings of the selected image")
        self.use_button.clicked.connect(self.use_selected)
        self.open_button = QPushButton("Open on canvas")
        self.open_button.setToolTip("Put the selected image on the canvas (double-click does too)")
        self.open_button.clicked.connect(lambda: self._open(self._current_index()))

        filters = QHBoxLayout()
        filters.addWidget(self.search, 2)
        filters.addWidget(self.model_filter, 1)
        filters.addWidget(self.sort)
        filters2 = QHBoxLayout()
        filters2.addWidget(self.dates)
        filters2.addWidget(self.starred)
        filters2.addStretch(1)
        filters2.addWidget(self.view_choice)
        actions = QHBoxLayout()
        for button in (self.use_button, self.open_button):
            actions.addWidget(button)
        actions.addStretch(1)
        edits = QHBoxLayout()
        for button in (self.star_button, self.delete_button, self.undo_button, self.restore_button,
                       self.empty_trash_button, self.score_button):
            edits.addWidget(button)
        edits.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(filters)
        layout.addLayout(filters2)
        layout.addWidget(self.match_status)
        layout.addWidget(self.stack, 1)
        layout.addWidget(self.details)
        layout.addLayout(actions)
        layout.addLayout(edits)

        model.modelAboutToBeReset.connect(self._remember_selection)
        model.loaded.connect(self._loaded)
        model.rowsRemoved.connect(self._loaded)
        model.dataChanged.connect(self._data_changed)
        self._loaded()

    def _build_actions(self) -> None:
        """The context menu's actions; their keys act only while the gallery list has focus."""

        def action(text: str, slot: object, keys: str | QKeySequence.StandardKey | None = None,
                   tip: str = "") -> QAction:
            act = QAction(text, self.list)
            act.triggered.connect(slot)
            if keys is not None:
                act.setShortcut(QKeySequence(keys))
                act.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
                self.list.addAction(act)
            if tip:
                act.setToolTip(tip)
            return act

        self.open_action = action("Open on Canvas", lambda: self._open(self._current_index()), "Return")
        self.view_action = action("View (Lightbox)", self.view_selected, "Space")
        self.reveal_action = action("Reveal in Folder", self.reveal_selected)
        self.copy_action = action("Copy Image", self.copy_selected, QKeySequence.StandardKey.Copy)
        self.export_action = action("Export…", self.export_selected)
        self.use_action = action("Use Settings", self.use_selected)
        self.star_action = action("Star", self.star_selected, "S")
        self.score_action = action("Score Match", self.score_selected,
                                   tip="Score the selected images against their own prompts")
        self.rank_action = action("Rank by Prompt…", self.ask_rank_prompt,
                                  tip="Rank the selected images by how well they match a prompt")
        self.trash_action = action("Move to Trash", self.trash_selected, QKeySequence.StandardKey.Delete)
        self.restore_action = action("Restore", self.restore_selected)

    # -- filters -----------------------------------------------------------------------
    def apply_filter(self) -> None:
        self._typing.stop()
        self.model.set_filter(
            text=self.search.text().strip(),
            model=self.model_filter.text().strip(),
            days=DATE_RANGES[self.dates.currentIndex()][1],
            starred_only=self.starred.isChecked(),
            trash=self.view_choice.currentText() == "Trash",
            order=SORT_ORDERS[self.sort.currentIndex()][1],
        )

    def set_match_status(self, text: str, error: bool = False) -> None:
        """A line under the filters on scoring: what runs, what was scored, or why it cannot be."""
        self.match_status.setText(text)
        self.match_status.setProperty("error", error)
        self.match_status.setStyleSheet("color: #c0392b;" if error else "")
        self.match_status.setVisible(bool(text))

    def showing_trash(self) -> bool:
        return self.model.filter.trash

    # -- selection -----------------------------------------------------------------------
    def selected_items(self) -> list[GalleryItem]:
        rows = sorted(index.row() for index in self.list.selectionModel().selectedIndexes())
        return [item for row in rows if (item := self.model.item(row)) is not None]

    def selected_paths(self) -> list[str]:
        """The image files of the selection (the export dialog uses them)."""
        return [item.path for item in self.selected_items()]

    def select_item(self, item_id: int) -> None:
        row = self.model.row_of(item_id)
        if row >= 0:
            self.list.setCurrentIndex(self.model.index(row))

    def _current_index(self) -> QModelIndex:
        selected = self.list.selectionModel().selectedIndexes()
        return selected[0] if selected else self.list.currentIndex()

    def _remember_selection(self) -> None:
        """Before the rows are searched again: the selection to bring back (or the one asked for)."""
        self._keep_selected = [item.id for item in self.selected_items()] or self._keep_selected

    def _restore_selection(self) -> None:
        ids, self._keep_selected = self._keep_selected, []
        rows = [r for r in (self.model.row_of(i) for i in ids) if r >= 0]
        selection = self.list.selectionModel()
        for n, row in enumerate(rows):
            flag = selection.SelectionFlag.Select if n else selection.SelectionFlag.ClearAndSelect
            selection.select(self.model.index(row), flag)
        if rows:
            selection.setCurrentIndex(self.model.index(rows[0]), selection.SelectionFlag.NoUpdate)

    # -- acting on the selection ----------------------------------------------------------
    def star_selected(self) -> None:
        items = self.selected_items()
        starred = not all(item.starred for item in items)
        for item in items:
            self.model.set_starred(item.id, starred)
        self._selection_changed()

    def trash_selected(self) -> None:
        items = self.selected_items()
        if not items or self.showing_trash():
            return
        for item in items:
            self.model.trash(item.id)
        self._last_trashed = [item.id for item in items]
        self.details.setText(f"Moved {len(items)} image{'s' if len(items) > 1 else ''} to the trash. "
                             "Undo brings them back; so does Restore in the Trash view.")
        self.undo_button.show()

    def undo_trash(self) -> None:
        """Bring back the images the last Move to Trash took."""
        ids, self._last_trashed = self._last_trashed, []
        if self.model.gallery is not None:
            for item_id in ids:
                self.model.gallery.restore(item_id)
        self.undo_button.hide()
        self._keep_selected = ids
        self.model.refresh()

    def restore_selected(self) -> None:
        for item in self.selected_items():
            self.model.restore(item.id)

    def use_selected(self) -> None:
        items = self.selected_items()
        if items:
            self.use_settings.emit(items[0])

    def export_selected(self) -> None:
        paths = self.selected_paths()
        if paths:
            self.export_requested.emit(paths)

    def score_selected(self) -> None:
        items = self.selected_items()
        if items:
            self.score_requested.emit(items)

    def ask_rank_prompt(self) -> QInputDialog | None:
        """Ask for a prompt (the first selected image's is offered), then rank the selection by it."""
        items = self.selected_items()
        if not items:
            return None
        dialog = QInputDialog(self)
        dialog.setObjectName("rankPromptInput")
        dialog.setWindowTitle("Rank by prompt")
        count = f"the {len(items)} selected images" if len(items) > 1 else "the selected image"
        dialog.setLabelText(f"Rank {count} by how well they match:")
        dialog.setTextValue(items[0].prompt)
        dialog.setOkButtonText("Rank")
        dialog.resize(420, dialog.sizeHint().height())
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.textValueSelected.connect(lambda text: self.rank_selected_by(text, items))
        dialog.open()
        return dialog

    def rank_selected_by(self, prompt: str, items: list[GalleryItem] | None = None) -> None:
        items = self.selected_items() if items is None else items
        if items and prompt.strip():
            self.rank_requested.emit(items, prompt.strip())

    def reveal_selected(self) -> None:
        """Open the folder of each selected image (once per folder) in the file manager."""
        for folder in dict.fromkeys(str(Path(path).parent) for path in self.selected_paths()):
            QDesktopServices.openUrl(QUrl.fromLocalFile(folder))

    def copy_selected(self) -> None:
        """Put the (first) selected image on the clipboard; it is read off the GUI thread."""
        paths = self.selected_paths()
        if paths:
            path = paths[0]
            run_in_background(lambda: QImage(path), self._copy_image, owner=self)

    def _copy_image(self, image: QImage) -> None:
        if not image.isNull():
            QGuiApplication.clipboard().setImage(image)

    def view_selected(self) -> Lightbox | None:
        """The lightbox on the current image (Left/Right move, Esc closes)."""
        index = self._current_index()
        if not index.isValid():
            return None
        if self.lightbox is not None:
            self.lightbox.close()
        box = Lightbox(self.model, index.row(), self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.row_changed.connect(lambda row: self.list.setCurrentIndex(self.model.index(row)))
        box.destroyed.connect(lambda _o=None: setattr(self, "lightbox", None))
        self.lightbox = box
        box.show()
        return box

    def _open(self, index: QModelIndex) -> None:
        item = index.data(ItemRole) if index.isValid() else None
        if item is not None:
            self.open_item.emit(item)

    # -- context menu --------------------------------------------------------------------
    def context_menu(self) -> QMenu:
        """The menu for the current selection (built anew each time; the caller shows it)."""
        menu = QMenu(self)
        menu.setObjectName("galleryContextMenu")
        items = self.selected_items()
        one = len(items) == 1
        if self.showing_trash():
            entries: list[QAction | None] = [self.view_action, self.reveal_action, self.copy_action, None,
                                             self.restore_action]
        else:
            entries = [self.open_action, self.view_action, self.reveal_action, self.copy_action, self.export_action,
                       None, self.use_action, self.star_action, None, self.score_action, self.rank_action, None,
                       self.trash_action]
        for entry in entries:
            menu.addSeparator() if entry is None else menu.addAction(entry)
        for act in (self.open_action, self.view_action, self.copy_action, self.use_action):
            act.setEnabled(bool(items))
        for act in (self.reveal_action, self.export_action, self.star_action, self.trash_action, self.restore_action,
                    self.score_action, self.rank_action):
            act.setEnabled(bool(items))
        self.use_action.setEnabled(one)
        self.star_action.setText("Unstar" if items and all(item.starred for item in items) else "Star")
        count = f" {len(items)} Images" if len(items) > 1 else ""
        self.export_action.setText(f"Export{count}…")
        self.trash_action.setText(f"Move{count} to Trash")
        return menu

    def _show_context_menu(self, pos: QPoint) -> None:
        index = self.list.indexAt(pos)
        if index.isValid() and not self.list.selectionModel().isSelected(index):
            self.list.setCurrentIndex(index)
        if not self.selected_items():
            return
        menu = self.context_menu()
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        menu.popup(self.list.viewport().mapToGlobal(pos))

    # -- view state ------------------------------------------------------------------------
    def _loaded(self, *_args: object) -> None:
        if self._keep_selected:
            self._restore_selection()
        trash = self.showing_trash()
        filtered = any((self.search.text(), self.model_filter.text(), self.starred.isChecked(),
                        self.dates.currentIndex()))
        if trash:
            self.empty.title.setText("The trash is empty")
            self.empty.text.setText("Deleted images wait here until you empty the trash; Restore brings them back.")
        elif filtered:
            self.empty.title.setText("No images match")
            self.empty.text.setText("Change or clear the filters to see more of the gallery.")
        else:
            self.empty.title.setText(EMPTY_TITLE)
            self.empty.text.setText(EMPTY_TEXT)
        self.stack.setCurrentWidget(self.list if self.model.rowCount() else self.empty)
        self.delete_button.setVisible(not trash)
        self.star_button.setVisible(not trash)
        self.undo_button.setVisible(not trash and bool(self._last_trashed))
        self.restore_button.setVisible(trash)
        self.score_button.setVisible(not trash)
        self.empty_trash_button.setVisible(trash)
        self.empty_trash_button.setEnabled(trash and self.model.rowCount() > 0)
        self._selection_changed()

    def _data_changed(self, _first: QModelIndex, _last: QModelIndex, roles: list[int] | None = None) -> None:
        if roles != [Qt.ItemDataRole.DecorationRole]:  # a thumbnail arriving changes no details
            self._selection_changed()

    def _selection_changed(self, *_args: object) -> None:
        items = self.selected_items()
        for button in (self.star_button, self.delete_button, self.restore_button, self.use_button, self.open_button):
            button.setEnabled(bool(items))
        self.star_button.setChecked(bool(items) and all(item.starred for item in items))
        self.star_button.setText("Unstar" if self.star_button.isChecked() else "Star")
        if items:
            self._last_trashed = []
            self.undo_button.hide()
        elif self._last_trashed:
            return  # keep "Moved N images to the trash" until something else is selected
        self.details.setText(details_text(items[0]) if len(items) == 1 else
                             f"{len(items)} images selected." if items else "Select an image to see how it was made.")
        self.details.setToolTip(f"Model: {items[0].request.model}" if len(items) == 1 else "")


def details_text(item: GalleryItem) -> str:
    """What made ``item``, in a few plain lines (the model by name; its full path is the tooltip)."""
    r = item.request
    loras = ", ".join(f"{Path(lora.path).stem} ×{lora.weight:g}" for lora in r.loras)
    lines = [
        f"Prompt: {r.prompt or '—'}",
        *([f"Negative: {r.negative_prompt}"] if r.negative_prompt else []),
        f"Seed {item.seed} · {r.steps} steps · guidance {r.guidance:g} · {r.scheduler} · {item.width}×{item.height}",
        f"Model: {item.model_name or model_display_name(r.model, item.extra)}",
        *([f"LoRAs: {loras}"] if loras else []),
        *([f"From an image, strength {r.strength:g}" + (" (inpainted)" if r.mask else "")] if r.init_image else []),
        match_line(item),
        f"Made {time.strftime('%Y-%m-%d %H:%M', time.localtime(item.created_at))}",
    ]
    return "\n".join(lines)
