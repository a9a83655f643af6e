"""PreviewPane: one capture large — fit / 100 %, scrolling tall pages, metadata, actions.

The picture is decoded off the GUI thread (``QImageReader`` in a worker thread, through the
task registry); only the newest request is shown when the selection moves quickly. *Fit* scales
the page to the pane's width (never enlarging it), so a tall page scrolls vertically; *100 %*
maps one picture pixel to one screen pixel (the pixmap carries the screen's devicePixelRatio).
The actions are the window's ``QAction`` objects (shared with the menu, the context menu and the
shortcuts); the pane only lays them out.
"""

from __future__ import annotations

import asyncio
import html
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QRect, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QImage,
    QImageReader,
    QPainter,
    QPaintEvent,
    QPixmap,
    QResizeEvent,
)
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from shotdesk.core.spec import OPTION_DEFAULTS
from shotdesk.services.tasks import TaskRegistry
from shotdesk.ui.text import human_bytes, local_time_text

if TYPE_CHECKING:
    from shotdesk.core.library import Capture

#: Qt refuses to allocate more than 256 MB per image by default; tall full pages need more.
ALLOCATION_LIMIT_MB = 2048


def read_image(path: Path) -> QImage:
    """Decode a capture (worker thread). Raises ``OSError`` with Qt's reason when it cannot."""
    reader = QImageReader(str(path))
    reader.setAllocationLimit(ALLOCATION_LIMIT_MB)
    reader.setAutoTransform(True)
    image = reader.read()
    if image.isNull():
        raise OSError(f"Cannot show {path.name}: {reader.errorString()}")
    return image


