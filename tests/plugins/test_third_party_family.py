"""A third-party family that imports only ``studio.plugins``, installed from outside the repository
the ways a user installs one, works end to end through the real command line in a fresh STUDIO_HOME.

Every ``studio`` call is a separate process, as a user's would be. The seed is written once: the
file's metadata, the gallery row and the job's result agree.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from PIL import Image

from studio.core.gallery import Gallery
from studio.core.settings import Settings
from studio.jobs import JobQueue, JobState
from tests.plugin_helpers import gradient_model, install_example_plugin

REPO = Path(__file__).resolve().parents[2]


def studio(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "studio.cli.main", *map(str, args)],
        capture_output=True, text=True, timeout=120, cwd=cwd, env={**os.environ, **(env or {})},
    )


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def outside_the_repository(path: Path) -> Path:
    assert not path.resolve().is_relative_to(REPO), f"{path} must be outside the repository"
    return path


def pixels(path: Path) -> tuple[tuple[int, int], bytes]:
    with Image.open(path) as image:
        return image.size, image.convert("RGB").tobytes()


def use_model_folder(folder: Path) -> None:
    """What the user does in Settings → Model folders (written to STUDIO_HOME/settings.toml)."""
    settings = Settings.load()
    settings.model_folders = [str(folder)]
    settings.save()


def test_a_family_from_a_folder_on_the_plugins_path_works_end_to_end(tmp_path, studio_home):
    elsewhere = outside_the_repository(tmp_path / "elsewhere")
    install_example_plugin(elsewhere)
    models = tmp_path / "my-models"
    model = gradient_model(models / "sunset", top=(250, 120, 40), bottom=(40, 20, 90))
    use_model_folder(models)
    env = {"STUDIO_PLUGINS_PATH": str(elsewhere)}
    work = tmp_path / "work"
    work.mkdir()

    listed = {p["id"]: p for p in json.loads(ok(studio("plugins", "list", "--json", cwd=work, env=env)).stdout)}
    gradient = listed["gradient"]
    assert gradient["error"] == "" and gradient["enabled"] and not gradient["first_party"]
    assert gradient["source"] == "path" and Path(gradient["location"]) == elsewhere / "studio_gradient"
    assert gradient["capabilities"] == ["txt2img"] and gradient["model_kinds"] == ["gradient"]

    generate = ["generate", "--model", model, "--prompt", "sunset over the sea", "--width", 24, "--height", 32,
                "--steps", 4, "--guidance", 0]
    refused = studio(*generate, "--out", "x.png", cwd=work, env=env)
    assert refused.returncode == 2, refused.stderr
    [line] = refused.stderr.strip().splitlines()  # one clear line, no traceback
    assert line.startswith("studio: error:") and "studio plugins trust gradient" in line
    assert not (work / "x.png").exists()

    ok(studio("plugins", "trust", "gradient", cwd=work, env=env))
    assert "gradient" in Settings.load().trusted_plugins

    made = ok(studio(*generate, "--out", "x.png", cwd=work, env=env))
    assert made.stdout.split() == [str(Path("x.png"))]
    size, first = pixels(work / "x.png")
    assert size == (24, 32)
    with Image.open(work / "x.png") as image:
        assert image.convert("RGB").getpixel((3, 0)) == (250, 120, 40)
        assert image.convert("RGB").getpixel((3, 31)) == (40, 20, 90)

    info = json.loads(ok(studio("info", "x.png", cwd=work, env=env)).stdout)
    assert info["source"] == "studio" and info["model_name"] == "sunset"
    request = info["request"]
    assert isinstance(request["seed"], int)  # the seed the studio drew (none was given), written in the file
    assert (request["steps"], request["width"], request["height"]) == (4, 24, 32)
    assert request["prompt"] == "sunset over the sea" and request["model"] == str(model)
    assert f"Seed: {request['seed']}" in info["parameters"]  # and in the A1111 text other tools read

    found = json.loads(ok(studio("models", "list", "--json", cwd=work, env=env)).stdout)
    [entry] = [m for m in found if m["path"] == str(model)]
    assert (entry["name"], entry["kind"], entry["family"]) == ("sunset", "gradient", "gradient")

    ok(studio("regenerate", "x.png", "--out", "y.png", cwd=work, env=env))
    assert pixels(work / "y.png") == (size, first)
    assert json.loads(ok(studio("info", "y.png", cwd=work, env=env)).stdout)["request"] == request

    # the seed is written once: the file, the gallery row and the job's result agree
    queue = JobQueue()
    try:
        jobs = queue.jobs(JobState.DONE)
    finally:
        queue.close()
    assert len(jobs) == 2  # generate and regenerate (the refused run never reached a result)
    gallery = Gallery()
    try:
        items = {item.path: item for item in gallery.search()}
    finally:
        gallery.close()
    assert len(items) == 2
    for job in jobs:
        [artifact] = [a for a in job.result.artifacts if a.kind == "image"]  # the gallery file
        [out] = [a for a in job.result.artifacts if a.kind == "out"]  # and the --out copy, same bytes
        assert (work / out.path).read_bytes() == Path(artifact.path).read_bytes()  # --out as the user gave it
        item = items[artifact.path]
        assert Path(artifact.path).is_relative_to(studio_home / "gallery")
        assert Path(artifact.path).read_bytes() in ((work / "x.png").read_bytes(), (work / "y.png").read_bytes())
        assert job.request.seed == job.result.data["seed"] == artifact.metadata["seed"] == request["seed"]
        assert item.seed == item.request.seed == request["seed"]
        assert json.loads(item.request.to_json()) == request
        assert item.extra["model_name"] == "sunset"
    assert (work / "x.png").read_bytes() == Path(jobs[0].result.artifacts[0].path).read_bytes()


def test_a_family_in_the_users_plugins_folder_works(tmp_path, studio_home):
    install_example_plugin(studio_home / "plugins")
    model = gradient_model(tmp_path / "dusk", top=(10, 20, 30), bottom=(200, 100, 0))
    listed = {p["id"]: p for p in json.loads(ok(studio("plugins", "list", "--json", cwd=tmp_path)).stdout)}
    assert listed["gradient"]["location"] == str(studio_home / "plugins" / "studio_gradient")
    assert listed["gradient"]["error"] == ""
    generate = ["generate", "--model", model, "--prompt", "dusk", "--width", 8, "--height", 16, "--steps", 2,
                "--guidance", 0, "--seed", 1234, "--out", tmp_path / "dusk.png"]
    assert studio(*generate, cwd=tmp_path).returncode == 2
    ok(studio("plugins", "trust", "gradient", cwd=tmp_path))
    ok(studio(*generate, cwd=tmp_path))
    info = json.loads(ok(studio("info", tmp_path / "dusk.png", cwd=tmp_path)).stdout)
    assert info["request"]["seed"] == 1234 and info["model_name"] == "dusk"


# -- a family shipped as a distribution: its own pyproject with the studio.plugins entry point ------
STRIPES_PYPROJECT = """
    [build-system]
    requires = ["setuptools>=69"]
    build-backend = "setuptools.build_meta"

    [project]
    name = "studio-stripes"
    version = "1.0.0"

    [project.entry-points."studio.plugins"]
    stripes = "studio_stripes"

    [tool.setuptools]
    packages = ["studio_stripes"]

    [tool.setuptools.package-data]
    studio_stripes = ["studio-plugin.toml"]
