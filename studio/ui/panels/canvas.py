"""The central canvas: live previews and results, zoom and pan, mask painting, compare, outpaint.

Binds to a :class:`~studio.ui.canvas_model.CanvasViewModel`; every edit goes through it (and its
undo stack). Files and images dropped or pasted in are announced with ``files_dropped`` /
``image_dropped``: the window decides what they mean (open on the canvas, recall parameters).
"""

from __future__ import annotations

import contextlib

from PySide6.QtCore import QMimeData, QPoint, QPointF, QRectF, QSize, Qt, QUrl, Signal
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QBrush,
    QColor,
    QDrag,
    QDragEnterEvent,
    QDropEvent,
    QGuiApplication,
    QImage,
    QKeyEvent,
    QKeySequence,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QMenu,
    QSpinBox,
    QStackedWidget,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
    QWidgetAction,
)

from studio.core.errors import StudioError
from studio.core.paths import home_path
from studio.ui.canvas_model import SIDES, CanvasViewModel
from studio.ui.panels.batch_strip import BatchStrip
from studio.ui.panels.empty import EmptyState

EMPTY_TEXT = "No image yet — write a prompt and press Generate"
MIN_ZOOM, MAX_ZOOM = 0.05, 32.0
WHEEL_STEP = 1.15
SCROLL_STEP = 48  # pixels one wheel notch scrolls
TOOLS = (  # key, label, tooltip (the shortcut is the first letter of the tooltip's bracket)
    ("pan", "Pan", "Drag to move the view (H, or hold Space; the middle button always pans)", "H"),
    ("brush", "Brush", "Paint the inpaint mask (B)", "B"),
    ("eraser", "Eraser", "Erase the mask (E)", "E"),
)


def dropped_files(mime: QMimeData) -> list[str]:
    return [url.toLocalFile() for url in mime.urls() if url.isLocalFile()]


CONTROL_TINT = QColor(0, 200, 255)


def control_tint(image: QImage) -> QImage:
    """A control image as a see-through layer: its brightness becomes the opacity of a cyan tint, so an
    edge, pose or depth map's lines show on any picture (black is transparent, white fully cyan)."""
    layer = QImage(image.size(), QImage.Format.Format_ARGB32)
    layer.fill(CONTROL_TINT)
    layer.setAlphaChannel(image.convertToFormat(QImage.Format.Format_Grayscale8))
    return layer


