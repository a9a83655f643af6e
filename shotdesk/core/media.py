"""Checks that bytes really are the image or PDF they claim to be, before anything is written.

Pure and Qt-free; Pillow decodes off the GUI thread (callers run it in an executor when needed).
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image

from shotdesk.core.errors import BadResponse

#: Refuse decompression bombs: 200 megapixels (a 1920 × 100,000 full page fits).
MAX_PIXELS = 200_000_000
# Pillow's own bomb check must not fire below our limit (set once, at import: not thread-local).
Image.MAX_IMAGE_PIXELS = max(Image.MAX_IMAGE_PIXELS or 0, MAX_PIXELS)

_MAGIC: dict[str, tuple[bytes, ...]] = {
    "png": (b"\x89PNG\r\n\x1a\n",),
    "jpeg": (b"\xff\xd8\xff",),
    "webp": (b"RIFF",),
    "pdf": (b"%PDF-",),
}
_MEDIA_TO_FORMAT = {
    "image/png": "png",
    "image/jpeg": "jpeg",
    "image/jpg": "jpeg",
    "image/webp": "webp",
    "application/pdf": "pdf",
}


@dataclass(frozen=True)
class MediaInfo:
    format: str  # png | jpeg | webp | pdf
    media_type: str
    width: int  # 0 for a PDF
    height: int


def sniff_format(data: bytes) -> str | None:
    """The format the magic bytes say, or None."""
    for fmt, magics in _MAGIC.items():
        if any(data.startswith(m) for m in magics):
            if fmt == "webp" and data[8:12] != b"WEBP":
                continue
            return fmt
    return None


def check_media(data: bytes, *, expected: str, content_type: str | None = None,
                source: str = "The provider") -> MediaInfo:
    """Validate ``data`` as format ``expected`` (png/jpeg/webp/pdf).

    Checks, in order: the Content-Type (when given), the magic bytes, a full decode by Pillow
    (truncated files fail here), and the pixel count. Raises :class:`BadResponse` with a message
    that says what came instead.
    """
    if content_type is not None:
        media = content_type.split(";", 1)[0].strip().lower()
        if media not in _MEDIA_TO_FORMAT:
            kind = "a web page (HTML)" if "html" in media else (media or "no content type")
            raise BadResponse(
                f"{source} sent {kind} instead of an image",
                hint="the service may be down or the address may be wrong; nothing was saved",
            )
    if not data:
        raise BadResponse(f"{source} sent an empty response", hint="try again; nothing was saved")
    actual = sniff_format(data)
    if actual is None:
        head = data[:64].lstrip().lower()
        is_html = head.startswith((b"<!doctype", b"<html"))
        kind = "a web page (HTML)" if is_html else "data that is not an image"
        raise BadResponse(f"{source} sent {kind}", hint="nothing was saved; check the provider settings")
    if actual != expected:
        raise BadResponse(f"{source} sent {actual.upper()} although {expected.upper()} was asked for",
                          hint="nothing was saved")
    if actual == "pdf":
        if b"%%EOF" not in data[-2048:]:
            raise BadResponse(f"{source} sent a truncated PDF", hint="try again; nothing was saved")
        return MediaInfo("pdf", "application/pdf", 0, 0)
    width, height = _decode(data, source)
    return MediaInfo(actual, f"image/{actual}", width, height)


def _decode(data: bytes, source: str) -> tuple[int, int]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:  # reads the header only
                width, height = img.size
                if width * height > MAX_PIXELS:
                    raise BadResponse(
                        f"{source} sent an image of {width}×{height} px, more than the "
                        f"{MAX_PIXELS // 1_000_000} megapixel limit", hint="nothing was saved")
                img.load()
    except BadResponse:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise BadResponse(f"{source} sent an image over the {MAX_PIXELS // 1_000_000} megapixel limit",
                          hint="nothing was saved") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise BadResponse(f"{source} sent a damaged or truncated image ({exc.__class__.__name__})",
                          hint="try again; nothing was saved") from None
    return width, height
