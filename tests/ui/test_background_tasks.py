"""Quick background work (a preview, a thumbnail) is not held back by slow work (a first import)."""

from __future__ import annotations

import threading
import time

from studio.ui.tasks import run_in_background


def test_a_quick_task_runs_beside_two_slow_ones(qtbot) -> None:
    release = threading.Event()
    slow_done: list[int] = []
    for n in range(2):  # as many as Qt's default pool has threads on a 2-core machine
        run_in_background(lambda n=n: release.wait(10) and n, slow_done.append)
    started = time.monotonic()
    quick: list[str] = []
    run_in_background(lambda: "preview", quick.append)
    try:
        qtbot.waitUntil(lambda: quick == ["preview"], timeout=3000)
        assert time.monotonic() - started < 3
    finally:
        release.set()
    qtbot.waitUntil(lambda: sorted(slow_done) == [0, 1], timeout=5000)


def test_a_scan_that_ends_after_its_view_model_is_deleted_delivers_nothing(qtbot) -> None:
    """The window closed while the model folders were scanned: the scan's end must not raise
    ("Signal source has been deleted") in the event loop (a flaky teardown error in CI)."""
    import shiboken6

    from studio.core.library import ModelLibrary
    from studio.ui.tasks import wait_for_background
    from studio.ui.viewmodels import LibraryViewModel

    release = threading.Event()

    class SlowLibrary(ModelLibrary):
        def scan(self):  # type: ignore[override]
            release.wait(10)
            return []

    model = LibraryViewModel(SlowLibrary(scan_hf_cache=False, include_demo=False))
    model.refresh()
    shiboken6.delete(model)
    release.set()
    assert wait_for_background(5000)
    qtbot.wait(50)  # the queued delivery runs here; pytest-qt fails the test on an exception in it


def test_a_bound_method_of_a_deleted_object_is_not_called(qtbot) -> None:
    import shiboken6
    from PySide6.QtCore import QObject

    from studio.ui.tasks import wait_for_background

    class Receiver(QObject):
        def __init__(self) -> None:
            super().__init__()
            self.got: list[str] = []

        def take(self, value: str) -> None:
            self.got.append(value)

    release = threading.Event()
    receiver, kept = Receiver(), Receiver()
    run_in_background(lambda: release.wait(10) and "late", receiver.take)
    run_in_background(lambda: release.wait(10) and "kept", kept.take)
    got = receiver.got
    shiboken6.delete(receiver)
    release.set()
    assert wait_for_background(5000)
    qtbot.waitUntil(lambda: kept.got == ["kept"], timeout=3000)
    assert got == []
