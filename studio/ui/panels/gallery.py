"""The gallery dock: thumbnails of every result, filters, star, trash and restore, details, reuse."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QModelIndex, QSize, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from studio.core.gallery import GalleryItem
from studio.ui.gallery_model import DATE_RANGES, ICON_SIZE, GalleryViewModel, ItemRole
from studio.ui.panels.empty import EmptyState

EMPTY_TITLE = "The gallery is empty"
EMPTY_TEXT = (
    "Images you generate will be collected here, each with the settings that made it, "
    "ready to reuse, compare and export."
)


class GalleryPanel(QWidget):
    """Binds to a :class:`GalleryViewModel`; asks the window to reuse or open an item."""

    use_settings = Signal(object)  # GalleryItem whose request should fill the prompt panel
    open_item = Signal(object)  # GalleryItem to open on the canvas

    def __init__(self, model: GalleryViewModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("galleryPanel")
        self.model = model

        self.search = QLineEdit()
        self.search.setPlaceholderText("Filter by prompt…")
        self.search.setClearButtonEnabled(True)
        self.model_filter = QLineEdit()
        self.model_filter.setPlaceholderText("Model…")
        self.model_filter.setClearButtonEnabled(True)
        self.model_filter.setToolTip("Show images made with a model whose name or path contains this")
        self.dates = QComboBox()
        for text, _days in DATE_RANGES:
            self.dates.addItem(text)
        self.starred = QCheckBox("★ only")
        self.starred.setToolTip("Show starred images only")
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
        self.view_choice.currentIndexChanged.connect(lambda _i: self.apply_filter())

        self.list = QListView()
        self.list.setObjectName("galleryList")
        self.list.setModel(model)
        self.list.setViewMode(QListView.ViewMode.IconMode)
        self.list.setIconSize(QSize(ICON_SIZE, ICON_SIZE))
        self.list.setGridSize(QSize(ICON_SIZE + 20, ICON_SIZE + 38))
        self.list.setResizeMode(QListView.ResizeMode.Adjust)
        self.list.setMovement(QListView.Movement.Static)
        self.list.setUniformItemSizes(True)
        self.list.setWordWrap(True)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.list.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.list.doubleClicked.connect(lambda index: self._open(index))
        self.list.selectionModel().selectionChanged.connect(self._selection_changed)
        self.empty = EmptyState(EMPTY_TITLE, EMPTY_TEXT)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.list)

        self.details = QLabel()
        self.details.setObjectName("galleryDetails")
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.star_button = QPushButton("Star")
        self.star_button.setCheckable(True)
        self.star_button.setToolTip("Star or unstar the selected images")
        self.star_button.clicked.connect(self.star_selected)
        self.delete_button = QPushButton("Delete")
        self.delete_button.setToolTip("Move the selected images to the trash (Delete)")
        self.delete_button.setShortcut("Delete")
        self.delete_button.clicked.connect(self.trash_selected)
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
        for button in (self.star_button, self.delete_button, self.restore_button, self.empty_trash_button):
            edits.addWidget(button)
        edits.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(filters)
        layout.addLayout(filters2)
        layout.addWidget(self.stack, 1)
        layout.addWidget(self.details)
        layout.addLayout(actions)
        layout.addLayout(edits)

        model.loaded.connect(self._loaded)
        model.rowsRemoved.connect(self._loaded)
        model.dataChanged.connect(self._selection_changed)
        self._loaded()

    # -- filters -----------------------------------------------------------------------
    def apply_filter(self) -> None:
        self._typing.stop()
        self.model.set_filter(
            text=self.search.text().strip(),
            model=self.model_filter.text().strip(),
            days=DATE_RANGES[self.dates.currentIndex()][1],
            starred_only=self.starred.isChecked(),
            trash=self.view_choice.currentText() == "Trash",
        )

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

    def star_selected(self) -> None:
        items = self.selected_items()
        starred = not all(item.starred for item in items)
        for item in items:
            self.model.set_starred(item.id, starred)
        self._selection_changed()

    def trash_selected(self) -> None:
        for item in self.selected_items():
            self.model.trash(item.id)

    def restore_selected(self) -> None:
        for item in self.selected_items():
            self.model.restore(item.id)

    def use_selected(self) -> None:
        items = self.selected_items()
        if items:
            self.use_settings.emit(items[0])

    def _open(self, index: QModelIndex) -> None:
        item = index.data(ItemRole) if index.isValid() else None
        if item is not None:
            self.open_item.emit(item)

    # -- view state ------------------------------------------------------------------------
    def _loaded(self, *_args: object) -> None:
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
        self.restore_button.setVisible(trash)
        self.empty_trash_button.setVisible(trash)
        self.empty_trash_button.setEnabled(trash and self.model.rowCount() > 0)
        self._selection_changed()

    def _selection_changed(self, *_args: object) -> None:
        items = self.selected_items()
        for button in (self.star_button, self.delete_button, self.restore_button, self.use_button, self.open_button):
            button.setEnabled(bool(items))
        self.star_button.setChecked(bool(items) and all(item.starred for item in items))
        self.star_button.setText("Unstar" if self.star_button.isChecked() else "Star")
        self.details.setText(details_text(items[0]) if len(items) == 1 else
                             f"{len(items)} images selected." if items else "Select an image to see how it was made.")


def details_text(item: GalleryItem) -> str:
    """What made ``item``, in a few plain lines."""
    r = item.request
    loras = ", ".join(f"{Path(lora.path).stem} ×{lora.weight:g}" for lora in r.loras)
    lines = [
        f"Prompt: {r.prompt or '—'}",
        *([f"Negative: {r.negative_prompt}"] if r.negative_prompt else []),
        f"Seed {item.seed} · {r.steps} steps · guidance {r.guidance:g} · {r.scheduler} · {item.width}×{item.height}",
        f"Model: {item.extra.get('model_name') or r.model}",
        *([f"LoRAs: {loras}"] if loras else []),
        *([f"From an image, strength {r.strength:g}" + (" (inpainted)" if r.mask else "")] if r.init_image else []),
        f"Made {time.strftime('%Y-%m-%d %H:%M', time.localtime(item.created_at))}",
    ]
    return "\n".join(lines)
