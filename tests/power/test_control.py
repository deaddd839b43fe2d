"""ControlNet (issue 16.2) through ``studio generate --control``: tiny random ControlNets built from a
UNet's config (as diffusers' tests do, zero convolutions made non-zero so the net acts), on the tiny
SD 1.x folder and on the shipped ``demo`` model."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from studio.cli.main import main
from studio.core.imagemeta import parse_infotext, read_metadata
from studio.core.requests import ControlRef, GenerationRequest, request_from_json


def build_tiny_controlnet(unet_folder: Path, out: Path, embedding: tuple[int, ...], seed: int = 0) -> Path:
    """A ControlNet made from a UNet's config with random weights (its zero convolutions too: the
    control-image encoder's output and the residual heads), saved as a folder."""
    import torch
    from diffusers import ControlNetModel, UNet2DConditionModel

    torch.manual_seed(seed)
    unet = UNet2DConditionModel.from_pretrained(unet_folder)
    net = ControlNetModel.from_unet(unet, conditioning_embedding_out_channels=embedding)
    with torch.no_grad():
        for conv in [*net.controlnet_down_blocks, net.controlnet_mid_block]:
            torch.nn.init.normal_(conv.weight)
            conv.bias.zero_()
        torch.nn.init.normal_(net.controlnet_cond_embedding.conv_out.weight, std=5.0)
    net.save_pretrained(out, safe_serialization=True)
    return out


def shape_picture(path: Path, box: tuple[int, int, int, int], size: int = 32) -> Path:
    image = Image.new("RGB", (size, size), "black")
    ImageDraw.Draw(image).ellipse(box, fill="white")
    image.save(path)
    return path


