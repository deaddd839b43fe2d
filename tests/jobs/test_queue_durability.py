"""The queue survives what others leave in it: unreadable requests, dead owners whose pid was reused,
plugins that try to end the process, a damaged file; and ``studio jobs`` manages it from a terminal."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from studio.cli.main import main
from studio.core.errors import BadInput
from studio.core.requests import GenerationRequest
from studio.core.results import JobResult
from studio.jobs import JobQueue, JobRunner, JobState
from studio.plugins import PluginRegistry
from studio.session import StudioSession
from tests.plugin_helpers import gradient_model, install_example_plugin, manifest_text, write_plugin

REQUEST = GenerationRequest(model="demo", prompt="p", seed=1, width=64, height=64, steps=2)


def insert_raw(queue_path: Path, request_text: str, state: str = "queued", **columns) -> int:
    db = sqlite3.connect(queue_path, isolation_level=None)
    names = ["request", "state", "created_at", *columns]
    values = [request_text, state, time.time(), *columns.values()]
    cur = db.execute(f"INSERT INTO jobs ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})", values)
    db.close()
    return cur.lastrowid


UNREADABLE = [
    json.dumps({**REQUEST.to_dict(), "schema": 999}),  # a newer studio's job
    json.dumps({"kind": "teleport", "schema": 1}),
    json.dumps({**REQUEST.to_dict(), "sampler_v9": True}),
    "{not json",
    "[1, 2]",
]


def test_unreadable_jobs_fail_clearly_and_the_worker_goes_on(studio_home: Path) -> None:
    queue = JobQueue()
    bad = [insert_raw(queue.path, text) for text in UNREADABLE]
    good = queue.submit(REQUEST).id
    listed = queue.jobs()  # raised on the first unreadable row before
    assert [job.id for job in listed] == [*bad, good]
    ran = []

    def execute(request, report, cancelled):
        ran.append(request)
        return JobResult(data={"ok": True})

    runner = JobRunner(queue, execute)
    runner.start()
    try:
        deadline = time.monotonic() + 20
        while queue.get(good).state is not JobState.DONE and time.monotonic() < deadline:
            time.sleep(0.02)
        assert runner.running, "the worker thread is still alive"
    finally:
        runner.stop()
    assert queue.get(good).state is JobState.DONE and ran == [REQUEST]
    for job_id in bad:
        job = queue.get(job_id)
        assert job.state is JobState.FAILED
        assert f"Job {job_id} cannot be run" in job.error and "cannot be read" in job.error
    queue.close()


def test_a_running_job_whose_pid_was_reused_is_interrupted(studio_home: Path) -> None:
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        queue = JobQueue()
        # the owner died; its pid now belongs to `stranger`, a process that started at another time
        job_id = insert_raw(queue.path, REQUEST.to_json(), "running", owner_pid=stranger.pid, owner_start=1)
        same = insert_raw(queue.path, REQUEST.to_json(), "running", owner_pid=stranger.pid)  # no start time known
        queue.close()
        queue = JobQueue()
        assert queue.recovered == [job_id]
        assert queue.get(job_id).state is JobState.INTERRUPTED and "Re-queue" in queue.get(job_id).error
        assert queue.get(same).state is JobState.RUNNING  # a live pid without a start time: left alone
        queue.close()
    finally:
        stranger.kill()
        stranger.wait()


def test_a_job_of_an_earlier_process_with_this_pid_is_interrupted(studio_home: Path) -> None:
    import os

    from studio.jobs.queue import process_start

    queue = JobQueue()
    earlier = insert_raw(queue.path, REQUEST.to_json(), "running", owner_pid=os.getpid(), owner_start=1)
    ours = insert_raw(queue.path, REQUEST.to_json(), "running", owner_pid=os.getpid(),
                      owner_start=process_start(os.getpid()))
    queue.close()
    queue = JobQueue()  # e.g. the studio as pid 1 of a container, started again
    assert queue.recovered == [earlier] and queue.get(ours).state is JobState.RUNNING
    queue.close()


def test_prune_deletes_only_old_finished_jobs(studio_home: Path) -> None:
    queue = JobQueue()
    old = time.time() - 40 * 86400
    ids = {state: insert_raw(queue.path, REQUEST.to_json(), state, finished_at=old)
           for state in ("done", "failed", "cancelled", "interrupted", "queued")}
    recent = insert_raw(queue.path, REQUEST.to_json(), "done", finished_at=time.time())
    assert queue.prune(30) == 4
    assert [job.id for job in queue.jobs()] == [ids["queued"], recent]
    with pytest.raises(BadInput):
        queue.prune(float("nan"))
    queue.close()


def test_finished_jobs_older_than_the_limit_are_pruned_on_open(studio_home: Path) -> None:
    queue = JobQueue()
    ancient = insert_raw(queue.path, REQUEST.to_json(), "done", finished_at=time.time() - 400 * 86400)
    kept = insert_raw(queue.path, REQUEST.to_json(), "done", finished_at=time.time() - 86400)
    queue.close()
    queue = JobQueue()
    assert queue.pruned == 1 and [job.id for job in queue.jobs()] == [kept] and ancient != kept
    queue.close()


@pytest.mark.parametrize("content", [b"this is not a database at all" * 100, b"SQLite format 3\x00" + b"\x00" * 50])
def test_a_damaged_queue_file_is_one_clear_error(studio_home: Path, content: bytes) -> None:
    (studio_home / "queue.sqlite").write_bytes(content)
    with pytest.raises(BadInput, match=r"damaged.*Move it aside"):
        JobQueue()


EXITING_PLUGIN = manifest_text("exiting", "studio_exiting", "Exits", model_files=("exiting.json",))
EXITING_CODE = """
    import json, pathlib

    class Model:
        def __init__(self, how):
            self.how = how

        def run(self, request, report, cancelled):
            report(1, 2)
            raise {"exit0": SystemExit(0), "exit3": SystemExit(3), "ctrl_c": KeyboardInterrupt(),
                   "base": BaseException("odd")}[self.how]

        def unload(self):
            pass

    def load(context):
        how = json.loads((pathlib.Path(context.model.path) / "exiting.json").read_text())["how"]
        if how == "load":
            raise SystemExit("bye from load")
        return Model(how)
