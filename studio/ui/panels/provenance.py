"""The "Check provenance" panel: drop any image to see whether it carries the studio's invisible
watermark (payload, confidence) and which provenance metadata it holds (A1111 parameters, IPTC
digital source type, C2PA manifest, software).

Reading and detection run off the GUI thread (:func:`~studio.ui.tasks.run_in_background`); the
export package does the work (``watermark.detect``, ``provenance.read_provenance``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QImageReader, QPixmap
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.core.errors import describe
from studio.ui.tasks import run_in_background

THUMB = 160
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.webp *.bmp *.tif *.tiff);;All files (*)"
SOURCE_TYPES = {
    "trainedAlgorithmicMedia": "AI-generated (trainedAlgorithmicMedia)",
    "compositeWithTrainedAlgorithmicMedia": "Edited with AI (compositeWithTrainedAlgorithmicMedia)",
    "digitalCapture": "Camera capture (digitalCapture)",
}


def check_image(path: str) -> dict[str, Any]:
    """Runs on a pool thread: the export package's check (safe decode, mark, metadata) and a thumbnail."""
    from studio.export.check import check_image as check

    result = check(path)  # BadInput for damaged files and decompression bombs
    reader = QImageReader(path)
    size = reader.size()
    if size.isValid():
        reader.setScaledSize(size.scaled(THUMB * 2, THUMB * 2, Qt.AspectRatioMode.KeepAspectRatio))
    thumbnail = reader.read()
    detection = result.watermark
    return {"path": path, "size": (size.width(), size.height()), "detection": detection.to_dict(),
            "z": detection.z_score, "metadata": result.metadata, "thumbnail": thumbnail}


class DropArea(QLabel):
    """Where images are dropped (or clicked to choose one)."""

    dropped = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("provenanceDrop")
        self.setAcceptDrops(True)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumHeight(THUMB)
        self.setWordWrap(True)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setText("Drop an image here\nto check its watermark and metadata")

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        files = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if files:
            event.acceptProposedAction()
            self.dropped.emit(files[0])


class ProvenancePanel(QWidget):
    """Drop an image → watermark found or not, payload, confidence, and the metadata present."""

    checked = Signal(dict)  # the result shown (tests and the status bar listen)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("provenancePanel")
        self.setAcceptDrops(True)
        self.drop = DropArea()
        self.drop.dropped.connect(self.check)
        choose = QPushButton("Choose image…")
        choose.clicked.connect(self._choose)
        self.verdict = QLabel(objectName="provenanceVerdict", wordWrap=True)
        font = self.verdict.font()
        font.setPointSizeF(font.pointSizeF() * 1.2)
        font.setBold(True)
        self.verdict.setFont(font)
        self.file_label = QLabel(objectName="provenanceFile", wordWrap=True)
        self.file_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details = QTreeWidget(objectName="provenanceDetails")
        self.details.setColumnCount(2)
        self.details.setHeaderLabels(["Property", "Value"])
        self.details.setRootIsDecorated(False)
        self.details.setWordWrap(True)
        self.details.setAlternatingRowColors(True)
        self.details.setColumnWidth(0, 150)
        self.details.itemDoubleClicked.connect(lambda item, _c: self.details.setCurrentItem(item))
        top = QHBoxLayout()
        top.addWidget(self.drop, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        row = QHBoxLayout()
        row.addWidget(self.file_label, 1)
        row.addWidget(choose)
        layout.addLayout(row)
        layout.addWidget(self.verdict)
        layout.addWidget(self.details, 1)
        self.result: dict[str, Any] | None = None
        self.busy = False
        self._pending: str | None = None

    # the whole panel accepts drops too, not only the drop area
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        self.drop.dragEnterEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:
        self.drop.dropEvent(event)

    def _choose(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Check provenance", "", IMAGE_FILTER)
        if path:
            self.check(path)

    def check(self, path: str) -> None:
        """Check ``path`` (off the GUI thread); a check asked for while one runs follows it."""
        if self.busy:
            self._pending = path
            return
        self.busy = True
        self.result = None
        self.file_label.setText(Path(path).name)
        self.file_label.setToolTip(path)
        self.verdict.setText("Checking…")
        self.verdict.setStyleSheet("")
        self.details.clear()
        run_in_background(lambda: check_image(path), self._show, lambda exc: self._failed(path, exc))

    def _next(self) -> None:
        self.busy = False
        if self._pending is not None:
            path, self._pending = self._pending, None
            self.check(path)

    def _failed(self, path: str, error: BaseException) -> None:
        self.verdict.setText("Could not check this file")
        self.verdict.setStyleSheet("color: #c62828;")
        self.details.clear()
        self._row("Problem", describe(error))
        self.drop.setPixmap(QPixmap())
        self.drop.setText("Drop an image here\nto check its watermark and metadata")
        self.result = {"path": path, "error": describe(error)}
        self.checked.emit(self.result)
        self._next()

    def _row(self, key: str, value: object) -> QTreeWidgetItem:
        text = "—" if value in (None, "", []) else str(value)
        item = QTreeWidgetItem([key, text])
        item.setToolTip(1, text)
        self.details.addTopLevelItem(item)
        return item

    def _show(self, result: dict[str, Any]) -> None:
        self.result = result
        det = result["detection"]
        meta = result["metadata"]
        if not result["thumbnail"].isNull():
            self.drop.setPixmap(QPixmap.fromImage(result["thumbnail"]).scaled(
                THUMB * 2, THUMB, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
            ))
        confidence = f"{det['confidence'] * 100:.0f} %"
        if det["detected"]:
            payload = det["payload"]
            self.verdict.setText(f"✔ Studio watermark detected — confidence {confidence}")
            self.verdict.setStyleSheet("color: #2e7d32;")
        else:
            payload = None
            self.verdict.setText(f"✘ No studio watermark found — confidence {confidence}")
            self.verdict.setStyleSheet("color: #8d6e63;")
        self.details.clear()
        self._row("Watermark", "detected" if det["detected"] else "not found")
        if payload:
            self._row("Payload", payload["hex"])
            self._row("Owner id", payload["owner"])
            self._row("Image id", payload["image"])
        self._row("Confidence", confidence)
        self._row("Sync z-score", f"{result.get('z', 0.0):.1f}")
        width, height = result["size"]
        self._row("Format", f"{meta.get('format') or '?'}, {width}×{height}")
        source = meta.get("digital_source_type") or ""
        label = next((v for k, v in SOURCE_TYPES.items() if source.endswith("/" + k)), source)
        self._row("Digital source type", label)
        self._row("Generation parameters", meta.get("parameters"))
        self._row("C2PA manifest", "present" if meta.get("c2pa") else "none")
        self._row("Software", meta.get("software"))
        if meta.get("studio"):
            self._row("Studio record", "present (request and seed)")
        present = [n for n, v in (("parameters", meta.get("parameters")), ("IPTC source type", source),
                                  ("C2PA", meta.get("c2pa")), ("software", meta.get("software"))) if v]
        self._row("Metadata present", ", ".join(present) or "none (stripped or never written)")
        self.details.resizeColumnToContents(0)
        self.checked.emit(result)
        self._next()