@pytest.fixture(scope="module")
def nets(tiny_sd_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("controlnets")
    return {"a": build_tiny_controlnet(tiny_sd_folder / "unet", root / "net-a", (8, 16), seed=1),
            "b": build_tiny_controlnet(tiny_sd_folder / "unet", root / "net-b", (8, 16), seed=2)}


@pytest.fixture(scope="module")
def pictures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("control-images")
    return {"left": shape_picture(root / "left.png", (2, 8, 14, 24)),
            "right": shape_picture(root / "right.png", (18, 8, 30, 24)),
            "big": shape_picture(root / "big.png", (4, 16, 28, 48), size=64)}


def generate(model: Path | str, out: Path, *extra: str, capsys=None, size: int = 32) -> np.ndarray:
    rc = main(["generate", "--model", str(model), "--prompt", "a red circle", "--width", str(size),
               "--height", str(size), "--steps", "3", "--seed", "7", "--out", str(out), *extra])
    if capsys is not None:
        assert rc == 0, capsys.readouterr().err
    assert rc == 0
    return np.asarray(Image.open(out).convert("RGB")).astype(int)


def test_the_control_image_steers_the_picture_weight_zero_leaves_it_and_end_cuts_it_short(
        tiny_sd_folder, nets, pictures, tmp_path, capsys):
    plain = generate(tiny_sd_folder, tmp_path / "plain.png", capsys=capsys)
    left = generate(tiny_sd_folder, tmp_path / "left.png", "--control", f"{pictures['left']}:{nets['a']}")
    right = generate(tiny_sd_folder, tmp_path / "right.png", "--control", f"{pictures['right']}:{nets['a']}")
    zero = generate(tiny_sd_folder, tmp_path / "zero.png", "--control", f"{pictures['left']}:{nets['a']}:0")
    early = generate(tiny_sd_folder, tmp_path / "early.png", "--control", f"{pictures['left']}:{nets['a']}:1:0:0.5")
    assert np.abs(left - plain).mean() > 3
    assert np.abs(early - left).mean() > 1 and np.abs(early - plain).mean() > 1  # acting on the first steps only
    assert np.abs(left - right).mean() > 1  # the picture follows the control image, not just the net
    assert np.array_equal(zero, plain)


def test_the_metadata_records_model_weight_start_end_and_image_hash_and_regenerate_reproduces(
        tiny_sd_folder, nets, pictures, tmp_path, capsys):
    out = tmp_path / "ctl.png"
    generate(tiny_sd_folder, out, "--control", f"{pictures['left']}:{nets['a']}:0.8:0:0.6", capsys=capsys)
    meta = read_metadata(out)
    [record] = meta["controls"]
    assert record["model"] == str(nets["a"]) and record["weight"] == 0.8
    assert (record["start"], record["end"]) == (0.0, 0.6)
    assert record["image_sha256"] == hashlib.sha256(pictures["left"].read_bytes()).hexdigest()
    assert meta["request"]["controls"][0]["image"] == str(pictures["left"])
    settings = parse_infotext(meta["parameters"])["settings"]  # A1111's ControlNet extension's line
    assert settings["ControlNet 0"] == "Module: none, Model: net-a, Weight: 0.8, Guidance Start: 0, Guidance End: 0.6"
    assert settings["Model"] == tiny_sd_folder.name and settings["Steps"] == "3"
    from sd_parsers import ParserManager

    sampler = ParserManager().parse(str(out)).samplers[0]  # other tools still read the picture's parameters
    assert [p.value for p in sampler.prompts] == ["a red circle"] and sampler.parameters["seed"] == "7"
    again = tmp_path / "again.png"
    assert main(["regenerate", str(out), "--out", str(again)]) == 0, capsys.readouterr().err
    assert again.read_bytes() == out.read_bytes()
    edited = tmp_path / "edges.png"  # the control image edited after the picture was made: refused, one line
    shape_picture(edited, (2, 8, 14, 24))
    assert main(["generate", "--model", str(tiny_sd_folder), "--prompt", "a", "--width", "32", "--height", "32",
                 "--steps", "2", "--control", f"{edited}:{nets['a']}", "--out", str(tmp_path / "e.png")]) == 0
    shape_picture(edited, (18, 8, 30, 24))
    capsys.readouterr()
    assert main(["regenerate", str(tmp_path / "e.png"), "--out", str(tmp_path / "e2.png")]) == 2
    assert f"The control image '{edited}' changed since this picture was made." in capsys.readouterr().err


def test_two_controlnets_at_once_with_their_own_weights(tiny_sd_folder, nets, pictures, tmp_path, capsys):
    one = generate(tiny_sd_folder, tmp_path / "one.png", "--control", f"{pictures['left']}:{nets['a']}",
                   capsys=capsys)
    both = generate(tiny_sd_folder, tmp_path / "both.png", "--control", f"{pictures['left']}:{nets['a']}",
                    "--control", f"{pictures['right']}:{nets['b']}:0.7")
    second_off = generate(tiny_sd_folder, tmp_path / "off.png", "--control", f"{pictures['left']}:{nets['a']}",
                          "--control", f"{pictures['right']}:{nets['b']}:0")
    assert np.abs(both - one).mean() > 3
    assert np.array_equal(second_off, one)
    assert [c["weight"] for c in read_metadata(tmp_path / "both.png")["controls"]] == [1.0, 0.7]


def test_a_single_safetensors_controlnet_loads_like_its_folder(tiny_sd_folder, nets, pictures, tmp_path):
    import shutil

    single = tmp_path / "net-a.safetensors"
    shutil.copy(nets["a"] / "diffusion_pytorch_model.safetensors", single)
    folder = generate(tiny_sd_folder, tmp_path / "folder.png", "--control", f"{pictures['left']}:{nets['a']}")
    file = generate(tiny_sd_folder, tmp_path / "file.png", "--control", f"{pictures['left']}:{single}")
    assert np.array_equal(folder, file)


def test_canny_preprocessing_draws_edges_and_steers_differently(tiny_sd_folder, nets, pictures, tmp_path):
    from studio_diffusers.preprocess import canny

    edges = np.asarray(canny(Image.open(pictures["big"])))[..., 0] > 0
    assert edges[32, 4:6].any() and edges[32, 27:29].any()  # the circle's left and right rims
    assert not edges[32, 10:22].any() and not edges[:, 40:].any()  # nothing inside it or beside it
    raw = generate(tiny_sd_folder, tmp_path / "raw.png", "--control", f"{pictures['left']}:{nets['a']}")
    drawn = generate(tiny_sd_folder, tmp_path / "canny.png", "--control", f"{pictures['left']}:{nets['a']}",
                     "--control-preprocess", "canny")
    assert np.abs(raw - drawn).mean() > 1
    assert read_metadata(tmp_path / "canny.png")["controls"][0]["preprocess"] == "canny"


def test_a_control_image_of_another_size_is_resized_with_a_notice(tiny_sd_folder, nets, pictures, tmp_path, capsys):
    generate(tiny_sd_folder, tmp_path / "big.png", "--control", f"{pictures['big']}:{nets['a']}", capsys=capsys)
    assert "The control image 'big.png' is 64×64; resized to 32×32." in capsys.readouterr().err


def test_a_controlnet_for_another_family_is_one_line_before_any_step(tiny_sd_folder, pictures, tmp_path, capsys):
    from diffusers import ControlNetModel

    other = tmp_path / "sdxl-sized-net"
    ControlNetModel(block_out_channels=(8, 16), layers_per_block=1, cross_attention_dim=32, attention_head_dim=2,
                    norm_num_groups=4, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                    conditioning_embedding_out_channels=(8, 16)).save_pretrained(other)
    rc = main(["generate", "--model", str(tiny_sd_folder), "--prompt", "a", "--width", "32", "--height", "32",
               "--steps", "2", "--control", f"{pictures['left']}:{other}", "--out", str(tmp_path / "x.png")])
    err = capsys.readouterr().err
    assert rc == 2
    assert "is for another model family: its cross-attention width is 32, this SD model's is 16" in err
    assert "Traceback" not in err and not (tmp_path / "x.png").exists()


@pytest.mark.parametrize("spec, message", [
    ("{img}:{tmp}/missing-net", "The ControlNet '{tmp}/missing-net' does not exist"),
    ("{tmp}/missing.png:{net}", "missing.png"),
    ("{img}:{tmp}/net.ckpt", "pickle file"),
    ("{img}:{net}:1:0.5", "a start without an end"),
    ("{img}:{net}:1:0.7:0.2", "Use a start below the end"),
    ("{img}:{net}:9", "out of range"),
])
def test_bad_controls_are_one_line_errors(spec, message, tiny_sd_folder, nets, pictures, tmp_path, capsys):
    (tmp_path / "net.ckpt").write_bytes(b"not a pickle we open")
    text = spec.format(img=pictures["left"], tmp=tmp_path, net=nets["a"])
    rc = main(["generate", "--model", str(tiny_sd_folder), "--prompt", "a", "--width", "32", "--height", "32",
               "--steps", "2", "--control", text, "--out", str(tmp_path / "x.png")])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert message.format(tmp=tmp_path) in err and "Traceback" not in err
    assert len(err.strip().splitlines()) <= 2  # the error and its hint


def test_control_refs_parse_and_round_trip_through_json():
    assert ControlRef.parse("e.png:net") == ControlRef("net", "e.png")
    assert ControlRef.parse("e.png:net:0.5") == ControlRef("net", "e.png", 0.5)
    assert ControlRef.parse("e.png:/m/net:1:0.1:0.9", "canny") == ControlRef("/m/net", "e.png", 1, 0.1, 0.9, "canny")
    request = GenerationRequest(model="m", controls=(ControlRef("net", "e.png", 0.5, 0.2, 0.8, "canny"),))
    assert request_from_json(request.to_json()) == request


def test_the_onnx_backend_refuses_controls_clearly(tiny_sd_folder, nets, pictures, tmp_path, capsys):
    rc = main(["generate", "--model", str(tiny_sd_folder), "--prompt", "a", "--width", "32", "--height", "32",
               "--steps", "2", "--backend", "onnx", "--control", f"{pictures['left']}:{nets['a']}",
               "--out", str(tmp_path / "x.png")])
    err = capsys.readouterr().err
    assert rc == 2
    assert "ControlNet is not supported on the ONNX Runtime backend yet" in err


def test_controlnet_on_the_demo_model(tmp_path, capsys):
    """The demo's UNet is a standard UNet2DConditionModel, but its VAE scales by 4, not 8: a ControlNet
    for it is ``ControlNetModel.from_unet`` with a 3-stage control-image encoder (downsampling by 4)."""
    from studio.core.library import DEMO_NAMES  # noqa: F401  (the demo ships with the studio)
    from studio.core.paths import RESOURCES

    demo = RESOURCES / "models" / "demo"
    net = build_tiny_controlnet(demo / "unet", tmp_path / "demo-net", (8, 16, 32), seed=3)
    left = shape_picture(tmp_path / "left.png", (4, 16, 28, 48), size=64)
    plain = generate("demo", tmp_path / "plain.png", size=64, capsys=capsys)
    steered = generate("demo", tmp_path / "steered.png", "--control", f"{left}:{net}", size=64)
    zero = generate("demo", tmp_path / "zero.png", "--control", f"{left}:{net}:0", size=64)
    assert np.abs(steered - plain).mean() > 3
    assert np.array_equal(zero, plain)


def test_controlnet_on_a_tiny_sdxl_model_and_an_sd_net_refused_there(tmp_path, nets, pictures, capsys):
    from tests.diffusers.test_lora_sdxl import build_tiny_sdxl

    sdxl = build_tiny_sdxl(tmp_path / "tiny-sdxl")
    net = build_tiny_controlnet(sdxl / "unet", tmp_path / "sdxl-net", (8, 16), seed=4)
    plain = generate(sdxl, tmp_path / "plain.png", capsys=capsys)
    left = generate(sdxl, tmp_path / "left.png", "--control", f"{pictures['left']}:{net}")
    right = generate(sdxl, tmp_path / "right.png", "--control", f"{pictures['right']}:{net}")
    assert np.abs(left - plain).mean() > 3 and np.abs(left - right).mean() > 1
    rc = main(["generate", "--model", str(sdxl), "--prompt", "a", "--width", "32", "--height", "32", "--steps", "2",
               "--control", f"{pictures['left']}:{nets['a']}", "--out", str(tmp_path / "x.png")])
    err = capsys.readouterr().err
    assert rc == 2 and "is for another model family: its cross-attention width is 16, this SDXL model's is 32" in err


def test_controlnet_steers_image_to_image_too(tiny_sd_folder, nets, pictures, tmp_path):
    init = ["--init-image", str(pictures["right"]), "--strength", "0.7"]
    plain = generate(tiny_sd_folder, tmp_path / "plain.png", *init)
    steered = generate(tiny_sd_folder, tmp_path / "steered.png", *init, "--control", f"{pictures['left']}:{nets['a']}")
    zero = generate(tiny_sd_folder, tmp_path / "zero.png", *init, "--control", f"{pictures['left']}:{nets['a']}:0")
    assert np.abs(steered - plain).mean() > 3
    assert np.array_equal(zero, plain)


def build_tiny_adapter(unet_folder: Path, out: Path, downscale: int, seed: int = 0) -> Path:
    """A T2I-Adapter with random weights whose features meet the UNet's down blocks."""
    import torch
    from diffusers import T2IAdapter, UNet2DConditionModel

    torch.manual_seed(seed)
    channels = list(UNet2DConditionModel.load_config(unet_folder)["block_out_channels"])
    T2IAdapter(in_channels=3, channels=channels, num_res_blocks=1, downscale_factor=downscale,
               adapter_type="full_adapter").save_pretrained(out, safe_serialization=True)
    return out


def test_a_t2i_adapter_on_the_demo_model_steers_and_weight_zero_is_as_without(tmp_path, capsys):
    """The tiny SD folder's first down block has no cross-attention (a plain block takes its residual
    after downsampling, where no adapter feature fits): it is refused there; the demo's UNet fits."""
    from studio.core.paths import RESOURCES

    adapter = build_tiny_adapter(RESOURCES / "models" / "demo" / "unet", tmp_path / "adapter", 4, seed=5)
    left = shape_picture(tmp_path / "left.png", (4, 16, 28, 48), size=64)
    right = shape_picture(tmp_path / "right.png", (36, 16, 60, 48), size=64)
    plain = generate("demo", tmp_path / "plain.png", size=64, capsys=capsys)
    steered = generate("demo", tmp_path / "steered.png", "--control", f"{left}:{adapter}", size=64)
    moved = generate("demo", tmp_path / "moved.png", "--control", f"{right}:{adapter}", size=64)
    zero = generate("demo", tmp_path / "zero.png", "--control", f"{left}:{adapter}:0", size=64)
    assert np.abs(steered - plain).mean() > 1 and np.abs(steered - moved).mean() > 1
    assert np.abs(zero - plain).max() <= 1  # the adapter pipeline decodes by its own (older) path
    assert read_metadata(tmp_path / "steered.png")["controls"][0]["model"] == str(adapter)
    rc = main(["generate", "--model", "demo", "--prompt", "a", "--steps", "2", "--control", f"{left}:{adapter}:1:0.2:1",
               "--out", str(tmp_path / "x.png")])
    assert rc == 2 and "T2I-Adapters act from the first step" in capsys.readouterr().err


def test_a_t2i_adapter_that_does_not_fit_is_one_line(tiny_sd_folder, pictures, tmp_path, capsys):
    adapter = build_tiny_adapter(tiny_sd_folder / "unet", tmp_path / "adapter", 2)
    rc = main(["generate", "--model", str(tiny_sd_folder), "--prompt", "a", "--width", "32", "--height", "32",
               "--steps", "2", "--control", f"{pictures['left']}:{adapter}", "--out", str(tmp_path / "x.png")])
    err = capsys.readouterr().err
    assert rc == 2 and "This model's UNet takes no T2I-Adapter" in err and "Traceback" not in err


def test_the_prompt_panel_state_takes_controls_recalled_from_a_record(qapp):
    from studio.ui.request_model import PromptViewModel

    state = PromptViewModel()
    record = {"model": "/m/net", "image": "/i/e.png", "weight": 0.5, "start": 0.0, "end": 0.7, "preprocess": "canny"}
    state.update({"controls": [record], "refiner_at": 0.75})
    request = state.request(model="m")
    request.validate()
    assert request.controls == (ControlRef(**record),) and request.refiner_at == 0.75


def test_a_controlnet_folder_saved_again_is_loaded_again(tiny_sd_folder, nets, pictures, tmp_path):
    import shutil

    from studio.jobs import JobState
    from studio.session import StudioSession

    net = tmp_path / "net"
    shutil.copytree(nets["a"], net)
    request = GenerationRequest(model=str(tiny_sd_folder), prompt="a red circle", width=32, height=32, steps=3,
                                seed=7, controls=(ControlRef(str(net), str(pictures["left"])),))
    session = StudioSession()
    try:
        pictures_made = []
        for source in (nets["a"], nets["b"], nets["b"]):
            shutil.copy(source / "diffusion_pytorch_model.safetensors", net / "new.tmp")  # saved beside, renamed
            (net / "new.tmp").replace(net / "diffusion_pytorch_model.safetensors")
            job = session.runner.run_now(request)
            assert job.state is JobState.DONE, job.error
            pictures_made.append(np.asarray(Image.open(job.result.artifacts[0].path)).astype(int))
    finally:
        session.close()
    assert np.abs(pictures_made[0] - pictures_made[1]).mean() > 1  # net b's weights, not net a's kept in memory
    assert np.array_equal(pictures_made[1], pictures_made[2])
