"""GalleryModel: the gallery's rows for the grid, loaded lazily from the :class:`Library`.

Rows are *tiles*: a gallery row (``Capture``) or a queue job that has no row yet (waiting,
running, or failed without a record). ``rowCount`` is what was fetched so far;
``canFetchMore``/``fetchMore`` load the next batch from SQLite when the view scrolls near the end
(the Qt ``fetchmore`` example, with the correct ``beginInsertRows`` bound), so 10,000 captures
open as fast as 200. Pages are keyed by the last row read (``Library.list(after=…)``): the page
near row 10,000 costs what the first does, and rows added or removed meanwhile shift nothing.

The model adapts; it decides nothing. The capture service's signals are connected with
:meth:`connect_service`; the window calls :meth:`set_filter`, :meth:`remove_captures`,
:meth:`put_capture`. Views and the proxy read through :class:`Role` only; ``capture_at`` is the
typed accessor for the window's actions.
"""

from __future__ import annotations

import gc
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import IntEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from PySide6.QtCore import (
    QAbstractListModel,
    QByteArray,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
)

from shotdesk.core.errors import ShotDeskError
from shotdesk.core.spec import CaptureSpec
from shotdesk.core.urls import domain_of
from shotdesk.ui.text import age_text

if TYPE_CHECKING:
    from shotdesk.core.library import Capture, Library
    from shotdesk.services.capture_service import CaptureService
    from shotdesk.ui.gallery_filter import GalleryFilter

log = logging.getLogger(__name__)

BATCH_SIZE = 200
AnyIndex = QModelIndex | QPersistentModelIndex


class Role(IntEnum):
    """Data roles of :class:`GalleryModel` (``Qt.ItemDataRole.UserRole`` + n)."""

    CAPTURE = Qt.ItemDataRole.UserRole + 1  # the Capture, or None for a queue tile
    KIND = Qt.ItemDataRole.UserRole + 2  # "capture" | "job"
    ID = Qt.ItemDataRole.UserRole + 3  # capture id or None
    JOB = Qt.ItemDataRole.UserRole + 4  # queue job number or None
    URL = Qt.ItemDataRole.UserRole + 5
    DOMAIN = Qt.ItemDataRole.UserRole + 6
    TITLE = Qt.ItemDataRole.UserRole + 7
    PROVIDER = Qt.ItemDataRole.UserRole + 8
    FORMAT = Qt.ItemDataRole.UserRole + 9
    STATUS = Qt.ItemDataRole.UserRole + 10  # ready | failed | missing | pending | running
    ERROR = Qt.ItemDataRole.UserRole + 11
    CAPTURED_AT = Qt.ItemDataRole.UserRole + 12  # datetime (UTC)
    VIEWPORT = Qt.ItemDataRole.UserRole + 13  # "1280×720"
    PIXEL_SIZE = Qt.ItemDataRole.UserRole + 14  # (w, h) of the picture, (0, 0) when none
    BYTES = Qt.ItemDataRole.UserRole + 15
    THUMB_PATH = Qt.ItemDataRole.UserRole + 16  # Path | None
    BLOB_PATH = Qt.ItemDataRole.UserRole + 17  # Path | None
    PROGRESS = Qt.ItemDataRole.UserRole + 18  # 0..1, or -1 when unknown / not running
    PROGRESS_TEXT = Qt.ItemDataRole.UserRole + 19
    TAGS = Qt.ItemDataRole.UserRole + 20  # tuple[str, ...]
    FAVOURITE = Qt.ItemDataRole.UserRole + 21
    NOTE = Qt.ItemDataRole.UserRole + 22
    VERSION = Qt.ItemDataRole.UserRole + 23
    CACHED = Qt.ItemDataRole.UserRole + 24  # answered from the library in this session
    CAPTION = Qt.ItemDataRole.UserRole + 25  # "domain · 1280×720 · 5 min"
    SPEC = Qt.ItemDataRole.UserRole + 26  # CaptureSpec of a queue tile / dict of a capture
    DEVICE = Qt.ItemDataRole.UserRole + 27
    PAINT = Qt.ItemDataRole.UserRole + 28  # TileLook: everything the delegate paints, in one call
    FILTER = Qt.ItemDataRole.UserRole + 29  # FilterValues: everything the proxy tests, in one call


