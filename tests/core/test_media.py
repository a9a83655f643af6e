"""check_media refuses whatever is not the image or PDF that was asked for."""

from __future__ import annotations

import pytest

from shotdesk.core.errors import BadResponse
from shotdesk.core.media import MAX_PIXELS, check_media, sniff_format
from tests.helpers.images import make_image


@pytest.mark.parametrize(("fmt", "pil"), [("png", "PNG"), ("jpeg", "JPEG"), ("webp", "WEBP")])
def test_accepts_real_images_and_reports_size(fmt, pil):
    data = make_image(321, 123, fmt=pil)
    info = check_media(data, expected=fmt, content_type=f"image/{fmt}")
    assert (info.format, info.width, info.height) == (fmt, 321, 123)
    assert sniff_format(data) == fmt


def test_html_with_status_200_is_refused():
    with pytest.raises(BadResponse, match="sent a web page \\(HTML\\) instead of an image"):
        check_media(b"<!doctype html><p>Sign in", expected="png", content_type="text/html; charset=utf-8")
    with pytest.raises(BadResponse, match="sent a web page"):
        check_media(b"<!DOCTYPE html><p>oops", expected="png")


def test_truncated_image_is_refused():
    data = make_image(400, 300, fmt="PNG", color=(1, 2, 3))
    with pytest.raises(BadResponse, match="damaged or truncated"):
        check_media(data[: len(data) // 2], expected="png", content_type="image/png")


def test_wrong_format_and_empty_body():
    with pytest.raises(BadResponse, match="sent JPEG although PNG was asked for"):
        check_media(make_image(fmt="JPEG"), expected="png")
    with pytest.raises(BadResponse, match="empty response"):
        check_media(b"", expected="png", content_type="image/png")


def test_decompression_bomb_is_refused():
    # A PNG header claiming a huge canvas: refused from the header, before decoding.
    import struct
    import zlib

    width = height = int(MAX_PIXELS**0.5) + 10

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))
    with pytest.raises(BadResponse, match="megapixel limit"):
        check_media(png, expected="png")


def test_pdf_header_and_end():
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    assert check_media(pdf, expected="pdf", content_type="application/pdf").format == "pdf"
    with pytest.raises(BadResponse, match="truncated PDF"):
        check_media(pdf[:20], expected="pdf")
