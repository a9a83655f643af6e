"""CaptureSpec: validation messages a person can act on, and the canonical cache key."""

from __future__ import annotations

import pytest

from shotdesk.core.errors import InvalidSpec
from shotdesk.core.spec import CaptureSpec


@pytest.mark.parametrize(
    ("options", "field", "message"),
    [
        ({"width": 99999}, "width", "width must be 320–3840 px, got 99999"),
        ({"width": 319}, "width", "width must be 320–3840 px, got 319"),
        ({"height": 100}, "height", "height must be 240–2160 px, got 100"),
        ({"delay_ms": 10001}, "delay", "delay must be 0–10000 ms, got 10001"),
        ({"scale": 4}, "scale", "scale must be 1–3, got 4"),
        ({"quality": 0}, "quality", "quality must be 1–100, got 0"),
        ({"format": "gif"}, "format", "format must be one of png, jpeg, webp, pdf, got 'gif'"),
        ({"wait_until": "idle"}, "wait_until", "wait-until must be one of load, networkidle"),
        ({"width": 12.5}, "width", "width must be a whole number from 320 to 3840"),
        ({"timeout_s": 0}, "timeout", "timeout must be 1–300 s"),
        ({"full_page": "yes"}, "full_page", "full_page must be true or false"),
        ({"selector": "#a", "full_page": True}, "selector", "either an element (selector) or the full page"),
        ({"selector": "#a", "format": "pdf"}, "selector", "A PDF is always the whole page"),
    ],
)
def test_invalid_options_name_the_field_and_range(options, field, message):
    with pytest.raises(InvalidSpec) as err:
        CaptureSpec("https://example.com", **options)
    assert err.value.field == field
    assert message in str(err.value)
    assert err.value.exit_code == 2


def test_defaults_and_normalisation():
    spec = CaptureSpec("  Example.COM/path?q=1#frag ", format="JPG", wait_until="network_idle")
    assert spec.url == "https://example.com/path?q=1"
    assert spec.format == "jpeg" and spec.extension == "jpg" and spec.media_type == "image/jpeg"
    assert spec.wait_until == "networkidle"
    assert spec.output_size == (1280, 720)


def test_output_size_is_css_pixels_times_scale():
    assert CaptureSpec("example.com", width=1280, height=720, scale=2).output_size == (2560, 1440)
    assert CaptureSpec("example.com", width=412, height=915, scale=2.625).output_size == (1082, 2402)


def test_same_picture_same_key():
    a = CaptureSpec("example.com")
    b = CaptureSpec("https://example.com/", width=1280, timeout_s=90, device="Desktop HD")
    assert a.cache_key() == b.cache_key()
    # quality does not change a PNG
    assert CaptureSpec("example.com", quality=10).cache_key() == a.cache_key()
    assert len(a.cache_key()) == 64


@pytest.mark.parametrize(
    "change",
    [
        {"width": 1281}, {"height": 721}, {"scale": 2}, {"format": "webp"}, {"full_page": True},
        {"dark_mode": True}, {"block_ads": True}, {"hide_cookie_banners": True}, {"delay_ms": 5},
        {"wait_until": "networkidle"}, {"selector": "main"}, {"hide_selectors": (".ad",)},
        {"css": "body{}"}, {"js": "1"}, {"user_agent": "X"}, {"provider": "snapsharp"},
        {"url": "https://example.com/other"},
    ],
)
def test_any_option_that_changes_the_picture_changes_the_key(change):
    base = CaptureSpec("example.com")
    assert base.with_changes(**change).cache_key() != base.cache_key()


def test_quality_matters_for_lossy_formats():
    a = CaptureSpec("example.com", format="jpeg", quality=80)
    assert a.with_changes(quality=60).cache_key() != a.cache_key()


def test_dict_round_trip_and_unknown_option():
    spec = CaptureSpec("example.com", hide_selectors=(".a", ".b"), dark_mode=True, scale=2)
    again = CaptureSpec.from_dict(spec.to_dict())
    assert again == spec and again.cache_key() == spec.cache_key()
    with pytest.raises(InvalidSpec, match="Unknown option 'zoom'"):
        CaptureSpec.from_dict({"url": "example.com", "zoom": 2})


def test_changed_options_lists_non_defaults():
    spec = CaptureSpec("example.com", dark_mode=True, delay_ms=100, format="webp")
    assert spec.changed_options() == ["dark_mode", "delay_ms"]
