"""``JobRunner.submit(request, finalize)``: the finalize step sees the family's unwritten images on the
worker and what it returns is the job's stored result; a job cancelled while queued never runs it."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

from studio.core.requests import InterpolateRequest
from studio.core.results import Artifact, ImageOutput, JobResult
from studio.jobs import JobQueue, JobRunner, JobState


def _frames_executor(gate: threading.Event | None = None):
    def execute(request, report, cancelled) -> JobResult:
        if gate is not None:
            gate.wait(10)
        report(1, 1)
        return JobResult(images=tuple(ImageOutput(f"frame {i}", request) for i in range(request.frames)))

    return execute


def _wait_finished(queue: JobQueue, job_id: int):
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        job = queue.get(job_id)
        if job.state.finished:
            return job
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} did not finish")


def test_finalize_sees_the_images_and_its_result_is_stored() -> None:
    queue = JobQueue()
    runner = JobRunner(queue, _frames_executor())
    seen: list[tuple[str, str]] = []

    def keep(result: JobResult) -> JobResult:
        seen.extend((output.image, threading.current_thread().name) for output in result.images)
        return replace(result, artifacts=(Artifact("/tmp/frames", "frames"),))

    runner.start()
    try:
        request = InterpolateRequest(model="demo-vae", images=("/a.png", "/b.png"), frames=3)
        kept = runner.submit(request, finalize=keep)
        plain = runner.submit(request)
        done, other = _wait_finished(queue, kept.id), _wait_finished(queue, plain.id)
    finally:
        runner.stop()
        queue.close()
    assert [image for image, _ in seen] == ["frame 0", "frame 1", "frame 2"]  # once, for its own job
    assert {thread for _, thread in seen} == {"studio-accelerator-worker"}
    assert done.state is JobState.DONE and done.result.artifacts == (Artifact("/tmp/frames", "frames"),)
    assert other.state is JobState.DONE and other.result.artifacts == ()


def test_a_job_cancelled_while_queued_drops_its_finalize() -> None:
    queue = JobQueue()
    gate = threading.Event()
    runner = JobRunner(queue, _frames_executor(gate))
    calls: list[int] = []
    runner.start()
    try:
        request = InterpolateRequest(model="demo-vae", images=("/a.png", "/b.png"), frames=2)
        first = runner.submit(request)
        second = runner.submit(request, finalize=lambda result: calls.append(1) or result)
        runner.cancel(second.id)
        gate.set()
        _wait_finished(queue, first.id)
        assert _wait_finished(queue, second.id).state is JobState.CANCELLED
    finally:
        runner.stop()
        queue.close()
    assert calls == [] and runner._finalizers == {}
