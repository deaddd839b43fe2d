"""The VAE family end to end: the plugin is found, trains as a job, samples with a seed through
``studio generate`` and interpolates through ``studio interpolate``; the shipped demo-vae is judged
by its pixels."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from studio.cli.main import main
from studio.core.paths import RESOURCES
from studio.training import shapes
from tests.sample_validity import sample_validity
from tests.vae.judge import shape_at

DEMO = RESOURCES / "models" / "demo-vae"


def _pictures(folder: Path, count: int) -> Path:
    folder.mkdir()
    data = shapes.ShapesDataset(count, seed=3)
    for index in range(count):
        data[index]["image"].resize((48, 48)).save(folder / f"{index}.png")  # another size: resized to 64
    return folder


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A VAE trained for a few steps on a folder of pictures by ``studio train vae``."""
    root = tmp_path_factory.mktemp("vae")
    data = _pictures(root / "data", 12)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STUDIO_HOME", str(root / "home"))
        code = main(["train", "vae", "--data", str(data), "--steps", "4", "--batch-size", "4", "--channels",
                     "8,8,8,8", "--latent-dim", "4", "--sample-every", "2", "--run-dir", str(root / "run"),
                     "--out", str(root / "model")])
    assert code == 0
    return root


def test_training_writes_a_model_folder_metrics_and_samples(trained: Path) -> None:
    model = trained / "model"
    assert (model / "model.safetensors").is_file()
    config = json.loads((model / "studio-vae.json").read_text())
    assert config["family"] == "studio-vae" and config["latent_dim"] == 4
    assert config["training"]["steps"] == 4 and config["training"]["data"].startswith("folder")
    steps = [json.loads(line) for line in (trained / "run" / "metrics.jsonl").read_text().splitlines()]
    assert any(r.get("event") == "sample" for r in steps)
    assert all({"loss", "lr"} <= set(r) for r in steps if r.get("event") == "step")


def test_generate_same_seed_same_file_and_a_prompt_is_refused(trained: Path, tmp_path: Path, capsys) -> None:
    model = str(trained / "model")
    for name in ("a", "b"):
        assert main(["generate", "--model", model, "--seed", "7", "--out", str(tmp_path / f"{name}.png")]) == 0
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    assert main(["generate", "--model", model, "--seed", "8", "--out", str(tmp_path / "c.png")]) == 0
    assert (tmp_path / "a.png").read_bytes() != (tmp_path / "c.png").read_bytes()
    assert Image.open(tmp_path / "a.png").size == (64, 64)
    capsys.readouterr()
    assert main(["generate", "--model", model, "--prompt", "a red circle", "--out", str(tmp_path / "d.png")]) == 2
    assert "without a prompt" in capsys.readouterr().err
    assert main(["generate", "--model", model, "--width", "128", "--out", str(tmp_path / "e.png")]) == 2
    assert "64x64" in capsys.readouterr().err


def test_interpolate_needs_a_family_that_interpolates(tmp_path: Path, capsys) -> None:
    picture = tmp_path / "a.png"
    Image.new("RGB", (64, 64), "white").save(picture)
    code = main(["interpolate", "--model", "demo", str(picture), str(picture), "--frames", "3",
                 "--out", str(tmp_path / "frames")])
    assert code == 2
    assert "cannot do interpolate" in capsys.readouterr().err
    assert not list((tmp_path / "frames").glob("*.png"))


def test_models_list_names_demo_vae(capsys) -> None:
    assert main(["models", "list", "--json"]) == 0
    entries = json.loads(capsys.readouterr().out)
    assert any(entry["name"] == "demo-vae" and entry["kind"] == "vae" for entry in entries)


def test_demo_interpolates_red_circle_left_to_blue_square_right(tmp_path: Path) -> None:
    first, last = tmp_path / "red.png", tmp_path / "blue.png"
    shapes.render(shapes.ShapeSpec("large", "red", "circle", "left", "white")).save(first)
    shapes.render(shapes.ShapeSpec("large", "blue", "square", "right", "white")).save(last)
    out = tmp_path / "frames"
    assert main(["interpolate", "--model", "demo-vae", str(first), str(last), "--frames", "5", "--out", str(out)]) == 0
    frames = sorted(out.glob("frame-*.png"))
    assert [f.name for f in frames] == [f"frame-{i:03d}.png" for i in range(5)]
    colour, x = shape_at(Image.open(frames[0]))
    assert colour == "red" and x < 32
    colour, x = shape_at(Image.open(frames[-1]))
    assert colour == "blue" and x > 32


def test_demo_samples_are_valid_shapes_pictures() -> None:
    """The shipped demo over 30 seeds (docs/plugins.md gives the figure over 100)."""
    assert sample_validity("vae", str(DEMO), range(30)) >= 0.7


def test_broken_weights_and_a_non_picture_are_refused_in_one_line(trained: Path, tmp_path: Path, capsys) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "studio-vae.json").write_text((trained / "model" / "studio-vae.json").read_text())
    (broken / "model.safetensors").write_bytes(b"not a safetensors file")
    capsys.readouterr()
    assert main(["generate", "--model", str(broken), "--out", str(tmp_path / "x.png")]) == 2
    assert "cannot be read" in capsys.readouterr().err
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    code = main(["interpolate", "--model", str(trained / "model"), str(text), str(text), "--out", str(tmp_path / "f")])
    assert code == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_a_cancelled_batch_stops_between_pictures() -> None:
    """Cancel asked after the second picture: the job returns two pictures, not the batch of eight."""
    from studio_vae.detect import identify
    from studio_vae.loader import load

    from studio.plugins import GenerationRequest, LoadContext

    model = load(LoadContext(model=identify(DEMO), device="cpu"))
    drawn: list[int] = []
    request = GenerationRequest(model=str(DEMO), width=64, height=64, seed=5, batch=8)
    result = model.run(request, lambda step, total, **_: drawn.append(step), lambda: len(drawn) >= 2)
    assert [output.request.seed for output in result.images] == [5, 6]
