"""Ctrl+C in a terminal running a job in-process (``studio generate``): the job is recorded cancelled
and the command ends with the interrupt (exit 130), not a "failed" job and exit 1. A plugin raising
KeyboardInterrupt on the worker thread only fails its job (test_queue_durability)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from studio.jobs import JobState
from studio.plugins import PluginRegistry
from studio.session import StudioSession
from tests.jobs.test_queue_durability import EXITING_CODE, EXITING_PLUGIN, REQUEST, install_example_plugin
from tests.plugin_helpers import write_plugin


def test_ctrl_c_during_an_in_process_job_cancels_it_and_ends_the_command(tmp_path: Path) -> None:
    plugins = install_example_plugin(tmp_path / "plugins")
    write_plugin(plugins, "studio_exiting", EXITING_PLUGIN, EXITING_CODE)
    model = tmp_path / "exiting-model"
    model.mkdir()
    (model / "exiting.json").write_text(json.dumps({"how": "ctrl_c"}))  # as the signal handler raises it
    registry = PluginRegistry(use_entry_points=False, paths=[plugins], trusted={"gradient", "exiting"})
    registry.discover()
    session = StudioSession(registry=registry)
    try:
        with pytest.raises(KeyboardInterrupt):
            session.runner.run_now(REQUEST.replace(model=str(model)))
        (job,) = session.queue.jobs()
        assert job.state is JobState.CANCELLED and "Ctrl+C" in job.error
    finally:
        session.close()
