"""A few hostile cases through a real process, to prove what reaches the terminal: exit 2, one line on
the real stderr, no traceback, even where the studio's folder cannot be created (commands that never
open a session included), for argv bytes that are not UTF-8, and for an ``--out`` FIFO (never opened:
opening it for writing would block)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def studio(*argv: str | bytes, home: str | Path, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "STUDIO_HOME": str(home), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "studio.cli.main", *argv], capture_output=True, env=env,
                          cwd=REPO, timeout=timeout)


def assert_one_line_exit_2(run: subprocess.CompletedProcess, expect: str) -> None:
    err = run.stderr.decode("utf-8", "replace")
    assert run.returncode == 2, err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    assert expect in err


COMMANDS = [
    pytest.param(["plugins", "trust", "diffusers"], id="plugins-trust"),
    pytest.param(["plugins", "list"], id="plugins-list"),
    pytest.param(["models", "list"], id="models-list"),
    pytest.param(["train", "demo-text", "--steps", "1"], id="train"),
    pytest.param(["generate", "--model", "demo", "--prompt", "p", "--out", "x.png"], id="generate"),
    pytest.param(["info", "README.md"], id="info"),
]


@pytest.mark.parametrize("argv", COMMANDS)
def test_a_studio_home_that_cannot_be_created_is_one_line(argv, tmp_path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("in the way")
    run = studio(*argv, home=blocker / "home")
    assert_one_line_exit_2(run, "cannot be created")
    assert blocker.read_text() == "in the way"


def test_a_studio_home_that_is_a_file_is_one_line(tmp_path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("in the way")
    assert_one_line_exit_2(studio("models", "list", home=blocker), "is a file, expected a folder")


def test_trusting_an_unknown_plugin_is_one_line(tmp_path) -> None:
    assert_one_line_exit_2(studio("plugins", "trust", "no-such-plugin", home=tmp_path),
                           "No plugin 'no-such-plugin' is installed")
    assert "Traceback" not in (tmp_path / "logs" / "studio.log").read_text()


def test_prompt_bytes_that_are_not_utf8_are_refused_before_loading(tmp_path) -> None:
    run = studio("generate", "--model", "demo", "--prompt", b"a \xff\xfe cat", "--out", str(tmp_path / "a.png"),
                 home=tmp_path / "home")
    assert_one_line_exit_2(run, "not UTF-8")
    assert "Loading" not in run.stderr.decode("utf-8", "replace")
    assert not (tmp_path / "a.png").exists()


def test_an_out_fifo_is_refused_without_opening_it(tmp_path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    run = studio("generate", "--model", "demo", "--prompt", "p", "--out", str(fifo), home=tmp_path / "home",
                 timeout=60)
    assert_one_line_exit_2(run, "is a FIFO")
    assert fifo.is_fifo()


def test_the_window_with_a_studio_home_that_cannot_be_created_is_one_line(tmp_path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("in the way")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "STUDIO_HOME": str(blocker / "home")}
    run = subprocess.run([sys.executable, "-m", "studio.cli.main", "--smoke-test"], capture_output=True, cwd=REPO,
                         env=env, timeout=120)
    assert_one_line_exit_2(run, "cannot be created")


def test_a_reader_that_goes_away_is_no_traceback(tmp_path) -> None:
    """``studio plugins list | head -0``: the pipe closes before the studio writes."""
    env = {**os.environ, "STUDIO_HOME": str(tmp_path)}
    child = subprocess.Popen([sys.executable, "-m", "studio.cli.main", "plugins", "list"], cwd=REPO, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    child.stdout.close()  # type: ignore[union-attr]
    err = child.stderr.read().decode()  # type: ignore[union-attr]
    assert child.wait(timeout=120) == 1
    assert "Traceback" not in err and "BrokenPipe" not in err, err
