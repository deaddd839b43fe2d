"""Bad values through the session API, as a script or a plugin author would pass them: every request is
refused with one clear :class:`BadInput` where it enters (the queue's submit, ``check_request``, the JSON
readers), and nothing is queued, written or lost."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest

from studio.core.errors import BadInput
from studio.core.requests import (
    ExportRequest,
    GenerationRequest,
    LoraRef,
    TextRequest,
    TrainRequest,
    request_from_dict,
    request_from_json,
)
from tests.hostile.conftest import gallery_images

NAN, INF = math.nan, math.inf
NOT_UTF8 = os.fsdecode(b"caf\xe9")


def gen(**changes):
    return lambda: GenerationRequest(**{"model": "demo", "prompt": "a cat", **changes})


def txt(**changes):
    return lambda: TextRequest(model="demo-text", prompt="Once", **changes)


def train(**changes):
    return lambda: TrainRequest(recipe="demo-image", **changes)


def exp(**changes):
    return lambda: ExportRequest(**{"images": ("a.png",), "out_dir": "/tmp", **changes})


SUBMIT_CASES = [
    ("gen-steps-fraction", gen(steps=2.5), "Steps must be a whole number"),
    ("gen-steps-text", gen(steps="20"), "Steps must be a whole number"),
    ("gen-steps-bool", gen(steps=True), "Steps must be a whole number"),
    ("gen-steps-none", gen(steps=None), "Steps is missing"),
    ("gen-guidance-nan", gen(guidance=NAN), "Guidance must be a finite number"),
    ("gen-guidance-inf", gen(guidance=INF), "Guidance must be a finite number"),
    ("gen-guidance-text", gen(guidance="7"), "Guidance must be a number"),
    ("gen-width-float", gen(width=64.0), "Width must be a whole number"),
    ("gen-width-text", gen(width="64"), "Width must be a whole number"),
    ("gen-height-none", gen(height=None), "Height is missing"),
    ("gen-batch-fraction", gen(batch=1.5), "Batch must be a whole number"),
    ("gen-seed-fraction", gen(seed=2.5), "Seed must be a whole number"),
    ("gen-seed-negative", gen(seed=-1), "Seed must be between"),
    ("gen-seed-text", gen(seed="1"), "Seed must be a whole number"),
    ("gen-strength-nan", gen(strength=NAN), "Strength must be a finite number"),
    ("gen-strength-minus-inf", gen(strength=-INF), "Strength must be a finite number"),
    ("gen-prompt-bytes", gen(prompt=b"a cat"), "Prompt must be text"),
    ("gen-prompt-none", lambda: GenerationRequest(model="demo", prompt=None), "Prompt is missing"),
    ("gen-prompt-not-utf8", gen(prompt=NOT_UTF8), "not UTF-8"),
    ("gen-init-image-nul", gen(init_image="a\x00b.png"), "Init image holds a NUL character"),
    ("gen-model-nul", gen(model="de\x00mo"), "Model holds a NUL character"),
    ("gen-negative-number", gen(negative_prompt=5), "Negative prompt must be text"),
    ("gen-scheduler-none", gen(scheduler=None), "Scheduler is missing"),
    ("gen-model-number", lambda: GenerationRequest(model=5, prompt="p"), "Model must be text"),
    ("gen-model-empty", lambda: GenerationRequest(model="", prompt="p"), "No model chosen"),
    ("gen-backend-unknown", gen(backend="tpu"), "Unknown backend 'tpu'"),
    ("gen-device-unknown", gen(device="tpu"), "Unknown device 'tpu'"),
    ("gen-init-image-number", gen(init_image=3), "Init image must be text"),
    ("gen-loras-a-list", gen(loras=[LoraRef("a.safetensors")]), "Loras must be a list"),
    ("gen-lora-not-a-ref", gen(loras=(("a.safetensors", 1.0),)), "is not a path"),
    ("gen-lora-weight-nan", gen(loras=(LoraRef("a.safetensors", NAN),)), "LoRA weight must be a finite number"),
    ("gen-lora-weight-text", gen(loras=(LoraRef("a.safetensors", "1"),)), "LoRA weight must be a number"),
    ("gen-lora-weight-huge", gen(loras=(LoraRef("a.safetensors", 1e6),)), "out of range"),
    ("gen-lora-path-empty", gen(loras=(LoraRef(""),)), "A LoRA needs a file path"),
    ("text-temperature-nan", txt(temperature=NAN), "Temperature must be a finite number"),
    ("text-temperature-inf", txt(temperature=INF), "Temperature must be a finite number"),
    ("text-top-p-nan", txt(top_p=NAN), "Top p must be a finite number"),
    ("text-top-k-fraction", txt(top_k=2.5), "Top k must be a whole number"),
    ("text-repetition-nan", txt(repetition_penalty=NAN), "Repetition penalty must be a finite number"),
    ("text-repetition-huge", txt(repetition_penalty=1e9), "at most 100"),
    ("text-watermark-bias-nan", txt(watermark_bias=NAN), "Watermark bias must be a finite number"),
    ("text-watermark-bias-huge", txt(watermark_bias=1e9), "between 0 and 100"),
    ("text-watermark-ratio-inf", txt(watermark_ratio=INF), "Watermark ratio must be a finite number"),
    ("text-watermark-key-fraction", txt(watermark_key=1.5), "Watermark key must be a whole number"),
    ("text-detect-threshold-nan", txt(detect_threshold=NAN), "Detect threshold must be a finite number"),
    ("text-max-tokens-fraction", txt(max_new_tokens=10.5), "Max new tokens must be a whole number"),
    ("text-watermark-not-bool", txt(watermark="yes"), "Watermark must be true or false"),
    ("text-mode-unknown", txt(mode="sing"), "Unknown text mode 'sing'"),
    ("text-prompt-not-utf8", lambda: TextRequest(model="demo-text", prompt=NOT_UTF8), "not UTF-8"),
    ("train-steps-fraction", train(steps=2.5), "Steps must be a whole number"),
    ("train-steps-zero", train(steps=0), "Steps must be at least 1"),
    ("train-lr-nan", train(learning_rate=NAN), "Learning rate must be a finite number"),
    ("train-lr-zero", train(learning_rate=0.0), "learning rate must be above 0"),
    ("train-batch-zero", train(batch_size=0), "batch size must be between"),
    ("train-seed-negative", train(seed=-1), "Seed must be between"),
    ("train-option-nan", train(options={"snr_gamma": NAN}), "'snr_gamma' must be a finite number"),
    ("train-options-a-list", train(options=[1]), "Options must be a mapping"),
    ("train-no-recipe", lambda: TrainRequest(), "No training recipe chosen"),
    ("export-quality-fraction", exp(quality=90.5), "Quality must be a whole number"),
    ("export-opacity-nan", exp(visible_opacity=NAN), "Visible opacity must be a finite number"),
    ("export-scale-zero", exp(visible_scale=0.0), "Scale must be above 0"),
    ("export-margin-inf", exp(visible_margin=INF), "Visible margin must be a finite number"),
    ("export-resize-fraction", exp(resize=10.5), "Resize must be a whole number"),
    ("export-owner-negative", exp(watermark_owner=-1), "owner id must be between 0 and 65535"),
    ("export-images-a-list", exp(images=["a.png"]), "Images must be a list"),
    ("export-no-images", lambda: ExportRequest(), "No images to export"),
    ("export-conflict-unknown", exp(conflict="merge"), "Unknown conflict rule"),
]

JSON_CASES = [
    ("json-not-json", "{nope", "not valid JSON"),
    ("json-a-list", "[1, 2]", "not a JSON object"),
    ("json-a-number", "42", "not a JSON object"),
    ("json-nested-deeply", "[" * 100000 + "]" * 100000, "nested too deeply"),
    ("json-no-kind", '{"model": "demo"}', "Unknown request kind 'None'"),
    ("json-kind-a-list", '{"kind": ["generate"]}', "Unknown request kind"),
    ("json-kind-unknown", '{"kind": "paint"}', "Unknown request kind 'paint'"),
    ("json-schema-future", '{"kind": "generate", "schema": 99}', "newer studio"),
    ("json-schema-text", '{"kind": "generate", "schema": "1"}', "newer studio"),
    ("json-unknown-field", '{"kind": "generate", "colour": "red"}', "Unknown field(s) in a generate request: colour"),
    ("json-loras-text", '{"kind": "generate", "loras": "abc"}', "loras must be a list"),
    ("json-loras-numbers", '{"kind": "generate", "loras": [[1, 2, 3]]}', "Malformed generate request"),
    ("json-lora-unknown-key", '{"kind": "generate", "loras": [{"file": "a"}]}', "Malformed generate request"),
    ("json-images-number", '{"kind": "export", "images": 5}', "images must be a list"),
]


@pytest.mark.parametrize(("make", "expect"), [pytest.param(m, e, id=i) for i, m, e in SUBMIT_CASES])
def test_the_queue_refuses_impossible_requests(make, expect, studio_home: Path) -> None:
    from studio.jobs import JobQueue

    queue = JobQueue()
    try:
        with pytest.raises(BadInput) as refused:
            queue.submit(make())
        assert expect in refused.value.user_text()
        assert "\n" not in refused.value.user_text()
        assert queue.jobs() == []
    finally:
        queue.close()
    assert gallery_images(studio_home) == []


@pytest.mark.parametrize(("text", "expect"), [pytest.param(t, e, id=i) for i, t, e in JSON_CASES])
def test_request_json_that_cannot_be_read_is_one_clear_error(text: str, expect: str) -> None:
    with pytest.raises(BadInput) as refused:
        request_from_json(text)
    assert expect in refused.value.user_text()


def test_a_dict_that_is_not_a_dict_is_refused() -> None:
    with pytest.raises(BadInput, match="must be a JSON object"):
        request_from_dict([("kind", "generate")])  # type: ignore[arg-type]


CHECK_CASES = [
    ("check-text-model-for-image", lambda f: GenerationRequest(model="demo-text", prompt="p"),
     "'demo-text' cannot do txt2img"),
    ("check-image-model-for-text", lambda f: TextRequest(model="demo", prompt="p"), "'demo' cannot do text"),
    ("check-init-image-folder", lambda f: GenerationRequest(model="demo", prompt="p", init_image=f["folder"]),
     "is a folder, expected a file"),
    ("check-init-image-30000", lambda f: GenerationRequest(model="demo", prompt="p", init_image=f["huge_30000"]),
     "too large to open safely"),
    ("check-init-image-12000", lambda f: GenerationRequest(model="demo", prompt="p", init_image=f["huge_12000"]),
     "too large to open safely"),
    ("check-mask-fifo", lambda f: GenerationRequest(model="demo", prompt="p", init_image=f["good_png"],
                                                    mask=f["fifo"]), "is a FIFO, expected a file"),
    ("check-lora-pickle", lambda f: GenerationRequest(model="demo", prompt="p",
                                                      loras=(LoraRef(f["lora_pickle"]),)), "not a .safetensors"),
    ("check-lora-garbage", lambda f: GenerationRequest(model="demo", prompt="p",
                                                       loras=(LoraRef(f["lora_garbage"]),)), "not a safetensors"),
]


@pytest.mark.parametrize(("make", "expect"), [pytest.param(m, e, id=i) for i, m, e in CHECK_CASES])
def test_the_session_refuses_before_queueing_or_loading(make, expect, bad_files, studio_home: Path) -> None:
    from studio.session import StudioSession

    session = StudioSession()
    try:
        with pytest.raises(BadInput) as refused:
            session.check_request(make(bad_files))
        assert expect in refused.value.user_text()
        assert session.queue.jobs() == []
        assert not session.models._models  # nothing was loaded
    finally:
        session.close()
    assert gallery_images(studio_home) == []


def test_a_job_whose_init_image_became_too_large_fails_before_loading(bad_files, studio_home: Path) -> None:
    """Queued through the API without ``check_request``: the job itself refuses before a model loads."""
    from studio.jobs import JobState
    from studio.session import StudioSession

    session = StudioSession()
    try:
        job = session.runner.run_now(GenerationRequest(model="demo", prompt="p", init_image=bad_files["huge_12000"]))
        assert job.state is JobState.FAILED
        assert "too large to open safely" in (job.error or "")
        assert not session.models._models
    finally:
        session.close()
    assert gallery_images(studio_home) == []


def test_the_table_is_large() -> None:
    assert len(SUBMIT_CASES) + len(JSON_CASES) + len(CHECK_CASES) >= 80
    assert json.dumps([name for name, _, _ in SUBMIT_CASES + JSON_CASES])  # names are plain text
