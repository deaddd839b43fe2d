"""Continue, Rewrite and Stop with a Llama-architecture folder no one trained, loaded as a user's model."""

from __future__ import annotations

import threading

import pytest

from studio.core.errors import BadInput, ModelError
from studio.core.paths import DEMO_MODELS
from studio.core.requests import TextRequest
from studio.jobs import JobState
from tests.text.conftest import load_through_plugin


def _request(folder, **kw) -> TextRequest:
    values = {"model": str(folder), "prompt": "The studio draws", "max_new_tokens": 40, "seed": 3, **kw}
    return TextRequest(**values)


def test_continue_streams_in_several_chunks(text_session, tiny_llama_folder):
    job = text_session.runner.run_now(_request(tiny_llama_folder))
    assert job.state is JobState.DONE, job.error
    chunks = text_session.events.chunks
    assert len(chunks) >= 3
    assert "".join(chunks) == job.result.text
    steps = [s for s, _text in text_session.events.texts]
    assert steps == sorted(steps) and steps[0] >= 1 and steps[-1] <= 40  # tokens generated so far
    assert job.result.data["new_tokens"] == 40


def test_same_seed_same_text_other_seed_other_text(text_session, tiny_llama_folder):
    first = text_session.runner.run_now(_request(tiny_llama_folder, seed=11)).result.text
    again = text_session.runner.run_now(_request(tiny_llama_folder, seed=11)).result.text
    other = text_session.runner.run_now(_request(tiny_llama_folder, seed=12)).result.text
    assert first == again
    assert first != other


def test_stop_halts_within_one_token(loaded_tiny_llama):
    model = loaded_tiny_llama
    stop = threading.Event()
    seen: dict[str, int] = {}

    def report(step, total, preview=None, message=None, **_events):
        if step >= 5 and not stop.is_set():
            stop.set()  # the user presses Stop now …
            seen["at_stop"] = model.tokens_generated  # … when this many tokens exist

    result = model.run(_request("m", max_new_tokens=200), report, stop.is_set)
    assert result.data["stopped"]
    assert result.data["new_tokens"] <= seen["at_stop"] + 1
    assert result.data["new_tokens"] < 200


def test_stop_through_the_job_runner_cancels_the_job(text_session, tiny_llama_folder):
    runner = text_session.runner

    def cancel_after_a_few(job_id, step, total, message):
        if step >= 5:
            runner.cancel(job_id)

    text_session.events.on_progress = cancel_after_a_few
    job = runner.run_now(_request(tiny_llama_folder, max_new_tokens=200))
    assert job.state is JobState.CANCELLED
    assert len(text_session.events.chunks) < 20


def test_long_prompt_is_trimmed_from_the_left_with_a_notice(text_session, tiny_llama_folder):
    prompt = " ".join(f"word{i}" for i in range(400)) + " THE END"
    job = text_session.runner.run_now(_request(tiny_llama_folder, prompt=prompt, max_new_tokens=16))
    assert job.state is JobState.DONE, job.error
    notices = job.result.data["notices"]
    assert len(notices) == 1 and "left out" in notices[0]
    assert job.result.data["prompt_tokens"] == 256 - 16
    assert any("left out" in notice for notice in text_session.events.notices)


def test_rewrite_uses_the_chat_template_when_there_is_one(text_session, tiny_chat_llama_folder, tiny_llama_folder):
    chat = text_session.runner.run_now(
        _request(tiny_chat_llama_folder, prompt="a red circle", mode="rewrite", instruction="Make it poetic"))
    assert chat.state is JobState.DONE, chat.error
    assert chat.result.data["mode"] == "rewrite" and chat.result.text
    assert len(text_session.events.chunks) >= 2

    model = load_through_plugin(tiny_chat_llama_folder)
    assert model.has_chat_template
    ids, _ = model.prompt_ids(_request("m", prompt="a red circle", mode="rewrite", instruction="Make it poetic"))
    seen = model.tokenizer.decode(ids[0])
    assert "<|assistant|>" in seen and "Make it poetic" in seen and "a red circle" in seen

    plain = text_session.runner.run_now(
        _request(tiny_llama_folder, prompt="a red circle", mode="rewrite", instruction="Make it poetic"))
    assert plain.state is JobState.DONE, plain.error


def test_rewrite_completion_prompt_without_template(loaded_tiny_llama):
    request = _request("m", prompt="a red circle", mode="rewrite", instruction="Shorter")
    ids, notices = loaded_tiny_llama.prompt_ids(request)
    text = loaded_tiny_llama.tokenizer.decode(ids[0])
    assert text.endswith("Rewritten:") and "Original: a red circle" in text and not notices


def test_empty_prompt_is_a_clear_error():
    with pytest.raises(BadInput, match="prompt is empty"):
        TextRequest(model="demo-text", prompt="  \n").validate()
    with pytest.raises(BadInput, match="Nothing is selected"):
        TextRequest(model="demo-text", prompt="", mode="rewrite").validate()


def test_model_folder_without_tokenizer_is_a_clear_error(text_session, no_tokenizer_folder):
    job = text_session.runner.run_now(_request(no_tokenizer_folder))
    assert job.state is JobState.FAILED
    assert isinstance(text_session.runner.last_error, ModelError)
    assert "has no tokenizer" in job.error and "Copy the tokenizer files" in job.error


def test_model_too_large_for_memory_is_a_clear_error(text_session, tiny_llama_folder, monkeypatch):
    import studio_transformers.loader as loader

    monkeypatch.setattr(loader, "_available_memory", lambda: 1000)
    job = text_session.runner.run_now(_request(tiny_llama_folder))
    assert job.state is JobState.FAILED
    assert "of memory is free" in job.error and "smaller" in job.error


@pytest.mark.skipif(not (DEMO_MODELS / "demo-text" / "model.safetensors").is_file(),
                    reason="resources/models/demo-text is not built (studio train demo-text)")
def test_demo_text_a_model_no_test_built_streams_and_stops(text_session):
    job = text_session.runner.run_now(TextRequest(model="demo-text", prompt="The", max_new_tokens=30, seed=5))
    assert job.state is JobState.DONE, job.error
    assert len(text_session.events.chunks) >= 5

    def stop_early(job_id, step, total, message):
        if step >= 3:
            text_session.runner.cancel(job_id)

    text_session.events.on_progress = stop_early
    stopped = text_session.runner.run_now(TextRequest(model="demo-text", prompt="The", max_new_tokens=100, seed=5))
    assert stopped.state is JobState.CANCELLED