class CanvasView(QWidget):
    """Paints the canvas model with zoom and pan; paints the mask with the brush or eraser."""

    zoom_changed = Signal(float)

    def __init__(self, model: CanvasViewModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.setObjectName("canvasView")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)
        self.setMinimumSize(160, 160)
        self.tool = "pan"  # pan | brush | eraser: a click to focus the canvas never paints
        self._held_tool: str | None = None  # the tool to go back to when Space is released
        self.zoom = 1.0
        self.offset = QPointF(0, 0)
        self.fitting = True  # refit whenever the view or the image size changes
        self.compare = False
        self.split = 0.5  # compare divider, as a fraction of the image width
        self._drag: tuple[str, QPointF] | None = None
        self._cursor: QPointF | None = None
        self._frame = QSize()
        self._overlay: QImage | None = None  # the mask drawn for display, rebuilt when it changes
        self.control_layer = QImage()  # a ControlNet's control image, drawn over the picture when shown
        self.control_opacity = 0.8
        self.show_control = True
        model.image_changed.connect(self._image_changed)
        model.mask_changed.connect(self._mask_changed)
        # the image handed over by the model, kept as a QImage reference (no copy)
        self.image = QImage()

    # -- geometry ---------------------------------------------------------------------------
    def frame_size(self) -> QSize:
        """The size of the picture in image pixels (a preview is stretched over it)."""
        m = self.model
        if m.previewing and m.preview_size.isValid() and not m.preview_size.isEmpty():
            return m.preview_size
        return m.image.size()

    def to_image(self, point: QPointF) -> QPointF:
        return (point - self.offset) / self.zoom

    def image_rect(self) -> QRectF:
        size = self.frame_size()
        return QRectF(self.offset, QPointF(self.offset.x() + size.width() * self.zoom,
                                          self.offset.y() + size.height() * self.zoom))

    def fit(self) -> None:
        size = self.frame_size()
        self.fitting = True
        if size.isEmpty():
            return
        margin = 8
        zoom = min((self.width() - 2 * margin) / size.width(), (self.height() - 2 * margin) / size.height())
        self._set_zoom(max(MIN_ZOOM, min(MAX_ZOOM, zoom)))
        self.offset = QPointF((self.width() - size.width() * self.zoom) / 2,
                              (self.height() - size.height() * self.zoom) / 2)
        self.update()

    def actual_size(self) -> None:
        self.zoom_at(1.0, QPointF(self.width() / 2, self.height() / 2))
        size = self.frame_size()
        self.offset = QPointF((self.width() - size.width()) / 2, (self.height() - size.height()) / 2)
        self.update()

    def zoom_at(self, zoom: float, anchor: QPointF) -> None:
        """Zoom to ``zoom`` keeping the image point under ``anchor`` (widget coordinates) still."""
        zoom = max(MIN_ZOOM, min(MAX_ZOOM, zoom))
        point = self.to_image(anchor)
        self.fitting = False
        self._set_zoom(zoom)
        self.offset = anchor - point * zoom
        self.update()

    def _set_zoom(self, zoom: float) -> None:
        if zoom != self.zoom:
            self.zoom = zoom
            self.zoom_changed.emit(zoom)

    def _mask_changed(self, _rect: object) -> None:
        self._overlay = None
        self.update()

    def overlay(self) -> QImage:
        """The mask as shown: a translucent magenta with white hatching, visible on any picture."""
        if self._overlay is None or self._overlay.size() != self.model.mask.size():
            mask = self.model.mask
            overlay = QImage(mask.size(), QImage.Format.Format_ARGB32_Premultiplied)
            overlay.fill(QColor(230, 0, 200, 150))
            painter = QPainter(overlay)
            painter.fillRect(overlay.rect(), QBrush(QColor(255, 255, 255, 200), Qt.BrushStyle.BDiagPattern))
            painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_DestinationIn)
            painter.drawImage(0, 0, mask)
            painter.end()
            self._overlay = overlay
        return self._overlay

    def _image_changed(self, image: QImage) -> None:
        self.image = image
        size = self.frame_size()
        if size != self._frame:
            self._frame = size
            if self.fitting or not self.model.previewing:
                self.fit()
        self.update()

    def resizeEvent(self, event: QResizeEvent) -> None:
        if self.fitting:
            self.fit()
        super().resizeEvent(event)

    # -- painting ---------------------------------------------------------------------------
    def paintEvent(self, _event: QPaintEvent) -> None:
        m = self.model
        image = m.image
        if image.isNull():
            return
        painter = QPainter(self)
        target = self.image_rect()
        painter.fillRect(target, QColor(128, 128, 128))
        smooth = self.zoom < 2.0
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, smooth)
        if self.compare and not m.before.isNull() and not m.previewing:
            split_x = target.left() + target.width() * self.split
            painter.save()
            painter.setClipRect(QRectF(target.topLeft(), QPointF(split_x, target.bottom())))
            painter.drawImage(target, m.before)
            painter.setClipRect(QRectF(QPointF(split_x, target.top()), target.bottomRight()))
            painter.drawImage(target, image)
            painter.restore()
            painter.setPen(QPen(QColor(255, 255, 255), 2))
            painter.drawLine(QPointF(split_x, target.top()), QPointF(split_x, target.bottom()))
            for text, align in (("Before", Qt.AlignmentFlag.AlignLeft), ("After", Qt.AlignmentFlag.AlignRight)):
                box = painter.boundingRect(target.adjusted(6, 6, -6, -6), align | Qt.AlignmentFlag.AlignTop, text)
                painter.fillRect(box.adjusted(-4, -2, 4, 2), QColor(0, 0, 0, 150))
                painter.drawText(box, align | Qt.AlignmentFlag.AlignTop, text)
        else:
            painter.drawImage(target, image)
        if self.show_control and not self.control_layer.isNull() and not m.previewing:
            painter.setOpacity(self.control_opacity)  # the control layer, stretched to the picture
            painter.drawImage(target, self.control_layer)
            painter.setOpacity(1.0)
        if not m.previewing and not m.mask.isNull():
            painter.setOpacity(0.8)
            painter.drawImage(target, self.overlay())
            painter.setOpacity(1.0)
        if self._cursor is not None and self.tool in ("brush", "eraser") and not self.compare:
            radius = m.brush_size * self.zoom / 2
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            for colour, width in ((QColor(0, 0, 0, 160), 3), (QColor(255, 255, 255), 1)):
                painter.setPen(QPen(colour, width))
                painter.drawEllipse(self._cursor, radius, radius)
        painter.end()

    def set_tool(self, tool: str) -> None:
        self.tool = tool
        self._tool_cursor()
        self.update()

    def _tool_cursor(self) -> None:
        self.setCursor(Qt.CursorShape.OpenHandCursor if self.tool == "pan" else Qt.CursorShape.CrossCursor)

    # -- keys: holding Space pans, as in Krita and Photoshop -----------------------------------
    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space:
            if not event.isAutoRepeat() and self._held_tool is None:
                self._held_tool = self.tool
                self.set_tool("pan")
            event.accept()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space:
            if not event.isAutoRepeat() and self._held_tool is not None:
                self.set_tool(self._held_tool)
                self._held_tool = None
            event.accept()
            return
        super().keyReleaseEvent(event)

    # -- mouse --------------------------------------------------------------------------------
    def wheelEvent(self, event: QWheelEvent) -> None:
        """Ctrl+wheel zooms about the cursor; the wheel scrolls (Shift: sideways)."""
        delta = event.angleDelta()
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            steps = (delta.y() or delta.x()) / 120
            if steps:
                self.zoom_at(self.zoom * WHEEL_STEP**steps, event.position())
        elif not self.image.isNull():
            pixels = event.pixelDelta()
            move = QPointF(pixels) if not pixels.isNull() else QPointF(delta) / 120 * SCROLL_STEP
            if event.modifiers() & Qt.KeyboardModifier.ShiftModifier and not move.x():
                move = QPointF(move.y(), 0)
            self.fitting = False
            self.offset += move
            self.update()
        event.accept()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        pos = event.position()
        left = event.button() == Qt.MouseButton.LeftButton
        if event.button() == Qt.MouseButton.MiddleButton or (left and self._held_tool is not None):
            self._drag = ("pan", pos)  # the middle button, or Space held
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
        elif left and self.compare:  # the divider moves whatever the tool
            self._drag = ("split", pos)
            self._move_split(pos)
        elif left and self.tool == "pan":
            self._drag = ("pan", pos)
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
        elif event.button() == Qt.MouseButton.LeftButton and self.tool in ("brush", "eraser"):
            if self.model.previewing:
                return
            self._drag = ("paint", pos)
            self.model.begin_stroke(self.to_image(pos), erase=self.tool == "eraser")
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        pos = event.position()
        self._cursor = pos
        if self._drag is not None:
            kind, last = self._drag
            if kind == "pan":
                self.fitting = False
                self.offset += pos - last
                self._drag = (kind, pos)
            elif kind == "split":
                self._move_split(pos)
            elif kind == "paint":
                self.model.stroke_to(self.to_image(pos))
        self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._drag is not None and self._drag[0] == "paint":
            self.model.end_stroke()
        self._drag = None
        self._tool_cursor()
        event.accept()

    def leaveEvent(self, event: object) -> None:
        self._cursor = None
        self.update()

    def _move_split(self, pos: QPointF) -> None:
        rect = self.image_rect()
        if rect.width() > 0:
            self.split = max(0.0, min(1.0, (pos.x() - rect.left()) / rect.width()))
        self.update()

    # -- the Edit menu forwards to the focused widget ----------------------------------------
    def undo(self) -> None:
        self.model.undo_stack.undo()

    def redo(self) -> None:
        self.model.undo_stack.redo()

    def copy(self) -> None:
        if not self.model.document.isNull():
            QGuiApplication.clipboard().setImage(self.model.document)
            self.model.notice.emit("Image copied.")

    def paste(self) -> None:
        canvas = self.parent()
        while canvas is not None and not isinstance(canvas, Canvas):
            canvas = canvas.parent()
        if isinstance(canvas, Canvas):
            canvas.paste()


