"""The generic model library: walking folders, the demo names, the HF cache, defaults. What each file
*is* is the families' business (tests/diffusers/test_detect.py, tests/text/test_detect.py); here
plain identifiers stand in for them."""

import json
from pathlib import Path

import pytest

from studio.core.errors import ModelError
from studio.core.library import ModelEntry, ModelLibrary, generation_defaults, glob_identifier, identify
from studio.core.requests import GenerationRequest


def _by_suffix(suffix, kind):
    def identify_file(path: Path):
        if path.is_file() and path.suffix == suffix:
            return ModelEntry(path.stem, str(path), kind, size_bytes=path.stat().st_size)
        return None

    return identify_file


def _marker_folder(marker, kind):
    def identify_folder(path: Path):
        if path.is_dir() and (path / marker).is_file():
            return ModelEntry(path.name, str(path), kind, details={"marker": marker})
        return None

    return identify_folder


def _hf_repo(cache: Path, repo_id: str, revision: str = "abc123") -> Path:
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    snapshot = repo / "snapshots" / revision
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision)
    return snapshot


def test_identifiers_are_asked_in_order_and_the_first_answer_wins(tmp_path):
    model = tmp_path / "m.weights"
    model.write_bytes(b"1234")
    first, second = _by_suffix(".weights", "first"), _by_suffix(".weights", "second")
    assert identify(model, [first, second]).kind == "first"
    assert identify(model, [second, first]).kind == "second"
    assert identify(model) is None  # no identifiers: nothing is a model
    assert identify(tmp_path / "missing.weights", [first]) is None


def test_glob_identifier_matches_files_and_folders_holding_them(tmp_path):
    by_name = glob_identifier("gradient", ["gradient.json"])
    folder = tmp_path / "sunset"
    folder.mkdir()
    (folder / "gradient.json").write_text("{}")
    entry = by_name(folder)
    assert (entry.name, entry.kind, entry.size_bytes) == ("sunset", "gradient", 2)
    assert by_name(folder / "gradient.json").kind == "gradient"
    assert by_name(tmp_path) is None  # the file is a level down


def test_scan_walks_folders_the_demo_models_and_the_hf_cache(tmp_path, monkeypatch):
    root = tmp_path / "models"
    (root / "nested" / "deeper").mkdir(parents=True)
    (root / "nested" / "deeper" / "a.weights").write_bytes(b"x")
    (root / ".hidden").mkdir()
    (root / ".hidden" / "b.weights").write_bytes(b"x")
    (root / "pack").mkdir()
    (root / "pack" / "MARK").write_text("")
    (root / "pack" / "inner.weights").write_bytes(b"x")  # inside a model folder: not its own model
    (root / "notes.txt").write_text("hello")
    cache = tmp_path / "hf-cache"
    (_hf_repo(cache, "acme/packed") / "MARK").write_text("")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    library = ModelLibrary([str(root)], include_demo=False,
                           identifiers=[_marker_folder("MARK", "pack"), _by_suffix(".weights", "weights")])
    found = {(e.name, e.kind, e.source) for e in library.scan()}
    assert found == {("a", "weights", "folder"), ("pack", "pack", "folder"), ("acme/packed", "pack", "hf-cache")}
    assert library.resolve("acme/packed").path == str(cache / "models--acme--packed" / "snapshots" / "abc123")


def test_identifiers_may_be_a_callable_asked_at_each_scan(tmp_path):
    (tmp_path / "a.weights").write_bytes(b"x")
    current = []
    library = ModelLibrary([str(tmp_path)], scan_hf_cache=False, include_demo=False, identifiers=lambda: current)
    assert library.scan() == []
    current.append(_by_suffix(".weights", "weights"))  # e.g. a plugin the user has just allowed
    assert [e.name for e in library.scan()] == ["a"]


def test_demo_names_resolve_to_the_shipped_models(monkeypatch, tmp_path):
    import studio.core.library as library_module

    (tmp_path / "demo-text").mkdir()
    (tmp_path / "demo-text" / "MARK").write_text("")
    monkeypatch.setattr(library_module, "DEMO_MODELS", tmp_path)
    library = ModelLibrary(scan_hf_cache=False, identifiers=[_marker_folder("MARK", "lm")])
    entry = library.resolve("demo-text")
    assert (entry.name, entry.kind, entry.source) == ("demo-text", "lm", "demo")
    assert [e.name for e in library.scan()] == ["demo-text"]  # 'demo' is not built here
    with pytest.raises(ModelError, match="demo model 'demo' is not installed"):
        library.resolve("demo")


def test_resolve_refuses_what_is_not_a_model(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ModelError, match="not a model"):
        ModelLibrary(include_demo=False).resolve(str(tmp_path))
    with pytest.raises(ModelError, match="No model named"):
        ModelLibrary(include_demo=False, scan_hf_cache=False).resolve("nothing-here")


def test_an_unreadable_entry_is_a_clear_error(tmp_path):
    broken = tmp_path / "broken.weights"
    broken.write_bytes(b"x")

    def unreadable(path):
        return ModelEntry(path.stem, str(path), "unreadable", details={"error": "It is truncated."})

    with pytest.raises(ModelError, match="It is truncated"):
        ModelLibrary(include_demo=False, identifiers=[unreadable]).resolve(str(broken))


def test_generation_defaults_are_the_requests_overlaid_with_the_models(tmp_path):
    assert generation_defaults(None) == GenerationRequest.defaults_for()
    assert generation_defaults(None)["steps"] == GenerationRequest().steps  # one source of defaults
    entry = ModelEntry("m", str(tmp_path), "x", details={"defaults": {"width": 16, "height": 16,
                                                                    "scheduler": "DPM++ 2M"}})
    defaults = generation_defaults(entry)
    assert (defaults["width"], defaults["height"], defaults["scheduler"]) == (16, 16, "DPM++ 2M")
    assert (defaults["steps"], defaults["guidance"]) == (GenerationRequest().steps, GenerationRequest().guidance)
    assert generation_defaults(ModelEntry("m", "p", "x")) == generation_defaults(None)
    json.dumps(defaults)  # plain data
