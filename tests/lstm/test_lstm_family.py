"""The character-LSTM family end to end: ``studio train lstm`` for a few steps on a small text, the
model saved as safetensors + JSON, then sampled through ``studio text`` (the TextRequest the editor
sends), streamed in chunks, stoppable, and the same text for the same seed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from studio_lstm.detect import identify
from studio_lstm.loader import load
from studio_lstm.train import train

from studio.plugins import JobCancelled, LoadContext, ModelEntry, TextRequest, TrainRequest

TEXT = ("Now is the winter of our discontent made glorious summer by this sun of York; "
        "and all the clouds that lour'd upon our house in the deep bosom of the ocean buried.\n") * 40


def studio(*args: str, home: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", **({"STUDIO_HOME": str(home)} if home else {})}
    result = subprocess.run([sys.executable, "-m", "studio.cli.main", *map(str, args)], capture_output=True,
                            text=True, timeout=120, env=env)
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


TINY = ("--steps", "20", "--batch-size", "8", "--seq-len", "32", "--embed", "8", "--hidden", "32",
        "--layers", "1", "--log-every", "5")


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, dict]:
    """A 20-step model trained by the real command line on a small text file."""
    root = tmp_path_factory.mktemp("lstm")
    data = root / "richard.txt"
    data.write_text(TEXT, encoding="utf-8")
    (root / "home").mkdir()
    out = studio("train", "lstm", "--data", data, "--out", root / "model", "--run-dir", root / "run", *TINY,
                 home=root / "home")
    return root / "model", json.loads(out.stdout)


def test_studio_train_lstm_writes_safetensors_and_json_and_measures_both_perplexities(trained):
    model, result = trained
    assert result["steps"] == 20 and result["out"] == str(model)
    assert sorted(p.name for p in model.iterdir()) == ["char-lstm.json", "model.safetensors", "training_metrics.json"]
    config = json.loads((model / "char-lstm.json").read_text(encoding="utf-8"))
    assert set("Now is the winter") <= set(config["vocab"])
    assert result["held_out_perplexity"] > 1 and result["unigram_perplexity"] > 1
    entry = identify(model)
    assert entry is not None and entry.kind == "char-lstm" and entry.details["hidden"] == 32


def test_studio_text_samples_the_trained_model_and_the_seed_gives_the_same_text(trained):
    model, _ = trained
    args = ("text", "--model", model, "--prompt", "Now is the", "--max-new-tokens", "80")
    first, again, other = (studio(*args, "--seed", s).stdout for s in ("7", "7", "8"))
    assert first == again and first != other
    assert len(first.rstrip("\n")) >= 70  # 80 characters, a trailing newline or space trimmed at most


def test_training_reports_loss_metrics_for_the_monitor(tmp_path):
    data = tmp_path / "t.txt"
    data.write_text(TEXT, encoding="utf-8")
    seen: list[tuple[int, dict]] = []

    def report(step, total, preview=None, message=None, *, text=None, metrics=None, notice=None):
        if metrics:
            seen.append((step, metrics))

    options = {"out": str(tmp_path / "m"), "seq_len": 32, "embed": 8, "hidden": 16, "layers": 1, "log_every": 5}
    request = TrainRequest(recipe="lstm", data=str(data), run_dir=str(tmp_path / "run"), steps=10, batch_size=4,
                           learning_rate=3e-3, options=options)
    result = train(request, report, lambda: False)
    assert [step for step, m in seen if "loss" in m] == [5, 10]  # every logged step, as the monitor plots it
    assert result.data["held_out_perplexity"] > 1 and result.data["unigram_perplexity"] > 1
    assert result.artifacts[0].path == str(tmp_path / "m")


def _loaded(model: Path):
    return load(LoadContext(model=ModelEntry(model.name, str(model), "char-lstm"), device="cpu"))


def test_sampling_streams_chunks_that_make_the_text_and_stop_ends_it_early(trained):
    model = _loaded(trained[0])
    chunks: list[str] = []

    def report(step, total, preview=None, message=None, *, text=None, metrics=None, notice=None):
        if text:
            chunks.append(text)

    request = TextRequest(model="m", prompt="Now is the", max_new_tokens=120, seed=3)
    result = model.run(request, report, lambda: False)
    assert len(result.text) == 120 and "".join(chunks) == result.text and len(chunks) > 5
    assert result.data["stopped"] is False and result.data["new_tokens"] == 120

    def stop_after_three(step, total, preview=None, message=None, *, text=None, metrics=None, notice=None):
        if text:
            chunks.append(text)
            if len(chunks) >= 3:
                raise JobCancelled("stopped")

    chunks.clear()
    with pytest.raises(JobCancelled):
        model.run(request, stop_after_three, lambda: False)
    assert len(chunks) == 3 and "".join(chunks) == result.text[:len("".join(chunks))]

    stopped = model.run(request, lambda *a, **k: None, lambda: True)
    assert stopped.text == "" and stopped.data["stopped"] is True


def test_rewrite_and_watermark_are_refused_with_one_line(trained):
    from studio.plugins import BadInput

    model = _loaded(trained[0])
    with pytest.raises(BadInput, match="only continue"):
        model.run(TextRequest(model="m", prompt="x", mode="rewrite", instruction="shorter", seed=1),
                  lambda *a, **k: None, lambda: False)
    with pytest.raises(BadInput, match="watermark"):
        model.run(TextRequest(model="m", prompt="x", watermark=True, seed=1), lambda *a, **k: None, lambda: False)
