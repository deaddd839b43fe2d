"""Run a plain function on Qt's thread pool and get its result back on the GUI thread."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

log = logging.getLogger("studio.ui")


class _Carrier(QObject):
    """Lives on the GUI thread; its signal crosses back from the pool thread (queued)."""

    done = Signal(object, object)  # result, exception


_pending: set[_Carrier] = set()
MIN_POOL_THREADS = 4  # a slow task (a tokenizer's first import) must not hold back quick ones (a preview)


def _pool() -> QThreadPool:
    """Qt's global pool, with at least :data:`MIN_POOL_THREADS` threads (Qt's default is the core count:
    2 here, where two slow start-up tasks left the export dialog's preview empty for 6–9 s)."""
    pool = QThreadPool.globalInstance()
    if pool.maxThreadCount() < MIN_POOL_THREADS:
        pool.setMaxThreadCount(MIN_POOL_THREADS)
    return pool


def run_in_background(
    work: Callable[[], Any],
    on_done: Callable[[Any], None],
    on_error: Callable[[BaseException], None] | None = None,
    owner: QObject | None = None,
) -> None:
    """Call ``work()`` off the GUI thread, then ``on_done(result)`` (or ``on_error``) on it.

    With an ``owner``, nothing is delivered once the owner is gone (a closed panel, a deleted tab). When
    ``on_done`` is a QObject's method, that object is the owner unless another is given.
    """
    if owner is None and isinstance(getattr(on_done, "__self__", None), QObject):
        owner = on_done.__self__
    carrier = _Carrier()
    _pending.add(carrier)

    def deliver(result: Any, error: BaseException | None) -> None:
        _pending.discard(carrier)
        carrier.deleteLater()
        if owner is not None and not shiboken6.isValid(owner):
            return  # runs on the GUI thread, where the owner is deleted: no race
        if error is None:
            on_done(result)
        elif on_error is not None:
            on_error(error)
        else:
            log.error("Background task failed: %s", error)

    carrier.done.connect(deliver)

    def job() -> None:
        try:
            result, error = work(), None
        except Exception as exc:  # reported on the GUI thread
            result, error = None, exc
        carrier.done.emit(result, error)

    _pool().start(QRunnable.create(job))


def wait_for_background(timeout_ms: int = 10_000) -> bool:
    """Wait for pool work to finish (used on close and by tests)."""
    return QThreadPool.globalInstance().waitForDone(timeout_ms)
