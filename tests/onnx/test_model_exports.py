"""ModelExports, the steps both ONNX families take per loaded model: the export found in the cache or
made (and timed, the torch model dropped before it returns), and the provider notice told once."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

import pytest
import torch

from studio.plugins import LoadContext, ModelEntry
from studio.plugins.onnx import CPU_PROVIDER, ExportCache, ModelExports, ProviderChoice, cache_key


class Reports:
    """A job's ``report`` callable that keeps what it was told."""

    def __init__(self) -> None:
        self.messages: list[str] = []
        self.notices: list[str] = []

    def __call__(self, step: int, total: int, preview=None, message: str | None = None, *, notice: str = "",
                 **_) -> None:
        if message:
            self.messages.append(message)
        if notice:
            self.notices.append(notice)


class Exporter:
    """``release``, ``load`` and ``write`` as a family passes them, counting the calls."""

    def __init__(self) -> None:
        self.loads = 0
        self.releases = 0
        self.loaded: weakref.ref | None = None

    def release(self) -> None:
        self.releases += 1

    def load(self) -> torch.nn.Module:
        self.loads += 1
        model = torch.nn.Linear(2, 2)
        model.cycle = [model]  # freed only by a collection, as a pipeline's modules are
        self.loaded = weakref.ref(model)
        return model

    def write(self, model: torch.nn.Module, folder: Path) -> dict[str, int]:
        assert isinstance(model, torch.nn.Linear)
        (folder / "model.onnx").write_bytes(b"graph" * 100)
        return {"inputs": model.in_features}

    def folder(self, exports: ModelExports, key: str, report: Reports) -> Path:
        return exports.folder(key, report, release=self.release, load=self.load, write=self.write)


def _exports(tmp_path: Path, notice: str = "") -> ModelExports:
    return ModelExports("tiny", ExportCache(tmp_path), ProviderChoice((CPU_PROVIDER,), notice))


def test_the_first_lookup_exports_and_times_it_the_next_reuses_the_entry(tmp_path):
    exports, exporter, report = _exports(tmp_path), Exporter(), Reports()
    key = cache_key({"model": "tiny"})
    gc.disable()  # only the export's own collection may free the torch model
    try:
        folder = exporter.folder(exports, key, report)
        assert exporter.loaded is not None and exporter.loaded() is None  # gone before the sessions load
    finally:
        gc.enable()
    assert folder == tmp_path / "onnx" / key and (folder / "model.onnx").is_file()
    assert exports.cache.meta(key) == {"inputs": 2}
    assert exporter.loads == 1 and exporter.releases == 1
    assert exports.last_export_seconds is not None and exports.last_export_seconds >= 0
    assert report.messages == ["Loading 'tiny' to export it to ONNX…"]
    assert exporter.folder(exports, key, report) == folder
    assert exporter.loads == 1 and exporter.releases == 1 and exports.last_export_seconds is None


def test_a_damaged_entry_is_told_and_exported_again(tmp_path):
    exports, exporter, report = _exports(tmp_path), Exporter(), Reports()
    key = cache_key({"model": "tiny"})
    folder = exporter.folder(exports, key, report)
    (folder / "model.onnx").write_bytes(b"cut")
    assert exporter.folder(exports, key, report) == folder
    assert exporter.loads == 2 and exporter.releases == 2 and exports.last_export_seconds is not None
    assert len(report.notices) == 1 and "'tiny' was damaged" in report.notices[0]
    assert exports.cache.check(key, full=True) == folder


def test_a_failed_export_leaves_no_entry_and_no_time(tmp_path):
    exports, report = _exports(tmp_path), Reports()
    key = cache_key({"model": "tiny"})

    def write(model, folder: Path) -> dict:
        raise RuntimeError("the exporter failed")

    with pytest.raises(RuntimeError, match="exporter failed"):
        exports.folder(key, report, release=lambda: None, load=lambda: torch.nn.Linear(2, 2), write=write)
    assert exports.cache.check(key) is None and exports.last_export_seconds is None


def test_the_provider_notice_is_told_once_per_loaded_model(tmp_path):
    exports = _exports(tmp_path, notice="CUDA did not start; running on the CPU.")
    assert exports.provider_notice() == "CUDA did not start; running on the CPU."
    assert exports.provider_notice() == ""
    assert _exports(tmp_path).provider_notice() == ""  # no notice: nothing to tell


def test_for_context_uses_the_studio_cache_folder_and_the_device(tmp_path):
    entry = ModelEntry(name="tiny", path=str(tmp_path / "tiny"), kind="sd")
    exports = ModelExports.for_context(LoadContext(model=entry, device="cpu", backend="onnx", cache_dir=tmp_path))
    assert exports.name == "tiny" and exports.cache.root == tmp_path / "onnx"
    assert exports.choice.providers == (CPU_PROVIDER,)
    homeless = ModelExports.for_context(LoadContext(model=entry, device="cpu", backend="onnx"))
    assert homeless.cache.root.parent.name == "studio-cache"
