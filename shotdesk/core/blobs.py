"""Content-addressed file store for capture blobs and thumbnails, with atomic writes.

Layout: ``<root>/<first two hex digits>/<sha256>.<ext>`` — identical bytes are stored once.
Every write goes to a temporary file in the target folder (``.tmp-*``), is fsynced and then
renamed over the final name with :func:`os.replace`, so a reader (or a crash) sees either no file
or the whole file. Disk errors become :class:`~shotdesk.core.errors.StorageError` with a message a
person can act on; a failed write never leaves its temporary file behind.

No Qt; sync (callers on an event loop use ``asyncio.to_thread``).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from shotdesk.core.errors import StorageError

#: Prefix of temporary files; anything with it is an interrupted write and may be removed.
TMP_PREFIX = ".tmp-"
_NAME_RE = re.compile(r"^([0-9a-f]{64})\.([a-z0-9]{1,8})$")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class StoredBlob:
    sha256: str
    ext: str
    path: Path
    size: int
    #: True when this call wrote the file; False when identical bytes were already stored.
    created: bool

    @property
    def name(self) -> str:
        """Path relative to the store's root (``ab/<sha>.<ext>``): what the index keeps."""
        return relative_name(self.sha256, self.ext)


def relative_name(sha: str, ext: str) -> str:
    return f"{sha[:2]}/{sha}.{ext}"


class BlobStore:
    """One content-addressed folder (captures or thumbnails)."""

    def __init__(self, root: Path, *, what: str = "the capture") -> None:
        self.root = Path(root)
        #: Used in error messages: "Not enough disk space to save <what> …".
        self.what = what

    def path_for(self, sha: str, ext: str) -> Path:
        return self.root / sha[:2] / f"{sha}.{ext}"

    def resolve(self, name: str) -> Path:
        """Absolute path of a relative name as kept in the index."""
        return self.root / name

    def put(self, data: bytes, ext: str, *, sha: str | None = None) -> StoredBlob:
        """Store ``data`` under its sha256 (or ``sha``, for derived files such as thumbnails).

        Already present with the same size → nothing written (``created`` False).
        """
        digest = sha or sha256_hex(data)
        path = self.path_for(digest, ext)
        try:
            if path.stat().st_size == len(data):
                return StoredBlob(digest, ext, path, len(data), created=False)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise storage_error(exc, path.parent, len(data), self.what) from None
        atomic_write(path, data, what=self.what)
        return StoredBlob(digest, ext, path, len(data), created=True)

    def exists(self, name: str) -> bool:
        return (self.root / name).is_file()

    def remove(self, name: str) -> bool:
        """Delete one stored file; True when it existed. Empty shard folders are left in place."""
        try:
            (self.root / name).unlink()
            return True
        except FileNotFoundError:
            return False

    def iter_names(self) -> Iterator[str]:
        """Relative names of every complete file in the store (temporary files excluded)."""
        if not self.root.is_dir():
            return
        for shard in sorted(self.root.iterdir()):
            if not shard.is_dir() or len(shard.name) != 2:
                continue
            for entry in os.scandir(shard):
                if entry.is_file() and _NAME_RE.match(entry.name) and entry.name.startswith(shard.name):
                    yield f"{shard.name}/{entry.name}"

    def iter_temp_files(self) -> Iterator[Path]:
        """Left-over temporary files of interrupted writes."""
        if not self.root.is_dir():
            return
        for shard in [self.root, *(p for p in self.root.iterdir() if p.is_dir())]:
            for entry in os.scandir(shard):
                if entry.is_file() and entry.name.startswith(TMP_PREFIX):
                    yield Path(entry.path)

    def total_bytes(self) -> int:
        total = 0
        for name in self.iter_names():
            with contextlib.suppress(OSError):
                total += (self.root / name).stat().st_size
        return total


def _write_all(fd: int, data: bytes) -> None:
    """Write every byte of ``data`` to ``fd`` and fsync it (tests replace this to inject ENOSPC)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
    os.fsync(fd)


def atomic_write(path: Path, data: bytes, *, what: str = "the file") -> None:
    """Write ``data`` to ``path`` atomically: temp file in the same folder, fsync, os.replace.

    On any failure the temporary file is removed and a :class:`StorageError` is raised; ``path``
    is never left half-written.
    """
    folder = path.parent
    tmp: str | None = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = -1
        try:
            fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, suffix=path.suffix, dir=folder)
            _write_all(fd, data)
        finally:
            if fd >= 0:
                os.close(fd)
        os.replace(tmp, path)
        tmp = None
        _fsync_dir(folder)
    except OSError as exc:
        raise storage_error(exc, folder, len(data), what) from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def atomic_copy(source: Path, target: Path, *, what: str = "the file") -> None:
    """Copy ``source`` to ``target`` the way :func:`atomic_write` writes: temp file in the target
    folder (created when missing), fsync, ``os.replace``; never a half-copied ``target``, never a
    temporary file left behind. Disk errors become :class:`StorageError`."""
    folder = target.parent
    tmp: str | None = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, suffix=target.suffix, dir=folder)
        with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
            shutil.copyfileobj(src, out, 1 << 20)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
        tmp = None
        _fsync_dir(folder)
    except OSError as exc:
        try:
            size = source.stat().st_size
        except OSError:
            size = 0
        raise storage_error(exc, folder, size, what) from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def _fsync_dir(folder: Path) -> None:
    """Make the rename durable (POSIX); harmless where directories cannot be opened."""
    if os.name != "posix":
        return
    try:
        dfd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


def storage_error(exc: OSError, folder: Path, needed: int, what: str = "the capture") -> StorageError:
    """Turn a disk error into a message a person can act on."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        mb = max(needed / 1_000_000, 0.1)
        return StorageError(
            f"Not enough disk space to save {what} (needed {mb:.1f} MB in {folder})",
            hint="free some disk space or lower the cache size limit in Settings, then capture again",
        )
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return StorageError(
            f"Cannot save {what}: the folder {folder} is not writable",
            hint="check the folder's permissions (or point XDG_CACHE_HOME / XDG_DATA_HOME elsewhere)",
        )
    reason = exc.strerror or str(exc)
    return StorageError(f"Could not save {what} in {folder}: {reason}",
                        hint="check the disk and try again")
