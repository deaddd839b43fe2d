"""``studio train RECIPE``: recipes from the manifests, each recipe's flags from its plugin, and the
flags turned into one TrainRequest — without importing torch (or plugin code, for the list)."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from studio.cli import train_cmd
from studio.cli.main import build_parser, main
from studio.core.requests import TrainRequest, request_from_json


def _request(*argv: str) -> TrainRequest:
    args = build_parser().parse_args(["train", *argv])
    parser = train_cmd.recipe_parser(args.recipe, argparse.ArgumentParser)
    return train_cmd.request_from_flags(args.recipe, parser.parse_args(args.flags))


def test_help_lists_the_recipes_of_the_manifests_without_importing_plugin_code() -> None:
    code = (
        "import sys\n"
        "from studio.cli.main import build_parser\n"
        "p = build_parser()\n"
        "train = p._subparsers._group_actions[0].choices['train']\n"
        "text = train.format_help()\n"
        "assert 'demo-image' in text and 'demo-text' in text, text\n"
        "heavy = [m for m in ('torch', 'studio_diffusers', 'studio_transformers') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_recipe_flags_parse_without_torch() -> None:
    code = (
        "import argparse, sys\n"
        "from studio.cli import train_cmd\n"
        "p = train_cmd.recipe_parser('demo-image')\n"
        "a = p.parse_args(['--steps', '7', '--run-dir', 'r', '--seed', '2'])\n"
        "assert (a.steps, a.seed, a.no_resume) == (7, 2, False), a\n"
        "assert a.run_dir.endswith('/r') and a.run_dir.startswith('/'), a.run_dir\n"
        "assert 'torch' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_demo_image_flags_become_one_train_request(tmp_path) -> None:
    request = _request("demo-image", "--no-resume", "--batch-size", "4", "--out", str(tmp_path / "o"),
                       "--steps", "9", "--lr", "0.01", "--stage", "decoder", "--threads", "1",
                       "--export-only", "--tensorboard", "--run-dir", str(tmp_path / "run"))
    assert (request.recipe, request.steps, request.batch_size, request.learning_rate) == ("demo-image", 9, 4, 0.01)
    assert request.resume is False and request.run_dir == str(tmp_path / "run")
    assert request.options["out"] == str(tmp_path / "o")
    assert request.options["stage"] == "decoder" and request.options["export_only"] is True
    assert request.options["threads"] == 1 and request.options["tensorboard"] is True
    assert request_from_json(request.to_json()) == request  # what the queue stores
    assert _request("demo-image", "--resume").resume is True
    assert _request("demo-image").resume is True  # resuming is the default
    assert _request("demo-image").run_dir == ""  # the session trains in STUDIO_HOME/runs/demo-image
    assert _request("demo-image").options["out"] is None  # RUN_DIR/model: never relative to the current folder


def test_demo_text_flags_become_one_train_request(tmp_path) -> None:
    request = _request("demo-text", "--corpus-dir", str(tmp_path), "--steps", "3", "--hidden", "64",
                       "--no-resume")
    assert request.options["corpus_dir"] == str(tmp_path) and request.options["hidden"] == 64
    assert request.steps == 3 and not request.resume
    resumed = _request("demo-text", "--resume", "--steps", "3")
    assert resumed.resume and resumed.options["out"] is None and resumed.options["checkpoint_every"] is None


def test_the_trainer_reads_back_the_flags_it_declared(tmp_path) -> None:
    pytest.importorskip("torch")
    from studio_diffusers.train import add_demo_image_arguments

    from studio.plugins.training import recipe_settings

    request = _request("demo-image", "--steps", "9", "--lr", "0.01", "--no-resume", "--unet-channels", "32,64",
                       "--run-dir", str(tmp_path))
    settings = recipe_settings(request, add_demo_image_arguments)
    assert (settings.steps, settings.lr, settings.no_resume, settings.unet_channels) == (9, 0.01, True, "32,64")
    assert settings.run_dir == str(tmp_path) and settings.vae_steps == 1300  # a recipe default


def test_unknown_recipe_and_bad_flags_exit_2(capsys) -> None:
    assert main(["train", "no-such-recipe"]) == 2
    assert "No enabled plugin trains 'no-such-recipe'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["train", "demo-text", "--no-such-flag"])
    assert info.value.code == 2
    assert main(["train"]) == 2


def test_load_attribute_finds_what_sits_beside_the_trainer() -> None:
    from studio.core.errors import PluginError
    from tests.plugin_helpers import first_party_registry

    registry = first_party_registry()
    record = registry.for_recipe("demo-text")
    add_arguments = registry.load_attribute(record, "trainer", "add_arguments")
    parser = argparse.ArgumentParser()
    add_arguments("demo-text", parser)
    assert parser.parse_args(["--corpus-dir", "c"]).corpus_dir.endswith("/c")
    with pytest.raises(PluginError, match="no 'nothing_here'"):
        registry.load_attribute(record, "trainer", "nothing_here")
