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
