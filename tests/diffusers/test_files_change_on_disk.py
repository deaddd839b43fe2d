"""Model and LoRA files changed on disk while the studio has them loaded: loaded again, never used
stale, and never read through the old model (diffusers maps safetensors files and keeps fp32
weights where they lie, so a file rewritten shorter in place would end the process with SIGBUS)."""

import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
from PIL import Image
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from studio.core.requests import GenerationRequest, LoraRef
from studio.jobs import JobState
from studio.session import StudioSession
from tests.fixtures.models import build_tiny_lora


def _render(session: StudioSession, model, **kw) -> np.ndarray:
    request = GenerationRequest(model=str(model), prompt="a red circle", width=32, height=32, steps=2, seed=5,
                                device="cpu", **kw)
    job = session.runner.run_now(request)
    assert job.state is JobState.DONE, job.error
    return np.asarray(Image.open(job.result.artifacts[0].path).convert("RGB"))


def _fresh_render(model, **kw) -> np.ndarray:
    session = StudioSession()
    try:
        return _render(session, model, **kw)
    finally:
        session.close()


def test_a_model_file_saved_again_is_loaded_again_not_used_stale(tiny_sd_folder, tmp_path):
    folder = shutil.copytree(tiny_sd_folder, tmp_path / "model")
    weights = folder / "unet" / "diffusion_pytorch_model.safetensors"
    session = StudioSession()
    try:
        before = _render(session, folder)
        with safe_open(str(weights), "pt") as original:
            metadata = original.metadata()
        halved = {k: v * 0.5 for k, v in load_file(str(weights)).items()}
        save_file(halved, str(tmp_path / "halved.safetensors"), metadata=metadata)
        size = weights.stat().st_size
        os.replace(tmp_path / "halved.safetensors", weights)  # saved the careful way: a new file renamed over
        assert weights.stat().st_size == size  # the same size: the inode and the time tell
        after = _render(session, folder)
    finally:
        session.close()
    assert not np.array_equal(before, after)
    assert np.array_equal(after, _fresh_render(folder))


def test_a_model_file_rewritten_shorter_in_place_is_a_clear_error_not_a_crash(tiny_sd_folder, tmp_path):
    """Run in a child process: before the fix this ended the process with SIGBUS."""
    folder = shutil.copytree(tiny_sd_folder, tmp_path / "model")
    script = textwrap.dedent(f"""
        import shutil
        from safetensors.torch import load_file, save_file
        from studio.core.requests import GenerationRequest
        from studio.session import StudioSession

        weights = {str(folder / "unet" / "diffusion_pytorch_model.safetensors")!r}
        request = GenerationRequest(model={str(folder)!r}, prompt="a red circle", width=32, height=32, steps=2,
                                    seed=5, device="cpu")
        session = StudioSession()
        print("first:", session.runner.run_now(request).state.value)
        tensors = load_file(weights)
        save_file(dict(list(tensors.items())[:4]), {str(tmp_path / "short.safetensors")!r})
        shutil.copyfile({str(tmp_path / "short.safetensors")!r}, weights)
        job = session.runner.run_now(request)
        print("second:", job.state.value)
        print("error:", job.error)
        session.close()
    """)
    child = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=240)
    assert child.returncode == 0, (child.returncode, child.stderr[-2000:])
    lines = child.stdout.splitlines()
    assert "first: done" in lines and "second: failed" in lines, child.stdout
    error = next(line for line in lines if line.startswith("error:"))
    assert "'model' is incomplete: weights are missing from unet" in error


def test_a_lora_saved_again_under_the_same_name_is_loaded_again(tiny_sd_folder, tiny_lora_file, tmp_path):
    lora = shutil.copy(tiny_lora_file, tmp_path / "ink.safetensors")
    other = build_tiny_lora(tiny_sd_folder, tmp_path / "second", seed=1)
    session = StudioSession()
    try:
        before = _render(session, tiny_sd_folder, loras=(LoraRef(str(lora)),))
        os.replace(other, lora)  # a training run that saved again under the same name
        after = _render(session, tiny_sd_folder, loras=(LoraRef(str(lora)),))
    finally:
        session.close()
    assert not np.array_equal(before, after)
    assert np.array_equal(after, _fresh_render(tiny_sd_folder, loras=(LoraRef(str(lora)),)))
