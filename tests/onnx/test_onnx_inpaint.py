"""Inpainting and outpainting on the ONNX Runtime backend with the UNets diffusers' inpaint pipeline
takes (4-channel SD, 9-channel inpainting models): the same request gives the torch picture."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from studio.core.requests import GenerationRequest
from studio.jobs import JobState
from studio.session import StudioSession

TOLERANCE = 2  # of 255, CPU fp32


@pytest.fixture(scope="module")
def tiny_inpainting_folder(tiny_sd_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny SD folder with a 9-channel UNet (latents + mask + masked-image latents), as SD inpainting."""
    import torch
    from diffusers import UNet2DConditionModel

    folder = Path(shutil.copytree(tiny_sd_folder, tmp_path_factory.mktemp("models") / "tiny-inpainting"))
    unet = UNet2DConditionModel.from_pretrained(folder / "unet")
    torch.manual_seed(3)
    UNet2DConditionModel.from_config({**unet.config, "in_channels": 9}).save_pretrained(folder / "unet")
    return folder


@pytest.fixture
def photo_and_mask(tmp_path) -> tuple[str, str]:
    Image.fromarray(np.random.default_rng(2).integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(tmp_path / "p.png")
    mask = Image.new("L", (32, 32), 0)
    ImageDraw.Draw(mask).rectangle([4, 8, 19, 27], fill=255)  # off-centre: a transposed mask would show
    mask.save(tmp_path / "m.png")
    return str(tmp_path / "p.png"), str(tmp_path / "m.png")


def _pixels(session: StudioSession, **values) -> list[np.ndarray]:
    values = {"prompt": "a red circle", "width": 32, "height": 32, "steps": 4, "seed": 9, **values}
    job = session.runner.run_now(GenerationRequest(**values))
    assert job.state is JobState.DONE, job.error
    return [np.asarray(Image.open(a.path).convert("RGB")).astype(int) for a in job.result.artifacts]


def _same_on_both(session, **values) -> np.ndarray:
    torch_images, onnx_images = _pixels(session, backend="torch", **values), _pixels(session, backend="onnx", **values)
    for a, b in zip(torch_images, onnx_images, strict=True):
        assert np.abs(a - b).max() <= TOLERANCE
    return onnx_images[0]


@pytest.mark.parametrize("strength", [0.7, 1.0])
def test_a_4_channel_sd_inpaints_on_onnx_as_on_torch(session, tiny_sd_folder, photo_and_mask, strength):
    photo, mask = photo_and_mask
    result = _same_on_both(session, model=str(tiny_sd_folder), init_image=photo, mask=mask, strength=strength,
                           batch=2, scheduler="DPM++ 2M Karras")
    original = np.asarray(Image.open(photo)).astype(int)
    assert np.array_equal(result[:8], original[:8])  # outside the mask: the photo
    assert np.abs(result[12:20, 8:16] - original[12:20, 8:16]).max() > 10  # inside: repainted


@pytest.mark.parametrize("strength", [0.8, 1.0])
def test_a_9_channel_inpainting_model_runs_on_onnx_as_on_torch(session, tiny_inpainting_folder, photo_and_mask,
                                                                strength):
    photo, mask = photo_and_mask
    _same_on_both(session, model=str(tiny_inpainting_folder), init_image=photo, mask=mask, strength=strength,
                  negative_prompt="blue")


def test_outpainting_a_widened_photo_on_onnx(session, tiny_sd_folder, tmp_path):
    """Outpaint is what the canvas's Extend sends: the photo on a wider canvas, the new strip masked."""
    photo = Image.fromarray(np.random.default_rng(4).integers(0, 255, (32, 32, 3), dtype=np.uint8))
    wide = Image.new("RGB", (48, 32), (127, 127, 127))
    wide.paste(photo, (0, 0))
    mask = Image.new("L", (48, 32), 0)
    ImageDraw.Draw(mask).rectangle([32, 0, 47, 31], fill=255)
    wide.save(tmp_path / "wide.png")
    mask.save(tmp_path / "strip.png")
    result = _same_on_both(session, model=str(tiny_sd_folder), init_image=str(tmp_path / "wide.png"),
                           mask=str(tmp_path / "strip.png"), strength=1.0, width=48, height=32)
    assert np.array_equal(result[:, :32], np.asarray(photo).astype(int))


def test_an_inpainting_model_without_a_mask_is_refused_clearly_on_onnx(session, tiny_inpainting_folder):
    job = session.runner.run_now(GenerationRequest(model=str(tiny_inpainting_folder), prompt="p", width=32,
                                                   height=32, steps=2, seed=1, backend="onnx"))
    assert job.state is JobState.FAILED
    assert "inpainting model" in job.error and "mask" in job.error
