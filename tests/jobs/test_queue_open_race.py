"""Several processes opening a new queue at once (two `studio batch` ranks, the window and a CLI) all
get it: none is told the database is damaged because another added a column first."""

from __future__ import annotations

import threading
from pathlib import Path

from studio.jobs.queue import JobQueue


def test_many_openers_of_a_new_queue_all_succeed(tmp_path: Path) -> None:
    failures: list[str] = []
    for trial in range(40):
        path = tmp_path / f"queue-{trial}.sqlite"

        def open_it(path: Path = path) -> None:
            try:
                JobQueue(path).close()
            except Exception as exc:  # the test reports every failure
                failures.append(str(exc))

        threads = [threading.Thread(target=open_it) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert failures == []
