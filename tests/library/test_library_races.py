"""Cleanup never removes a file that an add of the same bytes, running on another thread, relies on.

``purge_deleted`` and the integrity check remove files no row uses. An ``add`` of identical bytes
finds the stored file and skips the write; if that add ran between the "no row uses it" check and
the removal, its new row would point at a deleted file. Each test starts such an add from inside
the removal and lets it run as far as the library allows.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from types import TracebackType

from shotdesk.core.blobs import BlobStore
from shotdesk.core.library import Capture, Library
from shotdesk.core.spec import CaptureSpec
from tests.library.util import FakeClock, png, result_for


class _ProbeLock:
    """Wraps the library's RLock and records when another thread has to wait for it."""

    def __init__(self, inner: threading.RLock) -> None:
        self.inner = inner
        self.contended = threading.Event()

    def __enter__(self) -> bool:
        if not self.inner.acquire(blocking=False):
            self.contended.set()
            self.inner.acquire()
        return True

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.inner.release()


def _add_during_first_remove(library: Library, store: BlobStore, add: Callable[[], Capture]
                             ) -> tuple[list[Capture], list[BaseException], list[threading.Thread]]:
    """Make ``store.remove`` start ``add`` on another thread, then wait until that add has either
    finished or is waiting for the library's lock, and only then remove the file."""
    probe = _ProbeLock(library._lock)
    library._lock = probe  # type: ignore[assignment]
    real_remove = store.remove
    added: list[Capture] = []
    errors: list[BaseException] = []
    threads: list[threading.Thread] = []

    def work() -> None:
        try:
            added.append(add())
        except BaseException as exc:  # reported by the test
            errors.append(exc)

    def remove(name: str) -> bool:
        if not threads:
            t = threading.Thread(target=work)
            threads.append(t)
            t.start()
            deadline = time.monotonic() + 20
            while t.is_alive() and not probe.contended.is_set() and time.monotonic() < deadline:
                time.sleep(0.005)
        return real_remove(name)

    store.remove = remove  # type: ignore[method-assign]
    return added, errors, threads


def _join(threads: list[threading.Thread]) -> None:
    for t in threads:
        t.join(timeout=30)
        assert not t.is_alive()


def test_purge_does_not_remove_a_file_an_add_of_the_same_bytes_just_reused(
        library: Library, clock: FakeClock) -> None:
    data = png(80, 60, (10, 120, 200))
    old_spec = CaptureSpec(url="https://old.example/")
    old = library.add(old_spec, result_for(old_spec, data), elapsed_ms=1)
    library.delete(old.id)
    clock.advance(10)
    new_spec = CaptureSpec(url="https://new.example/")
    added, errors, threads = _add_during_first_remove(
        library, library.blobs, lambda: library.add(new_spec, result_for(new_spec, data), elapsed_ms=1))

    assert library.purge_deleted() == 1
    _join(threads)
    assert threads, "the cleanup removed no file"

    assert not errors
    assert len(added) == 1
    new = library.get(added[0].id)
    assert new is not None and new.status == "ready"
    assert new.blob_path is not None and new.blob_path.is_file()
    assert new.blob_path.read_bytes() == data
    assert new.thumb_path is not None and new.thumb_path.is_file()
    assert library.check_files([new.id])[0].status == "ready"


def test_integrity_check_does_not_remove_an_orphan_an_add_just_reused(library: Library) -> None:
    data = png(90, 50, (200, 120, 10))
    spec = CaptureSpec(url="https://orphan.example/")
    first = library.add(spec, result_for(spec, data), elapsed_ms=1)
    # the row goes for good, its files stay behind as old orphans
    library.delete(first.id)
    assert first.blob_path is not None and first.thumb_path is not None
    blob_keep = first.blob_path.read_bytes()
    thumb_keep = first.thumb_path.read_bytes()
    library.purge_deleted()
    for path, content in ((first.blob_path, blob_keep), (first.thumb_path, thumb_keep)):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        os.utime(path, (time.time() - 3600, time.time() - 3600))
    again = CaptureSpec(url="https://again.example/")
    added, errors, threads = _add_during_first_remove(
        library, library.blobs, lambda: library.add(again, result_for(again, data), elapsed_ms=1))

    library.integrity_check(grace_s=60)
    _join(threads)
    assert threads, "the cleanup removed no file"

    assert not errors
    assert len(added) == 1
    new = library.get(added[0].id)
    assert new is not None
    assert new.blob_path is not None and new.blob_path.is_file()
    assert new.blob_path.read_bytes() == data
    assert library.check_files([new.id])[0].status == "ready"