class TileLook(NamedTuple):
    """What a tile shows (Role.PAINT): one ``data()`` call per painted tile instead of a dozen."""

    kind: str
    status: str
    thumb_path: Path | None
    format: str
    domain: str
    caption: str
    error: str | None
    progress: float
    progress_text: str
    cached: bool
    version: int
    favourite: bool
    #: "blank", "challenge", "retried" (issue 5) and whether the picture equals the previous version.
    flags: tuple[str, ...] = ()
    unchanged: bool = False


class FilterValues(NamedTuple):
    """What the filter proxy tests (Role.FILTER)."""

    kind: str
    url: str
    title: str
    note: str
    provider: str
    format: str
    status: str
    captured_at: datetime
    tags: tuple[str, ...]
    favourite: bool
    domain: str = ""
    viewport: tuple[int, int] = (0, 0)
    id: int | None = None


@dataclass
class Tile:
    capture: Capture | None = None
    job: int | None = None
    spec: CaptureSpec | None = None
    state: str = "pending"  # for queue tiles: pending | running | failed
    fraction: float = -1.0
    text: str = ""
    error: str | None = None
    cached: bool = False
    queued_at: datetime = field(default_factory=lambda: datetime.now(UTC))


class GalleryModel(QAbstractListModel):
    """Tiles over a :class:`Library`; see the module docstring.

    Signals: ``load_failed(message)`` when reading the index fails; ``total_changed(count)`` with
    the number of matching gallery rows (not counting queue tiles).
    """

    load_failed = Signal(str)
    total_changed = Signal(int)

    def __init__(self, library: Library, *, batch_size: int = BATCH_SIZE, freeze_heap: bool = False,
                 parent: QObject | None = None) -> None:
        """``freeze_heap``: ``gc.freeze()`` after each batch (the window turns it on; see fetchMore)."""
        super().__init__(parent)
        self._freeze_heap = freeze_heap
        self._library = library
        self._batch = max(1, batch_size)
        self._tiles: list[Tile] = []
        self._ids: set[int] = set()
        self._last: Capture | None = None  # the last library row fetchMore read: the next page's key
        self._exhausted = False
        self._resetting = False
        self._total = 0
        self._filter: GalleryFilter | None = None
        self._query_kwargs: dict[str, Any] = {"query": ""}
        self._newest_first = True
        self._count_total()
        self.fetchMore(QModelIndex())

    # ------------------------------------------------------------------ Qt model API
    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._tiles)

    def canFetchMore(self, parent: AnyIndex) -> bool:
        return not parent.isValid() and not self._exhausted and not self._resetting

    def fetchMore(self, parent: AnyIndex) -> None:
        # Listeners of modelReset (a proxy's, a model tester's) may ask for more while the reset
        # is still being announced; inserting rows then would nest two changes. reload() fetches.
        if parent.isValid() or self._exhausted or self._resetting:
            return
        try:
            rows = self._library.list(limit=self._batch, after=self._last,
                                      newest_first=self._newest_first, **self._query_kwargs)
        except (ShotDeskError, OSError) as exc:
            self._exhausted = True
            log.error("could not read the gallery: %s", exc)
            self.load_failed.emit(str(exc))
            return
        if rows:
            self._last = rows[-1]
        if len(rows) < self._batch:
            self._exhausted = True
        new = [c for c in rows if c.id not in self._ids]
        if not new:
            return
        first = len(self._tiles)
        self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
        self._tiles.extend(Tile(capture=c) for c in new)
        self._ids.update(c.id for c in new)
        self.endInsertRows()
        if self._freeze_heap:
            # Thousands of loaded rows make every full garbage collection walk them all: 70 ms
            # pauses with 10,000 rows (benchmarks/gallery.py). The rows live as long as the model,
            # so move them out of the collector's way; reload() hands them back.
            gc.freeze()

    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.ItemIsDropEnabled
        return (Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
                | Qt.ItemFlag.ItemIsDragEnabled | Qt.ItemFlag.ItemNeverHasChildren)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._tiles) or index.column() != 0:
            return None
        tile = self._tiles[index.row()]
        if role in (Qt.ItemDataRole.DisplayRole, Role.CAPTION):
            return self._caption(tile)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(tile)
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return f"{self._caption(tile)}, {self._status(tile)}"
        if role in _ROLE_GETTERS:
            return _ROLE_GETTERS[Role(role)](self, tile)
        return None

    def roleNames(self) -> dict[int, QByteArray]:
        names = dict(super().roleNames())
        names.update({int(r): QByteArray(r.name.lower().encode()) for r in Role})
        return names

    # ------------------------------------------------------------------ typed access
    @property
    def library(self) -> Library:
        return self._library

    def tile_at(self, row: int) -> Tile | None:
        return self._tiles[row] if 0 <= row < len(self._tiles) else None

    def capture_at(self, index: AnyIndex) -> Capture | None:
        tile = self.tile_at(index.row()) if index.isValid() else None
        return tile.capture if tile else None

    def row_of_capture(self, capture_id: int) -> int:
        if capture_id not in self._ids:
            return -1
        return next((i for i, t in enumerate(self._tiles) if t.capture and t.capture.id == capture_id), -1)

    def row_of_job(self, job: int) -> int:
        return next((i for i, t in enumerate(self._tiles) if t.job == job), -1)

    @property
    def total(self) -> int:
        """Matching gallery rows in the library (loaded or not)."""
        return self._total

    @property
    def loaded_rows(self) -> int:
        return len(self._tiles)

    @property
    def job_rows(self) -> int:
        """Queue tiles (every other tile is a capture whose id is in ``_ids``)."""
        return len(self._tiles) - len(self._ids)

    # ------------------------------------------------------------------ filter / reload
    def set_filter(self, value: GalleryFilter) -> None:
        """Reload from the library with ``value`` (queue tiles stay)."""
        self._filter = value
        self._query_kwargs = value.library_kwargs()
        self._newest_first = value.newest_first
        self.reload()

    def reload(self) -> None:
        if self._freeze_heap:
            gc.unfreeze()  # the rows about to be dropped must be collectable again
        self._resetting = True
        try:
            self.beginResetModel()
            self._tiles = [t for t in self._tiles if t.capture is None]
            self._ids.clear()
            self._last = None
            self._exhausted = False
            self.endResetModel()
        finally:
            self._resetting = False
        self._count_total()
        self.fetchMore(QModelIndex())

    def fetch_all(self) -> None:
        """Load every matching row (sorting by domain needs them all)."""
        while self.canFetchMore(QModelIndex()):
            self.fetchMore(QModelIndex())

    def _count_total(self) -> None:
        try:
            total = self._library.count(**self._query_kwargs)
        except (ShotDeskError, OSError) as exc:
            self.load_failed.emit(str(exc))
            total = 0
        self._set_total(total)

    def _set_total(self, total: int) -> None:
        if total != self._total:
            self._total = max(0, total)
            self.total_changed.emit(self._total)

    def _matches(self, capture: Capture) -> bool:
        if self._filter is None:
            return True
        return self._filter.accepts(
            url=capture.url, title=capture.title or "", note=capture.note, provider=capture.provider,
            format=capture.format, status=capture.status, captured_at=capture.captured_at,
            tags=capture.tags, favourite=capture.favourite, domain=capture.domain or domain_of(capture.url),
            viewport=capture.viewport, capture_id=capture.id)

    # ------------------------------------------------------------------ live updates
    def connect_service(self, service: CaptureService) -> None:
        service.job_queued.connect(self.add_job)
        service.job_started.connect(self.start_job)
        service.job_progress.connect(self.update_job)
        service.job_done.connect(self.finish_job)
        service.job_failed.connect(self.fail_job)
        service.job_cancelled.connect(self.remove_job)
        service.capture_replaced.connect(self.forget_capture)

    def add_job(self, job: int, spec: CaptureSpec) -> None:
        self.beginInsertRows(QModelIndex(), 0, 0)
        self._tiles.insert(0, Tile(job=job, spec=spec, text="Waiting"))
        self.endInsertRows()

    def start_job(self, job: int) -> None:
        row = self.row_of_job(job)
        if row >= 0:
            tile = self._tiles[row]
            tile.state, tile.text = "running", "Starting"
            self._changed(row)

    def update_job(self, job: int, fraction: float, text: str) -> None:
        row = self.row_of_job(job)
        if row >= 0:
            tile = self._tiles[row]
            tile.state, tile.fraction, tile.text = "running", fraction, text
            self._changed(row, [Role.PROGRESS, Role.PROGRESS_TEXT, Role.STATUS,
                                Qt.ItemDataRole.ToolTipRole])

    def finish_job(self, job: int, capture: Capture, cached: bool) -> None:
        row = self.row_of_job(job)
        existing = self.row_of_capture(capture.id)
        if existing >= 0:
            # Answered from the library: the row is already here; drop the queue tile.
            self._tiles[existing].capture = capture
            self._tiles[existing].cached = cached
            self._changed(existing)
            if row >= 0:
                self._remove_row(row)
            return
        if row < 0:
            self.put_capture(capture, cached=cached)
            return
        tile = self._tiles[row]
        tile.capture, tile.job, tile.cached, tile.spec = capture, None, cached, None
        self._ids.add(capture.id)
        if not cached and self._matches(capture):
            self._set_total(self._total + 1)
        self._changed(row)

    def fail_job(self, job: int, message: str, capture: Capture | None) -> None:
        row = self.row_of_job(job)
        if capture is not None:
            if row >= 0:
                tile = self._tiles[row]
                tile.capture, tile.job, tile.spec = capture, None, None
                self._ids.add(capture.id)
                if self._matches(capture):
                    self._set_total(self._total + 1)
                self._changed(row)
            else:
                self.put_capture(capture)
            return
        if row >= 0:  # nothing recorded: the queue tile shows the error itself
            tile = self._tiles[row]
            tile.state, tile.error, tile.text, tile.fraction = "failed", message, message, -1.0
            self._changed(row)

    def remove_job(self, job: int) -> None:
        row = self.row_of_job(job)
        if row >= 0:
            self._remove_row(row)

    def forget_capture(self, capture_id: int) -> None:
        """The row left the library (deleted or replaced by a retry)."""
        row = self.row_of_capture(capture_id)
        if row >= 0:
            capture = self._tiles[row].capture
            self._remove_row(row)
            if capture is not None and self._matches(capture):
                self._set_total(self._total - 1)

    def remove_captures(self, ids: list[int]) -> None:
        for capture_id in ids:
            self.forget_capture(capture_id)

    def put_capture(self, capture: Capture, *, cached: bool = False) -> None:
        """Show ``capture`` (new, restored or changed) at its place in the loaded order."""
        row = self.row_of_capture(capture.id)
        if row >= 0:
            self._tiles[row].capture = capture
            self._changed(row)
            return
        if capture.deleted:
            return
        pos = self._insert_position(capture)
        if pos is None:
            return  # belongs to a page not loaded yet; fetchMore brings it
        self.beginInsertRows(QModelIndex(), pos, pos)
        self._tiles.insert(pos, Tile(capture=capture, cached=cached))
        self._ids.add(capture.id)
        self.endInsertRows()
        if self._matches(capture):
            self._set_total(self._total + 1)

    def remove_tile(self, row: int) -> None:
        """Dismiss a queue tile that failed without a record."""
        tile = self.tile_at(row)
        if tile is not None and tile.capture is None and tile.state == "failed":
            self._remove_row(row)

    def _insert_position(self, capture: Capture) -> int | None:
        key = (capture.captured_at, capture.id)
        for i, tile in enumerate(self._tiles):
            if tile.capture is None:
                continue
            other = (tile.capture.captured_at, tile.capture.id)
            if (key > other) if self._newest_first else (key < other):
                return i
        return len(self._tiles) if self._exhausted else None

    def _remove_row(self, row: int) -> None:
        self.beginRemoveRows(QModelIndex(), row, row)
        tile = self._tiles.pop(row)
        if tile.capture is not None:
            self._ids.discard(tile.capture.id)
        self.endRemoveRows()

    def _changed(self, row: int, roles: list[int] | None = None) -> None:
        index = self.index(row, 0)
        self.dataChanged.emit(index, index, [int(r) for r in roles] if roles else [])

    def refresh_captions(self) -> None:
        """Ages in captions move on: repaint them (called by the view's minute timer)."""
        if self._tiles:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._tiles) - 1, 0),
                                  [int(Qt.ItemDataRole.DisplayRole), int(Role.CAPTION)])

    # ------------------------------------------------------------------ values
    @staticmethod
    def _status(tile: Tile) -> str:
        if tile.capture is not None:
            return tile.capture.status
        return tile.state

    def _caption(self, tile: Tile) -> str:
        domain = _domain(tile)
        w, h = _viewport(tile)
        when = tile.capture.captured_at if tile.capture else tile.queued_at
        return f"{domain} · {w}×{h} · {age_text(when)}"

    def _tooltip(self, tile: Tile) -> str:
        url = _url(tile)
        status = self._status(tile)
        if tile.capture is not None:
            c = tile.capture
            lines = [c.title or url, url]
            if c.status == "failed" and c.error:
                lines.append(f"Failed: {c.error}")
            elif c.status == "missing":
                lines.append("The file is gone from the cache — re-capture to get it back")
            else:
                lines.append(f"{c.width}×{c.height} px {c.format.upper()} via {c.provider}")
            return "\n".join(lines)
        if status == "failed":
            return f"{url}\nFailed: {tile.error}"
        return f"{url}\n{tile.text or status}"


