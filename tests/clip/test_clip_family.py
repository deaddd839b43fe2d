"""The CLIP family end to end: trains as a job (and resumes), scores through ``studio score`` (JSON and
table), loads a local transformers CLIP folder, refuses bad input, and the shipped demo-clip ranks
pictures the demo model drew by their captions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from studio.cli.main import main
from studio.core.paths import RESOURCES
from studio.training import shapes

DEMO = RESOURCES / "models" / "demo-clip"
CAPTIONS = ("a large red circle on the left on a white background",
            "a large blue square on the right on a black background",
            "a large yellow triangle at the top on a gray background")


def _steps(run: Path) -> list[dict]:
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [r for r in records if r.get("event") == "step"]


def _score_json(capsys, *args: str) -> dict:
    capsys.readouterr()
    assert main(["score", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def _shape_pictures(folder: Path) -> list[str]:
    folder.mkdir(exist_ok=True)
    data = shapes.ShapesDataset(len(shapes.heldout_specs()), seed=5, split="heldout")
    paths = []
    for index in range(3):
        path = folder / f"shape{index}.png"
        data[index]["image"].save(path)
        paths.append(str(path))
    return paths


def test_training_writes_a_model_folder_and_reports_retrieval(trained_clip: Path) -> None:
    config = json.loads((trained_clip / "model" / "studio-clip.json").read_text())
    assert config["family"] == "studio-clip" and config["embed_dim"] == 16
    assert "circle" in config["vocabulary"] and config["training"]["steps"] == 6
    assert config["training"]["heldout_pairs"] == len(shapes.heldout_specs())
    steps = _steps(trained_clip / "run")
    assert steps[-1]["step"] == 6 and {"loss", "lr", "batch_top1", "temperature", "heldout_top1"} <= set(steps[-1])
    assert (trained_clip / "run" / "samples").is_dir()


def test_training_resumes_from_its_checkpoint(trained_clip: Path, tmp_path: Path) -> None:
    import shutil

    run = tmp_path / "run"
    shutil.copytree(trained_clip / "run", run)
    assert main(["train", "clip", "--shapes", "64", "--steps", "8", "--batch-size", "16", "--embed-dim", "16",
                 "--eval-every", "0", "--sample-every", "0", "--threads", "1", "--run-dir", str(run),
                 "--out", str(tmp_path / "model")]) == 0
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert any(r.get("event") == "resume" and r["step"] == 6 for r in records)
    assert [r["step"] for r in _steps(run)][-1] == 8
    assert json.loads((tmp_path / "model" / "studio-clip.json").read_text())["training"]["steps"] == 8


def test_score_json_has_every_picture_times_every_prompt_in_order(trained_clip: Path, tmp_path: Path,
                                                                  capsys) -> None:
    pictures = _shape_pictures(tmp_path / "pictures")
    data = _score_json(capsys, *pictures, "--prompt", CAPTIONS[0], "--prompt", "a cat",
                       "--model", str(trained_clip / "model"))
    assert list(data) == ["images"]
    assert [row["image"] for row in data["images"]] == pictures
    for row in data["images"]:
        assert [list(entry) for entry in row["scores"]] == [["prompt", "score"]] * 2
        assert [entry["prompt"] for entry in row["scores"]] == [CAPTIONS[0], "a cat"]
        assert all(-1 <= entry["score"] <= 1 for entry in row["scores"])
    assert len({row["scores"][0]["score"] for row in data["images"]}) == 3  # the pictures are told apart


def test_score_table_names_the_prompts_and_stars_the_best(trained_clip: Path, tmp_path: Path, capsys) -> None:
    pictures = _shape_pictures(tmp_path / "pictures")[:2]
    capsys.readouterr()
    assert main(["score", *pictures, "--prompt", "a red circle", "--prompt", "a blue square",
                 "--model", str(trained_clip / "model")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["image", "P1", "P2"]
    assert out[1].startswith(pictures[0]) and out[1].count("*") == 1
    assert "P1: a red circle" in out and "P2: a blue square" in out


def test_bad_input_is_one_line_and_exit_2(trained_clip: Path, tmp_path: Path, capsys) -> None:
    model = str(trained_clip / "model")
    not_a_picture = tmp_path / "notes.png"
    not_a_picture.write_text("not a picture")
    picture = _shape_pictures(tmp_path / "pictures")[0]
    cases = [
        (["score", str(not_a_picture), "--prompt", "x", "--model", model], "not an image"),
        (["score", str(tmp_path / "missing.png"), "--prompt", "x", "--model", model], "missing.png"),
        (["score", picture, "--prompt", "x", "--model", "demo-vae"], "cannot do score"),
        (["score", picture, "--model", model], "--prompt"),
    ]
    for argv, said in cases:
        capsys.readouterr()
        assert _exit_code(argv) == 2
        err = capsys.readouterr().err
        assert said in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, (argv, err)


def _exit_code(argv: list[str]) -> int:
    """``main``'s exit status, whether it returns it or argparse exits with it."""
    try:
        return main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)


