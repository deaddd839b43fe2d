"""The command line as scripts use it: exit codes, one clear line on bad input, real generation."""

import contextlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from studio.cli.main import main


@contextlib.contextmanager
def read_only_folder(path):
    """A folder nobody may write to: permissions for a user, a read-only mount for root."""
    path.mkdir()
    os.chmod(path, 0o500)
    mounted = False
    if os.access(path, os.W_OK):  # root ignores permission bits
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(path)],
                                 capture_output=True).returncode == 0
        if not mounted:
            pytest.skip("cannot make a read-only folder here (root without mount rights)")
    try:
        yield path
    finally:
        if mounted:
            subprocess.run(["umount", str(path)], check=False)
        os.chmod(path, 0o700)


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "studio.cli.main", *args], capture_output=True, text=True, timeout=300
    )


def test_version_and_unknown_command():
    assert run_cli("--version").stdout.startswith("studio ")
    bad = run_cli("paint-my-house")
    assert bad.returncode == 2
    assert len(bad.stderr.strip().splitlines()) == 1
    assert "Traceback" not in bad.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--width", "13"], "width 13"),
        (["--width", "0"], "width 0"),
        (["--steps", "0"], "Steps must be"),
        (["--scheduler", "Warp"], "Unknown scheduler"),
        (["--init-image", "/no/such.png"], "does not exist"),
    ],
)
def test_bad_generation_input_exits_2_with_one_line(args, message, tmp_path, capsys):
    out = tmp_path / "x.png"
    assert main(["generate", "--model", "demo", "--prompt", "p", "--out", str(out), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_not_a_model_and_read_only_output(tmp_path, tiny_sd_folder, capsys):
    (tmp_path / "notes").mkdir()
    assert main(["generate", "--model", str(tmp_path / "notes"), "--prompt", "p", "--out", str(tmp_path / "a.png"),
                 "--width", "32", "--height", "32"]) == 2
    assert "not a model the studio recognises" in capsys.readouterr().err
    with read_only_folder(tmp_path / "locked") as locked:
        code = main(["generate", "--model", str(tiny_sd_folder), "--prompt", "p", "--out", str(locked / "a.png")])
        assert code == 2 and "read-only" in capsys.readouterr().err
        assert list(locked.iterdir()) == []


def test_a_non_image_as_init_image_is_refused(tmp_path, tiny_sd_folder, capsys):
    fake = tmp_path / "photo.png"
    fake.write_text("this is not a picture")
    code = main(["generate", "--model", str(tiny_sd_folder), "--prompt", "p", "--init-image", str(fake),
                 "--width", "32", "--height", "32", "--steps", "2", "--out", str(tmp_path / "o.png")])
    assert code == 2
    assert "not an image the studio can read" in capsys.readouterr().err
    assert not (tmp_path / "o.png").exists()
    Image.new("RGB", (32, 32), "white").save(tmp_path / "real.png")
    code = main(["generate", "--model", str(tiny_sd_folder), "--prompt", "p", "--init-image",
                 str(tmp_path / "real.png"), "--mask", str(fake), "--width", "32", "--height", "32", "--steps", "2",
                 "--out", str(tmp_path / "o.png")])
    assert code == 2
    assert "The mask" in capsys.readouterr().err
    assert not (tmp_path / "o.png").exists()


def test_generate_is_reproducible_and_carries_its_parameters(tmp_path, tiny_sd_folder, capsys):
    args = ["generate", "--model", str(tiny_sd_folder), "--prompt", "a red circle", "--negative-prompt", "blue",
            "--seed", "3", "--steps", "3", "--width", "32", "--height", "40", "--scheduler", "DPM++ 2M Karras"]
    assert main([*args, "--out", str(tmp_path / "a.png")]) == 0
    assert main([*args, "--out", str(tmp_path / "b.png")]) == 0
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()  # metadata included
    a = np.asarray(Image.open(tmp_path / "a.png"))
    assert a.shape == (40, 32, 3)
    assert np.array_equal(a, np.asarray(Image.open(tmp_path / "b.png")))
    capsys.readouterr()
    assert main(["info", str(tmp_path / "a.png")]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["source"] == "studio"
    assert info["request"]["seed"] == 3 and info["request"]["negative_prompt"] == "blue"
    assert "Negative prompt: blue" in info["parameters"]
    assert "Sampler: DPM++ 2M, Schedule type: Karras" in info["parameters"]
    assert main(["regenerate", str(tmp_path / "a.png"), "--out", str(tmp_path / "c.png")]) == 0
    assert np.array_equal(a, np.asarray(Image.open(tmp_path / "c.png")))


def test_other_tools_read_our_parameters(tmp_path, tiny_sd_folder):
    from sd_parsers import ParserManager

    assert main(["generate", "--model", str(tiny_sd_folder), "--prompt", "a red circle, ink", "--negative-prompt",
                 "blurry", "--seed", "42", "--steps", "2", "--guidance", "6.5", "--width", "32", "--height", "40",
                 "--scheduler", "DPM++ 2M", "--out", str(tmp_path / "a.png")]) == 0
    info = ParserManager().parse(str(tmp_path / "a.png"))
    sampler = info.samplers[0]
    assert sampler.name == "DPM++ 2M"
    assert [p.value for p in sampler.prompts] == ["a red circle, ink"]
    assert [p.value for p in sampler.negative_prompts] == ["blurry"]
    assert sampler.parameters == {"cfg_scale": "6.5", "seed": "42", "steps": "2"}
    assert info.metadata["Size"] == "32x40"


def test_different_seeds_give_different_images(tmp_path, tiny_sd_folder):
    base = ["generate", "--model", str(tiny_sd_folder), "--prompt", "a cat", "--steps", "2", "--width", "32",
            "--height", "32"]
    assert main([*base, "--seed", "1", "--out", str(tmp_path / "1.png")]) == 0
    assert main([*base, "--seed", "2", "--out", str(tmp_path / "2.png")]) == 0
    assert not np.array_equal(np.asarray(Image.open(tmp_path / "1.png")), np.asarray(Image.open(tmp_path / "2.png")))
