"""Errors whose messages a designer can act on.

Every error carries a short ``message`` (what happened) and a ``hint`` (what to do). The CLI prints
``message`` and ``hint`` on one line and exits with ``exit_code``; the UI shows both in a dialog.
"""

from __future__ import annotations


class StudioError(Exception):
    """Base of every error the studio reports to a person."""

    exit_code = 1

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def user_text(self) -> str:
        """One line: what happened, then what to do about it."""
        return f"{self.message} {self.hint}".strip()

    def __str__(self) -> str:
        return self.user_text()


class BadInput(StudioError):
    """The user asked for something impossible (bad size, missing file, unknown name)."""

    exit_code = 2


class ModelError(BadInput):
    """A model file or folder is missing, unreadable, unsafe or of a kind no plugin handles."""


class CapabilityError(BadInput):
    """The model's family cannot do what the request asks (an image from a language model)."""


class PluginError(StudioError):
    """A plugin's manifest is invalid, or its code raised on import, load or run."""


class JobCancelled(StudioError):
    """Raised inside a job when the user cancelled it; the runner records it as cancelled."""

    def __init__(self, message: str = "Cancelled by the user.") -> None:
        super().__init__(message)


class OutOfMemory(StudioError):
    """The device ran out of memory; the hint names the setting that helps."""


def describe(exc: BaseException) -> str:
    """A designer-readable one-liner for any exception (the traceback goes to the log)."""
    if isinstance(exc, StudioError):
        return exc.user_text()
    text = str(exc) or type(exc).__name__
    if "out of memory" in text.lower() or isinstance(exc, MemoryError):
        return OutOfMemory(
            "The device ran out of memory.",
            "Try a smaller size or batch, or turn on attention slicing / CPU offload in Settings.",
        ).user_text()
    return f"Unexpected error: {type(exc).__name__}: {text}"
