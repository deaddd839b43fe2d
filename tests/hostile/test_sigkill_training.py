"""SIGKILL of ``studio train`` at two points (``STUDIO_TEST_KILL_AT``): while a checkpoint is being put in
place, and while a resumed run rewrites its metrics. After the next start no temp file or unfinished
checkpoint is left, the queue says ``interrupted``, the databases pass ``integrity_check``, and training
again (resume is the default) reaches the asked step with one continuous loss curve."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from studio.training.engine import list_checkpoints, read_metrics
from tests.hostile.test_sigkill import integrity_ok
from tests.training.train_helpers import tiny_flags, write_corpus

ROOT = Path(__file__).resolve().parents[2]


def _studio(home: Path, cwd: Path, *args: str, kill_at: str = "") -> subprocess.CompletedProcess:
    env = {**os.environ, "STUDIO_HOME": str(home), "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    env.pop("STUDIO_TEST_KILL_AT", None)
    if kill_at:
        env["STUDIO_TEST_KILL_AT"] = kill_at
    return subprocess.run([sys.executable, "-m", "studio.cli.main", *args], env=env, capture_output=True,
                          text=True, timeout=240, cwd=cwd)


def _leftovers(*folders: Path) -> list[Path]:
    return [p for folder in folders for p in folder.rglob("*") if p.name.endswith(".tmp") or p.name.startswith(".tmp-")]


def _states(home: Path, cwd: Path) -> list[str]:
    listed = _studio(home, cwd, "jobs", "list", "--json")  # the next start: recovery and the debris sweep
    assert listed.returncode == 0, listed.stderr
    integrity_ok(home / "queue.sqlite")
    return [job["state"] for job in json.loads(listed.stdout)]


def test_killed_while_putting_a_checkpoint_in_place(tmp_path: Path, studio_home: Path) -> None:
    run_dir = tmp_path / "run"
    train = ["train", "demo-text", *tiny_flags(write_corpus(tmp_path / "plays"), tmp_path / "model", 20,
                                               log_every=5, checkpoint_every=10, run_dir=run_dir)]
    killed = _studio(studio_home, tmp_path, *train, kill_at="train-checkpoint")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    lm = run_dir / "lm"
    assert list((lm / "checkpoints").glob(".tmp-*")), "the kill fell between writing and renaming"
    assert list_checkpoints(lm) == []
    assert _states(studio_home, tmp_path) == ["interrupted"]

    again = _studio(studio_home, tmp_path, *train)
    assert again.returncode == 0, again.stderr
    assert _leftovers(run_dir, studio_home) == []  # the unfinished checkpoint was never read, and is gone
    assert read_metrics(lm, event="resume") == []  # nothing complete to resume from: it started over
    assert [m["step"] for m in read_metrics(lm)] == [5, 10, 15, 20]
    assert _states(studio_home, tmp_path) == ["interrupted", "done"]


def test_killed_while_a_resumed_run_rewrites_its_metrics(tmp_path: Path, studio_home: Path) -> None:
    run_dir = tmp_path / "run"
    corpus = write_corpus(tmp_path / "plays")

    def train(steps: int) -> list[str]:
        return ["train", "demo-text", *tiny_flags(corpus, tmp_path / "model", steps, log_every=5,
                                                  checkpoint_every=10, run_dir=run_dir)]

    assert _studio(studio_home, tmp_path, *train(20)).returncode == 0
    killed = _studio(studio_home, tmp_path, *train(30), kill_at="train-metrics-rename")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert _states(studio_home, tmp_path) == ["done", "interrupted"]
    assert _leftovers(run_dir, studio_home) == []  # the sweep removed the metrics' temp file

    again = _studio(studio_home, tmp_path, *train(30))
    assert again.returncode == 0, again.stderr
    lm = run_dir / "lm"
    assert [r["step"] for r in read_metrics(lm, event="resume")][-1] == 20
    assert [m["step"] for m in read_metrics(lm)] == [5, 10, 15, 20, 25, 30]  # one curve, no step twice
    assert _leftovers(run_dir, studio_home) == []
    assert _states(studio_home, tmp_path) == ["done", "interrupted", "done"]
