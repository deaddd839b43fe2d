"""The ONNX backend's providers and export cache, without a model."""

import json

import pytest

from studio.plugins.onnx import (
    CPU_PROVIDER,
    CacheProblem,
    ExportCache,
    cache_key,
    cache_size,
    choose_providers,
    clear_cache,
    working_providers,
)


def _fill(folder):
    (folder / "unet").mkdir()
    (folder / "unet" / "model.onnx").write_bytes(b"x" * 5000)
    (folder / "pipeline.json").write_text("{}")
    return {"name": "m"}


def test_cpu_is_always_there_and_a_cpu_request_gets_no_notice():
    assert working_providers()[-1] == CPU_PROVIDER
    choice = choose_providers("cpu")
    assert choice.providers == (CPU_PROVIDER,) and choice.notice == "" and choice.name == "CPU"


def test_a_gpu_that_does_not_start_falls_back_to_the_cpu_with_one_clear_notice(capfd):
    import onnxruntime

    choice = choose_providers("auto")
    if "CUDAExecutionProvider" in working_providers():
        pytest.skip("CUDA works here")
    assert choice.providers == (CPU_PROVIDER,)
    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        assert "CUDA" in choice.notice and "running on the CPU" in choice.notice
    out, err = capfd.readouterr()
    assert "EP Error" not in out + err and "libcublas" not in out + err


def test_an_entry_is_written_whole_and_read_back(tmp_path):
    cache = ExportCache(tmp_path)
    key = cache_key({"model": "abc", "loras": []})
    assert cache.check(key) is None
    folder = cache.build(key, _fill)
    assert folder == tmp_path / "onnx" / key and cache.check(key, full=True) == folder
    assert cache.meta(key) == {"name": "m"}
    assert [p.name for p in (tmp_path / "onnx").iterdir()] == [key]  # no temp folder left
    assert cache_size(tmp_path) > 5000 and cache.entries()[0]["key"] == key


def test_keys_change_with_what_changes_the_export():
    base = {"model": "abc", "loras": []}
    assert cache_key(base) == cache_key(dict(base))
    assert cache_key(base) != cache_key({**base, "loras": [["h", 1.0]]})
    assert cache_key(base) != cache_key({**base, "model": "abd"})


@pytest.mark.parametrize("damage", ["truncate", "delete", "manifest", "flip"])
def test_a_damaged_entry_is_detected(tmp_path, damage):
    cache = ExportCache(tmp_path)
    folder = cache.build("k", _fill)
    unet = folder / "unet" / "model.onnx"
    if damage == "truncate":
        unet.write_bytes(unet.read_bytes()[:100])
    elif damage == "delete":
        unet.unlink()
    elif damage == "manifest":
        (folder / "manifest.json").write_text("{not json")
    else:
        unet.write_bytes(b"y" + unet.read_bytes()[1:])
    with pytest.raises(CacheProblem):
        cache.check("k")
    assert cache.build("k", _fill) == folder and cache.check("k") == folder  # rebuilt in place


def test_a_failed_build_leaves_nothing(tmp_path):
    cache = ExportCache(tmp_path)

    def fail(folder):
        _fill(folder)
        raise RuntimeError("export failed")

    with pytest.raises(RuntimeError):
        cache.build("k", fail)
    assert list((tmp_path / "onnx").iterdir()) == []


def test_clear_frees_everything(tmp_path):
    cache = ExportCache(tmp_path)
    cache.build("a", _fill)
    cache.build("b", _fill)
    assert json.loads((tmp_path / "onnx" / "a" / "manifest.json").read_text())["files"]
    assert clear_cache(tmp_path) > 10000
    assert cache_size(tmp_path) == 0 and cache.entries() == []
