"""Observable state the widgets bind to: queue rows, canvas image, log lines, status, model list.

View-models are updated from :class:`~studio.ui.bridge.JobBridge` signals (already on the GUI
thread) and from background tasks; widgets only read them and listen to their signals.
"""

from __future__ import annotations

import collections
import logging
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QWidget

from studio.core.library import ModelEntry, ModelLibrary
from studio.core.requests import GenerationRequest, Request, TrainRequest
from studio.jobs.queue import Job, JobState
from studio.ui.canvas_model import CanvasViewModel
from studio.ui.tasks import run_in_background

__all__ = [
    "CanvasViewModel", "JobRole", "LibraryViewModel", "LogViewModel", "ProgressRole", "QueueModel",
    "StatusNotices", "StatusViewModel", "summarize", "text_progress",
]

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"  # as in the log file
ProgressRole = Qt.ItemDataRole.UserRole + 1  # (step, total, state value) for the progress delegate
JobRole = Qt.ItemDataRole.UserRole + 2  # the Job snapshot of the row
ACTIVE = (JobState.RUNNING, JobState.PAUSED)


def summarize(request: Request) -> str:
    """One short line saying what a job does (at most 80 characters)."""
    text = _summary(request).replace("\n", " ")
    return text if len(text) <= 80 else text[:79] + "…"


def _summary(request: Request) -> str:
    if isinstance(request, TrainRequest) and request.recipe:
        return _training_summary(request)
    for name in ("prompt", "recipe"):
        text = str(getattr(request, name, "") or "").strip()
        if text:
            return text
    if isinstance(request, GenerationRequest) and request.model:  # a model that draws from a seed alone
        seed = f"seed {request.seed}" if request.seed is not None else "a random seed"
        return f"{Path(request.model).name}, {seed}"
    images = tuple(getattr(request, "images", ()) or ())
    names = [Path(image).name for image in images]
    if request.kind == "interpolate" and len(names) == 2:
        return f"{getattr(request, 'frames', 0)} frames: {names[0]} → {names[1]}"
    if request.kind == "score" and images:
        prompts = tuple(getattr(request, "prompts", ()) or ())
        against = f"“{prompts[0]}”" if len(prompts) == 1 and prompts[0] else f"{len(prompts)} prompts"
        return f"{_pictures(names)} against {against}"
    return _pictures(names) if images else request.kind


def _training_summary(request: TrainRequest) -> str:
    """``lora on demo from stars → stars.safetensors``: the recipe, the model, the data, what it writes."""
    parts = [request.recipe]
    if request.model:
        parts.append(f"on {Path(request.model).name}")
    if request.data:
        parts.append(f"from {Path(request.data).name}")
    if out := str(request.options.get("out") or ""):
        parts.append(f"→ {Path(out).name}")
    return " ".join(parts)


def _pictures(names: list[str]) -> str:
    """``a.png`` / ``a.png, b.png`` / ``5 pictures``."""
    return ", ".join(names) if len(names) <= 2 else f"{len(names)} pictures"


