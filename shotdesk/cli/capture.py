"""``shotdesk capture URL [options]``: one capture into the gallery, on the window's capture path."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from shotdesk.core.blobs import atomic_copy
from shotdesk.core.devices import apply_device
from shotdesk.core.errors import InvalidSpec, StorageError
from shotdesk.core.settings import Settings, load_settings
from shotdesk.core.spec import EXTENSIONS, FORMATS, CaptureSpec
from shotdesk.services.pipeline import CaptureOutcome, CapturePipeline

_EXT_TO_FORMAT = {"png": "png", "jpg": "jpeg", "jpeg": "jpeg", "webp": "webp", "pdf": "pdf"}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("capture", help="capture a web page into the gallery",
                       description="Capture a web page into the gallery. Exit status: 0 done, "
                                   "2 invalid input, 3 capture failed.")
    p.add_argument("url", help="the page address; https:// is added when missing")
    p.add_argument("--provider", help="local (default, no key), snapsharp, screenshotone, urlbox, "
                   "apiflash, hermes, snapapi, jobapi, thumb, custom")
    p.add_argument("--api-base", metavar="URL", help="base URL of the provider (self-hosted or test server)")
    p.add_argument("--template", metavar="TEMPLATE", help="request template for --provider custom")
    p.add_argument("--auth-header", metavar="NAME", help="header carrying the key for --provider custom")
    g = p.add_argument_group("picture")
    g.add_argument("--device", metavar="NAME", help="device preset (see `shotdesk devices`)")
    g.add_argument("--width", type=_number, help="viewport width in CSS px, 320–3840 (default 1280)")
    g.add_argument("--height", type=_number, help="viewport height in CSS px, 240–2160 (default 720)")
    g.add_argument("--scale", type=_number, help="device scale factor 1–3 (output px = CSS px × scale)")
    g.add_argument("--format", choices=(*FORMATS, "jpg"), help="png (default), jpeg, webp or pdf")
    g.add_argument("--quality", type=_number, help="1–100 for jpeg and webp (default 80)")
    g.add_argument("--full-page", action="store_true", default=None, help="the whole scrollable page")
    g.add_argument("--dark-mode", action="store_true", default=None,
                   help="render with prefers-color-scheme: dark")
    g.add_argument("--block-ads", action="store_true", default=None, help="block ad and tracker hosts")
    g.add_argument("--hide-cookie-banners", action="store_true", default=None,
                   help="hide common cookie-consent banners")
    g.add_argument("--delay", type=_number, metavar="MS",
                   help="wait this long before the capture, 0–10000 ms")
    g.add_argument("--wait-until", choices=("load", "networkidle"), help="when the page counts as loaded")
    g.add_argument("--selector", metavar="CSS", help="capture only the first element matching CSS")
    g.add_argument("--hide", metavar="SELECTOR", action="append", default=None,
                   help="hide elements matching SELECTOR (repeatable)")
    g.add_argument("--css", help="extra CSS to inject")
    g.add_argument("--js", help="JavaScript to run before the capture")
    g.add_argument("--user-agent", metavar="UA", help="override the browser's user agent")
    g.add_argument("--timeout", type=_number, metavar="S", help="give up after S seconds, 1–300 (default 30)")
    o = p.add_argument_group("output")
    o.add_argument("--no-cache", action="store_true", help="render even if the gallery has a fresh copy")
    o.add_argument("--output", "-o", metavar="PATH", help="also copy the picture to PATH (file or folder)")
    o.add_argument("--json", action="store_true", help="print the gallery record as JSON")
    p.set_defaults(func=run)


def _number(text: str) -> float | int:
    """Parse numbers leniently here; CaptureSpec gives the message with the allowed range."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    return int(value) if value.is_integer() else value


