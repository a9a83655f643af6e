"""Offline and safe: LRU eviction, purge recovery, integrity check, damaged index, crash mid-save."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from shotdesk import paths
from shotdesk.core.errors import StorageError
from shotdesk.core.library import Library
from shotdesk.core.spec import CaptureSpec
from tests.library.util import FakeClock, png, result_for


def noisy_png(seed: int, size: tuple[int, int] = (200, 200)) -> bytes:
    """A PNG that does not compress away: the byte sizes of the blobs matter for eviction."""
    import io
    import random

    rnd = random.Random(seed)
    img = Image.frombytes("RGB", size, bytes(rnd.getrandbits(8) for _ in range(size[0] * size[1] * 3)))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def add_n(library: Library, clock: FakeClock, n: int, first: int = 0) -> list[int]:
    ids = []
    for i in range(first, first + n):
        clock.advance(60)
        spec = CaptureSpec(url=f"https://site{i}.example/")
        ids.append(library.add(spec, result_for(spec, noisy_png(i)), elapsed_ms=1).id)
    return ids


def test_lru_eviction_order_and_favourites_guarantee(library: Library, clock: FakeClock) -> None:
    ids = add_n(library, clock, 6)
    caps = {c.id: c for c in library.get_many(ids)}
    blob_size = {i: caps[i].bytes for i in ids}
    # use order: 0 oldest ... but #2 and #4 are opened recently, #1 is a favourite, #3 is tagged
    clock.advance(60)
    library.touch(ids[2])
    clock.advance(60)
    library.touch(ids[4])
    library.set_favourite(ids[1], True)
    library.set_tags(ids[3], ["client"])
    usage = library.cache_usage()
    thumbs = sum(Path(str(caps[i].thumb_path)).stat().st_size for i in ids)
    assert usage == sum(blob_size.values()) + thumbs

    # room for everything but about two blobs
    limit = usage - blob_size[ids[0]] - blob_size[ids[5]] // 2
    report = library.evict(limit)
    # least recently used first, skipping the favourite (#1) and the tagged (#3): #0 then #5
    assert report.evicted_ids == (ids[0], ids[5])
    assert report.usage_after <= limit
    assert library.cache_usage() == report.usage_after
    for i in ids:
        cap = library.get(i)
        assert cap is not None  # rows are never deleted by eviction
        evicted = i in (ids[0], ids[5])
        assert cap.status == ("missing" if evicted else "ready")
        assert cap.blob_path is not None and cap.blob_path.exists() is not evicted
        assert cap.thumb_path is not None and cap.thumb_path.exists()  # the tile keeps its picture

    # even a limit of zero never touches favourites or tagged captures
    library.evict(0)
    assert library.get(ids[1]).status == "ready"  # type: ignore[union-attr]
    assert library.get(ids[3]).status == "ready"  # type: ignore[union-attr]
    assert library.get(ids[2]).status == "missing"  # type: ignore[union-attr]
    assert library.get(ids[1]).blob_path.is_file()  # type: ignore[union-attr]


def test_cache_limit_applies_on_add(clock: FakeClock) -> None:
    lib = Library(clock=clock, cache_limit_bytes=0)
    try:
        first = add_n(lib, clock, 1)[0]
        lib.set_favourite(first, True)
        ids = add_n(lib, clock, 3, first=1)
        # every add evicts everything it may: the newest capture itself and the favourite stay
        assert lib.get(ids[-1]).status == "ready"  # type: ignore[union-attr]
        assert [lib.get(i).status for i in ids[:-1]] == ["missing", "missing"]  # type: ignore[union-attr]
        assert lib.get(first).status == "ready"  # type: ignore[union-attr]
    finally:
        lib.close()


def test_purged_cache_rows_turn_missing_and_come_back(library: Library, clock: FakeClock) -> None:
    ids = add_n(library, clock, 3)
    library.set_note(ids[0], "keep this note")
    shutil.rmtree(paths.cache_dir())  # the OS or the user purges the cache folder

    report = library.integrity_check()
    assert report.marked_missing == 3 and report.rows_checked == 3
    assert library.count() == 3  # nothing vanished
    missing = library.list(status="missing")
    assert sorted(c.id for c in missing) == ids
    assert library.get(ids[0]).note == "keep this note"  # type: ignore[union-attr]
    assert library.find_fresh(missing[0].key, 10**9) is None

    # one click: re-capture from the stored spec; the same picture brings the old row back too
    old = library.get(ids[0])
    assert old is not None
    spec = old.capture_spec()
    clock.advance(60)
    new = library.add(spec, result_for(spec, noisy_png(0)), elapsed_ms=1)
    assert new.version == 2 and new.status == "ready"
    assert library.get(ids[0]).status == "ready"  # type: ignore[union-attr]
    assert new.thumb_path is not None and new.thumb_path.is_file()


def test_integrity_check_repairs_a_damaged_library(library: Library, clock: FakeClock) -> None:
    ids = add_n(library, clock, 4)
    a, b, c, d = (library.get(i) for i in ids)
    assert a and b and c and d and a.blob_path and b.thumb_path and b.blob_path and c.blob_path
    a.blob_path.unlink()  # blob gone
    b.thumb_path.unlink()  # thumbnail gone, blob still there
    library.evict(0, keep=[ids[0], ids[1], ids[3]])  # c evicted → missing ...
    restored_bytes = noisy_png(2)
    c.blob_path.parent.mkdir(parents=True, exist_ok=True)
    c.blob_path.write_bytes(restored_bytes)  # ... and its file comes back (backup restored)
    orphan = library.blobs.path_for("ab" + "0" * 62, "png")
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(png())
    orphan_thumb = library.thumbs.path_for("cd" + "0" * 62, "webp")
    orphan_thumb.parent.mkdir(parents=True, exist_ok=True)
    orphan_thumb.write_bytes(b"x")
    tmp = library.blobs.root / "ab" / ".tmp-abandoned.png"
    tmp.write_bytes(b"half a file")
    fresh_orphan = library.blobs.path_for("ef" + "0" * 62, "png")
    fresh_orphan.parent.mkdir(parents=True, exist_ok=True)
    fresh_orphan.write_bytes(png())
    old = time.time() - 3600
    for p in (orphan, orphan_thumb, tmp):
        os.utime(p, (old, old))

    report = library.integrity_check()
    assert report.rows_checked == 4
    assert report.marked_missing == 1 and library.get(ids[0]).status == "missing"  # type: ignore[union-attr]
    assert report.restored == 1 and library.get(ids[2]).status == "ready"  # type: ignore[union-attr]
    assert report.thumbnails_rebuilt == 1 and b.thumb_path.is_file()
    assert Image.open(b.thumb_path).width == 200
    assert report.orphans_removed == 2 and not orphan.exists() and not orphan_thumb.exists()
    assert report.temp_files_removed == 1 and not tmp.exists()
    assert fresh_orphan.exists()  # may belong to a capture being saved right now
    assert library.count() == 4  # no row lost
    assert d.blob_path is not None and d.blob_path.is_file()
    # a second run finds nothing to do
    again = library.integrity_check()
    assert not again.repaired


def test_a_capture_saved_during_the_integrity_check_stays_ready(library: Library, clock: FakeClock,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The check runs at start in a worker while the first capture may already be saving."""
    old = library.add(CaptureSpec(url="https://old.example/"), result_for(CaptureSpec(url="https://old.example/")),
                      elapsed_ms=1)
    saved: list[int] = []
    real_iter = library.blobs.iter_names

    def iter_names_then_save() -> Iterator[str]:
        names = list(real_iter())
        if not saved:  # a capture lands between the check's two looks at the library
            spec = CaptureSpec(url="https://new.example/")
            saved.append(library.add(spec, result_for(spec, png(color=(1, 2, 3))), elapsed_ms=1).id)
        return iter(names)

    monkeypatch.setattr(library.blobs, "iter_names", iter_names_then_save)
    report = library.integrity_check()
    new = library.get(saved[0])
    assert new is not None and new.status == "ready"
    assert new.blob_path is not None and new.blob_path.is_file()  # too young to count as an orphan
    assert report.marked_missing == 0
    assert library.get(old.id).status == "ready"  # type: ignore[union-attr]


