"""The Qt worker bridge: the runner's listener, re-emitting job events as Qt signals.

The :class:`~studio.jobs.runner.JobRunner` calls :meth:`JobBridge.job_changed` and
:meth:`JobBridge.job_event` (typed events, :mod:`studio.core.events`) on its worker thread. The
bridge lives on the GUI thread, so the signals it emits from the worker are delivered to GUI-thread
slots through queued connections.
Image conversion (PIL → QImage, reading a result file) happens here, on the worker, too.

Views of every job (the queue table, the canvas) connect to the bridge's signals. A view-model that
follows one job asks for a :class:`JobWatch` (:meth:`JobBridge.watch`): the same events, for that job
only, routed on the GUI thread, released when the job ends.
"""

from __future__ import annotations

import threading
import time

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtGui import QImage

from studio.core.events import JobEvent, LogLine, Metric, Preview, Progress, TextChunk
from studio.jobs.queue import Job, JobState
from studio.ui.images import load_qimage, to_qimage

PROGRESS_INTERVAL_S = 0.1  # at most ~10 progress updates a second reach the GUI
PREVIEW_INTERVAL_S = 0.1


class JobWatch(QObject):
    """The events of one job (GUI thread). The bridge releases it (``deleteLater``) after the job's
    final ``changed`` and its ``finished``/``failed``/``cancelled`` and ``ended``; :meth:`release`
    lets go earlier. Progress and previews are throttled as the bridge's own signals are."""

    changed = Signal(object)  # Job snapshot
    finished = Signal(object)  # Job that ended done
    failed = Signal(object)  # Job that ended failed
    cancelled = Signal(object)  # Job that ended cancelled (or interrupted)
    ended = Signal(object)  # Job, after any of the three above
    progress = Signal(int, int, str)  # step, total, message
    preview = Signal(QImage)
    result = Signal(QImage)  # first image the finished job wrote
    text = Signal(str)  # a chunk of streamed text
    metric = Signal(object)  # a Metric event
    log = Signal(str)  # a notice for the user

    def __init__(self, bridge: JobBridge, job_id: int) -> None:
        super().__init__(bridge)
        self.job_id = job_id
        self._bridge: JobBridge | None = bridge

    @property
    def active(self) -> bool:
        """False once the job ended or the watch was released."""
        return self._bridge is not None

    def release(self) -> None:
        """Stop following the job (idempotent)."""
        bridge, self._bridge = self._bridge, None
        if bridge is not None:
            bridge._forget(self)
            self.deleteLater()


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
    _ended = Signal(object)  # a finished Job, after its ``result``: ends its watches

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._lock = threading.Lock()
        self._last_progress: dict[int, float] = {}
        self._last_preview: dict[int, float] = {}
        self._last_message: dict[int, str] = {}
        self._watches: dict[int, list[JobWatch]] = {}
        # Routing to watches happens on the GUI thread (queued from the worker, in emission order),
        # so a watch taken right after ``submit`` misses nothing the worker said about the job.
        self.changed.connect(self._route_changed)
        self.progress.connect(self._route_progress)
        self.preview.connect(self._route_preview)
        self.result.connect(self._route_result)
        self.text.connect(self._route_text)
        self.metric.connect(self._route_metric)
        self.log.connect(self._route_log)
        self._ended.connect(self._route_ended)

    # -- per-job subscriptions (GUI thread) ---------------------------------------------
    def watch(self, job_id: int) -> JobWatch:
        """Follow one job: a :class:`JobWatch` whose signals carry only ``job_id``'s events."""
        watch = JobWatch(self, job_id)
        self._watches.setdefault(job_id, []).append(watch)
        return watch

    def watching(self, job_id: int) -> bool:
        return bool(self._watches.get(job_id))

    def _forget(self, watch: JobWatch) -> None:
        watches = self._watches.get(watch.job_id, [])
        if watch in watches:
            watches.remove(watch)
        if not watches:
            self._watches.pop(watch.job_id, None)

    def _route(self, job_id: int, name: str, *args: object) -> None:
        for watch in list(self._watches.get(job_id, ())):
            getattr(watch, name).emit(*args)

    # bound slots of the bridge (not lambdas): Qt queues them onto the bridge's (GUI) thread
    @Slot(int, int, int, str)
    def _route_progress(self, job_id: int, step: int, total: int, message: str) -> None:
        self._route(job_id, "progress", step, total, message)

    @Slot(int, QImage)
    def _route_preview(self, job_id: int, image: QImage) -> None:
        self._route(job_id, "preview", image)

    @Slot(int, QImage)
    def _route_result(self, job_id: int, image: QImage) -> None:
        self._route(job_id, "result", image)

    @Slot(int, str)
    def _route_text(self, job_id: int, chunk: str) -> None:
        self._route(job_id, "text", chunk)

    @Slot(int, object)
    def _route_metric(self, job_id: int, event: object) -> None:
        self._route(job_id, "metric", event)

    @Slot(int, str)
    def _route_log(self, job_id: int, line: str) -> None:
        self._route(job_id, "log", line)

    @Slot(object)
    def _route_changed(self, job: Job) -> None:
        self._route(job.id, "changed", job)

    @Slot(object)
    def _route_ended(self, job: Job) -> None:
        """After the final ``changed`` and ``result``: the watch's own end signals, then its release."""
        name = {JobState.DONE: "finished", JobState.FAILED: "failed"}.get(job.state, "cancelled")
        for watch in list(self._watches.get(job.id, ())):
            if watch.active:
                getattr(watch, name).emit(job)
            if watch.active:
                watch.ended.emit(job)
            watch.release()

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
            self._ended.emit(job)
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
