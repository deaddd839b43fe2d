"""The plugins dialog: every family with its capabilities, backends, source and state.

Broken plugins are listed with their error; plugins can be enabled/disabled, and a third-party
plugin found for the first time can be allowed to run ("Plugins are code").
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QPushButton,
    QStyle,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.plugins.registry import PluginRecord
from studio.session import StudioSession

COLUMNS = ("Enabled", "ID", "Name", "Capabilities", "Backends", "Source", "State", "Error")
STATE_COLUMN = 6
ERROR_COLUMN = 7


def plugin_state(record: PluginRecord, trusted: set[str]) -> str:
    """broken | disabled | not allowed | failed (its code raised in the last load, job or training;
    it can still be used) | ready."""
    if not record.ok:
        return "broken"
    if not record.enabled:
        return "disabled"
    if not record.first_party and record.id not in trusted:
        return "not allowed"
    return "failed" if record.last_failure else "ready"


class PluginsDialog(QDialog):
    """Lists ``session.registry.records``; changes go through the session."""

    def __init__(self, session: StudioSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Plugins")
        self.setObjectName("pluginsDialog")
        self.session = session
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(ERROR_COLUMN, QHeaderView.ResizeMode.Stretch)
        note = QLabel(
            "Plugins are code. A third-party plugin runs only after you allow it; "
            "a plugin that fails to load, or whose code fails on a job, is listed with its error and the "
            "rest keep working."
        )
        note.setWordWrap(True)
        box = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        box.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(note)
        layout.addWidget(self.table, 1)
        layout.addWidget(box)
        self.table.itemChanged.connect(self._item_changed)
        self.populate()
        self.resize(980, 360)

    def populate(self) -> None:
        self.table.blockSignals(True)
        records = self.session.registry.records
        self.table.setRowCount(len(records))
        trusted = self.session.registry.trusted
        warn = self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
        for row, record in enumerate(records):
            info = record.to_dict()
            state = plugin_state(record, trusted)
            enabled = QTableWidgetItem()
            enabled.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled)
            enabled.setCheckState(Qt.CheckState.Checked if record.enabled else Qt.CheckState.Unchecked)
            enabled.setData(Qt.ItemDataRole.UserRole, record.id)
            self.table.setItem(row, 0, enabled)
            source = info["source"] + (" (first-party)" if record.first_party else "")
            texts = (
                info["id"],
                info["name"],
                ", ".join(info["capabilities"]),
                ", ".join(info["backends"]),
                source,
                state,
                record.error or record.last_failure,
            )
            detail = record.error_detail or record.error or record.last_failure_detail or record.location
            for column, text in enumerate(texts, start=1):
                item = QTableWidgetItem(text)
                item.setToolTip(detail)
                if state in ("broken", "failed") and column == STATE_COLUMN:
                    item.setIcon(warn)
                self.table.setItem(row, column, item)
            self.table.removeCellWidget(row, STATE_COLUMN)
            if state == "not allowed":
                self.table.setCellWidget(row, STATE_COLUMN, self._allow_button(record.id))
        self.table.blockSignals(False)

    def row_of(self, plugin_id: str) -> int:
        for row in range(self.table.rowCount()):
            if self.table.item(row, 1).text() == plugin_id:
                return row
        return -1

    def allow(self, plugin_id: str) -> None:
        self.session.trust_plugin(plugin_id)
        self.populate()

    def set_enabled(self, plugin_id: str, enabled: bool) -> None:
        self.session.set_plugin_enabled(plugin_id, enabled)
        self.populate()

    def _allow_button(self, plugin_id: str) -> QPushButton:
        button = QPushButton("Allow")
        button.setToolTip(f"Let '{plugin_id}' run its code in this studio.")
        button.clicked.connect(lambda: self.allow(plugin_id))
        return button

    def _item_changed(self, item: QTableWidgetItem) -> None:
        if item.column() != 0:
            return
        plugin_id = item.data(Qt.ItemDataRole.UserRole)
        try:
            self.set_enabled(plugin_id, item.checkState() == Qt.CheckState.Checked)
        except Exception as exc:  # a broken record without a manifest id, a settings write failure
            item.setToolTip(str(exc))