def _url(tile: Tile) -> str:
    if tile.capture is not None:
        return tile.capture.url
    return tile.spec.url if tile.spec else ""


def _domain(tile: Tile) -> str:
    if tile.capture is not None:
        return tile.capture.domain or domain_of(tile.capture.url)
    return domain_of(tile.spec.url) if tile.spec else ""


def _viewport(tile: Tile) -> tuple[int, int]:
    if tile.capture is not None:
        vw, vh = tile.capture.viewport
        if vw and vh:
            return vw, vh
        spec = tile.capture.spec
        return int(spec.get("width", 0)), int(spec.get("height", 0))
    return (tile.spec.width, tile.spec.height) if tile.spec else (0, 0)


def _status_of(model: GalleryModel, tile: Tile) -> str:
    return model._status(tile)


def _look(model: GalleryModel, t: Tile) -> TileLook:
    c = t.capture
    if c is not None:
        return TileLook("capture", c.status, c.thumb_path, c.format, c.domain or domain_of(c.url),
                        model._caption(t), c.error, -1.0, "", t.cached, c.version, bool(c.favourite),
                        tuple(getattr(c, "flags", ())), bool(getattr(c, "unchanged", False)))
    spec = t.spec
    return TileLook("job", t.state, None, spec.format if spec else "", _domain(t), model._caption(t), t.error,
                    t.fraction, t.text, False, 0, False)