class QueueModel(QStandardItemModel):
    """The jobs table: one row per job, live state and progress.

    A C++ item model, filled from Python only when a job changes: repainting the table then runs
    no Python (each Python ``data()`` call would have to win the GIL back from a busy worker).
    """

    COLUMNS = ("ID", "Kind", "Summary", "State", "Progress", "Message")
    PROGRESS_COLUMN = 4

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(0, len(self.COLUMNS), parent)
        self.setHorizontalHeaderLabels(list(self.COLUMNS))
        self._jobs: list[Job] = []
        self._rows: dict[int, int] = {}

    # -- updates -------------------------------------------------------------------------
    def load(self, jobs: list[Job]) -> None:
        self.removeRows(0, self.rowCount())
        self._jobs, self._rows = [], {}
        for job in jobs:
            self.upsert(job)

    def upsert(self, job: Job) -> None:
        row = self._rows.get(job.id)
        if row is None:
            items = [QStandardItem() for _ in self.COLUMNS]
            for item in items:
                item.setEditable(False)
            items[0].setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self._rows[job.id] = len(self._jobs)
            self._jobs.append(job)
            self._fill(items, job)
            self.appendRow(items)
        else:
            old = self._jobs[row]
            if old.state in ACTIVE and job.state in ACTIVE and job.owner_pid == os.getpid():
                # running ⇄ paused of a job this process runs: its live progress (the bridge's, newer
                # than what the queue stored at its last write) stays shown
                job = replace(job, step=old.step, total=old.total, message=old.message)
            self._store(row, job)

    def _store(self, row: int, job: Job) -> None:
        self._jobs[row] = job
        self._fill([self.item(row, c) for c in range(len(self.COLUMNS))], job)

    def set_progress(self, job_id: int, step: int, total: int, message: str) -> None:
        row = self._rows.get(job_id)
        if row is None or self._jobs[row].state.finished:
            return
        self._store(row, replace(self._jobs[row], step=step, total=total, message=message))

    def _fill(self, items: list[QStandardItem], job: Job) -> None:
        tooltip = job.error or job.message or summarize(job.request)
        for column, item in enumerate(items):
            text = self._display(job, column)
            if item.text() != text:
                item.setText(text)
            if item.toolTip() != tooltip:
                item.setToolTip(tooltip)
        items[self.PROGRESS_COLUMN].setData((job.step, job.total, job.state.value), ProgressRole)
        items[0].setData(job, JobRole)

    # -- reads ---------------------------------------------------------------------------
    def job(self, row: int) -> Job | None:
        return self._jobs[row] if 0 <= row < len(self._jobs) else None

    def jobs(self) -> list[Job]:
        """The jobs shown, oldest first."""
        return list(self._jobs)

    def job_by_id(self, job_id: int) -> Job | None:
        row = self._rows.get(job_id)
        return None if row is None else self._jobs[row]

    def row_of(self, job_id: int) -> int:
        return self._rows.get(job_id, -1)

    @staticmethod
    def _display(job: Job, column: int) -> str:
        if column == 0:
            return str(job.id)
        if column == 1:
            return job.request.kind
        if column == 2:
            return summarize(job.request)
        if column == 3:
            return job.state.value
        if column == 4:
            return f"{job.step}/{job.total}" if job.total else ""
        if job.state in (JobState.FAILED, JobState.INTERRUPTED):
            return job.error
        return text_progress(job) if job.request.kind == "text" else job.message


def text_progress(job: Job) -> str:
    """A text job's Message: how many tokens it wrote (never a piece of the text itself); before
    its first token, what it is doing (loading, exporting)."""
    if job.step < 1:
        return job.message if not job.state.finished else ""
    tokens = f"{job.step} token{'s' if job.step != 1 else ''}"
    if job.state is JobState.RUNNING:
        return f"writing… {tokens}"
    if job.state is JobState.CANCELLED:
        return f"stopped after {tokens}"
    return tokens


