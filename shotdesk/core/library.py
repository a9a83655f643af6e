"""The gallery's store: a SQLite index (user data dir) over content-addressed blob files (user cache dir).

* Index: ``paths.index_path()``, WAL mode, schema version in ``PRAGMA user_version`` with stepwise
  migrations (:data:`MIGRATIONS`). It holds the user's work (history, tags, notes, favourites)
  and survives a cache purge. Full-text search over URL, title and note uses SQLite FTS5.
* Blobs: ``paths.captures_dir()/ab/<sha256>.<ext>``; thumbnails ``paths.thumbnails_dir()/ab/<sha256>.webp``
  (named after the blob's sha256). Identical bytes are stored once, whichever rows point at them.
* A capture row is committed only after its blob and thumbnail are complete on disk (atomic writes:
  temp file in the same folder, fsync, ``os.replace``). A failure between the file writes and the
  commit rolls the row back and removes the files this call wrote, unless another row uses them.
* Rows are never lost to the cache: when a blob vanishes (the OS or the user purged the cache,
  LRU eviction) its row turns ``missing`` and can be re-captured from its stored spec.
* Sync and thread-safe: writes go through one connection under a lock; reads use a read-only
  connection of the calling thread (WAL readers neither wait for each other nor for the writer),
  so the window's page of rows never queues behind an integrity check in a worker. Async callers
  use ``asyncio.to_thread``; Pillow work (thumbnails, hashes, diffs) runs outside the lock.

No Qt here. API keys are never stored: a CaptureSpec has none and provider metadata arrives redacted.
"""

from __future__ import annotations

import builtins
import contextlib
import io
import json
import logging
import os
import re
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PIL import Image

from shotdesk import paths
from shotdesk.capture.base import CaptureResult
from shotdesk.core import compare as _cmp
from shotdesk.core.blobs import BlobStore, StoredBlob, sha256_hex, storage_error
from shotdesk.core.errors import ShotDeskError, StorageError
from shotdesk.core.spec import EXTENSIONS, MEDIA_TYPES, CaptureSpec
from shotdesk.core.thumbnails import THUMB_EXT, make_thumbnail, placeholder_thumbnail, thumbnail_of
from shotdesk.core.urls import domain_of

log = logging.getLogger(__name__)

STATUSES = ("ready", "failed", "missing", "pending")
#: Flags a capture may carry: one colour or nearly / a bot-check page / retried once after one.
FLAGS = ("blank", "challenge", "retried")
_MEDIA_TO_FORMAT = {v: k for k, v in MEDIA_TYPES.items()}
_EXT_TO_FORMAT = {v: k for k, v in EXTENSIONS.items()}
_TAG_SEP = "\x1f"
#: Search terms: "a quoted phrase" or a bare word.
_TERM_RE = re.compile(r'"([^"]*)"?|(\S+)')
#: Above this many pixels (both images together) a new version is not diffed against the previous.
_DIFF_PIXEL_LIMIT = 60_000_000
#: Orphan and temporary files younger than this may belong to a capture being saved right now
#: (another ShotDesk process): the integrity check leaves them alone.
ORPHAN_GRACE_S = 600.0


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
    #: Last time the capture was used (opened, exported, answered from the cache): LRU eviction.
    last_access: datetime | None = None
    #: "blank", "challenge", "retried" (see :data:`FLAGS`).
    flags: tuple[str, ...] = ()
    #: Same picture as the previous version of this URL + options (identical or no changed pixel).
    unchanged: bool = False
    #: Changed pixels against the previous version in %, None for the first version or when unknown.
    changed_pct: float | None = None
    #: 64-bit perceptual hash (pHash) as 16 hex digits, for near-duplicate grouping.
    image_hash: str | None = None

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES.get(self.format, "application/octet-stream")

    @property
    def extension(self) -> str:
        return EXTENSIONS.get(self.format, self.format)

    @property
    def is_raster(self) -> bool:
        return self.format in ("png", "jpeg", "webp")

    def capture_spec(self) -> CaptureSpec:
        """The spec to re-capture this row with (same URL and options)."""
        return CaptureSpec.from_dict(self.spec)


@dataclass(frozen=True)
class IntegrityReport:
    rows_checked: int = 0
    #: Rows whose blob file is gone (status → missing).
    marked_missing: int = 0
    #: Missing rows whose file is back (status → ready).
    restored: int = 0
    thumbnails_rebuilt: int = 0
    orphans_removed: int = 0
    orphans_adopted: int = 0
    temp_files_removed: int = 0
    deleted_rows_purged: int = 0

    @property
    def repaired(self) -> bool:
        return any((self.marked_missing, self.restored, self.thumbnails_rebuilt, self.orphans_removed,
                    self.orphans_adopted, self.temp_files_removed))


@dataclass(frozen=True)
class EvictionReport:
    #: Rows whose file was evicted (status → missing; the rows stay).
    rows_missing: int = 0
    files_removed: int = 0
    bytes_freed: int = 0
    usage_before: int = 0
    usage_after: int = 0
    #: Ids of the evicted captures, least recently used first.
    evicted_ids: tuple[int, ...] = field(default_factory=tuple)


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


def fts_tokenizer() -> str:
    """``trigram`` (substring search, SQLite ≥ 3.34) when this SQLite has it, else ``unicode61``."""
    probe = sqlite3.connect(":memory:")
    try:
        probe.execute("CREATE VIRTUAL TABLE t USING fts5(a, tokenize='trigram')")
        return "trigram"
    except sqlite3.OperationalError as exc:
        if "fts5" in str(exc).lower() and "tokenizer" not in str(exc).lower():
            raise StorageError("This Python's SQLite has no FTS5 full-text search",
                               hint="install a Python built with a current SQLite") from None
        return "unicode61"
    finally:
        probe.close()


