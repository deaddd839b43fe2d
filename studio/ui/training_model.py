"""The training monitor's view-model: one run followed live (job events) and read back (run folder).

It holds a :class:`~studio.ui.training_runs.RunData` for the attached run and, optionally, a second
one to compare with. A run this process trains is followed through a :class:`JobWatch` (metrics,
progress, sample pictures, notices); a run another process trains (``studio train lora`` in a
terminal) by following its ``metrics.jsonl``. Curves are announced at most a few times a second
(``curves_changed``), so plotting never competes with a training step for the GUI thread.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QImage

from studio.core.events import Metric
from studio.jobs.queue import Job, JobState
from studio.ui.bridge import JobBridge, JobWatch
from studio.ui.tasks import run_in_background
from studio.ui.training_runs import MetricsTail, RunData, RunInfo, run_folders, run_info, samples_of

log = logging.getLogger("studio.ui")

CURVE_INTERVAL_MS = 250  # at most four plot updates a second
TAIL_INTERVAL_MS = 1000  # how often a run another process trains is read
LIVE = (JobState.QUEUED, JobState.RUNNING, JobState.PAUSED)
RESUMABLE = (JobState.FAILED, JobState.CANCELLED, JobState.INTERRUPTED)


def is_training(job: Job | None) -> bool:
    return job is not None and job.request.kind == "train"


def lora_output(job: Job | None) -> str:
    """The LoRA file a finished training job wrote ("" when none)."""
    if job is None or job.state is not JobState.DONE:
        return ""
    data = job.result.data if job.result is not None else {}
    path = str(data.get("lora") or getattr(job.request, "options", {}).get("out") or "")
    return path if path and Path(path).is_file() else ""


class TrainingViewModel(QObject):
    """State of the Training monitor dock.

    ``jobs_for_run(run_dir)`` answers the queue's jobs for a run folder (oldest first);
    ``runs_root()`` the folder whose sub-folders are runs.
    """

    run_changed = Signal()  # another run attached (or its file read back): redraw everything
    curves_changed = Signal()  # new points (throttled)
    stats_changed = Signal()  # step, ETA, it/s, memory, state
    sample_changed = Signal()  # a new sample, or another one chosen
    log_added = Signal(str)
    job_changed = Signal()  # the attached job's state (which buttons apply)
    runs_changed = Signal()  # the run list
    compare_changed = Signal()

    def __init__(
        self,
        bridge: JobBridge,
        runs_root: Callable[[], Path],
        jobs_for_run: Callable[[str], list[Job]],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.runs_root = runs_root
        self.jobs_for_run = jobs_for_run
        self.data = RunData()
        self.compare: RunData | None = None
        self.job: Job | None = None
        self.runs: list[RunInfo] = []
        self.sample_index = -1  # into data.samples; -1: the newest
        self.live_sample: tuple[int, QImage] | None = None  # the last preview event (step, picture)
        self.loading = False
        self._watch: JobWatch | None = None
        self._tail: MetricsTail | None = None
        self._pending: list[tuple[int, int, dict[str, Any]]] = []  # live metrics while the file loads
        self._generation = 0  # which open_run a background read belongs to
        self._dirty = False
        self._curve_timer = QTimer(self, interval=CURVE_INTERVAL_MS, singleShot=True)
        self._curve_timer.timeout.connect(self._flush_curves)
        self._tail_timer = QTimer(self, interval=TAIL_INTERVAL_MS)
        self._tail_timer.timeout.connect(self._read_tail)

    # -- which run ---------------------------------------------------------------------------
    @property
    def run_dir(self) -> str:
        return self.data.run_dir

    def job_seen(self, job: Job) -> None:
        """A job changed (this process's, through the bridge, or another's, from the queue poll):
        a training job that starts is attached, unless the attached one is still training."""
        if not is_training(job):
            return
        if self.job is not None and job.id == self.job.id:
            if self._watch is None or not self._watch.active:  # another process runs it: its state
                self._set_job(job)
            return
        if job.state is JobState.RUNNING and not (self.job is not None and self.job.state in LIVE
                                                  and self.job.id != job.id and self._following()):
            self.attach_job(job)
        elif job.state.finished or job.state is JobState.QUEUED:
            self.refresh_runs()

    def _following(self) -> bool:
        return (self._watch is not None and self._watch.active) or self._tail is not None

    def attach_job(self, job: Job) -> None:
        """Follow ``job`` (a training job) and show its run folder."""
        self.open_run(str(getattr(job.request, "run_dir", "") or ""), job)

    def open_run(self, run_dir: str, job: Job | None = None) -> None:
        """Show a run: its curves and samples read back from ``run_dir``, then, if a job for it is
        still live, its events as they come."""
        self._detach()
        self._generation += 1
        if job is None and run_dir:
            jobs = self.jobs_for_run(run_dir)
            job = jobs[-1] if jobs else None
        self.data = RunData(run_dir)
        self.sample_index = -1
        self.live_sample = None
        self.job = job
        self._pending = []
        if job is not None and job.state in LIVE:
            self._follow(job)
        self.loading = bool(run_dir)
        self.run_changed.emit()
        self.job_changed.emit()
        self.stats_changed.emit()
        self.sample_changed.emit()
        if run_dir:
            generation = self._generation
            run_in_background(lambda: RunData.read(run_dir), lambda data: self._loaded(generation, data),
                              lambda error: self._load_failed(generation, error), owner=self)
        self.refresh_runs()

    def _follow(self, job: Job) -> None:
        if job.owner_pid not in (None, os.getpid()):  # another process trains it: read its file
            self._tail = MetricsTail(self.run_dir)
            self._tail_timer.start()
            return
        watch = self._watch = self.bridge.watch(job.id)
        watch.changed.connect(self._set_job)
        watch.metric.connect(self._on_metric)
        watch.progress.connect(self._on_progress)
        watch.preview.connect(self._on_preview)
        watch.log.connect(self._on_log)
        watch.ended.connect(self._on_ended)

    def _detach(self) -> None:
        if self._watch is not None:
            self._watch.release()
            self._watch = None
        self._tail = None
        self._tail_timer.stop()

    def close(self) -> None:
        """Stop following (the window closes)."""
        self._detach()
        self._curve_timer.stop()

    def _loaded(self, generation: int, data: RunData) -> None:
        if generation != self._generation:
            return
        self.loading = False
        live_log = self.data.log
        live_samples = self.data.samples
        step, total = self.data.step, self.data.total
        self.data = data
        for line in live_log:
            if line not in data.log:
                data.log.append(line)
        last = data.steps[-1] if data.steps else -1
        for m_step, m_total, values in self._pending:
            if m_step > last:
                data.add_step(m_step, m_total, values)
        self._pending = []
        data.step, data.total = max(data.step, step), data.total or total
        for entry in live_samples:
            if entry not in data.samples:
                data.samples.append(entry)
        data.samples.sort()
        if self._tail is not None:
            self._tail.start_at(*data.read_to)  # on from where the read stopped: no line lost or read twice
        self.run_changed.emit()
        self.stats_changed.emit()
        self.sample_changed.emit()
        self.job_changed.emit()

    def _load_failed(self, generation: int, error: BaseException) -> None:
        if generation == self._generation:
            self.loading = False
            log.warning("Reading the run folder %s failed: %s", self.run_dir, error)

    # -- live events (GUI thread) ---------------------------------------------------------------
    def _set_job(self, job: Job) -> None:
        moved = self.job is None or self.job.state is not job.state
        self.job = job
        self.job_changed.emit()
        self.stats_changed.emit()
        if moved:
            self.refresh_runs()  # the run list says the new state

    def _on_metric(self, event: Metric) -> None:
        if self.loading:
            self._pending.append((event.step, event.total, dict(event.values)))
            return
        self.data.add_step(event.step, event.total, event.values)
        self._curves_later()
        self.stats_changed.emit()

    def _on_progress(self, step: int, total: int, message: str) -> None:
        if step or not self.data.step:  # a resumed run's "Loading…" (step 0) leaves its step as it is
            self.data.step = step
        self.data.total = total or self.data.total
        self.stats_changed.emit()

    def _on_preview(self, image: QImage) -> None:
        """A training sample (the engine reports it at the step it was made, after saving it)."""
        step = self.data.step
        self.live_sample = (step, image)
        path = Path(self.run_dir) / "samples" / f"step-{step:08d}.png"
        self.data.samples = [s for s in self.data.samples if s[0] != step] + [(step, path)]
        self.data.samples.sort()
        self.sample_index = -1
        self.sample_changed.emit()

    def _on_log(self, line: str) -> None:
        self.data.log.append(line)
        self.log_added.emit(line)

    def _on_ended(self, job: Job) -> None:
        self._watch = None
        self._set_job(job)
        self.data.samples = sorted(set(self.data.samples) | set(samples_of(self.run_dir)))
        self._flush_curves()
        self.sample_changed.emit()
        self.refresh_runs()

    def _read_tail(self) -> None:
        """A run another process trains: the lines its file gained, and the job's state."""
        if self._tail is None or self.loading:
            return
        events, reset = self._tail.read()
        if reset:
            self.data = RunData(self.run_dir)
        for record in events:
            if (line := self.data.add_event(record)) is not None and line:
                self.log_added.emit(line)
        if any(r.get("event") == "sample" for r in events):
            self.data.samples = samples_of(self.run_dir)
            self.sample_index = -1
            self.sample_changed.emit()
        if events or reset:
            self._curves_later() if not reset else self.run_changed.emit()
            self.stats_changed.emit()
        if self.job is not None:
            jobs = [j for j in self.jobs_for_run(self.run_dir) if j.id == self.job.id]
            if jobs and jobs[-1] != self.job:
                self._set_job(jobs[-1])
            if self.job.state.finished:
                self._detach()
                self.refresh_runs()

    def _curves_later(self) -> None:
        self._dirty = True
        if not self._curve_timer.isActive():
            self._curve_timer.start()

    def _flush_curves(self) -> None:
        if self._dirty:
            self._dirty = False
            self.curves_changed.emit()

    # -- samples --------------------------------------------------------------------------------
    def current_sample(self) -> tuple[int, QImage | None, int, int]:
        """(step, picture, index, count) of the sample shown; picture None when there is none."""
        samples = self.data.samples
        if not samples:
            if self.live_sample is not None:
                return self.live_sample[0], self.live_sample[1], 0, 1
            return 0, None, -1, 0
        index = self.sample_index if 0 <= self.sample_index < len(samples) else len(samples) - 1
        step, path = samples[index]
        if self.live_sample is not None and self.live_sample[0] == step:
            return step, self.live_sample[1], index, len(samples)
        image = QImage(str(path))
        return step, (None if image.isNull() else image), index, len(samples)

    def show_sample(self, offset: int) -> None:
        """Step through the samples: -1 an earlier one, +1 a later one."""
        count = len(self.data.samples)
        if not count:
            return
        index = self.sample_index if 0 <= self.sample_index < count else count - 1
        index = max(0, min(count - 1, index + offset))
        self.sample_index = -1 if index == count - 1 else index
        self.sample_changed.emit()

    # -- comparing -------------------------------------------------------------------------------
    def compare_with(self, run_dir: str) -> None:
        """Overlay ``run_dir``'s loss curve ("" removes it)."""
        if not run_dir:
            self.compare = None
            self.compare_changed.emit()
            return
        run_in_background(lambda: RunData.read(run_dir), self._compare_loaded, owner=self)

    def _compare_loaded(self, data: RunData) -> None:
        self.compare = data
        self.compare_changed.emit()

    # -- the run list -----------------------------------------------------------------------------
    def refresh_runs(self) -> None:
        """List the run folders with their status (a live job's state first)."""
        runs = []
        followed = Path(self.run_dir) if self.job is not None and self.run_dir else None
        for folder in run_folders(self.runs_root()):
            if followed is not None and folder == followed:  # the job followed here is the newest word on it
                state = self.job.state.value  # type: ignore[union-attr]
            else:
                jobs = self.jobs_for_run(str(folder))
                state = jobs[-1].state.value if jobs else ""
            runs.append(run_info(folder, state))
        if self.run_dir and not any(r.run_dir == self.run_dir for r in runs):  # queued, no file yet
            state = self.job.state.value if self.job is not None else ""
            runs.insert(0, run_info(self.run_dir, state))
        if runs != self.runs:
            self.runs = runs
            self.runs_changed.emit()

    # -- what the buttons may do ---------------------------------------------------------------------
    @property
    def state(self) -> str:
        if self.job is not None:
            return self.job.state.value
        info = next((r for r in self.runs if r.run_dir == self.run_dir), None)
        return info.status if info is not None else ""

    def can_pause(self) -> bool:
        return self.job is not None and self.job.state is JobState.RUNNING

    def can_resume(self) -> bool:
        return self.job is not None and self.job.state is JobState.PAUSED

    def can_cancel(self) -> bool:
        return self.job is not None and self.job.state in LIVE

    def can_resume_run(self) -> bool:
        """An ended run that did not finish: its job re-queued continues from its checkpoints."""
        return self.job is not None and self.job.state in RESUMABLE

    def lora_path(self) -> str:
        return lora_output(self.job)
