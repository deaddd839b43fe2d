"""The job queue, persisted in ``STUDIO_HOME/queue.sqlite``.

States: queued → running → done | failed | cancelled, and interrupted for a job whose process died.
A process that opens the queue marks as interrupted every running job whose owner process is gone,
so a crash (even SIGKILL) leaves queued jobs queued and the running one interrupted.
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


class JobState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
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
    owner_pid INTEGER
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state);
"""


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
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self.recovered = self.recover()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- writes ------------------------------------------------------------------------
    def submit(self, request: Request) -> Job:
        """Validate and enqueue a request; raises :class:`BadInput` for impossible values."""
        request.validate()
        with self._lock:
            cur = self._db.execute(
                "INSERT INTO jobs (request, state, created_at) VALUES (?, ?, ?)",
                (request.to_json(), JobState.QUEUED.value, time.time()),
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
                    "UPDATE jobs SET state = ?, started_at = ?, owner_pid = ? WHERE id = ?",
                    (JobState.RUNNING.value, time.time(), os.getpid(), row["id"]),
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
                "UPDATE jobs SET state = ?, started_at = ?, owner_pid = ? WHERE id = ? AND state = ?",
                (JobState.RUNNING.value, time.time(), os.getpid(), job_id, JobState.QUEUED.value),
            )
            if cur.rowcount != 1:
                raise BadInput(f"Job {job_id} is not queued.")
            return self.get(job_id)

    def set_progress(self, job_id: int, step: int, total: int, message: str = "") -> None:
        with self._lock:
            self._db.execute(
                "UPDATE jobs SET step = ?, total = ?, message = ? WHERE id = ?",
                (step, total, message, job_id),
            )

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
                "UPDATE jobs SET state = ?, finished_at = ?, result = ?, error = ?, traceback = ? "
                "WHERE id = ?",
                (
                    state.value,
                    time.time(),
                    json.dumps(result.to_dict()) if result else None,
                    error,
                    traceback,
                    job_id,
                ),
            )
            return self.get(job_id)

    def cancel_queued(self, job_id: int) -> bool:
        """Cancel a job that has not started; returns False if it is no longer queued."""
        with self._lock:
            cur = self._db.execute(
                "UPDATE jobs SET state = ?, finished_at = ? WHERE id = ? AND state = ?",
                (JobState.CANCELLED.value, time.time(), job_id, JobState.QUEUED.value),
            )
            return cur.rowcount == 1

    def requeue(self, job_id: int) -> Job:
        """Put an interrupted, failed or cancelled job back in the queue."""
        with self._lock:
            cur = self._db.execute(
                "UPDATE jobs SET state = ?, step = 0, total = 0, message = '', error = '', "
                "traceback = '', started_at = NULL, finished_at = NULL, owner_pid = NULL "
                "WHERE id = ? AND state IN (?, ?, ?)",
                (
                    JobState.QUEUED.value,
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
        """Mark running jobs whose owner process is gone as interrupted; returns their ids."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, owner_pid FROM jobs WHERE state = ?", (JobState.RUNNING.value,)
            ).fetchall()
            dead = [r["id"] for r in rows if r["owner_pid"] is None or not _pid_alive(r["owner_pid"])]
            for job_id in dead:
                self._db.execute(
                    "UPDATE jobs SET state = ?, finished_at = ?, error = ? WHERE id = ?",
                    (
                        JobState.INTERRUPTED.value,
                        time.time(),
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
