"""Rank by prompt: the gallery's selected images, best match to a prompt first, with thumbnails and
scores; the designer opens, views or stars the best from here (double-click opens on the canvas)."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from studio.core.gallery import GalleryItem, model_display_name
from studio.ui.gallery_model import ICON_SIZE, load_thumbnails, match_text
from studio.ui.tasks import run_in_background

ItemRole = Qt.ItemDataRole.UserRole + 1


class RankDialog(QDialog):
    """The images of ``items`` ranked by their score against ``prompt`` (filled by :meth:`show_scores`)."""

    open_item = Signal(object)  # GalleryItem to open on the canvas
    star_item = Signal(object, bool)  # GalleryItem, starred
    show_item = Signal(object)  # GalleryItem to select in the gallery

    def __init__(self, items: list[GalleryItem], prompt: str, scorer: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("rankDialog")
        self.setWindowTitle(f"Rank by prompt — {prompt}")
        self.items = list(items)
        self.prompt = prompt
        self.scorer = model_display_name(scorer)
        self.ranked: list[tuple[GalleryItem, float | None]] = []
        self.job_id: int | None = None
        self.status = QLabel(f"Scoring {len(items)} image{'s' if len(items) != 1 else ''} against “{prompt}” "
                             f"with {self.scorer}… (the job is in the queue)")
        self.status.setObjectName("rankStatus")
        self.status.setWordWrap(True)
        self.list = QListWidget()
        self.list.setObjectName("rankList")
        self.list.setIconSize(QSize(ICON_SIZE, ICON_SIZE))
        self.list.setSpacing(2)
        self.list.itemDoubleClicked.connect(lambda _i: self.open_current())
        self.list.currentRowChanged.connect(lambda _r: self._update_buttons())
        self.open_button = QPushButton("Open on canvas")
        self.open_button.clicked.connect(self.open_current)
        self.star_button = QPushButton("Star")
        self.star_button.clicked.connect(self.star_current)
        self.show_button = QPushButton("Show in gallery")
        self.show_button.setToolTip("Select this image in the gallery")
        self.show_button.clicked.connect(self.show_current)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        buttons = QHBoxLayout()
        for button in (self.open_button, self.star_button, self.show_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addWidget(self.list, 1)
        layout.addLayout(buttons)
        self.resize(560, 520)
        self._update_buttons()

    # -- filling -------------------------------------------------------------------------
    def show_scores(self, scores: dict[str, float]) -> None:
        """Rank the images by ``scores`` (path -> cosine), best first; images without a score come last."""
        ranked = [(item, scores.get(item.path)) for item in self.items]
        ranked.sort(key=lambda pair: -2.0 if pair[1] is None else pair[1], reverse=True)
        self.ranked = ranked
        self.list.clear()
        for n, (item, score) in enumerate(ranked, 1):
            row = QListWidgetItem(self._row_text(n, item, score))
            row.setData(ItemRole, item)
            row.setToolTip(item.prompt)
            self.list.addItem(row)
        missing = sum(score is None for _item, score in ranked)
        best = ranked[0] if ranked and ranked[0][1] is not None else None
        self.status.setText(
            f"Best match for “{self.prompt}” first (scored by {self.scorer})."
            + (f" {missing} image{'s' if missing > 1 else ''} could not be scored." if missing else "")
            if best is not None else f"No image could be scored against “{self.prompt}”.")
        if ranked:
            self.list.setCurrentRow(0)
        paths = [item.thumbnail for item, _score in ranked if item.thumbnail]
        run_in_background(lambda: load_thumbnails(paths), self._thumbnails, owner=self)
        self._update_buttons()

    def show_error(self, text: str) -> None:
        self.status.setText(f"The images could not be ranked: {text}")
        self.status.setProperty("error", True)
        self._update_buttons()

    @staticmethod
    def _row_text(n: int, item: GalleryItem, score: float | None) -> str:
        star = "★ " if item.starred else ""
        value = f"{match_text(score)}  (cosine {score:.2f})" if score is not None else "not scored"
        prompt = item.prompt.replace("\n", " ").strip() or "(no prompt)"
        return f"{n}.  {value}\n{star}{prompt} · seed {item.seed}"

    def _thumbnails(self, images: dict[str, QImage]) -> None:
        for row in range(self.list.count()):
            entry = self.list.item(row)
            image = images.get(entry.data(ItemRole).thumbnail)
            if image is not None:
                entry.setIcon(QIcon(QPixmap.fromImage(image)))

    # -- acting on the current row -----------------------------------------------------------
    def current_item(self) -> GalleryItem | None:
        entry = self.list.currentItem()
        return entry.data(ItemRole) if entry is not None else None

    def open_current(self) -> None:
        item = self.current_item()
        if item is not None:
            self.open_item.emit(item)

    def star_current(self) -> None:
        """Star (or unstar) the current image; its row shows the star at once."""
        item, row = self.current_item(), self.list.currentRow()
        if item is None:
            return
        starred = not item.starred
        self.star_item.emit(item, starred)
        updated = replace(item, starred=starred)
        score = self.ranked[row][1]
        self.ranked[row] = (updated, score)
        self.items = [updated if i.id == item.id else i for i in self.items]
        entry = self.list.item(row)
        entry.setData(ItemRole, updated)
        entry.setText(self._row_text(row + 1, updated, score))
        self._update_buttons()

    def show_current(self) -> None:
        item = self.current_item()
        if item is not None:
            self.show_item.emit(item)

    def _update_buttons(self) -> None:
        item = self.current_item()
        for button in (self.open_button, self.star_button, self.show_button):
            button.setEnabled(item is not None)
        self.star_button.setText("Unstar" if item is not None and item.starred else "Star")
