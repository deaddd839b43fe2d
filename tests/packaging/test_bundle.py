"""The built bundle (``make bundle``), when there is one: it runs without the venv and finds the
built-in model families. Skipped on a checkout where the bundle has not been built (it takes minutes);
``packaging/smoke_bundle.sh`` is the full smoke test (window, generation, text)."""

from __future__ import annotations

import json
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "dist" / "studio" / "studio"

pytestmark = pytest.mark.skipif(not BUNDLE.is_file(), reason="no bundle built (make bundle)")


def run_clean(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the bundle as a user without the venv would: system PATH only, fresh HOME, another folder."""
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8",
           "STUDIO_HOME": str(tmp_path / "home"), "OMP_NUM_THREADS": "1"}
    return subprocess.run([str(BUNDLE), *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)


def test_bundle_prints_its_version(tmp_path: Path) -> None:
    from studio import __version__

    run = run_clean(tmp_path, "--version")
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == f"studio {__version__}"


def test_bundle_finds_the_built_in_families_and_demo_models(tmp_path: Path) -> None:
    plugins = run_clean(tmp_path, "plugins", "list", "--json")
    assert plugins.returncode == 0, plugins.stderr
    records = {p["id"]: p for p in json.loads(plugins.stdout)}
    families = {tomllib.loads(toml.read_text())["id"] for toml in ROOT.glob("plugins/*/*/studio-plugin.toml")}
    assert {"diffusers", "transformers", "vae", "lstm"} <= families <= set(records)  # every one the repo has
    assert all(records[i]["error"] == "" and records[i]["first_party"] for i in families)
    models = run_clean(tmp_path, "models", "list", "--json")
    assert models.returncode == 0, models.stderr
    shipped = {d.name for d in (ROOT / "resources" / "models").iterdir() if d.is_dir()}
    assert {"demo", "demo-text"} <= shipped <= {m["name"] for m in json.loads(models.stdout)}


def test_bundle_refuses_bad_input_with_exit_2(tmp_path: Path) -> None:
    run = run_clean(tmp_path, "generate", "--model", "no-such-model", "--prompt", "x", "--out", "x.png")
    assert run.returncode == 2
    assert "Traceback" not in run.stderr and len(run.stderr.strip().splitlines()) == 1


def test_bundle_runs_the_device_probe_the_window_starts(tmp_path: Path) -> None:
    """The window runs ``sys.executable -m studio.backends.probe``; in the bundle that is the bundle."""
    run = run_clean(tmp_path, "-m", "studio.backends.probe")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout.strip().splitlines()[-1])["device"]
