"""Match scores for the gallery, computed as jobs (never on the GUI thread).

:class:`GalleryScoring` answers the gallery panel's ``score_requested`` and ``rank_requested``:

- *Score match* (and, with Settings' "Score new images automatically", every finished generation)
  queues :class:`~studio.core.requests.ScoreRequest` jobs scoring images against their own prompts,
  at most :data:`MAX_IMAGES_PER_JOB` a job, one after the other; each job's scores are written to the
  gallery on the worker (the job's finalize step) with the scorer that gave them, so only images that
  scorer has not scored are ever scored again;
- *Rank by prompt…* queues one job scoring the selection against a prompt and shows the ranking in a
  :class:`~studio.ui.dialogs.rank.RankDialog`.

A scorer that is missing or fails gives one clear line under the gallery's filters (and in the status
bar); the gallery keeps working.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import shiboken6
from PySide6.QtCore import QObject, Qt

from studio.core.errors import StudioError
from studio.core.gallery import Gallery, GalleryItem, model_display_name, own_prompt_scores, score_table
from studio.core.requests import DEFAULT_SCORER, ScoreRequest
from studio.core.results import JobResult
from studio.jobs.queue import Job, JobState
from studio.ui.dialogs.rank import RankDialog
from studio.ui.tasks import run_in_background

if TYPE_CHECKING:
    from studio.ui.window import MainWindow

MAX_IMAGES_PER_JOB = 256
STORE_WAIT_S = 2.0  # how long storing scores waits for an index another program holds
SCORER_HINT = "Choose a scorer in Settings › Scorer model. The gallery works as before."


def store_match_scores(gallery: Gallery, prompts: dict[str, str], scorer: str, result: JobResult) -> JobResult:
    """A score job's finalize step (on the worker): each image's score against its own prompt
    (``prompts``: path -> prompt) written to the gallery; how many in ``data["match_stored"]``."""
    data = dict(result.data)
    try:
        data["match_stored"] = gallery.set_match(own_prompt_scores(result.data, prompts), scorer, wait_s=STORE_WAIT_S)
    except (sqlite3.Error, StudioError) as exc:  # a locked index: the scores are lost, the job is not
        data["match_stored"] = 0
        data["notices"] = [*data.get("notices", []), f"The match scores could not be stored ({exc}); "
                           "Score match tries again."]
    return dataclasses.replace(result, data=data)


def _on_disk(items: list[GalleryItem]) -> list[GalleryItem]:
    """The items whose image file is still there (a moved file would fail the whole job)."""
    return [item for item in items if Path(item.path).is_file()]


class GalleryScoring(QObject):
    """Runs the gallery's match scoring and ranking through the window's session."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.panel = window.gallery_panel
        self.panel.score_requested.connect(self.score)
        self.panel.rank_requested.connect(self.rank)
        window.bridge.finished.connect(self._job_finished)
        self.waiting: list[GalleryItem] = []  # the next images of a Score match run
        self.running: int | None = None  # the match job in the queue now
        self._running_ids: set[int] = set()  # the gallery items that job scores
        self._waiting_scorer = ""  # the scorer the waiting images are for
        self._stored = 0  # images scored in this run so far
        self._auto_failed = ""  # the scorer that failed on new images (not tried on each new image again)
        self.rank_dialog: RankDialog | None = None

    def scorer(self) -> str:
        return (getattr(self.window.settings, "scorer_model", "") or "").strip() or DEFAULT_SCORER

    def _gallery(self) -> Gallery | None:
        session = self.window.session
        if session is None:
            self.panel.set_match_status("The studio is still starting; try again in a moment.", error=True)
            return None
        if not isinstance(session.gallery, Gallery):
            self.panel.set_match_status("The gallery index cannot be used now, so images cannot be scored.",
                                        error=True)
            return None
        return session.gallery

    # -- match against the image's own prompt ---------------------------------------------
    def score(self, items: list[GalleryItem], quiet: bool = False) -> None:
        """Score ``items`` (all images when empty) that the chosen scorer has not scored yet."""
        self.score_paths([item.path for item in items] if items else None, quiet)

    def score_paths(self, paths: list[str] | None, quiet: bool = False) -> None:
        gallery = self._gallery()
        if gallery is None:
            return
        scorer = self.scorer()

        def found(items: list[GalleryItem]) -> None:
            self._queue(items, scorer, quiet)

        run_in_background(lambda: _on_disk(gallery.unscored(scorer, paths)), found,
                          lambda exc: self.panel.set_match_status(f"The gallery could not be read: {exc}", True),
                          owner=self)

    def _queue(self, items: list[GalleryItem], scorer: str, quiet: bool) -> None:
        if not items:
            if not quiet:
                self.panel.set_match_status(f"Every image is scored by {model_display_name(scorer)}.")
            return
        known = {item.id for item in self.waiting} | self._running_ids  # not queued twice
        if scorer != self._waiting_scorer:
            self.waiting, known = [], set()  # the scorer changed meanwhile: its images are listed anew
        self._waiting_scorer = scorer
        self.waiting.extend(item for item in items if item.id not in known)
        if self.running is None:
            self._stored = 0
            self._next(quiet)

    def _next(self, quiet: bool = False) -> None:
        gallery, scorer = self._gallery(), self._waiting_scorer
        chunk, self.waiting = self.waiting[:MAX_IMAGES_PER_JOB], self.waiting[MAX_IMAGES_PER_JOB:]
        if gallery is None or not chunk:
            self.waiting = []
            return
        prompts = {item.path: item.prompt for item in chunk}
        request = ScoreRequest(model=scorer, images=tuple(prompts), prompts=tuple(dict.fromkeys(prompts.values())))
        job, problem = self._submit(request, partial(store_match_scores, gallery, prompts, scorer))
        if job is None:
            self.waiting = []
            if quiet:
                self._auto_failed = scorer
            self._say_failed(scorer, problem)
            return
        self.running, self._running_ids = job.id, {item.id for item in chunk}
        watch = self.window.bridge.watch(job.id)
        watch.finished.connect(lambda done: self._scored(done, scorer, quiet))
        watch.failed.connect(lambda failed: self._stopped(failed, scorer, quiet))
        watch.cancelled.connect(lambda cancelled: self._stopped(cancelled, scorer, quiet))
        more = f" ({len(self.waiting)} more after it)" if self.waiting else ""
        self.panel.set_match_status(f"Scoring {len(chunk)} image{'s' if len(chunk) > 1 else ''} against their "
                                    f"prompts with {model_display_name(scorer)}: job {job.id} in the queue{more}…")

    def _scored(self, job: Job, scorer: str, quiet: bool) -> None:
        self.running, self._running_ids = None, set()
        data = job.result.data if job.result is not None else {}
        self._stored += data.get("match_stored", 0)
        self.window.gallery_model.refresh()  # the new scores (and their order, sorted by match)
        if data.get("notices"):  # the scores could not be stored: the run stops here
            self.waiting = []
            self.panel.set_match_status(data["notices"][-1], error=True)
        elif self.waiting:
            self._next(quiet)
        elif not quiet or self._stored:
            stored, plural = self._stored, "s" if self._stored != 1 else ""
            self.panel.set_match_status(f"Scored {stored} image{plural} with {model_display_name(scorer)}.")

    def _stopped(self, job: Job, scorer: str, quiet: bool) -> None:
        self.running, self._running_ids, self.waiting = None, set(), []
        if job.state is JobState.FAILED:
            if quiet:
                self._auto_failed = scorer
            self._say_failed(scorer, job.error or "the job failed")
        else:
            self.panel.set_match_status("Scoring stopped; Score match goes on from where it stopped.")

    def _say_failed(self, scorer: str, problem: str) -> None:
        text = f"Match scores could not be computed with '{scorer}': {problem.rstrip('.')}. {SCORER_HINT}"
        self.panel.set_match_status(text, error=True)
        self.window.notify(text)

    def _job_finished(self, job: Job) -> None:
        """New images: scored at once when Settings says so (a generation or a batch that wrote images)."""
        settings = self.window.settings
        if not getattr(settings, "auto_score", False) or job.request.kind not in ("generate", "batch"):
            return
        if job.result is None or self.scorer() == self._auto_failed:
            return
        paths = [a.path for a in job.result.artifacts if a.kind == "image"]
        if paths:
            self.score_paths(paths, quiet=True)

    def settings_changed(self) -> None:
        """A scorer chosen again in Settings is tried again on new images."""
        self._auto_failed = ""

    # -- rank a selection by a prompt --------------------------------------------------------
    def rank(self, items: list[GalleryItem], prompt: str) -> RankDialog:
        """Score ``items`` against ``prompt`` in a job; the dialog shows them best first when it is done."""
        scorer = self.scorer()
        if self.rank_dialog is not None:
            self.rank_dialog.close()
        dialog = RankDialog(items, prompt, scorer, self.window)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open_item.connect(self.panel.open_item.emit)
        dialog.star_item.connect(lambda item, starred: self.window.gallery_model.set_starred(item.id, starred))
        dialog.show_item.connect(self._show_in_gallery)
        dialog.destroyed.connect(lambda _o=None: setattr(self, "rank_dialog", None))
        self.rank_dialog = dialog
        run_in_background(lambda: _on_disk(items), lambda found: self._queue_rank(dialog, found, prompt, scorer),
                          owner=dialog)  # the files are looked at off the GUI thread
        dialog.show()
        return dialog

    def _queue_rank(self, dialog: RankDialog, items: list[GalleryItem], prompt: str, scorer: str) -> None:
        if not items:
            dialog.show_error("the image files are missing (moved or deleted).")
            return
        request = ScoreRequest(model=scorer, images=tuple(item.path for item in items), prompts=(prompt,))
        job, problem = self._submit(request)
        if job is None:
            dialog.show_error(f"{problem} {SCORER_HINT}")
            self.window.notify(f"Ranking by prompt failed: {problem}")
            return
        dialog.job_id = job.id
        dialog.destroyed.connect(lambda _o=None, job_id=job.id: self._cancel_unfinished(job_id))
        watch = self.window.bridge.watch(job.id)
        watch.finished.connect(lambda done: self._ranked(dialog, prompt, done))
        watch.failed.connect(lambda failed: self._ranked(dialog, prompt, failed))
        watch.cancelled.connect(lambda cancelled: self._ranked(dialog, prompt, cancelled))

    def _cancel_unfinished(self, job_id: int) -> None:
        """A ranking closed before its job ended: the job is not needed any more."""
        session = self.window.session
        if session is not None and not session.queue.get(job_id).state.finished:
            session.runner.cancel(job_id)

    @staticmethod
    def _ranked(dialog: RankDialog, prompt: str, job: Job) -> None:
        if not shiboken6.isValid(dialog):  # closed before the job ended
            return
        if job.state is JobState.DONE and job.result is not None:
            table = score_table(job.result.data)
            dialog.show_scores({path: scores[prompt] for path, scores in table.items() if prompt in scores})
        elif job.state is JobState.FAILED:
            dialog.show_error(f"{job.error} {SCORER_HINT}")
        else:
            dialog.show_error("the job was cancelled.")

    def _show_in_gallery(self, item: GalleryItem) -> None:
        self.window.docks["gallery"].raise_()
        self.panel.select_item(item.id)

    # -- queueing -------------------------------------------------------------------------------
    def _submit(self, request: ScoreRequest,
                finalize: Callable[[JobResult], JobResult] | None = None) -> tuple[Job | None, str]:
        """Queue ``request`` (checked first: a missing scorer is refused now, not when it runs)."""
        session = self.window.session
        if session is None:
            return None, "the studio is still starting; try again in a moment."
        try:
            request.validate()
            self.window.check_model(request)
            session.check_backend(request)
        except StudioError as exc:
            return None, exc.user_text()
        return session.runner.submit(request, finalize), ""
