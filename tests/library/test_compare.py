"""Pixel diff, heat map, perceptual hashes, near-duplicates, blank and bot-check detection."""

from __future__ import annotations

import io
import random

import pytest
from PIL import Image, ImageDraw, ImageFilter

from shotdesk.core import compare
from shotdesk.core.library import Library
from shotdesk.core.spec import CaptureSpec
from tests.library.util import FakeClock, result_for


def page(width: int = 1280, height: int = 2000, seed: int = 1) -> Image.Image:
    """A page-like picture: white background, header bar, text-like lines, a photo-like block."""
    rnd = random.Random(seed)
    img = Image.new("RGB", (width, height), (255, 255, 255))
    d = ImageDraw.Draw(img)
    header = rnd.randint(60, 240)
    d.rectangle((0, 0, width, header), fill=(rnd.randint(0, 120), rnd.randint(0, 120), rnd.randint(60, 200)))
    y = header + 40
    while y < height - 40:
        d.rectangle((60, y, 60 + rnd.randint(300, width - 200), y + 10), fill=(60, 60, 60))
        y += rnd.choice((24, 24, 24, 60))
    for _ in range(3):  # pictures at random places
        x0, y0 = rnd.randint(0, max(0, width - 300)), rnd.randint(header, max(header, height - 300))
        d.rectangle((x0, y0, x0 + rnd.randint(150, 300), y0 + rnd.randint(150, 300)),
                    fill=(rnd.randint(0, 255), rnd.randint(0, 255), rnd.randint(0, 255)))
    return img


def test_diff_percentage_of_known_regions_within_one_percent() -> None:
    a = page(1000, 1000, seed=3)
    b = a.copy()
    d = ImageDraw.Draw(b)
    d.rectangle((100, 100, 299, 299), fill=(255, 0, 255))  # 200 × 200 = 40,000 px
    d.rectangle((500, 600, 899, 699), fill=(0, 200, 0))  # 400 × 100 = 40,000 px
    # pixels already magenta/green in a would not change: a page has none of those colours
    result = compare.diff_images(a, b)
    assert result.total_pixels == 1_000_000
    assert result.changed_pct == pytest.approx(8.0, abs=1.0)
    assert abs(result.changed_pixels - 80_000) <= 0.01 * 80_000
    assert result.bbox == (100, 100, 900, 700)
    assert compare.diff_images(a, a.copy()).changed_pixels == 0
    assert compare.diff_images(a, a.copy()).identical


def test_small_noise_is_not_a_change_but_visible_edits_are() -> None:
    a = page(800, 600, seed=5)
    # JPEG round trip: compression noise everywhere, no real change
    buf = io.BytesIO()
    a.save(buf, format="JPEG", quality=95)
    noisy = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    noise = compare.diff_images(a, noisy, threshold=48)
    assert noise.changed_pct < 1.0
    b = a.copy()
    ImageDraw.Draw(b).rectangle((0, 300, 799, 359), fill=(250, 200, 0))  # 10 % of the page
    assert compare.diff_images(a, b).changed_pct == pytest.approx(10.0, abs=1.0)


def test_diff_of_different_sizes_counts_the_extra_area() -> None:
    a = page(800, 1000, seed=7)
    taller = Image.new("RGB", (800, 1200), (255, 255, 255))
    taller.paste(a, (0, 0))  # same top, 200 px more page (white, like the padding)
    result = compare.diff_images(a, taller)
    assert result.size == (800, 1200)
    assert result.changed_pct == pytest.approx(100 * 200 / 1200, abs=1.0)
    assert result.bbox == (0, 1000, 800, 1200)
    narrower = a.crop((0, 0, 600, 1000))
    result = compare.diff_images(a, narrower)
    assert result.changed_pct == pytest.approx(25.0, abs=1.0)


def test_heatmap_marks_changed_pixels_red() -> None:
    a = page(600, 400, seed=9)
    b = a.copy()
    ImageDraw.Draw(b).rectangle((50, 250, 149, 349), fill=(0, 0, 0))
    result = compare.diff_images(a, b)
    heat = result.heatmap
    assert heat is not None and heat.size == (600, 400) and heat.mode == "RGB"
    r, g, bl = heat.getpixel((100, 300))  # type: ignore[misc]
    assert r > 180 and g < 100 and bl < 100  # changed: red
    r, g, bl = heat.getpixel((300, 390))  # type: ignore[misc]
    assert abs(r - g) < 10 and abs(g - bl) < 10 and r >= 200  # unchanged: light grey
    assert compare.diff_images(a, b, heatmap=False).heatmap is None


