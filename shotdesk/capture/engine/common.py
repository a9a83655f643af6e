"""Qt-free pieces of the local engine: render results, error kinds, host block list, cookie CSS.

The job-API server (``server.py``) and its tests use these without importing Qt; the renderer
(``renderer.py``) fills them in inside the engine process.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Protocol

from shotdesk.core.errors import (
    CaptureTimeout,
    FormatLimit,
    InvalidRequest,
    InvalidSpec,
    PageLoadError,
    SelectorNotFound,
)
from shotdesk.core.resources import resource_path
from shotdesk.core.spec import CaptureSpec

#: ``error_kind`` values of the job API (BRIEF "Engine job API").
ERROR_KINDS: tuple[str, ...] = ("page_load", "selector_not_found", "timeout", "format_limit", "engine",
                                "invalid")

#: WebP cannot be larger than this in either dimension (libwebp limit).
WEBP_MAX_PX = 16_383
#: JPEG cannot be larger than this in either dimension (libjpeg limit).
JPEG_MAX_PX = 65_500


def error_kind(exc: BaseException) -> str:
    """The job API's ``error_kind`` for an exception raised by a renderer."""
    if isinstance(exc, PageLoadError):
        return "page_load"
    if isinstance(exc, SelectorNotFound):
        return "selector_not_found"
    if isinstance(exc, CaptureTimeout):
        return "timeout"
    if isinstance(exc, FormatLimit):
        return "format_limit"
    if isinstance(exc, InvalidRequest | InvalidSpec):
        return "invalid"
    return "engine"


@dataclass(frozen=True)
class RenderOutput:
    """One finished render: encoded bytes plus what the page told about itself."""

    data: bytes
    media_type: str
    width: int  # pixels; 0 for a PDF
    height: int
    title: str | None = None
    final_url: str | None = None
    render_ms: int = 0


class ProgressFn(Protocol):
    def __call__(self, fraction: float | None, text: str, /) -> None: ...


class RenderBackend(Protocol):
    """What the job-API server needs from a renderer (the real one, or a fake in tests)."""

    @property
    def dark(self) -> bool: ...

    @property
    def pool_size(self) -> int: ...

    async def render(self, spec: CaptureSpec, progress: ProgressFn | None = None) -> RenderOutput: ...

    async def aclose(self) -> None: ...


# ---------------------------------------------------------------------- ad and tracker hosts
def parse_host_list(text: str) -> frozenset[str]:
    """Host names from a list: one per line, ``#`` comments, blank lines and hosts-file style
    ``0.0.0.0 host`` lines allowed; names are lower-cased, a leading ``*.`` or ``.`` is dropped."""
    hosts: set[str] = set()
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip().lower()
        if not line:
            continue
        parts = line.split()
        name = parts[-1] if len(parts) > 1 and parts[0] in ("0.0.0.0", "127.0.0.1", "::") else parts[0]
        name = name.lstrip("*").lstrip(".").rstrip(".")
        if name and "/" not in name:
            hosts.add(name)
    return frozenset(hosts)


@cache
def default_blocklist() -> frozenset[str]:
    """The shipped list of ad and tracker hosts (``resources/data/blocklist.txt``)."""
    return parse_host_list(resource_path("data", "blocklist.txt").read_text(encoding="utf-8"))


def load_blocklist(extra_hosts: Iterable[str] = (), path: Path | None = None) -> frozenset[str]:
    """The shipped list (or ``path``) plus ``extra_hosts``."""
    base = (parse_host_list(path.read_text(encoding="utf-8")) if path is not None
            else default_blocklist())
    return base | parse_host_list("\n".join(extra_hosts))


def host_blocked(host: str, hosts: frozenset[str]) -> bool:
    """True when ``host`` or one of its parent domains is in ``hosts`` (``a.ads.com`` ← ``ads.com``)."""
    host = host.lower().rstrip(".")
    if not host or not hosts:
        return False
    labels = host.split(".")
    return any(".".join(labels[i:]) in hosts for i in range(len(labels)))


@cache
def cookie_banner_css() -> str:
    """Hide rules for common cookie-consent frameworks (``resources/data/cookie-banners.css``)."""
    return resource_path("data", "cookie-banners.css").read_text(encoding="utf-8")


def hide_selectors_css(selectors: Iterable[str]) -> str:
    """One rule per selector, so one invalid selector does not void the others."""
    return "\n".join(f"{sel} {{ display: none !important; }}" for sel in selectors)
