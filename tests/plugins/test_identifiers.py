"""Plugins tell the library what is theirs: manifest globs for every usable plugin, identify code only
for first-party and allowed plugins; the folders and the Hugging Face cache are scanned alike."""

import sys
import textwrap

from studio.core.settings import Settings
from studio.library_setup import library_for
from studio.plugins import PluginRegistry
from tests.plugin_helpers import gradient_model, install_example_plugin, manifest_text, write_plugin

TOY_DETECT = """
    from pathlib import Path

    from studio.plugins import ModelEntry

    RAN = []


    def identify(path: Path):
        RAN.append(str(path))
        if path.suffix == ".explode":
            raise RuntimeError("cannot read this one")
        if path.is_file() and path.suffix == ".toy":
            return ModelEntry(path.stem, str(path), "toy", size_bytes=path.stat().st_size,
                              details={"defaults": {"steps": 3}})
        return None
"""


def _toy_plugin(folder, package="studio_toy", detect=TOY_DETECT, **manifest):
    text = manifest_text(package.removeprefix("studio_"), package, **manifest)
    pkg = write_plugin(folder, package, text + f'identify = "{package}.detect:identify"\n')
    (pkg / "detect.py").write_text(textwrap.dedent(detect))
    return pkg


def _hf_snapshot(cache, repo_id, revision="0123abcd"):
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(revision)
    snapshot = repo / "snapshots" / revision
    snapshot.mkdir(parents=True)
    return snapshot


def _scan(registry, *folders, hf_cache=True):
    settings = Settings(model_folders=[str(f) for f in folders], scan_hf_cache=hf_cache)
    return {(e.name, e.kind, e.source) for e in library_for(settings, registry).scan() if e.source != "demo"}


def test_a_plugins_model_is_found_in_the_hf_cache(tmp_path, monkeypatch):
    install_example_plugin(tmp_path / "plugins")
    cache = tmp_path / "hf-cache"
    gradient_model(_hf_snapshot(cache, "acme/sunset-gradient"))
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    registry = PluginRegistry(use_entry_points=False, paths=[tmp_path / "plugins"])
    registry.discover()
    assert _scan(registry) == {("acme/sunset-gradient", "gradient", "hf-cache")}
    settings = Settings(scan_hf_cache=True)
    entry = library_for(settings, registry).resolve("acme/sunset-gradient")
    assert (entry.kind, entry.source) == ("gradient", "hf-cache")


def test_identify_code_runs_only_for_allowed_plugins(tmp_path, monkeypatch):
    _toy_plugin(tmp_path / "plugins")
    models = tmp_path / "models"
    models.mkdir()
    (models / "a.toy").write_bytes(b"toy")
    cache = tmp_path / "hf-cache"
    (_hf_snapshot(cache, "acme/toy") / "b.toy").write_bytes(b"toy")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    registry = PluginRegistry(use_entry_points=False, paths=[tmp_path / "plugins"])
    registry.discover()
    assert _scan(registry, models) == set()
    assert "studio_toy.detect" not in sys.modules  # its code never ran before the user allowed it
    registry.trusted.add("toy")
    assert _scan(registry, models) == {("a", "toy", "folder")}
    entry = library_for(Settings(model_folders=[str(models)]), registry).resolve(str(models / "a.toy"))
    assert entry.details["defaults"] == {"steps": 3}
    sys.modules.pop("studio_toy.detect", None)
    sys.modules.pop("studio_toy", None)


def test_plugin_globs_come_before_family_code(tmp_path):
    from tests.plugin_helpers import first_party_registry

    registry = first_party_registry()
    write_plugin(tmp_path / "plugins", "studio_claims",
                 manifest_text("claims", "studio_claims", model_files=("model_index.json",)))
    registry.paths = [tmp_path / "plugins"]
    registry.discover()
    folder = tmp_path / "models" / "x"
    folder.mkdir(parents=True)
    (folder / "model_index.json").write_text('{"_class_name": "StableDiffusionPipeline"}')
    assert _scan(registry, tmp_path / "models", hf_cache=False) == {("x", "claims", "folder")}
    registry.disabled = {"claims"}
    registry.discover()
    assert _scan(registry, tmp_path / "models", hf_cache=False) == {("x", "diffusers", "folder")}


def test_broken_identify_code_becomes_the_plugins_error_and_the_scan_goes_on(tmp_path, tiny_sd_folder):
    import shutil

    _toy_plugin(tmp_path / "plugins", "studio_badimport", detect="import no_such_module_anywhere\n")
    _toy_plugin(tmp_path / "plugins", "studio_raises")
    models = tmp_path / "models"
    shutil.copytree(tiny_sd_folder, models / "sd")
    (models / "odd.explode").write_bytes(b"x")
    (models / "c.toy").write_bytes(b"x")
    registry = PluginRegistry(use_entry_points=True, paths=[tmp_path / "plugins"], trusted={"badimport", "raises"})
    registry.discover()
    found = _scan(registry, models, hf_cache=False)
    assert found == {("sd", "diffusers", "folder"), ("c", "toy", "folder")}
    record = registry.get("badimport")
    assert "no_such_module_anywhere" in record.error and not record.ok
    for name in ("studio_raises.detect", "studio_raises", "studio_badimport.detect", "studio_badimport"):
        sys.modules.pop(name, None)


def test_the_session_library_uses_the_plugins_and_follows_trust(tmp_path, monkeypatch):
    from studio.session import StudioSession

    _toy_plugin(tmp_path / "plugins")
    models = tmp_path / "models"
    models.mkdir()
    (models / "a.toy").write_bytes(b"toy")
    settings = Settings(model_folders=[str(models)], scan_hf_cache=False)
    registry = PluginRegistry(use_entry_points=False, paths=[tmp_path / "plugins"])
    registry.discover()
    session = StudioSession(settings=settings, registry=registry)
    try:
        assert [e.name for e in session.library.scan() if e.source == "folder"] == []
        session.trust_plugin("toy")
        assert [e.kind for e in session.library.scan() if e.source == "folder"] == ["toy"]
    finally:
        session.close()
        sys.modules.pop("studio_toy.detect", None)
        sys.modules.pop("studio_toy", None)
