"""Window regressions found in review: closed compare dialogs, context menus, timers at shutdown."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import QCoreApplication, QEvent, QPoint

from shotdesk.core.library import Library
from tests.gui.conftest import add_capture, wait_until

pytestmark = [pytest.mark.timeout(60)]



def delete_later_now() -> None:
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


def test_compare_again_after_closing_a_compare_window(qtbot: Any, window: Any, library: Library) -> None:
    a = add_capture(library, "https://twice.example/", color=(200, 30, 30))
    b = add_capture(library, "https://twice.example/", color=(30, 30, 200))
    first = window.open_compare(a, b)
    wait_until(qtbot, lambda: first.result_label.text() != "Comparing…", what="the first diff")
    first.close()  # WA_DeleteOnClose: the C++ dialog goes away
    delete_later_now()
    second = window.open_compare(a, b)
    wait_until(qtbot, lambda: second.result_label.text() != "Comparing…", what="the second diff")
    assert second.result_label.text() == "100.00 % of pixels changed"
    second.close()


def test_context_menus_do_not_pile_up_on_the_window(qtbot: Any, window: Any, library: Library) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QMenu

    add_capture(library, "https://menu.example/")
    window.model.reload()
    wait_until(qtbot, lambda: window.proxy.rowCount() == 1, what="the tile")
    centre: QPoint = window.view.visualRect(window.proxy.index(0, 0)).center()

    def menus() -> list[QMenu]:
        found: list[QMenu] = window.findChildren(QMenu, options=Qt.FindChildOption.FindDirectChildrenOnly)
        return found

    before = len(menus())
    for _ in range(3):
        window._context_menu(centre)
        assert window._menu.actions(), "the menu lists the tile's actions"
        window._menu.close()
        delete_later_now()
    assert len(menus()) == before


def test_shutdown_stops_the_window_timers(qtbot: Any, window: Any) -> None:
    """A timer firing after shutdown would start work on the closed task registry."""
    window._facets_timer.start()  # e.g. a refresh batch cancelled by the shutdown itself
    window.undo_button.show()
    window._undo_timer.start()
    window.close()
    wait_until(qtbot, lambda: window._closed, what="shutdown")
    assert [t.isActive() for t in (window._facets_timer, window._caption_timer, window._undo_timer)] == \
        [False, False, False]


def test_a_note_typed_just_before_selecting_another_tile_is_saved(qtbot: Any, window: Any,
                                                                  library: Library) -> None:
    from PySide6.QtCore import QItemSelectionModel

    first = add_capture(library, "https://note-one.example/")
    second = add_capture(library, "https://note-two.example/")
    window.model.reload()
    wait_until(qtbot, lambda: window.proxy.rowCount() == 2, what="the tiles")
    flag = QItemSelectionModel.SelectionFlag.ClearAndSelect
    window.view.selectionModel().setCurrentIndex(window.proxy.index(1, 0), flag)  # oldest: first
    assert window.preview.capture.id == first.id
    window.preview.note_edit.setPlainText("Check the footer")  # the save is debounced…
    window.view.selectionModel().setCurrentIndex(window.proxy.index(0, 0), flag)  # …and we move on
    assert window.preview.capture.id == second.id
    wait_until(qtbot, lambda: getattr(library.get(first.id), "note", "") == "Check the footer",
               timeout_s=5, what="the note of the first capture")
    assert getattr(library.get(second.id), "note", None) == ""


def test_a_note_typed_just_before_closing_the_window_is_saved(qtbot: Any, window: Any,
                                                              library: Library) -> None:
    from PySide6.QtCore import QItemSelectionModel

    capture = add_capture(library, "https://note-close.example/")
    window.model.reload()
    wait_until(qtbot, lambda: window.proxy.rowCount() == 1, what="the tile")
    window.view.selectionModel().setCurrentIndex(window.proxy.index(0, 0),
                                                 QItemSelectionModel.SelectionFlag.ClearAndSelect)
    window.preview.note_edit.setPlainText("Last words")
    window.close()
    wait_until(qtbot, lambda: window._closed, what="shutdown")
    assert getattr(library.get(capture.id), "note", "") == "Last words"


def test_dragged_files_are_named_like_exported_ones(qtbot: Any, window: Any, library: Library,
                                                    tmp_path: Any) -> None:
    """One file-name template, one naming: a tile dragged out and the same tile exported to a
    folder get the same name (time, path and device tokens included)."""
    from pathlib import Path

    from shotdesk.core.export import export_folder
    from shotdesk.ui.gallery_model import Role

    capture = add_capture(library, "https://names.example/")
    template = "{domain}_{path}_{device}_{date}_{time}.{ext}"
    window.ctx.settings.filename_template = template
    window.model.reload()
    wait_until(qtbot, lambda: window.proxy.rowCount() == 1, what="the tile")
    index = window.proxy.index(0, 0)
    assert index.data(Role.CAPTURE).id == capture.id
    mime = window._drag_mime([index])
    dragged = [Path(u.toLocalFile()).name for u in mime.urls()]
    exported = export_folder([capture], tmp_path / "out", template=template)
    assert dragged == list(exported.files.values())
