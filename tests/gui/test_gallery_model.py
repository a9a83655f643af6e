"""GalleryModel + GalleryFilterProxy over a real Library file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from PySide6.QtCore import QModelIndex

from shotdesk.core.library import Library
from shotdesk.core.spec import CaptureSpec
from shotdesk.ui.gallery_filter import GalleryFilter, GalleryFilterProxy
from shotdesk.ui.gallery_model import GalleryModel, Role
from tests.gui.conftest import add_capture, fill


def test_model_passes_the_model_tester_with_lazy_loading(qtmodeltester, library: Library) -> None:
    fill(library, 25)
    model = GalleryModel(library, batch_size=10)
    assert model.rowCount() == 10  # first batch only
    assert model.total == 25
    qtmodeltester.check(model, force_py=True)
    model.fetch_all()
    assert model.rowCount() == 25
    qtmodeltester.check(model)


def test_rows_are_newest_first_with_captions_and_paths(qapp, library: Library) -> None:
    caps = fill(library, 3)
    model = GalleryModel(library)
    ids = [model.index(r, 0).data(Role.ID) for r in range(3)]
    assert ids == [c.id for c in reversed(caps)]
    index = model.index(0, 0)
    assert index.data(Role.DOMAIN) == "site2.example"
    assert index.data().startswith("site2.example · 1280×720 · ")
    assert index.data(Role.THUMB_PATH).is_file()
    assert index.data(Role.BLOB_PATH).is_file()
    assert index.data(Role.STATUS) == "ready"


def test_queue_tiles_turn_into_gallery_rows(qtmodeltester, library: Library) -> None:
    fill(library, 3)
    model = GalleryModel(library)
    qtmodeltester.check(model, force_py=True)
    spec = CaptureSpec("https://new.example/")
    model.add_job(7, spec)
    assert model.rowCount() == 4
    assert model.index(0, 0).data(Role.KIND) == "job"
    model.update_job(7, 0.5, "Rendering")
    assert model.index(0, 0).data(Role.PROGRESS) == 0.5
    capture = add_capture(library, spec.url)
    model.finish_job(7, capture, False)
    assert model.rowCount() == 4
    assert model.index(0, 0).data(Role.ID) == capture.id
    assert model.total == 4
    # A later page does not bring the new row a second time.
    model.fetch_all()
    assert [model.index(r, 0).data(Role.ID) for r in range(model.rowCount())].count(capture.id) == 1


def test_failed_job_without_record_keeps_its_message(qapp, library: Library) -> None:
    model = GalleryModel(library)
    model.add_job(1, CaptureSpec("https://x.example/"))
    model.fail_job(1, "The gallery index is full", None)
    assert model.index(0, 0).data(Role.STATUS) == "failed"
    assert model.index(0, 0).data(Role.ERROR) == "The gallery index is full"
    model.remove_tile(0)
    assert model.rowCount() == 0


def test_filter_narrows_by_query_provider_format_and_status(qtmodeltester, library: Library) -> None:
    fill(library, 9)  # providers: snapsharp for i % 3 == 0; formats: jpeg for even i
    failed = library.add_failed(CaptureSpec("https://broken.example/"), "404")
    model = GalleryModel(library, batch_size=4)
    proxy = GalleryFilterProxy()
    proxy.setSourceModel(model)
    qtmodeltester.check(proxy)

    def apply(f: GalleryFilter) -> list[int]:
        model.set_filter(f)
        proxy.set_gallery_filter(f)
        model.fetch_all()
        return [proxy.index(r, 0).data(Role.ID) for r in range(proxy.rowCount())]

    assert len(apply(GalleryFilter())) == 10
    assert len(apply(GalleryFilter(query="site4"))) == 1
    assert len(apply(GalleryFilter(provider="snapsharp"))) == 3
    assert len(apply(GalleryFilter(format="jpeg"))) == 5  # even i
    assert apply(GalleryFilter(status="failed")) == [failed.id]
    assert len(apply(GalleryFilter(since=datetime.now(UTC) + timedelta(hours=1)))) == 0


def test_proxy_hides_a_row_that_stops_matching(qapp, library: Library) -> None:
    caps = fill(library, 3)
    model = GalleryModel(library)
    proxy = GalleryFilterProxy()
    proxy.setSourceModel(model)
    f = GalleryFilter(query="site1")
    model.set_filter(f)
    proxy.set_gallery_filter(f)
    assert proxy.rowCount() == 1
    # A queue tile is always shown, whatever the filter.
    model.add_job(3, CaptureSpec("https://other.example/"))
    assert proxy.rowCount() == 2
    # A row put in from outside (e.g. restored) that does not match stays hidden.
    model.put_capture(caps[2])
    assert proxy.rowCount() == 2


def test_sort_by_domain(qapp, library: Library) -> None:
    for host in ("b.example", "c.example", "a.example"):
        add_capture(library, f"https://{host}/")
    model = GalleryModel(library)
    proxy = GalleryFilterProxy()
    proxy.setSourceModel(model)
    proxy.set_gallery_filter(GalleryFilter(sort="domain"))
    assert [proxy.index(r, 0).data(Role.DOMAIN) for r in range(3)] == ["a.example", "b.example",
                                                                       "c.example"]
    proxy.set_gallery_filter(GalleryFilter(sort="newest"))
    assert [proxy.index(r, 0).data(Role.DOMAIN) for r in range(3)] == ["a.example", "c.example",
                                                                       "b.example"]


@pytest.mark.parametrize("batch", [1, 7])
def test_delete_and_restore_keep_order(qapp, library: Library, batch: int) -> None:
    caps = fill(library, 5)
    model = GalleryModel(library, batch_size=batch)
    model.fetch_all()
    library.delete(caps[2].id)
    model.forget_capture(caps[2].id)
    assert model.rowCount() == 4 and model.total == 4
    restored = library.restore(caps[2].id)
    assert restored is not None
    model.put_capture(restored)
    assert [model.index(r, 0).data(Role.ID) for r in range(5)] == [c.id for c in reversed(caps)]
    assert not model.canFetchMore(QModelIndex())


def test_later_pages_survive_changes_the_model_was_not_told_about(qapp, library: Library) -> None:
    """Another process (the CLI) deletes loaded rows and adds a capture while the window shows the
    first page: scrolling on brings every other row exactly once."""
    caps = fill(library, 25)
    model = GalleryModel(library, batch_size=10)
    assert model.rowCount() == 10
    library.delete(caps[-3].id)  # loaded rows (third and fifth newest); the model is not told
    library.delete(caps[-5].id)
    add_capture(library, "https://elsewhere.example/")  # newer than every loaded row
    model.fetch_all()
    shown = [model.index(r, 0).data(Role.ID) for r in range(model.rowCount())]
    expected = [c.id for c in reversed(caps)]
    assert shown == expected  # the deleted rows stay until a reload; none skipped, none twice
