"""Gallery thumbnails made with Pillow (sync; run off the GUI thread).

A thumbnail is :data:`THUMB_WIDTH` px wide. Tall pages are cropped from the top to at most
:data:`THUMB_MAX_HEIGHT` px, which is what a person recognises a page by (its header), instead of
shrinking an 8,000 px page into an unreadable strip. Thumbnails are WebP (small, alpha kept).

PDFs get a generic drawn placeholder (a page with a folded corner and "PDF"): Pillow cannot
render PDF, and rendering the first page would need a second engine round trip — not cheap.
"""

from __future__ import annotations

import io

from PIL import Image, ImageDraw, ImageFont

THUMB_WIDTH = 320
#: Crop limit for tall pages: 3:2 portrait.
THUMB_MAX_HEIGHT = 480
THUMB_FORMAT = "webp"
THUMB_EXT = "webp"
THUMB_MEDIA_TYPE = "image/webp"
_QUALITY = 80


def thumbnail_size(width: int, height: int, *, thumb_width: int = THUMB_WIDTH,
                   max_height: int = THUMB_MAX_HEIGHT) -> tuple[int, int]:
    """Pixel size of the thumbnail of a ``width`` × ``height`` image (never upscaled)."""
    if width <= 0 or height <= 0:
        return (thumb_width, min(max_height, round(thumb_width * 1.294)))
    tw = min(thumb_width, width)
    th = max(1, round(height * tw / width))
    return (tw, min(th, max_height))


def make_thumbnail(data: bytes, *, thumb_width: int = THUMB_WIDTH,
                   max_height: int = THUMB_MAX_HEIGHT) -> bytes:
    """WebP thumbnail bytes of an image (PNG/JPEG/WebP bytes), top-cropped when tall.

    Raises Pillow's errors (``OSError`` / ``Image.DecompressionBombError``) for undecodable data.
    """
    with Image.open(io.BytesIO(data)) as src:
        width, height = src.size
        tw, _ = thumbnail_size(width, height, thumb_width=thumb_width, max_height=max_height)
        if src.format == "JPEG":
            src.draft("RGB", (tw, max(1, round(height * tw / width))))  # decode at a reduced scale
        return thumbnail_of(src, thumb_width=thumb_width, max_height=max_height)


def thumbnail_of(img: Image.Image, *, thumb_width: int = THUMB_WIDTH,
                 max_height: int = THUMB_MAX_HEIGHT) -> bytes:
    """WebP thumbnail bytes of a decoded (or lazily opened) image."""
    width, height = img.size
    tw, th = thumbnail_size(width, height, thumb_width=thumb_width, max_height=max_height)
    # Only the top part of a tall page ends up in the thumbnail: crop before scaling.
    source_h = min(height, max(1, round(th * width / tw)))
    part = img.crop((0, 0, width, source_h)) if source_h < height else img
    part = _normalise_mode(part)
    if part.size != (tw, th):
        # reducing_gap: a fast integer reduce first, then a good filter for the last step.
        part = part.resize((tw, th), Image.Resampling.LANCZOS, reducing_gap=3.0)
    out = io.BytesIO()
    part.save(out, format="WEBP", quality=_QUALITY, method=4)
    return out.getvalue()


def placeholder_thumbnail(label: str = "PDF", *, thumb_width: int = THUMB_WIDTH) -> bytes:
    """A generic document tile for captures Pillow cannot render (PDF)."""
    tw, th = thumb_width, min(THUMB_MAX_HEIGHT, round(thumb_width * 1.294))  # A4-ish portrait
    img = Image.new("RGB", (tw, th), (236, 238, 242))
    draw = ImageDraw.Draw(img)
    margin = tw // 8
    fold = tw // 6
    page = [(margin, margin), (tw - margin - fold, margin), (tw - margin, margin + fold),
            (tw - margin, th - margin), (margin, th - margin)]
    draw.polygon(page, fill=(255, 255, 255), outline=(160, 166, 178))
    draw.polygon([(tw - margin - fold, margin), (tw - margin - fold, margin + fold),
                  (tw - margin, margin + fold)], fill=(214, 218, 226), outline=(160, 166, 178))
    for i in range(6):  # text lines
        y = margin + fold + 20 + i * 18
        if y > th - margin - 60:
            break
        draw.line([(margin + 16, y), (tw - margin - 16 - (i % 3) * 20, y)], fill=(205, 209, 217), width=6)
    font = default_font(max(16, tw // 7))
    box = draw.textbbox((0, 0), label, font=font)
    text_w, text_h = int(box[2] - box[0]), int(box[3] - box[1])
    x = (tw - text_w) // 2
    top = th - margin - text_h - 24
    draw.rectangle([x - 10, top - 6, x + text_w + 10, top + text_h + 14], fill=(200, 40, 40))
    draw.text((x, top - int(box[1]) + 4), label, fill=(255, 255, 255), font=font)
    out = io.BytesIO()
    img.save(out, format="WEBP", quality=_QUALITY)
    return out.getvalue()


def _normalise_mode(img: Image.Image) -> Image.Image:
    if img.mode in ("RGB", "RGBA"):
        return img
    has_alpha = img.mode in ("LA", "PA") or (img.mode == "P" and "transparency" in img.info)
    return img.convert("RGBA" if has_alpha else "RGB")


def default_font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's built-in font at ``size`` px (a fixed-size bitmap font where Pillow has no FreeType)."""
    try:
        return ImageFont.load_default(size=size)
    except (OSError, TypeError):  # Pillow without FreeType
        return ImageFont.load_default()
