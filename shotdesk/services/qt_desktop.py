"""Desktop integration: open a file in the system viewer, reveal it, open a URL, the clipboard.

Qt's ``QDesktopServices`` covers opening; revealing a file *selected* in the file manager needs a
per-platform command (Explorer ``/select,``, Finder ``open -R``, the freedesktop FileManager1
D-Bus interface on Linux, falling back to opening the folder). Decoding an image for the
clipboard runs in a worker thread; only ``QClipboard`` is touched on the GUI thread.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QMimeData, QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication, QImage

from shotdesk.core.errors import StorageError

log = logging.getLogger(__name__)


def open_file(path: Path) -> bool:
    """Open ``path`` with the system's default application."""
    _require(path)
    return bool(QDesktopServices.openUrl(QUrl.fromLocalFile(str(path))))


def open_url(url: str) -> bool:
    """Open a web address in the default browser."""
    return bool(QDesktopServices.openUrl(QUrl(url)))


def reveal_in_file_manager(path: Path) -> bool:
    """Show ``path`` selected in the file manager (or at least its folder)."""
    _require(path)
    try:
        if sys.platform == "win32":
            subprocess.Popen(["explorer", "/select,", str(path)])
            return True
        if sys.platform == "darwin":
            subprocess.Popen(["open", "-R", str(path)])
            return True
        if _freedesktop_show_items(path):
            return True
    except OSError as exc:
        log.info("could not reveal %s: %s", path, exc)
    return bool(QDesktopServices.openUrl(QUrl.fromLocalFile(str(path.parent))))


def _freedesktop_show_items(path: Path) -> bool:
    try:
        from PySide6.QtDBus import QDBusConnection, QDBusInterface, QDBusMessage
    except ImportError:  # pragma: no cover - QtDBus is part of the wheel
        return False
    bus = QDBusConnection.sessionBus()
    if not bus.isConnected():
        return False
    iface = QDBusInterface("org.freedesktop.FileManager1", "/org/freedesktop/FileManager1",
                           "org.freedesktop.FileManager1", bus)
    if not iface.isValid():
        return False
    reply = iface.call("ShowItems", [QUrl.fromLocalFile(str(path)).toString()], "")
    return bool(reply.type() != QDBusMessage.MessageType.ErrorMessage)


def _load_image(path: Path) -> QImage:
    image = QImage(str(path))
    if image.isNull():
        from PIL import Image

        with Image.open(path) as src:
            rgba = src.convert("RGBA")
        image = QImage(rgba.tobytes("raw", "RGBA"), rgba.width, rgba.height, rgba.width * 4,
                       QImage.Format.Format_RGBA8888).copy()
    if image.isNull():
        raise StorageError(f"Cannot read the image {path}", hint="re-capture it")
    return image


async def copy_image(path: Path) -> QImage:
    """Put the picture itself on the clipboard (decoded in a worker thread)."""
    _require(path)
    image = await asyncio.to_thread(_load_image, path)
    QGuiApplication.clipboard().setImage(image)
    return image


def copy_files(paths: Sequence[Path]) -> None:
    """Put file references on the clipboard (paste into a file manager or a mail)."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    mime.setText("\n".join(str(p) for p in paths))
    QGuiApplication.clipboard().setMimeData(mime)


def copy_text(text: str) -> None:
    QGuiApplication.clipboard().setText(text)


def _require(path: Path | None) -> None:
    if path is None or not Path(path).is_file():
        raise StorageError(f"The file {path} is not there any more",
                           hint="re-capture the page to get it back")
