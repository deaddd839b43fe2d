"""The main window: central canvas, dockable panels, menus, status bar, persisted layout."""

from __future__ import annotations

import logging
import os
import time
from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, QMetaObject, QObject, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QIcon, QKeySequence
from PySide6.QtWidgets import QApplication, QDockWidget, QLabel, QMainWindow, QMenu, QWidget

from studio.core.errors import StudioError
from studio.core.paths import RESOURCES, home_path, log_file
from studio.core.requests import GenerationRequest, Request, TextRequest, TrainRequest
from studio.core.settings import Settings
from studio.jobs.queue import Job, JobState

if TYPE_CHECKING:  # dialogs are imported when first opened, the session after the first paint
    from studio.session import StudioSession
    from studio.ui.dialogs.export import ExportDialog
    from studio.ui.dialogs.finetune import FineTuneDialog
    from studio.ui.dialogs.plugins import PluginsDialog
    from studio.ui.dialogs.settings import SettingsDialog
from studio.ui.bridge import JobBridge
from studio.ui.gallery_model import GalleryViewModel
from studio.ui.imaging import connect_imaging
from studio.ui.panels.canvas import Canvas
from studio.ui.panels.editor import EditorPanel
from studio.ui.panels.gallery import GalleryPanel
from studio.ui.panels.log import LogPanel
from studio.ui.panels.prompt import PromptPanel
from studio.ui.panels.provenance import ProvenancePanel
from studio.ui.panels.queue import QueuePanel
from studio.ui.panels.training import TrainingMonitor
from studio.ui.probe import PROBE_COMMAND, DeviceProbe
from studio.ui.qsettings import ui_settings
from studio.ui.tasks import wait_for_background
from studio.ui.training_model import TrainingViewModel, is_training
from studio.ui.viewmodels import (
    CanvasViewModel,
    LibraryViewModel,
    LogViewModel,
    QueueModel,
    StatusViewModel,
)

log = logging.getLogger("studio.ui")

ICON = RESOURCES / "icons" / "studio.svg"
NOTICE_MS = 15_000
HISTORY_ROWS = 200
POLL_MS = 1000  # how often the queue dock looks for jobs other processes run
POLL_OVERLAP_S = 0.25  # each look reaches a little before the last one (rows written meanwhile)
TRAINING_DOCK_HEIGHT = 330
DOCKS = ("prompt", "gallery", "queue", "editor", "provenance", "training", "log")


def jobs_to_show(jobs: list[Job], recent: int = HISTORY_ROWS) -> list[Job]:
    """Unfinished and interrupted jobs, plus the most recent others (the queue keeps them all)."""
    keep = {j.id for j in jobs if j.state in (JobState.QUEUED, JobState.RUNNING, JobState.PAUSED,
                                              JobState.INTERRUPTED)}
    keep.update(j.id for j in jobs[-recent:])
    return [j for j in jobs if j.id in keep]


