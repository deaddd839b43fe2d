"""Start the studio window: ``run()`` for ``studio``, ``run(smoke_test=True)`` for ``studio --smoke-test``.

Nothing slow happens before the first paint: model scanning, the device probe (a child process
that imports torch), the log tail and the warm-up of the default model (:mod:`studio.ui.warmup`:
its family's imports, then the model, on a worker thread) start right after it.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QMessageLogContext, QObject, QTimer, QtMsgType, Signal, qInstallMessageHandler
from PySide6.QtWidgets import QApplication

from studio import __version__
from studio.core.errors import describe
from studio.core.paths import studio_home
from studio.core.settings import Settings
from studio.ui.bridge import JobBridge
from studio.ui.warmup import ModelWarmup
from studio.ui.window import MainWindow

if TYPE_CHECKING:
    from studio.session import StudioSession

_IMPORTED_AT = time.perf_counter()
REPORT_MODULES_ENV = "STUDIO_SMOKE_REPORT_MODULES"
# Plugin code on the worker may hold the GIL for long stretches (pure-Python loops). Every Python
# slot, model ``data()`` call and paint handler on the GUI thread must win the GIL back first, which
# takes up to one switch interval each (5 ms by default): 1 ms keeps a frame's worth of them short.
GIL_SWITCH_INTERVAL_S = 0.001
# The warm-up starts a moment after the first paint: a window closed at once (a smoke run, a test)
# never starts importing torch on its way out.
WARMUP_DELAY_MS = 300
_QT_NOISE = ("propagateSizeHints",)  # harmless notices of the offscreen/minimal platforms
log = logging.getLogger("studio.ui")


def process_started_at() -> float:
    """The process start as a ``time.perf_counter()`` value (Linux: from /proc; else import time)."""
    try:
        with open("/proc/self/stat", encoding="ascii") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        with open("/proc/uptime", encoding="ascii") as handle:
            uptime = float(handle.read().split()[0])
        age = uptime - int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return _IMPORTED_AT
    return time.perf_counter() - max(age, 0.0)


class FirstPaint(QObject):
    """Emits ``painted`` once, after the watched widget has handled its first paint event."""

    painted = Signal()

    def __init__(self, widget: QObject) -> None:
        super().__init__(widget)
        self._done = False
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if not self._done and event.type() == QEvent.Type.Paint:
            self._done = True
            watched.removeEventFilter(self)
            QTimer.singleShot(0, self.painted.emit)  # after this paint has been handled
        return False


def _qt_message(kind: QtMsgType, _context: QMessageLogContext, text: str) -> None:
    """Route Qt's own messages to the studio log instead of the terminal."""
    if any(noise in text for noise in _QT_NOISE):
        return
    level = {
        QtMsgType.QtDebugMsg: logging.DEBUG,
        QtMsgType.QtInfoMsg: logging.DEBUG,
        QtMsgType.QtWarningMsg: logging.WARNING,
    }.get(kind, logging.ERROR)
    logging.getLogger("studio.qt").log(level, "%s", text)


def application() -> QApplication:
    """The QApplication, created once with the names QSettings uses."""
    app = QApplication.instance()
    if app is None:
        app = QApplication(sys.argv[:1])
    app.setApplicationName("Studio")
    app.setOrganizationName("Studio")
    app.setApplicationDisplayName("Studio")
    app.setApplicationVersion(__version__)
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    return app  # type: ignore[return-value]


def run(smoke_test: bool = False, started_at: float | None = None) -> int:
    """Open the studio and run the event loop; returns the exit code.

    ``started_at`` is a ``time.perf_counter()`` value taken as early as possible by the caller;
    without it the process start time is used where the platform tells it. The window paints
    first; the session (plugin discovery, the queue database, the worker) opens right after.
    """
    started = started_at if started_at is not None else process_started_at()
    previous_handler = qInstallMessageHandler(_qt_message)
    app = application()
    startup = _Startup(smoke_test, started)
    FirstPaint(startup.window).painted.connect(startup.after_first_paint)
    startup.window.show()
    try:
        code = app.exec()
    finally:
        startup.close()
        app.processEvents()
        qInstallMessageHandler(previous_handler)
    return int(code) or startup.exit_code


class _Startup:
    """The window now; the session, the worker and the background scans after the first paint."""

    def __init__(self, smoke_test: bool, started: float) -> None:
        self.smoke_test = smoke_test
        self.started = started
        self.settings = Settings.load()
        self.bridge = JobBridge()
        self.window = MainWindow(None, self.bridge, settings=self.settings)
        self.session: StudioSession | None = None
        self.warmup: ModelWarmup | None = None
        self.closed = False
        self.exit_code = 0

    def after_first_paint(self) -> None:
        if self.smoke_test:
            _report_startup(self.started)
        try:
            from studio.session import StudioSession

            self.session = StudioSession(settings=self.settings, listener=self.bridge)
            self.window.attach(self.session)
            self.session.runner.start()
        except Exception as exc:  # the window stays up and says what went wrong
            log.exception("The studio could not open its session")
            self.window.notify(f"The studio could not start its worker: {describe(exc)}")
            self.exit_code = 1
        else:
            log.info("Studio %s started; data folder %s", __version__, studio_home())
        if self.smoke_test:
            self.window.close()
            QApplication.quit()
        else:
            self.window.start_background_work()
            QTimer.singleShot(WARMUP_DELAY_MS, self.start_warmup)

    def start_warmup(self) -> None:
        """Import the default model's family and load the model on a worker, for a quick first image."""
        if self.session is None or self.closed:
            return
        model = self.window.prompt_panel.model_reference() or self.settings.default_model
        self.warmup = ModelWarmup(self.session, model)
        self.warmup.start()

    def close(self) -> None:
        self.closed = True
        if self.warmup is not None:
            self.warmup.cancel()
        if self.session is not None:
            self.session.close()
        self.window.shutdown()
        self.window.deleteLater()
        self.bridge.deleteLater()


def _report_startup(started: float) -> None:
    report: dict[str, object] = {"startup_ms": round((time.perf_counter() - started) * 1000)}
    if os.environ.get(REPORT_MODULES_ENV):
        report["torch_imported"] = "torch" in sys.modules
    print(json.dumps(report), flush=True)
