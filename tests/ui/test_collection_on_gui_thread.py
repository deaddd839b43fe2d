"""Garbage collection runs on the GUI thread only once a window exists (studio.ui.collection): a worker's
allocations never start a pass that could finalise Qt objects off their thread (a segfault in tests/ui
before), and garbage in reference cycles is still freed, by the window's timer."""

from __future__ import annotations

import gc
import threading
import weakref

from studio.core.collector import collector_paused


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_cycles_are_collected_by_the_window_not_by_a_worker(make_window, qtbot) -> None:
    make_window()
    assert not gc.isenabled()  # a worker's allocations start no pass
    with collector_paused():  # an import's pause ends without switching automatic collection back on
        pass
    assert not gc.isenabled()

    collected_in: list[str] = []

    def note(phase: str, _info: dict) -> None:
        if phase == "stop":
            collected_in.append(threading.current_thread().name)

    cycle = _Cycle()
    gone = weakref.ref(cycle)
    del cycle
    gc.callbacks.append(note)
    try:
        worker = threading.Thread(target=lambda: [_Cycle() for _ in range(50_000)], name="worker")
        worker.start()
        worker.join()
        assert gone() is not None and "worker" not in collected_in  # nothing collected in the worker
        qtbot.waitUntil(lambda: gone() is None, timeout=5_000)  # the window's timer frees it
        assert collected_in and set(collected_in) == {threading.main_thread().name}
    finally:
        gc.callbacks.remove(note)
