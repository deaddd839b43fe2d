"""SDXL on the ONNX Runtime backend (two text encoders, pooled text and size conditioning), on a tiny
real SDXL folder built from a config: the same request gives the torch picture."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from studio.core.requests import GenerationRequest
from studio.jobs import JobState
from studio.session import StudioSession
from tests.diffusers.test_lora_sdxl import build_tiny_sdxl

TOLERANCE = 2  # of 255, CPU fp32


@pytest.fixture(scope="module")
def tiny_sdxl(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_sdxl(tmp_path_factory.mktemp("models") / "tiny-sdxl")


def _pixels(session: StudioSession, **values) -> list[np.ndarray]:
    job = session.runner.run_now(GenerationRequest(**{"width": 64, "height": 64, "steps": 4, "seed": 5, **values}))
    assert job.state is JobState.DONE, job.error
    return [np.asarray(Image.open(a.path).convert("RGB")).astype(int) for a in job.result.artifacts]


@pytest.mark.parametrize("negative", ["", "blue square"])  # empty: SDXL's zeroed negative conditioning
def test_sdxl_txt2img_on_onnx_is_the_torch_picture(session, tiny_sdxl, negative):
    request = {"model": str(tiny_sdxl), "prompt": "a red circle on the left", "negative_prompt": negative,
               "guidance": 6.0, "batch": 2}
    torch_images = _pixels(session, backend="torch", **request)
    onnx_images = _pixels(session, backend="onnx", **request)
    assert len(onnx_images) == 2
    for a, b in zip(torch_images, onnx_images, strict=True):
        assert np.abs(a - b).max() <= TOLERANCE
    assert np.abs(onnx_images[0] - onnx_images[1]).max() > 0  # seed + i: two different pictures


def test_sdxl_img2img_on_onnx_is_the_torch_picture(session, tiny_sdxl, tmp_path):
    init = tmp_path / "init.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(init)
    request = {"model": str(tiny_sdxl), "prompt": "a blue square on the right", "init_image": str(init),
               "strength": 0.6, "scheduler": "Euler a"}
    torch_image = _pixels(session, backend="torch", **request)[0]
    onnx_image = _pixels(session, backend="onnx", **request)[0]
    assert np.abs(torch_image - onnx_image).max() <= TOLERANCE
    assert np.abs(onnx_image - np.asarray(Image.open(init)).astype(int)).max() > 10  # it did change the picture


def test_sdxl_inpaint_on_onnx_is_the_torch_picture(session, tiny_sdxl, tmp_path):
    from PIL import ImageDraw

    init, mask = tmp_path / "init.png", tmp_path / "mask.png"
    Image.fromarray(np.random.default_rng(2).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(init)
    drawn = Image.new("L", (64, 64), 0)
    ImageDraw.Draw(drawn).rectangle([8, 16, 39, 47], fill=255)  # off-centre: a transposed mask would show
    drawn.save(mask)
    request = {"model": str(tiny_sdxl), "prompt": "a red circle", "init_image": str(init), "mask": str(mask),
               "strength": 0.9}
    torch_image = _pixels(session, backend="torch", **request)[0]
    onnx_image = _pixels(session, backend="onnx", **request)[0]
    assert np.abs(torch_image - onnx_image).max() <= TOLERANCE
    assert np.array_equal(onnx_image[:16], np.asarray(Image.open(init)).astype(int)[:16])  # outside the mask
