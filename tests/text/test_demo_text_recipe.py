"""The demo-text recipe on a tiny corpus: a model folder the plugin loads; clear errors on bad data."""

from __future__ import annotations

import argparse
import json

import pytest

from studio.training.errors import DatasetError
from studio.training.recipes import demo_text

PLAY = """# The {name}

## ACT I

### SCENE I. A room.

_Enter KING and QUEEN_

**KING**
Good morrow, my lord, and welcome to the court.
What news from France?

**QUEEN**
The king is dead, my lord; long live the king!

_Exeunt_
"""


def _args(**kw) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    demo_text.add_arguments(parser)
    return parser.parse_args([f"--{k.replace('_', '-')}={v}" for k, v in kw.items()])


def test_play_paragraphs_drop_speakers_headings_and_stage_directions():
    paragraphs = demo_text.play_paragraphs(PLAY.format(name="Test"))
    assert paragraphs == ["Good morrow, my lord, and welcome to the court. What news from France?",
                          "The king is dead, my lord; long live the king!"]


def test_recipe_trains_a_model_the_plugin_loads(tmp_path):
    corpus = tmp_path / "plays"
    corpus.mkdir()
    for i in range(4):
        (corpus / f"play-{i}.md").write_text(PLAY.format(name=f"Play {i}") * 6)
    out = tmp_path / "model"
    args = _args(out=out, run_dir=tmp_path / "run", corpus_dir=corpus, steps=3, batch_size=2, block=16,
                 vocab_size=300, hidden=64, layers=1)
    assert demo_text.run(args) == 0
    metrics = json.loads((out / "training_metrics.json").read_text())
    assert metrics["held_out_perplexity"] > 0 and metrics["unigram_perplexity"] > 0
    assert {p.name for p in out.iterdir()} >= {"config.json", "model.safetensors", "tokenizer.json"}

    again = tmp_path / "again"
    assert demo_text.run(_args(out=again, run_dir=tmp_path / "run2", corpus_dir=corpus, steps=3, batch_size=2,
                               block=16, vocab_size=300, hidden=64, layers=1)) == 0
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
    with pytest.raises(DatasetError, match="No play"):
        demo_text.run(_args(out=tmp_path / "m", run_dir=tmp_path / "r", corpus_dir=tmp_path / "empty"))
