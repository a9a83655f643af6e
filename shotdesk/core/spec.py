"""CaptureSpec: one capture's URL and every option, validated once, with a canonical cache key."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from shotdesk.core.errors import InvalidSpec
from shotdesk.core.urls import normalize_url

FORMATS: tuple[str, ...] = ("png", "jpeg", "webp", "pdf")
WAIT_UNTIL: tuple[str, ...] = ("load", "networkidle")
MEDIA_TYPES: Mapping[str, str] = {
    "png": "image/png",
    "jpeg": "image/jpeg",
    "webp": "image/webp",
    "pdf": "application/pdf",
}
EXTENSIONS: Mapping[str, str] = {"png": "png", "jpeg": "jpg", "webp": "webp", "pdf": "pdf"}

WIDTH_RANGE = (320, 3840)
HEIGHT_RANGE = (240, 2160)
SCALE_RANGE = (1.0, 3.0)
QUALITY_RANGE = (1, 100)
DELAY_RANGE = (0, 10_000)
TIMEOUT_RANGE = (1.0, 300.0)
TEXT_LIMIT = 100_000  # characters of CSS / JS
DEFAULT_QUALITY = 80

#: Fields that change the picture but are "off" at these values; a provider that does not
#: honour an option can still take a spec that leaves it at its default.
OPTION_DEFAULTS: Mapping[str, Any] = {
    "scale": 1.0,
    "full_page": False,
    "dark_mode": False,
    "block_ads": False,
    "hide_cookie_banners": False,
    "delay_ms": 0,
    "wait_until": "load",
    "selector": None,
    "hide_selectors": (),
    "css": None,
    "js": None,
    "user_agent": None,
}

#: Fields that do not change the picture and so stay out of the cache key.
_NOT_IN_KEY = frozenset({"device", "timeout_s"})


@dataclass(frozen=True)
class CaptureSpec:
    """A validated capture request. Construct it and it is valid, or ``InvalidSpec`` is raised.

    ``width``/``height`` are CSS pixels; the output is ``width × scale`` by ``height × scale``
    pixels for a viewport capture. ``device`` is only a label once resolved (see
    :func:`shotdesk.core.devices.apply_device`).
    """

    url: str
    provider: str = "local"
    width: int = 1280
    height: int = 720
    scale: float = 1.0
    device: str | None = None
    format: str = "png"
    quality: int = DEFAULT_QUALITY
    full_page: bool = False
    dark_mode: bool = False
    block_ads: bool = False
    hide_cookie_banners: bool = False
    delay_ms: int = 0
    wait_until: str = "load"
    selector: str | None = None
    hide_selectors: tuple[str, ...] = field(default_factory=tuple)
    css: str | None = None
    js: str | None = None
    user_agent: str | None = None
    timeout_s: float = 30.0

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "url", normalize_url(self.url))
        provider = (self.provider or "").strip().lower()
        if not provider:
            raise InvalidSpec("provider", "Choose a provider, for example 'local'")
        set_(self, "provider", provider)
        set_(self, "width", _int_in("width", self.width, WIDTH_RANGE, "px"))
        set_(self, "height", _int_in("height", self.height, HEIGHT_RANGE, "px"))
        set_(self, "scale", _float_in("scale", self.scale, SCALE_RANGE))
        fmt = str(self.format).strip().lower()
        fmt = "jpeg" if fmt == "jpg" else fmt
        if fmt not in FORMATS:
            raise InvalidSpec("format", f"format must be one of {', '.join(FORMATS)}, got {self.format!r}")
        set_(self, "format", fmt)
        set_(self, "quality", _int_in("quality", self.quality, QUALITY_RANGE, ""))
        for flag in ("full_page", "dark_mode", "block_ads", "hide_cookie_banners"):
            value = getattr(self, flag)
            if not isinstance(value, bool):
                raise InvalidSpec(flag, f"{flag} must be true or false, got {value!r}")
        set_(self, "delay_ms", _int_in("delay", self.delay_ms, DELAY_RANGE, "ms"))
        wait = str(self.wait_until).strip().lower().replace("_", "").replace("-", "")
        if wait not in WAIT_UNTIL:
            raise InvalidSpec("wait_until",
                              f"wait-until must be one of {', '.join(WAIT_UNTIL)}, got {self.wait_until!r}")
        set_(self, "wait_until", wait)
        set_(self, "selector", _opt_text("selector", self.selector))
        hides = tuple(s.strip() for s in self.hide_selectors if s and s.strip())
        for sel in hides:
            _check_text("hide", sel)
        set_(self, "hide_selectors", hides)
        set_(self, "css", _opt_text("css", self.css))
        set_(self, "js", _opt_text("js", self.js))
        set_(self, "user_agent", _opt_text("user_agent", self.user_agent))
        set_(self, "device", _opt_text("device", self.device))
        set_(self, "timeout_s", _float_in("timeout", self.timeout_s, TIMEOUT_RANGE, "s"))
        if self.selector and self.full_page:
            raise InvalidSpec("selector", "Capture either an element (selector) or the full page, not both")
        if self.format == "pdf" and self.selector:
            raise InvalidSpec("selector",
                              "A PDF is always the whole page: remove the selector or choose an image format")

    # ------------------------------------------------------------------ derived values
    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.format]

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.format]

    @property
    def output_size(self) -> tuple[int, int]:
        """Pixel size of a viewport capture: CSS pixels × scale."""
        return (round(self.width * self.scale), round(self.height * self.scale))

    def changed_options(self) -> list[str]:
        """Names of the options set away from their defaults (for capability checks)."""
        return [name for name, default in OPTION_DEFAULTS.items() if getattr(self, name) != default]

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["hide_selectors"] = list(self.hide_selectors)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CaptureSpec:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidSpec(unknown[0], f"Unknown option {unknown[0]!r}")
        kwargs = dict(data)
        if "hide_selectors" in kwargs:
            kwargs["hide_selectors"] = tuple(kwargs["hide_selectors"] or ())
        return cls(**kwargs)

    def with_changes(self, **changes: Any) -> CaptureSpec:
        return replace(self, **changes)

    def canonical(self) -> dict[str, Any]:
        """The options that decide the picture, with defaults filled in and irrelevant ones fixed."""
        data = {k: v for k, v in self.to_dict().items() if k not in _NOT_IN_KEY}
        if self.format not in ("jpeg", "webp"):
            data["quality"] = None  # quality does not change a PNG or a PDF
        data["scale"] = float(self.scale)
        return data

    def cache_key(self) -> str:
        """sha256 of the canonical JSON: same picture ⇒ same key; any option that changes it ⇒ new key."""
        payload = json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    def series_key(self) -> str:
        """Same as :meth:`cache_key`: one URL + options is one series of versions in the gallery."""
        return self.cache_key()


def _int_in(name: str, value: Any, bounds: tuple[int, int], unit: str) -> int:
    lo, hi = bounds
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InvalidSpec(name, f"{name} must be a whole number from {lo} to {hi}, got {value!r}")
    try:
        number = float(value)
    except ValueError:
        raise InvalidSpec(name, f"{name} must be a whole number from {lo} to {hi}, got {value!r}") from None
    if not math.isfinite(number) or number != int(number):
        raise InvalidSpec(name, f"{name} must be a whole number from {lo} to {hi}, got {value!r}")
    if not lo <= number <= hi:
        suffix = f" {unit}" if unit else ""
        raise InvalidSpec(name, f"{name} must be {lo}–{hi}{suffix}, got {int(number)}")
    return int(number)


def _float_in(name: str, value: Any, bounds: tuple[float, float], unit: str = "") -> float:
    lo, hi = bounds
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidSpec(name, f"{name} must be a number from {lo:g} to {hi:g}, got {value!r}") from None
    if isinstance(value, bool) or not math.isfinite(number) or not lo <= number <= hi:
        suffix = f" {unit}" if unit else ""
        raise InvalidSpec(name, f"{name} must be {lo:g}–{hi:g}{suffix}, got {value!r}")
    return number


def _check_text(name: str, value: str) -> None:
    if len(value) > TEXT_LIMIT:
        raise InvalidSpec(name, f"{name} is too long ({len(value)} characters, at most {TEXT_LIMIT})")
    if "\x00" in value:
        raise InvalidSpec(name, f"{name} contains a NUL character")


def _opt_text(name: str, value: str | None) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    _check_text(name, text)
    return text
