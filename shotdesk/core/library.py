"""The gallery's store: a SQLite index (user data dir) over content-addressed blob files (user cache dir).

* Index: ``paths.index_path()``, WAL mode, schema version in ``PRAGMA user_version`` with stepwise
  migrations (:data:`MIGRATIONS`). It holds the user's work (history, tags, notes) and survives a
  cache purge.
* Blobs: ``paths.captures_dir()/ab/<sha256>.<ext>``; thumbnails ``paths.thumbnails_dir()/ab/<sha256>.webp``
  (named after the blob's sha256). Identical bytes are stored once, whichever rows point at them.
* A capture row is committed only after its blob and thumbnail are complete on disk (atomic writes:
  temp file in the same folder, fsync, ``os.replace``). A failure between the file writes and the
  commit rolls the row back and removes the files this call wrote, unless another row uses them.
* Sync and thread-safe: one connection, guarded by a lock, ``check_same_thread=False``. Async
  callers use ``asyncio.to_thread``; Pillow thumbnailing runs outside the lock.

No Qt here. API keys are never stored: a CaptureSpec has none and provider metadata arrives redacted.
"""

from __future__ import annotations

import builtins
import contextlib
import json
import logging
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PIL import Image

from shotdesk import paths
from shotdesk.capture.base import CaptureResult
from shotdesk.core.blobs import BlobStore, StoredBlob, sha256_hex, storage_error
from shotdesk.core.errors import StorageError
from shotdesk.core.spec import EXTENSIONS, MEDIA_TYPES, CaptureSpec
from shotdesk.core.thumbnails import THUMB_EXT, make_thumbnail, placeholder_thumbnail
from shotdesk.core.urls import domain_of

log = logging.getLogger(__name__)

STATUSES = ("ready", "failed", "missing", "pending")
_MEDIA_TO_FORMAT = {v: k for k, v in MEDIA_TYPES.items()}
_TAG_SEP = "\x1f"


@dataclass(frozen=True)
class Capture:
    """One gallery row."""

    id: int
    key: str
    url: str
    provider: str
    format: str
    width: int
    height: int
    bytes: int
    blob_path: Path | None
    thumb_path: Path | None
    status: str  # "ready" | "failed" | "missing" | "pending"
    error: str | None
    captured_at: datetime  # UTC
    version: int
    title: str | None
    spec: dict[str, Any]
    metadata: dict[str, str]
    elapsed_ms: int
    tags: tuple[str, ...] = ()
    note: str = ""
    favourite: bool = False
    # ---- additions beyond the shared interface
    final_url: str | None = None
    domain: str = ""
    device: str | None = None
    #: Viewport in CSS px (from the spec), e.g. (1280, 720).
    viewport: tuple[int, int] = (0, 0)
    sha256: str | None = None
    #: Set while the row is soft-deleted (undo with :meth:`Library.restore`).
    deleted: bool = False

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES.get(self.format, "application/octet-stream")

    @property
    def extension(self) -> str:
        return EXTENSIONS.get(self.format, self.format)

    def capture_spec(self) -> CaptureSpec:
        """The spec to re-capture this row with (same URL and options)."""
        return CaptureSpec.from_dict(self.spec)


# ---------------------------------------------------------------------------------------------- schema
def _run_script(db: sqlite3.Connection, script: str) -> None:
    """Execute statements one by one inside the caller's transaction (``executescript`` would COMMIT)."""
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            db.execute(statement)
            statement = ""
    if statement.strip():
        db.execute(statement)


