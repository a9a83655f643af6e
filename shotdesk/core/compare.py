"""Comparing captures with Pillow only (no numpy): pixel diff + heat map, perceptual hashes,
near-duplicate grouping, blank-page and bot-check detection.

Everything here is sync and CPU-bound: callers on an event loop use ``asyncio.to_thread``.
The heavy lifting runs inside Pillow's C code (``ImageChops``, ``point``, ``histogram``), so a
1280 × 8000 pair diffs in a fraction of a second (``benchmarks/library.py`` measures it).
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageChops, ImageOps

#: A pixel counts as changed when one of its channels differs by more than this (0–255):
#: ignores anti-aliasing and JPEG noise, catches any visible edit.
DEFAULT_THRESHOLD = 16
#: Hamming distance of two 64-bit pHashes up to which two captures count as near-duplicates.
#: Measured on generated pages: re-encodes, blurs and resizes of a page stay within 0–3 bits,
#: pages with another layout are 20+ bits apart.
NEAR_DUPLICATE_DISTANCE = 10
#: Heat-map colour of changed pixels.
HEAT_COLOUR = (230, 20, 20)


@dataclass(frozen=True)
class DiffResult:
    """Outcome of :func:`diff_images`. Images of different sizes are compared on the union canvas
    (top-left aligned); the area only one of them covers counts as changed."""

    changed_pixels: int
    total_pixels: int
    #: Bounding box (left, top, right, bottom) of the changed pixels, or None when identical.
    bbox: tuple[int, int, int, int] | None
    size: tuple[int, int]
    #: Faded grey copy of the second image with changed pixels in red; None when not asked for.
    heatmap: Image.Image | None

    @property
    def changed_pct(self) -> float:
        """Share of changed pixels, 0–100."""
        return 100.0 * self.changed_pixels / self.total_pixels if self.total_pixels else 0.0

    @property
    def identical(self) -> bool:
        return self.changed_pixels == 0


def load_image(source: Image.Image | bytes | Path | str) -> Image.Image:
    """An RGB(A) image from an image, bytes or a file path (decoded fully, file closed)."""
    if isinstance(source, Image.Image):
        return source
    if isinstance(source, bytes):
        with Image.open(io.BytesIO(source)) as img:
            img.load()
            return img.copy() if img.mode in ("RGB", "RGBA", "L") else img.convert("RGB")
    with Image.open(Path(source)) as img:
        img.load()
        return img.copy() if img.mode in ("RGB", "RGBA", "L") else img.convert("RGB")


def _rgb(img: Image.Image) -> Image.Image:
    if img.mode == "RGB":
        return img
    if img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info):
        # compare what a person sees: transparency over white
        base = Image.new("RGB", img.size, (255, 255, 255))
        base.paste(img.convert("RGBA"), mask=img.convert("RGBA").getchannel("A"))
        return base
    return img.convert("RGB")


def _max_channel(img: Image.Image) -> Image.Image:
    """Per-pixel maximum over the R, G, B channels as an "L" image."""
    r, g, b = img.split()
    return ImageChops.lighter(ImageChops.lighter(r, g), b)


def diff_images(a: Image.Image | bytes | Path | str, b: Image.Image | bytes | Path | str, *,
                threshold: int = DEFAULT_THRESHOLD, heatmap: bool = True) -> DiffResult:
    """Compare two images pixel by pixel.

    Returns the number and share of changed pixels (a pixel changed when any channel differs by
    more than ``threshold``), the changed area's bounding box and a heat map: the second image,
    faded to grey, with the changed pixels painted red (stronger where the difference is larger).
    """
    img_a, img_b = _rgb(load_image(a)), _rgb(load_image(b))
    sizes = (img_a.size, img_b.size)
    width, height = max(img_a.width, img_b.width), max(img_a.height, img_b.height)
    same_size = img_a.size == img_b.size
    if not same_size:
        img_a, img_b = _pad(img_a, (width, height)), _pad(img_b, (width, height))
    magnitude = _max_channel(ImageChops.difference(img_a, img_b))
    thr = max(0, min(255, int(threshold)))
    mask = magnitude.point([0 if v <= thr else 255 for v in range(256)])
    if not same_size:
        # what only one image covers is changed, whatever the padding colour happens to match
        for w, h in sizes:
            if w < width:
                mask.paste(255, (w, 0, width, height))
            if h < height:
                mask.paste(255, (0, h, width, height))
    changed = mask.histogram()[255]
    bbox = mask.getbbox() if changed else None
    heat = _heatmap(img_b, magnitude, mask, thr, padded=not same_size) if heatmap else None
    return DiffResult(changed, width * height, bbox, (width, height), heat)


def _pad(img: Image.Image, size: tuple[int, int]) -> Image.Image:
    if img.size == size:
        return img
    canvas = Image.new("RGB", size, (255, 255, 255))
    canvas.paste(img, (0, 0))
    return canvas


def _heatmap(base: Image.Image, magnitude: Image.Image, mask: Image.Image, thr: int, *,
             padded: bool) -> Image.Image:
    # background: the newer capture in light grey so the red reads at a glance
    grey = base.convert("L").point([200 + v * 55 // 255 for v in range(256)]).convert("RGB")
    # opacity 50 %–100 % by how much the pixel changed; zero where unchanged
    strength = magnitude.point([0 if v <= thr else 128 + (v * 127 // 255) for v in range(256)])
    if padded:  # area only one image covers: changed even where the colours happen to agree
        strength = ImageChops.lighter(strength, mask.point([0] + [160] * 255))
    red = Image.new("RGB", base.size, HEAT_COLOUR)
    return Image.composite(red, grey, strength)


# ---------------------------------------------------------------------------------- perceptual hashes
def dhash(source: Image.Image | bytes | Path | str, size: int = 8) -> int:
    """Difference hash: ``size × size`` bits comparing neighbouring pixels of a grey thumbnail.

    Robust to scaling and compression noise; two captures of the same page state differ by a few
    bits, different pages by ~half of them.
    """
    img = load_image(source)
    small = _shrink(img.convert("L") if img.mode != "L" else img, (size + 1, size))
    px = small.tobytes()
    bits = 0
    row = size + 1
    for y in range(size):
        for x in range(size):
            bits = (bits << 1) | (px[y * row + x] > px[y * row + x + 1])
    return bits


def phash(source: Image.Image | bytes | Path | str) -> int:
    """DCT perceptual hash (64 bits): low frequencies of a 32 × 32 grey image versus their median."""
    img = load_image(source)
    n = 32
    small = _shrink(img.convert("L") if img.mode != "L" else img, (n, n))
    px = list(small.tobytes())
    cos = [[math.cos(math.pi * (2 * x + 1) * u / (2 * n)) for x in range(n)] for u in range(8)]
    rows = [[sum(px[y * n + x] * cos[u][x] for x in range(n)) for u in range(8)] for y in range(n)]
    coeffs = [sum(rows[y][u] * cos[v][y] for y in range(n)) for v in range(8) for u in range(8)]
    values = coeffs[1:]  # drop the DC term (overall brightness)
    median = sorted(values)[len(values) // 2]
    bits = 0
    for c in coeffs:
        bits = (bits << 1) | (c > median)
    return bits


def _shrink(img: Image.Image, size: tuple[int, int]) -> Image.Image:
    # reduce() by an integer factor first (fast box filter in C), then a box resize to the exact size
    factor = max(1, min(img.width // (size[0] * 4), img.height // (size[1] * 4)))
    if factor > 1:
        img = img.reduce(factor)
    return img.resize(size, Image.Resampling.BOX)


def image_hash(source: Image.Image | bytes | Path | str) -> int:
    """The hash the gallery stores for near-duplicate grouping: :func:`phash` (it separates
    different page layouts far better than :func:`dhash` on whole-page screenshots)."""
    return phash(source)


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def hash_hex(value: int) -> str:
    return f"{value:016x}"


def group_near_duplicates(items: Iterable[tuple[int, int]], *,
                          max_distance: int = NEAR_DUPLICATE_DISTANCE) -> list[list[int]]:
    """Group ids whose hashes are within ``max_distance`` bits (single linkage).

    ``items`` are ``(id, hash)`` pairs; only groups of two or more are returned, each sorted,
    largest groups first.
    """
    pairs = list(items)
    parent = list(range(len(pairs)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    # Bucket by exact hash first (the common duplicate), then compare buckets pairwise.
    buckets: dict[int, list[int]] = {}
    for idx, (_, h) in enumerate(pairs):
        buckets.setdefault(h, []).append(idx)
    for members in buckets.values():
        for m in members[1:]:
            parent[find(m)] = find(members[0])
    keys = list(buckets)
    for i, hi in enumerate(keys):
        for hj in keys[i + 1:]:
            if hamming(hi, hj) <= max_distance:
                parent[find(buckets[hj][0])] = find(buckets[hi][0])
    groups: dict[int, list[int]] = {}
    for idx, (item_id, _) in enumerate(pairs):
        groups.setdefault(find(idx), []).append(item_id)
    result = [sorted(g) for g in groups.values() if len(g) > 1]
    result.sort(key=lambda g: (-len(g), g[0]))
    return result


# ------------------------------------------------------------------------------- blank / bot check
def dominant_share(source: Image.Image | bytes | Path | str, *, tolerance: int = 12) -> float:
    """Share (0–1) of pixels within ``tolerance`` of the image's most common colour."""
    img = _rgb(load_image(source))
    # A page-sized image is measured at ≤ 512 px wide: plenty for "one colour or nearly".
    if img.width > 512:
        factor = img.width // 512 + (1 if img.width % 512 else 0)
        img = img.reduce(factor)
    # most common colour, quantised to 4 bits per channel for the vote
    quant = img.point([v & 0xF0 for v in range(256)] * 3)
    colours = quant.getcolors(maxcolors=img.width * img.height) or []
    if not colours:
        return 0.0
    top: Any = max(colours, key=lambda c: c[0])[1]
    qr, qg, qb = (int(v) for v in top)
    # the exact dominant colour: mean of the pixels in that quantised bin
    bin_mask = ImageChops.difference(quant, Image.new("RGB", img.size, (qr, qg, qb)))
    bin_mask = _max_channel(bin_mask).point([255 if v == 0 else 0 for v in range(256)])
    stats = [sum(i * c for i, c in enumerate(h)) / max(1, sum(h))
             for h in (img.getchannel(ch).histogram(mask=bin_mask) for ch in "RGB")]
    solid = Image.new("RGB", img.size, (round(stats[0]), round(stats[1]), round(stats[2])))
    near = _max_channel(ImageChops.difference(img, solid)).point(
        [255 if v <= tolerance else 0 for v in range(256)])
    return near.histogram()[255] / (img.width * img.height)


