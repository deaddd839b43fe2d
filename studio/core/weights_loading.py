"""One model built from its weights at a time in this process.

The ecosystem's loaders build a model's modules without allocating their weights by patching torch for
the whole process while they run (accelerate's ``init_empty_weights`` swaps
``nn.Module.register_parameter``; transformers swaps the ``torch.nn.init`` functions). A module that
another thread builds meanwhile sees those patches: when the warm-up loaded the demo while a resumed
training loaded it too, both came out with a text-encoder weight missing and were refused as damaged
files. Every load of weights, and every module a job builds (LoRA adapters, a recipe's model), holds
:func:`loading_weights`. The lock is reentrant: a loader that calls another needs no care.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.RLock()


@contextmanager
def loading_weights() -> Iterator[None]:
    """Hold while building modules or loading weights into them (any thread; waits for another load)."""
    with _lock:
        yield
