"""The collector pause around a worker's imports (studio/core/collector.py)."""

from __future__ import annotations

import gc
import importlib
import sys
import threading

from studio.core.collector import collector_paused


def test_no_collection_inside_and_survivors_frozen_after(tmp_path, monkeypatch):
    module = tmp_path / "many_objects_module.py"
    module.write_text("TABLE = [[i] for i in range(20000)]\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    passes: list[int] = []
    here = threading.get_ident()

    def count(phase, info):  # passes on this thread (another test's thread may call gc.collect() itself)
        if phase == "start" and threading.get_ident() == here:
            passes.append(info["generation"])

    gc.callbacks.append(count)
    frozen_before = gc.get_freeze_count()
    try:
        with collector_paused():
            assert not gc.isenabled()
            imported = importlib.import_module("many_objects_module")  # 20,000 lists: passes were due
        assert passes == []
        assert gc.isenabled()
        assert gc.get_freeze_count() >= frozen_before + 20000  # the module's objects are never walked again
        assert len(imported.TABLE) == 20000
    finally:
        gc.callbacks.remove(count)
        sys.modules.pop("many_objects_module", None)
        gc.unfreeze()


def test_nested_blocks_freeze_once_and_keep_a_disabled_collector_disabled():
    gc.disable()
    try:
        with collector_paused():
            with collector_paused():
                pass
            assert not gc.isenabled()  # the outer block still runs
        assert not gc.isenabled()  # it was off before: stays off
    finally:
        gc.enable()
        gc.unfreeze()
    with collector_paused():
        pass
    assert gc.isenabled()
    gc.unfreeze()
