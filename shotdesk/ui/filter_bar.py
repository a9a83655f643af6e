"""FilterBar: search box and filters above the grid; emits one :class:`GalleryFilter`.

Search (URL, title, note; Ctrl+F) is debounced while typing; provider, format, status, date range
(fixed spans, or "Custom range…" with a from and a to day), tag, domain, viewport, favourites only
and the sort order apply at once. The bar holds no data:
the window passes the provider ids, tags, domains and viewports to offer.

"Similar" (a toggle) asks the window for the near-duplicate groups (``similar_requested``); the
window answers with :meth:`FilterBar.set_ids`, and the bar shows a chip ("Similar to #12 · 3 ✕")
while the gallery is restricted to those captures. Clearing the chip or the toggle lifts it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta

from PySide6.QtCore import QDate, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from shotdesk.core.spec import FORMATS
from shotdesk.ui.gallery_filter import GalleryFilter

_CUSTOM = "custom"
_DATES = (("Any time", None), ("Today", 1), ("Last 7 days", 7), ("Last 30 days", 30), ("Last year", 365),
          ("Custom range…", _CUSTOM))
_STATUSES = (("Any status", None), ("Ready", "ready"), ("Failed", "failed"), ("Missing", "missing"))
_SORTS = (("Newest first", "newest"), ("Oldest first", "oldest"), ("By domain", "domain"))


class FilterBar(QWidget):
    filter_changed = Signal(object)  # GalleryFilter
    #: The "Similar" toggle was switched on: the window loads the near-duplicate groups.
    similar_requested = Signal()

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
        today = QDate.currentDate()
        self.from_date = _date_edit("Captured from (day)", today.addDays(-30))
        self.to_date = _date_edit("Captured until (day, included)", today)
        self.range_label = QLabel("–")
        self._show_range(False)
        self.tag_combo = _combo("Tag filter", [("All tags", None)])
        self.domain_combo = _combo("Domain filter", [("All domains", None)])
        self.viewport_combo = _combo("Viewport filter", [("All viewports", None)])
        self.similar_button = QToolButton()
        self.similar_button.setText("Similar")
        self.similar_button.setCheckable(True)
        self.similar_button.setToolTip("Show only captures that look alike, grouped (near-duplicates)")
        self.similar_button.setAccessibleName("Similar captures only")
        self.ids_chip = QPushButton()
        self.ids_chip.setFlat(True)
        self.ids_chip.setToolTip("Show the whole gallery again")
        self.ids_chip.setAccessibleName("Clear the similar-captures view")
        self.ids_chip.hide()
        self._ids: tuple[int, ...] | None = None
        self._ids_label = ""
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
                  self.from_date, self.range_label, self.to_date, self.tag_combo, self.domain_combo,
                  self.viewport_combo, self.favourites_button, self.similar_button, self.ids_chip):
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
                      self.tag_combo, self.domain_combo, self.viewport_combo, self.sort_combo):
            combo.currentIndexChanged.connect(self._emit)
        self.date_combo.currentIndexChanged.connect(
            lambda _i: self._show_range(self.date_combo.currentData() == _CUSTOM))
        self.from_date.dateChanged.connect(self._from_changed)
        self.to_date.dateChanged.connect(lambda _d: self._emit())
        self.favourites_button.toggled.connect(self._emit)
        self.similar_button.toggled.connect(self._similar_toggled)
        self.ids_chip.clicked.connect(self.clear_ids)
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

    def set_domains(self, domains: Sequence[tuple[str, int]]) -> None:
        """``domains``: (domain, number of captures), most used first."""
        _refill(self.domain_combo, "All domains", [(f"{d} ({n})", d) for d, n in domains if d])

    def set_viewports(self, viewports: Sequence[tuple[tuple[int, int], int]]) -> None:
        """``viewports``: ((width, height), number of captures), most used first."""
        _refill(self.viewport_combo, "All viewports",
                [(f"{w}×{h} ({n})", f"{w}x{h}") for (w, h), n in viewports if w and h])

    def set_domain(self, domain: str | None) -> None:
        """Filter by ``domain`` (added to the list when it is not there yet)."""
        if domain and self.domain_combo.findData(domain) < 0:
            self.domain_combo.addItem(domain, domain)
        self.domain_combo.setCurrentIndex(max(0, self.domain_combo.findData(domain)) if domain else 0)

    def set_tag(self, tag: str | None) -> None:
        """Filter by ``tag`` (offered even before the tag list has loaded)."""
        if tag and self.tag_combo.findData(tag) < 0:
            self.tag_combo.addItem(tag, tag)
            self.tag_combo.setVisible(True)
        self.tag_combo.setCurrentIndex(max(0, self.tag_combo.findData(tag)) if tag else 0)

    def set_status(self, status: str | None) -> None:
        self.status_combo.setCurrentIndex(max(0, self.status_combo.findData(status)) if status else 0)

    def set_ids(self, ids: Sequence[int] | None, label: str = "") -> None:
        """Restrict the gallery to ``ids`` (in this order) — or lift it with None."""
        self._ids = tuple(ids) if ids is not None else None
        self._ids_label = label if ids is not None else ""
        self.ids_chip.setText(f"{label} ✕" if label else "")
        self.ids_chip.setVisible(self._ids is not None and bool(label))
        if self._ids is None and self.similar_button.isChecked():
            self.similar_button.blockSignals(True)
            self.similar_button.setChecked(False)
            self.similar_button.blockSignals(False)
        self._emit()

    def clear_ids(self) -> None:
        self.set_ids(None)

    def _similar_toggled(self, on: bool) -> None:
        if on:
            self.similar_requested.emit()
        else:
            self.set_ids(None)

    def set_count(self, shown: int) -> None:
        self.count_label.setText(f"{shown:,} capture" + ("" if shown == 1 else "s"))

    def set_sort(self, sort: str) -> None:
        row = self.sort_combo.findData(sort)
        if row >= 0:
            self.sort_combo.setCurrentIndex(row)

    def set_date_range(self, first: date, last: date) -> None:
        """Filter by a custom range of days (local time, both included)."""
        self.date_combo.setCurrentIndex(self.date_combo.findData(_CUSTOM))
        self.from_date.setDate(QDate(first.year, first.month, first.day))
        self.to_date.setDate(QDate(last.year, last.month, last.day))

    def _show_range(self, visible: bool) -> None:
        for w in (self.from_date, self.range_label, self.to_date):
            w.setVisible(visible)

    def _from_changed(self, day: QDate) -> None:
        self.to_date.setMinimumDate(day)  # "until" never before "from" (moves it along if needed)
        self._emit()

    def _dates(self) -> tuple[datetime | None, datetime | None]:
        """(since, until) of the date filter, in UTC; until is exclusive."""
        choice = self.date_combo.currentData()
        if choice == _CUSTOM:
            first, last = _day(self.from_date.date()), _day(self.to_date.date())
            return _local_midnight(first), _local_midnight(last + timedelta(days=1))
        if not choice:
            return None, None
        now = datetime.now(UTC)
        if choice == 1:
            return _local_midnight(datetime.now().date()), None
        return now - timedelta(days=int(choice)), None

    def current_filter(self) -> GalleryFilter:
        since, until = self._dates()
        return GalleryFilter(
            query=self.search_edit.text().strip(),
            provider=self.provider_combo.currentData(),
            format=self.format_combo.currentData(),
            status=self.status_combo.currentData(),
            since=since,
            until=until,
            tag=self.tag_combo.currentData(),
            favourites_only=self.favourites_button.isChecked(),
            sort=str(self.sort_combo.currentData() or "newest"),
            domain=self.domain_combo.currentData(),
            viewport=_viewport(self.viewport_combo.currentData()),
            ids=self._ids,
            ids_label=self._ids_label,
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


def _viewport(value: object) -> tuple[int, int] | None:
    """Combo data "1280x720" → (1280, 720)."""
    if isinstance(value, str) and "x" in value:
        w, _, h = value.partition("x")
        if w.isdigit() and h.isdigit():
            return int(w), int(h)
    return None


def _refill(combo: QComboBox, all_label: str, items: Sequence[tuple[str, object]]) -> None:
    """Replace the choices, keeping the current one (kept even when no longer listed)."""
    current = combo.currentData()
    combo.blockSignals(True)
    combo.clear()
    combo.addItem(all_label, None)
    for label, data in items:
        combo.addItem(label, data)
    row = combo.findData(current) if current is not None else 0
    if current is not None and row < 0:
        combo.addItem(str(current).replace("x", "×") if _viewport(current) else str(current), current)
        row = combo.count() - 1
    combo.setCurrentIndex(max(0, row))
    combo.blockSignals(False)


def _day(value: QDate) -> date:
    return date(value.year(), value.month(), value.day())


def _local_midnight(day: date) -> datetime:
    """The start of ``day`` in local time, as a UTC instant."""
    return datetime.combine(day, time()).astimezone().astimezone(UTC)


def _date_edit(name: str, value: QDate) -> QDateEdit:
    edit = QDateEdit(value)
    edit.setCalendarPopup(True)
    edit.setDisplayFormat("yyyy-MM-dd")
    edit.setAccessibleName(name)
    edit.setToolTip(name)
    return edit


def _combo(name: str, items: Sequence[tuple[str, object]]) -> QComboBox:
    combo = QComboBox()
    combo.setAccessibleName(name)
    combo.setToolTip(name)
    for label, data in items:
        combo.addItem(label, data)
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(min(8, max(len(label) for label, _ in items)))
    return combo
