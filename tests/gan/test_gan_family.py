"""The GAN family end to end: the plugin is found through the registry, trains as a job with both
losses in every metrics event and in the run's ``metrics.jsonl``, resumes exactly, samples with a
seed through ``studio generate`` (no prompt); the shipped demo-gan is judged by its pixels."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image
from safetensors.torch import load_file
from studio_gan.train import train

from studio.cli.main import main
from studio.core.paths import RESOURCES
from studio.plugins import BadInput, GenerationRequest, LoadContext, TrainRequest
from studio.plugins.registry import PluginRegistry
from studio.training import shapes
from tests.sample_validity import sample_validity

DEMO = RESOURCES / "models" / "demo-gan"
LOSSES = {"loss_generator", "loss_discriminator"}
TINY = ["--g-width", "4", "--d-width", "4", "--latent-dim", "8", "--batch-size", "4"]


def _pictures(folder: Path, count: int) -> Path:
    folder.mkdir()
    data = shapes.ShapesDataset(count, seed=3)
    for index in range(count):
        data[index]["image"].resize((48, 48)).save(folder / f"{index}.png")  # another size: resized to 64
    return folder


def _steps(run: Path) -> list[dict]:
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [r for r in records if r.get("event") == "step"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A GAN trained for a few steps on a folder of pictures by ``studio train gan`` (a queued job)."""
    root = tmp_path_factory.mktemp("gan")
    data = _pictures(root / "data", 12)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STUDIO_HOME", str(root / "home"))
        code = main(["train", "gan", "--data", str(data), "--steps", "4", *TINY, "--sample-every", "2",
                     "--run-dir", str(root / "run"), "--out", str(root / "model")])
    assert code == 0
    return root


def test_the_family_is_first_party_and_loads_through_the_registry(trained: Path) -> None:
    registry = PluginRegistry.from_environment()
    registry.discover()
    record = registry.for_model("gan", "txt2img")
    assert record.id == "gan" and record.ok and record.first_party
    assert registry.for_recipe("gan") is record
    entry = next(e for e in (identify(trained / "model") for identify in registry.identifiers()) if e)
    assert entry.kind == "gan" and entry.details["side"] == 64
    model = registry.load_callable(record)(LoadContext(model=entry, device="cpu"))
    result = model.run(GenerationRequest(model=entry.path, width=64, height=64, seed=1, batch=2),
                       lambda *a, **k: None, lambda: False)
    assert [o.image.size for o in result.images] == [(64, 64)] * 2
    assert [o.request.seed for o in result.images] == [1, 2]


def test_training_writes_a_model_folder_both_losses_and_sample_grids(trained: Path) -> None:
    config = json.loads((trained / "model" / "studio-gan.json").read_text())
    assert config["family"] == "studio-gan" and config["latent_dim"] == 8 and config["g_width"] == 4
    assert config["training"]["steps"] == 4 and config["training"]["data"].startswith("folder")
    steps = _steps(trained / "run")
    assert [r["step"] for r in steps] == [4]  # logged every 10 steps and at the last one
    assert all(set(r) >= LOSSES and r["loss_discriminator"] > 0 and r["loss_generator"] > 0 for r in steps)
    curve = json.loads((trained / "model" / "training_metrics.json").read_text())["steps"]
    assert curve == [{k: r[k] for k in ("step", "loss", *sorted(LOSSES))} for r in steps]
    grids = sorted((trained / "run" / "samples").glob("*.png"))
    assert [g.name for g in grids] == ["step-00000002.png", "step-00000004.png"]
    assert Image.open(grids[0]).size == (8 * 64, 4 * 64)


def test_every_metrics_event_reports_both_losses(tmp_path: Path) -> None:
    metrics: list[dict] = []

    def report(step, total, preview=None, message=None, **events) -> None:
        if events.get("metrics"):
            metrics.append(events["metrics"])

    request = TrainRequest(recipe="gan", run_dir=str(tmp_path / "run"), steps=20, batch_size=4,
                           options={"shapes": 16, "g_width": 4, "d_width": 4, "latent_dim": 8,
                                    "sample_every": 0, "out": str(tmp_path / "model")})
    result = train(request, report, lambda: False)
    assert len(metrics) == 2 and all({"loss", "lr", *LOSSES} <= set(m) for m in metrics)
    for event, logged in zip(metrics, _steps(tmp_path / "run"), strict=True):
        assert {k: event[k] for k in LOSSES} == {k: logged[k] for k in LOSSES}
    assert result.data["data"].startswith("shapes") and set(result.data) >= LOSSES


def test_a_resumed_run_ends_where_an_uninterrupted_one_does(tmp_path: Path) -> None:
    """The discriminator, the generator and its running average are all in the checkpoints."""
    data = _pictures(tmp_path / "data", 8)

    def run(name: str, steps: int) -> int:
        return main(["train", "gan", "--data", str(data), "--steps", str(steps), *TINY, "--sample-every", "0",
                     "--run-dir", str(tmp_path / name), "--out", str(tmp_path / f"{name}-model")])

    assert run("straight", 6) == 0
    assert run("stopped", 3) == 0 and run("stopped", 6) == 0
    records = [json.loads(line) for line in (tmp_path / "stopped" / "metrics.jsonl").read_text().splitlines()]
    assert {"event": "resume", "step": 3} in [{k: r.get(k) for k in ("event", "step")} for r in records]
    straight = load_file(str(tmp_path / "straight-model" / "model.safetensors"))
    resumed = load_file(str(tmp_path / "stopped-model" / "model.safetensors"))
    assert straight.keys() == resumed.keys()
    assert all((straight[k] == resumed[k]).all() for k in straight)


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
    err = capsys.readouterr().err
    assert "is a GAN: it draws from a seed, without a prompt" in err and err.count("\n") == 1
    assert main(["generate", "--model", model, "--width", "128", "--out", str(tmp_path / "e.png")]) == 2
    assert "64x64" in capsys.readouterr().err
    assert not (tmp_path / "d.png").exists() and not (tmp_path / "e.png").exists()


