"""Upscalers (issue 16.3): a tiny real ESRGAN (RRDBNet) state dict saved as safetensors and as a pickle,
read without running code, run in tiles; Lanczos; ``studio upscale``; bad files as one-line errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw
from safetensors.torch import save_file
from studio_diffusers.esrgan import RRDBNet, build_rrdbnet
from studio_diffusers.upscalers import load_upscaler, tile_starts

from studio.cli.main import main
from studio.core.errors import BadInput, ModelError
from studio.core.requests import UpscaleRequest


def tiny_esrgan_state(seed: int = 0, upsamples: int = 2) -> dict[str, torch.Tensor]:
    """The smallest RRDBNet worth the name: 8 features, one block, growth 4, ×2^upsamples, random weights
    (its last layer biased to mid-grey)."""
    torch.manual_seed(seed)
    model = RRDBNet(3, 3, features=8, blocks=1, growth=4, upsamples=upsamples)
    with torch.no_grad():
        model.conv_first.weight.mul_(4.0)  # random weights pass too little of the picture through
        model.conv_last.bias.fill_(0.5)
    return {k: v.contiguous() for k, v in model.state_dict().items()}


def old_arch(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The same weights under the original ESRGAN names (model.0, model.1.sub.0.RDB1.conv1.0, …)."""
    out = {}
    tops = {"conv_first": 0, "conv_up1": 3, "conv_up2": 6, "conv_hr": 8, "conv_last": 10}
    for key, value in state.items():
        head, _, kind = key.rpartition(".")
        if head in tops:
            out[f"model.{tops[head]}.{kind}"] = value
        elif head == "conv_body":
            out[f"model.1.sub.1.{kind}"] = value
        else:
            _, block, rdb, conv = head.split(".")
            out[f"model.1.sub.{block}.RDB{rdb[3:]}.conv{conv[4:]}.0.{kind}"] = value
    return out


@pytest.fixture(scope="module")
def esrgan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("upscalers") / "tiny-x4.safetensors"
    save_file(tiny_esrgan_state(), str(path))
    return path


