"""Single-file checkpoints load offline with the shipped configs; pickles are refused unless allowed."""

import hashlib
import pickle

import numpy as np
import pytest
import torch
from PIL import Image

from studio import __version__
from studio.cli.main import main
from studio.core.gallery import Gallery
from studio.core.imagemeta import read_metadata
from studio.core.paths import RESOURCES
from studio.core.requests import GenerationRequest
from studio.outputs import write_images
from studio.plugins import LoadContext, PluginRegistry
from tests.plugin_helpers import identify

# Parameter counts of the released models, to check the shipped configs describe them exactly.
RELEASED = {
    "sd1": {"unet": 859_520_964, "text_encoder": 123_060_480},
    "sd2": {"unet": 865_910_724, "text_encoder": 340_387_840},
    "sdxl": {"unet": 2_567_463_684, "text_encoder": 123_060_480, "text_encoder_2": 694_659_840},
}


@pytest.mark.parametrize("variant", sorted(RELEASED))
def test_shipped_configs_describe_the_released_architectures(variant):
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    folder = RESOURCES / "configs" / variant
    with torch.device("meta"):
        models = {
            "unet": UNet2DConditionModel.from_config(UNet2DConditionModel.load_config(folder / "unet")),
            "vae": AutoencoderKL.from_config(AutoencoderKL.load_config(folder / "vae")),
            "text_encoder": CLIPTextModel(CLIPTextConfig.from_pretrained(folder / "text_encoder")),
        }
        if variant == "sdxl":
            models["text_encoder_2"] = CLIPTextModelWithProjection(
                CLIPTextConfig.from_pretrained(folder / "text_encoder_2")
            )
    counts = {name: sum(p.numel() for p in model.parameters()) for name, model in models.items()}
    assert counts.pop("vae") == 83_653_863
    assert counts == RELEASED[variant]


def test_the_shipped_clip_tokenizer_matches_clip():
    from transformers import CLIPTokenizer

    tokenizer = CLIPTokenizer.from_pretrained(RESOURCES / "configs" / "clip_tokenizer")
    ids = tokenizer("a photograph of an astronaut riding a horse").input_ids
    assert ids == [49406, 320, 8853, 539, 550, 18376, 6765, 320, 4558, 49407]
    assert tokenizer.model_max_length == 77


def _loader():
    registry = PluginRegistry(paths=[])
    registry.discover()
    return registry.load_callable(registry.get("diffusers"))


def test_a_single_file_checkpoint_loads_as_the_same_model_offline(tiny_single_file):
    checkpoint, configs, diffusers_folder = tiny_single_file
    entry = identify(checkpoint)
    assert (entry.kind, entry.details["variant"]) == ("sd-checkpoint", "sd1")
    load = _loader()
    single = load(LoadContext(model=entry, device="cpu", options={"single_file_config": str(configs)}))
    folder = load(LoadContext(model=identify(diffusers_folder), device="cpu"))
    for part in ("unet", "vae", "text_encoder"):  # the very same weights, tensor for tensor
        ours, theirs = getattr(single.pipe, part).state_dict(), getattr(folder.pipe, part).state_dict()
        assert ours.keys() == theirs.keys(), part
        assert all(torch.equal(ours[k], theirs[k]) for k in ours), part
    request = GenerationRequest(model="x", prompt="a red circle", width=32, height=32, steps=2, seed=4)
    images, metadata = [], []
    for model in (single, folder):  # the family returns the image; the studio writes it (outputs.py)
        result = write_images(model.run(request, lambda *a, **k: None, lambda: False), Gallery())
        images.append(np.asarray(Image.open(result.artifacts[0].path)))
        metadata.append(read_metadata(result.artifacts[0].path))
    # Same pixels up to one level: CPU kernels may sum in another order for differently laid-out
    # (converted) tensors, e.g. with one OpenMP thread.
    assert np.abs(images[0].astype(int) - images[1].astype(int)).max() <= 1
    expected_hash = hashlib.sha256(checkpoint.read_bytes()).hexdigest()[:10]
    assert metadata[0]["model_hash"] == expected_hash  # as A1111 computes it
    assert f"Model hash: {expected_hash}" in metadata[0]["parameters"]
    assert metadata[0]["studio_version"] == __version__
    assert metadata[0]["scheduler_config"]["_class_name"] == "EulerAncestralDiscreteScheduler"


class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_pickle_checkpoint_is_refused_and_runs_no_code(tmp_path, capsys):
    marker = tmp_path / "pwned"
    checkpoint = tmp_path / "model.ckpt"
    checkpoint.write_bytes(pickle.dumps({"state_dict": _Exploit(str(marker))}))
    code = main(["generate", "--model", str(checkpoint), "--prompt", "p", "--width", "64", "--height", "64",
                 "--out", str(tmp_path / "x.png")])
    err = capsys.readouterr().err
    assert code == 2
    assert "pickle checkpoint" in err and "safetensors" in err
    assert not marker.exists()
    assert not (tmp_path / "x.png").exists()


def test_an_allowed_pickle_is_read_weights_only(tmp_path):
    marker = tmp_path / "pwned"
    checkpoint = tmp_path / "model.ckpt"
    torch.save({"state_dict": {"w": torch.zeros(1)}, "evil": _Exploit(str(marker))}, checkpoint)
    load = _loader()
    from studio.core.errors import ModelError

    with pytest.raises(ModelError):
        load(LoadContext(model=identify(checkpoint), device="cpu", options={"allowed_pickles": [str(checkpoint)]}))
    assert not marker.exists()


def test_a_truncated_checkpoint_is_a_clear_error(tmp_path, tiny_single_file, capsys):
    checkpoint = tiny_single_file[0]
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(checkpoint.read_bytes()[: checkpoint.stat().st_size // 2])
    code = main(["generate", "--model", str(broken), "--prompt", "p", "--out", str(tmp_path / "x.png")])
    assert code == 2
    assert "not a readable safetensors file" in capsys.readouterr().err
