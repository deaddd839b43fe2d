"""Keep the garbage collector's full passes away from the window while a worker imports a library.

A full collection walks every container object the process holds, with the GIL held. While a job or the
warm-up imports torch, diffusers, transformers and their kin, the heap grows by hundreds of thousands of
objects and Python runs a full pass every so often: each took 0.1–0.45 s here, and the window, which
needs the GIL for every event it handles, froze that long (bench/training_ui.py). Inside
:func:`collector_paused` no collection runs; at the end what survived is frozen (``gc.freeze``, the
permanent generation later passes skip): imported modules live as long as the process anyway.

Only imports go inside, not model loads: a frozen object in a reference cycle is never collected, and a
model can be unloaded. (``gc.freeze`` takes every object alive at that moment, so a model already loaded
is frozen too; its objects are still freed by reference counting when it is unloaded, only a cycle among
them would stay.)
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0
_was_enabled = True
_manual = False  # the window collects on its own thread (studio.ui.collection): never switch it back on


def collect_manually() -> None:
    """Automatic collection off for good: the caller collects (``collect_due``) where it is safe."""
    global _manual
    with _lock:
        _manual = True
        gc.disable()


def collect_due() -> None:
    """Collect the generations whose counts passed Python's own thresholds, as automatic collection
    would; nothing while an import runs inside :func:`collector_paused`."""
    with _lock:
        if _depth:
            return
    counts, thresholds = gc.get_count(), gc.get_threshold()
    for generation in (2, 1, 0):  # the oldest due one (a pass collects the younger ones too)
        if counts[generation] > thresholds[generation]:
            gc.collect(generation)
            return


@contextmanager
def collector_paused() -> Iterator[None]:
    """No garbage collection inside (any thread); survivors frozen when the outermost block ends."""
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                gc.freeze()
                if _was_enabled and not _manual:
                    gc.enable()
