"""Issue 5 in the window: the version timeline, the compare view, tags / notes / favourites, filters."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QItemSelectionModel, Qt

from shotdesk.core.library import Library
from shotdesk.ui.gallery_model import Role
from tests.gui.conftest import add_capture, fill, wait_until


def rows(win: Any) -> list[Any]:
    return [win.proxy.index(r, 0) for r in range(win.proxy.rowCount())]


def select(win: Any, row: int) -> None:
    flag = QItemSelectionModel.SelectionFlag.ClearAndSelect
    win.view.selectionModel().setCurrentIndex(rows(win)[row], flag)


def test_timeline_lists_versions_and_compare_shows_the_change(qtbot, window, library: Library) -> None:
    url = "https://shop.example/"
    old = add_capture(library, url, color=(200, 30, 30))
    mid = add_capture(library, url, color=(200, 30, 30))
    new = add_capture(library, url, color=(30, 30, 200))
    assert (old.version, mid.version, new.version) == (1, 2, 3)
    window.model.reload()
    select(window, 0)  # newest first: v3
    wait_until(qtbot, lambda: window.preview.versions_combo.count() == 3, what="the timeline")
    assert window.preview.versions_combo.itemText(0).startswith("v3 · ")
    assert window.preview.compare_button.isEnabled()
    # Pick v1 in the timeline: the preview shows it.
    window.preview.versions_combo.setCurrentIndex(2)
    window.preview.versions_combo.activated.emit(2)
    assert window.preview.capture.id == old.id
    # Back to v3 and compare with the version before it (v2): every pixel changed colour.
    window.preview.show_capture(window.model.capture_at(window.proxy.mapToSource(rows(window)[0])))
    window.preview.set_versions([new, mid, old])
    qtbot.mouseClick(window.preview.compare_button, Qt.MouseButton.LeftButton)
    dialog = window._compare_dialogs[-1]
    assert (dialog.a.id, dialog.b.id) == (mid.id, new.id)
    wait_until(qtbot, lambda: dialog.result_label.text() != "Comparing…", what="the diff")
    assert dialog.result_label.text() == "100.00 % of pixels changed"
    wait_until(qtbot, lambda: not dialog.canvas.a.isNull(), what="the pictures")
    for mode in ("side", "onion", "heat", "swipe"):
        dialog.set_mode(mode)
        assert dialog.mode == mode
        assert not dialog.canvas.grab().isNull()
    assert not dialog.canvas.heat.isNull()
    # Swipe: left of the line is the older picture (red), right of it the newer (blue).
    dialog.canvas.split = 0.5
    image = dialog.canvas.grab().toImage()
    left = image.pixelColor(image.width() // 4, image.height() // 2)
    right = image.pixelColor(image.width() * 3 // 4, image.height() // 2)
    assert left.red() > 150 and left.blue() < 80
    assert right.blue() > 150 and right.red() < 80


def test_identical_versions_compare_as_identical(qtbot, window, library: Library) -> None:
    a = add_capture(library, "https://same.example/", color=(10, 120, 10))
    b = add_capture(library, "https://same.example/", color=(10, 120, 10))
    dialog = window.open_compare(a, b)
    wait_until(qtbot, lambda: dialog.result_label.text() != "Comparing…", what="the diff")
    assert dialog.result_label.text() == "Identical — no pixel changed"


def test_favourite_tags_and_note_are_saved_and_filter_the_grid(qtbot, window, library: Library) -> None:
    caps = fill(library, 4)
    window.model.reload()
    select(window, 0)
    target = caps[3]
    assert window.preview.capture.id == target.id
    window.preview.favourite_button.click()
    wait_until(qtbot, lambda: (c := library.get(target.id)) is not None and c.favourite, what="favourite")
    window.preview.tags_edit.setText("client, Review")
    window.preview.tags_edit.editingFinished.emit()
    wait_until(qtbot, lambda: getattr(library.get(target.id), "tags", ()) == ("client", "review"),
               what="tags")
    window.preview.note_edit.setPlainText("Hero image is cut off on mobile")
    note = "Hero image is cut off on mobile"
    wait_until(qtbot, lambda: getattr(library.get(target.id), "note", "") == note, what="note")
    # The tile shows the star; the tag filter lists the tag and narrows the grid.
    wait_until(qtbot, lambda: rows(window)[0].data(Role.FAVOURITE), what="the tile update")
    wait_until(qtbot, lambda: window.filter_bar.tag_combo.findData("client") >= 0, what="the tag list")
    window.filter_bar.tag_combo.setCurrentIndex(window.filter_bar.tag_combo.findData("client"))
    assert [r.data(Role.ID) for r in rows(window)] == [target.id]
    window.filter_bar.tag_combo.setCurrentIndex(0)
    assert window.proxy.rowCount() == 4
    window.filter_bar.favourites_button.setChecked(True)
    assert [r.data(Role.ID) for r in rows(window)] == [target.id]
    window.filter_bar.favourites_button.setChecked(False)
    # The note is searchable.
    qtbot.keyClicks(window.filter_bar.search_edit, "mobile")
    qtbot.waitUntil(lambda: window.proxy.rowCount() == 1, timeout=3000)
