import json
import subprocess
import sys

import pytest

from studio.core.errors import PluginError
from studio.plugins import PluginRegistry, parse_manifest
from studio.plugins.registry import PluginNotTrusted
from tests.plugin_helpers import install_example_plugin, manifest_text, write_plugin

GOOD = {
    "id": "toy",
    "name": "Toy",
    "version": "1.0",
    "api_version": 1,
    "capabilities": ["txt2img"],
    "backends": ["torch"],
    "model_kinds": ["toy"],
    "loader": "studio_toy.model:load",
}


def test_a_valid_manifest_parses():
    manifest = parse_manifest(GOOD)
    assert manifest.capabilities == ("txt2img",)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"colour": "red"}, "unknown key"),
        ({"capabilities": ["teleport"]}, "unknown capabilities"),
        ({"api_version": 99}, "plugin API 99"),
        ({"backends": ["tpu"]}, "backends"),
        ({"loader": "not a path"}, "loader"),
        ({"id": "Bad Id"}, "id 'Bad Id'"),
        ({"identify": "studio_toy.detect"}, "'identify' must look like"),
        ({"recipes": ["toy"]}, "'recipes' need a 'trainer'"),
        ({"recipes": ["toy"], "trainer": "studio_toy.train:train"}, "'recipes' need the 'train' capability"),
        ({"model_files": ["toy.json"], "model_kinds": ["other"]}, "list it in model_kinds"),
    ],
)
def test_invalid_manifests_are_refused_with_the_reason(change, message):
    with pytest.raises(PluginError, match=message):
        parse_manifest({**GOOD, **change})


def test_first_party_families_are_discovered_through_entry_points():
    registry = PluginRegistry(paths=[])
    registry.discover()
    by_id = {r.id: r for r in registry.records}
    assert {"txt2img", "img2img", "inpaint"} <= set(by_id["diffusers"].manifest.capabilities)
    assert "text" in by_id["transformers"].manifest.capabilities
    assert by_id["diffusers"].first_party and by_id["diffusers"].ok


def test_broken_plugins_become_error_records(tmp_path):
    write_plugin(tmp_path, "studio_broken", 'id = "broken"\nname = "Broken"\ncolour = 3\n')
    write_plugin(tmp_path, "studio_badtoml", "id = = 3")
    install_example_plugin(tmp_path)
    registry = PluginRegistry(use_entry_points=False, paths=[tmp_path])
    records = {r.module: r for r in registry.discover()}
    assert "unknown key(s) colour" in records["studio_broken"].error
    assert "not valid TOML" in records["studio_badtoml"].error
    assert records["studio_gradient"].ok
    assert registry.capabilities() == {"txt2img"}


def test_plugin_code_that_raises_on_import_is_recorded_not_raised(tmp_path):
    manifest = manifest_text("explodes", "studio_explodes", model_kinds=("diffusers",))
    write_plugin(tmp_path, "studio_explodes", manifest, "raise RuntimeError('kaboom at import')\n")
    registry = PluginRegistry(use_entry_points=False, paths=[tmp_path], trusted={"explodes"})
    registry.discover()
    record = registry.get("explodes")
    with pytest.raises(PluginError, match="failed to import"):
        registry.load_callable(record)
    assert "kaboom at import" in record.error
    assert not registry.usable()


def test_third_party_code_does_not_run_until_allowed(tmp_path, monkeypatch):
    for name in [m for m in sys.modules if m.startswith("studio_gradient")]:
        monkeypatch.delitem(sys.modules, name)
    install_example_plugin(tmp_path)
    registry = PluginRegistry(use_entry_points=False, paths=[tmp_path])
    registry.discover()
    with pytest.raises(PluginNotTrusted, match="studio plugins trust gradient"):
        registry.load_callable(registry.get("gradient"))
    assert "studio_gradient.model" not in sys.modules
    registry.trusted.add("gradient")
    assert callable(registry.load_callable(registry.get("gradient")))


def test_disabled_plugins_are_not_used(tmp_path):
    install_example_plugin(tmp_path)
    registry = PluginRegistry(use_entry_points=False, paths=[tmp_path], disabled={"gradient"})
    registry.discover()
    with pytest.raises(PluginError, match="No enabled plugin"):
        registry.for_model("gradient", "txt2img")


def test_cli_lists_families_and_a_broken_plugin_and_keeps_working(tmp_path, monkeypatch):
    write_plugin(tmp_path, "studio_broken", 'id = "broken"\nname = "Broken"\n')
    monkeypatch.setenv("STUDIO_PLUGINS_PATH", str(tmp_path))
    out = subprocess.run(
        [sys.executable, "-m", "studio.cli.main", "plugins", "list", "--json"],
        capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr
    plugins = {p["id"]: p for p in json.loads(out.stdout)}
    assert {"txt2img", "img2img", "inpaint"} <= set(plugins["diffusers"]["capabilities"])
    assert "text" in plugins["transformers"]["capabilities"]
    assert "missing 'version'" in plugins["studio_broken"]["error"]
    models = subprocess.run(
        [sys.executable, "-m", "studio.cli.main", "models", "list", "--json"],
        capture_output=True, text=True, timeout=120,
    )
    assert models.returncode == 0 and isinstance(json.loads(models.stdout), list)
