"""Docks that come back after the window was made small.

When a main window shrinks, Qt takes the space from its docks; when it grows again, all of it goes
to the central widget, so the docks stay squeezed. :class:`DockSizeKeeper` remembers the size each
dock had before a shrink took it away and gives it back when the window grows (sizes the user
chose by dragging a splitter are what it remembers, so they are kept).
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QSize, Qt, QTimer
from PySide6.QtWidgets import QDockWidget, QMainWindow


def _extent(dock: QDockWidget, orientation: Qt.Orientation) -> int:
    return dock.width() if orientation == Qt.Orientation.Horizontal else dock.height()


def _orientation(window: QMainWindow, dock: QDockWidget) -> Qt.Orientation:
    """The direction a dock's own size runs in: width for the side areas, height for top/bottom."""
    area = window.dockWidgetArea(dock)
    sides = (Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea)
    return Qt.Orientation.Horizontal if area in sides else Qt.Orientation.Vertical


class DockSizeKeeper(QObject):
    """Watches ``window``'s resizes; gives its docks back what a shrink took from them."""

    def __init__(self, window: QMainWindow, docks: list[QDockWidget]) -> None:
        super().__init__(window)
        self.window = window
        self.docks = docks
        self._known: dict[QDockWidget, int] = {}  # each docked dock's size after the last settled resize
        self._taken: dict[QDockWidget, int] = {}  # the size a shrink took a dock down from
        self._last = QSize()
        window.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.window and event.type() == QEvent.Type.Resize:
            QTimer.singleShot(0, self, self._settled)  # once the layout has placed the docks
        return False

    def _docked(self) -> list[QDockWidget]:
        return [d for d in self.docks if d.isVisible() and not d.isFloating()]

    def _settled(self) -> None:
        size, last = self.window.size(), self._last
        self._last = size
        if last.isValid() and (size.width() < last.width() or size.height() < last.height()):
            for dock in self._docked():
                before, now = self._known.get(dock, 0), _extent(dock, _orientation(self.window, dock))
                if now < before:
                    self._taken[dock] = max(self._taken.get(dock, 0), before)
        elif last.isValid() and (size.width() > last.width() or size.height() > last.height()):
            self._give_back()
        self._remember()

    def _give_back(self) -> None:
        # one dock per area: the docks of an area share its depth (a dock under a tab bar is shorter
        # than its neighbour), so the one that lost most says how deep the area should be again
        widest: dict[Qt.DockWidgetArea, QDockWidget] = {}
        for dock in self._docked():
            area = self.window.dockWidgetArea(dock)
            if dock in self._taken and (area not in widest or self._taken[dock] > self._taken[widest[area]]):
                widest[area] = dock
        for dock in widest.values():
            self.window.resizeDocks([dock], [self._taken[dock]], _orientation(self.window, dock))
        for dock in list(self._taken):
            if not dock.isVisible() or _extent(dock, _orientation(self.window, dock)) >= self._taken[dock] - 1:
                del self._taken[dock]

    def _remember(self) -> None:
        self._known = {d: _extent(d, _orientation(self.window, d)) for d in self._docked()}

    def forget(self) -> None:
        """The layout was reset: what was taken before no longer applies."""
        self._taken.clear()
        self._remember()
