"""The gallery store: rows, files, versions, freshness, atomicity and disk errors."""

from __future__ import annotations

import errno
import hashlib
import io
import os
import sqlite3
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from PIL import Image

from shotdesk import paths
from shotdesk.core import blobs
from shotdesk.core.errors import StorageError
from shotdesk.core.library import SCHEMA_VERSION, Library
from shotdesk.core.spec import CaptureSpec
from tests.library.util import FakeClock, pdf_bytes, png, result_for


def all_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_round_trip_row_and_files(library: Library, clock: FakeClock) -> None:
    spec = CaptureSpec(url="example.com/pricing", width=800, height=600, device=None)
    data = png(800, 600, (10, 120, 200))
    cap = library.add(spec, result_for(spec, data, title="Pricing", metadata={"request_id": "r-1"}),
                      elapsed_ms=321)

    got = library.get(cap.id)
    assert got == cap
    assert got.url == "https://example.com/pricing"
    assert (got.provider, got.format, got.width, got.height) == ("local", "png", 800, 600)
    assert got.bytes == len(data)
    assert got.status == "ready" and got.error is None
    assert got.title == "Pricing"
    assert got.metadata == {"request_id": "r-1"}
    assert got.elapsed_ms == 321
    assert got.version == 1
    assert got.key == spec.cache_key()
    assert got.captured_at.timestamp() == pytest.approx(clock.now)
    assert got.captured_at.tzinfo is not None and got.captured_at.utcoffset() == timedelta(0)
    assert got.tags == () and got.note == "" and got.favourite is False
    assert got.domain == "example.com" and got.viewport == (800, 600)
    assert got.capture_spec() == spec

    sha = hashlib.sha256(data).hexdigest()
    assert got.blob_path == paths.captures_dir() / sha[:2] / f"{sha}.png"
    assert got.blob_path.read_bytes() == data
    assert got.thumb_path is not None and got.thumb_path.parent.parent == paths.thumbnails_dir()
    assert library.index_path == paths.index_path() and paths.index_path().is_file()
    assert library.list() == [got]
    assert library.count() == 1


def test_index_is_wal_with_schema_version(library: Library) -> None:
    db = sqlite3.connect(paths.index_path())
    try:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    finally:
        db.close()
    assert library.schema_version == SCHEMA_VERSION


def test_identical_bytes_are_stored_once(library: Library) -> None:
    data = png(320, 240, (1, 2, 3))
    a = library.add(CaptureSpec(url="https://a.example/"), result_for(CaptureSpec(url="a.example"), data),
                    elapsed_ms=1)
    b = library.add(CaptureSpec(url="https://b.example/"), result_for(CaptureSpec(url="b.example"), data),
                    elapsed_ms=1)
    c = library.add(CaptureSpec(url="https://c.example/"),
                    result_for(CaptureSpec(url="c.example"), png(320, 240, (9, 9, 9))), elapsed_ms=1)
    assert a.id != b.id and a.blob_path == b.blob_path and a.thumb_path == b.thumb_path
    assert c.blob_path != a.blob_path
    assert len(all_files(paths.captures_dir())) == 2
    assert len(all_files(paths.thumbnails_dir())) == 2


def test_versions_per_key(library: Library, clock: FakeClock) -> None:
    spec = CaptureSpec(url="https://example.com/")
    other = CaptureSpec(url="https://example.com/", full_page=True)
    ids = []
    for shade in range(3):
        clock.advance(60)
        ids.append(library.add(spec, result_for(spec, png(color=(shade, 0, 0))), elapsed_ms=1).id)
    failed = library.add_failed(spec, "Page load failed: DNS")
    clock.advance(60)
    fourth = library.add(spec, result_for(spec, png(color=(50, 0, 0))), elapsed_ms=1)
    o = library.add(other, result_for(other), elapsed_ms=1)

    assert [library.get(i).version for i in ids] == [1, 2, 3]  # type: ignore[union-attr]
    assert failed.version == 4 and failed.status == "failed"
    assert fourth.version == 4  # the failed attempt did not use the number up
    assert o.version == 1 and o.key != spec.cache_key()
    timeline = library.versions(spec.cache_key())
    assert [c.version for c in timeline if c.status == "ready"] == [4, 3, 2, 1]
    assert all(c.key == spec.cache_key() for c in timeline)
    # earlier versions keep their own files
    assert len({c.blob_path for c in timeline if c.blob_path}) == 4


