"""Pause, resume and cancel a running job: in the process that runs it, and from another process
through the queue's control column (a window controlling ``studio train`` run in a terminal)."""

import subprocess
import sys
import textwrap
import time

import pytest

from studio.core.requests import GenerationRequest
from studio.jobs import JobQueue, JobState
from studio.plugins import PluginRegistry
from studio.session import StudioSession
from tests.plugin_helpers import gradient_model, install_example_plugin


@pytest.fixture
def plugins(tmp_path):
    return install_example_plugin(tmp_path / "plugins")


@pytest.fixture
def session(plugins):
    registry = PluginRegistry(use_entry_points=False, paths=[plugins], trusted={"gradient"})
    registry.discover()
    session = StudioSession(registry=registry)
    yield session
    session.close()


def slow_request(tmp_path, steps=400):
    """About 20 ms a step (the gradient plugin sleeps guidance/100 s per step)."""
    model = gradient_model(tmp_path / "grad")
    return GenerationRequest(model=str(model), prompt="p", steps=steps, guidance=2, width=16, height=400, seed=1)


def wait_for(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("timed out")


def test_pause_holds_the_job_and_resume_finishes_it(session, tmp_path):
    job = session.runner.submit(slow_request(tmp_path, steps=100))
    session.runner.start()
    wait_for(lambda: session.queue.get(job.id).step >= 3)
    session.runner.pause(job.id)
    wait_for(lambda: session.queue.get(job.id).state is JobState.PAUSED)
    held = session.queue.get(job.id).step
    time.sleep(0.6)  # a running job makes ~30 steps in this time
    assert session.queue.get(job.id).state is JobState.PAUSED
    assert session.queue.get(job.id).step == held
    session.runner.resume(job.id)
    final = wait_for(lambda: (j := session.queue.get(job.id)).state.finished and j)
    assert final.state is JobState.DONE
    assert final.result.artifacts  # the picture was written after the pause


def test_cancel_a_paused_job(session, tmp_path):
    job = session.runner.submit(slow_request(tmp_path))
    session.runner.start()
    wait_for(lambda: session.queue.get(job.id).step >= 2)
    session.runner.pause(job.id)
    wait_for(lambda: session.queue.get(job.id).state is JobState.PAUSED)
    session.runner.cancel(job.id)
    final = wait_for(lambda: (j := session.queue.get(job.id)).state.finished and j)
    assert final.state is JobState.CANCELLED
    assert final.step < 400


def test_another_process_pauses_resumes_and_cancels_a_job(session, tmp_path, plugins, studio_home):
    """The job runs in a child process (as ``studio train`` in a terminal would); this process's
    runner controls it through the shared queue, as the window does."""
    script = textwrap.dedent(f"""
        import sys
        from studio.core.requests import GenerationRequest
        from studio.plugins import PluginRegistry
        from studio.session import StudioSession
        registry = PluginRegistry(use_entry_points=False, paths=[{str(plugins)!r}], trusted={{"gradient"}})
        registry.discover()
        session = StudioSession(registry=registry)
        request = GenerationRequest(model={str(gradient_model(tmp_path / "grad"))!r}, prompt="p", steps=1000,
                                    guidance=1, width=16, height=16, seed=1)
        job = session.runner.run_now(request)
        print(job.state.value, job.step, flush=True)
        session.close()
    """)
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                             env={**__import__("os").environ, "STUDIO_HOME": str(studio_home)})
    try:
        queue = JobQueue()
        job_id = wait_for(lambda: next((j.id for j in queue.jobs(JobState.RUNNING) if j.step >= 5), None), 60)
        session.runner.pause(job_id)  # not this process's job: the request goes through the queue
        wait_for(lambda: queue.get(job_id).state is JobState.PAUSED, 10)
        held = queue.get(job_id).step
        time.sleep(1.2)
        assert queue.get(job_id).step == held
        session.runner.resume(job_id)
        wait_for(lambda: queue.get(job_id).state is JobState.RUNNING and queue.get(job_id).step > held, 10)
        session.runner.cancel(job_id)
        out, _ = child.communicate(timeout=30)
        assert out.split()[0] == "cancelled"
        assert queue.get(job_id).state is JobState.CANCELLED
        queue.close()
    finally:
        child.kill()


def test_pausing_a_job_nobody_runs_is_refused_clearly(session, tmp_path):
    from studio.core.errors import BadInput

    job = session.queue.submit(slow_request(tmp_path))
    session.runner.cancel(job.id)
    with pytest.raises(BadInput, match="not running"):
        session.runner.pause(job.id)


def test_a_queue_file_from_before_the_control_column_opens(studio_home):
    import sqlite3

    db = sqlite3.connect(studio_home / "queue.sqlite")
    db.executescript("""
        CREATE TABLE jobs (id INTEGER PRIMARY KEY AUTOINCREMENT, request TEXT NOT NULL, state TEXT NOT NULL,
            created_at REAL NOT NULL, started_at REAL, finished_at REAL, step INTEGER NOT NULL DEFAULT 0,
            total INTEGER NOT NULL DEFAULT 0, message TEXT NOT NULL DEFAULT '', error TEXT NOT NULL DEFAULT '',
            traceback TEXT NOT NULL DEFAULT '', result TEXT, owner_pid INTEGER);
    """)
    request = GenerationRequest(model="demo", prompt="old", seed=3)
    db.execute("INSERT INTO jobs (request, state, created_at) VALUES (?, 'queued', 1.0)", (request.to_json(),))
    db.commit()
    db.close()
    queue = JobQueue()
    [job] = queue.jobs()
    assert job.request.prompt == "old" and job.state is JobState.QUEUED
    assert queue.control(job.id) == ""
    queue.close()