def _migrate_v2(db: sqlite3.Connection) -> None:
    """Issue 5: last access (LRU), image hash, flags, change against the previous version, FTS5."""
    tokenizer = fts_tokenizer()
    _run_script(db, f"""
        ALTER TABLE captures ADD COLUMN last_access REAL;
        UPDATE captures SET last_access = captured_at;
        ALTER TABLE captures ADD COLUMN image_hash TEXT;
        ALTER TABLE captures ADD COLUMN flags TEXT NOT NULL DEFAULT '';
        ALTER TABLE captures ADD COLUMN unchanged INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE captures ADD COLUMN changed_pct REAL;
        ALTER TABLE captures ADD COLUMN thumb_bytes INTEGER NOT NULL DEFAULT 0;
        CREATE INDEX captures_access ON captures(last_access);
        CREATE INDEX captures_domain ON captures(domain, captured_at);
        CREATE INDEX captures_format ON captures(format, captured_at);
        CREATE INDEX captures_viewport ON captures(viewport_w, viewport_h);
        CREATE VIRTUAL TABLE captures_fts USING fts5(
            url, title, note, content='captures', content_rowid='id', tokenize='{tokenizer}'
        );
        CREATE TRIGGER captures_fts_insert AFTER INSERT ON captures BEGIN
            INSERT INTO captures_fts(rowid, url, title, note) VALUES (new.id, new.url, new.title, new.note);
        END;
        CREATE TRIGGER captures_fts_delete AFTER DELETE ON captures BEGIN
            INSERT INTO captures_fts(captures_fts, rowid, url, title, note)
                VALUES ('delete', old.id, old.url, old.title, old.note);
        END;
        CREATE TRIGGER captures_fts_update AFTER UPDATE OF url, title, note ON captures BEGIN
            INSERT INTO captures_fts(captures_fts, rowid, url, title, note)
                VALUES ('delete', old.id, old.url, old.title, old.note);
            INSERT INTO captures_fts(rowid, url, title, note) VALUES (new.id, new.url, new.title, new.note);
        END;
        INSERT INTO captures_fts(captures_fts) VALUES ('rebuild');
    """)


#: Stepwise migrations: MIGRATIONS[n] takes the schema from version n to n + 1.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_migrate_v1, _migrate_v2]
SCHEMA_VERSION = len(MIGRATIONS)

_COLUMNS = (
    "c.id, c.key, c.url, c.final_url, c.domain, c.provider, c.format, c.width, c.height, "
    "c.viewport_w, c.viewport_h, c.device, c.bytes, c.sha256, c.blob, c.thumb, c.status, c.error, "
    "c.captured_at, c.version, c.title, c.spec, c.metadata, c.elapsed_ms, c.note, c.favourite, "
    "c.deleted_at, c.last_access, c.image_hash, c.flags, c.unchanged, c.changed_pct, "
    "(SELECT group_concat(t.tag, char(31)) FROM tags t WHERE t.capture_id = c.id) AS tags"
)


@dataclass
class _Analysis:
    thumb: bytes
    image_hash: str | None = None
    flags: tuple[str, ...] = ()
    image: Image.Image | None = None