class ImageCanvas(QWidget):
    """Paints an image at a scale; sized to it, so a ``QScrollArea`` scrolls it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._image = QImage()
        self._scaled: QPixmap | None = None
        self._display = QSize(0, 0)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.setAccessibleName("Capture picture")

    def image(self) -> QImage:
        return self._image

    def set_image(self, image: QImage) -> None:
        self._image = image
        self._scaled = None

    def set_display_size(self, size: QSize) -> None:
        if size != self._display:
            self._display = size
            self._scaled = None
            self.setFixedSize(size)
            self.update()

    @property
    def display_size(self) -> QSize:
        return self._display

    def paintEvent(self, event: QPaintEvent) -> None:
        if self._image.isNull() or self._display.isEmpty():
            return
        dpr = self.devicePixelRatioF()
        if self._scaled is None:
            target = QSize(round(self._display.width() * dpr), round(self._display.height() * dpr))
            if target == self._image.size():
                self._scaled = QPixmap.fromImage(self._image)
            else:
                self._scaled = QPixmap.fromImage(self._image.scaled(
                    target, Qt.AspectRatioMode.IgnoreAspectRatio, Qt.TransformationMode.SmoothTransformation))
            self._scaled.setDevicePixelRatio(dpr)
        painter = QPainter(self)
        rect: QRect = event.rect()
        source = QRect(round(rect.x() * dpr), round(rect.y() * dpr), round(rect.width() * dpr),
                       round(rect.height() * dpr))
        painter.drawPixmap(rect, self._scaled, source)


class PreviewPane(QWidget):
    """See the module docstring.

    Signals: ``zoom_changed(mode)`` (``"fit"`` / ``"actual"``); ``loaded(capture)``;
    ``version_selected(capture)`` (a version picked in the timeline);
    ``compare_requested(older, newer)``; ``favourite_toggled(capture, on)``;
    ``tags_edited(capture, tags)``; ``note_edited(capture, note)``.
    """

    zoom_changed = Signal(str)
    loaded = Signal(object)  # the Capture whose picture is now shown
    version_selected = Signal(object)
    compare_requested = Signal(object, object)
    favourite_toggled = Signal(object, bool)
    tags_edited = Signal(object, list)
    note_edited = Signal(object, str)

    def __init__(self, tasks: TaskRegistry, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._tasks = tasks
        self._capture: Capture | None = None
        self._cached = False
        self._mode = "fit"
        self._load: asyncio.Task[None] | None = None
        self.setAccessibleName("Preview")

        self.title_label = QLabel("Nothing selected")
        self.title_label.setAccessibleName("Capture title")
        self.title_label.setWordWrap(True)
        font = self.title_label.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.title_label.setFont(font)
        self.toolbar = QToolBar()
        self.toolbar.setAccessibleName("Preview actions")
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.fit_action = QAction("&Fit", self, checkable=True, checked=True)
        self.fit_action.setToolTip("Fit the picture to the pane's width")
        self.actual_action = QAction("&100 %", self, checkable=True)
        self.actual_action.setToolTip("One picture pixel per screen pixel")
        group = QActionGroup(self)
        group.addAction(self.fit_action)
        group.addAction(self.actual_action)
        self.fit_action.triggered.connect(lambda: self.set_zoom("fit"))
        self.actual_action.triggered.connect(lambda: self.set_zoom("actual"))
        self.toolbar.addAction(self.fit_action)
        self.toolbar.addAction(self.actual_action)
        self.toolbar.addSeparator()

        # Timeline: every version of this URL + options, and Compare.
        self.versions_combo = QComboBox()
        self.versions_combo.setAccessibleName("Versions")
        self.versions_combo.setToolTip("Every capture of this address with these options")
        self.compare_button = QPushButton("Compare…")
        self.compare_button.setAccessibleName("Compare with the previous version")
        self.compare_button.setEnabled(False)
        timeline = QHBoxLayout()
        timeline.setContentsMargins(0, 0, 0, 0)
        timeline.addWidget(QLabel("Version"))
        timeline.addWidget(self.versions_combo, 1)
        timeline.addWidget(self.compare_button)
        self.versions_combo.activated.connect(self._on_version)
        self.compare_button.clicked.connect(self._on_compare)
        self._versions: list[Capture] = []

        # Organise: favourite, tags, note.
        self.favourite_button = QToolButton()
        self.favourite_button.setText("☆ Favourite")
        self.favourite_button.setCheckable(True)
        self.favourite_button.setAccessibleName("Favourite")
        self.favourite_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.tags_edit = QLineEdit()
        self.tags_edit.setPlaceholderText("Tags, comma-separated")
        self.tags_edit.setAccessibleName("Tags")
        self.note_edit = QPlainTextEdit()
        self.note_edit.setPlaceholderText("Note")
        self.note_edit.setAccessibleName("Note")
        self.note_edit.setFixedHeight(48)
        self.note_edit.setTabChangesFocus(True)
        organise = QHBoxLayout()
        organise.setContentsMargins(0, 0, 0, 0)
        organise.addWidget(self.favourite_button)
        organise.addWidget(self.tags_edit, 1)
        self.favourite_button.toggled.connect(self._on_favourite)
        self.tags_edit.editingFinished.connect(self._on_tags)
        self._note_timer = QTimer(self)
        self._note_timer.setSingleShot(True)
        self._note_timer.setInterval(800)
        self._note_timer.timeout.connect(self._on_note)
        self.note_edit.textChanged.connect(self._note_typed)
        self._updating = False

        self.canvas = ImageCanvas()
        self.scroll_area = QScrollArea()
        self.scroll_area.setWidget(self.canvas)
        self.scroll_area.setWidgetResizable(False)
        self.scroll_area.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        self.scroll_area.setAccessibleName("Picture")
        self.message = QLabel("")
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message.setWordWrap(True)
        self.message.setAccessibleName("Preview message")
        self.message.hide()

        self.meta = QLabel()
        self.meta.setTextFormat(Qt.TextFormat.RichText)
        self.meta.setWordWrap(True)
        self.meta.setOpenExternalLinks(True)
        self.meta.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        self.meta.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.meta.setAccessibleName("Capture details")
        meta_box = QWidget()
        meta_layout = QVBoxLayout(meta_box)
        meta_layout.setContentsMargins(0, 0, 0, 0)
        meta_layout.addLayout(organise)
        meta_layout.addWidget(self.note_edit)
        meta_layout.addWidget(self.meta, 1)
        meta_scroll = QScrollArea()
        meta_scroll.setWidget(meta_box)
        meta_scroll.setWidgetResizable(True)
        meta_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        meta_scroll.setMinimumHeight(150)

        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addWidget(self.scroll_area, 1)
        top_layout.addWidget(self.message)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(top)
        split.addWidget(meta_scroll)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.title_label)
        layout.addLayout(timeline)
        layout.addWidget(self.toolbar)
        layout.addWidget(split, 1)

        self._relayout = QTimer(self)
        self._relayout.setSingleShot(True)
        self._relayout.setInterval(60)
        self._relayout.timeout.connect(self._apply_zoom)
        self.show_capture(None)

    # ------------------------------------------------------------------ public API
    @property
    def capture(self) -> Capture | None:
        return self._capture

    @property
    def zoom(self) -> str:
        return self._mode

    def add_actions(self, actions: Sequence[QAction]) -> None:
        for action in actions:
            if action is None:
                self.toolbar.addSeparator()
            else:
                self.toolbar.addAction(action)
        more = self.toolbar.findChild(QToolButton, "qt_toolbar_ext_button")
        if more is not None:
            more.setAccessibleName("More preview actions")
            more.setToolTip("More actions")

    def set_zoom(self, mode: str) -> None:
        self._mode = "actual" if mode == "actual" else "fit"
        (self.actual_action if self._mode == "actual" else self.fit_action).setChecked(True)
        self._apply_zoom()
        self.zoom_changed.emit(self._mode)

    def toggle_zoom(self) -> None:
        self.set_zoom("fit" if self._mode == "actual" else "actual")

    def show_capture(self, capture: Capture | None, *, cached: bool = False) -> None:
        """Show ``capture`` (or nothing); the picture loads in the background."""
        self.flush_note()  # a note typed for the capture shown until now is saved, not dropped
        self._capture = capture
        self._cached = cached
        if self._load is not None and not self._load.done():
            self._load.cancel()
        self.canvas.set_image(QImage())
        self.canvas.set_display_size(QSize(0, 0))
        self.meta.setText(self._metadata_html(capture, cached) if capture else "")
        self._show_organise(capture)
        if capture is None or not any(v.id == capture.id for v in self._versions):
            self.set_versions([] if capture is None else [capture])
        if capture is None:
            self.title_label.setText("Nothing selected")
            self._show_message("Select a capture to see it here.")
            return
        self.title_label.setText(capture.title or capture.domain or capture.url)
        self.title_label.setToolTip(capture.url)
        if capture.status == "failed":
            self._show_message(f"This capture failed:\n{capture.error or 'unknown error'}")
            return
        if capture.status == "missing" or capture.blob_path is None or not capture.blob_path.is_file():
            self._show_message("The file is gone from the cache. Re-capture to get it back.")
            return
        if capture.format == "pdf":
            path = capture.thumb_path
            self._show_message("A PDF: open it in the system viewer to read it.")
            if path is None:
                return
        else:
            path = capture.blob_path
            self._show_message("Loading…")
        self._load = self._tasks.spawn(self._load_image(capture, path), name="preview-load")

    def refresh(self, capture: Capture) -> None:
        """The same row changed (tags, favourite…): update the text, keep the picture."""
        if self._capture is not None and capture.id == self._capture.id:
            self._capture = capture
            self.meta.setText(self._metadata_html(capture, self._cached))
            # A note typed but not saved yet (the save is debounced) is not overwritten by an
            # update of another field (tags saved a moment earlier): it is saved when due.
            self._show_organise(capture, keep_note=self._note_timer.isActive())

    def set_versions(self, versions: Sequence[Capture]) -> None:
        """The timeline: every version of the shown capture's URL + options (newest first)."""
        self._versions = list(versions)
        self.versions_combo.blockSignals(True)
        self.versions_combo.clear()
        current = 0
        for i, v in enumerate(self._versions):
            text = f"v{v.version} · {local_time_text(v.captured_at)}"
            if v.status != "ready":
                text += f" · {v.status}"
            elif getattr(v, "unchanged", False):
                text += " · unchanged"
            elif getattr(v, "changed_pct", None) is not None:
                text += f" · {v.changed_pct:.1f} % changed"
            self.versions_combo.addItem(text, v.id)
            if self._capture is not None and v.id == self._capture.id:
                current = i
        self.versions_combo.setCurrentIndex(current)
        self.versions_combo.blockSignals(False)
        self.versions_combo.setEnabled(len(self._versions) > 1)
        self.compare_button.setEnabled(self._compare_pair() is not None)

    @property
    def versions(self) -> list[Capture]:
        return list(self._versions)

    def _compare_pair(self) -> tuple[Capture, Capture] | None:
        """The shown capture and the version before it (or after it, for the oldest)."""
        if self._capture is None:
            return None
        ready = [v for v in self._versions if v.status == "ready" and v.format in ("png", "jpeg", "webp")]
        ids = [v.id for v in ready]
        if self._capture.id not in ids or len(ready) < 2:
            return None
        i = ids.index(self._capture.id)
        other = ready[i + 1] if i + 1 < len(ready) else ready[i - 1]
        if other.captured_at <= self._capture.captured_at:
            return other, self._capture
        return self._capture, other

    def _on_version(self, row: int) -> None:
        if 0 <= row < len(self._versions) and self._versions[row] is not self._capture:
            self.version_selected.emit(self._versions[row])

    def _on_compare(self) -> None:
        pair = self._compare_pair()
        if pair is not None:
            self.compare_requested.emit(*pair)

    def _show_organise(self, capture: Capture | None, *, keep_note: bool = False) -> None:
        self._updating = True
        try:
            enabled = capture is not None
            for w in (self.favourite_button, self.tags_edit, self.note_edit):
                w.setEnabled(enabled)
            favourite = bool(capture and capture.favourite)
            self.favourite_button.setChecked(favourite)
            self.favourite_button.setText("★ Favourite" if favourite else "☆ Favourite")
            tags = ", ".join(capture.tags) if capture else ""
            if not self.tags_edit.hasFocus() or capture is None:
                self.tags_edit.setText(tags)
            note = capture.note if capture else ""
            if (self.note_edit.toPlainText() != note and not keep_note
                    and (not self.note_edit.hasFocus() or capture is None)):
                self.note_edit.setPlainText(note)
        finally:
            self._updating = False

    def _on_favourite(self, on: bool) -> None:
        self.favourite_button.setText("★ Favourite" if on else "☆ Favourite")
        if not self._updating and self._capture is not None and on != self._capture.favourite:
            self.favourite_toggled.emit(self._capture, on)

    def _on_tags(self) -> None:
        if self._updating or self._capture is None:
            return
        tags = [t.strip() for t in self.tags_edit.text().split(",") if t.strip()]
        if sorted(t.lower() for t in tags) != sorted(self._capture.tags):
            self.tags_edited.emit(self._capture, tags)

    def _note_typed(self) -> None:
        if not self._updating:
            self._note_timer.start()

    def flush_note(self) -> None:
        """Save a note whose debounced save is still pending (selection change, shutdown)."""
        if self._note_timer.isActive():
            self._note_timer.stop()
            self._on_note()

    def _on_note(self) -> None:
        if self._capture is not None and self.note_edit.toPlainText() != self._capture.note:
            self.note_edited.emit(self._capture, self.note_edit.toPlainText())

    # ------------------------------------------------------------------ internals
    async def _load_image(self, capture: Capture, path: Path) -> None:
        try:
            image = await asyncio.to_thread(read_image, path)
        except OSError as exc:
            if self._capture is capture:
                self._show_message(str(exc))
            return
        if self._capture is not capture:
            return
        self.canvas.set_image(image)
        if capture.format != "pdf":
            self.message.hide()
        self._apply_zoom()
        self.loaded.emit(capture)

    def _show_message(self, text: str) -> None:
        self.message.setText(text)
        self.message.show()

    def _apply_zoom(self) -> None:
        image = self.canvas.image()
        if image.isNull():
            return
        dpr = self.devicePixelRatioF()
        natural = QSize(max(1, round(image.width() / dpr)), max(1, round(image.height() / dpr)))
        if self._mode == "actual":
            self.canvas.set_display_size(natural)
            return
        available = max(50, self.scroll_area.viewport().width() - 2)
        factor = min(1.0, available / natural.width())
        self.canvas.set_display_size(QSize(max(1, round(natural.width() * factor)),
                                           max(1, round(natural.height() * factor))))

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self._mode == "fit":
            self._relayout.start()

    @staticmethod
    def _metadata_html(capture: Capture, cached: bool) -> str:
        def row(label: str, value: str) -> str:
            return (f"<tr><td style='padding-right:10px; white-space:nowrap'><b>{html.escape(label)}</b></td>"
                    f"<td>{value}</td></tr>")

        esc = html.escape
        rows = [row("URL", f"<a href='{esc(capture.url, quote=True)}'>{esc(capture.url)}</a>")]
        final_url = getattr(capture, "final_url", None)
        if final_url and final_url != capture.url:
            rows.append(row("Final URL", esc(final_url)))
        if capture.title:
            rows.append(row("Title", esc(capture.title)))
        rows.append(row("Status", esc(capture.status)))
        if capture.error:
            rows.append(row("Error", esc(capture.error)))
        if capture.width and capture.height:
            rows.append(row("Pixel size", f"{capture.width}×{capture.height} px"))
        if capture.bytes:
            rows.append(row("File size", f"{human_bytes(capture.bytes)} ({capture.format.upper()})"))
        rows.append(row("Provider", esc(capture.provider)))
        rows.append(row("Options", esc(options_summary(capture.spec))))
        rows.append(row("Captured", esc(local_time_text(capture.captured_at))))
        rows.append(row("Version", str(capture.version)))
        cache_header = capture.metadata.get("cache") or capture.metadata.get("x-cache")
        served = "yes — answered from the gallery without rendering" if cached else \
            f"no — rendered in {capture.elapsed_ms:,} ms" if capture.elapsed_ms else "no"
        if cache_header:
            served += f" (provider cache: {esc(cache_header)})"
        rows.append(row("From cache", served))
        if capture.tags:
            rows.append(row("Tags", esc(", ".join(capture.tags))))
        if capture.note:
            rows.append(row("Note", esc(capture.note)))
        if capture.blob_path is not None:
            rows.append(row("File", esc(str(capture.blob_path))))
        return "<table>" + "".join(rows) + "</table>"