def test_a_local_transformers_clip_folder_is_found_and_scores(tiny_transformers_clip: Path, tmp_path: Path,
                                                              capsys) -> None:
    import torch
    from studio_clip.detect import identify
    from transformers import CLIPModel, CLIPProcessor

    entry = identify(tiny_transformers_clip)
    assert entry is not None and entry.kind == "clip" and entry.details["format"] == "transformers"
    pictures = _shape_pictures(tmp_path / "pictures")[:2]
    data = _score_json(capsys, *pictures, "--prompt", CAPTIONS[0], "--prompt", CAPTIONS[1],
                       "--model", str(tiny_transformers_clip))
    model = CLIPModel.from_pretrained(str(tiny_transformers_clip), local_files_only=True).eval()
    processor = CLIPProcessor.from_pretrained(str(tiny_transformers_clip), local_files_only=True)
    inputs = processor(text=list(CAPTIONS[:2]), images=[Image.open(p).convert("RGB") for p in pictures],
                       return_tensors="pt", padding=True)
    with torch.no_grad():
        expected = model(**inputs).logits_per_image / model.logit_scale.exp()  # CLIP's own cosines
    got = torch.tensor([[entry["score"] for entry in row["scores"]] for row in data["images"]])
    assert torch.allclose(got, expected, atol=1e-4)


def test_models_list_names_demo_clip(capsys) -> None:
    capsys.readouterr()
    assert main(["models", "list", "--json"]) == 0
    models = {m["name"]: m for m in json.loads(capsys.readouterr().out)}
    assert models["demo-clip"]["kind"] == "clip"


@pytest.fixture(scope="module")
def demo_pictures(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Three pictures the shipped ``demo`` text-to-image model drew from CAPTIONS (``studio batch``)."""
    root = tmp_path_factory.mktemp("demo-pictures")
    prompts = root / "prompts.txt"
    prompts.write_text("\n".join(CAPTIONS) + "\n")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STUDIO_HOME", str(root / "home"))
        assert main(["batch", str(prompts), "--model", "demo", "--seeds", "1", "--out", str(root / "out"),
                     "--width", "64", "--height", "64", "--steps", "12"]) == 0
    return sorted((root / "out").glob("p*.png"))


def test_demo_clip_ranks_the_demo_models_pictures_by_their_captions(demo_pictures: list[Path], capsys) -> None:
    distractors = ("a small green circle at the bottom on a black background",
                   "a large purple square in the centre on a white background")
    prompts = [*CAPTIONS, *distractors]
    args = [str(p) for p in demo_pictures]
    for prompt in prompts:
        args += ["--prompt", prompt]
    data = _score_json(capsys, *args, "--model", "demo-clip")
    for index, row in enumerate(data["images"]):
        best = max(row["scores"], key=lambda entry: entry["score"])
        assert best["prompt"] == CAPTIONS[index], row


def test_training_on_a_folder_of_captioned_pictures_holds_out_every_tenth_caption(tmp_path: Path, capsys) -> None:
    from studio.plugins.training import export_shapes_folder

    data = export_shapes_folder(tmp_path / "data", length=40, seed=2)
    assert main(["train", "clip", "--data", str(data), "--steps", "2", "--batch-size", "8", "--embed-dim", "8",
                 "--eval-every", "1", "--sample-every", "0", "--threads", "1", "--run-dir", str(tmp_path / "run"),
                 "--out", str(tmp_path / "model")]) == 0
    training = json.loads((tmp_path / "model" / "studio-clip.json").read_text())["training"]
    distinct = {path.read_text().strip() for path in data.glob("*.txt")}
    assert training["data"] == f"folder {data}" and training["heldout_pairs"] == len(sorted(distinct)[::10])
    assert "heldout_top1" in _steps(tmp_path / "run")[-1]
    (data / "00000.txt").unlink()
    capsys.readouterr()
    assert main(["train", "clip", "--data", str(data), "--steps", "1", "--run-dir", str(tmp_path / "run2")]) == 2
    err = capsys.readouterr().err
    assert "00000.png" in err and "no caption" in err and len(err.strip().splitlines()) == 1