class LogViewModel(QObject):
    """The tail of the ``studio`` log: records from every thread, plus the log file's last lines."""

    line_added = Signal(str)
    _record = Signal(str)

    def __init__(self, tail_of: Path | None = None, max_lines: int = 2000, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.lines: collections.deque[str] = collections.deque(maxlen=max_lines)
        self._record.connect(self._append, Qt.ConnectionType.QueuedConnection)
        self._handler = _SignalHandler(self._record)
        self._handler.setFormatter(logging.Formatter(LOG_FORMAT))
        if tail_of is not None:
            self.load_tail(tail_of)  # before listening, so no record shows twice
        logging.getLogger("studio").addHandler(self._handler)

    def load_tail(self, path: Path, count: int = 200, max_bytes: int = 64_000) -> None:
        """Show the last ``count`` lines the log file already holds (earlier sessions, start-up)."""
        try:
            with path.open("rb") as handle:
                handle.seek(max(0, path.stat().st_size - max_bytes))
                text = handle.read().decode("utf-8", "replace")
        except OSError:
            return
        for line in text.splitlines()[-count:]:
            self._append(line)

    def close(self) -> None:
        """Detach from the logger (call before the view-model goes away)."""
        logging.getLogger("studio").removeHandler(self._handler)

    def add_line(self, line: str) -> None:
        """A line that is no log record: a job's own log event (GUI thread)."""
        self._append(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {line}")

    def _append(self, line: str) -> None:
        self.lines.append(line)
        self.line_added.emit(line)


class _SignalHandler(logging.Handler):
    """A logging handler that forwards formatted records through a (thread-safe) Qt signal."""

    def __init__(self, signal: Any) -> None:
        super().__init__(logging.INFO)
        self._signal = signal

    def format(self, record: logging.LogRecord) -> str:
        """One line per record; tracebacks stay in the log file."""
        lines = super().format(record).splitlines() or [""]
        return lines[0] + ("  [details in the log file]" if len(lines) > 1 else "")

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._signal.emit(self.format(record))
        except RuntimeError:  # the view-model was deleted while a worker logged
            pass


class StatusNotices(QObject):
    """The status bar's notice ("Job 4 finished."): shown for ``timeout_ms`` at most, replaced by
    the next one, and gone as soon as the user does something else (a key, a click, a drop, once
    the notice has been up ``grace_s``): a notice never describes a state the user has moved on from.

    While a notice is up it watches the input events of ``window``'s native window (the keys and
    clicks of that window reach it there first), and only then; without a shown window, the
    application's.
    """

    changed = Signal(str)  # the notice to show; "" clears it
    INPUT = frozenset({QEvent.Type.KeyPress, QEvent.Type.MouseButtonPress, QEvent.Type.Drop,
                       QEvent.Type.Wheel, QEvent.Type.MouseButtonDblClick})

    def __init__(self, timeout_ms: int = 8000, grace_s: float = 1.5, parent: QObject | None = None,
                 window: QWidget | None = None) -> None:
        super().__init__(parent)
        self.window = window
        self.text = ""
        self.grace_s = grace_s
        self._shown_at = 0.0
        self._watching: QObject | None = None
        self._timer = QTimer(self, singleShot=True, interval=timeout_ms)
        self._timer.timeout.connect(self.clear)

    def show(self, text: str) -> None:
        self.text, self._shown_at = text, time.monotonic()
        self._timer.start()
        self._watch(True)
        self.changed.emit(text)

    def clear(self) -> None:
        self._timer.stop()
        self._watch(False)
        if self.text:
            self.text = ""
            self.changed.emit("")

    def user_acted(self) -> None:
        """The user did something: a notice up long enough to have been read goes."""
        if self.text and time.monotonic() - self._shown_at >= self.grace_s:
            self.clear()

    def _watch(self, on: bool) -> None:
        if self._watching is not None:
            if on:
                return
            self._watching.removeEventFilter(self)
            self._watching = None
        if on:
            handle = self.window.windowHandle() if self.window is not None else None
            self._watching = handle if handle is not None else QCoreApplication.instance()
            if self._watching is not None:
                self._watching.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in self.INPUT:
            self.user_acted()
        return False


class StatusViewModel(QObject):
    """Device, memory and backend for the status bar; the backend shows the provider the last job
    on it ran on ("onnx (CUDA)"), once a job has said (``result.data["provider"]``)."""

    changed = Signal()

    def __init__(self, backend: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.device = "detecting…"
        self.memory = ""
        self.backend = backend
        self.providers: dict[str, str] = {}  # backend → provider its last job ran on

    @property
    def backend_text(self) -> str:
        provider = self.providers.get(self.backend)
        return f"{self.backend} ({provider})" if provider else self.backend

    def job_finished(self, backend: str, data: dict[str, Any]) -> str:
        """Note the provider a finished job ran on; its notice (e.g. CUDA missing), if any."""
        provider = data.get("provider")
        if isinstance(provider, str) and provider and self.providers.get(backend) != provider:
            self.providers[backend] = provider
            self.changed.emit()
        notice = data.get("notice")
        return notice if isinstance(notice, str) else ""

    def set_probe(self, info: dict[str, Any]) -> None:
        self.device = str(info.get("device") or "unknown")
        self.memory = str(info.get("memory") or "")
        self.changed.emit()

    def set_backend(self, backend: str) -> None:
        self.backend = backend
        self.changed.emit()


class LibraryViewModel(QObject):
    """The models the prompt panel offers; scanning happens off the GUI thread."""

    changed = Signal()
    failed = Signal(str)

    def __init__(self, library: ModelLibrary | None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.library = library  # None until the window has a session
        self.entries: list[ModelEntry] = []
        self.scanning = False
        self._again = False

    def refresh(self) -> None:
        """Scan again; a request during a scan runs once that scan ends (folders may have changed)."""
        if self.library is None:
            return
        if self.scanning:
            self._again = True
            return
        self.scanning = True
        run_in_background(self.library.scan, self._scanned, self._failed, owner=self)

    def _scanned(self, entries: list[ModelEntry]) -> None:
        self.scanning = False
        self.entries = entries
        self.changed.emit()
        if self._again:
            self._again = False
            self.refresh()

    def _failed(self, error: BaseException) -> None:
        self.scanning = False
        logging.getLogger("studio.ui").error("Scanning the model folders failed: %s", error)
        self.failed.emit(str(error))