def _migrate_v1(db: sqlite3.Connection) -> None:
    _run_script(db, """
        CREATE TABLE captures (
            id          INTEGER PRIMARY KEY,
            key         TEXT NOT NULL,
            url         TEXT NOT NULL,
            final_url   TEXT,
            domain      TEXT NOT NULL DEFAULT '',
            provider    TEXT NOT NULL,
            format      TEXT NOT NULL,
            width       INTEGER NOT NULL DEFAULT 0,
            height      INTEGER NOT NULL DEFAULT 0,
            viewport_w  INTEGER NOT NULL DEFAULT 0,
            viewport_h  INTEGER NOT NULL DEFAULT 0,
            device      TEXT,
            bytes       INTEGER NOT NULL DEFAULT 0,
            sha256      TEXT,
            blob        TEXT,
            thumb       TEXT,
            status      TEXT NOT NULL,
            error       TEXT,
            captured_at REAL NOT NULL,
            version     INTEGER NOT NULL,
            title       TEXT,
            spec        TEXT NOT NULL,
            metadata    TEXT NOT NULL DEFAULT '{}',
            elapsed_ms  INTEGER NOT NULL DEFAULT 0,
            note        TEXT NOT NULL DEFAULT '',
            favourite   INTEGER NOT NULL DEFAULT 0,
            deleted_at  REAL
        );
        CREATE TABLE tags (
            capture_id INTEGER NOT NULL REFERENCES captures(id) ON DELETE CASCADE,
            tag        TEXT NOT NULL,
            PRIMARY KEY (capture_id, tag)
        ) WITHOUT ROWID;
        CREATE INDEX captures_key ON captures(key, version);
        CREATE INDEX captures_time ON captures(captured_at, id);
        CREATE INDEX captures_sha ON captures(sha256);
        CREATE INDEX captures_provider ON captures(provider, captured_at);
        CREATE INDEX captures_status ON captures(status, captured_at);
        CREATE INDEX tags_tag ON tags(tag, capture_id);
    """)


#: Stepwise migrations: MIGRATIONS[n] takes the schema from version n to n + 1.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_migrate_v1]
SCHEMA_VERSION = len(MIGRATIONS)

_COLUMNS = (
    "c.id, c.key, c.url, c.final_url, c.domain, c.provider, c.format, c.width, c.height, "
    "c.viewport_w, c.viewport_h, c.device, c.bytes, c.sha256, c.blob, c.thumb, c.status, c.error, "
    "c.captured_at, c.version, c.title, c.spec, c.metadata, c.elapsed_ms, c.note, c.favourite, "
    "c.deleted_at, (SELECT group_concat(t.tag, char(31)) FROM tags t WHERE t.capture_id = c.id) AS tags"
)


