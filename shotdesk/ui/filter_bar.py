"""FilterBar: search box and filters above the grid; emits one :class:`GalleryFilter`.

Search (URL, title, note; Ctrl+F) is debounced while typing; provider, format, status, date range,
tag, favourites only and the sort order apply at once. The bar holds no data: the window passes
the provider ids and tags to offer.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QLineEdit, QToolButton, QVBoxLayout, QWidget

from shotdesk.core.spec import FORMATS
from shotdesk.ui.gallery_filter import GalleryFilter

_DATES = (("Any time", None), ("Today", 1), ("Last 7 days", 7), ("Last 30 days", 30), ("Last year", 365))
_STATUSES = (("Any status", None), ("Ready", "ready"), ("Failed", "failed"), ("Missing", "missing"))
_SORTS = (("Newest first", "newest"), ("Oldest first", "oldest"), ("By domain", "domain"))


class FilterBar(QWidget):
    filter_changed = Signal(object)  # GalleryFilter

    def __init__(self, providers: Sequence[tuple[str, str]], parent: QWidget | None = None) -> None:
        """``providers``: (id, label) pairs."""
        super().__init__(parent)
        self.search_edit = QLineEdit()
        self.search_edit.setPlaceholderText("Search URL, title, note   (Ctrl+F)")
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.setAccessibleName("Search the gallery")
        self.search_edit.setMinimumWidth(160)
        provider_items: list[tuple[str, object]] = [("All providers", None)]
        provider_items += [(label, pid) for pid, label in providers]
        self.provider_combo = _combo("Provider filter", provider_items)
        self.format_combo = _combo("Format filter", [("All formats", None),
                                                     *[(f.upper(), f) for f in FORMATS]])
        self.status_combo = _combo("Status filter", list(_STATUSES))
        self.date_combo = _combo("Date filter", list(_DATES))
        self.tag_combo = _combo("Tag filter", [("All tags", None)])
        self.favourites_button = QToolButton()
        self.favourites_button.setText("★")
        self.favourites_button.setCheckable(True)
        self.favourites_button.setToolTip("Favourites only")
        self.favourites_button.setAccessibleName("Favourites only")
        self.sort_combo = _combo("Sort order", list(_SORTS))
        self.count_label = QLabel("")
        self.count_label.setAccessibleName("Number of captures")
        top = QHBoxLayout()
        top.addWidget(self.search_edit, 1)
        top.addWidget(self.sort_combo)
        top.addWidget(self.count_label)
        filters = QHBoxLayout()
        for w in (self.provider_combo, self.format_combo, self.status_combo, self.date_combo,
                  self.tag_combo, self.favourites_button):
            filters.addWidget(w)
        filters.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(top)
        layout.addLayout(filters)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(220)
        self._debounce.timeout.connect(self._emit)
        self.search_edit.textChanged.connect(lambda _t: self._debounce.start())
        self.search_edit.returnPressed.connect(self._emit)
        for combo in (self.provider_combo, self.format_combo, self.status_combo, self.date_combo,
                      self.tag_combo, self.sort_combo):
            combo.currentIndexChanged.connect(self._emit)
        self.favourites_button.toggled.connect(self._emit)
        self._last: GalleryFilter | None = None

    def set_tags(self, tags: Sequence[tuple[str, int]]) -> None:
        current = self.tag_combo.currentData()
        self.tag_combo.blockSignals(True)
        self.tag_combo.clear()
        self.tag_combo.addItem("All tags", None)
        for tag, count in tags:
            self.tag_combo.addItem(f"{tag} ({count})", tag)
        row = self.tag_combo.findData(current)
        self.tag_combo.setCurrentIndex(max(0, row))
        self.tag_combo.blockSignals(False)
        self.tag_combo.setVisible(bool(tags))

    def set_count(self, shown: int) -> None:
        self.count_label.setText(f"{shown:,} capture" + ("" if shown == 1 else "s"))

    def set_sort(self, sort: str) -> None:
        row = self.sort_combo.findData(sort)
        if row >= 0:
            self.sort_combo.setCurrentIndex(row)

    def current_filter(self) -> GalleryFilter:
        days = self.date_combo.currentData()
        since = None
        if days:
            now = datetime.now(UTC)
            since = (now.astimezone().replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)
                     if days == 1 else now - timedelta(days=int(days)))
        return GalleryFilter(
            query=self.search_edit.text().strip(),
            provider=self.provider_combo.currentData(),
            format=self.format_combo.currentData(),
            status=self.status_combo.currentData(),
            since=since,
            tag=self.tag_combo.currentData(),
            favourites_only=self.favourites_button.isChecked(),
            sort=str(self.sort_combo.currentData() or "newest"),
        )

    def focus_search(self) -> None:
        self.search_edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search_edit.selectAll()

    def _emit(self) -> None:
        self._debounce.stop()
        value = self.current_filter()
        if value != self._last:
            self._last = value
            self.filter_changed.emit(value)


def _combo(name: str, items: Sequence[tuple[str, object]]) -> QComboBox:
    combo = QComboBox()
    combo.setAccessibleName(name)
    combo.setToolTip(name)
    for label, data in items:
        combo.addItem(label, data)
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(min(8, max(len(label) for label, _ in items)))
    return combo
