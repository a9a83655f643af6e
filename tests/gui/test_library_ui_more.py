"""Issue 5 in the window, part 2: exports, refresh, start-up integrity and recovery, domain /
viewport filters, the Similar view and responsive sheets — driven through the window."""

from __future__ import annotations

import asyncio
import io
import time
import zipfile
from collections.abc import Iterator
from datetime import date, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from PIL import Image, ImageDraw
from PySide6.QtCore import QDate, QItemSelectionModel, Qt

from shotdesk import paths
from shotdesk.capture.base import CaptureResult
from shotdesk.core.devices import devices
from shotdesk.core.library import Capture, Library
from shotdesk.core.spec import CaptureSpec
from shotdesk.ui.gallery_delegate import GalleryDelegate
from shotdesk.ui.gallery_model import Role
from tests.gui.conftest import FakePipeline, add_capture, fill, make_window, wait_until

DAY = 86_400.0


def open_window(qtbot: Any, pipeline: Any, tasks: Any, prefs: Any) -> Any:
    win = make_window(pipeline, tasks, prefs)
    qtbot.addWidget(win)
    win.show()
    return win


def close_window(qtbot: Any, win: Any) -> None:
    if not win._closed:
        win.close()
        wait_until(qtbot, lambda: win._closed, what="shutdown")


@pytest.fixture
def window(qtbot, qloop, tasks, library, prefs) -> Iterator[Any]:
    win = open_window(qtbot, FakePipeline(library), tasks, prefs)
    yield win
    close_window(qtbot, win)


def rows(win: Any) -> list[Any]:
    return [win.proxy.index(r, 0) for r in range(win.proxy.rowCount())]


def shown_ids(win: Any) -> list[int]:
    return [r.data(Role.ID) for r in rows(win)]


def select(win: Any, row: int) -> None:
    flag = QItemSelectionModel.SelectionFlag.ClearAndSelect
    win.view.selectionModel().setCurrentIndex(rows(win)[row], flag)


def choose_file(dialog: Any, path: Path) -> None:
    """What a person does in the (non-modal) file dialog: pick the path and press the button."""
    dialog.selectFile(str(path))
    dialog.accept()


