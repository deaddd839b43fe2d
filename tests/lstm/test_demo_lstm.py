"""The shipped ``demo-lstm`` (resources/models/demo-lstm) judged by what it writes and by its
held-out perplexity against a unigram baseline, and found by the studio like any demo model."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from functools import cache

import pytest
from studio_lstm import corpus
from studio_lstm.loader import load
from studio_lstm.model import Vocabulary, perplexity, unigram_perplexity

from studio.plugins import RESOURCES, LoadContext, ModelEntry, TextRequest

DEMO = RESOURCES / "models" / "demo-lstm"
PROSE = re.compile(r"[A-Za-z ,.;:!?'\-\n]")
WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")


@cache
def training_text() -> tuple[str, str]:
    return corpus.split_documents(corpus.read_documents(corpus.default_corpus()))


@cache
def demo():
    return load(LoadContext(model=ModelEntry("demo-lstm", str(DEMO), "char-lstm"), device="cpu"))


def studio(*args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "studio.cli.main", *args], capture_output=True, text=True,
                            timeout=120, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_the_studio_lists_demo_lstm_and_writes_with_it_by_name():
    models = json.loads(studio("models", "list", "--json"))
    entry = next(m for m in models if m["name"] == "demo-lstm")
    assert entry["kind"] == "char-lstm"
    text = studio("text", "--model", "demo-lstm", "--prompt", "The king", "--max-new-tokens", "40", "--seed", "2")
    assert len(text.strip()) >= 30


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_demo_lstm_writes_300_characters_of_word_like_text(seed):
    """Measurable word-likeness: >= 97 % of the characters are letters, spaces or punctuation; words
    average 3-6 letters, none longer than 16; >= 85 % of the words occur in the training text."""
    result = demo().run(TextRequest(model="demo-lstm", prompt="The king", max_new_tokens=400, seed=seed),
                        lambda *a, **k: None, lambda: False)
    text = result.text
    assert len(text) == 400
    prose = sum(bool(PROSE.match(c)) for c in text) / len(text)
    words = WORD.findall(text)
    dictionary = set(w.lower() for w in WORD.findall(training_text()[0]))
    known = sum(w.lower() in dictionary for w in words) / len(words)
    mean = sum(map(len, words)) / len(words)
    print(f"seed {seed}: prose {prose:.3f}, {len(words)} words, mean length {mean:.2f}, known {known:.3f}\n{text}")
    assert prose >= 0.97
    assert 3.0 <= mean <= 6.0 and max(map(len, words)) <= 16
    assert known >= 0.85


def test_demo_lstm_perplexity_per_character_beats_the_unigram_baseline():
    """On 20,000 held-out characters (the last tenth of every play, never trained on)."""
    train_text, held_text = training_text()
    model = demo()
    vocab: Vocabulary = model.vocab
    held = vocab.encode(held_text[:20000])
    lstm = perplexity(model.model, held)
    unigram = unigram_perplexity(vocab.encode(train_text), held, len(vocab))
    print(f"held-out perplexity per character: LSTM {lstm:.2f}, unigram {unigram:.2f}")
    assert lstm < unigram / 3
    saved = json.loads((DEMO / "training_metrics.json").read_text(encoding="utf-8"))
    assert saved["held_out_perplexity"] < saved["unigram_perplexity"] / 3
