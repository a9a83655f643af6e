"""Device presets (phones, tablets, laptops, desktops) from ``resources/data/devices.json``."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from shotdesk.core.errors import InvalidSpec
from shotdesk.core.resources import load_json


@dataclass(frozen=True)
class Device:
    name: str
    kind: str  # phone | tablet | laptop | desktop
    width: int
    height: int
    scale: float
    user_agent: str | None = None

    @property
    def output_size(self) -> tuple[int, int]:
        return (round(self.width * self.scale), round(self.height * self.scale))


@cache
def devices() -> tuple[Device, ...]:
    data = load_json("data", "devices.json")
    return tuple(Device(**entry) for entry in data["devices"])


def find_device(name: str) -> Device:
    """Look a preset up by name, case- and space-insensitively."""
    wanted = _fold(name)
    for device in devices():
        if _fold(device.name) == wanted:
            return device
    names = ", ".join(d.name for d in devices())
    raise InvalidSpec("device", f"Unknown device {name!r}", hint=f"choose one of: {names}")


def apply_device(options: dict[str, Any], name: str) -> dict[str, Any]:
    """Fill width, height, scale and user agent from a preset; explicit options win."""
    device = find_device(name)
    merged = dict(options)
    merged["device"] = device.name
    for key, value in (("width", device.width), ("height", device.height),
                       ("scale", device.scale), ("user_agent", device.user_agent)):
        if merged.get(key) is None:
            merged[key] = value
    return merged


def _fold(text: str) -> str:
    return "".join(text.lower().split())
