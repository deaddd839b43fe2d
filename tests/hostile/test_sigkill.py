"""SIGKILL at chosen points (``STUDIO_TEST_KILL_AT``, see :func:`studio.core.storage.kill_point`) of
``studio generate`` and ``studio export``: after the next start there is no temp-file debris anywhere the
studio wrote, every ``done`` job has its files, both databases pass ``PRAGMA integrity_check`` and an
interrupted job is re-queued (``studio jobs requeue``) and run (``studio jobs run``) to the end."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.plugin_helpers import gradient_model, install_example_plugin

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def studio(tmp_path: Path, studio_home: Path):
    """Run ``studio`` as a separate process on this test's home, with the gradient example plugin."""
    plugins = install_example_plugin(tmp_path / "plugins")
    (studio_home / "settings.toml").write_text('trusted_plugins = ["gradient"]\n')
    env = {**os.environ, "STUDIO_HOME": str(studio_home), "STUDIO_PLUGINS_PATH": str(plugins),
           "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    env.pop("STUDIO_TEST_KILL_AT", None)

    def run(*args: str, kill_at: str = "") -> subprocess.CompletedProcess:
        child_env = {**env, "STUDIO_TEST_KILL_AT": kill_at} if kill_at else env
        return subprocess.run([sys.executable, "-m", "studio.cli.main", *args], env=child_env,
                              capture_output=True, text=True, timeout=120, cwd=tmp_path)

    return run


def generate_args(tmp_path: Path, out: Path) -> list[str]:
    model = gradient_model(tmp_path / "grad")
    return ["generate", "--model", str(model), "--prompt", "a kill", "--seed", "3", "--width", "16",
            "--height", "64", "--steps", "3", "--out", str(out)]


def debris(*folders: Path) -> list[Path]:
    return [p for folder in folders for p in folder.rglob("*") if p.name.endswith(".tmp")]


def integrity_ok(path: Path) -> None:
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok", path
    finally:
        db.close()


def restart_and_check(studio, home: Path, *folders: Path) -> list[dict]:
    """What the next start does (``studio jobs list`` opens the queue: recovery and the debris sweep),
    then the checks every kill point must pass. The jobs, as listed."""
    listed = studio("jobs", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    jobs = json.loads(listed.stdout)
    assert debris(home, *folders) == []
    for job in jobs:
        assert job["state"] != "running", job
        if job["state"] == "done":
            assert job["files"] and all(Path(f).is_file() for f in job["files"]), job
    integrity_ok(home / "queue.sqlite")
    if (home / "gallery" / "index.sqlite").exists():
        integrity_ok(home / "gallery" / "index.sqlite")
    return jobs


@pytest.mark.parametrize("point", ["job-claimed", "job-step", "gallery-fsync", "gallery-rename", "job-executed"])
def test_generation_killed_leaves_no_debris_and_the_job_can_be_requeued(
    studio, tmp_path: Path, studio_home: Path, point: str
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    killed = studio(*generate_args(tmp_path, out / "image.png"), kill_at=point)
    assert killed.returncode == -signal.SIGKILL, (killed.returncode, killed.stderr)
    if point.startswith("gallery"):  # the kill point really sat between the temp file and its rename
        assert debris(studio_home), "a temp file was left for the sweep to remove"
    jobs = restart_and_check(studio, studio_home, out)
    assert [job["state"] for job in jobs] == ["interrupted"]
    assert not (out / "image.png").exists()

    assert studio("jobs", "requeue", str(jobs[0]["id"])).returncode == 0
    ran = studio("jobs", "run")
    assert ran.returncode == 0, ran.stderr
    jobs = restart_and_check(studio, studio_home, out)
    assert [job["state"] for job in jobs] == ["done"]
    gallery = sqlite3.connect(studio_home / "gallery" / "index.sqlite")
    paths = [Path(row[0]) for row in gallery.execute("SELECT path FROM items")]
    gallery.close()
    assert Path(jobs[0]["files"][0]).resolve() in paths  # killed after indexing: that image is kept too


def test_killed_at_the_out_rename_the_job_is_not_done_and_no_debris_is_left(
    studio, tmp_path: Path, studio_home: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    killed = studio(*generate_args(tmp_path, out / "image.png"), kill_at="out-rename")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert debris(out), "the --out temp file was there when the process died"
    jobs = restart_and_check(studio, studio_home, out)  # --out's folder is swept too
    assert [job["state"] for job in jobs] == ["interrupted"]  # done only once --out is in place
    assert sorted(p.name for p in out.iterdir()) == []
    again = studio(*generate_args(tmp_path, out / "image.png"))
    assert again.returncode == 0 and again.stdout.split() == [str(out / "image.png")]
    jobs = restart_and_check(studio, studio_home, out)
    assert jobs[-1]["state"] == "done" and str(out / "image.png") in jobs[-1]["files"]


@pytest.mark.parametrize("point", ["export-fsync", "export-rename"])
def test_export_killed_leaves_no_debris_and_a_rerun_writes_every_file(
    studio, tmp_path: Path, studio_home: Path, point: str
) -> None:
    sources = tmp_path / "sources"
    sources.mkdir()
    made = studio(*generate_args(tmp_path, sources / "fox.png"))
    assert made.returncode == 0, made.stderr
    shutil.copy(sources / "fox.png", sources / "owl.png")
    out = tmp_path / "exports"
    out.mkdir()
    args = ["export", str(sources / "fox.png"), str(sources / "owl.png"), "--out", str(out), "--no-watermark"]
    killed = studio(*args, kill_at=point)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert debris(out), "the export's temp file was there when the process died"
    restart_and_check(studio, studio_home, out, sources)
    assert sorted(p.name for p in out.iterdir()) == []
    assert studio(*args).returncode == 0
    assert sorted(p.name for p in out.iterdir()) == ["fox.png", "owl.png"]
