"""Ask a child process which device torch sees, so that the GUI process never imports torch."""

from __future__ import annotations

import json
import logging
import sys

from PySide6.QtCore import QObject, QProcess, Signal

log = logging.getLogger("studio.ui")

PROBE_COMMAND = (sys.executable, "-m", "studio.backends.probe")


class DeviceProbe(QObject):
    """Runs ``python -m studio.backends.probe`` in a QProcess; emits ``finished(dict)``."""

    finished = Signal(dict)

    def __init__(self, command: tuple[str, ...] = PROBE_COMMAND, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.command = command
        self.process: QProcess | None = None

    def start(self) -> None:
        if self.process is not None:
            return
        self.process = QProcess(self)
        self.process.setProcessChannelMode(QProcess.ProcessChannelMode.SeparateChannels)
        self.process.finished.connect(self._finished)
        self.process.errorOccurred.connect(self._error)
        self.process.start(self.command[0], list(self.command[1:]))

    def stop(self) -> None:
        """Kill a probe still running (the window is closing)."""
        process = self.process
        if process is not None and process.state() != QProcess.ProcessState.NotRunning:
            process.finished.disconnect(self._finished)
            process.errorOccurred.disconnect(self._error)
            process.kill()
            process.waitForFinished(2000)

    def _finished(self, code: int, _status: QProcess.ExitStatus) -> None:
        assert self.process is not None
        out = bytes(self.process.readAllStandardOutput().data()).decode("utf-8", "replace")
        info: dict = {}
        for line in reversed(out.splitlines()):
            try:
                info = json.loads(line)
                break
            except ValueError:
                continue
        if not isinstance(info, dict) or "device" not in info:
            err = bytes(self.process.readAllStandardError().data()).decode("utf-8", "replace")
            log.warning("Device probe gave no answer (exit %s): %s", code, err.strip()[-500:])
            info = {"device": "unknown", "memory": ""}
        self.finished.emit(info)

    def _error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            log.warning("The device probe could not start: %s", self.command[0])
            self.finished.emit({"device": "unknown", "memory": ""})