def test_corrupt_index_is_moved_aside(clock: FakeClock) -> None:
    with Library(clock=clock) as lib:
        ids = add_n(lib, clock, 2)
        before = lib.get_many(ids)
    assert len(before) == 2
    index = paths.index_path()
    for side in (Path(f"{index}-wal"), Path(f"{index}-shm")):
        side.unlink(missing_ok=True)
    index.write_bytes(b"this is not an SQLite database, it was overwritten" * 100)

    lib = Library(clock=clock)
    try:
        assert lib.recovery is not None
        message = str(lib.recovery)
        assert "damaged" in message and "moved aside" in message
        aside = sorted(index.parent.glob("gallery.sqlite3.corrupt-*"))
        assert len(aside) == 1 and aside[0].name in message
        assert aside[0].read_bytes().startswith(b"this is not an SQLite database")
        # a fresh index that works, with the capture files re-adopted instead of lost
        assert lib.count() == 2
        recovered = lib.list(tag="recovered")
        assert len(recovered) == 2
        assert {c.sha256 for c in recovered} == {c.sha256 for c in before}
        assert {c.blob_path for c in recovered} == {c.blob_path for c in before}
        assert all(c.status == "ready" and c.width == 200 for c in recovered)
        spec = CaptureSpec(url="https://after.example/")
        assert lib.add(spec, result_for(spec), elapsed_ms=1).status == "ready"
    finally:
        lib.close()
    with Library(clock=clock) as again:
        assert again.recovery is None and again.count() == 3