def is_blank(source: Image.Image | bytes | Path | str, *, min_share: float = 0.995,
             tolerance: int = 12) -> bool:
    """True when the image is one colour or nearly (≥ ``min_share`` of pixels within
    ``tolerance`` of the dominant colour): a white page that never rendered, a black frame."""
    return dominant_share(source, tolerance=tolerance) >= min_share


#: Lower-case markers of bot checks and challenge / block pages (titles and page text).
CHALLENGE_MARKERS: tuple[str, ...] = (
    "just a moment", "attention required", "checking your browser", "verify you are human",
    "verifying you are human", "are you a robot", "are you human", "captcha", "hcaptcha",
    "recaptcha", "cf-challenge", "cf-chl", "challenge-platform", "ddos protection by",
    "please enable cookies", "one more step", "pardon our interruption", "press & hold",
    "access denied", "request unsuccessful", "bot detection", "security check",
)
_WORDS = re.compile(r"\s+")


def challenge_marker(title: str | None, text: str | None = None) -> str | None:
    """The bot-check marker found in a page's title or text, or None.

    Titles are matched against every marker; page text (which may legitimately mention a
    captcha) only when it is short, as challenge pages are.
    """
    if title:
        t = _WORDS.sub(" ", title).strip().lower()
        for marker in CHALLENGE_MARKERS:
            if marker in t:
                return marker
    if text:
        body = _WORDS.sub(" ", text).strip().lower()
        if len(body) <= 3000:
            for marker in CHALLENGE_MARKERS:
                if marker in body:
                    return marker
    return None


