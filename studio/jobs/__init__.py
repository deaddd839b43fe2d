"""Jobs: a persisted queue (SQLite) and a plain-Python runner with one accelerator worker."""

from studio.jobs.queue import Job, JobQueue, JobState
from studio.jobs.runner import JobListener, JobRunner

__all__ = ["Job", "JobListener", "JobQueue", "JobRunner", "JobState"]
