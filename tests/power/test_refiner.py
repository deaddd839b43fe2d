"""The SDXL refiner hand-off (issue 16.4) on two tiny SDXL folders: a base and a refiner built from
configs as diffusers' tests do (the refiner: only text_encoder_2, aesthetic-score time ids)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from studio.cli.main import main
from studio.core.imagemeta import parse_infotext, read_metadata
from studio.core.requests import GenerationRequest
from tests.diffusers.test_lora_sdxl import build_tiny_sdxl


def build_tiny_refiner(base: Path, folder: Path) -> Path:
    """A tiny SDXL refiner sharing the base's VAE (the latents it takes are the base's)."""
    import torch
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionXLImg2ImgPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModelWithProjection, CLIPTokenizer

    torch.manual_seed(1)
    unet = UNet2DConditionModel(
        block_out_channels=(8, 16), layers_per_block=1, sample_size=8, in_channels=4, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4), use_linear_projection=True, addition_embed_type="text_time",
        addition_time_embed_dim=4, transformer_layers_per_block=(1, 1),
        projection_class_embeddings_input_dim=5 * 4 + 16,  # size, crop and aesthetic score × embed dim + pooled
        cross_attention_dim=16, norm_num_groups=4,
    )
    words = ["a", "red", "blue", "circle", "square", "on", "the", "left", "right", "cat"]
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1, **{f"{w}</w>": i + 2 for i, w in enumerate(words)}}
    config = CLIPTextConfig(bos_token_id=0, eos_token_id=1, hidden_size=16, intermediate_size=32,
                            num_attention_heads=2, num_hidden_layers=1, vocab_size=len(vocab),
                            max_position_embeddings=77, projection_dim=16, hidden_act="gelu")
    pipe = StableDiffusionXLImg2ImgPipeline(
        vae=AutoencoderKL.from_pretrained(base / "vae"), unet=unet, text_encoder=None, tokenizer=None,
        text_encoder_2=CLIPTextModelWithProjection(config),
        tokenizer_2=CLIPTokenizer(vocab=vocab, merges=[], model_max_length=77),
        scheduler=EulerDiscreteScheduler(beta_schedule="scaled_linear", steps_offset=1, timestep_spacing="leading"),
        requires_aesthetics_score=True, force_zeros_for_empty_prompt=False,
    )
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder


@pytest.fixture(scope="module")
def sdxl_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("sdxl-pair")
    base = build_tiny_sdxl(root / "base")
    return base, build_tiny_refiner(base, root / "refiner")


def generate(base: Path, out: Path, *extra: str) -> np.ndarray:
    rc = main(["generate", "--model", str(base), "--prompt", "a red circle", "--width", "32", "--height", "32",
               "--steps", "5", "--seed", "3", "--out", str(out), *extra])
    assert rc == 0
    return np.asarray(Image.open(out).convert("RGB")).astype(int)


def test_the_refiner_takes_over_at_the_chosen_fraction_and_regenerate_reproduces(sdxl_pair, tmp_path, capsys):
    base, refiner = sdxl_pair
    alone = generate(base, tmp_path / "base.png")
    late = generate(base, tmp_path / "late.png", "--refiner", str(refiner), "--refiner-at", "0.8")
    early = generate(base, tmp_path / "early.png", "--refiner", str(refiner), "--refiner-at", "0.4")
    assert not np.array_equal(late, alone)  # the refiner's last step, at low noise: a small change
    assert np.abs(early - alone).mean() > 1 and np.abs(early - late).mean() > 1
    recorded = read_metadata(tmp_path / "late.png")["request"]
    assert (recorded["refiner"], recorded["refiner_at"]) == (str(refiner), 0.8)
    settings = parse_infotext(read_metadata(tmp_path / "late.png")["parameters"])["settings"]
    assert (settings["Refiner"], settings["Refiner switch at"]) == ("refiner", "0.8")
    again = tmp_path / "again.png"
    assert main(["regenerate", str(tmp_path / "late.png"), "--out", str(again)]) == 0, capsys.readouterr().err
    assert again.read_bytes() == (tmp_path / "late.png").read_bytes()


def test_step_reports_run_on_across_the_hand_off_with_a_weighted_prompt(sdxl_pair):
    from studio.core.events import Progress
    from studio.jobs import JobState
    from studio.session import StudioSession

    steps: list[tuple[int, int]] = []

    class Listener:
        def job_changed(self, job):
            pass

        def job_event(self, job_id, event):
            if isinstance(event, Progress) and event.step > 0:
                steps.append((event.step, event.total))

    base, refiner = sdxl_pair
    session = StudioSession(listener=Listener())
    try:
        # a weighted prompt: the refiner (one text encoder) gets its own weighted embeddings
        job = session.runner.run_now(GenerationRequest(model=str(base), prompt="a (red:1.4) circle", width=32,
                                                       height=32, steps=5, seed=3, refiner=str(refiner),
                                                       refiner_at=0.6))
    finally:
        session.close()
    assert job.state is JobState.DONE, job.error
    assert [step for step, _ in steps] == [1, 2, 3, 4, 5]  # 3 base steps, then the refiner's 2
    assert {total for _, total in steps} == {5}


def test_a_refiner_on_a_model_that_is_not_sdxl_is_one_line(tiny_sd_folder, sdxl_pair, tmp_path, capsys):
    rc = main(["generate", "--model", str(tiny_sd_folder), "--prompt", "a", "--width", "32", "--height", "32",
               "--steps", "2", "--refiner", str(sdxl_pair[1]), "--out", str(tmp_path / "x.png")])
    err = capsys.readouterr().err
    assert rc == 2 and "A refiner needs an SDXL base model, not a StableDiffusionPipeline" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("extra, message", [
    (["--refiner", "{tmp}/nowhere"], "is not a model folder"),
    (["--refiner", "{refiner}", "--refiner-at", "1.5"], "Refiner at must be between 0.01 and 0.99"),
    (["--refiner", "{refiner}", "--backend", "onnx"], "The SDXL refiner is not supported on the ONNX Runtime"),
])
def test_bad_refiner_requests_are_one_line(extra, message, sdxl_pair, tmp_path, capsys):
    flags = [item.format(tmp=tmp_path, refiner=sdxl_pair[1]) for item in extra]
    rc = main(["generate", "--model", str(sdxl_pair[0]), "--prompt", "a", "--width", "32", "--height", "32",
               "--steps", "2", *flags, "--out", str(tmp_path / "x.png")])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert message in err and "Traceback" not in err
