"""The window with a stand-in pipeline (real Library, real images, no browser).

What a person does: type an address and press Enter, see the tile; a failing page shows its error
and Retry works; drag tiles out as named files; drop links in; filter the grid; the options the
provider cannot honour are greyed out. The same flows through the real engine are in
test_window_capture.py.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QItemSelectionModel, QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent, QImage
from PySide6.QtWidgets import QApplication

from shotdesk.core.library import Library
from shotdesk.ui.gallery_model import Role
from tests.gui.conftest import FakePipeline, fill, make_window, wait_until


@pytest.fixture
def pipeline(library: Library) -> FakePipeline:
    return FakePipeline(library)


@pytest.fixture
def window(qtbot, qloop, tasks, pipeline, prefs) -> Any:
    win = make_window(pipeline, tasks, prefs)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    yield win
    if not win._closed:
        win.close()  # runs the window's shutdown coroutine (queue, tasks, pipeline)
        wait_until(qtbot, lambda: win._closed, what="the window's shutdown")


def select_first(win: Any) -> None:
    win.view.selectionModel().setCurrentIndex(rows(win)[0], QItemSelectionModel.SelectionFlag.ClearAndSelect)


def rows(win: Any) -> list[Any]:
    return [win.proxy.index(r, 0) for r in range(win.proxy.rowCount())]


def test_typing_an_address_and_enter_gives_a_tile_with_a_thumbnail(qtbot, qloop, window, library) -> None:
    qtbot.keyClicks(window.capture_bar.url_edit, "shop.example/sale")
    assert window.capture_bar.status_label.text() == "→ https://shop.example/sale"
    qtbot.keyClick(window.capture_bar.url_edit, Qt.Key.Key_Return)
    assert window.proxy.rowCount() == 1
    assert rows(window)[0].data(Role.KIND) == "job"

    def ready() -> bool:
        return bool(rows(window)) and rows(window)[0].data(Role.STATUS) == "ready"

    wait_until(qtbot, ready, what="the tile to turn ready")
    index = rows(window)[0]
    capture = index.data(Role.CAPTURE)
    assert capture.url == "https://shop.example/sale"
    assert capture.blob_path.is_file() and capture.thumb_path.is_file()
    assert library.get(capture.id) is not None
    # The delegate asks for the thumbnail; it arrives off the GUI thread and gets painted.
    window.view.viewport().repaint()
    wait_until(qtbot, lambda: window.thumbnails.cache_bytes > 0, what="the thumbnail")
    tile = window.view.visualRect(index)
    shot = window.view.viewport().grab(tile).toImage()
    thumb = window.delegate.thumb_rect(tile.translated(-tile.topLeft()))
    colour = shot.pixelColor(thumb.center().x() * shot.width() // tile.width(),
                             thumb.center().y() * shot.height() // tile.height())
    assert (colour.red(), colour.green(), colour.blue()) == pytest.approx((30, 160, 60), abs=12)
    assert window.capture_bar.history()[0] == "https://shop.example/sale"


def test_an_invalid_address_is_explained_and_not_captured(qtbot, window, pipeline) -> None:
    qtbot.keyClicks(window.capture_bar.url_edit, "javascript:alert(1)")
    assert "Only http and https" in window.capture_bar.status_label.text()
    qtbot.keyClick(window.capture_bar.url_edit, Qt.Key.Key_Return)
    assert window.proxy.rowCount() == 0 and pipeline.calls == []


def test_failure_shows_its_message_on_the_tile_and_retry_works(qtbot, qloop, window, pipeline,
                                                               library) -> None:
    pipeline.fail_hosts.add("soon.example")
    window.capture_bar.url_edit.setText("https://soon.example/")
    window.capture_bar.request_capture()
    wait_until(qtbot, lambda: rows(window)[0].data(Role.STATUS) == "failed", what="failure")
    index = rows(window)[0]
    assert "404 Not Found" in index.data(Role.ERROR)
    assert "404 Not Found" in index.data(Qt.ItemDataRole.ToolTipRole)
    failed_id = index.data(Role.ID)

    pipeline.fail_hosts.clear()  # the page exists now
    # Click the tile's Retry button.
    rect = window.view.visualRect(index)
    button = window.delegate.button_rect(rect, "retry")
    qtbot.mouseClick(window.view.viewport(), Qt.MouseButton.LeftButton, pos=button.center())
    wait_until(qtbot, lambda: rows(window) and rows(window)[0].data(Role.STATUS) == "ready",
               what="retry")
    assert window.proxy.rowCount() == 1
    assert library.get(failed_id) is None  # the failed row was replaced
    assert rows(window)[0].data(Role.URL) == "https://soon.example/"


def test_drag_out_gives_existing_files_with_template_names(qtbot, qloop, window, library,
                                                           monkeypatch) -> None:
    caps = fill(library, 3)
    window.model.reload()
    sel = window.view.selectionModel()
    for index in rows(window)[:2]:
        sel.select(index, QItemSelectionModel.SelectionFlag.Select)
    dragged: list[QMimeData] = []

    def fake_exec(drag: Any) -> Qt.DropAction:
        dragged.append(drag.mimeData())
        return Qt.DropAction.CopyAction

    monkeypatch.setattr(window.view, "exec_drag", fake_exec)
    # Selecting started the copies in a worker thread; the drag hands over those very files.
    template = window.ctx.settings.filename_template
    wait_until(qtbot, lambda: window.drag_copies.ready_for(window.selected_captures(), template),
               what="the files to drag")
    window.view.startDrag(Qt.DropAction.CopyAction)
    (mime,) = dragged
    files = [Path(u.toLocalFile()) for u in mime.urls()]
    assert len(files) == 2 and all(f.is_file() for f in files)
    assert len({f.parent for f in files}) == 1
    assert sorted(files[0].parent.iterdir()) == sorted(files)  # made ahead, nothing else there
    pattern = re.compile(r"^site[12]\.example_160x90_\d{4}-\d{2}-\d{2}\.(png|jpg)$")
    assert all(pattern.match(f.name) for f in files), [f.name for f in files]
    blob = caps[2].blob_path
    assert blob is not None
    assert files[0].read_bytes() == blob.read_bytes()
    assert files[0].parent != blob.parent  # a copy, not the cached blob

    # One tile: the image data travels too.
    sel.clearSelection()
    sel.select(rows(window)[0], QItemSelectionModel.SelectionFlag.Select)
    window.view.startDrag(Qt.DropAction.CopyAction)
    single = dragged[-1]
    assert len(single.urls()) == 1 and single.hasImage()
    image = QImage(single.imageData())  # decoded when the drop asks, not when the drag starts
    assert (image.width(), image.height()) == (160, 90)
    (single_file,) = [Path(u.toLocalFile()) for u in single.urls()]
    media = "image/png" if single_file.suffix == ".png" else "image/jpeg"
    assert single.hasFormat(media)
    assert bytes(single.data(media).data()) == single_file.read_bytes()


def test_dropping_a_link_queues_a_capture(qtbot, qloop, window, pipeline) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl("https://dropped.example/path")])
    event = QDropEvent(QPointF(20, 20), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    window.view.dropEvent(event)
    assert rows(window)[0].data(Role.URL) == "https://dropped.example/path"
    wait_until(qtbot, lambda: pipeline.calls, what="the capture to start")
    assert pipeline.calls[0][0].url == "https://dropped.example/path"


def test_dropping_text_and_link_files_queues_each_address(qtbot, qloop, window, pipeline, tmp_path) -> None:
    webloc = tmp_path / "a.webloc"
    webloc.write_bytes(b'<?xml version="1.0"?><plist version="1.0"><dict><key>URL</key>'
                       b"<string>https://webloc.example/</string></dict></plist>")
    url_file = tmp_path / "b.url"
    url_file.write_text("[InternetShortcut]\nURL=https://shortcut.example/x\n")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(webloc)), QUrl.fromLocalFile(str(url_file))])
    window.dropEvent(QDropEvent(QPointF(5, 5), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                                Qt.KeyboardModifier.NoModifier))
    text = QMimeData()
    text.setText("see https://one.example/a and https://two.example/b, thanks")
    window.view.dropEvent(QDropEvent(QPointF(5, 5), Qt.DropAction.CopyAction, text,
                                     Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier))
    urls = {r.data(Role.URL) for r in rows(window)}
    assert urls == {"https://webloc.example/", "https://shortcut.example/x", "https://one.example/a",
                    "https://two.example/b"}
    wait_until(qtbot, window.capture_service.is_idle, what="queue")


def test_pasting_a_url_into_the_grid_queues_it(qtbot, qloop, window) -> None:
    QApplication.clipboard().setText("https://pasted.example/")
    window.view.setFocus()
    window.paste_action.trigger()
    assert rows(window)[0].data(Role.URL) == "https://pasted.example/"
    wait_until(qtbot, window.capture_service.is_idle, what="queue")


def test_search_narrows_the_grid(qtbot, qloop, window, library) -> None:
    fill(library, 12)
    window.apply_filter(window.filter_bar.current_filter())
    assert window.proxy.rowCount() == 12
    qtbot.keyClicks(window.filter_bar.search_edit, "site11")
    qtbot.waitUntil(lambda: window.proxy.rowCount() == 1, timeout=3000)
    assert rows(window)[0].data(Role.URL) == "https://site11.example/page"
    assert window.filter_bar.count_label.text() == "1 capture"
    window.filter_bar.search_edit.clear()
    qtbot.waitUntil(lambda: window.proxy.rowCount() == 12, timeout=3000)
    window.filter_bar.provider_combo.setCurrentIndex(window.filter_bar.provider_combo.findData("snapsharp"))
    assert window.proxy.rowCount() == 4


def test_options_the_provider_cannot_honour_are_disabled_with_a_reason(qtbot, window) -> None:
    opts = window.options
    assert opts.cookie_check.isEnabled()
    window.capture_bar.set_provider("snapsharp")
    assert not opts.cookie_check.isEnabled()
    assert "no cookie-banner option" in opts.cookie_check.toolTip()
    assert not opts.wait_combo.isEnabled()
    pdf_row = opts.format_combo.findData("pdf")
    assert not opts.format_combo.model().item(pdf_row).isEnabled()
    # The spec built now is one SnapSharp can take: the greyed-out options stay at their defaults.
    opts.cookie_check.setChecked(True)
    window.capture_bar.url_edit.setText("example.com")
    spec = window.capture_bar.spec()
    assert spec.provider == "snapsharp" and spec.hide_cookie_banners is False
    window.capture_bar.set_key_states({"snapsharp": False})
    assert "needs an API key" in window.capture_bar.key_label.text()
    window.capture_bar.set_key_states({"snapsharp": True})
    assert "key stored" in window.capture_bar.provider_combo.currentText()


def test_output_size_follows_device_and_scale(qtbot, window) -> None:
    opts = window.options
    opts.width_spin.setValue(1280)
    opts.height_spin.setValue(720)
    opts.scale_spin.setValue(2)
    assert opts.output_label.text() == "1280×720 @2× → 2560×1440 px"
    opts.device_combo.setCurrentIndex(opts.device_combo.findData("iPhone 15"))
    assert opts.output_label.text() == "393×852 @3× → 1179×2556 px"
    opts.width_spin.setValue(400)  # edited by hand: a custom size now
    assert opts.device_combo.currentData() is None


def test_delete_and_undo(qtbot, qloop, window, library) -> None:
    caps = fill(library, 3)
    window.model.reload()
    select_first(window)
    window.delete_selected()
    wait_until(qtbot, lambda: window.proxy.rowCount() == 2, what="delete")
    assert library.get(caps[2].id) is None
    assert window.undo_button.isVisible()
    window.undo_delete()
    wait_until(qtbot, lambda: window.proxy.rowCount() == 3, what="undo")
    assert rows(window)[0].data(Role.ID) == caps[2].id


def test_preview_shows_the_picture_and_details(qtbot, qloop, window, library) -> None:
    fill(library, 2)
    window.model.reload()
    select_first(window)
    wait_until(qtbot, lambda: not window.preview.canvas.image().isNull(), what="preview")
    assert window.preview.canvas.image().size().toTuple() == (160, 90)
    assert "site1.example" in window.preview.meta.text()
    assert "160×90 px" in window.preview.meta.text()
    window.preview.set_zoom("actual")
    assert window.preview.canvas.display_size.toTuple() == (160, 90)


def test_context_menu_and_actions_exist_with_accessible_names(qtbot, window) -> None:
    from PySide6.QtWidgets import (
        QAbstractButton,
        QAbstractSpinBox,
        QComboBox,
        QLineEdit,
        QPlainTextEdit,
        QWidget,
    )

    controls = (QAbstractButton, QAbstractSpinBox, QComboBox, QLineEdit, QPlainTextEdit)
    window.options.advanced_button.setChecked(True)  # the fold's controls count too
    unnamed = [w for w in window.findChildren(QWidget) if isinstance(w, controls)
               and not w.accessibleName() and not (isinstance(w, QAbstractButton) and w.text())
               and w.isVisibleTo(window) and type(w).__name__ not in ("QToolBarExtension",)
               and not isinstance(w.parent(), QComboBox | QAbstractSpinBox)]  # their inner editors
    assert not unnamed, [type(w).__name__ + ":" + w.objectName() for w in unnamed]
    assert window.focus_url_action.shortcut().toString() == "Ctrl+L"
    # The context menu on a tile offers the actions.
    fill_one = window.model.rowCount()
    assert fill_one == 0
