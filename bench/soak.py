"""Soak: many demo generations in one process through the queue, watching for leaks.

Each generation is a job of one :class:`StudioSession` (the persisted queue, the worker thread, the
plugin, the PNG with metadata, the gallery), submitted when the previous one is done. After every
``--every`` jobs it records the process's resident memory (``VmRSS``), its threads (``/proc/self/task``)
and open file descriptors (``/proc/self/fd``). Goal (issue 14): RSS growth ≤ 5 % from job 50 to the
last, threads and file descriptors constant over the same span.

    OMP_NUM_THREADS=1 .venv/bin/python bench/soak.py [--jobs 500] [--every 50] [--baseline 50] [--steps 8]
        [--threads 1] [--json FILE]

STUDIO_HOME is a fresh temporary folder (removed at the end) unless ``--home`` is given.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROMPTS = (
    "a large red circle on the left on a white background",
    "a small blue square on the right on a white background",
    "a large green triangle in the middle on a black background",
)


def rss_mb() -> float:
    """The process's resident set size in MiB, from ``/proc/self/status``."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("VmRSS not found in /proc/self/status")


def thread_count() -> int:
    return len(os.listdir("/proc/self/task"))


def fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


class DoneSignal:
    """A job listener that wakes the bench when a job reaches a final state."""

    def __init__(self) -> None:
        self.finished: dict[int, str] = {}
        self._cond = threading.Condition()

    def job_changed(self, job) -> None:
        if job.state.finished:
            with self._cond:
                self.finished[job.id] = str(job.state)
                self._cond.notify_all()

    def job_event(self, job_id: int, event) -> None:
        pass

    def wait(self, job_id: int, timeout: float = 600.0) -> str:
        with self._cond:
            if not self._cond.wait_for(lambda: job_id in self.finished, timeout):
                raise TimeoutError(f"job {job_id} did not finish in {timeout} s")
            return self.finished.pop(job_id)


def soak(jobs: int, every: int, baseline: int, steps: int) -> dict[str, object]:
    from studio.core.requests import GenerationRequest
    from studio.session import StudioSession

    listener = DoneSignal()
    session = StudioSession(listener=listener)
    session.runner.start()
    samples: list[dict[str, float]] = [
        {"job": 0, "rss_mb": round(rss_mb(), 1), "threads": thread_count(), "fds": fd_count(), "s": 0.0}
    ]
    failed: list[str] = []
    start = time.perf_counter()
    try:
        for n in range(1, jobs + 1):
            request = GenerationRequest(model="demo", prompt=PROMPTS[n % len(PROMPTS)], steps=steps,
                                        width=64, height=64, seed=n, device="cpu")
            job = session.runner.submit(request)
            state = listener.wait(job.id)
            if state != "done":
                failed.append(f"job {n}: {state} {session.queue.get(job.id).error}")
            if n % every == 0 or n in (baseline, jobs):
                sample = {"job": n, "rss_mb": round(rss_mb(), 1), "threads": thread_count(), "fds": fd_count(),
                          "s": round(time.perf_counter() - start, 1)}
                samples.append(sample)
                print(json.dumps(sample), flush=True)
    finally:
        session.close()
    base = next(s for s in samples if s["job"] == baseline)
    last = samples[-1]
    growth = (last["rss_mb"] - base["rss_mb"]) / base["rss_mb"] * 100
    return {
        "jobs": jobs,
        "steps": steps,
        "failed": failed,
        "seconds": round(time.perf_counter() - start, 1),
        "rss_growth_pct": round(growth, 2),
        "rss_mb": {"baseline_job": baseline, "at_baseline": base["rss_mb"], "at_end": last["rss_mb"],
                   "peak_sampled": max(s["rss_mb"] for s in samples)},
        "threads_constant": len({s["threads"] for s in samples if s["job"] >= baseline}) == 1,
        "fds_constant": len({s["fds"] for s in samples if s["job"] >= baseline}) == 1,
        "goal_met": (not failed and growth <= 5.0
                     and len({(s["threads"], s["fds"]) for s in samples if s["job"] >= baseline}) == 1),
        "samples": samples,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--every", type=int, default=50, help="sample every N jobs")
    parser.add_argument("--baseline", type=int, default=50, help="the job growth is measured from")
    parser.add_argument("--steps", type=int, default=8, help="denoising steps per generation")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--home", help="STUDIO_HOME to use (default: a fresh temporary folder)")
    parser.add_argument("--json", help="also write the result to this file")
    args = parser.parse_args()
    if args.baseline > args.jobs:
        parser.error("--baseline must not exceed --jobs")

    home = Path(args.home) if args.home else Path(tempfile.mkdtemp(prefix="studio-soak-"))
    os.environ["STUDIO_HOME"] = str(home)
    import torch

    torch.set_num_threads(args.threads)
    sys.path.insert(0, str(ROOT))
    try:
        result = soak(args.jobs, args.every, args.baseline, args.steps)
    finally:
        if not args.home:
            shutil.rmtree(home, ignore_errors=True)
    result["threads_torch"] = args.threads
    text = json.dumps(result, indent=1)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")
    return 0 if result["goal_met"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