"""


@pytest.mark.parametrize("how, words", [("exit0", "SystemExit(0)"), ("exit3", "SystemExit(3)"),
                                         ("ctrl_c", "KeyboardInterrupt"), ("base", "BaseException"),
                                         ("load", "SystemExit('bye from load')")])
def test_a_plugin_that_tries_to_end_the_process_only_fails_its_job(tmp_path: Path, how: str, words: str) -> None:
    plugins = install_example_plugin(tmp_path / "plugins")
    write_plugin(plugins, "studio_exiting", EXITING_PLUGIN, EXITING_CODE)
    model = tmp_path / "exiting-model"
    model.mkdir()
    (model / "exiting.json").write_text(json.dumps({"how": how}))
    registry = PluginRegistry(use_entry_points=False, paths=[plugins], trusted={"gradient", "exiting"})
    registry.discover()
    session = StudioSession(registry=registry)
    try:
        bad = session.runner.submit(REQUEST.replace(model=str(model)))
        good = session.runner.submit(REQUEST.replace(model=str(gradient_model(tmp_path / "grad")), width=16))
        session.runner.start()
        deadline = time.monotonic() + 60
        while session.queue.get(good.id).state is not JobState.DONE and time.monotonic() < deadline:
            time.sleep(0.05)
        failed = session.queue.get(bad.id)
        assert failed.state is JobState.FAILED and words in failed.error, failed.error
        assert session.queue.get(good.id).state is JobState.DONE and session.runner.running
    finally:
        session.close()


def test_run_now_with_an_exiting_plugin_returns_a_failed_job(tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    write_plugin(plugins, "studio_exiting", EXITING_PLUGIN, EXITING_CODE)
    model = tmp_path / "exiting-model"
    model.mkdir()
    (model / "exiting.json").write_text(json.dumps({"how": "exit0"}))
    registry = PluginRegistry(use_entry_points=False, paths=[plugins], trusted={"exiting"})
    registry.discover()
    session = StudioSession(registry=registry)
    try:
        job = session.runner.run_now(REQUEST.replace(model=str(model)))  # raised SystemExit before
    finally:
        session.close()
    assert job.state is JobState.FAILED and "tried to exit" in job.error


def test_jobs_cli_lists_requeues_cancels_and_prunes(studio_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    queue = JobQueue()
    interrupted = insert_raw(queue.path, REQUEST.to_json(), "interrupted", finished_at=time.time())
    queued = queue.submit(REQUEST).id
    unreadable = insert_raw(queue.path, UNREADABLE[0], "failed", finished_at=time.time() - 10 * 86400)
    queue.close()

    assert main(["jobs", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["id"], r["state"]) for r in rows] == [(interrupted, "interrupted"), (queued, "queued"),
                                                     (unreadable, "failed")]
    assert rows[2]["what"] == "(unreadable request)"
    assert main(["jobs", "list"]) == 0 and "interrupted" in capsys.readouterr().out

    assert main(["jobs", "requeue", str(interrupted)]) == 0
    assert "queued again" in capsys.readouterr().out
    assert main(["jobs", "requeue", str(queued)]) == 2
    assert "only an interrupted, failed or cancelled job" in capsys.readouterr().err
    assert main(["jobs", "cancel", str(queued)]) == 0 and "cancelled" in capsys.readouterr().out
    assert main(["jobs", "cancel", str(queued)]) == 2
    assert main(["jobs", "requeue", "999"]) == 2 and "no job 999" in capsys.readouterr().err
    assert main(["jobs", "prune", "--older-than", "5"]) == 0
    assert "Deleted 1" in capsys.readouterr().out
    for argv in (["jobs", "prune", "--older-than", "nan"], ["jobs", "cancel", "x"]):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 2
    assert main(["jobs", "list", "--state", "bogus"]) == 2
    queue = JobQueue()
    assert {job.id: job.state for job in queue.jobs()} == {interrupted: JobState.QUEUED, queued: JobState.CANCELLED}
    queue.close()
