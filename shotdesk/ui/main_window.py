"""MainWindow: puts the pieces together and wires widgets to services.

Layout::

    ┌ menu bar ───────────────────────────────────────────────────────────────┐
    │ [ URL field ……………………………… ] [provider ▾] [Capture]                        │  CaptureBar
    │ → https://example.com/                                 key state        │
    ├──────────────┬──────────────────────────────────────┬───────────────────┤
    │ options      │ [search…] [provider] [format] [status] [date] ★ [sort]    │
    │ (format,     │ ┌────┐ ┌────┐ ┌────┐ ┌────┐                │ preview    │
    │ device,      │ │tile│ │tile│ │tile│ │tile│   GalleryView  │ fit / 100% │
    │ viewport,    │ └────┘ └────┘ └────┘ └────┘                │ actions    │
    │ advanced…)   │                                            │ metadata   │
    ├──────────────┴──────────────────────────────────────┴───────────────────┤
    │ status: messages · Undo                      queue: 2 running · 3 waiting│
    └─────────────────────────────────────────────────────────────────────────┘

The window holds no business logic: captures go to :class:`CaptureService`, row changes to
:class:`GalleryService`, preferences and keys to :class:`SettingsService`, files and the clipboard
to :mod:`shotdesk.services.qt_desktop`; the start-up integrity check and the near-duplicate
groups to :class:`GalleryService`; exports, refreshes and responsive sheets are asked for and
followed by :class:`~shotdesk.ui.library_actions.LibraryActions` (on :class:`GalleryService` /
:class:`LibraryJobs`). Results come back as signals: a :class:`MessageBar` above the grid says
what happened, with "Reveal" / "Re-capture" buttons; progress and Cancel sit in the status bar. Window
geometry, splitter sizes and the last capture options are remembered in the ``QSettings`` passed
in (never a key).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import json
import logging
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import shiboken6
from PySide6.QtCore import (
    QByteArray,
    QItemSelectionModel,
    QMimeData,
    QModelIndex,
    QPoint,
    QSettings,
    Qt,
    QTimer,
)
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QGuiApplication,
    QKeySequence,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QFileDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from shotdesk.core.errors import InvalidSpec, ShotDeskError
from shotdesk.core.library import Capture, IntegrityReport, Library
from shotdesk.core.settings import Settings
from shotdesk.core.spec import CaptureSpec
from shotdesk.services import qt_desktop
from shotdesk.services.capture_service import CaptureService, PipelineLike
from shotdesk.services.qt_export import DragCopies, drag_folder, export_copies
from shotdesk.services.qt_gallery import CaptureBatch, GalleryService, LibraryJobs
from shotdesk.services.qt_settings import SettingsService
from shotdesk.services.qt_thumbnails import ThumbnailLoader
from shotdesk.services.tasks import TaskRegistry
from shotdesk.ui.capture_form import CaptureBar, ProviderInfoLike
from shotdesk.ui.capture_options import CaptureOptionsPanel
from shotdesk.ui.compare_view import CompareDialog
from shotdesk.ui.dnd import drag_mime, mime_has_urls, urls_from_mime
from shotdesk.ui.filter_bar import FilterBar
from shotdesk.ui.gallery_delegate import GalleryDelegate
from shotdesk.ui.gallery_filter import GalleryFilter, GalleryFilterProxy
from shotdesk.ui.gallery_model import GalleryModel, Role
from shotdesk.ui.gallery_view import GalleryView
from shotdesk.ui.library_actions import LibraryActions
from shotdesk.ui.message_bar import MessageBar
from shotdesk.ui.preview import PreviewPane
from shotdesk.ui.responsive_dialog import ResponsiveSheetDialog
from shotdesk.ui.settings_dialog import SettingsDialog

log = logging.getLogger(__name__)

PREFS_GEOMETRY = "window/geometry"
PREFS_STATE = "window/state"
PREFS_SPLITTER = "window/splitter"
PREFS_OPTIONS = "capture/last_options"
PREFS_PROVIDER = "capture/last_provider"
PREFS_ZOOM = "preview/zoom"
PREFS_SORT = "gallery/sort"


@dataclass
class WindowContext:
    """What the window is built from (``run_window`` makes the real one; tests make their own)."""

    pipeline: PipelineLike
    settings: Settings
    providers: Sequence[ProviderInfoLike]
    tasks: TaskRegistry
    prefs: QSettings
    #: Called once the window has shut its services down (run_window ends the event loop).
    on_closed: Callable[[], None] | None = None
    #: Run ``Library.integrity_check()`` (in a thread) once the window is shown.
    startup_check: bool = True

    @property
    def library(self) -> Library:
        library: Library = self.pipeline.library
        return library


class MainWindow(QMainWindow):
    def __init__(self, ctx: WindowContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.setWindowTitle("ShotDesk")
        self.setAccessibleName("ShotDesk")
        self.setAcceptDrops(True)
        tasks = ctx.tasks
        tasks.set_error_handler(self._task_failed)

        # ---- services
        self.capture_service = CaptureService(ctx.pipeline, tasks, concurrency=ctx.settings.concurrency,
                                              parent=self)
        self.gallery_service = GalleryService(ctx.library, tasks, parent=self)
        self.settings_service = SettingsService(ctx.settings, parent=self)
        self.thumbnails = ThumbnailLoader(parent=self)
        self.drag_copies = DragCopies()  # files for a drag, copied while the selection is made
        self.library_jobs = LibraryJobs(ctx.library, self.capture_service, tasks, parent=self)
        self.library_actions = LibraryActions(self)

        # ---- model / view
        self.model = GalleryModel(ctx.library, freeze_heap=True, parent=self)
        self.proxy = GalleryFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self.delegate = GalleryDelegate(self.thumbnails, self)
        self.view = GalleryView(self.delegate)
        self.view.setModel(self.proxy)
        self.view.drag_provider = self._drag_mime
        self.model.connect_service(self.capture_service)

        # ---- widgets
        self.options = CaptureOptionsPanel()
        self.capture_bar = CaptureBar(self.options, ctx.providers)
        self.filter_bar = FilterBar([(p.id, p.label) for p in ctx.providers])
        self.preview = PreviewPane(tasks)
        self.message_bar = MessageBar()
        self._build_layout()
        self._build_status_bar()
        self._build_actions()
        self._connect()

        # ---- remembered state and defaults
        self.capture_bar.set_history(ctx.settings.url_history)
        self._restore_prefs()
        self._update_count()
        self._caption_timer = QTimer(self)
        self._caption_timer.setInterval(60_000)
        self._caption_timer.timeout.connect(self.model.refresh_captions)
        self._caption_timer.start()
        self._closing = False
        self._closed = False
        self._shutdown_task: asyncio.Task[None] | None = None
        for warning in ctx.settings.load_warnings:
            self.show_message(warning, 15_000)
        self._compare_dialogs: list[CompareDialog] = []
        self._startup_done = False
        self._recovery_shown = False
        self._facets_timer = QTimer(self)
        self._facets_timer.setSingleShot(True)
        self._facets_timer.setInterval(1500)
        self._facets_timer.timeout.connect(self._load_facets)
        self._show_recovery()
        tasks.spawn(self._refresh_key_states(), name="key-states")
        tasks.spawn(self._warm_up(), name="warm-up")
        self._refresh_tags()
        self.gallery_service.load_facets()

    # ------------------------------------------------------------------ construction
    def _build_layout(self) -> None:
        options_scroll = QScrollArea()
        options_scroll.setWidget(self.options)
        options_scroll.setWidgetResizable(True)
        options_scroll.setAccessibleName("Capture options")
        options_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        options_scroll.setMinimumWidth(self.options.minimumSizeHint().width() + 24)
        centre = QWidget()
        centre_layout = QVBoxLayout(centre)
        centre_layout.setContentsMargins(0, 0, 0, 0)
        centre_layout.addWidget(self.message_bar)
        centre_layout.addWidget(self.filter_bar)
        centre_layout.addWidget(self.view, 1)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(options_scroll)
        self.splitter.addWidget(centre)
        self.splitter.addWidget(self.preview)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setStretchFactor(2, 2)
        self.splitter.setSizes([340, 680, 420])
        root = QWidget()
        layout = QVBoxLayout(root)
        layout.setContentsMargins(8, 8, 8, 0)
        layout.addWidget(self.capture_bar)
        layout.addWidget(self.splitter, 1)
        self.setCentralWidget(root)
        self.resize(1400, 860)

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.undo_button = QPushButton("Undo")
        self.undo_button.setAccessibleName("Undo delete")
        self.undo_button.hide()
        self.queue_label = QLabel("Queue empty")
        self.queue_label.setAccessibleName("Capture queue")
        self.queue_progress = QProgressBar()
        self.queue_progress.setRange(0, 0)
        self.queue_progress.setMaximumWidth(120)
        self.queue_progress.setAccessibleName("Capture progress")
        self.queue_progress.hide()
        self.cancel_all_button = QPushButton("Cancel all")
        self.cancel_all_button.setAccessibleName("Cancel all captures")
        self.cancel_all_button.hide()
        bar.addWidget(self.undo_button)
        for widget in self.library_actions.status_widgets():
            bar.addPermanentWidget(widget)
        self.task_label = self.library_actions.task_label
        self.task_progress = self.library_actions.task_progress
        self.task_cancel_button = self.library_actions.task_cancel_button
        bar.addPermanentWidget(self.queue_progress)
        bar.addPermanentWidget(self.queue_label)
        bar.addPermanentWidget(self.cancel_all_button)
        self._undo_timer = QTimer(self)
        self._undo_timer.setSingleShot(True)
        self._undo_timer.setInterval(12_000)
        self._undo_timer.timeout.connect(self.undo_button.hide)

    def _action(self, text: str, slot: Callable[[], Any],
                shortcut: QKeySequence | QKeySequence.StandardKey | str | None = None,
                tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setToolTip(tip)
            action.setStatusTip(tip)
        action.triggered.connect(lambda _checked=False: slot())
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        key = QKeySequence.StandardKey
        self.focus_url_action = self._action("Go to &address", self._focus_url, "Ctrl+L")
        self.search_action = self._action("&Search the gallery", self.filter_bar.focus_search, key.Find)
        self.capture_action = self._action("&Capture", self.capture_bar.request_capture, "Ctrl+Return",
                                           "Capture the address in the field")
        self.paste_action = self._action("Capture pasted &links", self.paste_urls, key.Paste,
                                         "Capture the web addresses on the clipboard")
        self.preview_action = self._action("&Preview", self.preview_current, "Space")
        self.zoom_action = self._action("Fit / 100 %", self.preview.toggle_zoom, "Ctrl+0")
        self.open_action = self._action("&Open in viewer", self.open_in_viewer, "Ctrl+O",
                                        "Open the picture in the system viewer")
        self.copy_image_action = self._action("Copy &image", self.copy_image, key.Copy,
                                              "Copy the picture to the clipboard")
        self.copy_file_action = self._action("Copy &file", self.copy_file, "Ctrl+Shift+C",
                                             "Copy the file, for pasting into a folder or a mail")
        self.reveal_action = self._action("&Reveal in file manager", self.reveal, "Ctrl+Shift+R")
        self.export_action = self._action(
            "&Export to folder…", self.library_actions.export_selection, "Ctrl+E",
            "Copy the selected pictures to a folder (file names from the template in Settings)")
        self.export_zip_action = self._action("Export as &zip…", lambda: self.export_selection_as("zip"),
                                              "Ctrl+Shift+E", "Put the selected pictures in one zip file")
        self.export_html_action = self._action(
            "Export &contact sheet (HTML)…", lambda: self.export_selection_as("html"), None,
            "A self-contained web page: thumbnails linking to the full pictures, with their details")
        self.responsive_action = self._action(
            "Res&ponsive sheet…", self.library_actions.responsive_sheet_dialog, None,
            "This page on several devices side by side, as one labelled picture")
        self.refresh_old_action = self._action(
            "Re-capture everything &older than…", self.library_actions.refresh_old_dialog, None,
            "Capture again every page whose newest capture is older than some days (versions are kept)")
        self.refresh_selection_action = self._action(
            "Re-capture &selection", self.library_actions.refresh_selection, "Ctrl+Shift+U",
            "Capture the selected pages again as new versions, with progress and Cancel")
        self.similar_action = self._action("Show &similar", self.show_similar, "Ctrl+Shift+S",
                                           "Show the captures that look like this one")
        self.check_action = self._action("Check the gallery &files", self.start_integrity_check, None,
                                         "Find missing files and leftovers in the cache and repair the index")
        self.recapture_action = self._action("&Re-capture", self.recapture, "Ctrl+R",
                                             "Capture the same page and options again (a new version)")
        self.retry_action = self._action("Re&try", self.retry_selected, None)
        self.delete_action = self._action("&Delete", self.delete_selected, key.Delete)
        self.undo_action = self._action("&Undo delete", self.undo_delete, key.Undo)
        self.open_url_action = self._action("Open page in &browser", self.open_url, "Ctrl+B")
        self.favourite_action = self._action("Favourite", self.toggle_favourite, "Ctrl+D")
        self.compare_action = self._action(
            "Co&mpare…", self.compare_selected, "Ctrl+K",
            "Compare two selected captures, or this one with its previous version")
        self.cancel_all_action = self._action("Cancel all captures", self.capture_service.cancel_all)
        self.settings_action = self._action("&Settings…", self.open_settings, key.Preferences)
        if self.settings_action.shortcut().isEmpty():
            self.settings_action.setShortcut(QKeySequence("Ctrl+,"))
        self.quit_action = self._action("&Quit", self.close, key.Quit)
        self.select_all_action = self._action("Select &all", self.view.selectAll, key.SelectAll)
        for action in (self.copy_image_action, self.copy_file_action, self.delete_action,
                       self.select_all_action, self.paste_action, self.preview_action):
            # Text fields keep their own Copy/Paste/Delete/Space; these act on the grid.
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.removeAction(action)
            self.view.addAction(action)

        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        for a in (self.focus_url_action, self.capture_action, self.paste_action, None, self.export_action,
                  self.export_zip_action, self.export_html_action, self.responsive_action,
                  None, self.check_action, self.settings_action, None, self.quit_action):
            file_menu.addSeparator() if a is None else file_menu.addAction(a)
        edit_menu = menu.addMenu("&Edit")
        for a in (self.copy_image_action, self.copy_file_action, None, self.delete_action,
                  self.undo_action, None, self.favourite_action, self.select_all_action, self.search_action):
            edit_menu.addSeparator() if a is None else edit_menu.addAction(a)
        view_menu = menu.addMenu("&View")
        for a in (self.preview_action, self.zoom_action, self.similar_action):
            view_menu.addAction(a)
        capture_menu = menu.addMenu("&Capture")
        for a in (self.recapture_action, self.refresh_selection_action, self.refresh_old_action,
                  self.retry_action, self.compare_action, self.cancel_all_action, None,
                  self.open_action,
                  self.reveal_action, self.open_url_action):
            capture_menu.addSeparator() if a is None else capture_menu.addAction(a)
        self.preview.add_actions([self.open_action, self.copy_image_action, self.copy_file_action,
                                  self.reveal_action, self.export_action, self.recapture_action,
                                  self.delete_action, self.open_url_action])
        self._update_actions()

    def _connect(self) -> None:
        cs = self.capture_service
        self.capture_bar.capture_requested.connect(self.submit)
        cs.queue_changed.connect(self._on_queue)
        cs.job_done.connect(self._on_job_done)
        cs.job_failed.connect(self._on_job_failed)
        self.model.total_changed.connect(lambda _n: self._update_count())
        self.model.load_failed.connect(lambda m: self.show_message(m, 15_000))
        self.proxy.rowsInserted.connect(self._update_count)
        self.proxy.rowsRemoved.connect(self._update_count)
        self.proxy.modelReset.connect(self._update_count)
        self.filter_bar.filter_changed.connect(self.apply_filter)
        self.view.selectionModel().currentChanged.connect(self._on_current)
        self.view.selectionModel().selectionChanged.connect(lambda *_: self._update_actions())
        self.view.selectionModel().selectionChanged.connect(lambda *_: self._prepare_drag())
        self.view.doubleClicked.connect(lambda _i: self.open_in_viewer())
        self.view.preview_requested.connect(lambda _i: self.preview_current())
        self.view.delete_requested.connect(self.delete_selected)
        self.view.context_menu_requested.connect(self._context_menu)
        self.view.urls_dropped.connect(self.capture_urls)
        self.delegate.retry_requested.connect(self._retry_index)
        self.delegate.cancel_requested.connect(self._cancel_index)
        self.delegate.dismiss_requested.connect(self._dismiss_index)
        self.delegate.recapture_requested.connect(self._recapture_index)
        self.gallery_service.deleted.connect(self._on_deleted)
        self.gallery_service.restored.connect(self._on_restored)
        self.gallery_service.changed.connect(self._on_changed)
        self.gallery_service.exported.connect(
            lambda files: self.show_message(f"Exported {len(files)} file(s)"
                                            + (f" to {files[0].parent}" if files else "")))
        self.gallery_service.error.connect(self._on_gallery_error)
        self.gallery_service.versions_loaded.connect(self._on_versions)
        self.gallery_service.compared.connect(self._on_compared)
        self.gallery_service.export_progress.connect(self.library_actions.on_export_progress)
        self.gallery_service.export_finished.connect(self.library_actions.on_exported)
        self.gallery_service.integrity_checked.connect(self._on_integrity)
        self.gallery_service.facets_loaded.connect(self._on_facets)
        self.gallery_service.similar_loaded.connect(self._on_similar)
        self.library_jobs.batch_started.connect(self.library_actions.follow_batch)
        self.library_jobs.sheet_done.connect(self.library_actions.on_sheet)
        self.library_jobs.error.connect(self.library_actions.on_library_error)
        self.filter_bar.similar_requested.connect(lambda: self.gallery_service.load_similar(None))
        self.preview.version_selected.connect(self._show_version)
        self.preview.compare_requested.connect(self.open_compare)
        self.preview.favourite_toggled.connect(self.gallery_service.set_favourite)
        self.preview.tags_edited.connect(self.gallery_service.set_tags)
        self.preview.note_edited.connect(self.gallery_service.set_note)
        self.settings_service.keys_changed.connect(self.capture_bar.set_key_states)
        self.settings_service.keys_changed.connect(self._forget_providers)
        self.undo_button.clicked.connect(self.undo_delete)
        self.cancel_all_button.clicked.connect(self.capture_service.cancel_all)
        app = QGuiApplication.instance()
        if isinstance(app, QGuiApplication):
            app.styleHints().colorSchemeChanged.connect(lambda _s: self.view.viewport().update())

    # ------------------------------------------------------------------ preferences
    def _restore_prefs(self) -> None:
        prefs = self.ctx.prefs
        geometry = prefs.value(PREFS_GEOMETRY)
        if isinstance(geometry, QByteArray | bytes):
            self.restoreGeometry(QByteArray(geometry))
        splitter = prefs.value(PREFS_SPLITTER)
        if isinstance(splitter, QByteArray | bytes):
            self.splitter.restoreState(QByteArray(splitter))
        options: dict[str, Any] = dict(self.ctx.settings.capture_defaults)
        raw = prefs.value(PREFS_OPTIONS)
        if isinstance(raw, str) and raw:
            try:
                last = json.loads(raw)
                if isinstance(last, dict):
                    options.update(last)
            except ValueError:
                log.info("ignoring unreadable last options")
        if options:
            self.options.set_options(options)
        provider = prefs.value(PREFS_PROVIDER)
        self.capture_bar.set_provider(str(provider) if provider else self.ctx.settings.default_provider)
        if prefs.value(PREFS_ZOOM) == "actual":
            self.preview.set_zoom("actual")
        sort = prefs.value(PREFS_SORT)
        if isinstance(sort, str):
            self.filter_bar.set_sort(sort)

    def save_prefs(self) -> None:
        prefs = self.ctx.prefs
        prefs.setValue(PREFS_GEOMETRY, self.saveGeometry())
        prefs.setValue(PREFS_SPLITTER, self.splitter.saveState())
        options = self.options.options()
        options["hide_selectors"] = list(options.get("hide_selectors") or ())
        prefs.setValue(PREFS_OPTIONS, json.dumps(options))
        prefs.setValue(PREFS_PROVIDER, self.capture_bar.provider_id)
        prefs.setValue(PREFS_ZOOM, self.preview.zoom)
        prefs.setValue(PREFS_SORT, self.filter_bar.current_filter().sort)
        prefs.sync()

    # ------------------------------------------------------------------ capturing
    def submit(self, spec: CaptureSpec) -> int:
        """Queue ``spec`` and remember its URL."""
        job = self.capture_service.submit(spec)
        history = [spec.url, *(u for u in self.capture_bar.history() if u != spec.url)][:50]
        self.capture_bar.set_history(history)
        self.ctx.tasks.spawn(self.settings_service.remember_url(spec.url), name="remember-url")
        self.show_message(f"Capturing {spec.url}")
        return job

    def capture_urls(self, urls: Sequence[str]) -> list[int]:
        """Queue one capture per URL with the current options (drops and pastes)."""
        jobs: list[int] = []
        options = self.options.options()
        for url in urls:
            try:
                spec = CaptureSpec(url=url, provider=self.capture_bar.provider_id, **options)
            except InvalidSpec as exc:
                self.show_message(f"Cannot capture {url}: {exc}", 10_000)
                continue
            jobs.append(self.submit(spec))
        if len(jobs) > 1:
            self.show_message(f"Queued {len(jobs)} captures")
        return jobs

    def paste_urls(self) -> None:
        mime = QGuiApplication.clipboard().mimeData()
        urls = urls_from_mime(mime) if mime is not None else []
        if urls:
            self.capture_urls(urls)
        else:
            self.show_message("No web address on the clipboard")

    def _on_queue(self, running: int, waiting: int) -> None:
        busy = running + waiting > 0
        self.queue_progress.setVisible(busy)
        self.cancel_all_button.setVisible(busy)
        self.queue_label.setText(f"Queue: {running} running · {waiting} waiting" if busy else "Queue empty")

    def _on_job_done(self, job: int, capture: Capture, cached: bool) -> None:
        self.show_message(f"{'Reused' if cached else 'Captured'} {capture.url}"
                          + (" (from the gallery)" if cached else f" in {capture.elapsed_ms:,} ms"))
        if cached:
            row = self.model.row_of_capture(capture.id)
            if row >= 0:
                self._select_source_row(row)
        current = self.current_capture()
        if current is not None and current.id == capture.id:
            self.preview.show_capture(capture, cached=cached)
        shown = self.preview.capture
        if shown is not None and shown.key == capture.key:
            self.gallery_service.load_versions(shown)  # a new version joined the timeline
        self._refresh_tags()

    def _on_job_failed(self, job: int, message: str, capture: Capture | None) -> None:
        self.show_message(f"Capture failed: {message}", 15_000)

    # ------------------------------------------------------------------ selection / preview
    def current_capture(self) -> Capture | None:
        index = self.view.currentIndex()
        value = index.data(Role.CAPTURE) if index.isValid() else None
        return value if isinstance(value, Capture) else None

    def selected_captures(self) -> list[Capture]:
        out = []
        for index in self.view.selected_indexes():
            value = index.data(Role.CAPTURE)
            if isinstance(value, Capture):
                out.append(value)
        if not out:
            current = self.current_capture()
            if current is not None:
                out.append(current)
        return out

    def _on_current(self, current: QModelIndex, _previous: QModelIndex) -> None:
        capture = current.data(Role.CAPTURE) if current.isValid() else None
        if isinstance(capture, Capture):
            self.preview.show_capture(capture, cached=bool(current.data(Role.CACHED)))
            self.gallery_service.load_versions(capture)
        elif current.isValid():
            self.preview.show_capture(None)
            self.preview.title_label.setText(str(current.data(Role.URL) or ""))
        else:
            self.preview.show_capture(None)
        self._update_actions()

    def preview_current(self) -> None:
        self.preview.show()
        sizes = self.splitter.sizes()
        if sizes[2] == 0:
            sizes[2] = 420
            self.splitter.setSizes(sizes)
        self.preview.setFocus()

    def _select_source_row(self, row: int) -> None:
        index = self.proxy.mapFromSource(self.model.index(row, 0))
        if index.isValid():
            self.view.selectionModel().setCurrentIndex(
                index, QItemSelectionModel.SelectionFlag.ClearAndSelect)
            self.view.scrollTo(index)

    def _update_actions(self) -> None:
        captures = self.selected_captures() if hasattr(self, "view") else []
        ready = [c for c in captures if c.status == "ready" and c.blob_path is not None]
        for action in (self.open_action, self.copy_file_action, self.reveal_action, self.export_action,
                       self.export_zip_action, self.export_html_action):
            action.setEnabled(bool(ready))
        self.responsive_action.setEnabled(bool(captures))
        self.refresh_selection_action.setEnabled(bool(captures))
        self.similar_action.setEnabled(any(c.is_raster for c in ready) if ready else False)
        self.copy_image_action.setEnabled(any(c.is_raster for c in ready) if ready else False)
        self.recapture_action.setEnabled(bool(captures))
        self.retry_action.setEnabled(any(c.status == "failed" for c in captures))
        self.delete_action.setEnabled(bool(captures))
        self.open_url_action.setEnabled(bool(captures))
        self.favourite_action.setEnabled(bool(captures) and self.gallery_service.supports("set_favourite"))

    # ------------------------------------------------------------------ filter
    def apply_filter(self, value: GalleryFilter) -> None:
        self.model.set_filter(value)
        self.proxy.set_gallery_filter(value)
        if value.sort == "domain" or value.ids is not None:
            self.model.fetch_all()
        self._update_count()

    def _update_count(self, *_args: object) -> None:
        self.filter_bar.set_count(self.model.total + self.model.job_rows)

    def _refresh_tags(self) -> None:
        tags_fn = getattr(self.ctx.library, "tags", None)
        if tags_fn is None:
            self.filter_bar.set_tags([])
            return

        async def load() -> None:
            self.filter_bar.set_tags(await asyncio.to_thread(tags_fn))

        self.ctx.tasks.spawn(load(), name="load-tags")

    # ------------------------------------------------------------------ tile buttons
    def _source_row(self, proxy_index: QModelIndex) -> int:
        return self.proxy.mapToSource(proxy_index).row() if proxy_index.isValid() else -1

    def _retry_index(self, index: QModelIndex) -> None:
        capture = index.data(Role.CAPTURE)
        if isinstance(capture, Capture):
            self.capture_service.retry(capture)
            return
        row = self._source_row(index)
        tile = self.model.tile_at(row)
        if tile is not None and tile.spec is not None:
            spec = tile.spec
            self.model.remove_tile(row)
            self.submit(spec)

    def _cancel_index(self, index: QModelIndex) -> None:
        job = index.data(Role.JOB)
        if job is not None:
            self.capture_service.cancel(int(job))

    def _dismiss_index(self, index: QModelIndex) -> None:
        self.model.remove_tile(self._source_row(index))

    def _recapture_index(self, index: QModelIndex) -> None:
        capture = index.data(Role.CAPTURE)
        if isinstance(capture, Capture):
            self.capture_service.recapture(capture)

    # ------------------------------------------------------------------ actions
    def _focus_url(self) -> None:
        self.capture_bar.url_edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.capture_bar.url_edit.selectAll()

    def _first_ready(self) -> Capture | None:
        return next((c for c in self.selected_captures() if c.status == "ready" and c.blob_path), None)

    def _guard(self, fn: Callable[[], Any]) -> None:
        try:
            fn()
        except ShotDeskError as exc:
            self.show_message(str(exc), 10_000)

    def open_in_viewer(self) -> None:
        capture = self._first_ready()
        if capture is not None and capture.blob_path is not None:
            path = capture.blob_path
            self._guard(lambda: qt_desktop.open_file(path))

    def reveal(self) -> None:
        capture = self._first_ready()
        if capture is not None and capture.blob_path is not None:
            path = capture.blob_path
            self._guard(lambda: qt_desktop.reveal_in_file_manager(path))

    def open_url(self) -> None:
        for capture in self.selected_captures()[:10]:
            qt_desktop.open_url(capture.url)

    def copy_image(self) -> None:
        capture = next((c for c in self.selected_captures() if c.is_raster and c.blob_path), None)
        if capture is None or capture.blob_path is None:
            self.show_message("Select a PNG, JPEG or WebP capture to copy its picture")
            return
        path = capture.blob_path

        async def run() -> None:
            try:
                await qt_desktop.copy_image(path)
            except ShotDeskError as exc:
                self.show_message(str(exc), 10_000)
                return
            self.show_message("Picture copied")

        self.ctx.tasks.spawn(run(), name="copy-image")

    def copy_file(self) -> None:
        captures = [c for c in self.selected_captures() if c.status == "ready"]
        template = self.ctx.settings.filename_template

        def copy() -> list[Path]:  # the folder too: pruning old drag folders is disk work
            return export_copies(captures, drag_folder(), template)

        async def run() -> None:
            try:
                files = await asyncio.to_thread(copy)
            except (OSError, ShotDeskError) as exc:
                self.show_message(f"Cannot copy the files: {exc}", 10_000)
                return
            if files:
                qt_desktop.copy_files(files)
                self.show_message(f"Copied {len(files)} file(s)")

        if captures:
            self.ctx.tasks.spawn(run(), name="copy-file")

    # ------------------------------------------------------------------ library tasks (library_actions.py)
    def export_selection_as(self, kind: str) -> QFileDialog | None:
        return self.library_actions.export_selection_as(kind)

    def export_to(self, kind: str, captures: Sequence[Capture], target: Path) -> None:
        self.library_actions.export_to(kind, captures, target)

    def responsive_sheet_dialog(self) -> ResponsiveSheetDialog | None:
        return self.library_actions.responsive_sheet_dialog()

    def make_responsive_sheet(self, capture: Capture, device_names: Sequence[str], out_path: Path, *,
                              title: str | None = None) -> CaptureBatch:
        return self.library_actions.make_responsive_sheet(capture, device_names, out_path, title=title)

    def refresh_older_than(self, seconds: float) -> CaptureBatch:
        return self.library_actions.refresh_older_than(seconds)

    def refresh_selection(self) -> CaptureBatch | None:
        return self.library_actions.refresh_selection()

    @property
    def _export_dialog(self) -> QFileDialog | None:
        return self.library_actions._export_dialog

    # ------------------------------------------------------------------ integrity / recovery
    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._startup_done:
            self._startup_done = True
            if self.ctx.startup_check:
                QTimer.singleShot(0, self.start_integrity_check)  # after the first paint

    def start_integrity_check(self) -> None:
        self.show_message("Checking the gallery's files…")
        self.gallery_service.check_integrity()

    def _show_recovery(self) -> None:
        recovery = getattr(self.ctx.library, "recovery", None)
        if recovery is None:
            return
        self._recovery_shown = True
        index = self.ctx.library.index_path
        self.message_bar.show_message(
            f"{recovery}. The gallery works normally; recovered pictures whose address was lost "
            "are tagged \"recovered\".", "warning",
            [("Show recovered", lambda: self.filter_bar.set_tag("recovered")),
             ("Reveal damaged index", lambda: self._guard(lambda: qt_desktop.reveal_in_file_manager(index)))])

    def _on_integrity(self, report: IntegrityReport) -> None:
        if report.marked_missing or report.restored or report.orphans_adopted:
            self.model.reload()  # MISSING badges (and files that came back)
            self._facets_timer.start()
        done = []
        if report.restored:
            done.append(f"{report.restored} file(s) found again")
        if report.thumbnails_rebuilt:
            done.append(f"{report.thumbnails_rebuilt} thumbnail(s) rebuilt")
        if report.orphans_removed or report.temp_files_removed:
            done.append(f"{report.orphans_removed + report.temp_files_removed} leftover file(s) removed")
        summary = "; ".join(done)
        if report.marked_missing:
            text = (f"{report.marked_missing} capture(s) lost their picture files (the cache folder was "
                    "cleaned up). They are kept and marked MISSING: re-capture them to get the pictures back."
                    + (f" Also: {summary}." if summary else ""))
            if self._recovery_shown and self.message_bar.isVisible():
                text = f"{self.message_bar.text}\n{text}"
            self.message_bar.show_message(text, "warning", [
                ("Show missing", lambda: self.filter_bar.set_status("missing")),
                ("Re-capture missing", self.library_actions.refresh_missing)])
            self.show_message(f"Gallery checked: {report.marked_missing} missing file(s)", 15_000)
        elif summary:
            self.show_message(f"Gallery checked and repaired: {summary}", 15_000)
        else:
            self.show_message(f"Gallery checked: {report.rows_checked:,} captures, every file in place")

    # ------------------------------------------------------------------ facets / similar
    def _load_facets(self) -> None:
        if not self._closing:  # a refresh batch ended by the shutdown restarts the timer
            self.gallery_service.load_facets()

    def _on_facets(self, domains: list[tuple[str, int]],
                   viewports: list[tuple[tuple[int, int], int]]) -> None:
        self.filter_bar.set_domains(domains)
        self.filter_bar.set_viewports(viewports)

    def show_similar(self) -> None:
        capture = next((c for c in self.selected_captures() if c.is_raster and c.status == "ready"), None)
        if capture is None:
            self.show_message("Select a capture with a picture to find the ones that look like it")
            return
        self.show_message("Looking for similar captures…")
        self.gallery_service.load_similar(capture)

    def _on_similar(self, capture_id: int | None, groups: list[list[Capture]]) -> None:
        if not groups:
            self.filter_bar.set_ids(None)
            self.show_message("No other capture looks like this one" if capture_id is not None
                              else "No captures look alike", 8000)
            return
        ids = [c.id for group in groups for c in group]
        if capture_id is not None:
            label = f"Similar to #{capture_id} · {len(ids)}"
        else:
            label = f"{len(groups)} group(s) of similar captures · {len(ids)}"
        self.filter_bar.set_ids(ids, label)
        self.show_message(label.replace(" · ", ": ", 1) if capture_id is None else
                          f"{len(ids)} captures look alike")

    def recapture(self) -> None:
        for capture in self.selected_captures():
            if capture.status == "failed":
                self.capture_service.retry(capture)
            else:
                self.capture_service.recapture(capture)

    def retry_selected(self) -> None:
        for capture in self.selected_captures():
            if capture.status == "failed":
                self.capture_service.retry(capture)

    def delete_selected(self) -> None:
        captures = self.selected_captures()
        for index in self.view.selected_indexes():
            job = index.data(Role.JOB)
            if job is not None:
                self.capture_service.cancel(int(job))
        if captures:
            self.gallery_service.delete([c.id for c in captures])

    def undo_delete(self) -> None:
        if self.gallery_service.undo_delete() is not None:
            self.undo_button.hide()

    def toggle_favourite(self) -> None:
        captures = self.selected_captures()
        if not captures:
            return
        value = not all(c.favourite for c in captures)
        for capture in captures:
            self.gallery_service.set_favourite(capture, value)

    def _show_version(self, capture: Capture) -> None:
        self.preview.show_capture(capture)

    def _on_versions(self, key: str, versions: list[Capture]) -> None:
        shown = self.preview.capture
        if shown is not None and shown.key == key:
            self.preview.set_versions(versions)

    def compare_selected(self) -> None:
        ready = [c for c in self.selected_captures() if c.status == "ready" and c.is_raster]
        if len(ready) >= 2:
            self.open_compare(ready[1], ready[0])
            return
        self.preview._on_compare()
        if not self.preview.compare_button.isEnabled():
            self.show_message("Select two captures (PNG, JPEG or WebP), or one with an earlier version")

    def open_compare(self, older: Capture, newer: Capture) -> CompareDialog:
        dialog = CompareDialog(older, newer, self.ctx.tasks, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        dialog.show()  # not modal: compare while browsing
        self._compare_dialogs = [*self._open_compare_dialogs(), dialog]
        self.gallery_service.compare(dialog.a, dialog.b)
        return dialog

    def _open_compare_dialogs(self) -> list[CompareDialog]:
        """The compare windows still open (a closed one deletes itself: WA_DeleteOnClose)."""
        return [d for d in self._compare_dialogs if shiboken6.isValid(d) and d.isVisible()]

    def _on_compared(self, id_a: int, id_b: int, diff: object) -> None:
        for dialog in self._open_compare_dialogs():
            if (dialog.a.id, dialog.b.id) == (id_a, id_b):
                dialog.set_diff(diff)

    def _on_gallery_error(self, message: str) -> None:
        self.show_message(message, 15_000)
        if self.library_actions.kind == "export":
            self.library_actions.end_task("export")
            self.message_bar.show_message(f"Export failed: {message}", "error")
        for dialog in self._open_compare_dialogs():
            if dialog.result_label.text() == "Comparing…":
                dialog.set_error(message)

    def _on_deleted(self, ids: list[int]) -> None:
        self.model.remove_captures(ids)
        if self.preview.capture is not None and self.preview.capture.id in ids:
            self.preview.show_capture(None)
        self.show_message(f"Deleted {len(ids)} capture(s)", 12_000)
        self.undo_button.setText(f"Undo delete ({len(ids)})")
        self.undo_button.show()
        self._undo_timer.start()

    def _on_restored(self, captures: list[Capture]) -> None:
        for capture in captures:
            self.model.put_capture(capture)
        self.show_message(f"Restored {len(captures)} capture(s)")

    def _on_changed(self, capture: Capture) -> None:
        self.model.put_capture(capture)
        self.preview.refresh(capture)
        self._refresh_tags()

    def _context_menu(self, pos: QPoint) -> None:
        index = self.view.indexAt(pos)
        if not index.isValid():
            return
        if not self.view.selectionModel().isSelected(index):
            self.view.selectionModel().setCurrentIndex(
                index, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        menu = QMenu(self)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)  # one menu per right-click
        job = index.data(Role.JOB)
        if job is not None and index.data(Role.STATUS) != "failed":
            menu.addAction("Cancel capture", lambda: self.capture_service.cancel(int(job)))
        else:
            for action in (self.open_action, self.copy_image_action, self.copy_file_action,
                           self.reveal_action, None, self.recapture_action, self.refresh_selection_action,
                           self.retry_action, self.compare_action, self.similar_action, self.favourite_action,
                           None, self.open_url_action, None,
                           self.delete_action):
                menu.addSeparator() if action is None else menu.addAction(action)
            export_menu = menu.addMenu("Export")
            for action in (self.export_action, self.export_zip_action, self.export_html_action,
                           self.responsive_action):
                export_menu.addAction(action)
        menu.popup(self.view.viewport().mapToGlobal(pos))
        self._menu = menu

    # ------------------------------------------------------------------ drag and drop
    def _drag_mime(self, indexes: list[QModelIndex]) -> QMimeData | None:
        captures = [i.data(Role.CAPTURE) for i in indexes]
        ready = [c for c in captures if isinstance(c, Capture) and c.status == "ready"]
        if not ready:
            return None
        try:
            files = self.drag_copies.files(ready, self.ctx.settings.filename_template)
        except (OSError, ShotDeskError) as exc:
            self.show_message(f"Cannot drag the files: {exc}", 10_000)
            return None
        return drag_mime(files) if files else None

    def _prepare_drag(self) -> None:
        """Copy the selection for a drag that may follow, in a worker thread (see DragCopies)."""
        if not self._closing:
            self.drag_copies.prepare(self.selected_captures(), self.ctx.settings.filename_template)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.source() is None and mime_has_urls(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        if event.source() is not None:
            event.ignore()
            return
        urls = urls_from_mime(event.mimeData())
        if urls:
            event.acceptProposedAction()
            self.capture_urls(urls)

    # ------------------------------------------------------------------ settings
    def open_settings(self) -> SettingsDialog:
        dialog = SettingsDialog(self.settings_service.settings, self.ctx.providers, self.settings_service,
                                self.ctx.tasks, self)
        dialog.settings_accepted.connect(self._settings_accepted)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()  # open() + signals, never exec() (STYLE.md §4.4)
        self.settings_dialog = dialog
        return dialog

    def _settings_accepted(self, settings: Settings) -> None:
        async def run() -> None:
            try:
                await self.settings_service.save(settings)
            except ShotDeskError as exc:
                self.show_message(f"Settings not saved: {exc}", 15_000)
                return
            self.apply_settings(settings)
            self.show_message("Settings saved")

        self.ctx.tasks.spawn(run(), name="save-settings")

    def apply_settings(self, settings: Settings) -> None:
        self.ctx.settings = settings
        self.capture_service.set_concurrency(settings.concurrency)
        pipeline = self.ctx.pipeline
        if hasattr(pipeline, "ttl_s"):
            pipeline.ttl_s = settings.cache_ttl_s
        registry = getattr(pipeline, "registry", None)
        reconfigure = getattr(registry, "update_settings", None) or getattr(registry, "reconfigure", None)
        if callable(reconfigure):
            result = reconfigure(settings)
            if asyncio.iscoroutine(result):
                self.ctx.tasks.spawn(result, name="registry-settings")
        self.ctx.tasks.spawn(self._refresh_key_states(), name="key-states")

    def _forget_providers(self, states: dict[str, bool]) -> None:
        """A key changed: the next capture builds that provider anew with the new key."""
        forget = getattr(getattr(self.ctx.pipeline, "registry", None), "forget", None)
        if callable(forget):
            for pid in states:
                self.ctx.tasks.spawn(forget(pid), name=f"forget-{pid}")

    async def _refresh_key_states(self) -> None:
        states = await self.settings_service.key_states(p.id for p in self.ctx.providers if p.needs_key)
        self.capture_bar.set_key_states(states)

    async def _warm_up(self) -> None:
        """Import the chosen provider's modules (httpx, the engine client…) in a worker thread now,
        so the first capture does not stall the window for ~0.1 s importing them."""
        try:
            from shotdesk.capture.registry import provider_class
        except ImportError:
            return
        for pid in dict.fromkeys([self.capture_bar.provider_id, self.ctx.settings.default_provider]):
            with contextlib.suppress(ShotDeskError):  # an unknown id: the capture will say so
                await asyncio.to_thread(provider_class, pid)
        # The shared TLS context and httpx's lazy transport imports: 20–55 ms off the GUI thread.
        http_client = await asyncio.to_thread(importlib.import_module, "shotdesk.capture.http.client")
        await http_client.warm_up()

    # ------------------------------------------------------------------ messages
    def show_message(self, text: str, timeout_ms: int = 6000) -> None:
        self.statusBar().showMessage(text, timeout_ms)

    def _task_failed(self, name: str, exc: BaseException) -> None:
        self.show_message(f"Something went wrong ({name}): {exc}", 15_000)

    # ------------------------------------------------------------------ shutdown
    def closeEvent(self, event: QCloseEvent) -> None:
        if self._closed:
            event.accept()
            return
        event.ignore()
        if not self._closing:
            self._closing = True
            self.save_prefs()
            self.hide()
            # Not through the registry: cancel_all() must not cancel the shutdown itself.
            self._shutdown_task = self.ctx.tasks.loop.create_task(self.shutdown())

    async def shutdown(self) -> None:
        """Let row writes finish (a pending note is saved), cancel the queue and every task, close
        providers and the library; then close."""
        try:
            for timer in (self._caption_timer, self._facets_timer, self._undo_timer):
                timer.stop()  # none may start work on the registry closed below
            self.preview.flush_note()
            await self.gallery_service.finish_writes()
            self.capture_service.cancel_all()
            await self.ctx.tasks.cancel_all()
            self.thumbnails.shutdown()
            self.drag_copies.close()
            gc.unfreeze()  # the model froze its rows (GalleryModel.fetchMore); let them go
            aclose: Callable[[], Coroutine[Any, Any, None]] | None = getattr(self.ctx.pipeline, "aclose",
                                                                             None)
            if aclose is not None:
                await asyncio.wait_for(aclose(), timeout=15)
        except (Exception, asyncio.CancelledError):
            log.exception("error while shutting down")
        finally:
            self._closed = True
            with contextlib.suppress(RuntimeError):  # the C++ window may already be gone (tests)
                self.close()
            if self.ctx.on_closed is not None:
                self.ctx.on_closed()
