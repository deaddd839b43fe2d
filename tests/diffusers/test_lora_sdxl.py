"""`studio train lora` on a tiny real SDXL folder (two CLIP text encoders, "text_time" added
conditioning), built from a config as diffusers' own SDXL tests build theirs."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from studio.cli.main import main
from tests.fixtures.stars import write_star_folder


def build_tiny_sdxl(folder: Path) -> Path:
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionXLPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        block_out_channels=(8, 16), layers_per_block=1, sample_size=8, in_channels=4, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4), use_linear_projection=True, addition_embed_type="text_time",
        addition_time_embed_dim=4, transformer_layers_per_block=(1, 1),
        projection_class_embeddings_input_dim=6 * 4 + 16,  # time ids × embed dim + the pooled text (16)
        cross_attention_dim=16 + 16, norm_num_groups=4,
    )
    vae = AutoencoderKL(block_out_channels=(8, 16), in_channels=3, out_channels=3, latent_channels=4,
                        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
                        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"), norm_num_groups=4, sample_size=16)
    words = ["a", "red", "blue", "circle", "square", "on", "the", "left", "right", "cat"]
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1, **{f"{w}</w>": i + 2 for i, w in enumerate(words)}}
    config = CLIPTextConfig(bos_token_id=0, eos_token_id=1, hidden_size=16, intermediate_size=32,
                            num_attention_heads=2, num_hidden_layers=1, vocab_size=len(vocab),
                            max_position_embeddings=77, projection_dim=16, hidden_act="gelu")
    pipe = StableDiffusionXLPipeline(
        vae=vae, unet=unet, text_encoder=CLIPTextModel(config), text_encoder_2=CLIPTextModelWithProjection(config),
        tokenizer=CLIPTokenizer(vocab=vocab, merges=[], model_max_length=77),
        tokenizer_2=CLIPTokenizer(vocab=vocab, merges=[], model_max_length=77),
        scheduler=EulerDiscreteScheduler(beta_schedule="scaled_linear", steps_offset=1, timestep_spacing="leading"),
    )
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder


@pytest.fixture(scope="module")
def tiny_sdxl_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_sdxl(tmp_path_factory.mktemp("models") / "tiny-sdxl")


def _picture(folder: Path, lora: Path | None = None) -> np.ndarray:
    from diffusers import StableDiffusionXLPipeline

    pipe = StableDiffusionXLPipeline.from_pretrained(folder)
    pipe.set_progress_bar_config(disable=True)
    if lora is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            pipe.load_lora_weights(str(lora))
    return pipe("a red star on the left", num_inference_steps=3, height=64, width=64, output_type="np",
                generator=torch.Generator().manual_seed(0)).images[0]


@pytest.mark.parametrize("fmt", ["diffusers", "kohya"])
def test_a_lora_trained_on_a_tiny_sdxl_folder_loads_in_the_sdxl_pipeline(fmt, capsys, tiny_sdxl_folder, tmp_path):
    data = write_star_folder(tmp_path / "stars", 4)
    out = tmp_path / "sdxl.safetensors"
    rc = main(["train", "lora", "--model", str(tiny_sdxl_folder), "--data", str(data), "--out", str(out),
               "--steps", "4", "--batch-size", "2", "--lr", "1e-2", "--no-prior", "--sample-every", "0",
               "--seed", "1", "--format", fmt])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert json.loads(captured.out)["step"] == 4
    from safetensors import safe_open

    with safe_open(str(out), "pt") as handle:
        names, meta = list(handle.keys()), handle.metadata()
    assert meta["ss_base_model_version"] == "sdxl_base_v1-0"
    if fmt == "kohya":  # both encoders trained (new words): te1 and te2, from text_model like kohya's SDXL files
        assert any(n.startswith("lora_te1_text_model_") for n in names)
        assert any(n.startswith("lora_te2_text_model_") for n in names)
    else:
        assert any(n.startswith("text_encoder_2.") for n in names) and any(n.startswith("unet.") for n in names)
    assert np.abs(_picture(tiny_sdxl_folder, out) - _picture(tiny_sdxl_folder)).max() > 5 / 255