def test_damaged_index_rows_are_salvaged(clock: FakeClock) -> None:
    """A page-level corruption deep in the file: readable rows are copied to the new index."""
    with Library(clock=clock) as lib:
        ids = add_n(lib, clock, 3)
        lib.set_tags(ids[0], ["client"])
    index = paths.index_path()
    db = sqlite3.connect(index)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    data = bytearray(index.read_bytes())
    page = 4096
    # wreck the last page (the FTS index / indexes live there) but keep the captures table
    data[-page:] = b"\xff" * page
    index.write_bytes(bytes(data))
    lib = Library(clock=clock)
    try:
        assert lib.recovery is not None and "3 rows recovered" in str(lib.recovery)
        assert lib.count() >= 3
        assert {c.id for c in lib.list()} >= set(ids)
    finally:
        lib.close()


def test_crash_between_blob_write_and_commit(tmp_path: Path) -> None:
    """A real process dies after writing the files and before COMMIT: no row; the complete blob
    is an orphan that the integrity check removes; no temporary file anywhere."""
    script = textwrap.dedent("""
        import os, sys
        from shotdesk.core.library import Library
        from shotdesk.core.spec import CaptureSpec
        from tests.library.util import png, result_for

        def die(self, db, capture_id):
            os._exit(17)

        Library._before_commit = die
        lib = Library()
        spec = CaptureSpec(url="https://example.com/")
        lib.add(spec, result_for(spec, png(300, 200)), elapsed_ms=1)
    """)
    env = dict(os.environ)
    proc = subprocess.run([sys.executable, "-c", script], env=env, cwd=Path(__file__).parents[2],
                          capture_output=True, timeout=120, check=False)
    assert proc.returncode == 17, proc.stderr.decode()
    blobs = [p for p in paths.captures_dir().rglob("*") if p.is_file()]
    assert len(blobs) == 1 and not blobs[0].name.startswith(".tmp-")
    with Library() as lib:
        assert lib.count(include_deleted=True) == 0
        report = lib.integrity_check(grace_s=0)
        assert report.orphans_removed == 2  # blob + thumbnail
    assert [p for p in paths.cache_dir().rglob("*") if p.is_file()] == []


def test_index_full_at_commit_leaves_no_files(library: Library, clock: FakeClock) -> None:
    """The disk fills while the row is committed (SQLite reports "database or disk is full")."""
    add_n(library, clock, 1)
    with library._lock:
        pages = library._conn.execute("PRAGMA page_count").fetchone()[0]
        library._conn.execute(f"PRAGMA max_page_count = {pages}")
    spec = CaptureSpec(url="https://big.example/" + "x" * 3000)
    with pytest.raises(StorageError, match="Not enough disk space to update the gallery index"):
        for i in range(50):  # fill the last free pages
            library.add(spec.with_changes(url=f"{spec.url}{i}"), result_for(spec, noisy_png(1000 + i)),
                        elapsed_ms=1)
    rows = library.count()
    files = [p for p in paths.captures_dir().rglob("*") if p.is_file()]
    assert len(files) == rows  # the failed capture left no blob behind
    assert not [p for p in paths.cache_dir().rglob(".tmp-*")]
    with library._lock:
        library._conn.execute("PRAGMA max_page_count = 1073741823")
    assert library.add(spec, result_for(spec, noisy_png(5000)), elapsed_ms=1).status == "ready"


def test_check_files_for_visible_tiles(library: Library, clock: FakeClock) -> None:
    ids = add_n(library, clock, 2)
    first = library.get(ids[0])
    assert first is not None and first.blob_path is not None
    data = first.blob_path.read_bytes()
    first.blob_path.unlink()
    checked = library.check_files(ids)
    assert [c.status for c in checked] == ["missing", "ready"]
    first.blob_path.write_bytes(data)
    assert [c.status for c in library.check_files(ids)] == ["ready", "ready"]
