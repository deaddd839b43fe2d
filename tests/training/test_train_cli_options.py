"""``studio train``'s options for real runs (issue 14, point 7): ``--resume``/``--no-resume``,
checkpoints in short runs, outputs under STUDIO_HOME by default, a tampered checkpoint told in one
line, and a one-play corpus that still has a held-out part (or is refused before training)."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from studio.cli.main import main
from studio.plugins.training import checkpoint_interval, latest_checkpoint, read_metrics
from tests.training.train_helpers import PLAY, TINY, write_corpus

ROOT = Path(__file__).resolve().parents[2]


def flags(corpus: Path, steps: int, **more) -> list[str]:
    """Flags of a tiny demo-text run, without --out unless given."""
    values = {**TINY, "corpus_dir": corpus, "steps": steps, "log_every": 1, **more}
    return [f"--{k.replace('_', '-')}={v}" for k, v in values.items()]


def checkpoint_steps(run_dir: Path) -> list[int]:
    return [event["step"] for event in read_metrics(run_dir / "lm", event="checkpoint")]


def test_checkpoint_interval_adapts_to_short_runs() -> None:
    assert checkpoint_interval(50) == 10
    assert checkpoint_interval(3) == 1
    assert checkpoint_interval(100_000) == 200
    assert checkpoint_interval(1000, longest=250) == 200


def test_a_short_run_checkpoints_and_the_model_lands_under_studio_home(tmp_path, studio_home, monkeypatch, capsys):
    corpus = write_corpus(tmp_path / "plays")
    cwd = tmp_path / "somewhere"
    cwd.mkdir()
    monkeypatch.chdir(cwd)  # e.g. the repo root, whose resources/models/demo-text the old default overwrote
    assert main(["train", "demo-text", "--resume", *flags(corpus, 10)]) == 0
    printed = json.loads(capsys.readouterr().out)
    run_dir = studio_home / "runs" / "demo-text"
    assert printed["run_dir"] == str(run_dir)
    assert printed["out"] == str(run_dir / "model")
    assert (run_dir / "model" / "model.safetensors").is_file()
    assert not any(cwd.iterdir())  # nothing written relative to the current folder
    assert checkpoint_steps(run_dir) == [2, 4, 6, 8, 10]  # every steps/5: a kill loses two steps at most

    assert main(["train", "demo-text", "--no-resume", *flags(corpus, 4)]) == 0  # starts over
    assert json.loads(capsys.readouterr().out)["steps"] == 4


class _Planted:
    """Unpickling this runs ``open(marker, "w")``: what a planted pickle would do."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_tampered_checkpoint_is_one_clear_line_and_exit_2(tmp_path, studio_home):
    corpus = write_corpus(tmp_path / "plays")
    run_dir = tmp_path / "run"
    assert main(["train", "demo-text", *flags(corpus, 4, run_dir=run_dir, out=tmp_path / "model")]) == 0
    checkpoint = latest_checkpoint(run_dir / "lm")
    assert checkpoint is not None
    marker = tmp_path / "pwned"
    for target in checkpoint.glob("*.bin"):  # the optimiser and scheduler states
        target.write_bytes(pickle.dumps(_Planted(str(marker))))

    env = {**os.environ, "STUDIO_HOME": str(studio_home), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "studio.cli.main", "train", "demo-text",
         *flags(corpus, 8, run_dir=run_dir, out=tmp_path / "model")],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert done.returncode == 2, done.stderr
    assert not marker.exists()  # the pickle never ran
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("studio: error")]
    assert len(errors) == 1 and lines[-1] == errors[0], done.stderr  # the run's notices, then one line
    assert "Traceback" not in done.stderr and "Warning" not in done.stderr
    assert str(checkpoint) in errors[0] and "tampered" in errors[0] and "--no-resume" in errors[0]


def test_a_one_play_corpus_holds_out_its_last_tenth(tmp_path, capsys):
    corpus = write_corpus(tmp_path / "plays", plays=1)
    assert main(["train", "demo-text", *flags(corpus, 4, out=tmp_path / "model")]) == 0
    printed = json.loads(capsys.readouterr().out)
    summary = json.loads((tmp_path / "model" / "training_metrics.json").read_text())
    assert summary["corpus"]["held_out_plays"] == ["play-0 (last tenth)"]
    assert summary["corpus"]["held_out_tokens"] > 0 and printed["held_out_perplexity"] > 0


def test_a_one_speech_corpus_is_refused_before_training(tmp_path, studio_home, capsys):
    corpus = tmp_path / "plays"
    corpus.mkdir()
    (corpus / "short.md").write_text(PLAY.split("**QUEEN**")[0], encoding="utf-8")  # one speech
    run_dir = tmp_path / "run"
    code = main(["train", "demo-text", *flags(corpus, 4, run_dir=run_dir)])
    err = capsys.readouterr().err
    assert code == 2
    assert "short.md" in err and "Traceback" not in err
    assert not (run_dir / "lm").exists()  # refused before a single step


def test_a_short_lora_run_checkpoints_too(tiny_sd_folder, tmp_path, studio_home, capsys):
    from tests.fixtures.stars import write_star_folder

    stars = write_star_folder(tmp_path / "stars", 4)
    out = tmp_path / "stars.safetensors"
    code = main(["train", "lora", "--model", str(tiny_sd_folder), "--data", str(stars), "--out", str(out),
                 "--steps", "5", "--no-prior", "--sample-every", "0", "--batch-size", "2"])
    assert code == 0, capsys.readouterr().err
    run_dir = studio_home / "runs" / "lora-stars"
    checkpoints = [e["step"] for e in read_metrics(run_dir, event="checkpoint")]
    assert checkpoints == [1, 2, 3, 4, 5]  # was none before the end with the fixed 100
