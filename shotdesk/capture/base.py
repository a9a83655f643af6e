"""The one protocol every capture engine speaks: the local QtWebEngine engine and every API adapter.

Nothing here imports Qt. A provider takes a validated :class:`CaptureSpec` and returns a
:class:`CaptureResult` whose bytes were already checked by :func:`shotdesk.core.media.check_media`,
or raises a :class:`shotdesk.core.errors.CaptureError`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from shotdesk.core.errors import Unsupported
from shotdesk.core.spec import FORMATS, CaptureSpec

#: ``progress(fraction, text)``: fraction in 0..1 or None when unknown.
ProgressCallback = Callable[[float | None, str], None]

#: Every option a provider may honour (names of CaptureSpec fields).
ALL_OPTIONS: frozenset[str] = frozenset({
    "scale", "full_page", "dark_mode", "block_ads", "hide_cookie_banners", "delay_ms",
    "wait_until", "selector", "hide_selectors", "css", "js", "user_agent",
})


@dataclass(frozen=True)
class Capabilities:
    """What a provider can do. The UI greys out the rest; the CLI refuses it."""

    formats: frozenset[str] = frozenset(FORMATS)
    options: frozenset[str] = ALL_OPTIONS
    max_width: int = 3840
    max_height: int = 2160
    max_scale: float = 3.0
    #: The only scale factors the provider renders at (e.g. 1× and 2× for a "retina" flag);
    #: None when any scale up to ``max_scale`` works.
    scales: frozenset[float] | None = None
    needs_key: bool = False
    #: Why an option is missing, shown as a tooltip / in the CLI message.
    notes: Mapping[str, str] = field(default_factory=dict)

    def problems(self, spec: CaptureSpec) -> list[str]:
        """Human-readable reasons this provider cannot honour ``spec`` (empty when it can)."""
        out: list[str] = []
        if spec.format not in self.formats:
            out.append(f"format {spec.format} (supported: {', '.join(sorted(self.formats))})")
        if spec.width > self.max_width:
            out.append(f"width {spec.width} (at most {self.max_width})")
        if spec.height > self.max_height:
            out.append(f"height {spec.height} (at most {self.max_height})")
        if spec.scale > self.max_scale:
            out.append(f"scale {spec.scale:g} (at most {self.max_scale:g})")
        elif self.scales is not None and spec.scale not in self.scales:
            allowed = " or ".join(f"{s:g}×" for s in sorted(self.scales))
            out.append(f"scale {spec.scale:g} (renders at {allowed} only)")
        for name in spec.changed_options():
            if name not in self.options and name != "scale":
                note = self.notes.get(name)
                out.append(f"{name.replace('_', '-')}" + (f" ({note})" if note else ""))
        return out

    def check(self, provider_id: str, spec: CaptureSpec) -> None:
        """Raise :class:`Unsupported` naming every option ``provider_id`` cannot honour."""
        problems = self.problems(spec)
        if problems:
            raise Unsupported(
                f"{provider_id} cannot honour: {'; '.join(problems)}",
                hint="remove those options or choose another provider (the local engine supports all)",
            )


@dataclass(frozen=True)
class CaptureResult:
    """Validated bytes of one capture plus what the provider told about it."""

    data: bytes
    media_type: str
    width: int
    height: int
    provider: str
    #: request id, rate-limit headers, render time, ``cache`` HIT/MISS… never the API key.
    metadata: Mapping[str, str] = field(default_factory=dict)
    #: Final URL after redirects and the page title, where the provider tells.
    final_url: str | None = None
    title: str | None = None


@runtime_checkable
class Provider(Protocol):
    """A capture engine. Implementations keep one HTTP client (or engine process) and reuse it."""

    id: str
    capabilities: Capabilities

    async def capture(self, spec: CaptureSpec, progress: ProgressCallback | None = None) -> CaptureResult:
        """Render ``spec``; raise a ``CaptureError`` subclass on failure."""
        ...

    async def aclose(self) -> None:
        """Release connections / processes."""
        ...