class Library:
    """The gallery: SQLite index + content-addressed files. See the module docstring."""

    def __init__(self, index_path: Path | None = None, cache_dir: Path | None = None, *,
                 clock: Callable[[], float] | None = None) -> None:
        """Open (creating and migrating) the index; ``cache_dir`` holds ``captures/`` and ``thumbnails/``.

        ``clock`` returns the current Unix time (UTC seconds); tests inject one for TTL checks.
        """
        self.index_path = Path(index_path) if index_path is not None else paths.index_path()
        if cache_dir is not None:
            captures, thumbs = Path(cache_dir) / "captures", Path(cache_dir) / "thumbnails"
        else:
            captures, thumbs = paths.captures_dir(), paths.thumbnails_dir()
        self.blobs = BlobStore(captures, what="the capture")
        self.thumbs = BlobStore(thumbs, what="the thumbnail")
        self._clock = clock or time.time
        self._lock = threading.RLock()
        #: sha256 → number of add() calls in flight that use it (their files must not be cleaned up).
        self._pending: Counter[str] = Counter()
        self._db: sqlite3.Connection | None = None
        self._db = self._open()

    # ------------------------------------------------------------------------------- open / close
    def _open(self) -> sqlite3.Connection:
        folder = self.index_path.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(str(self.index_path), check_same_thread=False, isolation_level=None,
                                 timeout=10.0)
        except OSError as exc:
            raise storage_error(exc, folder, 0, "the gallery index") from None
        except sqlite3.Error as exc:
            raise StorageError(f"Cannot open the gallery index {self.index_path}: {exc}",
                               hint="check that the folder is writable") from None
        try:
            db.row_factory = sqlite3.Row
            mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                log.warning("gallery index is in %s mode, not WAL", mode)
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA foreign_keys=ON")
            self._migrate(db)
        except BaseException:
            db.close()
            raise
        return db

    def _migrate(self, db: sqlite3.Connection, target: int = SCHEMA_VERSION) -> None:
        try:
            current = int(db.execute("PRAGMA user_version").fetchone()[0])
        except sqlite3.DatabaseError as exc:
            raise _sqlite_error(exc, self.index_path) from None
        if current > len(MIGRATIONS):
            raise StorageError(
                f"The gallery index {self.index_path} was written by a newer ShotDesk "
                f"(schema {current}, this version knows {len(MIGRATIONS)})",
                hint="update ShotDesk, or move the file aside to start a new gallery",
            )
        for version in range(current, target):
            try:
                db.execute("BEGIN IMMEDIATE")
                MIGRATIONS[version](db)
                db.execute(f"PRAGMA user_version = {version + 1}")
                db.execute("COMMIT")
            except BaseException as exc:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
                if isinstance(exc, sqlite3.DatabaseError):
                    raise _sqlite_error(exc, self.index_path) from None
                raise
            log.info("gallery index migrated to schema %d", version + 1)

    @property
    def schema_version(self) -> int:
        with self._lock:
            return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("PRAGMA optimize")
                self._db.close()
                self._db = None

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise StorageError("The gallery is closed", hint="reopen the library")
        return self._db

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction under the lock; rolled back on any error."""
        with self._lock:
            db = self._conn
            try:
                db.execute("BEGIN IMMEDIATE")
                yield db
                db.execute("COMMIT")
            except BaseException as exc:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
                if isinstance(exc, sqlite3.DatabaseError) and _is_known(exc):
                    raise _sqlite_error(exc, self.index_path) from None
                raise

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            try:
                return self._conn.execute(sql, params).fetchall()
            except sqlite3.DatabaseError as exc:
                if _is_known(exc):
                    raise _sqlite_error(exc, self.index_path) from None
                raise

    # ------------------------------------------------------------------------------------ writes
    def add(self, spec: CaptureSpec, result: CaptureResult, *, elapsed_ms: int) -> Capture:
        """Store one successful capture: blob and thumbnail written atomically first, row committed last.

        Raises :class:`StorageError` (disk full, unwritable folder, index failure); then nothing of
        this capture is left behind.
        """
        fmt = _MEDIA_TO_FORMAT.get(result.media_type.split(";")[0].strip().lower(), spec.format)
        ext = EXTENSIONS[fmt]
        data = result.data
        sha = sha256_hex(data)
        with self._lock:
            self._pending[sha] += 1
        written: list[tuple[BlobStore, StoredBlob]] = []
        ok = False
        try:
            blob = self.blobs.put(data, ext, sha=sha)
            written.append((self.blobs, blob))
            thumb = self.thumbs.put(self._thumbnail_bytes(data, fmt), THUMB_EXT, sha=sha)
            written.append((self.thumbs, thumb))
            now = self._clock()
            row = {
                "key": spec.cache_key(), "url": spec.url, "final_url": result.final_url,
                "domain": domain_of(spec.url), "provider": result.provider or spec.provider,
                "format": fmt, "width": int(result.width), "height": int(result.height),
                "viewport_w": spec.width, "viewport_h": spec.height, "device": spec.device,
                "bytes": len(data), "sha256": sha, "blob": blob.name, "thumb": thumb.name,
                "status": "ready", "error": None, "captured_at": now, "title": result.title,
                "spec": json.dumps(spec.to_dict(), sort_keys=True),
                "metadata": json.dumps({str(k): str(v) for k, v in result.metadata.items()}, sort_keys=True),
                "elapsed_ms": int(elapsed_ms),
            }
            capture_id = self._insert(row)
            ok = True
        finally:
            with self._lock:
                self._pending[sha] -= 1
                if self._pending[sha] <= 0:
                    del self._pending[sha]
                if not ok:
                    self._discard_unreferenced(sha, [(s, b) for s, b in written if b.created])
        capture = self.get(capture_id)
        assert capture is not None
        return capture

    def add_failed(self, spec: CaptureSpec, error: str) -> Capture:
        """Record a failed capture (status ``failed``, ``error`` shown on the tile; no files)."""
        row = {
            "key": spec.cache_key(), "url": spec.url, "final_url": None, "domain": domain_of(spec.url),
            "provider": spec.provider, "format": spec.format, "width": 0, "height": 0,
            "viewport_w": spec.width, "viewport_h": spec.height, "device": spec.device, "bytes": 0,
            "sha256": None, "blob": None, "thumb": None, "status": "failed", "error": str(error),
            "captured_at": self._clock(), "title": None,
            "spec": json.dumps(spec.to_dict(), sort_keys=True), "metadata": "{}", "elapsed_ms": 0,
        }
        capture_id = self._insert(row)
        capture = self.get(capture_id)
        assert capture is not None
        return capture

    def _insert(self, row: dict[str, Any]) -> int:
        with self._tx() as db:
            # Version: next number in this key's series. Failed attempts show the number the
            # capture would have had but do not use it up (a successful retry takes it).
            prev = db.execute(
                "SELECT max(version) FROM captures WHERE key = ? AND status != 'failed'", (row["key"],)
            ).fetchone()[0]
            row = {**row, "version": int(prev or 0) + 1}
            names = ", ".join(row)
            marks = ", ".join(f":{k}" for k in row)
            cur = db.execute(f"INSERT INTO captures ({names}) VALUES ({marks})", row)
            capture_id = int(cur.lastrowid or 0)
            self._before_commit(db, capture_id)
        return capture_id

    def _before_commit(self, db: sqlite3.Connection, capture_id: int) -> None:
        """Runs inside the insert transaction, just before COMMIT (tests inject failures here)."""

    def _thumbnail_bytes(self, data: bytes, fmt: str) -> bytes:
        if fmt == "pdf":
            return placeholder_thumbnail("PDF")
        try:
            return make_thumbnail(data)
        except (OSError, ValueError, Image.DecompressionBombError) as exc:
            log.warning("could not make a thumbnail (%s); using a placeholder", exc)
            return placeholder_thumbnail(fmt.upper())

    def _discard_unreferenced(self, sha: str, files: Sequence[tuple[BlobStore, StoredBlob]]) -> None:
        """Remove files of a failed add when no row and no add in flight uses the same bytes."""
        if not files or self._pending.get(sha):
            return
        try:
            used = self._query("SELECT 1 FROM captures WHERE sha256 = ? LIMIT 1", (sha,))
        except (StorageError, sqlite3.Error):
            return  # cannot tell: keep the files; the integrity check adopts or removes them
        if used:
            return
        for store, blob in files:
            with contextlib.suppress(OSError):
                store.remove(blob.name)

    def delete(self, capture_id: int) -> None:
        """Soft-delete a row (it leaves every list; :meth:`restore` undoes it). Files stay until
        :meth:`purge_deleted` removes rows for good."""
        with self._tx() as db:
            db.execute("UPDATE captures SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL",
                       (self._clock(), capture_id))

    def restore(self, capture_id: int) -> Capture | None:
        """Undo :meth:`delete`."""
        with self._tx() as db:
            db.execute("UPDATE captures SET deleted_at = NULL WHERE id = ?", (capture_id,))
        return self.get(capture_id)

    def purge_deleted(self, older_than_s: float = 0.0) -> int:
        """Remove soft-deleted rows (deleted at least ``older_than_s`` ago) and files no row uses."""
        cutoff = self._clock() - older_than_s
        with self._tx() as db:
            rows = db.execute("SELECT id, sha256, blob, thumb FROM captures "
                              "WHERE deleted_at IS NOT NULL AND deleted_at <= ?", (cutoff,)).fetchall()
            db.executemany("DELETE FROM captures WHERE id = ?", [(r["id"],) for r in rows])
            shas = {r["sha256"]: (r["blob"], r["thumb"]) for r in rows if r["sha256"]}
            orphans = [
                names for sha, names in shas.items()
                if not self._pending.get(sha)
                and db.execute("SELECT 1 FROM captures WHERE sha256 = ? LIMIT 1", (sha,)).fetchone() is None
            ]
        for blob_name, thumb_name in orphans:
            with contextlib.suppress(OSError):
                if blob_name:
                    self.blobs.remove(blob_name)
                if thumb_name:
                    self.thumbs.remove(thumb_name)
        return len(rows)

    # ------------------------------------------------------------------------------------- reads
    def get(self, capture_id: int, *, include_deleted: bool = False) -> Capture | None:
        sql = f"SELECT {_COLUMNS} FROM captures c WHERE c.id = ?"
        if not include_deleted:
            sql += " AND c.deleted_at IS NULL"
        rows = self._query(sql, (capture_id,))
        return self._capture(rows[0]) if rows else None

    def find_fresh(self, key: str, ttl_s: float) -> Capture | None:
        """The newest ready capture of ``key`` younger than ``ttl_s`` whose file still exists.

        A row whose blob vanished turns ``missing`` and is not an answer.
        """
        if ttl_s <= 0:
            return None
        cutoff = self._clock() - ttl_s
        rows = self._query(
            f"SELECT {_COLUMNS} FROM captures c WHERE c.key = ? AND c.status = 'ready' "
            "AND c.deleted_at IS NULL AND c.captured_at >= ? ORDER BY c.version DESC, c.id DESC LIMIT 20",
            (key, cutoff),
        )
        for row in rows:
            capture = self._capture(row)
            if capture.blob_path is not None and capture.blob_path.is_file():
                return capture
            self._mark_missing([capture.id])
        return None

    def _mark_missing(self, ids: Sequence[int]) -> None:
        if not ids:
            return
        with self._tx() as db:
            db.executemany("UPDATE captures SET status = 'missing' WHERE id = ? AND status = 'ready'",
                           [(i,) for i in ids])

    def versions(self, key: str) -> list[Capture]:
        """Every capture of one URL + options (one series), newest version first."""
        rows = self._query(f"SELECT {_COLUMNS} FROM captures c WHERE c.key = ? AND c.deleted_at IS NULL "
                           "ORDER BY c.version DESC, c.id DESC", (key,))
        return [self._capture(r) for r in rows]

    def list(self, *, query: str = "", provider: str | None = None, format: str | None = None,
             limit: int = 100, offset: int = 0, newest_first: bool = True,
             **filters: Any) -> list[Capture]:
        """Captures matching the filters, newest first by default.

        Further keyword filters: ``status``, ``key``, ``domain``, ``tag``, ``favourite``,
        ``since`` / ``until`` (datetime), ``viewport`` ((w, h) or "1280x720"), ``device``.
        """
        where, params = self._where(query=query, provider=provider, format=format, **filters)
        order = "DESC" if newest_first else "ASC"
        sql = (f"SELECT {_COLUMNS} FROM captures c WHERE {where} "
               f"ORDER BY c.captured_at {order}, c.id {order} LIMIT ? OFFSET ?")
        rows = self._query(sql, [*params, max(0, int(limit)), max(0, int(offset))])
        return [self._capture(r) for r in rows]

    def count(self, *, query: str = "", provider: str | None = None, format: str | None = None,
              **filters: Any) -> int:
        where, params = self._where(query=query, provider=provider, format=format, **filters)
        return int(self._query(f"SELECT count(*) FROM captures c WHERE {where}", params)[0][0])

    def _where(self, *, query: str = "", provider: str | None = None, format: str | None = None,
               status: str | Sequence[str] | None = None, key: str | None = None,
               domain: str | None = None, tag: str | None = None, favourite: bool | None = None,
               since: datetime | float | None = None, until: datetime | float | None = None,
               viewport: tuple[int, int] | str | None = None, device: str | None = None,
               include_deleted: bool = False) -> tuple[str, builtins.list[Any]]:
        clauses: builtins.list[str] = []
        params: builtins.list[Any] = []
        if not include_deleted:
            clauses.append("c.deleted_at IS NULL")
        text = (query or "").strip()
        if text:
            like = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            clauses.append("(c.url LIKE ? ESCAPE '\\' OR c.title LIKE ? ESCAPE '\\' "
                           "OR c.note LIKE ? ESCAPE '\\')")
            params += [like, like, like]
        if provider:
            clauses.append("c.provider = ?")
            params.append(provider.strip().lower())
        if format:
            fmt = format.strip().lower()
            clauses.append("c.format = ?")
            params.append("jpeg" if fmt == "jpg" else fmt)
        if status:
            statuses = [status] if isinstance(status, str) else list(status)
            clauses.append(f"c.status IN ({', '.join('?' * len(statuses))})")
            params += statuses
        if key:
            clauses.append("c.key = ?")
            params.append(key)
        if domain:
            d = domain.strip().lower()
            d = d[4:] if d.startswith("www.") else d
            clauses.append("(c.domain = ? OR c.domain LIKE ? ESCAPE '\\')")
            params += [d, "%." + d.replace("%", "\\%").replace("_", "\\_")]
        if tag:
            clauses.append("EXISTS (SELECT 1 FROM tags t WHERE t.capture_id = c.id AND t.tag = ?)")
            params.append(normalise_tag(tag))
        if favourite is not None:
            clauses.append("c.favourite = ?")
            params.append(1 if favourite else 0)
        if since is not None:
            clauses.append("c.captured_at >= ?")
            params.append(_epoch(since))
        if until is not None:
            clauses.append("c.captured_at < ?")
            params.append(_epoch(until))
        if viewport:
            w, h = _parse_viewport(viewport)
            clauses.append("c.viewport_w = ? AND c.viewport_h = ?")
            params += [w, h]
        if device:
            clauses.append("c.device = ?")
            params.append(device)
        return (" AND ".join(clauses) or "1"), params

    def _capture(self, row: sqlite3.Row) -> Capture:
        tags = tuple(sorted(row["tags"].split(_TAG_SEP))) if row["tags"] else ()
        return Capture(
            id=int(row["id"]), key=row["key"], url=row["url"], provider=row["provider"],
            format=row["format"], width=int(row["width"]), height=int(row["height"]),
            bytes=int(row["bytes"]),
            blob_path=self.blobs.resolve(row["blob"]) if row["blob"] else None,
            thumb_path=self.thumbs.resolve(row["thumb"]) if row["thumb"] else None,
            status=row["status"], error=row["error"],
            captured_at=datetime.fromtimestamp(float(row["captured_at"]), tz=UTC),
            version=int(row["version"]), title=row["title"], spec=json.loads(row["spec"]),
            metadata=json.loads(row["metadata"] or "{}"), elapsed_ms=int(row["elapsed_ms"]),
            tags=tags, note=row["note"] or "", favourite=bool(row["favourite"]),
            final_url=row["final_url"], domain=row["domain"], device=row["device"],
            viewport=(int(row["viewport_w"]), int(row["viewport_h"])), sha256=row["sha256"],
            deleted=row["deleted_at"] is not None,
        )


# ---------------------------------------------------------------------------------------- helpers
def normalise_tag(tag: str) -> str:
    """Tags are case-insensitive single words or phrases: trimmed, inner whitespace collapsed."""
    return " ".join(str(tag).split()).lower()


def _epoch(value: datetime | float) -> float:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.timestamp()
    return float(value)


def _parse_viewport(value: tuple[int, int] | str) -> tuple[int, int]:
    if isinstance(value, str):
        w, _, h = value.lower().replace("×", "x").partition("x")
        return int(w), int(h)
    return int(value[0]), int(value[1])


def _is_known(exc: sqlite3.DatabaseError) -> bool:
    """Environment problems (disk full, I/O, locked, corrupt) as opposed to our own bugs."""
    return type(exc) in (sqlite3.OperationalError, sqlite3.DatabaseError)


def _sqlite_error(exc: sqlite3.DatabaseError, index: Path) -> StorageError:
    text = str(exc)
    lowered = text.lower()
    if "full" in lowered:
        return StorageError(f"Not enough disk space to update the gallery index (in {index.parent})",
                            hint="free some disk space, then try again")
    if "locked" in lowered or "busy" in lowered:
        return StorageError(f"The gallery index {index} is in use by another program",
                            hint="close other ShotDesk windows and try again")
    if "not a database" in lowered or "malformed" in lowered or "corrupt" in lowered:
        return StorageError(f"The gallery index {index} is damaged ({text})",
                            hint="ShotDesk moves a damaged index aside and starts a new one on restart")
    if "readonly" in lowered or "read-only" in lowered or "unable to open" in lowered:
        return StorageError(f"Cannot write the gallery index {index} ({text})",
                            hint="check the folder's permissions")
    return StorageError(f"The gallery index {index} failed: {text}", hint="try again")
