"""What the gallery shows: one filter, applied twice.

* :meth:`GalleryFilter.library_kwargs` turns it into ``Library.list``/``count`` arguments, so the
  model loads only matching rows from SQLite (complete and fast with 10,000 captures and lazy
  loading — a proxy alone would only filter the rows loaded so far).
* :class:`GalleryFilterProxy` applies the same filter through the model's roles to rows that
  enter the model outside a query: captures finishing now, queue tiles, a favourite just switched
  off while "favourites only" is on. It also sorts by domain when asked (source order otherwise).
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
    tag: str | None = None
    favourites_only: bool = False
    sort: str = "newest"

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
        if self.tag:
            kwargs["tag"] = self.tag
        if self.favourites_only:
            kwargs["favourite"] = True
        return kwargs

    @property
    def newest_first(self) -> bool:
        return self.sort != "oldest"

    def accepts(self, *, url: str, title: str, note: str, provider: str, format: str, status: str,
                captured_at: datetime | None, tags: tuple[str, ...], favourite: bool) -> bool:
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
        if self.tag and self.tag.lower() not in tags:
            return False
        return not (self.favourites_only and not favourite)


class GalleryFilterProxy(QSortFilterProxyModel):
    """Filters and sorts the gallery reading only through :class:`Role` values."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._filter = GalleryFilter()
        self.setDynamicSortFilter(True)
        self.setSortCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)

    @property
    def gallery_filter(self) -> GalleryFilter:
        return self._filter

    def set_gallery_filter(self, value: GalleryFilter) -> None:
        sort_changed = value.sort != self._filter.sort
        self.beginFilterChange()
        self._filter = value
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        if sort_changed or value.sort == "domain":
            self._apply_sort()

    def _apply_sort(self) -> None:
        if self._filter.sort == "domain":
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
            favourite=values.favourite)

    def lessThan(self, left: QModelIndex | QPersistentModelIndex,
                 right: QModelIndex | QPersistentModelIndex) -> bool:
        if self._filter.sort == "domain":
            a = (str(left.data(Role.DOMAIN) or ""), -_ts(left.data(Role.CAPTURED_AT)))
            b = (str(right.data(Role.DOMAIN) or ""), -_ts(right.data(Role.CAPTURED_AT)))
            return a < b
        return super().lessThan(left, right)


def _ts(value: object) -> float:
    return value.timestamp() if isinstance(value, datetime) else 0.0
