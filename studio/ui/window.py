"""The main window: central canvas, dockable panels, menus, status bar, persisted layout."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, QMetaObject, QObject, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QIcon, QKeySequence
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QDockWidget,
    QFileDialog,
    QFrame,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMenu,
    QPlainTextEdit,
    QScrollArea,
    QTextEdit,
    QWidget,
)

from studio.core.errors import ModelError, StudioError
from studio.core.library import DEMO_NAMES
from studio.core.paths import RESOURCES, home_path, log_file
from studio.core.requests import GenerationRequest, Request, TextRequest, TrainRequest
from studio.core.settings import Settings
from studio.jobs.queue import Job, JobState

if TYPE_CHECKING:  # dialogs are imported when first opened, the session after the first paint
    from studio.session import StudioSession
    from studio.ui.dialogs.export import ExportDialog
    from studio.ui.dialogs.finetune import FineTuneDialog
    from studio.ui.dialogs.interpolate import InterpolateDialog
    from studio.ui.dialogs.plugins import PluginsDialog
    from studio.ui.dialogs.settings import SettingsDialog
from studio.ui.bridge import JobBridge
from studio.ui.collection import collect_on_gui_thread
from studio.ui.dock_sizes import DockSizeKeeper
from studio.ui.gallery_model import GalleryViewModel
from studio.ui.gallery_scoring import GalleryScoring
from studio.ui.image_files import (
    OPEN_FILTER,
    SAVE_FILTER,
    clear_recent,
    recent_files,
    remember_recent,
    save_image,
)
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
from studio.ui.theme import apply_theme, stored_theme
from studio.ui.training_model import TrainingViewModel, is_training
from studio.ui.viewmodels import (
    CanvasViewModel,
    LibraryViewModel,
    LogViewModel,
    QueueModel,
    StatusNotices,
    StatusViewModel,
)

log = logging.getLogger("studio.ui")

ICON = RESOURCES / "icons" / "studio.svg"
NOTICE_MS = 8_000  # a notice's longest stay (the user's next action ends it sooner)
HISTORY_ROWS = 200
POLL_MS = 1000  # how often the queue dock looks for jobs other processes run
POLL_OVERLAP_S = 0.25  # each look reaches a little before the last one (rows written meanwhile)
TRAINING_DOCK_HEIGHT = 330
TRAINING_DOCK_SHARE = 0.45  # of the window's height (and at least of the width the queue shares)
DOCKS = ("prompt", "gallery", "queue", "editor", "provenance", "training", "log")
MODEL_SUFFIXES = (".safetensors", ".ckpt", ".pt", ".pth", ".bin", ".gguf", ".onnx")
IMAGE_SOURCES = 20  # files the canvas image may have come from (their metadata is kept on save)


def jobs_to_show(jobs: list[Job], recent: int = HISTORY_ROWS) -> list[Job]:
    """Unfinished and interrupted jobs, plus the most recent others (the queue keeps them all)."""
    keep = {j.id for j in jobs if j.state in (JobState.QUEUED, JobState.RUNNING, JobState.PAUSED,
                                              JobState.INTERRUPTED)}
    keep.update(j.id for j in jobs[-recent:])
    return [j for j in jobs if j.id in keep]


def _made_pictures(job: Job) -> bool:
    """Whether ``job`` ended with pictures (the gallery holds them)."""
    return job.result is not None and any(a.kind == "image" for a in job.result.artifacts)


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
        collect_on_gui_thread()  # no worker thread's garbage collection finalises Qt objects
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
        self._add_dock("training", "Training monitor", self.training_monitor, scroll=True)
        self._default_layout()
        self.dock_sizes = DockSizeKeeper(self, list(self.docks.values()))  # squeezed docks grow back
        self._home_keys: dict[QAction, list[QKeySequence]] = {}  # window shortcuts, before yielding
        self._image_sources: list[str] = []  # newest first: files the canvas image may come from
        self._build_menus()
        self._scope_gallery_delete()
        self.notices = StatusNotices(NOTICE_MS, parent=self, window=self)
        self.notices.changed.connect(self._show_notice)
        self._build_status_bar()
        self.imaging = connect_imaging(self)
        self.gallery_scoring = GalleryScoring(self)  # match scores and Rank by prompt, as jobs
        self.gallery_panel.open_item.connect(lambda item: self._note_image_source(str(item.path)))
        self.gallery_panel.export_requested.connect(self.export_images)  # the gallery's context menu
        QApplication.instance().focusChanged.connect(self._yield_shortcuts)
        apply_theme(stored_theme())

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
        from studio.outputs import startup_notice

        notice = startup_notice(session.settings.problems, session.gallery)  # a bad settings key, a locked index
        if notice:
            self.notify(notice)

    # -- layout ------------------------------------------------------------------------
    def _add_dock(self, key: str, title: str, widget: QWidget, scroll: bool = False) -> None:
        """A dock for ``widget``; ``scroll``: its contents scroll instead of setting the window's
        minimum size (the training monitor's row of figures is ~800 px wide)."""
        dock = QDockWidget(title, self)
        dock.setObjectName(f"{key}Dock")
        if scroll:
            area = QScrollArea()
            area.setObjectName(f"{key}Scroll")
            area.setWidgetResizable(True)
            area.setFrameShape(QFrame.Shape.NoFrame)
            area.setWidget(widget)
            widget = area
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
        self.dock_sizes.forget()

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
        # triggered(bool) must not reach slots with parameters of their own (export_images(paths))
        action.triggered.connect(lambda _checked=False, run=slot: run())  # type: ignore[operator]
        if isinstance(shortcut, QKeySequence.StandardKey):
            keys = QKeySequence.keyBindings(shortcut)
            action.setShortcuts(keys or ([QKeySequence(fallback)] if fallback else []))
        elif shortcut:
            action.setShortcut(QKeySequence(shortcut))
        if action.shortcuts():
            self._home_keys[action] = action.shortcuts()
        return action

    def _yield_shortcuts(self, _old: QWidget | None, now: QWidget | None) -> None:
        """Give a key to the focused panel when one of its own actions (scoped to it) has it: the
        editor's Ctrl+S saves the document, elsewhere Ctrl+S saves the canvas image. Two actions on
        one key would be ambiguous in Qt, and neither would run."""
        claimed: set[str] = set()
        widget = now if now is not None and self.isAncestorOf(now) else None
        while widget is not None and widget is not self:
            for action in widget.actions():
                context = action.shortcutContext()
                if context == Qt.ShortcutContext.WidgetWithChildrenShortcut or (
                        context == Qt.ShortcutContext.WidgetShortcut and widget is now):
                    claimed.update(key.toString() for key in action.shortcuts())
            widget = widget.parentWidget()
        for action, keys in self._home_keys.items():
            wanted = [key for key in keys if key.toString() not in claimed]
            if action.shortcuts() != wanted:
                action.setShortcuts(wanted)

    def _scope_gallery_delete(self) -> None:
        """Delete trashes gallery images only while the gallery has the focus (not on the canvas)."""
        panel = self.gallery_panel
        button = panel.delete_button
        if button.shortcut().isEmpty():
            return
        button.setShortcut(QKeySequence())
        delete = QKeySequence(QKeySequence.StandardKey.Delete)
        if any(delete in a.shortcuts() for a in panel.findChildren(QAction)):
            return  # the panel has its own, scoped Delete
        action = QAction("Move to Trash", panel)
        action.setShortcut(delete)
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        action.triggered.connect(lambda _checked=False: button.isEnabled() and button.click())
        panel.addAction(action)

    def _build_menus(self) -> None:
        keys = QKeySequence.StandardKey
        bar = self.menuBar()
        file = bar.addMenu("&File")
        self._action(file, "&Open Image…", self.open_image, keys.Open, "Ctrl+O")
        self.recent_menu = file.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        self._fill_recent_menu()
        self._action(file, "&Save Image As…", self.save_image_as, "Ctrl+S")
        file.addSeparator()
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

        models = bar.addMenu("&Models")
        self._action(models, "&Add Model Folder…", self.add_model_folder)
        self._action(models, "&Rescan Models", self.library_model.refresh, keys.Refresh, "F5")
        models.addSeparator()
        self._action(models, "&Interpolate Between Pictures…", self.open_interpolate)

        jobs = bar.addMenu("&Jobs")
        self._action(jobs, "&Generate", self.generate, "Ctrl+Return")
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
        """A non-blocking notice in the status bar, gone after a while or at the user's next action."""
        self.notices.show(text)

    def _show_notice(self, text: str) -> None:
        self.statusBar().showMessage(text) if text else self.statusBar().clearMessage()

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
        new_pictures = False
        for job in changed:
            if job.owner_pid == me:
                continue
            shown = self.queue_model.job_by_id(job.id)
            if shown == job:
                continue
            self.queue_model.upsert(job)
            self.training_model.job_seen(job)
            if job.state.finished and (shown is None or not shown.state.finished):
                new_pictures = new_pictures or _made_pictures(job)
                if shown is not None:
                    self.notify(f"Job {job.id} {job.state.value} (run by another process).")
        if new_pictures:  # `studio generate …` in a terminal: its pictures join this window's gallery too
            self.gallery_model.refresh()

    # -- intents -------------------------------------------------------------------------
    def _require_session(self) -> StudioSession:
        if self.session is None:
            raise StudioError("The studio is still starting.", "Try again in a moment.")
        return self.session

    def submit(self, request: Request) -> Job:
        session = self._require_session()
        try:
            self.check_model(request)  # an unknown or missing model is refused now, not once it runs
            session.check_backend(request)  # "'x' cannot run on the onnx backend" before it is queued
        except StudioError as exc:
            self.notify(exc.user_text())
            raise
        job = session.runner.submit(request)
        if isinstance(request, GenerationRequest) and not request.prompt:
            self.notify(f"Job {job.id} is queued without a prompt: the model draws freely.")
        return job

    def check_model(self, request: Request) -> None:
        """Raise :class:`ModelError` when ``request``'s model is not one the studio can find, or no
        enabled plugin can do the request with it. Names are looked up in the last scan (no folder is
        scanned on the GUI thread); a name not found while the first scan runs is left to the job."""
        session = self._require_session()
        name = getattr(request, "model", "") or ""
        if request.kind in ("export", "train") or not name:
            return
        path = Path(name).expanduser()
        if name in DEMO_NAMES or path.exists():
            entry = session.library.resolve(name)
        else:
            entry = next((e for e in self.library_model.entries if e.name == name), None)
            if entry is None:
                if path.is_absolute() or name.startswith(("~", ".")) or path.suffix in MODEL_SUFFIXES:
                    raise ModelError(f"The model '{name}' does not exist (the file or folder is missing).",
                                     "Choose a model in the list, or add its folder in Models › Add Model Folder.")
                if self.library_model.scanning and not self.library_model.entries:
                    return  # the first scan is still running: the job will say what it finds
                raise ModelError(f"No model named '{name}' was found.",
                                 "Choose a model in the list, or add its folder in Models › Add Model Folder.")
        session.registry.for_model(entry.kind, request.capability)

    def generate(self) -> None:
        """Ctrl+Return: the focused panel's generation; typing in the editor it continues the text
        (an image job is never queued from there)."""
        if self._editor_focused():
            continue_text = self.editor_panel.actions_by_name.get("continue")
            if continue_text is not None and continue_text.isEnabled():
                continue_text.trigger()
            return
        self.prompt_panel.submit()

    def _editor_focused(self) -> bool:
        focus = QApplication.focusWidget()
        return focus is not None and (focus is self.editor_panel or self.editor_panel.isAncestorOf(focus))

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
        """The monitor in front, with room for its figures, curves and samples: at least
        TRAINING_DOCK_HEIGHT (or 45 % of the window) high, and most of the width the queue shares."""
        dock = self.docks["training"]
        dock.show()
        dock.raise_()
        if dock.isFloating():
            return
        height = max(TRAINING_DOCK_HEIGHT, round(self.height() * TRAINING_DOCK_SHARE))
        if dock.height() < height:
            self.resizeDocks([dock], [height], Qt.Orientation.Vertical)
        queue = self.docks["queue"]
        beside = (queue.isVisible() and not queue.isFloating()
                  and self.dockWidgetArea(queue) == self.dockWidgetArea(dock) and abs(queue.y() - dock.y()) < 8)
        total = queue.width() + dock.width()
        if beside and dock.width() < total * TRAINING_DOCK_SHARE:
            self.resizeDocks([queue, dock], [round(total * 0.4), round(total * 0.6)], Qt.Orientation.Horizontal)

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

    # -- image files ---------------------------------------------------------------------------
    def open_image(self) -> QFileDialog:
        """File › Open Image…: a photo onto the canvas (to start img2img or inpaint from it)."""
        recent = recent_files()
        dialog = QFileDialog(self, "Open an image", os.path.dirname(recent[0]) if recent else "", OPEN_FILTER)
        dialog.setObjectName("openImageDialog")
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.fileSelected.connect(self.open_image_file)
        dialog.open()
        return dialog

    def open_image_file(self, path: str) -> None:
        if not path:
            return
        if not os.path.isfile(path):
            self.notify(f"'{path}' no longer exists.")
            recent_files()  # prunes it
            return
        remember_recent(path)
        self._note_image_source(path)
        self.imaging.open_files([path], on_canvas=True)

    def save_image_as(self) -> QFileDialog | None:
        """File › Save Image As…: the canvas image as PNG (with its generation metadata), JPEG or WebP."""
        if not self.canvas_model.has_image():
            self.notify("There is no image on the canvas to save.")
            return None
        recent = recent_files()
        folder = os.path.dirname(recent[0]) if recent else ""
        stem = Path(self._image_sources[0]).stem if self._image_sources else "image"
        dialog = QFileDialog(self, "Save the canvas image", os.path.join(folder, f"{stem}.png"), SAVE_FILTER)
        dialog.setObjectName("saveImageDialog")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setDefaultSuffix("png")
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.fileSelected.connect(self.save_image_file)
        dialog.open()
        return dialog

    def save_image_file(self, path: str) -> bool:
        """Write the canvas image to ``path``; False (and a notice) when it could not be written."""
        if not path:
            return False
        try:
            kept = save_image(self.canvas_model.document, path, self._image_sources)
        except StudioError as exc:
            self.notify(exc.user_text())
            return False
        remember_recent(path)
        self._note_image_source(path)
        note = " with its generation settings" if kept else ""
        self.notify(f"Saved the canvas image{note} as {os.path.basename(path)}.")
        return True

    def _fill_recent_menu(self) -> None:
        menu = self.recent_menu
        menu.clear()
        paths = recent_files()
        for index, path in enumerate(paths, 1):
            action = menu.addAction(f"&{index % 10} {os.path.basename(path)}")
            action.setToolTip(path)
            action.setData(path)
            action.triggered.connect(lambda _checked=False, p=path: self.open_image_file(p))
        if not paths:
            menu.addAction("No recent images").setEnabled(False)
            return
        menu.addSeparator()
        menu.addAction("&Clear Menu", clear_recent)

    def _note_image_source(self, path: str) -> None:
        paths = [path, *(p for p in self._image_sources if p != path)]
        self._image_sources = paths[:IMAGE_SOURCES]

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

        models = [entry.name for entry in self.library_model.entries]
        dialog = SettingsDialog(self.settings, self, session=self.session, models=models)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.saved.connect(self._settings_saved)
        dialog.open()
        return dialog

    def open_interpolate(self) -> InterpolateDialog | None:
        """Models › Interpolate Between Pictures…: frames from one picture to another (a VAE)."""
        from studio.ui.dialogs.interpolate import open_interpolate

        return open_interpolate(self)

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
            self.session.models.budget_bytes = int(settings.memory_budget_gb * 1e9)
        self.status_model.set_backend(settings.backend)
        self.gallery_scoring.settings_changed()
        self.library_model.refresh()
        self.notify("Settings saved.")

    def _forward_edit(self, name: str) -> None:
        """Edit menu: a text field being typed in edits its text; otherwise undo and redo act on the
        canvas wherever the focus is, and the other commands on the focused widget."""
        widget = QApplication.focusWidget()
        text_field = _text_field(widget)
        if text_field is not None:
            getattr(text_field, name)()
            return
        if name in ("undo", "redo"):
            getattr(self.canvas_model.undo_stack, name)()
            return
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
        if job.result is not None and isinstance(job.request, GenerationRequest):
            for artifact in reversed(job.result.artifacts):  # the first image ends up newest
                if artifact.kind == "image":
                    self._note_image_source(artifact.path)
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
        if not self.editor_panel.ask_before_quit(self.close):  # unsaved documents: Save / Discard / Cancel
            event.ignore()
            return
        self.save_layout()
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Stop the probe, detach from the bridge and the log, finish background scans (idempotent)."""
        if self._shut_down:
            return
        self._shut_down = True
        self.poll_timer.stop()
        app = QApplication.instance()
        if app is not None:
            try:
                app.focusChanged.disconnect(self._yield_shortcuts)
            except (RuntimeError, TypeError):
                pass
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


def _text_field(widget: QWidget | None) -> QWidget | None:
    """The editable text field behind ``widget`` (a line edit, text edit, spin box or editable combo)."""
    if isinstance(widget, QAbstractSpinBox):
        widget = widget.findChild(QLineEdit)
    elif isinstance(widget, QComboBox):
        widget = widget.lineEdit() if widget.isEditable() else None
    if isinstance(widget, QLineEdit):
        return widget if not widget.isReadOnly() else None
    if isinstance(widget, (QTextEdit, QPlainTextEdit)):
        return widget if not widget.isReadOnly() else None
    return None