class DragHandle(QToolButton):
    """Drag the canvas image out (to a file manager, another app) as an image and a PNG file."""

    def __init__(self, model: CanvasViewModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.setText("Drag out")
        self.setToolTip("Drag the image from here into another application or a folder")
        self._pressed: QPoint | None = None

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self._pressed = event.position().toPoint()
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._pressed is None or self.model.document.isNull():
            return
        if (event.position().toPoint() - self._pressed).manhattanLength() < 8:
            return
        self._pressed = None
        self.setDown(False)
        drag = QDrag(self)
        drag.setMimeData(self.mime_data())
        drag.exec(Qt.DropAction.CopyAction)

    def mime_data(self) -> QMimeData:
        mime = QMimeData()
        image = self.model.document
        mime.setImageData(image)
        path = home_path("cache", "canvas") / f"canvas-{image.cacheKey() & 0xFFFFFFFF:08x}.png"
        if path.exists() or image.save(str(path), "PNG"):
            mime.setUrls([QUrl.fromLocalFile(str(path))])
        return mime


class Canvas(QWidget):
    """The canvas with its tool bar; binds to a :class:`CanvasViewModel`."""

    files_dropped = Signal(list)  # local paths dropped or pasted on the canvas

    def __init__(self, model: CanvasViewModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("canvas")
        self.setAcceptDrops(True)
        self.model = model
        self.empty = EmptyState(
            EMPTY_TEXT,
            "Each image appears here while it is made. Drop or paste an image to start from it; "
            "paint a mask on it to inpaint.",
        )
        self.view = CanvasView(model)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.view)
        self.caption = QLabel()
        self.caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.caption.setWordWrap(True)
        self.toolbar, self.view_toolbar = self._build_toolbars()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 4)
        layout.setSpacing(2)
        layout.addWidget(self.toolbar)
        layout.addWidget(self.view_toolbar)
        layout.addWidget(self.stack, 1)
        self.batch_strip = BatchStrip(model)
        layout.addWidget(self.batch_strip)
        layout.addWidget(self.caption)
        model.image_changed.connect(self._show)
        model.caption_changed.connect(self.caption.setText)
        model.document_changed.connect(self._update_actions)
        model.mask_changed.connect(self._update_actions)
        self.view.zoom_changed.connect(self._zoom_changed)
        self.set_tool("pan")
        self._update_actions()

    def _build_toolbars(self) -> tuple[QToolBar, QToolBar]:
        bar = QToolBar("Mask tools")
        bar.setObjectName("canvasTools")
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        view_bar = QToolBar("View and outpaint")
        view_bar.setObjectName("canvasViewTools")
        view_bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        mask_bar = bar
        group = QActionGroup(bar)
        self.tool_actions: dict[str, QAction] = {}
        for key, text, tip, shortcut in TOOLS:
            action = bar.addAction(text)
            action.setCheckable(True)
            action.setToolTip(tip)
            # the whole window (a text field keeps plain letters for typing)
            action.setShortcut(QKeySequence(shortcut))
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            action.triggered.connect(lambda _=False, k=key: self.set_tool(k))
            group.addAction(action)
            self.tool_actions[key] = action
        self.tool_actions["pan"].setChecked(True)
        self.brush_size = _spin(1, 512, self.model.brush_size, "Brush size in image pixels ([ smaller, ] larger)",
                                " px")
        self.brush_size.valueChanged.connect(self._set_brush)
        bar.addWidget(QLabel(" Size "))
        bar.addWidget(self.brush_size)
        self.size_actions = []
        for key, factor in (("[", -1), ("]", 1)):
            action = QAction(f"Brush {'smaller' if factor < 0 else 'larger'}", self)
            action.setShortcut(QKeySequence(key))
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            action.triggered.connect(lambda _=False, f=factor: self.step_brush(f))
            self.addAction(action)
            self.size_actions.append(action)
        self.mask_button, self.mask_actions = self._build_mask_menu()
        bar.addWidget(self.mask_button)
        self.clear_mask_action = bar.addAction("Clear mask", self.model.clear_mask)
        self.clear_mask_action.setToolTip("Remove the mask (it is kept after each run so you can run again)")
        bar.addSeparator()
        stack = self.model.undo_stack
        self.undo_action = bar.addAction("Undo", stack.undo)
        self.redo_action = bar.addAction("Redo", stack.redo)
        stack.canUndoChanged.connect(self.undo_action.setEnabled)
        stack.canRedoChanged.connect(self.redo_action.setEnabled)
        stack.undoTextChanged.connect(self._undo_text)
        stack.redoTextChanged.connect(self._redo_text)
        self.undo_action.setEnabled(stack.canUndo())
        self.redo_action.setEnabled(stack.canRedo())

        bar = view_bar
        self.fit_action = bar.addAction("Fit", self.view.fit)
        self.fit_action.setToolTip("Fit the image in the view (Ctrl+0)")
        self.actual_action = bar.addAction("1:1", self.view.actual_size)
        self.actual_action.setToolTip("Show the image at its own size (100 %, Ctrl+1; Ctrl+wheel zooms)")
        for action, key in ((self.fit_action, "Ctrl+0"), (self.actual_action, "Ctrl+1")):
            action.setShortcut(QKeySequence(key))
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.zoom_label = QLabel("100 %")
        self.zoom_label.setMinimumWidth(self.zoom_label.fontMetrics().horizontalAdvance("3200 %"))
        self.zoom_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        bar.addWidget(self.zoom_label)
        self.compare_action = bar.addAction("Compare")
        self.compare_action.setCheckable(True)
        self.compare_action.setToolTip("Before/after: drag across the image to move the divider")
        self.compare_action.toggled.connect(self._set_compare)
        bar.addSeparator()
        self.outpaint_button = self._build_outpaint_menu()
        bar.addWidget(self.outpaint_button)
        self.control_action = bar.addAction("Control layer")
        self.control_action.setCheckable(True)
        self.control_action.setChecked(True)
        self.control_action.setEnabled(False)
        self.control_action.setToolTip("Show the ControlNet's control image over the picture (Prompt › ControlNet)")
        self.control_action.toggled.connect(self._show_control_layer)
        self.clear_action = bar.addAction("Clear canvas", self.model.clear)
        self.clear_action.setToolTip("Remove the image from the canvas (the next generation starts from text)")
        self.drag_handle = DragHandle(self.model)
        bar.addWidget(self.drag_handle)
        return mask_bar, view_bar

    def set_control_layer(self, image: QImage | None) -> None:
        """The control image the prompt's first ControlNet uses (None: no layer)."""
        self.view.control_layer = control_tint(image) if image is not None and not image.isNull() else QImage()
        self.control_action.setEnabled(not self.view.control_layer.isNull())
        self.view.update()

    def _show_control_layer(self, shown: bool) -> None:
        self.view.show_control = shown
        self.view.update()

    def _undo_text(self, text: str) -> None:
        with contextlib.suppress(RuntimeError):  # the stack clears itself while the window is destroyed
            self.undo_action.setToolTip(f"Undo {text}" if text else "Undo")

    def _redo_text(self, text: str) -> None:
        with contextlib.suppress(RuntimeError):
            self.redo_action.setToolTip(f"Redo {text}" if text else "Redo")

    def _zoom_changed(self, zoom: float) -> None:
        self.zoom_label.setText(f"{zoom * 100:.0f} %")

    def _build_mask_menu(self) -> tuple[QToolButton, dict[str, QAction]]:
        button, menu = _menu_button("Mask", "Invert, grow, shrink or feather the mask (each can be undone); "
                                            "its soft edge")
        self.mask_amount = _spin(1, 256, 8, "How many pixels Grow, Shrink and Feather change the mask by", " px")
        actions = {
            "invert": menu.addAction("Invert mask", self.model.invert_mask),
            "grow": menu.addAction("Grow mask", lambda: self.model.grow_mask(self.mask_amount.value())),
            "shrink": menu.addAction("Shrink mask", lambda: self.model.grow_mask(-self.mask_amount.value())),
            "feather": menu.addAction("Feather mask", lambda: self.model.feather_mask(self.mask_amount.value())),
        }
        menu.addAction(_field(menu, "Grow, shrink, feather by", self.mask_amount))
        menu.addSeparator()
        self.feather = _spin(0, 64, self.model.feather,
                             "Soft edge: how many pixels the mask's edge is blurred when a job starts", " px")
        self.feather.valueChanged.connect(self._set_feather)
        menu.addAction(_field(menu, "Soft edge when a job starts", self.feather))
        return button, actions

    def _build_outpaint_menu(self) -> QToolButton:
        button, menu = _menu_button("Outpaint", "Grow the canvas on one side and mask the new area")
        self.extend_side = QComboBox()
        self.extend_side.addItems(SIDES)
        self.extend_side.setToolTip("Which side to extend for outpainting")
        self.extend_by = _spin(8, 2048, 128, "How many pixels to add (a multiple of 8)", " px")
        self.extend_by.setSingleStep(64)
        menu.addAction(_field(menu, "Side", self.extend_side))
        menu.addAction(_field(menu, "By", self.extend_by))
        self.extend_action = menu.addAction("Extend", self.extend)
        self.extend_action.setToolTip("Grow the canvas and mask the new area, ready to outpaint")
        return button

    # -- tools ----------------------------------------------------------------------------------
    def set_tool(self, tool: str) -> None:
        self.view.set_tool(tool)
        self.tool_actions[tool].setChecked(True)

    def step_brush(self, direction: int) -> None:
        """``[`` / ``]``: a brush about 15 % smaller / larger (at least one pixel), shown in Size."""
        size = self.brush_size.value()
        step = max(1, round(size * 0.15))
        self.brush_size.setValue(size + direction * step)
        self.model.notice.emit(f"Brush size {self.brush_size.value()} px")

    def _set_brush(self, value: int) -> None:
        self.model.brush_size = value
        self.view.update()

    def _set_feather(self, value: int) -> None:
        self.model.feather = value

    def _set_compare(self, on: bool) -> None:
        self.view.compare = on
        self.view.update()

    def extend(self) -> None:
        try:
            self.model.extend(self.extend_side.currentText(), self.extend_by.value())
        except StudioError as exc:
            self.model.notice.emit(exc.user_text())

    def _update_actions(self, *_args: object) -> None:
        if self.model.painting():  # every dab changes the mask: look once the stroke ends
            return
        has_image = self.model.has_image()
        for action in (self.extend_action, self.clear_action, self.fit_action, self.actual_action):
            action.setEnabled(has_image)
        has_mask = has_image and self.model.has_mask()
        self.clear_mask_action.setEnabled(has_mask)
        self.mask_button.setEnabled(has_image)
        self.outpaint_button.setEnabled(has_image)
        for key, action in self.mask_actions.items():
            action.setEnabled(has_mask or (key == "invert" and has_image))
        before = self.model.before
        comparable = not before.isNull() and has_image and before != self.model.document
        self.compare_action.setEnabled(comparable)
        if not comparable and self.compare_action.isChecked():
            self.compare_action.setChecked(False)
        self.drag_handle.setEnabled(has_image)

    # -- state ------------------------------------------------------------------------------------
    def empty_text(self) -> str:
        return EMPTY_TEXT

    def showing_image(self) -> bool:
        return self.stack.currentWidget() is self.view

    def _show(self, image: QImage) -> None:
        self.stack.setCurrentWidget(self.view if not image.isNull() else self.empty)
        self._update_actions()

    # -- drag and drop, clipboard ------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        mime = event.mimeData()
        if (mime.hasUrls() and dropped_files(mime)) or mime.hasImage():
            event.acceptProposedAction()

    def dragMoveEvent(self, event: QDragEnterEvent) -> None:  # type: ignore[override]
        event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        if event.source() is self.drag_handle:
            return  # dragged out and dropped back: nothing to do
        self.take(event.mimeData())
        event.acceptProposedAction()

    def paste(self) -> None:
        mime = QGuiApplication.clipboard().mimeData()
        if mime is None or not self.take(mime):
            self.model.notice.emit("The clipboard holds no image to paste.")

    def take(self, mime: QMimeData) -> bool:
        """Open dropped/pasted files (announced) or image data; False when nothing usable came."""
        files = dropped_files(mime) if mime.hasUrls() else []
        if files:
            self.files_dropped.emit(files)
            return True
        if mime.hasImage():
            image = mime.imageData()
            if isinstance(image, QImage) and not image.isNull():
                self.model.set_document(image, "Paste image")
                return True
        return False

    def copy(self) -> None:
        self.view.copy()


def _menu_button(text: str, tip: str) -> tuple[QToolButton, QMenu]:
    button = QToolButton()
    button.setText(text)
    button.setToolTip(tip)
    button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
    menu = QMenu(button)
    menu.setToolTipsVisible(True)
    button.setMenu(menu)
    return button, menu


def _field(menu: QMenu, label: str, widget: QWidget) -> QWidgetAction:
    """A labelled control as a menu row."""
    action = QWidgetAction(menu)
    holder = QWidget()
    row = QHBoxLayout(holder)
    row.setContentsMargins(24, 2, 8, 2)
    row.addWidget(QLabel(label))
    row.addStretch(1)
    row.addWidget(widget)
    action.setDefaultWidget(holder)
    return action


def _spin(low: int, high: int, value: int, tip: str, suffix: str = "") -> QSpinBox:
    box = QSpinBox()
    box.setRange(low, high)
    box.setValue(value)
    box.setSuffix(suffix)
    box.setToolTip(tip)
    box.setKeyboardTracking(False)
    return box
