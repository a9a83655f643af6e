"""Thumbnail loading off the GUI thread, with a byte-bounded LRU cache of pixmaps.

The gallery asks :meth:`ThumbnailLoader.pixmap` for a thumbnail at a target size in *device*
pixels (logical size × devicePixelRatio, so tiles stay sharp on HiDPI screens). A cache hit
returns the pixmap; a miss returns ``None`` at once (the delegate paints a placeholder) and queues
a decode on a small thread pool. Pillow decodes and scales there and hands back a ``QImage``
(which, unlike ``QPixmap``, may be built outside the GUI thread); ``loaded(key)`` then fires on
the GUI thread, where the image becomes a pixmap.

Decoding runs in a ``concurrent.futures`` pool rather than on the asyncio loop, so the loader also
works without a running loop (plain pytest-qt tests, the model tester).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PIL import Image
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QImage, QPixmap

log = logging.getLogger(__name__)

#: Cache key: (file path, width, height) in device pixels.
ThumbKey = tuple[str, int, int]


def decode_thumbnail(path: Path, width: int, height: int) -> QImage:
    """Decode ``path`` scaled to ``width`` device pixels wide, cropped from the top to at most
    ``height`` (a page is recognised by its header; its full width stays visible). Runs in a
    worker thread; raises ``OSError``."""
    with Image.open(path) as src:
        src.draft("RGB", (width, height))
        img = src.convert("RGBA") if src.mode not in ("RGB", "RGBA") else src.copy()
    sw, sh = img.size
    if sw <= 0 or sh <= 0:
        raise OSError(f"{path} has no pixels")
    factor = width / sw
    tw, th = max(1, round(sw * factor)), max(1, round(sh * factor))
    # Crop before scaling: only the top part that ends up in the tile is resampled.
    keep = min(sh, max(1, round(height / factor)))
    if keep < sh:
        img = img.crop((0, 0, sw, keep))
        th = min(th, height)
    if (tw, th) != img.size:
        img = img.resize((tw, th), Image.Resampling.LANCZOS, reducing_gap=2.0)
    if img.mode != "RGBA":
        img = img.convert("RGBA")
    data = img.tobytes("raw", "RGBA")
    qimage = QImage(data, img.width, img.height, img.width * 4, QImage.Format.Format_RGBA8888)
    return qimage.copy()  # detach from the Python buffer


class ThumbnailLoader(QObject):
    """Loads thumbnails on worker threads; ``loaded(key)`` / ``failed(key, message)`` on the GUI thread.

    Requests are served newest first and at most ``max_queued`` wait: when the grid is scrolled
    quickly, tiles that scrolled out of sight are dropped from the queue (they are asked for
    again if they are painted again), so the thumbnails on screen arrive first.
    """

    loaded = Signal(str)
    failed = Signal(str, str)
    _decoded = Signal(str, object, str)  # worker → GUI thread (queued): key, QImage | None, error

    def __init__(self, *, max_bytes: int = 64 * 1024 * 1024, workers: int = 2, max_queued: int = 96,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._cache: OrderedDict[str, QPixmap] = OrderedDict()
        self._cache_bytes = 0
        self._max_bytes = max_bytes
        self._failed: dict[str, str] = {}
        #: Requests waiting for a worker (newest at the right) and keys being decoded now.
        self._queue: OrderedDict[str, tuple[Path, int, int]] = OrderedDict()
        self._active: set[str] = set()
        self._max_queued = max(1, max_queued)
        self._workers = max(1, workers)
        self._running = 0  # worker loops started and not yet finished
        self._pool = ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="thumbs")
        self._lock = threading.Lock()
        self._closed = False
        self._decoded.connect(self._on_decoded, Qt.ConnectionType.QueuedConnection)

    @staticmethod
    def key_for(path: Path, width: int, height: int) -> str:
        return f"{width}x{height}:{path}"

    # ------------------------------------------------------------------ queries
    def pixmap(self, path: Path, width: int, height: int, dpr: float = 1.0) -> QPixmap | None:
        """The cached pixmap (with ``dpr`` set) or ``None`` after queueing a load."""
        key = self.key_for(path, width, height)
        pm = self._cache.get(key)
        if pm is not None:
            self._cache.move_to_end(key)
            if pm.devicePixelRatio() != dpr:
                pm.setDevicePixelRatio(dpr)
            return pm
        if key not in self._failed:
            self._request(key, path, width, height)
        return None

    def error(self, path: Path, width: int, height: int) -> str | None:
        """Why the thumbnail could not be decoded, if it could not."""
        return self._failed.get(self.key_for(path, width, height))

    def is_pending(self, path: Path, width: int, height: int) -> bool:
        key = self.key_for(path, width, height)
        with self._lock:
            return key in self._queue or key in self._active

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._queue) + len(self._active)

    @property
    def cache_bytes(self) -> int:
        return self._cache_bytes

    def clear(self) -> None:
        self._cache.clear()
        self._cache_bytes = 0
        self._failed.clear()

    def forget(self, path: Path) -> None:
        """Drop every cached size of ``path`` (the file changed or was removed)."""
        suffix = f":{path}"
        for key in [k for k in self._cache if k.endswith(suffix)]:
            self._cache_bytes -= _pixmap_bytes(self._cache.pop(key))
        for key in [k for k in self._failed if k.endswith(suffix)]:
            del self._failed[key]

    def shutdown(self) -> None:
        self._closed = True
        with self._lock:
            self._queue.clear()
        self._pool.shutdown(wait=False, cancel_futures=True)

    # ------------------------------------------------------------------ internals
    def _request(self, key: str, path: Path, width: int, height: int) -> None:
        if self._closed:
            return
        with self._lock:
            if key in self._active:
                return
            if key in self._queue:
                self._queue.move_to_end(key)  # asked again: it is on screen, serve it sooner
                return
            self._queue[key] = (path, width, height)
            while len(self._queue) > self._max_queued:
                self._queue.popitem(last=False)  # scrolled away long ago
            start = self._running < self._workers
            if start:
                self._running += 1
        if start:
            self._pool.submit(self._work)

    def _work(self) -> None:
        """Worker thread: decode the newest queued request until the queue is empty."""
        while True:
            with self._lock:
                if not self._queue or self._closed:
                    self._running -= 1
                    return
                key, (path, width, height) = self._queue.popitem(last=True)
                self._active.add(key)
            try:
                image = decode_thumbnail(path, width, height)
            except Exception as exc:  # Pillow raises several kinds for broken files
                self._decoded.emit(key, None, f"{exc.__class__.__name__}: {exc}")
            else:
                self._decoded.emit(key, image, "")

    def _on_decoded(self, key: str, image: QImage | None, error: str) -> None:
        with self._lock:
            self._active.discard(key)
        if self._closed:
            return
        if image is None or image.isNull():
            self._failed[key] = error or "empty image"
            log.warning("thumbnail %s could not be decoded: %s", key, error)
            self.failed.emit(key, self._failed[key])
            return
        pm = QPixmap.fromImage(image)
        self._cache[key] = pm
        self._cache_bytes += _pixmap_bytes(pm)
        while self._cache_bytes > self._max_bytes and len(self._cache) > 1:
            _, old = self._cache.popitem(last=False)
            self._cache_bytes -= _pixmap_bytes(old)
        self.loaded.emit(key)


def _pixmap_bytes(pm: QPixmap) -> int:
    return pm.width() * pm.height() * 4
