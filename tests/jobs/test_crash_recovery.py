"""A process killed with SIGKILL leaves its queued jobs queued and its running job interrupted."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from studio.jobs import JobQueue, JobState
from tests.plugin_helpers import gradient_model, install_example_plugin

ROOT = Path(__file__).resolve().parents[2]

CHILD = """
import sys, time
sys.path.insert(0, {root!r})
from studio.core.requests import GenerationRequest
from studio.plugins import PluginRegistry
from studio.session import StudioSession

registry = PluginRegistry(use_entry_points=False, paths=[{plugins!r}], trusted={{"gradient"}})
registry.discover()
session = StudioSession(registry=registry)
request = GenerationRequest(model={model!r}, prompt="p", width=16, height=64, steps=1000, guidance=5)
ids = [session.runner.submit(request.replace(seed=i)).id for i in range(3)]
session.runner.start()
while session.queue.get(ids[0]).step < 2:
    time.sleep(0.01)
print("running", *ids, flush=True)
time.sleep(600)
"""


def test_sigkill_keeps_queued_jobs_and_marks_the_running_one_interrupted(tmp_path, studio_home):
    plugins = install_example_plugin(tmp_path / "plugins")
    model = gradient_model(tmp_path / "grad")
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent(CHILD.format(root=str(ROOT), plugins=str(plugins), model=str(model))))
    child = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, env=os.environ)
    try:
        line = child.stdout.readline().split()
        assert line and line[0] == "running", line
        ids = [int(x) for x in line[1:]]
        before = JobQueue()
        assert before.get(ids[0]).state is JobState.RUNNING  # the owner is alive: left alone
        before.close()
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    time.sleep(0.05)
    queue = JobQueue()  # what the next start does
    try:
        assert queue.recovered == [ids[0]]
        assert [queue.get(i).state for i in ids] == [JobState.INTERRUPTED, JobState.QUEUED, JobState.QUEUED]
        assert "Re-queue" in queue.get(ids[0]).error
        assert queue.requeue(ids[0]).state is JobState.QUEUED
    finally:
        queue.close()
