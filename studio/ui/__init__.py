"""The studio window (PySide6). The only package that imports Qt; it never imports torch or a backend.

Widgets bind to view-models (:mod:`studio.ui.viewmodels`); jobs run on the session's worker thread
and reach the GUI thread through :class:`studio.ui.bridge.JobBridge` signals.
"""

from studio.ui._refcount_fix import make_singletons_immortal

make_singletons_immortal()