class MainWindow(QMainWindow):
    """The studio window; it sends intents to ``session`` and shows state from the view-models.

    ``session`` may come later through :meth:`attach` (the app paints the window first, then opens
    the session: plugin discovery and the queue database stay out of the time to first paint);
    ``settings`` must then be the object the session will use.
    """

    def __init__(
        self,
        session: StudioSession | None,
        bridge: JobBridge,
        probe_command: tuple[str, ...] | None = PROBE_COMMAND,
        settings: Settings | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.session: StudioSession | None = None
        self.settings = session.settings if session is not None else (settings or Settings.load())
        self.bridge = bridge
        self.setWindowTitle("Studio")
        self.setObjectName("studioMainWindow")
        if ICON.is_file():
            self.setWindowIcon(QIcon(str(ICON)))
        self.setDockOptions(
            QMainWindow.DockOption.AnimatedDocks
            | QMainWindow.DockOption.AllowTabbedDocks
            | QMainWindow.DockOption.AllowNestedDocks
        )

        # view-models
        self.queue_model = QueueModel(self)
        self.canvas_model = CanvasViewModel(self)
        self.log_model = LogViewModel(tail_of=log_file(), parent=self)
        self.status_model = StatusViewModel(self.settings.backend, self)
        self.library_model = LibraryViewModel(None, self)
        self.gallery_model = GalleryViewModel(None, self)
        self.training_model = TrainingViewModel(bridge, lambda: home_path("runs"), self.jobs_for_run, self)
        self._bridge_connections: list[QMetaObject.Connection] = []
        self._wire_bridge()

        # widgets
        self.canvas = Canvas(self.canvas_model)
        self.setCentralWidget(self.canvas)
        self.prompt_panel = PromptPanel(
            self.library_model, self.settings, self.submit, image_kinds=self.image_model_kinds
        )
        self.queue_panel = QueuePanel(
            self.queue_model, self.cancel_job, self.requeue_job, pause=self.pause_job, resume=self.resume_job
        )
        self.queue_panel.use_settings.connect(self.use_job_settings)
        self.log_panel = LogPanel(self.log_model)
        self.editor_panel = EditorPanel(
            self.library_model, self.bridge, self.submit, self.cancel_job, model_kinds=self.text_model_kinds
        )
        self.provenance_panel = ProvenancePanel()
        self.docks: dict[str, QDockWidget] = {}
        self._add_dock("prompt", "Prompt", self.prompt_panel)
        self.gallery_panel = GalleryPanel(self.gallery_model)
        self._add_dock("gallery", "Gallery", self.gallery_panel)
        self._add_dock("editor", "Editor", self.editor_panel)
        self._add_dock("provenance", "Check provenance", self.provenance_panel)
        self._add_dock("queue", "Queue", self.queue_panel)
        self._add_dock("log", "Log", self.log_panel)
        self.training_monitor = TrainingMonitor(
            self.training_model, self.pause_job, self.resume_job, self.cancel_job, self.requeue_job,
            self.use_lora, self.open_fine_tune,
        )
        self._add_dock("training", "Training monitor", self.training_monitor)
        self._default_layout()
        self._build_menus()
        self._build_status_bar()
        self.imaging = connect_imaging(self)

        self.probe = DeviceProbe(probe_command, self) if probe_command else None
        if self.probe is not None:
            self.probe.finished.connect(self.status_model.set_probe)
        self._default_state = self.saveState()
        self.restore_layout()
        self._started = False
        self._shut_down = False
        self._polled_at = 0.0
        self.poll_timer = QTimer(self, interval=POLL_MS)
        self.poll_timer.timeout.connect(self.poll_queue)
        if session is not None:
            self.attach(session)

    def attach(self, session: StudioSession) -> None:
        """Show ``session``'s jobs and models and send intents to it from now on."""
        self.session = session
        self.settings = session.settings
        self._polled_at = time.time()
        self.queue_model.load(jobs_to_show(session.queue.jobs()))
        self.poll_timer.start()
        self.library_model.library = session.library
        self.gallery_model.gallery = session.gallery
        self.gallery_model.refresh()
        self.training_model.refresh_runs()
        for job in self.queue_model.jobs():
            if is_training(job) and job.state is JobState.RUNNING:
                self.training_model.job_seen(job)

    # -- layout ------------------------------------------------------------------------
    def _add_dock(self, key: str, title: str, widget: QWidget) -> None:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"{key}Dock")
        dock.setWidget(widget)
        self.docks[key] = dock

    def _default_layout(self) -> None:
        d = self.docks
        self.resize(1440, 900)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, d["prompt"])
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, d["gallery"])
        self.tabifyDockWidget(d["gallery"], d["editor"])
        self.tabifyDockWidget(d["editor"], d["provenance"])
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, d["queue"])
        self.splitDockWidget(d["queue"], d["log"], Qt.Orientation.Horizontal)
        self.tabifyDockWidget(d["log"], d["training"])
        d["gallery"].raise_()
        d["log"].raise_()
        self.resizeDocks([d["prompt"], d["gallery"]], [360, 300], Qt.Orientation.Horizontal)
        self.resizeDocks([d["queue"]], [240], Qt.Orientation.Vertical)
        self.resizeDocks([d["queue"], d["log"]], [760, 520], Qt.Orientation.Horizontal)

    def restore_layout(self) -> None:
        store = ui_settings()
        geometry = store.value("window/geometry")
        state = store.value("window/state")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        if isinstance(state, QByteArray):
            self.restoreState(state)

    def save_layout(self) -> None:
        store = ui_settings()
        store.setValue("window/geometry", self.saveGeometry())
        store.setValue("window/state", self.saveState())
        store.sync()

    def reset_layout(self) -> None:
        self.restoreState(self._default_state)
        for dock in self.docks.values():
            dock.setFloating(False)
            dock.show()

    # -- menus and status bar ----------------------------------------------------------
    def _action(
        self,
        menu: QMenu,
        text: str,
        slot: object,
        shortcut: QKeySequence.StandardKey | str | None = None,
        fallback: str = "",
    ) -> QAction:
        action = menu.addAction(text)
        action.triggered.connect(slot)
        if isinstance(shortcut, QKeySequence.StandardKey):
            keys = QKeySequence.keyBindings(shortcut)
            action.setShortcuts(keys or ([QKeySequence(fallback)] if fallback else []))
        elif shortcut:
            action.setShortcut(QKeySequence(shortcut))
        return action

    def _build_menus(self) -> None:
        keys = QKeySequence.StandardKey
        bar = self.menuBar()
        file = bar.addMenu("&File")
        self._action(file, "&Add Model Folder…", self.add_model_folder, keys.Open, "Ctrl+O")
        self._action(file, "&Rescan Models", self.library_model.refresh, keys.Refresh, "F5")
        self._action(file, "&Export Images…", self.export_images, "Ctrl+Shift+X")
        file.addSeparator()
        quit_action = self._action(file, "&Quit", self.close, keys.Quit, "Ctrl+Q")
        quit_action.setMenuRole(QAction.MenuRole.QuitRole)

        edit = bar.addMenu("&Edit")
        for text, name, key, fallback in (
            ("&Undo", "undo", keys.Undo, "Ctrl+Z"),
            ("&Redo", "redo", keys.Redo, "Ctrl+Shift+Z"),
            (None, "", None, ""),
            ("Cu&t", "cut", keys.Cut, "Ctrl+X"),
            ("&Copy", "copy", keys.Copy, "Ctrl+C"),
            ("&Paste", "paste", keys.Paste, "Ctrl+V"),
            ("Select &All", "selectAll", keys.SelectAll, "Ctrl+A"),
        ):
            if text is None:
                edit.addSeparator()
            else:
                self._action(edit, text, lambda _=False, n=name: self._forward_edit(n), key, fallback)

        view = bar.addMenu("&View")
        for dock in self.docks.values():
            view.addAction(dock.toggleViewAction())
        view.addSeparator()
        self._action(view, "&Reset Layout", self.reset_layout)
        self._action(view, "&Full Screen", self._toggle_full_screen, keys.FullScreen, "F11")

        jobs = bar.addMenu("&Jobs")
        self._action(jobs, "&Generate", self.prompt_panel.submit, "Ctrl+Return")
        self._action(jobs, "&Pause Selected Job", self.queue_panel.pause_selected)
        self._action(jobs, "Res&ume Selected Job", self.queue_panel.resume_selected)
        self._action(jobs, "&Cancel Selected Job", self.queue_panel.cancel_selected)
        self._action(jobs, "&Re-queue Selected Job", self.queue_panel.requeue_selected)

        training = bar.addMenu("T&raining")
        self._action(training, "&Fine-tune (LoRA)…", self.open_fine_tune, "Ctrl+Shift+T")
        self._action(training, "Training &Monitor", self.show_training_monitor)

        tools = bar.addMenu("&Tools")
        settings = self._action(tools, "&Settings…", self.open_settings, keys.Preferences, "Ctrl+,")
        settings.setMenuRole(QAction.MenuRole.PreferencesRole)
        self._action(tools, "&Plugins…", self.open_plugins)

        help_menu = bar.addMenu("&Help")
        about = self._action(help_menu, "&About Studio", self.open_about)
        about.setMenuRole(QAction.MenuRole.AboutRole)
        self._action(help_menu, "About &Qt", QApplication.aboutQt)

    def _build_status_bar(self) -> None:
        self.device_label = QLabel()
        self.memory_label = QLabel()
        self.backend_label = QLabel()
        for label in (self.device_label, self.memory_label, self.backend_label):
            self.statusBar().addPermanentWidget(label)
        self.status_model.changed.connect(self._update_status)
        self._update_status()

    def _update_status(self) -> None:
        m = self.status_model
        self.device_label.setText(f"Device: {m.device}")
        self.memory_label.setText(f"Memory: {m.memory or '—'}")
        self.memory_label.setVisible(bool(m.memory) or m.device != "detecting…")
        self.backend_label.setText(f"Backend: {m.backend_text}")

    def notify(self, text: str) -> None:
        """A non-blocking notice in the status bar (also logged)."""
        self.statusBar().showMessage(text, NOTICE_MS)

    # -- start-up work that must not delay the first paint ------------------------------
    def start_background_work(self) -> None:
        """Scan models and probe the device; called after the first paint."""
        if self._started:
            return
        self._started = True
        self.library_model.refresh()
        if self.probe is not None:
            self.probe.start()
        self.editor_panel.start()

    def image_model_kinds(self) -> set[str]:
        """Model kinds some enabled plugin can make images from (the manifests say)."""
        if self.session is None:
            return set()
        return self.session.registry.model_kinds("txt2img", "img2img", "inpaint")

    def text_model_kinds(self) -> set[str]:
        """Model kinds some enabled plugin can write text with (the manifests say)."""
        if self.session is None:
            return set()
        return self.session.registry.model_kinds("text")

    # -- jobs other processes run ------------------------------------------------------------
    def poll_queue(self) -> None:
        """Show the rows the queue database changed since the last look that this process does not
        run itself (its own jobs arrive through the bridge): ``studio train …`` in a terminal, a
        job another window runs. Cheap: one query over a small table, once a second."""
        if self.session is None:
            return
        since, self._polled_at = self._polled_at - POLL_OVERLAP_S, time.time()
        try:
            changed = self.session.queue.changed_since(since)
        except Exception as exc:  # a locked or vanished database must not take the window down
            log.warning("Reading the job queue failed: %s", exc)
            return
        me = os.getpid()
        for job in changed:
            if job.owner_pid == me:
                continue
            shown = self.queue_model.job_by_id(job.id)
            if shown == job:
                continue
            self.queue_model.upsert(job)
            self.training_model.job_seen(job)
            if job.state.finished and shown is not None and not shown.state.finished:
                self.notify(f"Job {job.id} {job.state.value} (run by another process).")

    # -- intents -------------------------------------------------------------------------
    def _require_session(self) -> StudioSession:
        if self.session is None:
            raise StudioError("The studio is still starting.", "Try again in a moment.")
        return self.session

    def submit(self, request: Request) -> Job:
        session = self._require_session()
        session.check_backend(request)  # "'x' cannot run on the onnx backend" before it is queued
        return session.runner.submit(request)

    def cancel_job(self, job_id: int) -> None:
        self._require_session().runner.cancel(job_id)
        self.notify(f"Cancelling job {job_id}…")

    def pause_job(self, job_id: int) -> None:
        """Hold a running job at its next step (this process's, or another's through the queue)."""
        try:
            self._require_session().runner.pause(job_id)
        except StudioError as exc:
            self.notify(exc.user_text())
            return
        self.notify(f"Pausing job {job_id}…")
        self._poll_soon()

    def resume_job(self, job_id: int) -> None:
        try:
            self._require_session().runner.resume(job_id)
        except StudioError as exc:
            self.notify(exc.user_text())
            return
        self.notify(f"Resuming job {job_id}…")
        self._poll_soon()

    def requeue_job(self, job_id: int) -> Job | None:
        try:
            job = self._require_session().runner.requeue(job_id)
        except StudioError as exc:
            self.notify(exc.user_text())
            return None
        if job.request.kind == "train":
            self.notify(f"Job {job_id} is queued again; the training continues from its last checkpoint.")
        return job

    # -- training ------------------------------------------------------------------------------
    def jobs_for_run(self, run_dir: str) -> list[Job]:
        """The training jobs (shown in the queue dock) whose run folder is ``run_dir``, oldest first."""
        wanted = os.path.normpath(run_dir)
        return [job for job in self.queue_model.jobs() if isinstance(job.request, TrainRequest)
                and job.request.run_dir and os.path.normpath(job.request.run_dir) == wanted]

    def show_training_monitor(self) -> None:
        dock = self.docks["training"]
        dock.show()
        dock.raise_()
        if not dock.isFloating() and dock.height() < TRAINING_DOCK_HEIGHT:  # room for curves and figures
            self.resizeDocks([dock], [TRAINING_DOCK_HEIGHT], Qt.Orientation.Vertical)

    def open_fine_tune(self) -> FineTuneDialog | None:
        """The dialog that starts a LoRA run; the monitor follows the run it starts."""
        from studio.ui.dialogs.finetune import FineTuneDialog

        if self.session is None:
            self.notify("The studio is still starting; try again in a moment.")
            return None
        try:
            dialog = FineTuneDialog(self.session.registry, self.library_model.entries, self.submit,
                                    started=self._training_started, parent=self)
        except StudioError as exc:
            self.notify(f"Fine-tuning is not available: {exc.user_text()}")
            return None
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def _training_started(self, job: Job) -> None:
        self.training_model.attach_job(job)
        self.show_training_monitor()
        self.notify(f"Training job {job.id} queued; the Training monitor follows it.")

    def use_lora(self, path: str) -> None:
        """A LoRA a run wrote, in the prompt panel's LoRAs (and the library rescanned)."""
        self.prompt_panel.add_lora(path, 1.0)
        self.library_model.refresh()
        self.docks["prompt"].raise_()
        self.notify(f"{os.path.basename(path)} is in the prompt panel's LoRAs.")

    def _poll_soon(self) -> None:
        """Look at the queue shortly (another process acts on a control at its next step)."""
        QTimer.singleShot(POLL_MS // 2, self, self.poll_queue)

    def use_job_settings(self, job: Job) -> None:
        """A job's request in its panel: an image job's in the prompt panel, a text job's sampling
        settings in the editor."""
        request: Request = job.request
        if isinstance(request, GenerationRequest):
            self.prompt_panel.apply_request(request)
            panel = "prompt"
        elif isinstance(request, TextRequest):
            self.editor_panel.sampling.apply_request(request)
            panel = "editor"
        else:
            return
        self.docks[panel].raise_()
        self.notify(f"Settings of job {job.id} are in the {panel} panel.")

    def export_images(self, paths: list[str] | None = None) -> ExportDialog:
        """The export dialog for ``paths`` (default: the gallery's selection, else files the user adds)."""
        from studio.ui.dialogs.export import ExportDialog, gallery_selection

        images = list(paths) if paths is not None else gallery_selection(self)
        dialog = ExportDialog(images, self._require_session().runner.submit, self.cancel_job, self.bridge,
                              parent=self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def add_model_folder(self) -> None:
        dialog = self.open_settings()
        dialog._browse()

    def open_about(self) -> None:
        from studio.ui.dialogs.about import about_box

        box = about_box(self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    def open_settings(self) -> SettingsDialog:
        from studio.ui.dialogs.settings import SettingsDialog

        dialog = SettingsDialog(self.settings, self, session=self.session)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.saved.connect(self._settings_saved)
        dialog.open()
        return dialog

    def open_plugins(self) -> PluginsDialog | None:
        from studio.ui.dialogs.plugins import PluginsDialog

        if self.session is None:
            self.notify("The studio is still starting; try again in a moment.")
            return None
        dialog = PluginsDialog(self.session, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def _settings_saved(self, settings: Settings) -> None:
        if self.session is not None:
            self.session.library.folders = list(settings.model_folders)
        self.status_model.set_backend(settings.backend)
        self.library_model.refresh()
        self.notify("Settings saved.")

    def _forward_edit(self, name: str) -> None:
        widget = QApplication.focusWidget()
        method = getattr(widget, name, None)
        if callable(method):
            method()

    def _toggle_full_screen(self) -> None:
        self.showNormal() if self.isFullScreen() else self.showFullScreen()

    # -- job events (GUI thread) ---------------------------------------------------------
    def _wire_bridge(self) -> None:
        b = self.bridge
        for signal, slot in (
            (b.changed, self.queue_model.upsert),
            (b.changed, self.canvas_model.on_job),
            (b.failed, lambda job: self.notify(f"Job {job.id} failed: {job.error}")),
            (b.finished, self._job_finished),
            (b.cancelled, lambda job: self.notify(f"Job {job.id} cancelled.")),
            (b.changed, self._job_changed),
            (b.changed, self.training_model.job_seen),
            (b.log, self._job_log),
            (b.progress, self.queue_model.set_progress),
            (b.progress, self.canvas_model.on_progress),
            (b.preview, self.canvas_model.show_image),
            (b.result, self.canvas_model.show_result),
        ):
            self._bridge_connections.append(signal.connect(slot))

    def _job_finished(self, job: Job) -> None:
        data = job.result.data if job.result is not None else {}
        notice = self.status_model.job_finished(getattr(job.request, "backend", ""), data)
        self.notify(notice or f"Job {job.id} finished.")  # a notice (e.g. CUDA missing) is in the log too

    def _job_log(self, job_id: int, text: str) -> None:
        """A job's own log line (a notice, "paused") in the Log dock."""
        self.log_model.add_line(text if text.startswith(f"Job {job_id}") else f"Job {job_id}: {text}")

    def _job_changed(self, job: Job) -> None:
        if job.state is JobState.PAUSED:
            shown = self.queue_model.job_by_id(job.id) or job  # its live step (upserted just before)
            self.notify(f"Job {job.id} paused at step {shown.step}; Resume continues it.")

    # -- closing -----------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        self.save_layout()
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Stop the probe, detach from the bridge and the log, finish background scans (idempotent)."""
        if self._shut_down:
            return
        self._shut_down = True
        self.poll_timer.stop()
        if self.probe is not None:
            self.probe.stop()
        self.editor_panel.shutdown()
        self.training_model.close()
        self._disconnect_bridge()
        self.log_model.close()
        wait_for_background()

    def _disconnect_bridge(self) -> None:
        """Drop the window's own connections (the bridge's routing to job watches stays)."""
        for connection in self._bridge_connections:
            try:
                QObject.disconnect(connection)
            except (RuntimeError, TypeError):
                pass
        self._bridge_connections.clear()
