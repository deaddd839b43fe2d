"""No code of ours waits with ``QTest.qWait``: PySide6 (6.12) holds the GIL while it waits, so every
Python worker thread nearly stops meanwhile (measured: a counting thread made 104,700 steps during a
1 s ``QTest.qWait`` against 9.3 million during a 1 s ``QEventLoop.exec``). A driver script that polled
the window with it saw a demo job sit at "Loading demo…" with all threads asleep. Wait with
``qtbot.wait`` / ``qtbot.waitUntil`` (a ``QEventLoop``) or ``app.exec()`` instead."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CALL = re.compile(r"\bqWait\s*\(")  # qWaitForWindowExposed and the like are other functions


def test_nothing_waits_with_qtest_qwait() -> None:
    here = Path(__file__).resolve()
    found = [f"{path.relative_to(ROOT)}:{number}"
             for folder in ("studio", "plugins", "tests", "bench")
             for path in sorted((ROOT / folder).rglob("*.py")) if path.resolve() != here
             for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if CALL.search(line)]
    assert found == [], found
