"""A session listener for the ONNX tests: keeps the events a job sends and presses Stop at a step."""

from __future__ import annotations

from studio.core.events import LogLine, Preview, Progress, TextChunk
from studio.session import StudioSession


class Events:
    """What the jobs reported: notices, progress steps and status messages, previews, streamed text and
    the tokens generated so far; with ``cancel_at`` set, the job is cancelled at that step (or token)."""

    def __init__(self) -> None:
        self.notices: list[str] = []
        self.steps: list[tuple[int, int]] = []
        self.messages: list[str] = []
        self.previews = 0
        self.chunks: list[str] = []
        self.tokens = 0
        self.cancel_at: int | None = None
        self.session: StudioSession | None = None

    def job_changed(self, job):
        pass

    def job_event(self, job_id, event):
        if isinstance(event, TextChunk):
            self.chunks.append(event.text)
        elif isinstance(event, LogLine):
            self.notices.append(event.text)
        elif isinstance(event, Preview):
            self.previews += 1
        elif isinstance(event, Progress):
            self.steps.append((event.step, event.total))
            if event.message:
                self.messages.append(event.message)
            elif event.step >= 1:
                self.tokens = event.step  # steps (tokens) done so far, also while a token's text is held back
                if self.cancel_at and event.step >= self.cancel_at and self.session is not None:
                    self.session.runner.cancel(job_id)
