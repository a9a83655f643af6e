"""DragCopies: files for a drag copied ahead in a worker thread, from a real library's blobs."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from shotdesk.core.errors import StorageError
from shotdesk.core.library import Capture, Library
from shotdesk.core.spec import CaptureSpec
from shotdesk.services.qt_export import DragCopies
from tests.library.util import png, result_for

TEMPLATE = "{domain}_{id}.{ext}"


@pytest.fixture
def library() -> Iterator[Library]:
    lib = Library()  # the isolated XDG folders (tests/conftest.py)
    yield lib
    lib.close()


def captures(library: Library, n: int, start: int = 0) -> list[Capture]:
    out = []
    for i in range(start, start + n):
        spec = CaptureSpec(url=f"https://drag{i}.example/", width=400, height=300)
        out.append(library.add(spec, result_for(spec, png(400, 300, color=(i * 20, 80, 160))), elapsed_ms=1))
    return out


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def folders(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir()) if root.exists() else []


def test_prepared_copies_are_handed_over_without_copying_again(library: Library, tmp_path: Path) -> None:
    caps = captures(library, 3)
    copies = DragCopies(tmp_path / "drag", at_once_limit=(2, 10**9))
    try:
        copies.prepare(caps, TEMPLATE)
        wait_for(lambda: copies.ready_for(caps, TEMPLATE), "the copies")
        (folder,) = folders(tmp_path / "drag")
        made = sorted(folder.iterdir())
        stamps = {p: p.stat().st_mtime_ns for p in made}
        files = copies.files(caps, TEMPLATE)
        assert sorted(files) == made  # the prepared files themselves
        assert {p: p.stat().st_mtime_ns for p in files} == stamps  # not written again
        names = sorted(f"drag{i}.example_{c.id}.png" for i, c in enumerate(caps))
        assert sorted(p.name for p in files) == names
        for cap, path in zip(caps, files, strict=True):
            assert cap.blob_path is not None
            assert path.read_bytes() == cap.blob_path.read_bytes()
            assert path != cap.blob_path
        # A next drag of the same selection gets the same files: nothing is copied again.
        assert copies.files(caps, TEMPLATE) == files
        assert folders(tmp_path / "drag") == [folder]
        # The app it was dropped on edited a file in place: the next drag gets fresh copies and
        # the edited file stays where that app has it.
        files[0].write_bytes(b"edited by another app")
        with pytest.raises(StorageError, match="still being prepared"):
            copies.files(caps, TEMPLATE)  # three files: more than this test copies at once
        wait_for(lambda: copies.ready_for(caps, TEMPLATE), "fresh copies")
        fresh = copies.files(caps, TEMPLATE)
        blob = caps[0].blob_path
        assert blob is not None
        assert fresh[0].parent != folder and fresh[0].read_bytes() == blob.read_bytes()
        assert files[0].read_bytes() == b"edited by another app"
        # A new selection's copies, never dragged, are removed at close; dragged ones stay.
        copies.prepare(caps[:1], TEMPLATE)
        wait_for(lambda: copies.ready_for(caps[:1], TEMPLATE), "the one-file copies")
        unused = next(p for p in folders(tmp_path / "drag") if p not in (folder, fresh[0].parent))
    finally:
        copies.close()
    assert not unused.exists()
    assert folders(tmp_path / "drag") == sorted([folder, fresh[0].parent])


def test_a_selection_too_large_to_prepare_drops_the_previous_copies(library: Library, tmp_path: Path) -> None:
    caps = captures(library, 3)
    copies = DragCopies(tmp_path / "drag", prepare_limit=(2, 10**9))
    try:
        copies.prepare(caps[:2], TEMPLATE)
        wait_for(lambda: copies.ready_for(caps[:2], TEMPLATE), "the copies")
        copies.prepare(caps, TEMPLATE)  # Ctrl+A: over the limit, nothing to copy, old copies go
        assert folders(tmp_path / "drag") == []
        assert not copies.ready_for(caps[:2], TEMPLATE)
    finally:
        copies.close()


def test_the_newest_selection_wins(library: Library, tmp_path: Path) -> None:
    first, second = captures(library, 4), captures(library, 2, start=10)
    copies = DragCopies(tmp_path / "drag")
    try:
        copies.prepare(first, TEMPLATE)
        copies.prepare(second, TEMPLATE)
        wait_for(lambda: copies.ready_for(second, TEMPLATE), "the second selection's copies")
        assert not copies.ready_for(first, TEMPLATE)
        # the first selection's copies, made or not, are gone: one folder, the second's files
        wait_for(lambda: len(folders(tmp_path / "drag")) == 1, "the overtaken copies to go")
        (folder,) = folders(tmp_path / "drag")
        assert sorted(p.name for p in folder.iterdir()) == sorted(
            f"drag{10 + i}.example_{c.id}.png" for i, c in enumerate(second))
    finally:
        copies.close()


def test_a_small_unprepared_selection_is_copied_at_once(library: Library, tmp_path: Path) -> None:
    caps = captures(library, 2)
    copies = DragCopies(tmp_path / "drag")
    try:
        files = copies.files(caps, TEMPLATE)  # no prepare(): a drag straight after a click
        assert len(files) == 2 and all(p.is_file() for p in files)
        assert copies.files([], TEMPLATE) == []
    finally:
        copies.close()


def test_a_large_unprepared_selection_says_what_to_do(library: Library, tmp_path: Path) -> None:
    caps = captures(library, 3)
    copies = DragCopies(tmp_path / "drag", at_once_limit=(2, 10**9))
    try:
        with pytest.raises(StorageError, match="still being prepared") as info:
            copies.files(caps, TEMPLATE)
        assert "again in a moment" in info.value.hint
        # asking started the preparation: the next drag has its files
        wait_for(lambda: copies.ready_for(caps, TEMPLATE), "the copies")
        assert len(copies.files(caps, TEMPLATE)) == 3
    finally:
        copies.close()

    too_many = DragCopies(tmp_path / "drag2", prepare_limit=(2, 10**9), at_once_limit=(1, 10**9))
    try:
        too_many.prepare(caps, TEMPLATE)  # over the limit: nothing is copied
        with pytest.raises(StorageError, match="too many to drag at once") as info:
            too_many.files(caps, TEMPLATE)
        assert "Export" in info.value.hint
        assert not any((tmp_path / "drag2").rglob("*.png"))
    finally:
        too_many.close()


def test_failed_and_missing_captures_are_left_out(library: Library, tmp_path: Path) -> None:
    ready = captures(library, 1)
    failed = library.add_failed(CaptureSpec(url="https://broken.example/"), "DNS lookup failed")
    copies = DragCopies(tmp_path / "drag")
    try:
        copies.prepare([*ready, failed], TEMPLATE)
        wait_for(lambda: copies.ready_for([*ready, failed], TEMPLATE), "the copies")
        dragged = copies.files([*ready, failed], TEMPLATE)
        assert [p.name for p in dragged] == [f"drag0.example_{ready[0].id}.png"]
        assert copies.files([failed], TEMPLATE) == []
    finally:
        copies.close()


def test_a_failed_preparation_is_told_at_the_drag(library: Library, tmp_path: Path) -> None:
    caps = captures(library, 3)
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the drag folder should go")
    copies = DragCopies(blocked, at_once_limit=(2, 10**9))
    try:
        copies.prepare(caps, TEMPLATE)
        deadline = time.monotonic() + 20
        while True:  # "still being prepared" until the worker has failed
            with pytest.raises(StorageError) as info:
                copies.files(caps, TEMPLATE)
            if "still being prepared" not in str(info.value) or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        assert "could not be prepared: Could not save the files to drag" in str(info.value)
        assert "Export to folder" in info.value.hint
        # a small selection is copied at once and fails with the storage problem itself
        with pytest.raises(StorageError, match=f"Could not save the files to drag in {blocked}"):
            copies.files(caps[:1], TEMPLATE)
    finally:
        copies.close()