def picture(path: Path, size: int = 48) -> Path:
    image = Image.new("RGB", (size, size), (240, 240, 240))
    draw = ImageDraw.Draw(image)
    draw.ellipse((size // 8, size // 4, size // 2, size * 3 // 4), fill=(220, 40, 40))
    draw.rectangle((size * 5 // 8, size // 8, size - 4, size // 2), fill=(40, 80, 220))
    image.save(path)
    return path


def test_esrgan_file_is_read_as_tensors_and_upscales_in_tiles_like_in_one_piece(esrgan, tmp_path):
    upscaler = load_upscaler(str(esrgan))
    assert upscaler.scale == 4 and upscaler.name == "tiny-x4"
    source = Image.open(picture(tmp_path / "in.png", 96))
    whole = np.asarray(upscaler.upscale(source, (384, 384), tile=4096), dtype=np.int16)
    tiled = np.asarray(upscaler.upscale(source, (384, 384), tile=32), dtype=np.int16)
    assert whole.shape == tiled.shape == (384, 384, 3)
    assert whole.std() > 2  # the model draws something, not a flat colour
    difference = np.abs(whole - tiled)
    assert difference.mean() < 0.5 and difference.max() <= 24  # seams: only where the overlap ends
    lanczos = np.asarray(source.resize((384, 384), Image.Resampling.LANCZOS), dtype=np.int16)
    assert np.abs(whole - lanczos).mean() > 5  # the model ran: not Lanczos under another name


def test_original_esrgan_names_and_non_integer_scales(esrgan, tmp_path):
    old = tmp_path / "old-arch.safetensors"
    save_file(old_arch(tiny_esrgan_state()), str(old))
    source = Image.open(picture(tmp_path / "in.png"))
    new_out = load_upscaler(str(esrgan)).upscale(source, (120, 120))
    old_out = load_upscaler(str(old)).upscale(source, (120, 120))
    assert new_out.size == (120, 120)  # ×4 by the model, then Lanczos down to ×2.5
    assert np.array_equal(np.asarray(new_out), np.asarray(old_out))
    two = tmp_path / "x2.safetensors"
    save_file(tiny_esrgan_state(upsamples=1), str(two))
    assert load_upscaler(str(two)).scale == 2


def test_lanczos_is_the_default_and_tiles_cover_every_pixel():
    assert load_upscaler("lanczos").model is None and load_upscaler("").model is None
    assert tile_starts(100, 32) == [0, 32, 64, 68] and tile_starts(20, 32) == [0]


def test_pickle_upscaler_refused_unless_allowed_then_read_weights_only(tmp_path):
    pickled = tmp_path / "tiny.pth"
    torch.save({"params_ema": tiny_esrgan_state()}, pickled)
    with pytest.raises(ModelError, match="pickle file, which can run hidden code"):
        load_upscaler(str(pickled))
    upscaler = load_upscaler(str(pickled), [str(pickled)])
    assert upscaler.scale == 4

    class Payload:  # an object the weights-only loader refuses to rebuild
        def __reduce__(self):
            return (print, ("pickle code ran",))

    evil = tmp_path / "evil.pth"
    torch.save({"params": Payload()}, evil)
    with pytest.raises(ModelError, match="could not be read as weights"):
        load_upscaler(str(evil), [str(evil)])


def test_files_that_are_not_upscalers_are_one_clear_error(tmp_path, esrgan):
    lora = tmp_path / "lora.safetensors"
    save_file({"lora_unet_down.lora_up.weight": torch.zeros(4, 4)}, str(lora))
    with pytest.raises(ModelError, match="not an upscaler model the studio knows"):
        load_upscaler(str(lora))
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}")
    with pytest.raises(ModelError, match="not a readable safetensors file"):
        load_upscaler(str(broken))
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    with pytest.raises(BadInput, match="not an upscaler file"):
        load_upscaler(str(notes))
    with pytest.raises(BadInput, match="neither 'lanczos' nor an existing file"):
        load_upscaler(str(tmp_path / "missing.safetensors"))
    state = tiny_esrgan_state()
    state["conv_hr.weight"] = torch.zeros(8, 8, 1, 1)
    misfit = tmp_path / "misfit.safetensors"
    save_file(state, str(misfit))
    with pytest.raises(ModelError, match="weights do not fit"):
        load_upscaler(str(misfit))
    assert build_rrdbnet({"x": torch.zeros(1)}) is None


def test_studio_upscale_writes_the_larger_picture(esrgan, tmp_path, capsys):
    source = picture(tmp_path / "in.png", 64)
    out = tmp_path / "big.png"
    assert main(["upscale", str(source), "--scale", "4", "--upscaler", str(esrgan), "--tile", "32",
                 "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    assert Image.open(out).size == (256, 256)
    lanczos = tmp_path / "lanczos.png"
    assert main(["upscale", str(source), "--scale", "1.5", "--out", str(lanczos)]) == 0
    assert Image.open(lanczos).size == (96, 96)


def test_upscaled_png_keeps_the_source_parameters(tmp_path, capsys):
    from PIL.PngImagePlugin import PngInfo

    from studio.core.imagemeta import png_text_chunks

    info = PngInfo()
    info.add_text("parameters", "a red circle\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 3, Size: 64x64")
    source = tmp_path / "made.png"
    Image.open(picture(tmp_path / "in.png", 64)).save(source, pnginfo=info)
    out = tmp_path / "big.png"
    assert main(["upscale", str(source), "--scale", "2", "--out", str(out)]) == 0
    assert png_text_chunks(out)["parameters"].endswith(
        "Size: 64x64, Postprocess upscale by: 2, Postprocess upscaler: Lanczos")
    capsys.readouterr()
    assert main(["info", str(out)]) == 0
    assert '"prompt": "a red circle"' in capsys.readouterr().out


@pytest.mark.parametrize(("args", "message"), [
    (["--scale", "0.5"], "Scale must be between 1 and 16"),
    (["--scale", "nan"], "finite"),
    (["--scale", "2", "--tile", "8"], "too small"),
    (["--scale", "2", "--upscaler", "NOTES"], "not an upscaler file"),
    (["--scale", "2", "--upscaler", "PICKLE"], "pickle file"),
    (["--scale", "2", "--upscaler", "MISSING"], "does not exist"),
    (["--scale", "16", "--upscaler", "lanczos"], "16384 px a side"),
])
def test_studio_upscale_bad_input_is_one_line_exit_2(args, message, tmp_path, capsys):
    source = picture(tmp_path / "in.png", 1040)
    (tmp_path / "notes.txt").write_text("not weights")
    torch.save(tiny_esrgan_state(), tmp_path / "model.pth")
    names = {"NOTES": tmp_path / "notes.txt", "PICKLE": tmp_path / "model.pth", "MISSING": tmp_path / "nope.pth"}
    args = [str(names.get(a, a)) for a in args]
    assert main(["upscale", str(source), *args, "--out", str(tmp_path / "o.png")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "o.png").exists()


def test_upscale_request_round_trips_and_refuses_a_missing_image():
    from studio.core.requests import request_from_json

    request = UpscaleRequest(image="/x.png", scale=3.0, upscaler="lanczos", tile=128)
    assert request_from_json(request.to_json()) == request
    with pytest.raises(BadInput, match="No image"):
        UpscaleRequest().validate()


def test_a_512_picture_upscaled_to_2048_in_tiles(esrgan, tmp_path):
    """The acceptance size: 512² → 2048² through the model in 128-px tiles finishes on this CPU
    (memory and time are measured by bench/hires.py)."""
    source = Image.open(picture(tmp_path / "in.png", 512))
    out = load_upscaler(str(esrgan)).upscale(source, (2048, 2048), tile=128)
    assert out.size == (2048, 2048)
    assert np.asarray(out, dtype=np.int16).std() > 2  # the model's picture, not an empty canvas
