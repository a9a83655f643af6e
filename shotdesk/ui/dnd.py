"""Drag and drop: tiles out as real files, links in as captures.

Out: other apps get *copies* of the captures in a temporary export folder, named by the settings'
file-name template, collision-safe, made ahead while the selection is made
(:class:`shotdesk.services.qt_export.DragCopies`). The mime data holds their file URLs
(``text/uri-list``) and, for a single raster tile, the image, read only when a drop asks for it.

In: :func:`urls_from_mime` finds capturable web addresses in links, text (several URLs, one per
line or mixed with prose) and ``.url`` / ``.webloc`` files.
"""

from __future__ import annotations

import configparser
import logging
import plistlib
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QMetaType, QMimeData, QUrl
from PySide6.QtGui import QImage

from shotdesk.core.errors import InvalidSpec
from shotdesk.core.urls import normalize_url

log = logging.getLogger(__name__)

_URL_RE = re.compile(r"""(?i)\bhttps?://[^\s<>"'`]+""")


_IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp"}
_QT_IMAGE = "application/x-qt-image"


class FileDragMime(QMimeData):
    """File URLs and text for a drag; for a single picture also the image, read only on demand.

    A drop target that wants the image (an editor, a chat box) asks for it at the drop; most
    take the file. Decoding a full-page capture when the drag starts would freeze the window.
    """

    def __init__(self, files: Sequence[Path], *, image_of_single: bool = True) -> None:
        super().__init__()
        self.setUrls([QUrl.fromLocalFile(str(p)) for p in files])
        self.setText("\n".join(str(p) for p in files))
        single = files[0] if image_of_single and len(files) == 1 else None
        self._image_type = _IMAGE_TYPES.get(single.suffix.lower()) if single else None
        self._image_file = single if self._image_type else None
        self._cache: dict[str, Any] = {}  # asked for again while hovering (Windows): read once

    def formats(self) -> list[str]:
        extra = [self._image_type, _QT_IMAGE] if self._image_type else []
        return [*super().formats(), *extra]

    def hasFormat(self, mimetype: str) -> bool:
        return mimetype in self.formats()

    def retrieveData(self, mimetype: str, preferredType: QMetaType | QMetaType.Type) -> Any:
        if self._image_file is not None and mimetype in (self._image_type, _QT_IMAGE):
            if mimetype not in self._cache:
                self._cache[mimetype] = self._read(self._image_file, as_image=mimetype == _QT_IMAGE)
            return self._cache[mimetype]
        return super().retrieveData(mimetype, preferredType)

    @staticmethod
    def _read(path: Path, *, as_image: bool) -> QImage | QByteArray | None:
        try:
            if as_image:
                image = QImage(str(path))
                return None if image.isNull() else image
            return QByteArray(path.read_bytes())
        except OSError as exc:
            log.info("could not read %s for a drop: %s", path, exc)
            return None


def drag_mime(files: Sequence[Path], *, image_of_single: bool = True) -> QMimeData:
    """Mime data for files handed to another app: file URLs, plus the image for a single file."""
    return FileDragMime(files, image_of_single=image_of_single)


# ---------------------------------------------------------------------------------- drop / paste in
def urls_from_text(text: str) -> list[str]:
    """Web addresses in ``text``: explicit http(s) URLs anywhere, else one bare address per line."""
    found = [m.group(0).rstrip(".,;:!?)]}'\"") for m in _URL_RE.finditer(text)]
    if not found:
        for line in text.splitlines():
            token = line.strip()
            if token and " " not in token and "." in token:
                found.append(token)
    return _normalised(found)


def read_link_file(path: Path) -> str | None:
    """The URL inside a Windows ``.url`` or macOS ``.webloc`` file, or None."""
    try:
        if path.suffix.lower() == ".webloc":
            with path.open("rb") as fh:
                data = plistlib.load(fh)
            url = data.get("URL") if isinstance(data, dict) else None
            return str(url) if url else None
        if path.suffix.lower() == ".url":
            parser = configparser.ConfigParser(interpolation=None, strict=False)
            parser.read_string(path.read_text(encoding="utf-8", errors="replace"))
            for section in parser.sections():
                if section.lower() == "internetshortcut" and parser.has_option(section, "URL"):
                    return parser.get(section, "URL")
    except (OSError, ValueError, plistlib.InvalidFileException, configparser.Error) as exc:
        log.info("could not read link file %s: %s", path, exc)
    return None


def urls_from_mime(mime: QMimeData) -> list[str]:
    """Capturable URLs in dropped or pasted data (links, .url/.webloc files, text)."""
    found: list[str] = []
    if mime.hasUrls():
        for url in mime.urls():
            if url.isLocalFile():
                path = Path(url.toLocalFile())
                if path.suffix.lower() in (".url", ".webloc"):
                    link = read_link_file(path)
                    if link:
                        found.append(link)
                elif path.suffix.lower() in (".txt", ".csv") and path.is_file() \
                        and path.stat().st_size < 1_000_000:
                    found += urls_from_text(path.read_text(encoding="utf-8", errors="replace"))
            elif url.scheme() in ("http", "https"):
                found.append(url.toString())
    if not found and mime.hasText():
        found = urls_from_text(mime.text())
    return _normalised(found)


def mime_has_urls(mime: QMimeData) -> bool:
    """Cheap check for drag-enter: could this drop hold a web address?"""
    if mime.hasUrls():
        return any(u.scheme() in ("http", "https")
                   or (u.isLocalFile() and Path(u.toLocalFile()).suffix.lower() in (".url", ".webloc", ".txt",
                                                                                    ".csv"))
                   for u in mime.urls())
    return mime.hasText() and bool(urls_from_text(mime.text()[:20_000]))


def _normalised(candidates: Iterable[str]) -> list[str]:
    out: list[str] = []
    for raw in candidates:
        try:
            url = normalize_url(raw)
        except InvalidSpec:
            continue
        if url not in out:
            out.append(url)
    return out