def decodes(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as img:
        img.load()
        return img.size


# ------------------------------------------------------------------------------------------ export
class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.srcs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "a" and values.get("href"):
            self.hrefs.append(str(values["href"]))
        if tag == "img" and values.get("src"):
            self.srcs.append(str(values["src"]))


def test_export_selection_to_zip_and_html_contact_sheet(qtbot, window, library: Library,
                                                        tmp_path: Path) -> None:
    caps = fill(library, 3)
    window.model.reload()
    window.view.selectAll()
    assert {c.id for c in window.selected_captures()} == {c.id for c in caps}
    assert window.export_zip_action.isEnabled() and window.export_html_action.isEnabled()

    # Zip: through the file dialog, progress in the status bar, a notice with Reveal at the end.
    zip_path = tmp_path / "out" / "review.zip"
    zip_path.parent.mkdir()
    dialog = window.export_selection_as("zip")
    choose_file(dialog, zip_path)
    wait_until(qtbot, lambda: window.message_bar.isVisible() and "Exported" in window.message_bar.text,
               what="the zip export notice")
    assert window.message_bar.text.startswith("Exported 3 capture(s) into ")
    assert window.message_bar.button("Reveal") is not None
    assert not window.task_progress.isVisible()
    with zipfile.ZipFile(zip_path) as zf:
        names = zf.namelist()
        images = [n for n in names if n != "manifest.json"]
        assert "manifest.json" in names and len(images) == 3
        for name in images:
            assert name.startswith("site") and "_160x90_" in name  # the settings' template
            assert decodes(zf.read(name)) == (160, 90)

    # HTML contact sheet: into a new folder inside the chosen one; links resolve, images decode.
    sheets = tmp_path / "sheets"
    sheets.mkdir()
    (sheets / "keep.txt").write_text("not touched")
    window.message_bar.hide()
    dialog = window.export_selection_as("html")
    choose_file(dialog, sheets)
    wait_until(qtbot, window.message_bar.isVisible, what="the contact sheet notice")
    assert "as a contact sheet in" in window.message_bar.text, window.message_bar.text
    assert window.message_bar.button("Open") is not None
    [folder] = [p for p in sheets.iterdir() if p.is_dir()]
    assert (sheets / "keep.txt").read_text() == "not touched"
    index = folder / "index.html"
    parser = _Links()
    parser.feed(index.read_text(encoding="utf-8"))
    local = [h for h in parser.hrefs if not h.startswith(("http:", "https:"))]
    assert len(local) == 3 and len(parser.srcs) == 3
    for link in local + parser.srcs:
        target = folder / unquote(link)
        assert target.is_file(), link
        w, h = decodes(target.read_bytes())
        assert w > 0 and h > 0
    assert {h for h in parser.hrefs if h.startswith("https:")} == {c.url for c in caps}


def test_export_of_a_capture_whose_file_is_gone_says_why(qtbot, window, library: Library,
                                                         tmp_path: Path) -> None:
    cap = add_capture(library, "https://gone.example/")
    window.model.reload()
    select(window, 0)
    assert cap.blob_path is not None
    cap.blob_path.unlink()
    window.export_to("zip", [cap], tmp_path / "x.zip")
    wait_until(qtbot, window.message_bar.isVisible, what="the error notice")
    assert window.message_bar.kind == "error"
    assert "Nothing was exported" in window.message_bar.text and "missing" in window.message_bar.text
    assert not (tmp_path / "x.zip").exists()
    assert not window.task_label.isVisible()


# ------------------------------------------------------------------------------------------ refresh
@pytest.fixture
def clock() -> list[float]:
    return [time.time()]


@pytest.fixture
def aged_library(clock: list[float]) -> Iterator[Library]:
    lib = Library(clock=lambda: clock[0])
    yield lib
    lib.close()


def test_refresh_older_than_queues_recaptures_and_keeps_versions(qtbot, qloop, tasks, prefs, clock,
                                                                 aged_library: Library) -> None:
    old = [add_capture(aged_library, f"https://old{i}.example/") for i in range(3)]
    clock[0] += 10 * DAY
    fresh = add_capture(aged_library, "https://fresh.example/")
    pipeline = FakePipeline(aged_library)
    win = open_window(qtbot, pipeline, tasks, prefs)
    try:
        # Nothing is older than 30 days: nothing queued, and the notice says so.
        batch = win.refresh_older_than(30 * DAY)
        wait_until(qtbot, lambda: batch.is_done, what="the empty refresh")
        assert pipeline.calls == []
        assert "Nothing to re-capture" in win.message_bar.text

        batch = win.refresh_older_than(7 * DAY)
        assert win.task_cancel_button.isVisible()
        wait_until(qtbot, lambda: batch.is_done, what="the refresh")
        assert sorted(spec.url for spec, _use_cache, _r in pipeline.calls) == sorted(c.url for c in old)
        assert all(use_cache is False for _s, use_cache, _r in pipeline.calls)  # never from the cache
        for c in old:
            versions = aged_library.versions(c.key)
            assert [v.version for v in versions] == [2, 1]  # the old version is kept
            assert versions[0].status == "ready"
            assert versions[0].blob_path is not None and versions[0].blob_path.is_file()
        assert [v.version for v in aged_library.versions(fresh.key)] == [1]
        assert win.message_bar.text.startswith("Re-captured 3 of 3 page(s)")
        assert not win.task_progress.isVisible()
        wait_until(qtbot, lambda: win.model.total == 7, what="the new versions in the grid")
    finally:
        close_window(qtbot, win)


def test_refresh_selection_can_be_cancelled(qtbot, window, library: Library) -> None:
    caps = fill(library, 3)
    window.model.reload()
    window.view.selectAll()
    pipeline: FakePipeline = window.ctx.pipeline
    pipeline.gate = asyncio.Event()  # hold every capture
    batch = window.refresh_selection()
    wait_until(qtbot, lambda: batch.total == 3, what="three re-captures queued")
    assert window.task_cancel_button.isVisible()
    assert window.queue_label.text().startswith("Queue: 2 running · 1 waiting")
    qtbot.mouseClick(window.task_cancel_button, Qt.MouseButton.LeftButton)
    wait_until(qtbot, lambda: batch.is_done, what="the cancelled refresh")
    assert batch.cancelled and batch.captures == []
    assert window.capture_service.is_idle()
    assert "cancelled" in window.message_bar.text
    for c in caps:
        assert [v.version for v in library.versions(c.key)] == [1]  # nothing stored


# ------------------------------------------------------------------------- integrity and recovery
def test_corrupt_index_at_start_shows_the_recovery_and_the_window_works(qtbot, qloop, tasks,
                                                                         prefs) -> None:
    good = Library()
    cap = add_capture(good, "https://before.example/")
    good.close()
    index = paths.index_path()
    index.write_bytes(b"this is not an SQLite database" * 400)
    library = Library()
    assert library.recovery is not None
    win = open_window(qtbot, FakePipeline(library), tasks, prefs)
    try:
        assert win.message_bar.isVisible() and win.message_bar.kind == "warning"
        assert "moved aside" in win.message_bar.text and "damaged" in win.message_bar.text
        assert win.message_bar.button("Show recovered") is not None
        # The picture of the lost row was re-adopted, tagged "recovered".
        win.message_bar.button("Show recovered").click()
        wait_until(qtbot, lambda: win.proxy.rowCount() == 1, what="the recovered capture")
        assert rows(win)[0].data(Role.TAGS) == ("recovered",)
        assert rows(win)[0].data(Role.STATUS) == "ready"
        assert cap.blob_path is not None and cap.blob_path.is_file()
        win.filter_bar.set_tag(None)
        # Captures still work after the recovery.
        [job] = win.capture_urls(["https://after.example/"])
        wait_until(qtbot, lambda: win.model.row_of_job(job) < 0 and any(
            r.data(Role.URL) == "https://after.example/" and r.data(Role.STATUS) == "ready"
            for r in rows(win)), what="a capture after the recovery")
        assert library.count(domain="after.example") == 1
    finally:
        close_window(qtbot, win)
        library.close()


def test_startup_check_marks_missing_files_and_one_click_recaptures(qtbot, qloop, tasks, prefs,
                                                                    library: Library) -> None:
    keep, lost = add_capture(library, "https://keep.example/"), add_capture(library, "https://lost.example/",
                                                                             color=(20, 20, 200))
    assert lost.blob_path is not None
    lost.blob_path.unlink()  # the OS cleaned the cache folder
    pipeline = FakePipeline(library)
    win = open_window(qtbot, pipeline, tasks, prefs)
    try:
        wait_until(qtbot, lambda: "lost their picture files" in win.message_bar.text, what="the check")
        assert win.message_bar.text.startswith("1 capture(s) lost their picture files")
        assert getattr(library.get(lost.id), "status", None) == "missing"
        assert getattr(library.get(keep.id), "status", None) == "ready"
        row = next(r for r in rows(win) if r.data(Role.ID) == lost.id)
        assert row.data(Role.STATUS) == "missing"
        assert GalleryDelegate.buttons_for(row) == ["recapture"]
        assert "re-capture" in str(row.data(Qt.ItemDataRole.ToolTipRole))
        win.message_bar.button("Show missing").click()
        assert shown_ids(win) == [lost.id]
        win.filter_bar.set_status(None)
        win.message_bar.button("Re-capture missing").click()
        wait_until(qtbot, lambda: len(library.versions(lost.key)) == 2, what="the re-capture")
        newest = library.versions(lost.key)[0]
        assert newest.status == "ready" and newest.blob_path is not None and newest.blob_path.is_file()
        assert [spec.url for spec, _c, _r in pipeline.calls] == ["https://lost.example/"]
    finally:
        close_window(qtbot, win)


# ------------------------------------------------------------------------------------------ filters
def test_domain_and_viewport_filters_narrow_the_grid(qtbot, window, library: Library) -> None:
    fill(library, 4)
    a = add_capture(library, "https://site1.example/pricing")
    b = add_capture(library, "https://blog.site1.example/post")
    phone = add_capture(library, "https://site2.example/m", width=390, height=844)
    window.model.reload()
    window.gallery_service.load_facets()
    bar = window.filter_bar
    wait_until(qtbot, lambda: bar.domain_combo.findData("site1.example") >= 0, what="the domain list")
    assert window.proxy.rowCount() == 7
    bar.domain_combo.setCurrentIndex(bar.domain_combo.findData("site1.example"))
    assert {r.data(Role.DOMAIN) for r in rows(window)} <= {"site1.example", "blog.site1.example"}
    assert {a.id, b.id} <= set(shown_ids(window)) and window.proxy.rowCount() == 3
    assert bar.count_label.text() == "3 captures"
    bar.domain_combo.setCurrentIndex(0)
    wait_until(qtbot, lambda: bar.viewport_combo.findData("390x844") >= 0, what="the viewport list")
    bar.viewport_combo.setCurrentIndex(bar.viewport_combo.findData("390x844"))
    assert shown_ids(window) == [phone.id]
    bar.viewport_combo.setCurrentIndex(0)
    assert window.proxy.rowCount() == 7


def test_custom_date_range_narrows_the_grid(qtbot, window, library: Library) -> None:
    """"A page before and after a release": captures from a range of days, both days included."""
    march = [add_capture(library, f"https://march{i}.example/") for i in range(3)]
    april = add_capture(library, "https://april.example/")
    recent = add_capture(library, "https://recent.example/")

    def local(y: int, m: int, d: int, hour: int) -> float:
        return datetime(y, m, d, hour, 30).astimezone().timestamp()  # local time, as the user sees it

    with library._tx() as db:  # when they were captured
        for cap, when in zip(march, (local(2026, 3, 1, 0), local(2026, 3, 15, 12), local(2026, 3, 31, 23)),
                             strict=True):
            db.execute("UPDATE captures SET captured_at = ? WHERE id = ?", (when, cap.id))
        db.execute("UPDATE captures SET captured_at = ? WHERE id = ?", (local(2026, 4, 1, 0), april.id))
    window.model.reload()
    bar = window.filter_bar
    assert not bar.from_date.isVisible()
    bar.set_date_range(date(2026, 3, 1), date(2026, 3, 31))
    assert bar.from_date.isVisible() and bar.to_date.isVisible()
    assert sorted(shown_ids(window)) == sorted(c.id for c in march)
    assert bar.count_label.text() == "3 captures"
    # "until" cannot go before "from": moving "from" past it moves it along
    bar.from_date.setDate(QDate(2026, 3, 20))
    assert bar.to_date.date() == QDate(2026, 3, 31)
    assert shown_ids(window) == [march[2].id]
    bar.from_date.setDate(QDate(2026, 4, 1))
    assert bar.to_date.date() == QDate(2026, 4, 1)
    assert shown_ids(window) == [april.id]
    # a capture finishing now is outside the range: the proxy hides it too
    window.model.put_capture(add_capture(library, "https://later.example/"))
    assert shown_ids(window) == [april.id]
    bar.date_combo.setCurrentIndex(0)  # any time
    assert not bar.from_date.isVisible()
    assert recent.id in shown_ids(window) and window.proxy.rowCount() == 6


def _pattern(kind: str, shade: int = 0) -> bytes:
    img = Image.new("RGB", (320, 180), (255, 255, 255))
    d = ImageDraw.Draw(img)
    if kind == "left":
        d.rectangle((0, 0, 159, 179), fill=(shade, shade, shade))
    elif kind == "top":
        d.rectangle((0, 0, 319, 89), fill=(shade, shade, shade))
    else:  # stripes
        for x in range(0, 320, 40):
            d.rectangle((x, 0, x + 19, 179), fill=(shade, shade, shade))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def _add_picture(library: Library, url: str, data: bytes) -> Capture:
    spec = CaptureSpec(url=url)
    return library.add(spec, CaptureResult(data, "image/png", 320, 180, "local", {}, url, url), elapsed_ms=1)


def test_show_similar_narrows_to_the_group(qtbot, window, library: Library) -> None:
    left1 = _add_picture(library, "https://a.example/1", _pattern("left", 0))
    left2 = _add_picture(library, "https://a.example/2", _pattern("left", 12))
    top1 = _add_picture(library, "https://b.example/1", _pattern("top", 0))
    top2 = _add_picture(library, "https://b.example/2", _pattern("top", 10))
    lone = _add_picture(library, "https://c.example/", _pattern("stripes", 0))
    window.model.reload()
    assert window.proxy.rowCount() == 5
    row = next(n for n, r in enumerate(rows(window)) if r.data(Role.ID) == left2.id)
    select(window, row)
    assert window.similar_action.isEnabled()
    window.similar_action.trigger()
    wait_until(qtbot, lambda: window.proxy.rowCount() == 2, what="the similar group")
    assert set(shown_ids(window)) == {left1.id, left2.id}
    assert window.filter_bar.ids_chip.isVisible()
    assert window.filter_bar.ids_chip.text().startswith(f"Similar to #{left2.id}")
    window.filter_bar.ids_chip.click()  # back to the whole gallery
    assert window.proxy.rowCount() == 5 and not window.filter_bar.ids_chip.isVisible()
    # The Similar toggle shows every group, each kept together; the lone capture is left out.
    window.filter_bar.similar_button.setChecked(True)
    wait_until(qtbot, lambda: window.proxy.rowCount() == 4, what="the groups")
    ids = shown_ids(window)
    assert lone.id not in ids
    pairs = [{ids[0], ids[1]}, {ids[2], ids[3]}]
    assert sorted(pairs, key=min) == sorted([{left1.id, left2.id}, {top1.id, top2.id}], key=min)
    window.filter_bar.similar_button.setChecked(False)
    assert window.proxy.rowCount() == 5


# ------------------------------------------------------------------------------- responsive sheet
def test_responsive_sheet_captures_missing_presets_then_draws_the_sheet(qtbot, window, library: Library,
                                                                       tmp_path: Path) -> None:
    cap = add_capture(library, "https://shop.example/")
    window.model.reload()
    select(window, 0)
    names = [next(d.name for d in devices() if d.kind == "phone"),
             next(d.name for d in devices() if d.kind == "tablet")]
    dialog = window.responsive_sheet_dialog()
    assert dialog is not None and dialog.chosen()  # sensible presets ticked at first
    dialog.set_chosen(names)
    dialog.buttons.accepted.emit()  # "Make sheet…": asks where to save
    save = window._export_dialog
    out = tmp_path / "sheet.png"
    choose_file(save, out)
    pipeline: FakePipeline = window.ctx.pipeline
    wait_until(qtbot, lambda: "Responsive sheet saved" in window.message_bar.text, what="the sheet")
    assert sorted(spec.device or "" for spec, _c, _r in pipeline.calls) == sorted(names)
    assert all(spec.url == cap.url for spec, _c, _r in pipeline.calls)
    w, h = decodes(out.read_bytes())
    assert w > 2 * 80 and h > 90
    assert window.message_bar.button("Reveal") is not None
    # Made again: the presets are in the gallery now, nothing is captured twice.
    before = len(pipeline.calls)
    batch = window.make_responsive_sheet(cap, names, tmp_path / "again.png")
    wait_until(qtbot, (tmp_path / "again.png").is_file, what="the second sheet")
    assert batch.total == 0 and len(pipeline.calls) == before