def capture_flags(data: bytes, media_type: str, title: str | None = None,
                  text: str | None = None) -> tuple[str, ...]:
    """Flags for a fresh capture: ``"blank"`` (one colour or nearly), ``"challenge"`` (bot check).

    The pipeline retries a flagged capture once with a longer wait; the library stores the flags
    and the tile shows them.
    """
    flags: list[str] = []
    if media_type.startswith("image/"):
        try:
            if is_blank(data):
                flags.append("blank")
        except (OSError, ValueError, Image.DecompressionBombError):
            pass
    if challenge_marker(title, text):
        flags.append("challenge")
    return tuple(flags)


def side_by_side(images: Sequence[Image.Image], *, gap: int = 16,
                 background: tuple[int, int, int] = (255, 255, 255)) -> Image.Image:
    """Images next to each other, top-aligned (used for compare exports)."""
    width = sum(i.width for i in images) + gap * (len(images) - 1)
    height = max(i.height for i in images)
    canvas = Image.new("RGB", (width, height), background)
    x = 0
    for img in images:
        canvas.paste(_rgb(img), (x, 0))
        x += img.width + gap
    return canvas


def fit_within(img: Image.Image, box: tuple[int, int]) -> Image.Image:
    return ImageOps.contain(img, box, Image.Resampling.LANCZOS)
