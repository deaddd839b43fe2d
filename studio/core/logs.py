"""Logging to ``STUDIO_HOME/logs/studio.log`` (rotating); the UI's log panel reads the same records."""

from __future__ import annotations

import logging
import logging.handlers

from studio.core.paths import log_file

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_logging(level: int = logging.INFO) -> None:
    """Attach one rotating file handler to the ``studio`` logger (idempotent per log path).

    Raises :class:`~studio.core.errors.BadInput` when ``STUDIO_HOME`` cannot be created. A log file
    that cannot be opened (a read-only folder) leaves a handler that drops records, so Python's
    last-resort handler never prints a traceback on stderr."""
    logger = logging.getLogger("studio")
    path = str(log_file())
    for handler in logger.handlers:
        if getattr(handler, "baseFilename", None) == path:
            return
    for handler in list(logger.handlers):
        if isinstance(handler, logging.handlers.RotatingFileHandler | logging.NullHandler):
            logger.removeHandler(handler)
            handler.close()
    try:
        handler: logging.Handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=2_000_000, backupCount=3, encoding="utf-8", errors="backslashreplace"
        )
    except OSError:
        handler = logging.NullHandler()
    handler.setFormatter(logging.Formatter(_FORMAT))
    logger.addHandler(handler)
    logger.setLevel(level)


def log_location() -> str:
    """The log file's path for a message, or a note that there is none (never raises)."""
    handlers = logging.getLogger("studio").handlers
    for handler in handlers:
        name = getattr(handler, "baseFilename", None)
        if name:
            return str(name)
    return "no log file: STUDIO_HOME is not writable"
