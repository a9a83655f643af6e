"""Helpers for the library tests: real images, provider-like results, PDFs."""

from __future__ import annotations

import io

from PIL import Image

from shotdesk.capture.base import CaptureResult
from shotdesk.core.spec import CaptureSpec


def png(width: int = 64, height: int = 48, color: tuple[int, int, int] = (200, 30, 30),
        fmt: str = "PNG") -> bytes:
    img = Image.new("RGB", (width, height), color)
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


def result_for(spec: CaptureSpec, data: bytes | None = None, *, title: str | None = "A page",
               metadata: dict[str, str] | None = None) -> CaptureResult:
    """A CaptureResult as a provider returns it, with a real decodable image."""
    if data is None:
        data = png(*spec.output_size, fmt={"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}[spec.format])
    if spec.format == "pdf":
        return CaptureResult(data, "application/pdf", 0, 0, spec.provider, metadata or {}, spec.url, title)
    img = Image.open(io.BytesIO(data))
    return CaptureResult(data, spec.media_type, img.width, img.height, spec.provider,
                         metadata or {"render_ms": "12"}, spec.url, title)


def pdf_bytes() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (200, 280), (255, 255, 255)).save(buf, format="PDF")
    return buf.getvalue()


class FakeClock:
    """Unix time the test sets and advances."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
