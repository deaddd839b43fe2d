"""Training is a job: ``studio train`` and the session's runner run a TrainRequest through the
persisted queue, with progress, pause, resume, cancel, and a resumable run after SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from studio.cli.main import main
from studio.core.events import Metric, Progress
from studio.core.requests import TrainRequest
from studio.jobs import JobQueue, JobState
from studio.plugins.training import latest_checkpoint, read_metrics
from studio.session import StudioSession
from tests.training.train_helpers import TINY, tiny_flags, write_corpus

ROOT = Path(__file__).resolve().parents[2]


def _wait(predicate, timeout: float = 120.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_studio_train_demo_text_runs_as_a_queued_job(tmp_path, studio_home, capsys) -> None:
    corpus = write_corpus(tmp_path / "plays")
    assert main(["train", "demo-text", *tiny_flags(corpus, tmp_path / "model", 20, log_every=5)]) == 0
    printed = json.loads(capsys.readouterr().out)
    run_dir = studio_home / "runs" / "demo-text-model"  # the default run folder: RECIPE-NAME of --out
    assert printed["steps"] == 20 and printed["run_dir"] == str(run_dir)
    assert (tmp_path / "model" / "model.safetensors").is_file()

    queue = JobQueue()
    try:
        jobs = queue.jobs()
    finally:
        queue.close()
    assert len(jobs) == 1
    job = jobs[0]
    assert job.state is JobState.DONE and job.id == printed["job"]
    assert isinstance(job.request, TrainRequest)
    assert (job.request.recipe, job.request.steps, job.request.resume) == ("demo-text", 20, True)
    assert job.request.options["corpus_dir"] == str(corpus) and job.request.options["hidden"] == TINY["hidden"]
    assert (job.step, job.total) == (20, 20)
    assert str(tmp_path / "model") in [a.path for a in job.result.artifacts]
    assert [m["step"] for m in read_metrics(run_dir / "lm")] == [5, 10, 15, 20]


class _Events:
    def __init__(self) -> None:
        self.events: list = []

    def job_changed(self, job) -> None:
        pass

    def job_event(self, job_id, event) -> None:
        self.events.append(event)


def test_a_training_job_pauses_resumes_and_cancels_from_another_thread(tmp_path) -> None:
    corpus = write_corpus(tmp_path / "plays")
    run_dir = tmp_path / "run"
    request = TrainRequest(recipe="demo-text", run_dir=str(run_dir), steps=20000, batch_size=2,
                           learning_rate=2e-3, resume=True,
                           options={"corpus_dir": str(corpus), "out": str(tmp_path / "model"), "block": 16,
                                    "vocab_size": 300, "hidden": 64, "layers": 1, "log_every": 5,
                                    "checkpoint_every": 1000})
    listener = _Events()
    session = StudioSession(listener=listener)
    session.runner.persist_interval = 0.1
    session.runner.start()
    try:
        job = session.runner.submit(request)
        _wait(lambda: session.queue.get(job.id).step >= 10, what="ten steps")
        threading.Thread(target=session.runner.pause, args=(job.id,)).start()
        _wait(lambda: session.queue.get(job.id).state is JobState.PAUSED, what="paused")
        step = max(e.step for e in listener.events if isinstance(e, Progress))
        time.sleep(1.0)
        assert session.queue.get(job.id).state is JobState.PAUSED
        assert max(e.step for e in listener.events if isinstance(e, Progress)) == step  # held

        session.runner.resume(job.id)
        _wait(lambda: max(e.step for e in listener.events if isinstance(e, Progress)) >= step + 10,
              what="steps after the resume")
        assert session.queue.get(job.id).state is JobState.RUNNING
        session.runner.cancel(job.id)
        final = _wait(lambda: (j := session.queue.get(job.id)).state.finished and j, what="the end")
    finally:
        session.close()
    assert final.state is JobState.CANCELLED
    assert any(isinstance(e, Metric) and {"loss", "lr", "it_s"} <= set(e.values) for e in listener.events)
    stopped = latest_checkpoint(run_dir / "lm")
    assert stopped is not None  # the cancel saved the step it stopped at
    last = max(e.step for e in listener.events if isinstance(e, Progress))
    assert int(stopped.name.split("-")[1]) == last < 20000


def test_sigkill_leaves_the_job_interrupted_and_a_requeue_resumes_from_the_checkpoint(tmp_path, studio_home) -> None:
    corpus = write_corpus(tmp_path / "plays")
    steps = 800
    run_dir = tmp_path / "run"
    flags = tiny_flags(corpus, tmp_path / "model", steps, log_every=5, checkpoint_every=25, run_dir=run_dir)
    env = {**os.environ, "STUDIO_HOME": str(studio_home), "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "studio.cli.main", "train", "demo-text", *flags],
                            env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    queue = JobQueue()
    try:
        try:
            _wait(lambda: latest_checkpoint(run_dir / "lm") or proc.poll() is not None, what="a checkpoint")
            assert proc.poll() is None, proc.stdout.read().decode()
            # Hold it (from this process, through the queue) so that the kill falls mid-run.
            job = queue.jobs(JobState.RUNNING)[0]
            assert queue.request_control(job.id, "pause")
            _wait(lambda: queue.get(job.id).state is JobState.PAUSED or proc.poll() is not None,
                  what="the pause")
            assert proc.poll() is None, proc.stdout.read().decode()
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            proc.wait(timeout=60)
        checkpoint = int(latest_checkpoint(run_dir / "lm").name.split("-")[1])
        reached = max(m["step"] for m in read_metrics(run_dir / "lm"))
        assert 25 <= checkpoint <= reached < steps
    finally:
        queue.close()

    queue = JobQueue()  # a new process's view: the job's owner is gone
    try:
        job = queue.get(job.id)
    finally:
        queue.close()
    assert job.state is JobState.INTERRUPTED and job.request.recipe == "demo-text"

    session = StudioSession()
    try:
        session.runner.requeue(job.id)
        session.runner.start()
        final = _wait(lambda: (j := session.queue.get(job.id)).state.finished and j, timeout=300,
                      what="the resumed run")
    finally:
        session.close()
    assert final.state is JobState.DONE, final.error
    lm = run_dir / "lm"
    assert [r["step"] for r in read_metrics(lm, event="resume")] == [checkpoint]
    logged = [m["step"] for m in read_metrics(lm)]
    assert logged == list(range(5, steps + 1, 5))  # one curve: the numbering goes on after the resume
    losses = {m["step"]: m["loss"] for m in read_metrics(lm)}
    after = min(s for s in losses if s > checkpoint)
    assert losses[after] < losses[5]  # continued from the trained weights, not from scratch
    assert (tmp_path / "model" / "model.safetensors").is_file()
