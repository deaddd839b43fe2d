"""Garbage collection on the GUI thread only.

Python's automatic collection runs in whichever thread allocates when a threshold passes. When that is
a worker (a background task importing a module, a job), the pass may finalise Qt objects that belong
to the GUI thread (a closed dialog's wrappers in a reference cycle), and Qt crashes: seen as a
segmentation fault in tests/ui while an export preview loaded off the GUI thread. So the window turns
automatic collection off and collects the due generations from a timer on its own thread, as
pyqtgraph's ``GarbageCollector`` does.
"""

from __future__ import annotations

import shiboken6
from PySide6.QtCore import QCoreApplication, QObject, QTimer

from studio.core.collector import collect_due, collect_manually

INTERVAL_MS = 500

_timer: QTimer | None = None


def collect_on_gui_thread(app: QObject | None = None) -> QTimer:
    """Start (once per process) the GUI-thread collector; returns its timer."""
    global _timer
    if _timer is None or not shiboken6.isValid(_timer):  # once, or again after a new QApplication
        collect_manually()
        _timer = QTimer(app or QCoreApplication.instance(), interval=INTERVAL_MS)
        _timer.timeout.connect(collect_due)
        _timer.start()
    return _timer