def options_summary(spec: dict[str, Any]) -> str:
    """``1280×720 @2×, full page, dark mode, delay 500 ms`` from a stored spec dict."""
    parts = [f"{spec.get('width', '?')}×{spec.get('height', '?')} @{float(spec.get('scale', 1.0)):g}×"]
    if spec.get("device"):
        parts.append(f"device {spec['device']}")
    labels = {"full_page": "full page", "dark_mode": "dark mode", "block_ads": "ads blocked",
              "hide_cookie_banners": "cookie banners hidden"}
    for key, label in labels.items():
        if spec.get(key):
            parts.append(label)
    if spec.get("delay_ms"):
        parts.append(f"delay {spec['delay_ms']} ms")
    if spec.get("wait_until") and spec.get("wait_until") != OPTION_DEFAULTS["wait_until"]:
        parts.append(f"wait until {spec['wait_until']}")
    if spec.get("selector"):
        parts.append(f"element {spec['selector']}")
    if spec.get("hide_selectors"):
        parts.append("hides " + ", ".join(spec["hide_selectors"]))
    for key in ("css", "js", "user_agent"):
        if spec.get(key):
            parts.append(f"custom {key.replace('_', ' ')}")
    if spec.get("format") in ("jpeg", "webp"):
        parts.append(f"quality {spec.get('quality')}")
    return ", ".join(parts)