def test_add_failed_row(library: Library) -> None:
    spec = CaptureSpec(url="https://down.example/")
    cap = library.add_failed(spec, "Could not reach down.example — check the address")
    assert cap.status == "failed"
    assert cap.error == "Could not reach down.example — check the address"
    assert cap.blob_path is None and cap.thumb_path is None and cap.bytes == 0
    assert library.list(status="failed") == [cap]
    assert library.find_fresh(spec.cache_key(), 3600) is None


def test_find_fresh_honours_ttl_and_file(library: Library, clock: FakeClock) -> None:
    spec = CaptureSpec(url="https://example.com/")
    cap = library.add(spec, result_for(spec), elapsed_ms=5)
    key = spec.cache_key()

    clock.advance(30)
    hit = library.find_fresh(key, ttl_s=60)
    assert hit is not None and hit.id == cap.id
    assert library.find_fresh(CaptureSpec(url="https://example.com/", width=1024).cache_key(), 60) is None
    assert library.find_fresh(key, ttl_s=0) is None

    clock.advance(31)  # 61 s old
    assert library.find_fresh(key, ttl_s=60) is None
    assert library.find_fresh(key, ttl_s=3600) is not None

    # the newest version answers
    newer = library.add(spec, result_for(spec, png(color=(0, 255, 0))), elapsed_ms=5)
    assert library.find_fresh(key, 3600).id == newer.id  # type: ignore[union-attr]

    # a purged blob is no answer, and its row turns missing
    assert newer.blob_path is not None
    newer.blob_path.unlink()
    fallback = library.find_fresh(key, 3600)
    assert fallback is not None and fallback.id == cap.id
    assert library.get(newer.id).status == "missing"  # type: ignore[union-attr]


