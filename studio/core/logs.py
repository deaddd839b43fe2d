"""Logging to ``STUDIO_HOME/logs/studio.log`` (rotating); the UI's log panel reads the same records."""

from __future__ import annotations

import logging
import logging.handlers

from studio.core.paths import log_file

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_logging(level: int = logging.INFO) -> None:
    """Attach one rotating file handler to the ``studio`` logger (idempotent per log path)."""
    logger = logging.getLogger("studio")
    path = str(log_file())
    for handler in logger.handlers:
        if getattr(handler, "baseFilename", None) == path:
            return
    for handler in list(logger.handlers):
        if isinstance(handler, logging.handlers.RotatingFileHandler):
            logger.removeHandler(handler)
            handler.close()
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=2_000_000, backupCount=3, encoding="utf-8")
    handler.setFormatter(logging.Formatter(_FORMAT))
    logger.addHandler(handler)
    logger.setLevel(level)
