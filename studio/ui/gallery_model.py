"""The gallery view-model: a list model over ``session.gallery.search`` with filters, star, trash.

Searches and thumbnails run off the GUI thread (:func:`run_in_background`); the model holds the
:class:`~studio.core.gallery.GalleryItem` of each row and its thumbnail once loaded.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QObject, QPersistentModelIndex, QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QImage, QPainter, QPixmap
from shiboken6 import isValid

from studio.core.gallery import Gallery, GalleryItem
from studio.ui.tasks import run_in_background

ItemRole = Qt.ItemDataRole.UserRole + 1
ICON_SIZE = 96
DATE_RANGES = (("Any time", None), ("Today", 0), ("Last 7 days", 7), ("Last 30 days", 30))


@dataclass(frozen=True)
class GalleryFilter:
    text: str = ""
    model: str = ""
    days: int | None = None  # None: any time; 0: today; N: the last N days
    starred_only: bool = False
    trash: bool = False

    def since(self, now: float | None = None) -> float | None:
        if self.days is None:
            return None
        now = time.time() if now is None else now
        if self.days == 0:
            local = time.localtime(now)
            return time.mktime((local.tm_year, local.tm_mon, local.tm_mday, 0, 0, 0, 0, 0, -1))
        return now - self.days * 86400


def load_thumbnails(paths: list[str]) -> dict[str, QImage]:
    """Read thumbnail files (off the GUI thread; QImage is safe there)."""
    out = {}
    for path in paths:
        image = QImage(path)
        if not image.isNull():
            out[path] = image.scaled(
                ICON_SIZE, ICON_SIZE, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
            )
    return out


class GalleryViewModel(QAbstractListModel):
    """Rows are gallery items, newest first, as the current :class:`GalleryFilter` selects."""

    loaded = Signal()  # a search finished and the rows were replaced
    failed = Signal(str)

    def __init__(self, gallery: Gallery | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.gallery = gallery
        self.filter = GalleryFilter()
        self.items: list[GalleryItem] = []
        self._icons: dict[str, QIcon] = {}
        self._loading_thumbs: set[str] = set()
        self._generation = 0
        self.searching = False
        self._again = False
        self._placeholder = _placeholder_icon()

    # -- Qt model ------------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.items)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self.items):
            return None
        item = self.items[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            text = item.prompt.replace("\n", " ").strip() or "(no prompt)"
            star = "★ " if item.starred else ""
            return star + (text if len(text) <= 28 else text[:27] + "…")
        if role == Qt.ItemDataRole.DecorationRole:
            return self._icons.get(item.thumbnail, self._placeholder)
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{item.prompt}\nseed {item.seed} · {item.width}×{item.height} · {item.model}"
        if role == ItemRole:
            return item
        return None

    # -- reading -------------------------------------------------------------------------
    def set_filter(self, **changes: Any) -> None:
        self.filter = replace(self.filter, **changes)
        self.refresh()

    def refresh(self) -> None:
        """Search again with the current filter (off the GUI thread)."""
        gallery = self.gallery
        if gallery is None:
            return
        if self.searching:
            self._again = True
            return
        self.searching = True
        f = self.filter
        self._generation += 1
        generation = self._generation

        def work() -> list[GalleryItem]:
            return gallery.search(
                text=f.text, model=f.model, since=f.since(), starred=True if f.starred_only else None, trashed=f.trash
            )

        run_in_background(work, lambda items: self._loaded(generation, items), self._failed)

    def _loaded(self, generation: int, items: list[GalleryItem]) -> None:
        if not isValid(self):  # the window closed while the search ran
            return
        self.searching = False
        if self._again:
            self._again = False
            self.refresh()
            return
        if generation != self._generation:
            return
        self.beginResetModel()
        self.items = items
        self.endResetModel()
        known = self._icons.keys() | self._loading_thumbs
        missing = [i.thumbnail for i in items if i.thumbnail not in known]
        if missing:
            self._loading_thumbs.update(missing)
            run_in_background(lambda: load_thumbnails(missing), self._thumbs_loaded, self._failed)
        self.loaded.emit()

    def _thumbs_loaded(self, images: dict[str, QImage]) -> None:
        if not isValid(self):
            return
        for path, image in images.items():
            self._icons[path] = QIcon(QPixmap.fromImage(image))
            self._loading_thumbs.discard(path)
        rows = [r for r, item in enumerate(self.items) if item.thumbnail in images]
        if rows:
            self.dataChanged.emit(self.index(min(rows)), self.index(max(rows)), [Qt.ItemDataRole.DecorationRole])

    def _failed(self, error: BaseException) -> None:
        if not isValid(self):
            return
        self.searching = False
        self.failed.emit(str(error))

    def item(self, row: int) -> GalleryItem | None:
        return self.items[row] if 0 <= row < len(self.items) else None

    def row_of(self, item_id: int) -> int:
        return next((r for r, item in enumerate(self.items) if item.id == item_id), -1)

    def models(self) -> list[str]:
        return sorted({item.model for item in self.items if item.model})

    # -- edits (quick SQLite updates; the file work of empty_trash runs off the GUI thread) --
    def set_starred(self, item_id: int, starred: bool) -> None:
        if self.gallery is None:
            return
        updated = self.gallery.set_starred(item_id, starred)
        row = self.row_of(item_id)
        if self.filter.starred_only and not starred:
            self.refresh()
        elif row >= 0:
            self.items[row] = updated
            self.dataChanged.emit(self.index(row), self.index(row))

    def trash(self, item_id: int) -> None:
        if self.gallery is not None:
            self.gallery.trash(item_id)
            self._drop_row(item_id)

    def restore(self, item_id: int) -> None:
        if self.gallery is not None:
            self.gallery.restore(item_id)
            self._drop_row(item_id)

    def empty_trash(self) -> None:
        gallery = self.gallery
        if gallery is not None:
            run_in_background(gallery.empty_trash, self._emptied, self._failed)

    def _emptied(self, _count: int) -> None:
        if isValid(self):
            self.refresh()

    def _drop_row(self, item_id: int) -> None:
        row = self.row_of(item_id)
        if row >= 0:
            self.beginRemoveRows(QModelIndex(), row, row)
            del self.items[row]
            self.endRemoveRows()


def _placeholder_icon() -> QIcon:
    pixmap = QPixmap(QSize(ICON_SIZE, ICON_SIZE))
    pixmap.fill(QColor(0, 0, 0, 0))
    painter = QPainter(pixmap)
    painter.fillRect(pixmap.rect().adjusted(16, 16, -16, -16), QColor(128, 128, 128, 60))
    painter.end()
    return QIcon(pixmap)