class Library:
    """The gallery: SQLite index + content-addressed files. See the module docstring."""

    def __init__(self, index_path: Path | None = None, cache_dir: Path | None = None, *,
                 clock: Callable[[], float] | None = None, cache_limit_bytes: int | None = None) -> None:
        """Open (creating and migrating) the index; ``cache_dir`` holds ``captures/`` and ``thumbnails/``.

        ``clock`` returns the current Unix time (UTC seconds); tests inject one for TTL checks.
        ``cache_limit_bytes``: after each add, least recently used files beyond this are evicted
        (never favourites or tagged captures; see :meth:`evict`). None: no limit.

        A damaged index file is moved aside (``gallery.sqlite3.corrupt-<timestamp>``), a new
        index is created, whatever rows can still be read are copied over and the remaining
        capture files adopted; :attr:`recovery` then holds a :class:`StorageError` that says so
        (the window shows it). Only an index that cannot be created at all raises.
        """
        self.index_path = Path(index_path) if index_path is not None else paths.index_path()
        if cache_dir is not None:
            captures, thumbs = Path(cache_dir) / "captures", Path(cache_dir) / "thumbnails"
        else:
            captures, thumbs = paths.captures_dir(), paths.thumbnails_dir()
        self.blobs = BlobStore(captures, what="the capture")
        self.thumbs = BlobStore(thumbs, what="the thumbnail")
        self.cache_limit_bytes = cache_limit_bytes
        self._clock = clock or time.time
        self._lock = threading.RLock()
        #: sha256 → number of add() calls in flight that use it (their files must not be cleaned up).
        self._pending: Counter[str] = Counter()
        #: Set when a damaged index was moved aside at open (message for the user).
        self.recovery: StorageError | None = None
        self._db: sqlite3.Connection | None = None
        #: Per-thread read-only connections (see :meth:`_query`); all of them, to close them.
        self._local = threading.local()
        self._readers: builtins.list[_Reader] = []
        self._readers_lock = threading.Lock()
        self._closed = False
        self._fts = "trigram"
        try:
            self._db = self._open()
        except _CorruptIndex as exc:
            moved = self._move_aside()
            self._db = self._open()
            salvaged = self._salvage(moved)
            report = self.integrity_check(adopt_orphans=True, grace_s=0.0)
            self.recovery = StorageError(
                f"The gallery index was damaged ({exc.reason}) and was moved aside to {moved.name}; "
                f"a new index was created with {salvaged} rows recovered and "
                f"{report.orphans_adopted} captures re-adopted from the cache folder",
                hint=f"nothing was deleted: the damaged file is kept in {moved.parent}",
            )
            log.error("%s", self.recovery)

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
            try:
                mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                check = db.execute("PRAGMA quick_check(1)").fetchone()[0]
            except sqlite3.DatabaseError as exc:
                if _is_corruption(exc):
                    raise _CorruptIndex(str(exc)) from None
                raise _sqlite_error(exc, self.index_path) from None
            if str(check).lower() != "ok":
                raise _CorruptIndex(str(check))
            if str(mode).lower() != "wal":
                log.warning("gallery index is in %s mode, not WAL", mode)
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA foreign_keys=ON")
            self._migrate(db)
            row = db.execute("SELECT sql FROM sqlite_master WHERE name = 'captures_fts'").fetchone()
            self._fts = "trigram" if row is None or "trigram" in str(row[0]) else "unicode61"
        except BaseException:
            db.close()
            raise
        return db

    def _move_aside(self) -> Path:
        """Rename the damaged index (and its WAL/SHM files) to ``<name>.corrupt-<timestamp>``."""
        stamp = datetime.fromtimestamp(self._clock(), tz=UTC).strftime("%Y%m%d-%H%M%S")
        target = self.index_path.with_name(f"{self.index_path.name}.corrupt-{stamp}")
        n = 1
        while target.exists():
            n += 1
            target = self.index_path.with_name(f"{self.index_path.name}.corrupt-{stamp}-{n}")
        try:
            os.replace(self.index_path, target)
            for suffix in ("-wal", "-shm"):
                side = Path(f"{self.index_path}{suffix}")
                if side.exists():
                    os.replace(side, Path(f"{target}{suffix}"))
        except OSError as exc:
            raise StorageError(
                f"The gallery index {self.index_path} is damaged and could not be moved aside: "
                f"{exc.strerror or exc}",
                hint=f"move or delete {self.index_path} by hand; your capture files are not affected",
            ) from None
        return target

    def _salvage(self, damaged: Path) -> int:
        """Copy the rows still readable from a damaged index (best effort; stops at the damage)."""
        try:
            src = sqlite3.connect(f"file:{damaged}?mode=ro", uri=True)
        except sqlite3.Error:
            return 0
        names = ("id", "key", "url", "final_url", "domain", "provider", "format", "width", "height",
                 "viewport_w", "viewport_h", "device", "bytes", "sha256", "blob", "thumb", "status",
                 "error", "captured_at", "version", "title", "spec", "metadata", "elapsed_ms", "note",
                 "favourite", "deleted_at")
        rows: builtins.list[dict[str, Any]] = []
        tags: builtins.list[tuple[int, str]] = []
        try:
            src.row_factory = sqlite3.Row
            cursor = src.execute(f"SELECT {', '.join(names)} FROM captures ORDER BY id")
            while True:
                try:
                    row = cursor.fetchone()
                except sqlite3.DatabaseError:
                    break  # the damage starts here
                if row is None:
                    break
                values = {n: row[n] for n in names}
                values["last_access"] = values["captured_at"]
                rows.append(values)
            with contextlib.suppress(sqlite3.DatabaseError):
                tags = [(int(r[0]), str(r[1])) for r in src.execute("SELECT capture_id, tag FROM tags")]
        except sqlite3.DatabaseError as exc:
            log.warning("salvaging %s stopped: %s", damaged, exc)
        finally:
            src.close()
        if not rows:
            return 0
        cols = list(rows[0])
        with self._tx() as db:
            db.executemany(f"INSERT OR IGNORE INTO captures ({', '.join(cols)}) "
                           f"VALUES ({', '.join(':' + k for k in cols)})", rows)
            db.executemany("INSERT OR IGNORE INTO tags (capture_id, tag) "
                           "SELECT id, ? FROM captures WHERE id = ?", [(t, i) for i, t in tags])
        return len(rows)

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
                    if _is_corruption(exc):
                        raise _CorruptIndex(str(exc)) from None
                    raise _sqlite_error(exc, self.index_path) from None
                raise
            log.info("gallery index migrated to schema %d", version + 1)

    @property
    def schema_version(self) -> int:
        with self._lock:
            return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

    def close(self) -> None:
        """Close the index; a read under way on another thread finishes first, later ones fail
        with "The gallery is closed"."""
        with self._lock, self._readers_lock:
            self._closed = True
            for reader in self._readers:
                with reader.lock:  # waits for the statement it is running
                    reader.conn.close()
            self._readers.clear()
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
            raise _closed_error()
        return self._db

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction under the lock; rolled back on any error."""
        with self._lock:
            db = self._conn
            depth = getattr(self._local, "tx_depth", 0)
            self._local.tx_depth = depth + 1
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
            finally:
                self._local.tx_depth = depth

    def _query(self, sql: str, params: Sequence[Any] = ()) -> builtins.list[sqlite3.Row]:
        """Rows of a read, on this thread's read connection: no wait for the lock or the writer.

        Inside a write transaction the read goes through the writing connection, so it sees
        what the transaction wrote.
        """
        try:
            if getattr(self._local, "tx_depth", 0):
                with self._lock:
                    return self._conn.execute(sql, params).fetchall()
            reader = self._reader()
            with reader.lock:
                if self._closed:  # close() got the lock first
                    raise _closed_error()
                return reader.conn.execute(sql, params).fetchall()
        except sqlite3.DatabaseError as exc:
            if _is_known(exc):
                raise _sqlite_error(exc, self.index_path) from None
            raise

    def _reader(self) -> _Reader:
        """This thread's read-only connection, opened on first use."""
        reader: _Reader | None = getattr(self._local, "reader", None)
        if reader is not None and not self._closed:
            return reader
        with self._readers_lock:  # not the write lock: a thread's first read must not wait for a write
            if self._closed:
                raise _closed_error()
            try:
                conn = sqlite3.connect(str(self.index_path), check_same_thread=False,
                                       isolation_level=None, timeout=10.0)
                conn.execute("PRAGMA query_only = ON")
            except sqlite3.Error as exc:
                raise StorageError(f"Cannot read the gallery index {self.index_path}: {exc}",
                                   hint="check that the file is readable") from None
            conn.row_factory = sqlite3.Row
            reader = _Reader(conn)
            self._readers.append(reader)
        self._local.reader = reader
        return reader

    # ------------------------------------------------------------------------------------ writes
    def add(self, spec: CaptureSpec, result: CaptureResult, *, elapsed_ms: int,
            flags: Sequence[str] | None = None) -> Capture:
        """Store one successful capture: blob and thumbnail written atomically first, row committed last.

        ``flags``: what the pipeline found ("blank", "challenge", "retried"); None → the library
        checks blank / challenge itself. The new row is compared with the previous version of the
        same URL + options (``unchanged`` / ``changed_pct``).

        Raises :class:`StorageError` (disk full, unwritable folder, index failure); then nothing of
        this capture is left behind.
        """
        fmt = _MEDIA_TO_FORMAT.get(result.media_type.split(";")[0].strip().lower(), spec.format)
        ext = EXTENSIONS[fmt]
        data = result.data
        sha = sha256_hex(data)
        key = spec.cache_key()
        with self._lock:
            self._pending[sha] += 1
        written: list[tuple[BlobStore, StoredBlob]] = []
        ok = False
        try:
            analysis = self._analyse(data, fmt, result.title, flags)
            unchanged, changed_pct = self._against_previous(key, sha, analysis.image)
            analysis.image = None
            blob = self.blobs.put(data, ext, sha=sha)
            written.append((self.blobs, blob))
            thumb = self.thumbs.put(analysis.thumb, THUMB_EXT, sha=sha)
            written.append((self.thumbs, thumb))
            now = self._clock()
            row = {
                "key": key, "url": spec.url, "final_url": result.final_url,
                "domain": domain_of(spec.url), "provider": result.provider or spec.provider,
                "format": fmt, "width": int(result.width), "height": int(result.height),
                "viewport_w": spec.width, "viewport_h": spec.height, "device": spec.device,
                "bytes": len(data), "sha256": sha, "blob": blob.name, "thumb": thumb.name,
                "thumb_bytes": thumb.size, "status": "ready", "error": None, "captured_at": now,
                "last_access": now, "title": result.title,
                "spec": json.dumps(spec.to_dict(), sort_keys=True),
                "metadata": json.dumps({str(k): str(v) for k, v in result.metadata.items()}, sort_keys=True),
                "elapsed_ms": int(elapsed_ms), "image_hash": analysis.image_hash,
                "flags": ",".join(analysis.flags), "unchanged": int(unchanged), "changed_pct": changed_pct,
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
        try:  # the same bytes captured again bring purged rows back (best effort: the capture is saved)
            with self._tx() as db:
                db.execute("UPDATE captures SET status = 'ready' WHERE sha256 = ? AND status = 'missing'",
                           (sha,))
        except StorageError as exc:
            log.warning("could not mark earlier rows ready again: %s", exc)
        if self.cache_limit_bytes is not None:
            try:
                self.evict(self.cache_limit_bytes, keep=(capture_id,))
            except StorageError as exc:
                log.warning("cache eviction failed: %s", exc)
        capture = self.get(capture_id)
        assert capture is not None
        return capture

    def add_failed(self, spec: CaptureSpec, error: str) -> Capture:
        """Record a failed capture (status ``failed``, ``error`` shown on the tile; no files)."""
        now = self._clock()
        row = {
            "key": spec.cache_key(), "url": spec.url, "final_url": None, "domain": domain_of(spec.url),
            "provider": spec.provider, "format": spec.format, "width": 0, "height": 0,
            "viewport_w": spec.width, "viewport_h": spec.height, "device": spec.device, "bytes": 0,
            "sha256": None, "blob": None, "thumb": None, "status": "failed", "error": str(error),
            "captured_at": now, "last_access": now, "title": None,
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

    def _analyse(self, data: bytes, fmt: str, title: str | None,
                 flags: Sequence[str] | None) -> _Analysis:
        """Decode once: thumbnail, perceptual hash, blank check (Pillow, outside the lock)."""
        found = [f for f in (flags or ()) if f in FLAGS]
        if fmt == "pdf":
            if flags is None and _cmp.challenge_marker(title):
                found.append("challenge")
            return _Analysis(placeholder_thumbnail("PDF"), flags=tuple(found))
        try:
            with Image.open(io.BytesIO(data)) as src:
                src.load()
                img = src.copy() if src.mode in ("RGB", "RGBA", "L") else src.convert("RGB")
            thumb = thumbnail_of(img)
            image_hash = _cmp.hash_hex(_cmp.image_hash(img))
            if flags is None:
                if _cmp.is_blank(img):
                    found.append("blank")
                if _cmp.challenge_marker(title):
                    found.append("challenge")
            return _Analysis(thumb, image_hash, tuple(dict.fromkeys(found)), img)
        except (OSError, ValueError, Image.DecompressionBombError) as exc:
            log.warning("could not read the captured image (%s); using a placeholder thumbnail", exc)
            return _Analysis(placeholder_thumbnail(fmt.upper()), flags=tuple(found))

    def _against_previous(self, key: str, sha: str, img: Image.Image | None) -> tuple[bool, float | None]:
        """(unchanged, changed %) of a new capture against the newest earlier version of ``key``."""
        rows = self._query("SELECT sha256, blob, width, height FROM captures WHERE key = ? "
                           "AND status = 'ready' AND deleted_at IS NULL "
                           "ORDER BY version DESC, id DESC LIMIT 1",
                           (key,))
        if not rows:
            return False, None
        prev = rows[0]
        if prev["sha256"] == sha:
            return True, 0.0
        if img is None or not prev["blob"]:
            return False, None
        if img.width * img.height + int(prev["width"]) * int(prev["height"]) > _DIFF_PIXEL_LIMIT:
            return False, None
        try:
            result = _cmp.diff_images(self.blobs.resolve(prev["blob"]), img, heatmap=False)
        except (OSError, ValueError, Image.DecompressionBombError):
            return False, None
        return result.identical, round(result.changed_pct, 4)

    def _discard_unreferenced(self, sha: str, files: Sequence[tuple[BlobStore, StoredBlob]]) -> None:
        """Remove files of a failed add when no row and no add in flight uses the same bytes."""
        self._remove_unused(sha, [(store, blob.name) for store, blob in files])

    def _remove_unused(self, sha: str, files: Sequence[tuple[BlobStore, str]]) -> int:
        """Remove ``files`` (named after ``sha``) unless a row or an add in flight uses the same
        bytes; returns how many were removed.

        Check and removal happen under the lock: an :meth:`add` of identical bytes either
        registered itself before (the files stay) or starts after the files are gone (and writes
        them again) — never in between, where it would find the file, skip the write and commit a
        row whose file is then removed.
        """
        if not files:
            return 0
        with self._lock:
            if self._pending.get(sha):
                return 0
            try:
                used = self._query("SELECT 1 FROM captures WHERE sha256 = ? LIMIT 1", (sha,))
            except (StorageError, sqlite3.Error):
                return 0  # cannot tell: keep the files; the integrity check adopts or removes them
            if used:
                return 0
            removed = 0
            for store, name in files:
                with contextlib.suppress(OSError):
                    removed += store.remove(name)
            return removed

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
        for sha, (blob_name, thumb_name) in shas.items():
            self._remove_unused(sha, [(store, name) for store, name in
                                      ((self.blobs, blob_name), (self.thumbs, thumb_name)) if name])
        return len(rows)

    # ------------------------------------------------------------------------- organise (issue 5)
    def set_tags(self, capture_id: int, tags: Iterable[str]) -> Capture | None:
        """Replace the tags of one capture (trimmed, lower-case, duplicates dropped)."""
        clean = sorted({normalise_tag(t) for t in tags} - {""})
        with self._tx() as db:
            db.execute("DELETE FROM tags WHERE capture_id = ?", (capture_id,))
            db.executemany("INSERT INTO tags (capture_id, tag) VALUES (?, ?)",
                           [(capture_id, t) for t in clean])
        return self.get(capture_id)

    def add_tags(self, capture_ids: Iterable[int], tags: Iterable[str]) -> None:
        clean = sorted({normalise_tag(t) for t in tags} - {""})
        with self._tx() as db:
            db.executemany("INSERT OR IGNORE INTO tags (capture_id, tag) "
                           "SELECT id, ? FROM captures WHERE id = ?",
                           [(t, i) for i in capture_ids for t in clean])

    def remove_tags(self, capture_ids: Iterable[int], tags: Iterable[str]) -> None:
        clean = sorted({normalise_tag(t) for t in tags})
        with self._tx() as db:
            db.executemany("DELETE FROM tags WHERE capture_id = ? AND tag = ?",
                           [(i, t) for i in capture_ids for t in clean])

    def tags(self) -> builtins.list[tuple[str, int]]:
        """Every tag in use with its number of (not deleted) captures, most used first."""
        rows = self._query("SELECT t.tag, count(*) AS n FROM tags t JOIN captures c ON c.id = t.capture_id "
                           "WHERE c.deleted_at IS NULL GROUP BY t.tag ORDER BY n DESC, t.tag")
        return [(r["tag"], int(r["n"])) for r in rows]

    def set_note(self, capture_id: int, note: str) -> Capture | None:
        with self._tx() as db:
            db.execute("UPDATE captures SET note = ? WHERE id = ?", (str(note).strip(), capture_id))
        return self.get(capture_id)

    def set_favourite(self, capture_id: int, favourite: bool = True) -> Capture | None:
        with self._tx() as db:
            db.execute("UPDATE captures SET favourite = ? WHERE id = ?", (int(bool(favourite)), capture_id))
        return self.get(capture_id)

    def set_flags(self, capture_id: int, flags: Iterable[str]) -> Capture | None:
        clean = [f for f in dict.fromkeys(flags) if f in FLAGS]
        with self._tx() as db:
            db.execute("UPDATE captures SET flags = ? WHERE id = ?", (",".join(clean), capture_id))
        return self.get(capture_id)

    def touch(self, capture_ids: int | Iterable[int]) -> None:
        """Record that captures were used (opened, previewed, exported): least-recently-used order."""
        ids = [capture_ids] if isinstance(capture_ids, int) else list(capture_ids)
        if not ids:
            return
        now = self._clock()
        with self._tx() as db:
            db.executemany("UPDATE captures SET last_access = ? WHERE id = ?", [(now, i) for i in ids])

    # ------------------------------------------------------------------------------------- reads
    def get(self, capture_id: int, *, include_deleted: bool = False) -> Capture | None:
        sql = f"SELECT {_COLUMNS} FROM captures c WHERE c.id = ?"
        if not include_deleted:
            sql += " AND c.deleted_at IS NULL"
        rows = self._query(sql, (capture_id,))
        return self._capture(rows[0]) if rows else None

    def get_many(self, capture_ids: Iterable[int]) -> builtins.list[Capture]:
        """Captures by id, in the order given (unknown or deleted ids are skipped)."""
        ids = list(dict.fromkeys(capture_ids))
        found: dict[int, Capture] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            rows = self._query(f"SELECT {_COLUMNS} FROM captures c WHERE c.deleted_at IS NULL AND c.id IN "
                               f"({', '.join('?' * len(chunk))})", chunk)
            found.update((int(r["id"]), self._capture(r)) for r in rows)
        return [found[i] for i in ids if i in found]

    def find_fresh(self, key: str, ttl_s: float) -> Capture | None:
        """The newest ready capture of ``key`` younger than ``ttl_s`` whose file still exists.

        A row whose blob vanished turns ``missing`` and is not an answer. A hit counts as a use
        (least-recently-used eviction).
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
                self.touch(capture.id)
                return capture
            self._mark_missing([capture.id])
        return None

    def _mark_missing(self, ids: Sequence[int]) -> None:
        if not ids:
            return
        with self._tx() as db:
            db.executemany("UPDATE captures SET status = 'missing' WHERE id = ? AND status = 'ready'",
                           [(i,) for i in ids])

    def check_files(self, capture_ids: Iterable[int]) -> builtins.list[Capture]:
        """Re-check that the files of these captures exist (e.g. the tiles on screen): ready rows
        whose blob is gone turn ``missing``, missing rows whose blob is back turn ``ready``."""
        caps = self.get_many(capture_ids)
        gone = [c.id for c in caps if c.status == "ready" and not (c.blob_path and c.blob_path.is_file())]
        back = [c.id for c in caps if c.status == "missing" and c.blob_path and c.blob_path.is_file()]
        self._mark_missing(gone)
        if back:
            with self._tx() as db:
                db.executemany("UPDATE captures SET status = 'ready' WHERE id = ?", [(i,) for i in back])
        return self.get_many(c.id for c in caps) if gone or back else caps

    def versions(self, key: str) -> builtins.list[Capture]:
        """The timeline of one URL + options: every capture of the series, newest version first."""
        rows = self._query(f"SELECT {_COLUMNS} FROM captures c WHERE c.key = ? AND c.deleted_at IS NULL "
                           "ORDER BY c.version DESC, c.id DESC", (key,))
        return [self._capture(r) for r in rows]

    def previous_version(self, capture: Capture) -> Capture | None:
        """The ready capture just before ``capture`` in its series."""
        rows = self._query(f"SELECT {_COLUMNS} FROM captures c WHERE c.key = ? AND c.deleted_at IS NULL "
                           "AND c.status IN ('ready', 'missing') AND c.version < ? "
                           "ORDER BY c.version DESC, c.id DESC LIMIT 1", (capture.key, capture.version))
        return self._capture(rows[0]) if rows else None

    def list(self, *, query: str = "", provider: str | None = None, format: str | None = None,
             limit: int = 100, offset: int = 0, newest_first: bool = True, after: Capture | None = None,
             **filters: Any) -> builtins.list[Capture]:
        """Captures matching the filters, newest first by default.

        Paging: ``after`` (keyset) starts behind that row in this order, as cheap deep in the
        list as at its top and unaffected by rows added or removed meanwhile; ``offset`` skips
        rows (SQLite still reads them).

        ``query``: full-text search (FTS5) over URL, title and note; every word must occur
        (substring match for words of 3+ characters with the trigram tokenizer).
        Further keyword filters: ``status`` (str or several), ``key``, ``domain`` (also matches
        sub-domains), ``tag``, ``favourite``, ``flag``, ``unchanged``, ``since`` / ``until``
        (datetime or Unix time), ``viewport`` ((w, h) or "1280x720"), ``device``, ``ids``,
        ``include_deleted``.
        """
        where, params = self._where(query=query, provider=provider, format=format, **filters)
        order = "DESC" if newest_first else "ASC"
        if after is not None:
            # The row's stored time, exact (a datetime round trip may move it by a microsecond);
            # the Capture's own time if the row has been purged meanwhile.
            where += (f" AND (c.captured_at, c.id) {'<' if newest_first else '>'} "
                      "(coalesce((SELECT captured_at FROM captures WHERE id = ?), ?), ?)")
            params += [after.id, after.captured_at.timestamp(), after.id]
        sql = (f"SELECT {_COLUMNS} FROM captures c WHERE {where} "
               f"ORDER BY c.captured_at {order}, c.id {order} LIMIT ? OFFSET ?")
        rows = self._query(sql, [*params, max(0, int(limit)), max(0, int(offset))])
        return [self._capture(r) for r in rows]

    def count(self, *, query: str = "", provider: str | None = None, format: str | None = None,
              **filters: Any) -> int:
        where, params = self._where(query=query, provider=provider, format=format, **filters)
        return int(self._query(f"SELECT count(*) FROM captures c WHERE {where}", params)[0][0])

    def ids(self, *, query: str = "", **filters: Any) -> builtins.list[int]:
        """Ids of every capture matching the filters, newest first (for "select all" / export)."""
        where, params = self._where(query=query, **filters)
        rows = self._query(f"SELECT c.id FROM captures c WHERE {where} "
                           "ORDER BY c.captured_at DESC, c.id DESC", params)
        return [int(r[0]) for r in rows]

    def domains(self) -> builtins.list[tuple[str, int]]:
        rows = self._query("SELECT domain, count(*) AS n FROM captures WHERE deleted_at IS NULL "
                           "GROUP BY domain ORDER BY n DESC, domain")
        return [(r["domain"], int(r["n"])) for r in rows]

    def viewports(self) -> builtins.list[tuple[tuple[int, int], int]]:
        """The viewports (CSS px) the gallery's captures were taken at, most used first."""
        rows = self._query("SELECT viewport_w, viewport_h, count(*) AS n FROM captures "
                           "WHERE deleted_at IS NULL AND viewport_w > 0 AND viewport_h > 0 "
                           "GROUP BY viewport_w, viewport_h ORDER BY n DESC, viewport_w, viewport_h")
        return [((int(r["viewport_w"]), int(r["viewport_h"])), int(r["n"])) for r in rows]

    def _where(self, *, query: str = "", provider: str | None = None, format: str | None = None,
               status: str | Sequence[str] | None = None, key: str | None = None,
               domain: str | None = None, tag: str | None = None, favourite: bool | None = None,
               flag: str | None = None, unchanged: bool | None = None,
               since: datetime | float | None = None, until: datetime | float | None = None,
               viewport: tuple[int, int] | str | None = None, device: str | None = None,
               ids: Iterable[int] | None = None,
               include_deleted: bool = False) -> tuple[str, builtins.list[Any]]:
        clauses: builtins.list[str] = []
        params: builtins.list[Any] = []
        if not include_deleted:
            clauses.append("c.deleted_at IS NULL")
        text = (query or "").strip()
        if text:
            clause, more = self._search_clause(text)
            clauses.append(clause)
            params += more
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
            params += [d, "%." + _like_escape(d)]
        if tag:
            clauses.append("EXISTS (SELECT 1 FROM tags t WHERE t.capture_id = c.id AND t.tag = ?)")
            params.append(normalise_tag(tag))
        if favourite is not None:
            clauses.append("c.favourite = ?")
            params.append(1 if favourite else 0)
        if flag:
            clauses.append("(',' || c.flags || ',') LIKE ?")
            params.append(f"%,{flag},%")
        if unchanged is not None:
            clauses.append("c.unchanged = ?")
            params.append(1 if unchanged else 0)
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
        if ids is not None:
            id_list = [int(i) for i in ids]
            clauses.append(f"c.id IN ({', '.join('?' * len(id_list)) or 'NULL'})")
            params += id_list
        return (" AND ".join(clauses) or "1"), params

    def _search_clause(self, text: str) -> tuple[str, builtins.list[Any]]:
        """FTS5 MATCH for the words FTS can index, LIKE for words too short for trigrams."""
        words = [(quoted or bare).strip() for quoted, bare in _TERM_RE.findall(text)]
        words = [w for w in words if w]
        if not words:
            return "1", []
        min_len = 3 if self._fts == "trigram" else 1
        fts_words = [w for w in words if len(w) >= min_len]
        short = [w for w in words if len(w) < min_len]
        clauses: builtins.list[str] = []
        params: builtins.list[Any] = []
        if fts_words:
            suffix = "" if self._fts == "trigram" else "*"
            match = " ".join('"' + w.replace('"', '""') + '"' + suffix for w in fts_words)
            clauses.append("c.id IN (SELECT rowid FROM captures_fts WHERE captures_fts MATCH ?)")
            params.append(match)
        for w in short:
            like = "%" + _like_escape(w) + "%"
            clauses.append("(c.url LIKE ? ESCAPE '\\' OR c.title LIKE ? ESCAPE '\\' "
                           "OR c.note LIKE ? ESCAPE '\\')")
            params += [like, like, like]
        return " AND ".join(clauses), params

    def _capture(self, row: sqlite3.Row) -> Capture:
        tags = tuple(sorted(row["tags"].split(_TAG_SEP))) if row["tags"] else ()
        last = row["last_access"]
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
            last_access=datetime.fromtimestamp(float(last), tz=UTC) if last is not None else None,
            flags=tuple(f for f in (row["flags"] or "").split(",") if f),
            unchanged=bool(row["unchanged"]),
            changed_pct=float(row["changed_pct"]) if row["changed_pct"] is not None else None,
            image_hash=row["image_hash"],
        )

    # ------------------------------------------------------------------------------ compare / refresh
    def compare(self, id_a: int, id_b: int, *, threshold: int = _cmp.DEFAULT_THRESHOLD,
                heatmap: bool = True) -> _cmp.DiffResult:
        """Pixel diff of two captures (typically two versions): heat map + % changed."""
        caps = [self.get(id_a, include_deleted=True), self.get(id_b, include_deleted=True)]
        paths_: builtins.list[Path] = []
        for cid, cap in zip((id_a, id_b), caps, strict=True):
            if cap is None:
                raise ShotDeskError(f"Capture #{cid} is not in the gallery")
            if not cap.is_raster:
                raise ShotDeskError(f"Capture #{cid} is a {cap.format.upper()}; only images can be compared",
                                    hint="capture the page as PNG to compare versions")
            if cap.blob_path is None or not cap.blob_path.is_file():
                self._mark_missing([cap.id])
                raise StorageError(f"The file of capture #{cid} is missing from the cache",
                                   hint="re-capture it, then compare again")
            paths_.append(cap.blob_path)
        self.touch([id_a, id_b])
        return _cmp.diff_images(paths_[0], paths_[1], threshold=threshold, heatmap=heatmap)

    def near_duplicates(self, *, max_distance: int = _cmp.NEAR_DUPLICATE_DISTANCE,
                        **filters: Any) -> builtins.list[builtins.list[Capture]]:
        """Groups of ready captures whose pictures look alike (pHash within ``max_distance`` bits).

        Hashes missing from older rows are computed (from the thumbnail-sized decode) and stored.
        """
        where, params = self._where(**{"status": "ready", **filters})
        rows = self._query(f"SELECT c.id, c.image_hash, c.blob, c.format FROM captures c WHERE {where}",
                           params)
        hashes: builtins.list[tuple[int, int]] = []
        computed: builtins.list[tuple[str, int]] = []
        for r in rows:
            if r["format"] not in ("png", "jpeg", "webp"):
                continue
            value = r["image_hash"]
            if value is None:
                try:
                    h = _cmp.image_hash(self.blobs.resolve(r["blob"]))
                except (OSError, ValueError, Image.DecompressionBombError):
                    continue
                value = _cmp.hash_hex(h)
                computed.append((value, int(r["id"])))
            hashes.append((int(r["id"]), int(value, 16)))
        if computed:
            with self._tx() as db:
                db.executemany("UPDATE captures SET image_hash = ? WHERE id = ?", computed)
        groups = _cmp.group_near_duplicates(hashes, max_distance=max_distance)
        return [self.get_many(g) for g in groups]

    def refresh_candidates(self, older_than_s: float, *, ids: Iterable[int] | None = None,
                           **filters: Any) -> builtins.list[Capture]:
        """One capture per URL + options (its newest version) whose newest capture is older than
        ``older_than_s`` seconds: what ``shotdesk refresh --older-than`` re-captures.

        Series whose newest row is ready, missing or failed all count (not captures re-adopted
        after a damaged index: their address is unknown); ``ids`` limits the selection to those
        captures (each must be the newest of its series); further filters as in :meth:`list`.
        """
        # older_than_s <= 0: any age (a selection refreshed on request)
        cutoff = self._clock() - older_than_s if older_than_s > 0 else float("inf")
        if ids is not None:
            filters["ids"] = ids
        where, params = self._where(**filters)
        rows = self._query(
            f"SELECT {_COLUMNS} FROM captures c JOIN ("
            "  SELECT key, max(captured_at) AS newest FROM captures WHERE deleted_at IS NULL GROUP BY key"
            ") n ON n.key = c.key AND n.newest = c.captured_at "
            f"WHERE {where} AND n.newest < ? AND c.key NOT LIKE 'recovered:%' "
            "ORDER BY c.captured_at ASC, c.id ASC",
            [*params, cutoff],
        )
        seen: set[str] = set()
        out: builtins.list[Capture] = []
        for r in rows:
            if r["key"] not in seen:
                seen.add(r["key"])
                out.append(self._capture(r))
        return out

    # ------------------------------------------------------------------------------ cache size / LRU
    def cache_usage(self) -> int:
        """Bytes the cache folder holds for this gallery: distinct blobs present plus thumbnails."""
        rows = self._query(
            "SELECT coalesce(sum(b), 0) + coalesce(sum(t), 0) FROM ("
            "  SELECT max(CASE WHEN status = 'ready' THEN bytes ELSE 0 END) AS b, max(thumb_bytes) AS t "
            "  FROM captures WHERE sha256 IS NOT NULL GROUP BY sha256)")
        return int(rows[0][0])

    def evict(self, limit_bytes: int, *, keep: Iterable[int] = ()) -> EvictionReport:
        """Remove least-recently-used capture files until the cache fits in ``limit_bytes``.

        Never evicts a file that a favourite or a tagged capture uses, nor the captures in ``keep``.
        Files that only soft-deleted rows use go first. Evicted rows are kept and turn ``missing``
        (re-capture brings them back); thumbnails stay, so the tile still shows what it was.
        """
        keep_ids = set(keep)
        usage = self.cache_usage()
        if usage <= limit_bytes:
            return EvictionReport(usage_before=usage, usage_after=usage)
        rows = self._query(
            "SELECT c.sha256 AS sha, max(CASE WHEN c.deleted_at IS NULL THEN c.last_access END) AS used, "
            "  max(c.bytes) AS size, min(c.blob) AS blob, group_concat(c.id) AS ids, "
            "  max(c.favourite = 1 AND c.deleted_at IS NULL) AS fav, "
            "  max(c.deleted_at IS NULL AND EXISTS "
            "      (SELECT 1 FROM tags t WHERE t.capture_id = c.id)) AS tagged "
            "FROM captures c WHERE c.sha256 IS NOT NULL AND c.status = 'ready' GROUP BY c.sha256 "
            "ORDER BY used IS NOT NULL, used ASC")
        freed = 0
        files = 0
        evicted: builtins.list[int] = []
        for r in rows:
            if usage - freed <= limit_bytes:
                break
            ids = [int(i) for i in str(r["ids"]).split(",")]
            if r["fav"] or r["tagged"] or keep_ids.intersection(ids) or self._pending.get(r["sha"]):
                continue
            with self._lock:
                if self._pending.get(r["sha"]):
                    continue
                with self._tx() as db:
                    db.execute("UPDATE captures SET status = 'missing' WHERE sha256 = ? AND status = 'ready'",
                               (r["sha"],))
                with contextlib.suppress(OSError):
                    self.blobs.remove(r["blob"])
            freed += int(r["size"])
            files += 1
            evicted += ids
        if files:
            log.info("cache limit %d bytes: evicted %d files (%d bytes)", limit_bytes, files, freed)
        return EvictionReport(rows_missing=len(evicted), files_removed=files, bytes_freed=freed,
                              usage_before=usage, usage_after=usage - freed, evicted_ids=tuple(evicted))

    # ------------------------------------------------------------------------------ integrity
    def integrity_check(self, *, adopt_orphans: bool = False, grace_s: float = ORPHAN_GRACE_S,
                        purge_deleted_after_s: float | None = 30 * 86400) -> IntegrityReport:
        """Repair the library against the files on disk; never deletes a row that is not deleted.

        * ready rows whose blob is gone → ``missing``; missing rows whose blob is back → ``ready``;
        * a missing thumbnail whose blob exists is made again;
        * orphan blobs/thumbnails (no row uses them) older than ``grace_s`` are removed — or, with
          ``adopt_orphans``, blobs become rows tagged "recovered" (after a damaged index);
        * temporary files of interrupted writes older than ``grace_s`` are removed;
        * rows soft-deleted more than ``purge_deleted_after_s`` ago are purged (None: keep).
        Run it on start, in a thread: it lists the cache folders once instead of testing each file.
        """
        now = time.time()
        purged = self.purge_deleted(purge_deleted_after_s) if purge_deleted_after_s is not None else 0
        # Rows first, files second: a capture saved in between then has a file without a row (an
        # orphan too young to remove), never a row whose file was not listed (marked missing).
        rows = self._query("SELECT id, status, sha256, blob, thumb, format FROM captures")
        blob_names = set(self.blobs.iter_names())
        thumb_names = set(self.thumbs.iter_names())
        to_missing: builtins.list[int] = []
        to_ready: builtins.list[int] = []
        rebuild: dict[str, tuple[str, str]] = {}
        used_blobs: set[str] = set()
        used_thumbs: set[str] = set()
        for r in rows:
            blob, thumb = r["blob"], r["thumb"]
            if blob:
                used_blobs.add(blob)
            if thumb:
                used_thumbs.add(thumb)
            if not blob:
                continue
            present = blob in blob_names
            if r["status"] == "ready" and not present:
                to_missing.append(int(r["id"]))
            elif r["status"] == "missing" and present:
                to_ready.append(int(r["id"]))
            if present and thumb and thumb not in thumb_names:
                rebuild[thumb] = (blob, r["format"])
        self._mark_missing(to_missing)
        if to_ready:
            with self._tx() as db:
                db.executemany("UPDATE captures SET status = 'ready' WHERE id = ? AND status = 'missing'",
                               [(i,) for i in to_ready])
        rebuilt = 0
        for thumb_name, (blob, fmt) in rebuild.items():
            try:
                data = self.blobs.resolve(blob).read_bytes()
                self.thumbs.put(self._thumbnail_bytes(data, fmt), THUMB_EXT, sha=Path(thumb_name).stem)
                rebuilt += 1
            except (OSError, StorageError) as exc:
                log.warning("could not rebuild thumbnail %s: %s", thumb_name, exc)
        adopted = removed = 0
        for name in sorted(blob_names - used_blobs):
            if _age(self.blobs.resolve(name), now) < grace_s:
                continue
            if adopt_orphans and self._adopt(name):
                adopted += 1
                continue
            # re-checked under the lock: an add may have taken these bytes since the listing
            removed += self._remove_unused(Path(name).stem, [(self.blobs, name)])
        if adopted:
            used_thumbs = {r[0] for r in
                           self._query("SELECT DISTINCT thumb FROM captures WHERE thumb IS NOT NULL")}
        for name in sorted(thumb_names - used_thumbs):
            if _age(self.thumbs.resolve(name), now) < grace_s:
                continue
            removed += self._remove_unused(Path(name).stem, [(self.thumbs, name)])
        temp_removed = 0
        for store in (self.blobs, self.thumbs):
            for tmp in store.iter_temp_files():
                if _age(tmp, now) >= grace_s:
                    with contextlib.suppress(OSError):
                        tmp.unlink()
                        temp_removed += 1
        report = IntegrityReport(
            rows_checked=len(rows), marked_missing=len(to_missing), restored=len(to_ready),
            thumbnails_rebuilt=rebuilt, orphans_removed=removed, orphans_adopted=adopted,
            temp_files_removed=temp_removed, deleted_rows_purged=purged,
        )
        if report.repaired:
            log.info("integrity check: %s", report)
        return report

    def _adopt(self, name: str) -> bool:
        """Give an orphan blob a row of its own (its URL is unknown: a ``recovered`` placeholder)."""
        sha, _, ext = Path(name).name.partition(".")
        fmt = _EXT_TO_FORMAT.get(ext)
        if fmt is None:
            return False
        path = self.blobs.resolve(name)
        try:
            data = path.read_bytes()
            if sha256_hex(data) != sha:
                return False  # damaged file: not worth keeping
            width = height = 0
            if fmt != "pdf":
                with Image.open(io.BytesIO(data)) as img:
                    width, height = img.size
            thumb = self.thumbs.put(self._thumbnail_bytes(data, fmt), THUMB_EXT, sha=sha)
            mtime = path.stat().st_mtime
        except (OSError, StorageError, ValueError, Image.DecompressionBombError) as exc:
            log.warning("cannot adopt %s: %s", name, exc)
            return False
        spec = CaptureSpec(url=f"https://recovered.invalid/{sha[:12]}", format=fmt)
        row = {
            "key": f"recovered:{sha}", "url": spec.url, "final_url": None, "domain": "recovered.invalid",
            "provider": "unknown", "format": fmt, "width": width, "height": height,
            "viewport_w": 0, "viewport_h": 0, "device": None, "bytes": len(data), "sha256": sha,
            "blob": name, "thumb": thumb.name, "thumb_bytes": thumb.size, "status": "ready", "error": None,
            "captured_at": mtime, "last_access": mtime, "title": "Recovered capture",
            "spec": json.dumps(spec.to_dict(), sort_keys=True), "metadata": "{}", "elapsed_ms": 0,
            "note": "Found in the cache folder after the gallery index was rebuilt; its address is unknown.",
        }
        capture_id = self._insert(row)
        with self._tx() as db:
            db.execute("INSERT OR IGNORE INTO tags (capture_id, tag) VALUES (?, 'recovered')", (capture_id,))
        return True

    def _thumbnail_bytes(self, data: bytes, fmt: str) -> bytes:
        if fmt == "pdf":
            return placeholder_thumbnail("PDF")
        try:
            return make_thumbnail(data)
        except (OSError, ValueError, Image.DecompressionBombError) as exc:
            log.warning("could not make a thumbnail (%s); using a placeholder", exc)
            return placeholder_thumbnail(fmt.upper())


# ---------------------------------------------------------------------------------------- helpers
class _CorruptIndex(Exception):
    def __init__(self, reason: str) -> None:
        reason = " ".join(reason.replace("*** in database main ***", "").split())
        reason = reason if len(reason) <= 120 else reason[:117] + "..."
        super().__init__(reason)
        self.reason = reason


def normalise_tag(tag: str) -> str:
    """Tags are case-insensitive single words or phrases: trimmed, inner whitespace collapsed."""
    return " ".join(str(tag).split()).lower()


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _age(path: Path, now: float) -> float:
    try:
        return now - path.stat().st_mtime
    except OSError:
        return 0.0


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


@dataclass
class _Reader:
    """A thread's read connection; ``lock`` is held while a statement runs, so that
    :meth:`Library.close` never closes a connection under a running read."""

    conn: sqlite3.Connection
    lock: threading.Lock = field(default_factory=threading.Lock)


def _closed_error() -> StorageError:
    return StorageError("The gallery is closed", hint="reopen the library")


def _is_known(exc: sqlite3.DatabaseError) -> bool:
    """Environment problems (disk full, I/O, locked, corrupt) as opposed to our own bugs."""
    return type(exc) in (sqlite3.OperationalError, sqlite3.DatabaseError)


def _is_corruption(exc: sqlite3.DatabaseError) -> bool:
    text = str(exc).lower()
    return "not a database" in text or "malformed" in text or "corrupt" in text


def _sqlite_error(exc: sqlite3.DatabaseError, index: Path) -> StorageError:
    text = str(exc)
    lowered = text.lower()
    if "full" in lowered:
        return StorageError(f"Not enough disk space to update the gallery index (in {index.parent})",
                            hint="free some disk space, then try again")
    if "locked" in lowered or "busy" in lowered:
        return StorageError(f"The gallery index {index} is in use by another program",
                            hint="close other ShotDesk windows and try again")
    if _is_corruption(exc):
        return StorageError(f"The gallery index {index} is damaged ({text})",
                            hint="restart ShotDesk: it moves a damaged index aside and starts a new one")
    if "readonly" in lowered or "read-only" in lowered or "unable to open" in lowered:
        return StorageError(f"Cannot write the gallery index {index} ({text})",
                            hint="check the folder's permissions")
    return StorageError(f"The gallery index {index} failed: {text}", hint="try again")
