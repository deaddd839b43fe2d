"""The Qt worker bridge: the runner's listener, re-emitting job events as Qt signals.

The :class:`~studio.jobs.runner.JobRunner` calls :meth:`JobBridge.job_changed` and
:meth:`JobBridge.job_event` (typed events, :mod:`studio.core.events`) on its worker thread. The
bridge lives on the GUI thread, so the signals it emits from the worker are delivered to GUI-thread
slots through queued connections.
Image conversion (PIL → QImage, reading a result file) happens here, on the worker, too.
"""

from __future__ import annotations

import threading
import time

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage

from studio.core.events import JobEvent, LogLine, Metric, Preview, Progress, TextChunk
from studio.jobs.queue import Job, JobState
from studio.ui.images import load_qimage, to_qimage

PROGRESS_INTERVAL_S = 0.1  # at most ~10 progress updates a second reach the GUI
PREVIEW_INTERVAL_S = 0.1


class JobBridge(QObject):
    """Implements ``JobListener``. Every state change emits ``changed``; a job that ends also emits
    ``finished``, ``failed`` or ``cancelled``; running jobs emit ``progress`` and ``preview`` (both
    throttled), and every ``text`` chunk, ``metric`` and ``log`` line (never dropped)."""

    changed = Signal(object)  # Job (a frozen snapshot)
    finished = Signal(object)  # Job that ended done
    failed = Signal(object)  # Job that ended failed (its ``error`` says why)
    cancelled = Signal(object)  # Job that ended cancelled
    progress = Signal(int, int, int, str)  # job id, step, total, message
    preview = Signal(int, QImage)  # job id, intermediate image
    result = Signal(int, QImage)  # job id, first image the finished job wrote
    text = Signal(int, str)  # job id, a chunk of streamed text
    metric = Signal(int, object)  # job id, a Metric event (step, total, values)
    log = Signal(int, str)  # job id, a notice for the user

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._lock = threading.Lock()
        self._last_progress: dict[int, float] = {}
        self._last_preview: dict[int, float] = {}
        self._last_message: dict[int, str] = {}

    # -- JobListener (called on the worker thread) --------------------------------------
    def job_changed(self, job: Job) -> None:
        self.changed.emit(job)
        ended = {JobState.DONE: self.finished, JobState.FAILED: self.failed, JobState.CANCELLED: self.cancelled}
        if (signal := ended.get(job.state)) is not None:
            signal.emit(job)
        if job.state is JobState.DONE and job.result is not None:
            for artifact in job.result.artifacts:
                if artifact.kind == "image" and (image := load_qimage(artifact.path)) is not None:
                    self.result.emit(job.id, image)
                    break
        if job.state.finished:
            with self._lock:
                self._last_progress.pop(job.id, None)
                self._last_preview.pop(job.id, None)
                self._last_message.pop(job.id, None)

    def job_event(self, job_id: int, event: JobEvent) -> None:
        if isinstance(event, Progress):
            self._progress(job_id, event)
        elif isinstance(event, Preview):
            self._preview(job_id, event)
        elif isinstance(event, TextChunk):
            self.text.emit(job_id, event.text)
        elif isinstance(event, Metric):
            self.metric.emit(job_id, event)
        elif isinstance(event, LogLine):
            self.log.emit(job_id, event.text)

    def _progress(self, job_id: int, event: Progress) -> None:
        step, total, message = event.step, event.total, event.message
        now = time.monotonic()
        with self._lock:
            due = (
                step <= 0
                or step >= total
                or message != self._last_message.get(job_id, "")
                or now - self._last_progress.get(job_id, 0.0) >= PROGRESS_INTERVAL_S
            )
            if due:
                self._last_progress[job_id] = now
                self._last_message[job_id] = message
        if due:
            self.progress.emit(job_id, step, total, message)

    def _preview(self, job_id: int, event: Preview) -> None:
        now = time.monotonic()
        with self._lock:
            show = event.step >= event.total or now - self._last_preview.get(job_id, 0.0) >= PREVIEW_INTERVAL_S
            if show:
                self._last_preview[job_id] = now
        if show and (image := to_qimage(event.image)) is not None:
            self.preview.emit(job_id, image)
