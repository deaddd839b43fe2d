"""The job queue, persisted in ``STUDIO_HOME/queue.sqlite``.

States: queued → running ⇄ paused → done | failed | cancelled, and interrupted for a job whose
process died. A process that opens the queue marks as interrupted every running or paused job whose
owner process is gone (its pid is dead, or now belongs to a process that started later than the
owner did), so a crash (even SIGKILL) leaves queued jobs queued and the running one interrupted.
A row whose request this studio cannot read (a newer schema, a damaged row) never stops the queue:
:meth:`JobQueue.claim_next` marks it failed with a clear message and goes on, and reading it gives a
:class:`UnreadableRequest`. Finished rows older than :data:`AUTO_PRUNE_DAYS` are pruned on open.

The ``control`` column carries what a user asked of a running job from any process ("pause",
"resume", "cancel"); the process that runs the job reads it between steps (see the runner), so a
window can pause or cancel a job that ``studio train`` runs in a terminal.
"""

from __future__ import annotations

import enum
import json
import logging
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from studio.core.errors import BadInput, describe
from studio.core.paths import studio_home
from studio.core.requests import Request, request_from_json
from studio.core.results import JobResult
from studio.core.storage import use_wal

log = logging.getLogger("studio.jobs")


class JobState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"

    @property
    def finished(self) -> bool:
        return self in (JobState.DONE, JobState.FAILED, JobState.CANCELLED, JobState.INTERRUPTED)


@dataclass(frozen=True)
class UnreadableRequest(Request):
    """Stands for a stored request this studio cannot read; its job fails instead of running."""

    kind: ClassVar[str] = "unreadable"
    raw: str = ""
    reason: str = ""

    def validate(self) -> None:
        raise BadInput(f"This job's request cannot be read ({self.reason}).")


@dataclass(frozen=True)
class Job:
    """A snapshot of one job's row."""

    id: int
    request: Request
    state: JobState
    created_at: float
    started_at: float | None = None
    finished_at: float | None = None
    step: int = 0
    total: int = 0
    message: str = ""
    error: str = ""
    traceback: str = ""
    result: JobResult | None = None
    owner_pid: int | None = None

    @property
    def readable(self) -> bool:
        return not isinstance(self.request, UnreadableRequest)


_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    request TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    step INTEGER NOT NULL DEFAULT 0,
    total INTEGER NOT NULL DEFAULT 0,
    message TEXT NOT NULL DEFAULT '',
    error TEXT NOT NULL DEFAULT '',
    traceback TEXT NOT NULL DEFAULT '',
    result TEXT,
    owner_pid INTEGER,
    control TEXT NOT NULL DEFAULT '',
    updated_at REAL NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state);