def _filter_values(model: GalleryModel, t: Tile) -> FilterValues:
    c = t.capture
    if c is not None:
        return FilterValues("capture", c.url, c.title or "", c.note, c.provider, c.format, c.status,
                            c.captured_at, c.tags, bool(c.favourite), c.domain or domain_of(c.url),
                            _viewport(t), c.id)
    spec = t.spec
    return FilterValues("job", _url(t), "", "", spec.provider if spec else "", spec.format if spec else "",
                        t.state, t.queued_at, (), False)


_ROLE_GETTERS: dict[Role, Any] = {
    Role.CAPTURE: lambda m, t: t.capture,
    Role.KIND: lambda m, t: "capture" if t.capture is not None else "job",
    Role.ID: lambda m, t: t.capture.id if t.capture else None,
    Role.JOB: lambda m, t: t.job,
    Role.URL: lambda m, t: _url(t),
    Role.DOMAIN: lambda m, t: _domain(t),
    Role.TITLE: lambda m, t: (t.capture.title or "") if t.capture else "",
    Role.PROVIDER: lambda m, t: t.capture.provider if t.capture else (t.spec.provider if t.spec else ""),
    Role.FORMAT: lambda m, t: t.capture.format if t.capture else (t.spec.format if t.spec else ""),
    Role.STATUS: _status_of,
    Role.ERROR: lambda m, t: t.capture.error if t.capture else t.error,
    Role.CAPTURED_AT: lambda m, t: t.capture.captured_at if t.capture else t.queued_at,
    Role.VIEWPORT: lambda m, t: "{}×{}".format(*_viewport(t)),
    Role.PIXEL_SIZE: lambda m, t: (t.capture.width, t.capture.height) if t.capture else (0, 0),
    Role.BYTES: lambda m, t: t.capture.bytes if t.capture else 0,
    Role.THUMB_PATH: lambda m, t: t.capture.thumb_path if t.capture else None,
    Role.BLOB_PATH: lambda m, t: t.capture.blob_path if t.capture else None,
    Role.PROGRESS: lambda m, t: t.fraction if t.capture is None else -1.0,
    Role.PROGRESS_TEXT: lambda m, t: t.text if t.capture is None else "",
    Role.TAGS: lambda m, t: t.capture.tags if t.capture else (),
    Role.FAVOURITE: lambda m, t: bool(t.capture.favourite) if t.capture else False,
    Role.NOTE: lambda m, t: t.capture.note if t.capture else "",
    Role.VERSION: lambda m, t: t.capture.version if t.capture else 0,
    Role.CACHED: lambda m, t: t.cached,
    Role.SPEC: lambda m, t: t.capture.spec if t.capture else t.spec,
    Role.DEVICE: lambda m, t: (t.capture.device if t.capture else (t.spec.device if t.spec else None)),
    Role.PAINT: _look,
    Role.FILTER: _filter_values,
}
