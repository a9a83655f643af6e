"""Real images for tests, made with Pillow."""

from __future__ import annotations

import io

from PIL import Image


def make_image(width: int = 64, height: int = 48, color: tuple[int, int, int] = (200, 30, 30),
               fmt: str = "PNG", quality: int = 85) -> bytes:
    img = Image.new("RGB", (width, height), color)
    buf = io.BytesIO()
    img.save(buf, format=fmt, **({"quality": quality} if fmt in ("JPEG", "WEBP") else {}))
    return buf.getvalue()


def open_image(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img