"""
_ADDED_COLUMNS = {  # columns newer than the first queue.sqlite: added to an older file when opened
    "control": "TEXT NOT NULL DEFAULT ''",
    "updated_at": "REAL NOT NULL DEFAULT 0",
    "owner_start": "INTEGER",  # the owner process's start time (clock ticks since boot; Linux)
}
ACTIVE = ("running", "paused")  # states of a job some process is working on
FINISHED = ("done", "failed", "cancelled", "interrupted")
CONTROLS = ("pause", "resume", "cancel")
AUTO_PRUNE_DAYS = 90.0  # finished jobs older than this are removed when a queue is opened
INTERRUPTED_MESSAGE = "The studio stopped while this job was running. Re-queue it to run it again."


def process_start(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks since boot), where the system says (Linux)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read().decode("ascii", "replace")
        return int(stat.rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


_OWN_START = process_start(os.getpid())


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError, ValueError):
        return False
    except PermissionError:
        return True
    return True


def owner_alive(pid: int | None, started: int | None) -> bool:
    """Whether the process that claimed a job still runs: its pid is alive and, where start times
    are known, it is the same process (not a new one that was given the same pid)."""
    if pid is None:
        return False
    if pid == os.getpid():  # this process, or an earlier one given the same pid (a container's pid 1)
        return started is None or _OWN_START is None or started == _OWN_START
    if not _pid_alive(pid):
        return False
    if started is None:
        return True
    now = process_start(pid)
    return now is None or now == started


OPEN_ATTEMPTS = 20  # about 20 s of retries when another process holds the new queue's lock


class JobQueue:
    """Thread-safe access to the queue database; every write is its own transaction."""

    def __init__(self, path: str | Path | None = None, *, auto_prune: bool = True) -> None:
        self.path = Path(path) if path else studio_home() / "queue.sqlite"
        self._lock = threading.RLock()
        try:
            self._db = sqlite3.connect(self.path, timeout=30, check_same_thread=False, isolation_level=None)
        except sqlite3.Error as exc:
            raise BadInput(f"The job queue '{self.path}' cannot be opened ({exc}).",
                           "Check that its folder exists and is writable.") from None
        for attempt in range(OPEN_ATTEMPTS):
            try:
                self._open()
                self.recovered = self.recover()
                self.pruned = self.prune(AUTO_PRUNE_DAYS) if auto_prune else 0
                break
            except sqlite3.OperationalError as exc:
                # Two processes opening a new queue at once (two batch ranks, a window and a CLI):
                # creating the schema or recovering can meet the other's write lock in ways SQLite's
                # busy timeout does not wait for (a read turning into a write in WAL mode). Retry.
                if ("locked" in str(exc) or "busy" in str(exc)) and attempt + 1 < OPEN_ATTEMPTS:
                    time.sleep(0.1 + 0.1 * attempt)
                    continue
                self._db.close()
                raise _queue_error(self.path, exc) from None
            except sqlite3.Error as exc:
                self._db.close()
                raise _queue_error(self.path, exc) from None

    def _open(self) -> None:
        self._db.row_factory = sqlite3.Row
        use_wal(self._db)
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        have = {row["name"] for row in self._db.execute("PRAGMA table_info(jobs)")}
        for name, decl in _ADDED_COLUMNS.items():
            if name not in have:
                try:
                    self._db.execute(f"ALTER TABLE jobs ADD COLUMN {name} {decl}")
                except sqlite3.OperationalError as exc:
                    if "duplicate column" not in str(exc):  # another process opening it added it first
                        raise

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- writes ------------------------------------------------------------------------
    def submit(self, request: Request) -> Job:
        """Validate, resolve (:meth:`Request.resolved`: the seed is drawn here, once) and enqueue a
        request; raises :class:`BadInput` for impossible values."""
        request.validate()
        request = request.resolved()
        now = time.time()
        with self._lock:
            cur = self._db.execute(
                "INSERT INTO jobs (request, state, created_at, updated_at) VALUES (?, ?, ?, ?)",
                (request.to_json(), JobState.QUEUED.value, now, now),
            )
            return self.get(cur.lastrowid)

    def claim_next(self) -> Job | None:
        """Atomically move the oldest queued job to running, owned by this process. A job whose
        request cannot be read is marked failed (with the reason) and the next one is taken."""
        while True:
            job = self._claim_oldest()
            if job is None or job.readable:
                return job
            self.fail_unreadable(job)

    def fail_unreadable(self, job: Job) -> Job:
        """Finish a claimed job whose request cannot be read as failed, saying why."""
        reason = job.request.reason if isinstance(job.request, UnreadableRequest) else "unknown"
        return self.finish(
            job.id, JobState.FAILED,
            error=f"Job {job.id} cannot be run: its request cannot be read ({reason}). It may come from a "
                  "newer studio or be damaged; remove it with 'studio jobs prune' or update the studio.",
        )

    def _claim_oldest(self) -> Job | None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute(
                    "SELECT id FROM jobs WHERE state = ? ORDER BY id LIMIT 1", (JobState.QUEUED.value,)
                ).fetchone()
                if row is None:
                    self._db.execute("COMMIT")
                    return None
                self._db.execute(
                    "UPDATE jobs SET state = ?, started_at = ?, owner_pid = ?, owner_start = ?, control = '', "
                    "updated_at = ? WHERE id = ?",
                    (JobState.RUNNING.value, time.time(), os.getpid(), _OWN_START, time.time(), row["id"]),
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            return self.get(row["id"])

    def claim(self, job_id: int) -> Job:
        """Move one specific queued job to running (the CLI runs its own job directly)."""
        with self._lock:
            cur = self._db.execute(
                "UPDATE jobs SET state = ?, started_at = ?, owner_pid = ?, owner_start = ?, control = '', "
                "updated_at = ? WHERE id = ? AND state = ?",
                (JobState.RUNNING.value, time.time(), os.getpid(), _OWN_START, time.time(), job_id,
                 JobState.QUEUED.value),
            )
            if cur.rowcount != 1:
                raise BadInput(f"Job {job_id} is not queued.")
            job = self.get(job_id)
        if not job.readable:
            self.fail_unreadable(job)
            raise BadInput(f"Job {job_id}'s request cannot be read ({job.request.reason}).")  # type: ignore[union-attr]
        return job

    def set_progress(self, job_id: int, step: int, total: int, message: str = "") -> str:
        """Store a running job's progress; returns the job's pending ``control`` request ("" if none)."""
        with self._lock:
            self._db.execute(
                "UPDATE jobs SET step = ?, total = ?, message = ?, updated_at = ? WHERE id = ?",
                (step, total, message, time.time(), job_id),
            )
            row = self._db.execute("SELECT control FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return row["control"] if row else ""

    def set_state(self, job_id: int, state: JobState) -> Job:
        """Move an active job between running and paused (the control request is then done)."""
        with self._lock:
            self._db.execute(
                "UPDATE jobs SET state = ?, control = '', updated_at = ? WHERE id = ? AND state IN (?, ?)",
                (state.value, time.time(), job_id, *ACTIVE),
            )
            return self.get(job_id)

    def request_control(self, job_id: int, action: str) -> bool:
        """Ask the process running ``job_id`` to pause, resume or cancel it at its next step.
        Returns False when the job is not running or paused."""
        if action not in CONTROLS:
            raise BadInput(f"Unknown job control '{action}'.", f"Choose one of: {', '.join(CONTROLS)}.")
        with self._lock:
            cur = self._db.execute(
                "UPDATE jobs SET control = ?, updated_at = ? WHERE id = ? AND state IN (?, ?)",
                (action, time.time(), job_id, *ACTIVE),
            )
            return cur.rowcount == 1

    def control(self, job_id: int) -> str:
        with self._lock:
            row = self._db.execute("SELECT control FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return row["control"] if row else ""

    def changed_since(self, when: float) -> list[Job]:
        """Jobs whose row changed after ``when`` (a window shows jobs other processes run)."""
        with self._lock:
            rows = self._db.execute("SELECT * FROM jobs WHERE updated_at > ? ORDER BY id", (when,)).fetchall()
        return [_job_from_row(r) for r in rows]

    def finish(
        self,
        job_id: int,
        state: JobState,
        *,
        result: JobResult | None = None,
        error: str = "",
        traceback: str = "",
    ) -> Job:
        with self._lock:
            self._db.execute(
                "UPDATE jobs SET state = ?, finished_at = ?, result = ?, error = ?, traceback = ?, control = '', "
                "updated_at = ? WHERE id = ?",
                (
                    state.value,
                    now := time.time(),
                    json.dumps(result.to_dict()) if result else None,
                    error,
                    traceback,
                    now,
                    job_id,
                ),
            )
            return self.get(job_id)

    def cancel_queued(self, job_id: int) -> bool:
        """Cancel a job that has not started; returns False if it is no longer queued."""
        with self._lock:
            now = time.time()
            cur = self._db.execute(
                "UPDATE jobs SET state = ?, finished_at = ?, updated_at = ? WHERE id = ? AND state = ?",
                (JobState.CANCELLED.value, now, now, job_id, JobState.QUEUED.value),
            )
            return cur.rowcount == 1

    def requeue(self, job_id: int) -> Job:
        """Put an interrupted, failed or cancelled job back in the queue."""
        with self._lock:
            cur = self._db.execute(
                "UPDATE jobs SET state = ?, step = 0, total = 0, message = '', error = '', "
                "traceback = '', started_at = NULL, finished_at = NULL, owner_pid = NULL, control = '', "
                "updated_at = ? WHERE id = ? AND state IN (?, ?, ?)",
                (
                    JobState.QUEUED.value,
                    time.time(),
                    job_id,
                    JobState.INTERRUPTED.value,
                    JobState.FAILED.value,
                    JobState.CANCELLED.value,
                ),
            )
            if cur.rowcount != 1:
                state = self.get(job_id).state  # "There is no job N." when there is none
                raise BadInput(f"Job {job_id} is {state.value}; only an interrupted, failed or cancelled job "
                               "can be re-queued.")
            return self.get(job_id)

    def recover(self) -> list[int]:
        """Mark running or paused jobs whose owner process is gone as interrupted; returns their ids."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, owner_pid, owner_start FROM jobs WHERE state IN (?, ?)", ACTIVE
            ).fetchall()
            dead = [r["id"] for r in rows if not owner_alive(r["owner_pid"], r["owner_start"])]
            for job_id in dead:
                self._db.execute(
                    "UPDATE jobs SET state = ?, finished_at = ?, updated_at = ?, control = '', "
                    "error = ? WHERE id = ?",
                    (
                        JobState.INTERRUPTED.value,
                        now := time.time(),
                        now,
                        INTERRUPTED_MESSAGE,
                        job_id,
                    ),
                )
            return dead

    def prune(self, older_than_days: float, *, vacuum: bool = False) -> int:
        """Delete finished jobs that finished more than ``older_than_days`` ago; how many were deleted.
        ``vacuum`` then gives the freed space back to the file system."""
        if not isinstance(older_than_days, (int, float)) or not 0 <= older_than_days < 1e6:
            raise BadInput(f"--older-than must be a number of days between 0 and 1000000, not {older_than_days}.")
        cutoff = time.time() - older_than_days * 86400
        marks = ",".join("?" * len(FINISHED))
        with self._lock:
            cur = self._db.execute(
                f"DELETE FROM jobs WHERE state IN ({marks}) AND COALESCE(finished_at, updated_at, created_at) < ?",
                (*FINISHED, cutoff),
            )
            deleted = cur.rowcount
            if vacuum and deleted:
                try:
                    self._db.execute("VACUUM")
                except sqlite3.OperationalError as exc:  # another process reads it: space is reused later
                    log.info("queue VACUUM skipped: %s", exc)
        return deleted

    def cancel(self, job_id: int) -> Job:
        """Cancel a queued job now, or ask the process running it to stop; the job afterwards."""
        if self.cancel_queued(job_id):
            return self.get(job_id)
        job = self.get(job_id)
        if job.state.value in ACTIVE and self.request_control(job_id, "cancel"):
            return self.get(job_id)
        raise BadInput(f"Job {job_id} is {job.state.value}; only a queued, running or paused job can be cancelled.")

    # -- reads -------------------------------------------------------------------------
    def get(self, job_id: int) -> Job:
        with self._lock:
            row = self._db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise BadInput(f"There is no job {job_id}.")
        return _job_from_row(row)

    def jobs(self, *states: JobState) -> list[Job]:
        with self._lock:
            if states:
                marks = ",".join("?" * len(states))
                rows = self._db.execute(
                    f"SELECT * FROM jobs WHERE state IN ({marks}) ORDER BY id", [s.value for s in states]
                ).fetchall()
            else:
                rows = self._db.execute("SELECT * FROM jobs ORDER BY id").fetchall()
        return [_job_from_row(r) for r in rows]


