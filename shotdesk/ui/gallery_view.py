"""GalleryView: the thumbnail grid (``QListView`` in icon mode over the filter proxy).

It only shows and reports: selection, Space (preview), Delete, the context menu position, drag
starts and URL drops are signals; the window decides what they do. Dragging tiles out asks
``drag_provider(indexes) -> QMimeData | None`` (set by the window) for the mime data and runs a
copy drag; ``QDrag.exec`` is a separate method so tests can patch it (it returns at once on the
offscreen platform).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QMimeData, QModelIndex, QPoint, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QDrag, QDragEnterEvent, QDragMoveEvent, QDropEvent, QKeyEvent, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QListView, QWidget

from shotdesk.ui.dnd import mime_has_urls, urls_from_mime
from shotdesk.ui.gallery_delegate import GalleryDelegate

DragProvider = Callable[[list[QModelIndex]], QMimeData | None]


class GalleryView(QListView):
    preview_requested = Signal(QModelIndex)
    delete_requested = Signal()
    context_menu_requested = Signal(QPoint)
    urls_dropped = Signal(list)
    drag_finished = Signal(object)  # Qt.DropAction

    def __init__(self, delegate: GalleryDelegate, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(True)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setUniformItemSizes(True)
        # SinglePass: a batched layout restarts from the first row after every fetchMore, so the
        # scroll range shrinks for a moment and the view jumps back while the user scrolls.
        self.setLayoutMode(QListView.LayoutMode.SinglePass)
        self.setSpacing(4)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.verticalScrollBar().setSingleStep(24)
        self.setMouseTracking(True)
        self.setDragEnabled(True)
        self.setAcceptDrops(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragDrop)
        self.setDefaultDropAction(Qt.DropAction.CopyAction)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.setAccessibleName("Gallery")
        self.setItemDelegate(delegate)
        self._delegate = delegate
        self.drag_provider: DragProvider | None = None
        self.customContextMenuRequested.connect(self.context_menu_requested)
        # Thumbnails arrive one by one: repaint at most every 30 ms.
        self._repaint = QTimer(self)
        self._repaint.setSingleShot(True)
        self._repaint.setInterval(30)
        self._repaint.timeout.connect(self.viewport().update)
        delegate.loader.loaded.connect(self._schedule_repaint)
        delegate.loader.failed.connect(self._schedule_repaint)

    @property
    def delegate(self) -> GalleryDelegate:
        return self._delegate

    def _schedule_repaint(self, *_args: object) -> None:
        if not self._repaint.isActive():
            self._repaint.start()

    def sizeHint(self) -> QSize:
        return QSize(720, 520)

    def selected_indexes(self) -> list[QModelIndex]:
        """Selected rows in view order (the proxy's indexes)."""
        return sorted(self.selectionModel().selectedIndexes(), key=lambda i: i.row()) \
            if self.selectionModel() else []

    # ------------------------------------------------------------------ keys
    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key == Qt.Key.Key_Space and event.modifiers() == Qt.KeyboardModifier.NoModifier:
            current = self.currentIndex()
            if current.isValid():
                self.preview_requested.emit(current)
                return
        if key in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) and self.selected_indexes():
            self.delete_requested.emit()
            return
        super().keyPressEvent(event)

    # ------------------------------------------------------------------ drag out
    def startDrag(self, supportedActions: Qt.DropAction) -> None:
        indexes = self.selected_indexes()
        if not indexes or self.drag_provider is None:
            return
        mime = self.drag_provider(indexes)
        if mime is None:
            return
        drag = QDrag(self)
        drag.setMimeData(mime)
        pixmap = self._drag_pixmap(indexes)
        if pixmap is not None:
            drag.setPixmap(pixmap)
            drag.setHotSpot(QPoint(pixmap.width() // 2, pixmap.height() // 2))
        result = self.exec_drag(drag)
        self.drag_finished.emit(result)

    def exec_drag(self, drag: QDrag) -> Qt.DropAction:
        """Run the drag (patched in tests: offscreen it returns at once)."""
        return drag.exec(Qt.DropAction.CopyAction, Qt.DropAction.CopyAction)

    def _drag_pixmap(self, indexes: list[QModelIndex]) -> QPixmap | None:
        rect = self.visualRect(indexes[0])
        if rect.isEmpty():
            return None
        pixmap = self.viewport().grab(rect).scaledToWidth(
            min(160, rect.width()), Qt.TransformationMode.SmoothTransformation)
        return pixmap

    # ------------------------------------------------------------------ drop in
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.source() is None and mime_has_urls(event.mimeData()):
            event.setDropAction(Qt.DropAction.CopyAction)
            event.accept()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if event.source() is None and mime_has_urls(event.mimeData()):
            event.setDropAction(Qt.DropAction.CopyAction)
            event.accept()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        if event.source() is not None:  # our own tiles dropped back: nothing to do
            event.ignore()
            return
        urls = urls_from_mime(event.mimeData())
        if urls:
            event.setDropAction(Qt.DropAction.CopyAction)
            event.accept()
            self.urls_dropped.emit(urls)
        else:
            event.ignore()
