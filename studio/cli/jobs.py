"""Running one job from the command line: progress on stderr, failures as the right exit code."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from studio.core.errors import BadInput, StudioError
from studio.core.events import JobEvent, LogLine, Progress, TextChunk
from studio.core.requests import Request
from studio.jobs import Job, JobState


class _StderrProgress:
    """Shows progress on stderr when it is a terminal; streams text chunks to stdout if asked;
    notices (log lines) always go to stderr."""

    def __init__(self, stream_text: bool = False) -> None:
        self.stream_text = stream_text
        self.tty = sys.stderr.isatty()

    def job_changed(self, job: Job) -> None:
        pass

    def job_event(self, job_id: int, event: JobEvent) -> None:
        if isinstance(event, TextChunk):
            if self.stream_text:
                sys.stdout.write(event.text)
                sys.stdout.flush()
        elif isinstance(event, LogLine):
            sys.stderr.write(f"\r{event.text}\n" if self.tty else f"{event.text}\n")
            sys.stderr.flush()
        elif isinstance(event, Progress) and self.tty and event.total and not self.stream_text:
            sys.stderr.write(f"\r{event.step}/{event.total} {event.message[:60]:<60}")
            sys.stderr.flush()


def run_request(request: Request, *, stream_text: bool = False) -> Job:
    """Run ``request`` through the studio's job runner on this thread; raise on failure."""
    from studio.session import StudioSession

    session = StudioSession(listener=_StderrProgress(stream_text))
    try:
        job = session.runner.run_now(request)
    finally:
        session.close()
        if sys.stderr.isatty():
            sys.stderr.write("\r" + " " * 72 + "\r")
    if job.state is JobState.DONE:
        return job
    error = session.runner.last_error
    if isinstance(error, StudioError):
        raise error
    if job.state is JobState.CANCELLED:
        raise StudioError("The job was cancelled.")
    raise StudioError(job.error or "The job failed.", "See the log for details.")


def check_output_path(out: str) -> Path:
    """Refuse an output path whose folder is missing or read-only before any work starts."""
    path = Path(out).expanduser()
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise BadInput(f"The output folder '{folder}' does not exist.")
    if not os.access(folder, os.W_OK):
        raise BadInput(f"The output folder '{folder}' is read-only.", "Choose a folder you can write to.")
    if path.is_dir():
        raise BadInput(f"'{path}' is a folder; give a file name.")
    return path


def copy_outputs(job: Job, out: Path) -> list[Path]:
    """Copy a job's image artifacts to ``out`` (``name-1.png``… for a batch)."""
    written = []
    artifacts = [a for a in (job.result.artifacts if job.result else ()) if a.kind == "image"]
    for i, artifact in enumerate(artifacts):
        target = out if i == 0 else out.with_name(f"{out.stem}-{i}{out.suffix}")
        tmp = target.with_name(f".{target.name}.tmp")
        shutil.copyfile(artifact.path, tmp)
        os.replace(tmp, target)
        written.append(target)
    return written
