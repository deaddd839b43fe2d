"""``studio batch`` under ``accelerate launch --num_processes 2`` on this CPU: each process renders its share,
every file byte for byte what one process writes; killed and launched again, it skips finished files."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from studio.cli.main import main
from studio.jobs import JobQueue, JobState
from studio.outputs import open_gallery, recover_outputs

FLAGS = ["--model", "demo", "--steps", "2"]
NAMES = [f"p{p:03d}-s{s:04d}.png" for p in (1, 2) for s in (7, 8)]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _launch(prompts: Path, out: Path, home: Path) -> subprocess.Popen:
    """``accelerate launch`` with two processes. ``--cpu`` would start one process only (accelerate runs
    several CPU processes through mpirun): ``--multi_gpu`` is its torchrun launcher, and the batch picks
    gloo between CPU processes where there is no CUDA."""
    accelerate = Path(sys.executable).with_name("accelerate")
    command = [str(accelerate), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
               "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(_free_port()),
               "-m", "studio", "batch", str(prompts), "--seeds", "7-8", "--out", str(out), *FLAGS]
    env = {**os.environ, "STUDIO_HOME": str(home), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def _kill_workers(launcher: subprocess.Popen, queue_home: Path) -> None:
    """SIGKILL both ranks (torchrun starts each in a session of its own: the queue names their pids),
    then the launcher."""
    queue = JobQueue(queue_home / "queue.sqlite")
    try:
        for job in queue.jobs(JobState.RUNNING):
            if job.owner_pid:
                os.kill(job.owner_pid, signal.SIGKILL)
    finally:
        queue.close()
    os.killpg(launcher.pid, signal.SIGKILL)
    launcher.wait(30)


def test_two_processes_split_the_batch_write_what_one_process_writes_and_resume_after_a_kill(
        tmp_path, studio_home, monkeypatch):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("red circle\nblue square on the left\n")
    single = tmp_path / "single"
    assert main(["batch", str(prompts), "--seeds", "7-8", "--out", str(single), *FLAGS]) == 0
    assert sorted(p.name for p in single.iterdir()) == NAMES

    home = tmp_path / "home-2"  # the two ranks share one STUDIO_HOME (queue and gallery)
    out = tmp_path / "two"
    launcher = _launch(prompts, out, home)
    try:
        deadline = time.monotonic() + 120
        while not list(out.glob("p*.png")) and launcher.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert launcher.poll() is None, launcher.communicate()
        _kill_workers(launcher, home)
    finally:
        if launcher.poll() is None:
            os.killpg(launcher.pid, signal.SIGKILL)
    finished = {path.name: path.stat().st_ino for path in out.glob("p*.png")}
    assert 1 <= len(finished) < len(NAMES)

    again = _launch(prompts, out, home)
    stdout, stderr = again.communicate(timeout=240)
    assert again.returncode == 0, stderr
    assert sorted(stdout.split()) == sorted(str(out / name) for name in NAMES if name not in finished)
    assert sorted(p.name for p in out.iterdir()) == NAMES  # no temp file of the killed run is left
    for name in NAMES:
        assert (out / name).read_bytes() == (single / name).read_bytes(), name
    assert {name: (out / name).stat().st_ino for name in finished} == finished  # skipped, not rewritten

    queue = JobQueue(home / "queue.sqlite")
    try:
        jobs = queue.jobs()
    finally:
        queue.close()
    assert [job.state for job in jobs[:2]] == [JobState.INTERRUPTED] * 2  # the killed ranks' jobs
    done = [job.result.data for job in jobs[2:]]
    assert [job.state for job in jobs[2:]] == [JobState.DONE] * 2
    assert sorted(d["process"] for d in done) == [0, 1] and {d["processes"] for d in done} == {2}
    assert sum(d["pictures"] for d in done) == len(NAMES)
    assert sum(d["written"] for d in done) == len(NAMES) - len(finished)
    # Both ranks index their pictures in the one gallery: at once (WAL), or, when the other rank holds the
    # index, through a note that a retry or the next start indexes (as a start does here).
    pictures = {a.path for job in jobs[2:] for a in job.result.artifacts if a.kind == "image"}
    assert len(pictures) == len(NAMES) - len(finished)
    monkeypatch.setenv("STUDIO_HOME", str(home))
    gallery = open_gallery(home / "gallery")
    try:
        recover_outputs(gallery)
        indexed = {str(item.path) for item in gallery.search()}
    finally:
        gallery.close()
    assert pictures <= indexed
