"""Prompt weighting in A1111 syntax (issue #16.1): the parser, the shipped demo model (SD 1.x), a tiny
SDXL, the command line (infotext, sd-parsers, regenerate) and the ONNX backend's refusal."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from studio_diffusers.prompt_weights import Fragment, parse_prompt, prompt_arguments

from studio.cli.main import main
from studio.core.requests import GenerationRequest
from studio.jobs import JobState
from studio.session import StudioSession
from tests.ui.conftest import make_window, ui_plugins  # noqa: F401 (the window fixtures)

UP, DOWN = 1.1, 1 / 1.1
CAPTION = "a large red circle on the left on a white background"  # 11 demo tokens, one a word


@pytest.mark.parametrize(("text", "expected"), [
    ("a (red:1.4) circle", [[("a ", 1.0), ("red", 1.4), (" circle", 1.0)]]),
    ("(red) [blue]", [[("red", UP), (" ", 1.0), ("blue", DOWN)]]),
    ("((red))", [[("red", UP * UP)]]),
    ("(a [b] c:1.5)", [[("a ", 1.5), ("b", 1.5 * DOWN), (" c", 1.5)]]),
    ("(red: 0.5 )", [[("red", 0.5)]]),
    (r"a \(literal\) [square\]", [[("a (literal) ", 1.0), ("square]", DOWN)]]),
    ("red BREAK blue", [[("red", 1.0)], [("blue", 1.0)]]),
    ("(unclosed", [[("unclosed", UP)]]),
    ("closed) a: b", [[("closed) a: b", 1.0)]]),
    ("(x:1.2.3)", [[("x:1.2.3)", UP)]]),  # not a number: literal text, the bracket stays open
    ("", [[]]),
])
def test_a1111_syntax_parses_to_weighted_fragments(text, expected):
    got = [[(f.text, f.weight) for f in segment] for segment in parse_prompt(text)]
    assert [[t for t, _ in s] for s in got] == [[t for t, _ in s] for s in expected]
    assert [w for s in got for _, w in s] == pytest.approx([w for s in expected for _, w in s])
    assert all(isinstance(f, Fragment) for segment in parse_prompt(text) for f in segment)


@pytest.fixture
def session():
    session = StudioSession()
    yield session
    session.close()


def _render(session, model, **fields) -> np.ndarray:
    values = {"prompt": CAPTION, "steps": 4, "seed": 3, "width": 64, "height": 64, "guidance": 2.0, **fields}
    job = session.runner.run_now(GenerationRequest(model=str(model), **values))
    assert job.state is JobState.DONE, job.error
    return np.stack([np.asarray(Image.open(a.path).convert("RGB")).astype(int) for a in job.result.artifacts])


def test_weights_long_prompts_and_break_change_the_demo_picture_and_plain_prompts_do_not(session, tmp_path):
    plain = _render(session, "demo")
    assert np.array_equal(plain, _render(session, "demo", prompt_weighting=False))  # today's picture

    weighted_prompt = CAPTION.replace("red", "(red:1.4)")
    weighted = _render(session, "demo", prompt=weighted_prompt)
    literal = _render(session, "demo", prompt=weighted_prompt, prompt_weighting=False)
    assert not np.array_equal(weighted, plain) and not np.array_equal(weighted, literal)
    assert not np.array_equal(_render(session, "demo", prompt=CAPTION.replace("red", "[red]")), plain)
    assert not np.array_equal(_render(session, "demo", prompt=CAPTION.replace(" on the left", " BREAK on the left")),
                              plain)
    assert not np.array_equal(_render(session, "demo", negative_prompt="(blue:1.5)"),
                              _render(session, "demo", negative_prompt="blue"))

    # ~100 tokens: the last word is past token 77; weighting on reads it, the literal path cuts it off
    long = " ".join([CAPTION] * 9)
    assert len(long.split()) == 99
    ends_blue, ends_green = long + " blue", long + " green"
    assert not np.array_equal(_render(session, "demo", prompt=ends_blue), _render(session, "demo", prompt=ends_green))
    assert np.array_equal(_render(session, "demo", prompt=ends_blue, prompt_weighting=False),
                          _render(session, "demo", prompt=ends_green, prompt_weighting=False))

    # a batch of weighted pictures: picture i is the single picture of seed + i; img2img takes weights too
    batch = _render(session, "demo", prompt=weighted_prompt, batch=2, seed=10)
    assert np.abs(batch[1] - _render(session, "demo", prompt=weighted_prompt, seed=11)[0]).max() <= 1
    Image.fromarray(plain[0].astype(np.uint8)).save(tmp_path / "init.png")
    init = str(tmp_path / "init.png")
    assert not np.array_equal(_render(session, "demo", prompt=weighted_prompt, init_image=init, strength=0.6),
                              _render(session, "demo", prompt=weighted_prompt, init_image=init, strength=0.6,
                                      prompt_weighting=False))


def test_the_infotext_keeps_the_weights_and_regenerate_is_byte_identical(tmp_path, capsys):
    from sd_parsers import ParserManager

    prompt = "a large (red:1.4) circle BREAK on the left on a [white] background"
    args = ["generate", "--model", "demo", "--prompt", prompt, "--negative-prompt", "(blue:1.2)",
            "--steps", "4", "--seed", "7"]
    assert main([*args, "--out", str(tmp_path / "a.png")]) == 0
    assert main([*args, "--no-prompt-weighting", "--out", str(tmp_path / "literal.png")]) == 0
    capsys.readouterr()
    assert main(["info", str(tmp_path / "a.png")]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["request"]["prompt"] == prompt and info["request"]["prompt_weighting"] is True
    assert info["parameters"].startswith(prompt + "\nNegative prompt: (blue:1.2)\n")
    sampler = ParserManager().parse(str(tmp_path / "a.png")).samplers[0]
    assert [p.value for p in sampler.prompts] == [prompt]
    assert [p.value for p in sampler.negative_prompts] == ["(blue:1.2)"]

    pixels = np.asarray(Image.open(tmp_path / "a.png"))
    assert not np.array_equal(pixels, np.asarray(Image.open(tmp_path / "literal.png")))
    for name in ("a", "literal"):
        assert main(["regenerate", str(tmp_path / f"{name}.png"), "--out", str(tmp_path / f"{name}-again.png")]) == 0
        assert (tmp_path / f"{name}-again.png").read_bytes() == (tmp_path / f"{name}.png").read_bytes()


def test_a_record_from_before_weighting_regenerates_with_the_literal_text(tmp_path):
    from PIL.PngImagePlugin import PngInfo

    from studio.core.imagemeta import request_from_image
    from studio.core.requests import request_from_dict
    from studio.ui.recall import recall

    record = {**GenerationRequest(model="demo", prompt="a (red:1.4) circle", seed=1).to_dict(), "schema": 1}
    del record["prompt_weighting"]  # what a studio before schema 2 wrote
    info = PngInfo()
    info.add_text("studio", json.dumps({"request": record}))
    Image.new("RGB", (8, 8)).save(tmp_path / "old.png", pnginfo=info)
    assert request_from_image(tmp_path / "old.png").prompt_weighting is False  # studio regenerate
    assert recall(str(tmp_path / "old.png"))[1]["prompt_weighting"] is False  # the window's recall
    assert request_from_dict(record).prompt_weighting is False  # the gallery and the queue
    new = GenerationRequest(model="demo", prompt="a (red:1.4) circle").to_dict()
    assert new["schema"] == 2 and request_from_dict(new).prompt_weighting is True
    assert request_from_dict({"kind": "generate", "model": "demo"}).prompt_weighting is True


@pytest.fixture(scope="module")
def tiny_sdxl_pipe(tmp_path_factory):
    from diffusers import StableDiffusionXLPipeline

    from tests.diffusers.test_lora_sdxl import build_tiny_sdxl

    folder = build_tiny_sdxl(tmp_path_factory.mktemp("models") / "tiny-sdxl")
    return folder, StableDiffusionXLPipeline.from_pretrained(folder)


def test_sdxl_weights_both_text_encoders_and_pads_the_negative_to_a_long_prompt(tiny_sdxl_pipe, session):
    folder, pipe = tiny_sdxl_pipe
    long = " ".join(["a red circle on the left"] * 16)  # several chunks of 77 tokens
    arguments = prompt_arguments(pipe, GenerationRequest(model="x", prompt=f"({long}:1.2)", batch=2))
    batch, tokens, features = arguments["prompt_embeds"].shape
    assert (batch, features) == (2, 32) and tokens > 77 and tokens % 77 == 0  # both encoders' 16 features
    assert arguments["negative_prompt_embeds"].shape == (2, tokens, 32)
    assert not arguments["negative_prompt_embeds"].any()  # an empty negative is zeros, as diffusers does
    assert arguments["pooled_prompt_embeds"].shape == (2, 16)
    unweighted = prompt_arguments(pipe, GenerationRequest(model="x", prompt=long))["prompt_embeds"]
    for half in (slice(0, 16), slice(16, 32)):  # the weight reaches each encoder's states
        assert not np.allclose(arguments["prompt_embeds"][0, :, half].numpy(), unweighted[0, :, half].numpy())
    assert prompt_arguments(pipe, GenerationRequest(model="x", prompt="a red circle")) == {
        "prompt": ["a red circle"], "negative_prompt": None}

    plain = _render(session, folder, prompt="a red circle on the left", steps=3)
    weighted = _render(session, folder, prompt="a (red:1.5) circle on the left", steps=3, negative_prompt="[blue]")
    assert np.array_equal(plain, _render(session, folder, prompt="a red circle on the left", steps=3,
                                         prompt_weighting=False))
    assert not np.array_equal(plain, weighted)


def test_hostile_prompts_are_parsed_in_linear_time_and_refused_in_one_line(tiny_sdxl_pipe):
    import time

    from studio.core.errors import BadInput

    _, pipe = tiny_sdxl_pipe
    started = time.perf_counter()
    assert len(parse_prompt("(a" * 20_000)[0]) > 1000  # 20,000 unclosed brackets: each weighs to the end
    assert len(parse_prompt("\\(" * 100_000)[0]) == 1  # 100,000 escaped brackets: one literal fragment
    assert time.perf_counter() - started < 3
    with pytest.raises(BadInput, match="too large to use"):  # 1.1 ** 20000 is not a finite weight
        prompt_arguments(pipe, GenerationRequest(model="x", prompt="(a" * 20_000))
    with pytest.raises(BadInput, match="negative prompt is too long to weight"):
        prompt_arguments(pipe, GenerationRequest(model="x", prompt="a", negative_prompt="red " * 5000))
    short = GenerationRequest(model="x", prompt="red " * 5000, prompt_weighting=False)
    assert prompt_arguments(pipe, short)["prompt"] == [short.prompt]  # off: the pipeline cuts it, as before


def test_the_onnx_backend_refuses_weighting_before_exporting(session, tiny_sd_folder):
    request = GenerationRequest(model=str(tiny_sd_folder), backend="onnx", prompt="a (red:1.4) circle", seed=1,
                                steps=2, width=32, height=32)
    job = session.runner.run_now(request)
    assert job.state is JobState.FAILED
    assert "not available on the ONNX backend" in job.error and "--no-prompt-weighting" in job.error


def test_the_prompt_panel_turns_weighting_off_per_request(make_window):  # noqa: F811 (imported fixture)
    panel = make_window().prompt_panel
    assert panel.prompt_weighting.isChecked()
    panel.view_model.set("model", "/m/x")
    assert panel.request().prompt_weighting is True
    panel.prompt_weighting.setChecked(False)
    assert panel.request().prompt_weighting is False
    panel.view_model.set_request(GenerationRequest(model="/m/x", prompt="a (red:1.4) circle"))  # "Use these settings"
    assert panel.prompt_weighting.isChecked() and panel.request().prompt_weighting is True
