"""The gallery view-model: a paged list model over ``session.gallery.search`` with filters, star, trash.

Built for galleries of 100,000 images and more:

- the first page is searched off the GUI thread (:func:`run_in_background`); later pages come through
  Qt's ``canFetchMore``/``fetchMore`` as the view scrolls near the end, one keyset query each
  (a millisecond at 100k rows), so the model never holds more rows than were scrolled to;
- thumbnails are read only for rows the view paints (:class:`ThumbnailDelegate` asks), in batches
  on the thread pool, and kept in a bounded cache; a row shows a placeholder until its thumbnail arrives;
- rows are :class:`~studio.core.gallery.GalleryItem` summaries whose request is parsed on first use.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QObject, QPersistentModelIndex, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QIcon, QImage, QImageReader, QPainter, QPixmap
from PySide6.QtWidgets import QStyledItemDelegate, QStyleOptionViewItem

from studio.core.gallery import Gallery, GalleryItem, model_display_name
from studio.ui.tasks import run_in_background

ItemRole = Qt.ItemDataRole.UserRole + 1
ICON_SIZE = 96
PAGE_SIZE = 200  # rows per query; the first page fills any view, later pages follow the scroll
THUMB_BATCH = 48  # thumbnails read per background task
ICON_CACHE = 2000  # thumbnails kept in memory (least recently shown dropped first)
DATE_RANGES = (("Any time", None), ("Today", 0), ("Last 7 days", 7), ("Last 30 days", 30))
SORT_ORDERS = (("Newest first", "newest"), ("Best match first", "match"))


def match_text(score: float | None) -> str:
    """A match score (cosine similarity, -1…1) as a designer reads it: ``"82%"`` (below 0: ``"0%"``)."""
    return "—" if score is None else f"{round(max(0.0, score) * 100)}%"


def match_line(item: GalleryItem) -> str:
    """One line on how well ``item`` matches its prompt, and which scorer said so."""
    if item.match_score is None:
        return "Match: not scored yet (Score Match in the gallery's menu)"
    scorer = model_display_name(item.match_model)
    return f"Match: {match_text(item.match_score)} (cosine {item.match_score:.2f}, by {scorer})"


@dataclass(frozen=True)
class GalleryFilter:
    text: str = ""
    model: str = ""
    days: int | None = None  # None: any time; 0: today; N: the last N days
    starred_only: bool = False
    trash: bool = False
    order: str = "newest"  # or "match": best match first

    def since(self, now: float | None = None) -> float | None:
        if self.days is None:
            return None
        now = time.time() if now is None else now
        if self.days == 0:
            local = time.localtime(now)
            return time.mktime((local.tm_year, local.tm_mon, local.tm_mday, 0, 0, 0, 0, 0, -1))
        return now - self.days * 86400

    def query(self) -> dict[str, Any]:
        """The :meth:`Gallery.search` arguments; ``neg:word`` in the text searches the negative prompt."""
        words = self.text.split()
        negative = " ".join(w[4:] for w in words if w.lower().startswith("neg:"))
        text = " ".join(w for w in words if not w.lower().startswith("neg:"))
        return {"text": text, "negative": negative, "model": self.model, "since": self.since(),
                "starred": True if self.starred_only else None, "trashed": self.trash, "order": self.order}


def load_thumbnails(paths: list[str]) -> dict[str, QImage]:
    """Read thumbnail files, decoded at icon size (off the GUI thread; QImage is safe there)."""
    out = {}
    for path in paths:
        reader = QImageReader(path)
        size = reader.size()
        if size.isValid() and max(size.width(), size.height()) > ICON_SIZE:
            reader.setScaledSize(size.scaled(ICON_SIZE, ICON_SIZE, Qt.AspectRatioMode.KeepAspectRatio))
        image = reader.read()
        if not image.isNull():
            out[path] = image
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
        self.page_size = PAGE_SIZE
        self._complete = True  # every row the filter selects is loaded
        self._icons: OrderedDict[str, QIcon] = OrderedDict()
        self._wanted: list[str] = []  # thumbnails the view asked for, not yet being read
        self._reading: set[str] = set()
        self._unreadable: set[str] = set()
        self._flush = QTimer(self, singleShot=True, interval=0)
        self._flush.timeout.connect(self._read_wanted)
        self._generation = 0
        self.searching = False
        self._again = False
        self._again_keep = True
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
            match = f"{match_text(item.match_score)} · " if item.match_score is not None else ""
            return star + match + (text if len(text) <= 28 else text[:27] + "…")
        if role == Qt.ItemDataRole.DecorationRole:
            return self._icon(item.thumbnail)
        if role == Qt.ItemDataRole.ToolTipRole:
            return (f"{item.prompt}\nseed {item.seed} · {item.width}×{item.height} · {item.model_name or item.model}"
                    f"\n{match_line(item)}")
        if role == ItemRole:
            return item
        return None

    def canFetchMore(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> bool:  # noqa: B008
        return not parent.isValid() and not self._complete and not self.searching and self.gallery is not None

    def fetchMore(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> None:  # noqa: B008
        """The next page after the last loaded row (a keyset query: as fast at row 90,000 as at 200)."""
        if not self.canFetchMore(parent) or not self.items or self.gallery is None:
            return
        try:
            page = self.gallery.search(**self.filter.query(), limit=self.page_size,
                                       after=self.items[-1].cursor_for(self.filter.order))
        except Exception as exc:  # a locked or vanished database must not take the window down
            self._complete = True
            self.failed.emit(str(exc))
            return
        self._complete = len(page) < self.page_size
        if page:
            first = len(self.items)
            self.beginInsertRows(QModelIndex(), first, first + len(page) - 1)
            self.items.extend(page)
            self.endInsertRows()

    # -- reading -------------------------------------------------------------------------
    def set_filter(self, **changes: Any) -> None:
        self.filter = replace(self.filter, **changes)
        self.refresh(keep_loaded=False)

    def refresh(self, keep_loaded: bool = True) -> None:
        """Search again with the current filter (off the GUI thread); with ``keep_loaded`` as many
        rows as are loaded now come back (a finished job does not drop the rows scrolled to)."""
        gallery = self.gallery
        if gallery is None:
            return
        if self.searching:  # search again once this one is back
            self._again_keep = keep_loaded and (self._again_keep if self._again else True)
            self._again = True
            return
        self.searching = True
        query = self.filter.query()
        limit = max(self.page_size, len(self.items) if keep_loaded else 0)
        self._generation += 1
        generation = self._generation

        def work() -> tuple[list[GalleryItem], int]:
            return gallery.search(**query, limit=limit), limit

        run_in_background(work, lambda result: self._loaded(generation, *result), self._failed, owner=self)

    def _loaded(self, generation: int, items: list[GalleryItem], limit: int) -> None:
        self.searching = False
        if self._again:
            self._again = False
            self.refresh(self._again_keep)
            return
        if generation != self._generation:
            return
        self.beginResetModel()
        self.items = items
        self._complete = len(items) < limit
        self.endResetModel()
        self.loaded.emit()

    def _failed(self, error: BaseException) -> None:
        self.searching = False
        self.failed.emit(str(error))

    # -- thumbnails (lazily, for the rows the view paints) ----------------------------------
    def _icon(self, path: str) -> QIcon:
        icon = self._icons.get(path)
        if icon is None:
            return self._placeholder
        self._icons.move_to_end(path)
        return icon

    def want_thumbnail(self, row: int) -> None:
        """The view paints ``row``: read its thumbnail (with others asked for meanwhile) off the GUI thread."""
        item = self.item(row)
        path = item.thumbnail if item is not None else ""
        if (path and path not in self._icons and path not in self._reading and path not in self._unreadable
                and path not in self._wanted):
            self._wanted.append(path)
            self._flush.start()

    def _read_wanted(self) -> None:
        while self._wanted:
            batch, self._wanted = self._wanted[:THUMB_BATCH], self._wanted[THUMB_BATCH:]
            self._reading.update(batch)
            run_in_background(lambda b=batch: (b, load_thumbnails(b)), lambda r: self._thumbs_loaded(*r),
                              self._failed, owner=self)

    def _thumbs_loaded(self, asked: list[str], images: dict[str, QImage]) -> None:
        self._reading.difference_update(asked)
        self._unreadable.update(p for p in asked if p not in images)
        for path, image in images.items():
            self._icons[path] = QIcon(QPixmap.fromImage(image))
        while len(self._icons) > ICON_CACHE:
            self._icons.popitem(last=False)
        if images and self.items:  # the view repaints what it shows, whatever the range
            self.dataChanged.emit(self.index(0), self.index(len(self.items) - 1), [Qt.ItemDataRole.DecorationRole])

    def thumbnails_pending(self) -> bool:
        return bool(self._wanted or self._reading)

    # -- lookups ---------------------------------------------------------------------------
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
            self._drop_row(item_id)
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
            run_in_background(gallery.empty_trash, self._emptied, self._failed, owner=self)

    def _emptied(self, _count: int) -> None:
        self.refresh(keep_loaded=False)

    def _drop_row(self, item_id: int) -> None:
        row = self.row_of(item_id)
        if row >= 0:
            self.beginRemoveRows(QModelIndex(), row, row)
            del self.items[row]
            self.endRemoveRows()


class ThumbnailDelegate(QStyledItemDelegate):
    """Paints a row as usual, first asking the model for its thumbnail: only painted rows load theirs
    (size hints and other reads of the decoration do not)."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        model = index.model()
        if isinstance(model, GalleryViewModel):
            model.want_thumbnail(index.row())
        super().paint(painter, option, index)


def _placeholder_icon() -> QIcon:
    pixmap = QPixmap(QSize(ICON_SIZE, ICON_SIZE))
    pixmap.fill(QColor(0, 0, 0, 0))
    painter = QPainter(pixmap)
    painter.fillRect(pixmap.rect().adjusted(16, 16, -16, -16), QColor(128, 128, 128, 60))
    painter.end()
    return QIcon(pixmap)
