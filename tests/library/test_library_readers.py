"""Reads never queue behind a write: the window's page of rows while a worker holds a transaction.

Each thread reads through its own connection (WAL readers run beside the writer), so a long write
(an add committing, an eviction, the integrity check marking rows) cannot stall the window's
``fetchMore``; the reader sees the last committed state, and the writer sees its own rows.
"""

from __future__ import annotations

import sqlite3
import threading

import pytest

from shotdesk.core.errors import StorageError
from shotdesk.core.library import Capture, Library
from shotdesk.core.spec import CaptureSpec
from tests.library.util import FakeClock, png, result_for

WAIT_S = 20.0


def _add(library: Library, url: str) -> Capture:
    spec = CaptureSpec(url=url, width=320, height=240)
    return library.add(spec, result_for(spec, png(320, 240, color=(10, 120, 200))), elapsed_ms=1)


def test_reads_do_not_wait_for_a_write_transaction(tmp_path, clock: FakeClock) -> None:
    library = Library(tmp_path / "gallery.sqlite3", tmp_path / "cache", clock=clock)
    try:
        first = _add(library, "https://committed.example/")
        inside = threading.Event()
        release = threading.Event()
        seen_inside: list[int] = []

        def hold(db: sqlite3.Connection, capture_id: int) -> None:
            # inside the insert transaction: the writer reads its own, uncommitted row
            seen_inside.append(len(library.list(limit=10)))
            inside.set()
            release.wait(WAIT_S)

        library._before_commit = hold  # type: ignore[method-assign]
        writer = threading.Thread(target=_add, args=(library, "https://pending.example/"))
        writer.start()
        assert inside.wait(WAIT_S), "the add never reached its commit"

        results: dict[str, object] = {}

        def read() -> None:  # what the window does on the GUI thread
            results["urls"] = [c.url for c in library.list(limit=10)]
            results["count"] = library.count()
            results["get"] = library.get(first.id)

        reader = threading.Thread(target=read)
        reader.start()
        reader.join(WAIT_S / 2)
        finished_while_held = not reader.is_alive()
        release.set()
        writer.join(WAIT_S)
        reader.join(WAIT_S)

        assert finished_while_held, "a read waited for the write transaction to end"
        assert results["urls"] == ["https://committed.example/"]  # the committed state only
        assert results["count"] == 1
        assert isinstance(results["get"], Capture) and results["get"].id == first.id
        assert seen_inside == [2]
        assert [c.url for c in library.list(limit=10)] == ["https://pending.example/",
                                                           "https://committed.example/"]
    finally:
        library.close()


def test_reads_from_many_threads_and_close(tmp_path, clock: FakeClock) -> None:
    library = Library(tmp_path / "gallery.sqlite3", tmp_path / "cache", clock=clock)
    for i in range(5):
        clock.advance(1)
        _add(library, f"https://site{i}.example/")
    counts: list[int] = []
    errors: list[BaseException] = []

    def read() -> None:
        try:
            for _ in range(20):
                counts.append(len(library.list(limit=100)))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=read) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT_S)
    assert not errors and counts == [5] * 80
    library.close()
    with pytest.raises(StorageError, match="The gallery is closed"):
        library.list()


def test_close_waits_for_reads_under_way_and_later_reads_say_closed(tmp_path, clock: FakeClock) -> None:
    """Shutting down while workers still read (an integrity check, the facets) must neither crash
    the process (a connection closed under a running statement) nor leak a raw sqlite3 error."""
    library = Library(tmp_path / "gallery.sqlite3", tmp_path / "cache", clock=clock)
    with library._tx() as db:  # enough rows that a filtered scan takes a while
        db.executemany(
            "INSERT INTO captures (key, url, domain, provider, format, width, height, bytes, status, "
            "captured_at, last_access, spec, metadata, elapsed_ms, version) "
            "VALUES (?, ?, ?, 'local', 'png', 1, 1, 0, 'failed', ?, ?, '{}', '{}', 0, 1)",
            [(f"k{i}", f"https://s{i}.example/", f"s{i}.example", 1e9 + i, 1e9 + i) for i in range(20_000)])
    started = threading.Barrier(4)
    stop = threading.Event()
    outcomes: list[str] = []

    def read() -> None:
        started.wait(WAIT_S)
        for _ in range(10_000):
            if stop.is_set():
                return
            try:
                library.list(limit=5, favourite=True)  # scans every row
                library.count(domain="nowhere.example")
            except StorageError as exc:
                outcomes.append(str(exc))
                return
            except Exception as exc:  # what must not happen
                outcomes.append(f"raw: {exc!r}")
                return

    threads = [threading.Thread(target=read) for _ in range(3)]
    for t in threads:
        t.start()
    started.wait(WAIT_S)
    library.list(limit=5, favourite=True)  # the readers are mid-scan now
    library.close()
    stop.set()
    for t in threads:
        t.join(WAIT_S)
    assert not any(t.is_alive() for t in threads)
    assert all(o.startswith("The gallery is closed") for o in outcomes), outcomes
