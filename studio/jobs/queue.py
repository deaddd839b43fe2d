"""The job queue, persisted in ``STUDIO_HOME/queue.sqlite``.

States: queued → running ⇄ paused → done | failed | cancelled, and interrupted for a job whose
process died. A process that opens the queue marks as interrupted every running or paused job whose
owner process is gone, so a crash (even SIGKILL) leaves queued jobs queued and the running one
interrupted.

The ``control`` column carries what a user asked of a running job from any process ("pause",
"resume", "cancel"); the process that runs the job reads it between steps (see the runner), so a
window can pause or cancel a job that ``studio train`` runs in a terminal.
"""

from __future__ import annotations

import enum
import json
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.core.errors import BadInput
from studio.core.paths import studio_home
from studio.core.requests import Request, request_from_json
from studio.core.results import JobResult
from studio.core.storage import use_wal


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
}
ACTIVE = ("running", "paused")  # states of a job some process is working on
CONTROLS = ("pause", "resume", "cancel")


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class JobQueue:
    """Thread-safe access to the queue database; every write is its own transaction."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else studio_home() / "queue.sqlite"
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, timeout=30, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        use_wal(self._db)
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        have = {row["name"] for row in self._db.execute("PRAGMA table_info(jobs)")}
        for name, decl in _ADDED_COLUMNS.items():
            if name not in have:
                self._db.execute(f"ALTER TABLE jobs ADD COLUMN {name} {decl}")
        self.recovered = self.recover()

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
        """Atomically move the oldest queued job to running, owned by this process."""
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
                    "UPDATE jobs SET state = ?, started_at = ?, owner_pid = ?, control = '', updated_at = ? "
                    "WHERE id = ?",
                    (JobState.RUNNING.value, time.time(), os.getpid(), time.time(), row["id"]),
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
                "UPDATE jobs SET state = ?, started_at = ?, owner_pid = ?, control = '', updated_at = ? "
                "WHERE id = ? AND state = ?",
                (JobState.RUNNING.value, time.time(), os.getpid(), time.time(), job_id, JobState.QUEUED.value),
            )
            if cur.rowcount != 1:
                raise BadInput(f"Job {job_id} is not queued.")
            return self.get(job_id)

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
                raise BadInput(f"Job {job_id} cannot be re-queued from its current state.")
            return self.get(job_id)

    def recover(self) -> list[int]:
        """Mark running or paused jobs whose owner process is gone as interrupted; returns their ids."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, owner_pid FROM jobs WHERE state IN (?, ?)", ACTIVE
            ).fetchall()
            dead = [r["id"] for r in rows if r["owner_pid"] is None or not _pid_alive(r["owner_pid"])]
            for job_id in dead:
                self._db.execute(
                    "UPDATE jobs SET state = ?, finished_at = ?, updated_at = ?, control = '', "
                    "error = ? WHERE id = ?",
                    (
                        JobState.INTERRUPTED.value,
                        now := time.time(),
                        now,
                        "The studio stopped while this job was running. Re-queue it to run it again.",
                        job_id,
                    ),
                )
            return dead

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


def _job_from_row(row: sqlite3.Row) -> Job:
    data: dict[str, Any] = dict(row)
    result = JobResult.from_dict(json.loads(data["result"])) if data["result"] else None
    return Job(
        id=data["id"],
        request=request_from_json(data["request"]),
        state=JobState(data["state"]),
        created_at=data["created_at"],
        started_at=data["started_at"],
        finished_at=data["finished_at"],
        step=data["step"],
        total=data["total"],
        message=data["message"],
        error=data["error"],
        traceback=data["traceback"],
        result=result,
        owner_pid=data["owner_pid"],
    )