"""
STRIPES_MANIFEST = """
    id = "stripes"
    name = "Random stripes"
    version = "1.0.0"
    api_version = 1
    capabilities = ["txt2img"]
    backends = ["torch"]
    model_kinds = ["stripes"]
    identify = "studio_stripes.model:identify"
    loader = "studio_stripes.model:load"
"""
# A model is a single file, NAME.stripes, holding the stripe width; the family recognises it with
# its own code and draws each stripe's colour from the request's (already resolved) seed.
STRIPES_CODE = '''
    """Vertical stripes of random colours: the same seed gives the same picture."""

    import random
    from pathlib import Path

    from PIL import Image

    from studio.plugins import ImageOutput, JobResult, ModelEntry, ModelError


    def identify(path: Path):
        if path.is_file() and path.suffix == ".stripes":
            defaults = {"width": 48, "height": 16, "steps": 3}
            return ModelEntry(path.stem, str(path), "stripes", size_bytes=path.stat().st_size,
                              details={"defaults": defaults})
        return None


    def load(context):
        try:
            return Stripes(int(Path(context.model.path).read_text()), context.model.name)
        except ValueError as exc:
            raise ModelError(f"{context.model.name} is not a stripes model ({exc}).") from None


    class Stripes:
        def __init__(self, band, name):
            self.band, self.name = band, name

        def run(self, request, report, cancelled):
            rng = random.Random(request.seed)
            image = Image.new("RGB", (request.width, request.height))
            bands = range(0, request.width, self.band)
            for step in range(request.steps):
                for x in bands[step::request.steps]:
                    image.paste(tuple(rng.randrange(256) for _ in range(3)), (x, 0, x + self.band, request.height))
                report(step + 1, request.steps, preview=image.copy())
            return JobResult(images=(ImageOutput(image, request, {"model_name": self.name}),))

        def unload(self):
            pass
'''


def test_a_family_installed_as_a_distribution_is_found_through_its_entry_point(tmp_path):
    pytest.importorskip("setuptools")
    source = outside_the_repository(tmp_path / "elsewhere" / "studio-stripes")
    package = source / "studio_stripes"
    package.mkdir(parents=True)
    (source / "pyproject.toml").write_text(textwrap.dedent(STRIPES_PYPROJECT))
    (package / "__init__.py").write_text("")
    (package / "studio-plugin.toml").write_text(textwrap.dedent(STRIPES_MANIFEST))
    (package / "model.py").write_text(textwrap.dedent(STRIPES_CODE))
    # pip installs it as a user would, into a folder of its own rather than the test environment
    site = tmp_path / "site-packages"
    pip = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", "--no-build-isolation",
         "--disable-pip-version-check", "--no-cache-dir", "--target", str(site), str(source)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert pip.returncode == 0, pip.stderr
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))}
    models = tmp_path / "my-models"
    models.mkdir()
    (models / "candy.stripes").write_text("4")
    use_model_folder(models)

    listed = {p["id"]: p for p in json.loads(ok(studio("plugins", "list", "--json", cwd=tmp_path, env=env)).stdout)}
    assert listed["stripes"]["source"] == "entry-point" and listed["stripes"]["error"] == ""
    assert Path(listed["stripes"]["location"]) == site / "studio_stripes"
    ok(studio("plugins", "trust", "stripes", cwd=tmp_path, env=env))  # its identify code runs once allowed

    found = json.loads(ok(studio("models", "list", "--json", cwd=tmp_path, env=env)).stdout)
    [entry] = [m for m in found if m["kind"] == "stripes"]
    assert (entry["name"], entry["family"], entry["path"]) == ("candy", "stripes", str(models / "candy.stripes"))

    def generate(seed: int, out: str) -> tuple[tuple[int, int], bytes]:
        ok(studio("generate", "--model", models / "candy.stripes", "--prompt", "candy", "--seed", seed,
                  "--out", out, cwd=tmp_path, env=env))
        return pixels(tmp_path / out)

    first, again, other = generate(7, "a.png"), generate(7, "b.png"), generate(8, "c.png")
    assert first[0] == (48, 16)  # the family's own defaults for this model
    assert first == again and first != other
    info = json.loads(ok(studio("info", "a.png", cwd=tmp_path, env=env)).stdout)
    assert (info["request"]["seed"], info["request"]["steps"], info["model_name"]) == (7, 3, "candy")
    ok(studio("regenerate", "a.png", "--out", "d.png", cwd=tmp_path, env=env))
    assert pixels(tmp_path / "d.png") == first
