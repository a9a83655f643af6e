"""What the gallery shows: one filter, applied twice.

* :meth:`GalleryFilter.library_kwargs` turns it into ``Library.list``/``count`` arguments, so the
  model loads only matching rows from SQLite (complete and fast with 10,000 captures and lazy
  loading — a proxy alone would only filter the rows loaded so far).
* :class:`GalleryFilterProxy` applies the same filter through the model's roles to rows that
  enter the model outside a query: captures finishing now, queue tiles, a favourite just switched
  off while "favourites only" is on. It also sorts by domain when asked (source order otherwise).

``ids`` restricts the gallery to a set of captures (the "Similar" view: near-duplicate groups);
while it is set the proxy keeps the captures in the order of ``ids`` so each group stays together.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex, QSortFilterProxyModel, Qt

from shotdesk.ui.gallery_model import Role

SORTS = ("newest", "oldest", "domain")


@dataclass(frozen=True)
class GalleryFilter:
    query: str = ""
    provider: str | None = None
    format: str | None = None
    status: str | None = None
    since: datetime | None = None
    #: Captured before this instant (a custom date range's end, exclusive).
    until: datetime | None = None
    tag: str | None = None
    favourites_only: bool = False
    sort: str = "newest"
    #: Domain (sub-domains match too), e.g. "example.com".
    domain: str | None = None
    #: Viewport in CSS px, e.g. (1280, 720).
    viewport: tuple[int, int] | None = None
    #: Only these captures, in this order (near-duplicate groups); None: no restriction.
    ids: tuple[int, ...] | None = None
    #: What ``ids`` stands for, shown in the filter bar ("Similar to #12").
    ids_label: str = ""

    def with_changes(self, **changes: Any) -> GalleryFilter:
        return replace(self, **changes)

    @property
    def is_default(self) -> bool:
        return self == GalleryFilter(sort=self.sort)

    def library_kwargs(self) -> dict[str, Any]:
        """Arguments for ``Library.list`` / ``Library.count``."""
        kwargs: dict[str, Any] = {"query": self.query.strip()}
        if self.provider:
            kwargs["provider"] = self.provider
        if self.format:
            kwargs["format"] = self.format
        if self.status:
            kwargs["status"] = self.status
        if self.since is not None:
            kwargs["since"] = self.since
        if self.until is not None:
            kwargs["until"] = self.until
        if self.tag:
            kwargs["tag"] = self.tag
        if self.favourites_only:
            kwargs["favourite"] = True
        if self.domain:
            kwargs["domain"] = self.domain
        if self.viewport:
            kwargs["viewport"] = self.viewport
        if self.ids is not None:
            kwargs["ids"] = self.ids
        return kwargs

    @property
    def newest_first(self) -> bool:
        return self.sort != "oldest"

    def accepts(self, *, url: str, title: str, note: str, provider: str, format: str, status: str,
                captured_at: datetime | None, tags: tuple[str, ...], favourite: bool,
                domain: str = "", viewport: tuple[int, int] = (0, 0), capture_id: int | None = None) -> bool:
        """The same test as the SQL, for one row's values."""
        words = self.query.lower().split()
        haystack = f"{url}\n{title}\n{note}".lower()
        if any(w.strip('"') not in haystack for w in words):  # every word, like the FTS query
            return False
        if self.provider and provider != self.provider:
            return False
        if self.format and format != self.format:
            return False
        if self.status and status != self.status:
            return False
        if self.since is not None and captured_at is not None and captured_at < self.since:
            return False
        if self.until is not None and captured_at is not None and captured_at >= self.until:
            return False
        if self.tag and self.tag.lower() not in tags:
            return False
        if self.domain and not _domain_matches(domain, self.domain):
            return False
        if self.viewport and tuple(viewport) != tuple(self.viewport):
            return False
        if self.ids is not None and capture_id not in self.ids:
            return False
        return not (self.favourites_only and not favourite)


class GalleryFilterProxy(QSortFilterProxyModel):
    """Filters and sorts the gallery reading only through :class:`Role` values."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._filter = GalleryFilter()
        self._order: dict[int, int] = {}
        self.setDynamicSortFilter(True)
        self.setSortCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)

    @property
    def gallery_filter(self) -> GalleryFilter:
        return self._filter

    def set_gallery_filter(self, value: GalleryFilter) -> None:
        sort_changed = value.sort != self._filter.sort or value.ids != self._filter.ids
        self.beginFilterChange()
        self._filter = value
        self._order = {cid: n for n, cid in enumerate(value.ids or ())}
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        if sort_changed or value.sort == "domain" or value.ids is not None:
            self._apply_sort()

    def _apply_sort(self) -> None:
        if self._filter.ids is not None:
            self.setSortRole(int(Role.ID))
            self.sort(0, Qt.SortOrder.AscendingOrder)
        elif self._filter.sort == "domain":
            self.setSortRole(int(Role.DOMAIN))
            self.sort(0, Qt.SortOrder.AscendingOrder)
        else:
            self.sort(-1)  # the source order (the library's: newest or oldest first)

    def filterAcceptsRow(self, source_row: int,
                         source_parent: QModelIndex | QPersistentModelIndex) -> bool:
        model = self.sourceModel()
        if model is None:
            return True
        if self._filter.is_default:
            return True  # nothing to test (the sort order is not a filter)
        values = model.index(source_row, 0, source_parent).data(Role.FILTER)
        if values is None or values.kind == "job":
            return True  # the queue is always visible
        return self._filter.accepts(
            url=values.url, title=values.title, note=values.note, provider=values.provider,
            format=values.format, status=values.status, captured_at=values.captured_at, tags=values.tags,
            favourite=values.favourite, domain=values.domain, viewport=values.viewport,
            capture_id=values.id)

    def lessThan(self, left: QModelIndex | QPersistentModelIndex,
                 right: QModelIndex | QPersistentModelIndex) -> bool:
        if self._filter.ids is not None:  # group order; queue tiles first
            return self._rank(left) < self._rank(right)
        if self._filter.sort == "domain":
            a = (str(left.data(Role.DOMAIN) or ""), -_ts(left.data(Role.CAPTURED_AT)))
            b = (str(right.data(Role.DOMAIN) or ""), -_ts(right.data(Role.CAPTURED_AT)))
            return a < b
        return super().lessThan(left, right)


    def _rank(self, index: QModelIndex | QPersistentModelIndex) -> int:
        capture_id = index.data(Role.ID)
        return -1 if capture_id is None else self._order.get(int(capture_id), len(self._order))


def _domain_matches(domain: str, wanted: str) -> bool:
    """Like the library's domain filter: the domain itself or a sub-domain ("www." ignored)."""
    d, w = domain.lower(), wanted.strip().lower()
    d = d[4:] if d.startswith("www.") else d
    w = w[4:] if w.startswith("www.") else w
    return d == w or d.endswith("." + w)


def _ts(value: object) -> float:
    return value.timestamp() if isinstance(value, datetime) else 0.0
