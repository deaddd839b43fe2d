"""The job runner on real plugins: order, cancel within one step, failures that do not stop the queue."""

import logging
import threading

import pytest

from studio.core.paths import log_file
from studio.core.requests import GenerationRequest
from studio.jobs import JobState
from studio.plugins import PluginRegistry
from studio.session import StudioSession
from tests.plugin_helpers import gradient_model, install_example_plugin, manifest_text, write_plugin

FAILING_PLUGIN = manifest_text("failing", "studio_failing", "Always fails", model_files=("failing.json",))
FAILING_CODE = """
    class Model:
        def run(self, request, report, cancelled):
            report(1, 3)
            raise RuntimeError("the GPU caught fire")

        def unload(self):
            pass

    def load(context):
        return Model()
"""


class Events:
    def __init__(self):
        self.states = []
        self.progress = []
        self.reached = threading.Event()
        self.cancel_at = None

    def job_changed(self, job):
        self.states.append((job.id, job.state))

    def job_event(self, job_id, event):
        from studio.core.events import Preview, Progress

        if isinstance(event, Progress):
            self.progress.append((job_id, event.step, event.total, False))
            if self.cancel_at and event.step >= self.cancel_at:
                self.reached.set()
        elif isinstance(event, Preview):  # a preview comes right after its step's progress
            job, step, total, _ = self.progress[-1]
            self.progress[-1] = (job, step, total, True)


@pytest.fixture
def session(tmp_path):
    plugins = install_example_plugin(tmp_path / "plugins")
    write_plugin(plugins, "studio_failing", FAILING_PLUGIN, FAILING_CODE)
    registry = PluginRegistry(use_entry_points=False, paths=[plugins], trusted={"gradient", "failing"})
    registry.discover()
    events = Events()
    session = StudioSession(registry=registry, listener=events)
    session.events = events
    yield session
    session.close()


def gradient_request(tmp_path, steps=4, **kw):
    model = gradient_model(tmp_path / "grad")
    values = {"width": 16, "height": 64, "guidance": 0, **kw}
    return GenerationRequest(model=str(model), prompt="p", steps=steps, **values)


def test_jobs_run_in_order_with_progress_and_previews(session, tmp_path):
    jobs = [session.runner.submit(gradient_request(tmp_path, steps=3, seed=i)) for i in range(3)]
    session.runner.start()
    for job in jobs:
        _wait_finished(session, job.id)
    assert [session.queue.get(j.id).state for j in jobs] == [JobState.DONE] * 3
    started = [job_id for job_id, state in session.events.states if state is JobState.RUNNING]
    assert started == [j.id for j in jobs]
    steps = [(s, t, p) for job_id, s, t, p in session.events.progress if job_id == jobs[0].id and p]
    assert steps == [(1, 3, True), (2, 3, True), (3, 3, True)]


def test_cancel_mid_way_stops_within_one_step(session, tmp_path):
    session.events.cancel_at = 5
    job = session.runner.submit(gradient_request(tmp_path, steps=200, guidance=2))  # ~20 ms a step
    session.runner.start()
    assert session.events.reached.wait(30)
    session.runner.cancel(job.id)
    final = _wait_finished(session, job.id)
    assert final.state is JobState.CANCELLED
    last_step = max(step for job_id, step, _, _ in session.events.progress if job_id == job.id)
    assert 5 <= last_step <= 6 + 1, last_step  # the step in flight when cancel arrived, then stop


def test_cancel_a_queued_job_never_runs_it(session, tmp_path):
    job = session.runner.submit(gradient_request(tmp_path))
    session.runner.cancel(job.id)
    assert session.queue.get(job.id).state is JobState.CANCELLED
    session.runner.start()
    other = session.runner.submit(gradient_request(tmp_path))
    _wait_finished(session, other.id)
    assert not [p for p in session.events.progress if p[0] == job.id]


def test_a_failing_job_reports_its_message_and_the_next_job_runs(session, tmp_path, caplog):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "failing.json").write_text("{}")
    caplog.set_level(logging.ERROR, logger="studio")
    failing = session.runner.submit(GenerationRequest(model=str(broken), prompt="p", width=16, height=16))
    after = session.runner.submit(gradient_request(tmp_path))
    session.runner.start()
    failed = _wait_finished(session, failing.id)
    assert failed.state is JobState.FAILED
    assert "the GPU caught fire" in failed.error
    assert "Traceback" in failed.traceback
    assert "the GPU caught fire" in log_file().read_text()
    assert _wait_finished(session, after.id).state is JobState.DONE


def test_a_job_for_a_missing_model_fails_clearly(session, tmp_path):
    job = session.runner.run_now(GenerationRequest(model=str(tmp_path / "nope"), prompt="p", width=16, height=16))
    assert job.state is JobState.FAILED
    assert "No model named" in job.error


def _wait_finished(session, job_id, timeout=60.0):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = session.queue.get(job_id)
        if job.state.finished:
            return job
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} did not finish: {session.queue.get(job_id)}")
