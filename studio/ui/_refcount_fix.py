"""Work around PySide6 6.12 reference-count bugs on CPython < 3.12.

Measured here (PySide6 6.12.0, CPython 3.11): every call of a static method that returns
``None`` (``QCoreApplication.processEvents``, ``QApplication.focusWidget`` with no focus,
``sendPostedEvents``) drops one reference to ``None`` too many, and ``SignalInstance.disconnect``
drops one to ``True``. Long enough, the count reaches zero and the interpreter aborts ("Fatal
Python error: none_dealloc") — the test suite did so at exit. CPython 3.12 made these singletons
immortal; here we do the same by hand: give them a reference count no program can exhaust.
"""

from __future__ import annotations

import ctypes
import sys

_BIG = 1 << 40
_done = False


def make_singletons_immortal() -> None:
    """Add a huge constant to the reference counts of None, True and False (once; CPython < 3.12)."""
    global _done
    if _done or sys.implementation.name != "cpython" or sys.version_info >= (3, 12):
        return
    _done = True
    for obj in (None, True, False):
        ctypes.c_ssize_t.from_address(id(obj)).value += _BIG