def spec_from_args(args: argparse.Namespace, settings: Settings) -> CaptureSpec:
    """Settings' capture defaults, then the device preset, then explicit options."""
    options: dict[str, Any] = dict(settings.capture_defaults)
    explicit = {
        "provider": args.provider, "width": args.width, "height": args.height, "scale": args.scale,
        "format": args.format, "quality": args.quality, "full_page": args.full_page,
        "dark_mode": args.dark_mode, "block_ads": args.block_ads,
        "hide_cookie_banners": args.hide_cookie_banners, "delay_ms": args.delay,
        "wait_until": args.wait_until, "selector": args.selector,
        "hide_selectors": tuple(args.hide) if args.hide else None, "css": args.css, "js": args.js,
        "user_agent": args.user_agent, "timeout_s": args.timeout,
    }
    if explicit["format"] is None and args.output:
        suffix = Path(args.output).suffix.lower().lstrip(".")
        if suffix in _EXT_TO_FORMAT:
            explicit["format"] = _EXT_TO_FORMAT[suffix]
    if args.device:
        for key in ("width", "height", "scale", "user_agent"):
            options.pop(key, None)  # the preset beats the saved defaults, explicit options beat both
        options = apply_device({**options, **{k: v for k, v in explicit.items() if v is not None}},
                               args.device)
    options.update({k: v for k, v in explicit.items() if v is not None})
    options.setdefault("provider", settings.default_provider or "local")
    return CaptureSpec(url=args.url, **options)


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    if args.api_base:
        if not args.provider:
            raise InvalidSpec("api-base", "--api-base needs --provider (which service lives there?)")
        settings.provider_base_urls[args.provider.lower()] = args.api_base
    if args.template or args.auth_header:
        if (args.provider or "").lower() != "custom":
            raise InvalidSpec("template", "--template and --auth-header go with --provider custom")
        settings.custom_providers["custom"] = {
            "template": args.template, **({"auth_header": args.auth_header} if args.auth_header else {}),
        }
    spec = spec_from_args(args, settings)
    outcome = asyncio.run(_capture(spec, settings, use_cache=not args.no_cache,
                                   verbose=bool(args.verbose)))
    capture = outcome.capture
    copied: Path | None = None
    if args.output:
        copied = copy_out(capture.blob_path, Path(args.output), spec)
    if args.json:
        print(json.dumps(record(outcome, copied), indent=2))
    else:
        source = "from the gallery (fresh copy)" if outcome.cached else f"in {outcome.elapsed_ms} ms"
        size = f"{capture.width}×{capture.height} px" if capture.width else "PDF"
        print(f"#{capture.id} {capture.url} — {capture.format.upper()} {size}, "
              f"{capture.bytes:,} bytes, {source}")
        print(f"  {copied or capture.blob_path}")
    return 0


async def _capture(spec: CaptureSpec, settings: Settings, *, use_cache: bool,
                   verbose: bool) -> CaptureOutcome:
    pipeline = CapturePipeline.open_default(settings)

    def progress(fraction: float | None, text: str) -> None:
        if verbose:
            pct = f"{fraction:4.0%} " if fraction is not None else ""
            print(f"  {pct}{text}", file=sys.stderr)

    try:
        return await pipeline.capture(spec, use_cache=use_cache, progress=progress)
    finally:
        await pipeline.aclose()


def record(outcome: CaptureOutcome, copied: Path | None = None) -> dict[str, Any]:
    """The gallery record printed by ``--json`` (never contains a key: specs and metadata have none)."""
    c = outcome.capture
    return {
        "id": c.id, "url": c.url, "provider": c.provider, "format": c.format,
        "width": c.width, "height": c.height, "bytes": c.bytes,
        "path": str(c.blob_path) if c.blob_path else None,
        "output": str(copied) if copied else None,
        "cached": outcome.cached, "elapsed_ms": outcome.elapsed_ms, "version": c.version,
        "captured_at": c.captured_at.isoformat(), "key": c.key,
    }


def copy_out(blob: Path | None, target: Path, spec: CaptureSpec) -> Path:
    """Copy the gallery file to ``target`` atomically; a folder gets ``<domain>_<w>x<h>.<ext>``."""
    if blob is None or not blob.exists():
        raise StorageError("The captured file is missing from the gallery cache",
                           hint="capture again with --no-cache")
    if target.is_dir():
        from shotdesk.core.urls import domain_of

        w, h = spec.output_size
        target = target / f"{domain_of(spec.url) or 'capture'}_{w}x{h}.{EXTENSIONS[spec.format]}"
    try:
        atomic_copy(blob, target, what=f"the picture as {target.name}")
    except StorageError as exc:
        raise StorageError(exc.message,
                           hint="choose another --output folder or free some disk space") from None
    return target