def test_dhash_near_duplicates_and_distinct_pages() -> None:
    a = page(1280, 2000, seed=11)
    resized = a.resize((640, 1000))
    blurred = a.filter(ImageFilter.GaussianBlur(1))
    buf = io.BytesIO()
    a.save(buf, format="JPEG", quality=60)
    other = page(1280, 2000, seed=99)
    d = compare.dhash(a)
    assert compare.hamming(d, compare.dhash(resized)) <= 3
    assert compare.hamming(d, compare.dhash(blurred)) <= 3
    assert compare.hamming(d, compare.dhash(buf.getvalue())) <= 3
    assert compare.hamming(d, compare.dhash(other)) > 3
    h = compare.image_hash(a)
    assert h == compare.phash(a)
    for variant in (resized, blurred, buf.getvalue()):
        assert compare.hamming(h, compare.phash(variant)) <= 3
    for seed in (12, 50, 77, 99):
        distance = compare.hamming(h, compare.phash(page(1280, 2000, seed=seed)))
        assert distance > compare.NEAR_DUPLICATE_DISTANCE
    assert len(compare.hash_hex(h)) == 16

    groups = compare.group_near_duplicates(
        [(1, h), (2, compare.phash(resized)), (3, compare.phash(other)), (4, compare.phash(blurred)),
         (5, compare.phash(page(seed=50)))])
    assert groups == [[1, 2, 4]]


def test_blank_detection() -> None:
    assert compare.is_blank(Image.new("RGB", (1280, 720), (255, 255, 255)))
    assert compare.is_blank(Image.new("RGB", (1280, 720), (0, 0, 0)))
    nearly = Image.new("RGB", (1280, 720), (250, 250, 250))
    ImageDraw.Draw(nearly).text((10, 10), "loading…", fill=(120, 120, 120))  # a spinner caption
    assert compare.is_blank(nearly)
    rgba = Image.new("RGBA", (400, 300), (0, 0, 0, 0))
    assert compare.is_blank(rgba)
    assert not compare.is_blank(page(1280, 720))
    half = Image.new("RGB", (1280, 720), (255, 255, 255))
    half.paste((20, 20, 20), (0, 0, 1280, 360))
    assert not compare.is_blank(half)
    assert compare.dominant_share(half) == pytest.approx(0.5, abs=0.02)


def test_challenge_markers() -> None:
    assert compare.challenge_marker("Just a moment...") == "just a moment"
    assert compare.challenge_marker("Attention Required! | Cloudflare") == "attention required"
    assert compare.challenge_marker(None, "Please complete the CAPTCHA to continue") == "captcha"
    assert compare.challenge_marker("Pricing – Example") is None
    long_article = "How CAPTCHA works. " + "Lorem ipsum dolor sit amet. " * 200
    assert compare.challenge_marker("Blog", long_article) is None  # long pages may mention it
    white = io.BytesIO()
    Image.new("RGB", (640, 480), (255, 255, 255)).save(white, format="PNG")
    assert compare.capture_flags(white.getvalue(), "image/png", "Just a moment...") == ("blank", "challenge")
    assert compare.capture_flags(b"%PDF-1.4", "application/pdf", "Report") == ()


def test_library_groups_near_duplicates(library: Library, clock: FakeClock) -> None:
    base = page(800, 1200, seed=21)
    variants = [base, base.resize((800, 1200), Image.Resampling.BILINEAR).filter(ImageFilter.SMOOTH),
                page(800, 1200, seed=77)]
    ids = []
    for i, img in enumerate(variants):
        clock.advance(1)
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        spec = CaptureSpec(url=f"https://dup{i}.example/")
        ids.append(library.add(spec, result_for(spec, buf.getvalue()), elapsed_ms=1).id)
    groups = library.near_duplicates()
    assert [[c.id for c in g] for g in groups] == [[ids[0], ids[1]]]


def test_diff_of_tall_captures_completes() -> None:
    a = page(1280, 8000, seed=31)
    b = a.copy()
    ImageDraw.Draw(b).rectangle((0, 4000, 1279, 4799), fill=(200, 0, 0))  # 10 %
    result = compare.diff_images(a, b)
    assert result.changed_pct == pytest.approx(10.0, abs=1.0)
    assert result.heatmap is not None and result.heatmap.size == (1280, 8000)
