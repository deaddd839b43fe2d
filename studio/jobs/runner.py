"""The job runner: plain Python, one accelerator worker thread, cooperative cancel and pause.

The UI wraps it with a Qt bridge; the CLI and tests drive it directly. An executor is any callable
``execute(request, report, cancelled) -> JobResult``. ``report(step, total, preview=None,
message=None, text=None, metrics=None, notice=None)`` turns each keyword into its own typed event
(:mod:`studio.core.events`) for the listener; it raises :class:`JobCancelled` once the job is
cancelled and blocks while the job is paused, so a job that reports every step obeys both within a
step. Pause, resume and cancel may also come from another process, through the queue's ``control``
column, read whenever progress is stored (every ``persist_interval`` seconds).

Nothing a job raises ends the worker or the process: a plugin raising ``SystemExit`` or
``KeyboardInterrupt`` (or any other ``BaseException``) in load or run gives a failed job that says so.
The job is recorded ``done`` only after the executor (and a ``finalize`` step, e.g. the CLI writing
``--out``) has returned, so every file its result names exists by then.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any, Protocol

from studio.core.errors import BadInput, JobCancelled, PluginError, describe
from studio.core.events import JobEvent, LogLine, Metric, Preview, Progress, TextChunk
from studio.core.paths import log_file
from studio.core.requests import Request
from studio.core.results import JobResult
from studio.core.storage import kill_point
from studio.jobs.queue import Job, JobQueue, JobState

log = logging.getLogger("studio.jobs")

Executor = Callable[[Request, Callable[..., None], Callable[[], bool]], JobResult]
Finalizer = Callable[[JobResult], JobResult]


class JobListener(Protocol):
    """Receives job events on the worker thread (the Qt bridge re-emits them as signals)."""

    def job_changed(self, job: Job) -> None: ...

    def job_event(self, job_id: int, event: JobEvent) -> None: ...


class JobRunner:
    """Runs queued jobs one at a time on a background thread, in queue order."""

    def __init__(
        self,
        queue: JobQueue,
        execute: Executor,
        listener: JobListener | None = None,
        *,
        persist_interval: float = 0.5,
    ) -> None:
        self.queue = queue
        self.execute = execute
        self.listener = listener
        self.persist_interval = persist_interval
        self._cancel_requested: set[int] = set()
        self._resume = threading.Event()  # set while no job is paused
        self._resume.set()
        self._pause_requested: set[int] = set()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.current_job: int | None = None
        self.last_error: BaseException | None = None
        self._finalizers: dict[int, Finalizer] = {}  # jobs submitted here with a finalize step

    # -- control -----------------------------------------------------------------------
    def start(self) -> None:
        if self._thread and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="studio-accelerator-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = 10.0) -> None:
        """Stop the worker: the running job is cancelled and the thread joined."""
        self._stop.set()
        if self.current_job is not None:
            self._cancel_requested.add(self.current_job)
        self._resume.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout)
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def submit(self, request: Request, finalize: Finalizer | None = None) -> Job:
        """Queue ``request``; ``finalize`` (as :meth:`run_claimed`'s) runs on its result on the worker
        before the job is recorded done: the window keeps an interpolation's frames with it."""
        job = self.queue.submit(request)
        if finalize is not None:
            self._finalizers[job.id] = finalize
        self._notify(job)
        self._wake.set()
        return job

    def cancel(self, job_id: int) -> None:
        """Cancel a queued job at once, or ask the running one to stop at its next step.

        The in-memory request comes first: the database write for a queued job takes milliseconds
        (a commit), in which a running job would otherwise make more steps."""
        self._cancel_requested.add(job_id)
        if job_id == self.current_job:
            self._resume.set()  # a paused job wakes up to stop
        if self.queue.cancel_queued(job_id):
            self._cancel_requested.discard(job_id)
            self._finalizers.pop(job_id, None)
            self._notify(self.queue.get(job_id))
        elif job_id != self.current_job:
            self._cancel_requested.discard(job_id)
            self.queue.request_control(job_id, "cancel")  # another process runs it

    def pause(self, job_id: int) -> None:
        """Hold a running job at its next step (its memory stays; :meth:`resume` continues it)."""
        if job_id == self.current_job:
            self._pause_requested.add(job_id)
            self._resume.clear()
        elif not self.queue.request_control(job_id, "pause"):
            raise BadInput(f"Job {job_id} is not running, so it cannot be paused.")

    def resume(self, job_id: int) -> None:
        """Continue a paused job."""
        if job_id == self.current_job:
            self._pause_requested.discard(job_id)
            self._resume.set()
        elif not self.queue.request_control(job_id, "resume"):
            raise BadInput(f"Job {job_id} is not paused.")

    def requeue(self, job_id: int) -> Job:
        job = self.queue.requeue(job_id)
        self._notify(job)
        self._wake.set()
        return job

    # -- work --------------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stop.is_set():
            job = self.queue.claim_next()
            if job is None:
                self._wake.wait(0.5)
                self._wake.clear()
                continue
            self.run_claimed(job, self._finalizers.pop(job.id, None))

    def run_claimed(self, job: Job, finalize: Finalizer | None = None) -> Job:
        """Run a job already marked running by this process; returns its final state. ``finalize``
        (the CLI's ``--out`` copy) runs on the result before the job is recorded done; what it raises
        fails the job."""
        self.current_job = job.id
        self._notify(job)
        cancelled = lambda: job.id in self._cancel_requested  # noqa: E731
        last_persist = 0.0

        def report(step: int, total: int, preview: Any = None, message: str | None = None, *,
                   text: str | None = None, metrics: dict[str, float] | None = None,
                   notice: str | None = None) -> None:
            nonlocal last_persist
            if step >= 1:
                kill_point("job-step")
            now = time.monotonic()
            if now - last_persist >= self.persist_interval or step >= total:
                self._obey(job.id, self.queue.set_progress(job.id, step, total, message or ""))
                last_persist = now
            if self.listener is not None:
                self._emit(job.id, Progress(step, total, message or ""))
                if preview is not None:
                    self._emit(job.id, Preview(step, total, preview))
                if text:
                    self._emit(job.id, TextChunk(text, step))
                if metrics:
                    self._emit(job.id, Metric(step, total, dict(metrics)))
                if notice:
                    self._emit(job.id, LogLine(notice))
            if job.id in self._pause_requested:
                self._hold(job.id)
            if cancelled():
                raise JobCancelled()

        try:
            kill_point("job-claimed")
            if not job.readable:
                final = self.queue.fail_unreadable(job)
                self.last_error = BadInput(final.error)
                self._notify(final)
                return final
            if cancelled():
                raise JobCancelled()
            result = self.execute(job.request, report, cancelled)
            kill_point("job-executed")
            if finalize is not None and not cancelled():
                result = finalize(result)
        except JobCancelled:
            final = self.queue.finish(job.id, JobState.CANCELLED, error="Cancelled by the user.")
        except BaseException as exc:  # a failing job must never take the worker (or the process) down
            if isinstance(exc, KeyboardInterrupt) and threading.current_thread() is threading.main_thread():
                # Ctrl+C in a terminal running the job in-process (signals reach only the main thread;
                # on a worker thread it can only be a plugin's): the job is cancelled, the command ends
                self.queue.finish(job.id, JobState.CANCELLED, error="Interrupted (Ctrl+C).")
                raise
            detail = traceback.format_exc()
            message = describe_failure(exc)
            self.last_error = exc if isinstance(exc, Exception) else PluginError(message)
            log.error("Job %s failed: %s\n%s", job.id, message, detail)
            final = self.queue.finish(
                job.id, JobState.FAILED, error=f"{message}", traceback=detail
            )
        else:
            if cancelled():
                final = self.queue.finish(job.id, JobState.CANCELLED, error="Cancelled by the user.")
            else:
                final = self.queue.finish(job.id, JobState.DONE, result=result)
        finally:
            self._cancel_requested.discard(job.id)
            self._pause_requested.discard(job.id)
            self._resume.set()
            self.current_job = None
        self._notify(final)
        return final

    def _obey(self, job_id: int, control: str) -> None:
        """Act on a control request another process left in the queue for this job."""
        if control == "cancel":
            self._cancel_requested.add(job_id)
            self._resume.set()
        elif control == "pause":
            self._pause_requested.add(job_id)
            self._resume.clear()
        elif control == "resume":
            self._pause_requested.discard(job_id)
            self._resume.set()
        if control:
            self.queue.set_state(job_id, JobState.PAUSED if job_id in self._pause_requested else JobState.RUNNING)

    def _hold(self, job_id: int) -> None:
        """Wait, paused, until the job is resumed or cancelled (here or from another process)."""
        paused = self.queue.set_state(job_id, JobState.PAUSED)
        self._notify(paused)
        if self.listener is not None:
            self._emit(job_id, LogLine(f"Job {job_id} paused."))
        while not self._resume.wait(self.persist_interval):
            if job_id in self._cancel_requested:
                break
            self._obey(job_id, self.queue.control(job_id))
        self._pause_requested.discard(job_id)
        self._notify(self.queue.set_state(job_id, JobState.RUNNING))

    def _emit(self, job_id: int, event: JobEvent) -> None:
        try:
            self.listener.job_event(job_id, event)  # type: ignore[union-attr]
        except Exception:  # a listener bug must not kill a job
            log.exception("job listener failed")

    def run_now(self, request: Request, finalize: Finalizer | None = None) -> Job:
        """Submit and run one request on the calling thread (the CLI's path)."""
        job = self.queue.submit(request)
        self._notify(job)
        return self.run_claimed(self.queue.claim(job.id), finalize)

    def _notify(self, job: Job) -> None:
        if self.listener is not None:
            try:
                self.listener.job_changed(job)
            except Exception:  # a listener bug must not kill a job
                log.exception("job listener failed")


def describe_failure(exc: BaseException) -> str:
    """One line for a failed job, also for exceptions that would otherwise end the process."""
    if isinstance(exc, SystemExit):
        return (f"The model's code tried to exit the studio (SystemExit({exc.code!r})); the job was stopped "
                "instead. Report it to the plugin's author.")
    if isinstance(exc, KeyboardInterrupt):
        return "The job was interrupted (KeyboardInterrupt raised while it ran)."
    if not isinstance(exc, Exception):
        return f"The model's code raised {type(exc).__name__}: {exc}; the job was stopped."
    return describe(exc)


def log_hint() -> str:
    return f"Details are in the log: {log_file()}"
