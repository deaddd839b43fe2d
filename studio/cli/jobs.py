"""Running one job from the command line: progress on stderr, failures as the right exit code."""

from __future__ import annotations

import errno
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import BinaryIO

from studio.core.errors import BadInput, StudioError
from studio.core.events import JobEvent, LogLine, Progress, TextChunk
from studio.core.paths import path_kind
from studio.core.requests import Request
from studio.core.results import Artifact, JobResult
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


def run_request(request: Request, *, stream_text: bool = False,
                finalize: Callable[[JobResult], JobResult] | None = None) -> Job:
    """Run ``request`` through the studio's job runner on this thread; raise on failure."""
    from studio.session import StudioSession

    session = StudioSession(listener=_StderrProgress(stream_text))
    try:
        session.check_request(request)  # bad values, files, a model asked for what it cannot do: before loading
        job = session.runner.run_now(request, finalize)
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


def check_output_path(out: str, *, overwrite: bool = False, count: int = 1) -> Path:
    """Refuse an output path before any work starts: its folder missing or read-only, a folder, a device,
    FIFO or socket in its place (never written through, never replaced), or a file that exists
    without ``overwrite``. ``count`` > 1 checks the batch's ``NAME-1.png``… too."""
    from studio.core.requests import check_text

    check_text("the output path", out, path=True)
    path = Path(out).expanduser()
    folder = path.parent if str(path.parent) else Path(".")
    kind = path_kind(folder)
    if kind == "missing":
        raise BadInput(f"The output folder '{folder}' does not exist.", "Create it first or choose another one.")
    if kind != "folder":
        raise BadInput(f"The output folder '{folder}' is a {kind}, expected a folder.")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise BadInput(f"The output folder '{folder}' is read-only.", "Choose a folder you can write to.")
    for index in range(max(1, count)):
        _check_target(_batch_name(path, index), overwrite)
    return path


def _batch_name(out: Path, index: int) -> Path:
    return out if index == 0 else out.with_name(f"{out.stem}-{index}{out.suffix}")


def _check_target(path: Path, overwrite: bool) -> None:
    kind = path_kind(path)
    if kind == "missing" and not path.is_symlink():
        return
    if kind == "missing":
        raise BadInput(f"'{path}' is a broken symbolic link.", "Remove it or choose another name.")
    if kind == "folder":
        raise BadInput(f"'{path}' is a folder, expected a file.", "Give a file name.")
    if kind != "file":
        raise BadInput(f"'{path}' is a {kind}, not a regular file: the studio writes only regular files.",
                       "Choose a file name.")
    if not overwrite:
        raise _exists(path)


def _exists(path: Path) -> BadInput:
    return BadInput(f"'{path}' already exists.", "Pass --overwrite to replace it, or choose another name.")


def write_output(target: Path, fill: Callable[[BinaryIO], None], *, overwrite: bool) -> Path:
    """Write ``target`` through a ``.studio-*.tmp`` file beside it, renamed into place
    (:func:`studio.core.storage.write_atomically`, kill points ``out-fsync``/``out-rename``). The kind of
    ``target`` is checked first, so a device, FIFO or socket is never written through or replaced; without
    ``overwrite`` the file is linked into place, which fails on anything that appeared meanwhile. A full
    disk or any write error removes the temp file and is one :class:`BadInput`."""
    from studio.core.storage import write_atomically

    _check_target(target, overwrite)
    try:
        return write_atomically(target, fill, overwrite=overwrite, label="out")
    except FileExistsError:
        raise _exists(target) from None
    except OSError as exc:
        reason = "no space left on the device" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
        raise BadInput(f"Could not write '{target}': {reason}.", "Free some space or choose another folder.") from None


def copy_outputs(job: Job, out: Path, *, overwrite: bool = False) -> list[Path]:
    """Copy a job's image artifacts to ``out`` (``name-1.png``… for a batch)."""
    return copy_images(job.result, out, overwrite=overwrite) if job.result else []


def writing_outputs(out: Path, *, overwrite: bool) -> Callable[[JobResult], JobResult]:
    """A finaliser for :func:`run_request`: the ``--out`` files are written before the job is recorded
    done (a kill before leaves the job interrupted, never ``done`` without its files) and are named
    in its result, as artifacts of kind ``out``."""

    def finalize(result: JobResult) -> JobResult:
        written = copy_images(result, out, overwrite=overwrite)
        return replace(result, artifacts=(*result.artifacts, *(Artifact(str(path), "out") for path in written)))

    return finalize


def out_paths(job: Job) -> list[Path]:
    """The ``--out`` files :func:`writing_outputs` wrote for ``job``."""
    return [Path(a.path) for a in (job.result.artifacts if job.result else ()) if a.kind == "out"]


def copy_images(result: JobResult, out: Path, *, overwrite: bool = False) -> list[Path]:
    """Copy a result's image artifacts to ``out`` (``name-1.png``… for a batch)."""
    written = []
    artifacts = [a for a in result.artifacts if a.kind == "image"]
    for i, artifact in enumerate(artifacts):
        target = _batch_name(out, i)

        def fill(handle: BinaryIO, source: str = artifact.path) -> None:
            with open(source, "rb") as src:
                shutil.copyfileobj(src, handle)

        written.append(write_output(target, fill, overwrite=overwrite))
    return written
