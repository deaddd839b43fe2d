"""One of the studio's own classic families (the VAE), installed by pip from a copy outside the
repository into a folder of its own, in a fresh STUDIO_HOME: a third-party install like any other
(its code runs only once allowed), found through its entry point, trained, sampled and interpolated
through the real command line (every ``studio`` call is its own process, as a user's would be)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from tests.plugins.test_third_party_family import ok, outside_the_repository, pixels, studio

REPO = Path(__file__).resolve().parents[2]


def install_outside(tmp_path: Path) -> Path:
    """pip installs a copy of plugins/studio_vae into ``tmp_path/site`` (no index, no dependencies)."""
    source = outside_the_repository(tmp_path / "downloads" / "studio-vae")
    shutil.copytree(REPO / "plugins" / "studio_vae", source,
                    ignore=shutil.ignore_patterns("*.egg-info", "__pycache__", "build"))
    site = tmp_path / "site"
    pip = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", "--no-build-isolation",
         "--disable-pip-version-check", "--no-cache-dir", "--target", str(site), str(source)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert pip.returncode == 0, pip.stderr
    return site


def test_the_vae_family_installed_outside_the_repository_works_end_to_end(tmp_path, studio_home):
    pytest.importorskip("setuptools")
    site = install_outside(tmp_path)
    # The copy comes first on the path, so it (not the repository's) provides the 'vae' family.
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])),
           "OMP_NUM_THREADS": "1"}
    work = tmp_path / "work"
    work.mkdir()

    listed = {p["id"]: p for p in json.loads(ok(studio("plugins", "list", "--json", cwd=work, env=env)).stdout)}
    vae = listed["vae"]
    assert Path(vae["location"]) == site / "studio_vae" and vae["source"] == "entry-point"
    assert vae["error"] == "" and not vae["first_party"]  # our name on a copy elsewhere earns no trust
    assert listed["diffusers"]["first_party"]  # the studio's own install still is

    model = tmp_path / "my-vae"
    train = ["train", "vae", "--steps", 12, "--batch-size", 8, "--shapes", 64, "--prior-components", 8,
             "--out", model, "--run-dir", tmp_path / "run"]
    refused = studio(*train, cwd=work, env=env)
    assert refused.returncode == 2 and "studio plugins trust vae" in refused.stderr
    assert not model.exists()
    ok(studio("plugins", "trust", "vae", cwd=work, env=env))
    ok(studio(*train, cwd=work, env=env))
    assert (model / "studio-vae.json").is_file()

    def generate(seed: int, out: str) -> tuple[tuple[int, int], bytes]:
        ok(studio("generate", "--model", model, "--seed", seed, "--out", out, cwd=work, env=env))
        return pixels(work / out)

    first, again, other = generate(3, "a.png"), generate(3, "b.png"), generate(4, "c.png")
    assert first[0] == (64, 64) and first == again and first != other

    ends = []
    for name, colour in (("red.png", (220, 30, 30)), ("blue.png", (30, 30, 220))):
        Image.new("RGB", (64, 64), colour).save(work / name)
        ends.append(name)
    ok(studio("interpolate", "--model", model, *ends, "--frames", 3, "--out", "frames", cwd=work, env=env))
    assert len(sorted((work / "frames").glob("*.png"))) == 3
