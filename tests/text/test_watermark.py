"""Green-list watermark: 200 generated tokens are detected (z >= 4), text people wrote is not (z < 3).

The false-positive rate over all human paragraphs is measured by bench/text_watermark_fpr.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio.core.paths import DEMO_MODELS
from studio.core.requests import TextRequest
from studio.jobs import JobState
from tests.text.conftest import human_paragraphs


def _detect(model, text: str, **kw) -> dict:
    return model.run(TextRequest(model="m", prompt=text, mode="detect", **kw), lambda *a, **k: None, lambda: False).data


def test_watermarked_generations_are_detected_and_carry_their_settings(text_session, tiny_llama_folder):
    for seed in (1,):
        request = TextRequest(model=str(tiny_llama_folder), prompt="The studio", max_new_tokens=200, seed=seed,
                              watermark=True, watermark_key=777)
        job = text_session.runner.run_now(request)
        assert job.state is JobState.DONE, job.error
        settings = job.result.data["watermark"]
        assert settings["hashing_key"] == 777 and settings["greenlist_ratio"] == 0.25
        check = text_session.runner.run_now(
            TextRequest(model=str(tiny_llama_folder), prompt=job.result.text, mode="detect", watermark_key=777))
        assert check.result.data["z_score"] >= 4
        assert check.result.data["detected"]
        wrong_key = text_session.runner.run_now(
            TextRequest(model=str(tiny_llama_folder), prompt=job.result.text, mode="detect", watermark_key=778))
        assert wrong_key.result.data["z_score"] < 3


def test_unmarked_generation_and_human_text_are_not_detected(loaded_tiny_llama):
    plain = loaded_tiny_llama.run(TextRequest(model="m", prompt="The studio", max_new_tokens=200, seed=1),
                                  lambda *a, **k: None, lambda: False)
    assert _detect(loaded_tiny_llama, plain.text)["z_score"] < 3
    paragraphs = human_paragraphs()[:20]
    assert len(paragraphs) == 20
    scores = [_detect(loaded_tiny_llama, p)["z_score"] for p in paragraphs]
    # With this tiny 512-token vocabulary the null distribution has heavy tails (z >= 3 in about one
    # paragraph in ten, varying with the repo's docs), so here: none flagged, no drift upwards. The
    # acceptance figure (z < 3 on human text) is checked on demo-text below.
    assert max(scores) < 4, scores
    assert sum(scores) / len(scores) < 1.0, scores


@pytest.mark.skipif(not (DEMO_MODELS / "demo-text" / "model.safetensors").is_file(),
                    reason="resources/models/demo-text is not built (studio train demo-text)")
def test_human_paragraphs_score_below_three_with_demo_text():
    from studio.core.library import ModelLibrary
    from studio.plugins import LoadContext, PluginRegistry

    registry = PluginRegistry(paths=[])
    registry.discover()
    load = registry.load_callable(registry.get("transformers"))
    entry = ModelLibrary(identifiers=registry.identifiers()).resolve("demo-text")
    model = load(LoadContext(model=entry, device="cpu"))
    # A fixed corpus: the repository's prose when the goal (#5: human text below z 3) was measured,
    # 94 paragraphs, so editing the docs cannot move this test. bench/text_watermark_fpr.py measures
    # today's prose (README, docs, DESIGN, docstrings) and bench/README.md reports it.
    paragraphs = (Path(__file__).parent / "human_paragraphs.txt").read_text(encoding="utf-8").split("\n\n")
    assert len(paragraphs) >= 90
    scores = [_detect(model, p)["z_score"] for p in paragraphs]
    assert max(scores) < 3, sorted(scores)[-5:]
