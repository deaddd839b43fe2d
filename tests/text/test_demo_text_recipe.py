"""The demo-text recipe (the transformers plugin's trainer) on a tiny corpus: a model folder the
plugin loads, the same model from the same seed, clear errors on bad data."""

from __future__ import annotations

import json

import pytest
from studio_transformers import demo_text
from studio_transformers.train import train

from studio.core.requests import TrainRequest
from studio.plugins.training import DatasetError
from tests.training.train_helpers import PLAY, TINY, write_corpus


def _request(run_dir, steps: int = 3, **options) -> TrainRequest:
    tiny = {k: v for k, v in TINY.items() if k != "batch_size"}
    return TrainRequest(recipe="demo-text", run_dir=str(run_dir), steps=steps, batch_size=TINY["batch_size"],
                        learning_rate=2e-3, resume=True, options={**tiny, **{k: str(v) for k, v in options.items()}})


def _quiet(*args, **kwargs) -> None:
    pass


def test_play_paragraphs_drop_speakers_headings_and_stage_directions():
    paragraphs = demo_text.play_paragraphs(PLAY.format(name="Test"))
    assert paragraphs == ["Good morrow, my lord, and welcome to the court. What news from France?",
                          "The king is dead, my lord; long live the king!"]


def test_recipe_trains_a_model_the_plugin_loads(tmp_path):
    corpus = write_corpus(tmp_path / "plays")
    out = tmp_path / "model"
    result = train(_request(tmp_path / "run", out=out, corpus_dir=corpus), _quiet, lambda: False)
    assert result.data["steps"] == 3 and result.artifacts[0].path == str(out)
    metrics = json.loads((out / "training_metrics.json").read_text())
    assert metrics["held_out_perplexity"] > 0 and metrics["unigram_perplexity"] > 0
    assert {p.name for p in out.iterdir()} >= {"config.json", "model.safetensors", "tokenizer.json"}

    again = tmp_path / "again"
    train(_request(tmp_path / "run2", out=again, corpus_dir=corpus), _quiet, lambda: False)
    for name in ("model.safetensors", "tokenizer.json"):  # a rebuild from nothing is the same model
        assert (again / name).read_bytes() == (out / name).read_bytes()

    from tests.text.conftest import load_through_plugin

    model = load_through_plugin(out)
    from studio.core.requests import TextRequest

    result = model.run(TextRequest(model="m", prompt="The king", max_new_tokens=5, seed=1),
                       lambda *a, **k: None, lambda: False)
    assert result.data["new_tokens"] >= 1


def test_empty_corpus_folder_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    request = _request(tmp_path / "r", out=tmp_path / "m", corpus_dir=tmp_path / "empty")
    with pytest.raises(DatasetError, match="No play") as info:
        train(request, _quiet, lambda: False)
    assert info.value.exit_code == 2


def test_a_recipe_the_family_does_not_have_is_bad_input(tmp_path):
    from studio.plugins import BadInput

    with pytest.raises(BadInput, match="no training recipe 'demo-image'"):
        train(TrainRequest(recipe="demo-image", run_dir=str(tmp_path)), _quiet, lambda: False)
