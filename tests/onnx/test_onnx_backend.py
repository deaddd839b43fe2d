"""Stable Diffusion on the ONNX Runtime backend, against the torch backend on the same requests.

The first test to use a model exports it (~30 s); the others reuse the run's shared export cache.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from studio.core.requests import GenerationRequest, LoraRef
from studio.jobs import JobState

TOLERANCE = 2  # of 255, CPU fp32


def _run(session, **values):
    values = {"prompt": "a red circle on the left", "width": 64, "height": 64, "steps": 5, "seed": 3, **values}
    job = session.runner.run_now(GenerationRequest(**values))
    assert job.state is JobState.DONE, job.error
    return job


def _pixels(job):
    return [np.asarray(Image.open(a.path).convert("RGB")).astype(int) for a in job.result.artifacts]


def _same_on_both(session, **values):
    torch_job = _run(session, backend="torch", **values)
    onnx_job = _run(session, backend="onnx", **values)
    for a, b in zip(_pixels(torch_job), _pixels(onnx_job), strict=True):
        assert np.abs(a - b).max() <= TOLERANCE
    return onnx_job


@pytest.fixture
def init_and_mask(tmp_path):
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(tmp_path / "i.png")
    mask = Image.new("L", (64, 64), 0)
    ImageDraw.Draw(mask).rectangle([16, 16, 47, 47], fill=255)
    mask.save(tmp_path / "m.png")
    return str(tmp_path / "i.png"), str(tmp_path / "m.png")


def test_demo_txt2img_is_the_torch_picture(session):
    job = _same_on_both(session, model="demo", batch=2)
    assert len(job.result.artifacts) == 2
    assert session.events.previews >= 10  # a preview each step, both backends
    assert [s for s in session.events.steps[-5:]] == [(1, 5), (2, 5), (3, 5), (4, 5), (5, 5)]


def test_demo_img2img_and_inpaint_are_the_torch_pictures(session, init_and_mask):
    init, mask = init_and_mask
    _same_on_both(session, model="demo", init_image=init, strength=0.6, scheduler="Euler a",
                  negative_prompt="blue square")
    job = _same_on_both(session, model="demo", init_image=init, mask=mask, strength=0.8,
                        scheduler="DPM++ 2M Karras")
    original, result = np.asarray(Image.open(init)).astype(int), _pixels(job)[0]
    assert np.array_equal(original[:10], result[:10])  # untouched outside the mask


def test_a_second_job_reuses_the_export(session, shared_onnx_cache):
    _run(session, model="demo", backend="onnx")
    files = sorted(shared_onnx_cache.rglob("model.onnx*"))
    stamps = [f.stat().st_mtime_ns for f in files]
    job = _run(session, model="demo", backend="onnx", seed=4)
    assert job.result.data["export_seconds"] is None
    assert [f.stat().st_mtime_ns for f in sorted(shared_onnx_cache.rglob("model.onnx*"))] == stamps
    record = json.loads(Image.open(job.result.artifacts[0].path).text["studio"])
    assert record["backend"] == "onnx" and record["provider"] == "CPU"
    assert record["request"]["backend"] == "onnx"


def test_a_damaged_export_is_rebuilt_with_a_notice(session, shared_onnx_cache):
    before = _pixels(_run(session, model="demo", backend="onnx"))[0]
    for unet in shared_onnx_cache.glob("*/unet/model.onnx"):
        unet.write_bytes(unet.read_bytes()[:1000])  # truncated
    job = _run(session, model="demo", backend="onnx")
    assert job.result.data["export_seconds"] is not None
    assert any("damaged" in notice and "exporting it again" in notice for notice in session.events.notices)
    assert np.array_equal(_pixels(job)[0], before)


def test_tiny_sd_with_a_lora_is_the_torch_picture(session, tiny_sd_folder, tiny_lora_file, init_and_mask):
    lora = (LoraRef(str(tiny_lora_file), 0.7),)
    _same_on_both(session, model=str(tiny_sd_folder), width=32, height=32, loras=lora,
                  init_image=init_and_mask[0], strength=0.5, batch=2)


def test_cancel_stops_within_a_step(session):
    _run(session, model="demo", backend="onnx", steps=2)  # exported before
    session.events.cancel_at = 2
    job = session.runner.run_now(GenerationRequest(model="demo", prompt="p", width=64, height=64, steps=8,
                                                   backend="onnx", seed=1))
    assert job.state is JobState.CANCELLED
    assert max(step for step, total in session.events.steps if total == 8) <= 3


def test_cli_generates_on_onnx_and_info_shows_the_backend(onnx_home, tmp_path, capsys):
    from studio.cli.main import main

    out = tmp_path / "a.png"
    assert main(["generate", "--backend", "onnx", "--model", "demo", "--prompt", "a blue square", "--steps", "3",
                 "--width", "64", "--height", "64", "--seed", "7", "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["info", str(out)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["backend"] == "onnx" and info["provider"] == "CPU" and info["request"]["backend"] == "onnx"


def test_a_size_the_export_cannot_take_is_refused_clearly(onnx_home, tmp_path, capsys):
    from studio.cli.main import main

    code = main(["generate", "--backend", "onnx", "--model", "demo", "--prompt", "p", "--steps", "2",
                 "--width", "72", "--height", "64", "--out", str(tmp_path / "a.png")])
    err = capsys.readouterr().err
    assert code == 2 and "multiples of 16" in err and "Traceback" not in err


def test_an_architecture_that_cannot_be_exported_gives_a_clear_message(onnx_home, tiny_sd_folder, tmp_path, capsys):
    from diffusers import UNet2DConditionModel

    from studio.cli.main import main

    folder = Path(shutil.copytree(tiny_sd_folder, tmp_path / "tiny-lcm"))
    unet = UNet2DConditionModel.from_pretrained(folder / "unet")
    UNet2DConditionModel.from_config({**unet.config, "time_cond_proj_dim": 32}).save_pretrained(folder / "unet")
    code = main(["generate", "--backend", "onnx", "--model", str(folder), "--prompt", "p", "--steps", "2",
                 "--width", "32", "--height", "32", "--out", str(tmp_path / "a.png")])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "cannot run on the ONNX backend" in err and "LCM" in err and "Traceback" not in err
