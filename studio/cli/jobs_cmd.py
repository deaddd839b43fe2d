"""``studio jobs list|requeue ID|cancel ID|prune --older-than DAYS``: the job queue from a terminal.

Opening the queue marks the running jobs of dead processes ``interrupted`` (and sweeps crash debris),
so ``studio jobs list`` after a crash already shows what can be re-queued. A re-queued job runs in the
next studio window, or here with ``studio jobs run`` (every queued job, then exit).
"""

from __future__ import annotations

import argparse
import math
import time

from studio.cli.output import print_json, print_table
from studio.core.errors import BadInput


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("jobs", help="the job queue: list, re-queue, cancel, prune")
    sub = parser.add_subparsers(dest="jobs_command", required=True, parser_class=type(parser))
    listing = sub.add_parser("list", help="list jobs, oldest first")
    listing.add_argument("--state", action="append", default=[], metavar="STATE",
                         help="only jobs in this state (queued, running, paused, done, failed, cancelled, "
                              "interrupted); may repeat")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(func=list_jobs)
    requeue = sub.add_parser("requeue", help="put an interrupted, failed or cancelled job back in the queue")
    requeue.add_argument("job_id", type=_job_id, metavar="ID")
    requeue.set_defaults(func=requeue_job)
    cancel = sub.add_parser("cancel", help="cancel a queued job, or ask the process running it to stop")
    cancel.add_argument("job_id", type=_job_id, metavar="ID")
    cancel.set_defaults(func=cancel_job)
    prune = sub.add_parser("prune", help="delete finished jobs older than DAYS and shrink queue.sqlite")
    prune.add_argument("--older-than", type=_days, required=True, metavar="DAYS",
                       help="days since the job finished (0: every finished job)")
    prune.set_defaults(func=prune_jobs)
    run = sub.add_parser("run", help="run every queued job in this terminal, then exit")
    run.set_defaults(func=run_jobs)


def _job_id(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a job id is a whole number, not '{text}'") from None
    if not 1 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"a job id is a positive number, not {value}")
    return value


def _days(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"days must be a number, not '{text}'") from None
    if not math.isfinite(value) or not 0 <= value < 1e6:
        raise argparse.ArgumentTypeError(f"days must be between 0 and 1000000, not {text}")
    return value


def _open_queue():
    """The queue, opened as a start does: dead owners' jobs interrupted, crash debris swept, images a
    crash or a locked index left unindexed indexed."""
    from studio.jobs import JobQueue
    from studio.outputs import open_gallery, recover_outputs

    queue = JobQueue()
    gallery = open_gallery()
    try:
        recover_outputs(gallery)
    finally:
        gallery.close()
    return queue


def _row(job) -> dict:
    request = job.request
    what = getattr(request, "prompt", "") or getattr(request, "recipe", "") or ""
    if not job.readable:
        what = "(unreadable request)"
    return {
        "id": job.id, "state": job.state.value, "kind": request.kind, "model": request.model,
        "what": what, "created_at": job.created_at, "finished_at": job.finished_at,
        "step": job.step, "total": job.total, "error": job.error,
        "files": [a.path for a in job.result.artifacts] if job.result else [],
    }


def list_jobs(args: argparse.Namespace) -> int:
    from studio.jobs import JobState

    try:
        states = [JobState(s) for s in args.state]
    except ValueError:
        raise BadInput(f"Unknown job state in {', '.join(args.state)}.",
                       f"Choose from: {', '.join(s.value for s in JobState)}.") from None
    queue = _open_queue()
    try:
        rows = [_row(job) for job in queue.jobs(*states)]
    finally:
        queue.close()
    if args.json:
        print_json(rows)
        return 0
    table = [[str(r["id"]), r["state"], r["kind"], time.strftime("%Y-%m-%d %H:%M", time.localtime(r["created_at"])),
              _short(r["model"], 24), _short(r["error"] or r["what"], 60)] for r in rows]
    print_table(table, ["ID", "STATE", "KIND", "CREATED", "MODEL", "PROMPT / MESSAGE"])
    return 0


def _short(text: str, width: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def requeue_job(args: argparse.Namespace) -> int:
    queue = _open_queue()
    try:
        job = queue.requeue(args.job_id)
    finally:
        queue.close()
    print(f"Job {job.id} is queued again; it runs in the next studio window, or now with 'studio jobs run'.")
    return 0


def cancel_job(args: argparse.Namespace) -> int:
    queue = _open_queue()
    try:
        job = queue.cancel(args.job_id)
    finally:
        queue.close()
    if job.state.value == "cancelled":
        print(f"Job {job.id} is cancelled.")
    else:
        print(f"Job {job.id} was asked to stop; the process running it stops it at its next step.")
    return 0


def prune_jobs(args: argparse.Namespace) -> int:
    queue = _open_queue()
    try:
        deleted = queue.prune(args.older_than, vacuum=True)
    finally:
        queue.close()
    print(f"Deleted {deleted} finished job(s).")
    return 0


def run_jobs(args: argparse.Namespace) -> int:
    """Run queued jobs one after another on this thread; exit 1 when any of them failed."""
    from studio.cli.jobs import _StderrProgress
    from studio.jobs import JobState
    from studio.session import StudioSession

    session = StudioSession(listener=_StderrProgress())
    failed = 0
    try:
        while (job := session.queue.claim_next()) is not None:
            final = session.runner.run_claimed(job)
            files = [a.path for a in final.result.artifacts] if final.result else []
            print(f"Job {final.id}: {final.state.value}" + (f": {final.error}" if final.error else "")
                  + "".join(f"\n  {path}" for path in files), flush=True)
            failed += final.state is not JobState.DONE
    finally:
        session.close()
    return 1 if failed else 0