def _queue_error(path: Path, exc: sqlite3.Error) -> BadInput:
    text = str(exc)
    if "locked" in text or "busy" in text:
        return BadInput(f"The job queue '{path}' is locked by another program ({text}).",
                        "Close the other studio or program using it, then try again.")
    if "readonly" in text or "read-only" in text:
        return BadInput(f"The job queue '{path}' is read-only ({text}).", "Make it and its folder writable.")
    return BadInput(f"The job queue '{path}' is damaged ({text}).",
                    f"Move it aside (e.g. mv '{path}' '{path}.damaged'); the studio then starts an empty queue.")


def _read_request(text: Any) -> Request:
    try:
        return request_from_json(text)
    except Exception as exc:  # any damage: the job fails with this reason, the queue goes on
        return UnreadableRequest(raw=str(text)[:500], reason=describe(exc))


def _read_result(text: Any) -> JobResult | None:
    if not text:
        return None
    try:
        return JobResult.from_dict(json.loads(text))
    except Exception:  # a damaged result is shown as none, never an exception for every reader
        log.warning("a job's stored result cannot be read: %.200s", text)
        return None


def _read_state(text: Any) -> JobState:
    try:
        return JobState(text)
    except ValueError:
        return JobState.FAILED


def _job_from_row(row: sqlite3.Row) -> Job:
    data: dict[str, Any] = dict(row)
    return Job(
        id=data["id"],
        request=_read_request(data["request"]),
        state=_read_state(data["state"]),
        created_at=data["created_at"],
        started_at=data["started_at"],
        finished_at=data["finished_at"],
        step=data["step"],
        total=data["total"],
        message=data["message"],
        error=data["error"],
        traceback=data["traceback"],
        result=_read_result(data["result"]),
        owner_pid=data["owner_pid"],
    )
