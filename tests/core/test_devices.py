from __future__ import annotations

import pytest

from shotdesk.core.devices import apply_device, devices, find_device
from shotdesk.core.errors import InvalidSpec
from shotdesk.core.spec import CaptureSpec


def test_presets_cover_every_kind_with_valid_specs():
    presets = devices()
    assert len(presets) >= 12
    assert {d.kind for d in presets} == {"phone", "tablet", "laptop", "desktop"}
    for d in presets:
        spec = CaptureSpec("example.com", width=d.width, height=d.height, scale=d.scale)
        assert spec.output_size == d.output_size


def test_lookup_is_forgiving_and_unknown_lists_choices():
    assert find_device("iphone15").name == "iPhone 15"
    with pytest.raises(InvalidSpec) as err:
        find_device("Nokia 3310")
    assert "iPhone 15" in str(err.value) and err.value.field == "device"


def test_explicit_options_win_over_preset():
    merged = apply_device({"width": 500}, "iPad Air")
    assert merged["width"] == 500 and merged["height"] == 1180 and merged["scale"] == 2
    assert merged["device"] == "iPad Air" and "iPad" in merged["user_agent"]