def test_failure_between_files_and_commit_leaves_nothing(library: Library,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(self: Library, db: sqlite3.Connection, capture_id: int) -> None:
        # the row is inserted in the open transaction: it must be rolled back
        assert db.execute("SELECT count(*) FROM captures").fetchone()[0] == 1
        raise RuntimeError("injected crash before commit")

    spec = CaptureSpec(url="https://example.com/")
    monkeypatch.setattr(Library, "_before_commit", boom)
    with pytest.raises(RuntimeError, match="injected"):
        library.add(spec, result_for(spec), elapsed_ms=1)

    assert library.count() == 0 and library.count(include_deleted=True) == 0
    assert all_files(paths.captures_dir()) == []
    assert all_files(paths.thumbnails_dir()) == []
    monkeypatch.undo()
    # the store still works afterwards
    cap = library.add(spec, result_for(spec), elapsed_ms=1)
    assert cap.version == 1 and cap.blob_path is not None and cap.blob_path.is_file()


def test_failed_add_keeps_files_another_row_uses(library: Library, monkeypatch: pytest.MonkeyPatch) -> None:
    data = png(color=(7, 7, 7))
    first_spec = CaptureSpec(url="https://one.example/")
    first = library.add(first_spec, result_for(first_spec, data), elapsed_ms=1)

    def boom(self: Library, db: sqlite3.Connection, capture_id: int) -> None:
        raise RuntimeError("injected")

    monkeypatch.setattr(Library, "_before_commit", boom)
    spec = CaptureSpec(url="https://two.example/")
    with pytest.raises(RuntimeError):
        library.add(spec, result_for(spec, data), elapsed_ms=1)
    assert library.count() == 1
    assert first.blob_path is not None and first.blob_path.read_bytes() == data
    assert first.thumb_path is not None and first.thumb_path.is_file()


def test_disk_full_is_a_storage_error_and_leaves_nothing(library: Library,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    real_write_all = blobs._write_all

    def half_then_enospc(fd: int, data: bytes) -> None:
        os.write(fd, data[: len(data) // 2])  # a partial temp file exists when the disk fills
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(blobs, "_write_all", half_then_enospc)
    spec = CaptureSpec(url="https://example.com/", width=1280, height=2000)
    with pytest.raises(StorageError) as info:
        library.add(spec, result_for(spec), elapsed_ms=1)
    message = str(info.value)
    assert message.startswith("Not enough disk space to save the capture (needed ")
    assert " MB in " in message and str(paths.captures_dir()) in message
    assert library.count() == 0
    assert all_files(paths.captures_dir()) == []  # no temp file, no partial blob

    # the disk fills while writing the thumbnail: the complete blob is removed again
    calls = {"n": 0}

    def second_write_fails(fd: int, data: bytes) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write_all(fd, data)

    monkeypatch.setattr(blobs, "_write_all", second_write_fails)
    with pytest.raises(StorageError, match="Not enough disk space to save the thumbnail"):
        library.add(spec, result_for(spec), elapsed_ms=1)
    assert library.count() == 0
    assert all_files(paths.captures_dir()) == [] and all_files(paths.thumbnails_dir()) == []

    monkeypatch.setattr(blobs, "_write_all", real_write_all)
    assert library.add(spec, result_for(spec), elapsed_ms=1).status == "ready"


def test_unwritable_folder_is_a_storage_error(clock: FakeClock, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "captures").write_text("a file where the folder should be")
    lib = Library(tmp_path / "index.sqlite3", cache, clock=clock)
    try:
        spec = CaptureSpec(url="https://example.com/")
        with pytest.raises(StorageError, match="Could not save the capture in"):
            lib.add(spec, result_for(spec), elapsed_ms=1)

        def denied(fd: int, data: bytes) -> None:
            raise OSError(errno.EACCES, "Permission denied")

        (cache / "captures").unlink()
        monkeypatch.setattr(blobs, "_write_all", denied)
        with pytest.raises(StorageError, match="is not writable"):
            lib.add(spec, result_for(spec), elapsed_ms=1)
        assert lib.count() == 0
        assert all_files(cache / "captures") == []
    finally:
        lib.close()


def test_thumbnails_size_and_top_crop(library: Library) -> None:
    wide_spec = CaptureSpec(url="https://wide.example/", width=1280, height=720)
    wide = library.add(wide_spec, result_for(wide_spec), elapsed_ms=1)
    assert wide.thumb_path is not None
    thumb = Image.open(wide.thumb_path)
    assert thumb.format == "WEBP" and thumb.size == (320, 180)

    # a tall page: red header band, blue body → the thumbnail shows the top, 320 × 480
    tall = Image.new("RGB", (1280, 8000), (0, 0, 255))
    tall.paste((255, 0, 0), (0, 0, 1280, 400))
    buf = io.BytesIO()
    tall.save(buf, format="PNG")
    tall_spec = CaptureSpec(url="https://tall.example/", full_page=True)
    cap = library.add(tall_spec, result_for(tall_spec, buf.getvalue()), elapsed_ms=1)
    assert cap.thumb_path is not None
    tall_thumb = Image.open(cap.thumb_path).convert("RGB")
    assert tall_thumb.size == (320, 480)
    r, _g, b = tall_thumb.getpixel((160, 20))  # type: ignore[misc]
    assert r > 200 and b < 60  # header
    r, _g, b = tall_thumb.getpixel((160, 300))  # type: ignore[misc]
    assert b > 200 and r < 60  # body, at 300 × 4 = 1200 px on the page

    # small images are not upscaled
    small_spec = CaptureSpec(url="https://small.example/", format="jpeg")
    small = library.add(small_spec, result_for(small_spec, png(200, 100, fmt="JPEG")), elapsed_ms=1)
    assert Image.open(small.thumb_path).size == (200, 100)  # type: ignore[arg-type]


def test_pdf_gets_a_placeholder_thumbnail(library: Library) -> None:
    spec = CaptureSpec(url="https://docs.example/", format="pdf")
    cap = library.add(spec, result_for(spec, pdf_bytes()), elapsed_ms=1)
    assert cap.format == "pdf" and cap.blob_path is not None and cap.blob_path.suffix == ".pdf"
    assert cap.blob_path.read_bytes().startswith(b"%PDF-")
    assert cap.thumb_path is not None
    img = Image.open(cap.thumb_path)
    assert img.format == "WEBP" and img.width == 320


def test_reopen_existing_index(clock: FakeClock) -> None:
    spec = CaptureSpec(url="https://example.com/")
    with Library(clock=clock) as lib:
        first = lib.add(spec, result_for(spec), elapsed_ms=1)
        lib.add_failed(CaptureSpec(url="https://down.example/"), "boom")
    with Library(clock=clock) as lib:
        assert lib.count() == 2
        assert lib.get(first.id) == first
        clock.advance(1)
        second = lib.add(spec, result_for(spec, png(color=(1, 1, 1))), elapsed_ms=1)
        assert second.version == 2
        assert lib.find_fresh(spec.cache_key(), 60).id == second.id  # type: ignore[union-attr]


def test_newer_schema_is_refused_clearly(tmp_path: Path) -> None:
    index = tmp_path / "gallery.sqlite3"
    db = sqlite3.connect(index)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    db.close()
    with pytest.raises(StorageError, match="newer ShotDesk"):
        Library(index, tmp_path / "cache")


def test_concurrent_adds_from_threads(library: Library) -> None:
    spec = CaptureSpec(url="https://example.com/")
    same = png(color=(3, 3, 3))
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            data = same if i % 2 else png(color=(i, 100, 100))
            library.add(spec, result_for(spec, data), elapsed_ms=i)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    rows = library.versions(spec.cache_key())
    assert sorted(c.version for c in rows) == list(range(1, 9))
    assert all(c.blob_path is not None and c.blob_path.is_file() for c in rows)
    assert len(all_files(paths.captures_dir())) == 5  # 4 distinct + 1 shared


def test_list_filters_and_paging(library: Library, clock: FakeClock) -> None:
    for i in range(25):
        clock.advance(10)
        provider = "local" if i % 2 == 0 else "snapsharp"
        spec = CaptureSpec(url=f"https://site{i % 5}.example/page{i}", provider=provider,
                           format="png" if i % 3 else "jpeg")
        fmt = {"png": "PNG", "jpeg": "JPEG"}[spec.format]
        library.add(spec, result_for(spec, png(color=(i, 0, 0), fmt=fmt), title=f"Title {i}"), elapsed_ms=1)

    page1 = library.list(limit=10)
    page2 = library.list(limit=10, offset=10)
    page3 = library.list(limit=10, offset=20)
    assert [len(p) for p in (page1, page2, page3)] == [10, 10, 5]
    ids = [c.id for c in page1 + page2 + page3]
    assert len(set(ids)) == 25
    times = [c.captured_at for c in page1 + page2 + page3]
    assert times == sorted(times, reverse=True)
    assert [c.id for c in library.list(limit=3, newest_first=False)] == sorted(ids)[:3]

    # keyset pages (after=) give the same rows as offset pages
    keyed = library.list(limit=10)
    keyed += library.list(limit=10, after=keyed[-1])
    keyed += library.list(limit=10, after=keyed[-1])
    assert [c.id for c in keyed] == ids

    assert library.count(provider="snapsharp") == 12
    assert all(c.provider == "snapsharp" for c in library.list(provider="snapsharp"))
    assert library.count(format="jpeg") == 9 and library.count(format="jpg") == 9
    assert library.count(query='"Title 1"') == 11  # a phrase: 1, 10..19
    assert library.count(query="Title 1") == 13  # two words: also site1 (6, 21) has a "1"
    assert library.count(query="site3.example") == 5
    assert library.count(query="100%") == 0  # LIKE wildcards are literal
    assert library.count(domain="site0.example") == 5
    assert library.count(provider="local", format="png") == len(
        [c for c in library.list(limit=100) if c.provider == "local" and c.format == "png"])


def test_delete_and_restore(library: Library) -> None:
    spec = CaptureSpec(url="https://example.com/")
    cap = library.add(spec, result_for(spec), elapsed_ms=1)
    library.delete(cap.id)
    assert library.get(cap.id) is None and library.count() == 0
    assert library.find_fresh(spec.cache_key(), 60) is None
    assert cap.blob_path is not None and cap.blob_path.is_file()  # undo still possible
    restored = library.restore(cap.id)
    assert restored is not None and restored.id == cap.id and library.count() == 1
    library.delete(cap.id)
    assert library.purge_deleted() == 1
    assert library.get(cap.id, include_deleted=True) is None
    assert not cap.blob_path.exists()


@pytest.mark.parametrize("newest_first", [True, False])
def test_keyset_pages_through_equal_times_and_changes(library: Library, clock: FakeClock,
                                                      newest_first: bool) -> None:
    """Rows stored in the same instant (a bulk import) are neither skipped nor repeated, and rows
    added or deleted between pages shift nothing."""
    caps = []
    for i in range(12):
        if i % 4 == 0:
            clock.advance(0.1234567)  # not a whole microsecond: the stored time is what counts
        spec = CaptureSpec(url=f"https://same{i}.example/")
        caps.append(library.add(spec, result_for(spec, png(color=(i, 9, 9))), elapsed_ms=1))
    expected = [c.id for c in library.list(limit=100, newest_first=newest_first)]
    assert sorted(expected) == sorted(c.id for c in caps)

    got: list[int] = []
    last = None
    for n in range(20):
        page = library.list(limit=5, after=last, newest_first=newest_first)
        if not page:
            break
        got += [c.id for c in page]
        last = page[-1]
        if n == 0:  # between pages: a new capture, and one row deleted on each side of the cursor
            spec = CaptureSpec(url="https://later.example/")
            clock.advance(5)
            extra = library.add(spec, result_for(spec, png(color=(1, 2, 3))), elapsed_ms=1)
            library.delete(expected[1])
            library.delete(expected[8])
    assert got == [i for i in expected if i != expected[8]] + ([] if newest_first else [extra.id])
