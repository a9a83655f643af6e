"""ResponsiveSheetDialog: pick the device presets for a responsive sheet of one page.

Opened with ``open()`` (never ``exec()``); ``devices_chosen(names, title)`` on OK. The window then
asks where to save and hands the work to :class:`shotdesk.services.qt_gallery.LibraryJobs`.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from shotdesk.core.devices import Device, devices

#: Checked at first: one phone, one tablet, one desktop-sized preset when available.
_DEFAULT_KINDS = ("phone", "tablet", "laptop")


class ResponsiveSheetDialog(QDialog):
    devices_chosen = Signal(list, str)  # device names, title

    def __init__(self, url: str, title: str, presets: Sequence[Device] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Responsive sheet")
        self.setAccessibleName("Responsive sheet")
        intro = QLabel(f"Show {url} on these devices, side by side in one labelled picture. "
                       "Devices not captured yet are captured first.")
        intro.setWordWrap(True)
        self.list = QListWidget()
        self.list.setAccessibleName("Device presets")
        chosen_kinds: set[str] = set()
        for device in presets if presets is not None else devices():
            item = QListWidgetItem(f"{device.name} — {device.width}×{device.height} @{device.scale:g}×")
            item.setData(Qt.ItemDataRole.UserRole, device.name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            first_of_kind = device.kind in _DEFAULT_KINDS and device.kind not in chosen_kinds
            if first_of_kind:
                chosen_kinds.add(device.kind)
            item.setCheckState(Qt.CheckState.Checked if first_of_kind else Qt.CheckState.Unchecked)
            self.list.addItem(item)
        self.title_edit = QLineEdit(title)
        self.title_edit.setAccessibleName("Sheet title")
        self.title_edit.setPlaceholderText("Title on the sheet")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Make sheet…")
        self.buttons.accepted.connect(self._accept)
        self.buttons.rejected.connect(self.reject)
        self.list.itemChanged.connect(lambda _i: self._update_ok())
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.list, 1)
        layout.addWidget(QLabel("Title"))
        layout.addWidget(self.title_edit)
        layout.addWidget(self.buttons)
        self.resize(460, 520)
        self._update_ok()

    def chosen(self) -> list[str]:
        out = []
        for row in range(self.list.count()):
            item = self.list.item(row)
            if item.checkState() == Qt.CheckState.Checked:
                out.append(str(item.data(Qt.ItemDataRole.UserRole)))
        return out

    def set_chosen(self, names: Sequence[str]) -> None:
        wanted = set(names)
        for row in range(self.list.count()):
            item = self.list.item(row)
            state = Qt.CheckState.Checked if item.data(Qt.ItemDataRole.UserRole) in wanted \
                else Qt.CheckState.Unchecked
            item.setCheckState(state)

    def _update_ok(self) -> None:
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(len(self.chosen()) >= 1)

    def _accept(self) -> None:
        names = self.chosen()
        if names:
            self.accept()
            self.devices_chosen.emit(names, self.title_edit.text().strip())