def test_broken_weights_are_refused_in_one_line(trained: Path, tmp_path: Path, capsys) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "studio-gan.json").write_text((trained / "model" / "studio-gan.json").read_text())
    (broken / "model.safetensors").write_bytes(b"not a safetensors file")
    capsys.readouterr()
    assert main(["generate", "--model", str(broken), "--out", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert "cannot be read" in err and err.count("\n") == 1


def test_an_unknown_recipe_and_bad_sizes_are_refused(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="no training recipe"):
        train(TrainRequest(recipe="vae", run_dir=str(tmp_path)), lambda *a, **k: None, lambda: False)
    request = TrainRequest(recipe="gan", run_dir=str(tmp_path), steps=1, options={"g_width": 0})
    with pytest.raises(BadInput, match="at least 1"):
        train(request, lambda *a, **k: None, lambda: False)
    request = TrainRequest(recipe="gan", run_dir=str(tmp_path), steps=1, options={"upsampling": "bilinear"})
    with pytest.raises(BadInput, match="--upsampling must be one of nearest, transposed"):
        train(request, lambda *a, **k: None, lambda: False)


def test_a_conditional_gan_learns_the_shapes_labels_and_draws_a_combination_by_seed(tmp_path: Path) -> None:
    """--conditional: both networks see the shapes data set's labels; the model folder keeps the
    factors (in order) and the label combinations of its training pictures, and a seed draws one."""
    from studio_gan.network import load_generator

    out = tmp_path / "model"
    request = TrainRequest(recipe="gan", run_dir=str(tmp_path / "run"), steps=2, batch_size=4,
                           options={"shapes": 24, "g_width": 4, "d_width": 4, "latent_dim": 8, "sample_every": 2,
                                    "conditional": True, "out": str(out)})
    assert train(request, lambda *a, **k: None, lambda: False).data["conditional"] is True
    config = json.loads((out / "studio-gan.json").read_text())
    assert [name for name, _values in config["labels"]] == ["size", "colour", "shape", "position", "background"]
    generator = load_generator(out)
    table = generator.label_table
    assert table.shape[1] == 5 and 1 < len(table) <= 24
    for seed in (1, 2):
        noise_a, labels_a = generator.draw(1, torch_generator(seed))
        noise_b, labels_b = generator.draw(1, torch_generator(seed))
        assert (noise_a == noise_b).all() and (labels_a == labels_b).all()
        assert any((row == labels_a[0]).all() for row in table)
    picture = tmp_path / "one.png"
    assert main(["generate", "--model", str(out), "--seed", "4", "--out", str(picture)]) == 0
    assert Image.open(picture).size == (64, 64)
    # a prompt narrows the combinations drawn to those it names; one it never saw is refused
    size, colour = (config["labels"][i][1][int(table[0, i])] for i in (0, 1))
    assert main(["generate", "--model", str(out), "--prompt", f"a {size} {colour} shape", "--seed", "4",
                 "--out", str(tmp_path / "named.png")]) == 0
    assert main(["generate", "--model", str(out), "--prompt", "a dog", "--out", str(tmp_path / "dog.png")]) == 2
    with pytest.raises(BadInput, match="--conditional needs the shapes data set"):
        train(TrainRequest(recipe="gan", run_dir=str(tmp_path / "r2"), steps=1,
                           options={"conditional": True, "data": str(tmp_path)}), lambda *a, **k: None, lambda: False)


def torch_generator(seed: int):
    import torch

    return torch.Generator().manual_seed(seed)


def test_both_generators_save_and_load(tmp_path: Path) -> None:
    """The last level grows by nearest upsampling (the default) or the paper's transposed conv; a
    folder written before the option existed (no "upsampling" key) loads as transposed."""
    import torch
    from studio_gan.network import GanConfig, Generator, load_generator, save_generator

    noise = torch.randn(2, 8)
    for upsampling in ("nearest", "transposed"):
        generator = Generator(GanConfig(latent_dim=8, g_width=4, d_width=4, upsampling=upsampling)).eval()
        folder = save_generator(generator, tmp_path / upsampling)
        loaded = load_generator(folder)
        assert loaded.config.upsampling == upsampling
        assert torch.equal(loaded.pictures(noise), generator.pictures(noise))
    config = json.loads((tmp_path / "transposed" / "studio-gan.json").read_text())
    del config["upsampling"]
    (tmp_path / "transposed" / "studio-gan.json").write_text(json.dumps(config))
    assert load_generator(tmp_path / "transposed").config.upsampling == "transposed"


def test_models_list_names_demo_gan(capsys) -> None:
    assert main(["models", "list", "--json"]) == 0
    entries = json.loads(capsys.readouterr().out)
    assert any(entry["name"] == "demo-gan" and entry["kind"] == "gan" for entry in entries)


def test_demo_samples_are_valid_shapes_pictures() -> None:
    """The shipped demo over 20 seeds (docs/plugins.md gives the figure over 100)."""
    assert sample_validity("gan", str(DEMO), range(20)) >= 0.7
