"""Hand a selection of captures to someone else: a folder, a zip, an HTML contact sheet, or a
responsive sheet (one URL across several devices as one labelled image).

File names come from a template (``{domain}_{width}x{height}_{date}.{ext}`` by default) with the
tokens in :data:`TOKENS`; names are sanitised for every common file system and made unique
(``name-2.png``). Files are written atomically; a capture whose file is missing from the cache is
skipped and reported, never exported half. No Qt; sync (run in a thread from the GUI).
"""

from __future__ import annotations

import contextlib
import html
import io
import json
import logging
import os
import re
import string
import tempfile
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from PIL import Image, ImageDraw

from shotdesk import __version__
from shotdesk.core.blobs import atomic_copy, atomic_write, storage_error
from shotdesk.core.errors import InvalidSpec, StorageError
from shotdesk.core.library import Capture
from shotdesk.core.thumbnails import THUMB_EXT, default_font, make_thumbnail, placeholder_thumbnail

log = logging.getLogger(__name__)

DEFAULT_TEMPLATE = "{domain}_{width}x{height}_{date}.{ext}"
#: Placeholders a file-name template may use.
TOKENS: tuple[str, ...] = ("domain", "path", "title", "date", "time", "width", "height", "device",
                           "format", "provider", "ext", "id", "version")
MAX_NAME = 150
_BAD_CHARS = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')
_RESERVED = {"con", "prn", "aux", "nul",
             *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}
ProgressCallback = Callable[[int, int], None]


@dataclass
class ExportReport:
    """What an export wrote."""

    target: Path
    #: Exported capture id → file name (relative to the folder / inside the zip).
    files: dict[int, str] = field(default_factory=dict)
    #: (capture id, reason) of captures left out.
    skipped: list[tuple[int, str]] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.files)


# ---------------------------------------------------------------------------------------- names
def template_values(capture: Capture) -> dict[str, Any]:
    """The values of every token for ``capture`` (date and time in local time)."""
    local = capture.captured_at.astimezone()
    path = urlsplit(capture.url).path.strip("/")
    path = re.sub(r"[/]+", "-", path) or "index"
    return {
        "domain": capture.domain or urlsplit(capture.url).hostname or "capture",
        "path": path,
        "title": capture.title or capture.domain or "untitled",
        "date": local.strftime("%Y-%m-%d"),
        "time": local.strftime("%H-%M-%S"),
        "width": capture.width,
        "height": capture.height,
        "device": capture.device or f"{capture.viewport[0]}x{capture.viewport[1]}",
        "format": capture.format,
        "provider": capture.provider,
        "ext": capture.extension,
        "id": capture.id,
        "version": capture.version,
    }


def check_template(template: str) -> str:
    """Validate a template: balanced braces, known tokens only; returns it trimmed."""
    text = (template or "").strip()
    if not text:
        raise InvalidSpec("template", "The file name template is empty",
                          hint=f"for example {DEFAULT_TEMPLATE}")
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise InvalidSpec("template", f"The file name template has unbalanced braces: {exc}",
                          hint="write placeholders like {domain}; use {{ and }} for literal braces") from None
    for _literal, name, _spec, _conv in parsed:
        if name is not None and name not in TOKENS:
            raise InvalidSpec("template", f"Unknown placeholder {{{name}}} in the file name template",
                              hint="use " + ", ".join("{" + t + "}" for t in TOKENS))
    return text


def render_filename(capture: Capture, template: str = DEFAULT_TEMPLATE) -> str:
    """The sanitised file name of ``capture`` under ``template`` (extension added when missing)."""
    text = check_template(template)
    values = template_values(capture)
    try:
        name = text.format(**values)
    except (ValueError, KeyError, IndexError) as exc:
        raise InvalidSpec("template", f"The file name template cannot be filled in: {exc}",
                          hint="check the format after ':' in the placeholders") from None
    ext = "." + capture.extension
    stem = name[: -len(ext)] if name.lower().endswith(ext) else name
    return sanitise_filename(stem, ext)


def sanitise_filename(stem: str, ext: str = "") -> str:
    """A file name safe on Windows, macOS and Linux: no separators, control or reserved characters,
    no trailing dots or spaces, no reserved device names, at most :data:`MAX_NAME` characters."""
    text = unicodedata.normalize("NFC", stem)
    text = _BAD_CHARS.sub("_", text)
    text = re.sub(r"\s+", " ", text).strip(" .")
    text = re.sub(r"_{2,}", "_", text)
    if not text:
        text = "capture"
    if text.split(".")[0].lower() in _RESERVED:
        text = "_" + text
    limit = MAX_NAME - len(ext)
    if len(text) > limit:
        text = text[:limit].rstrip(" .")
    return text + ext


def unique_name(name: str, taken: set[str]) -> str:
    """``name``, or ``stem-2.ext``, ``stem-3.ext``… — unique case-insensitively; adds it to ``taken``."""
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    candidate = name
    n = 1
    while candidate.lower() in taken:
        n += 1
        candidate = f"{stem}-{n}.{ext}" if ext else f"{stem}-{n}"
    taken.add(candidate.lower())
    return candidate


def _exportable(captures: Iterable[Capture], report: ExportReport) -> list[Capture]:
    out = []
    for c in captures:
        if c.status == "failed" or c.blob_path is None:
            report.skipped.append((c.id, "the capture failed: there is no picture"))
        elif not c.blob_path.is_file():
            report.skipped.append((c.id, "the file is missing from the cache (re-capture it)"))
        else:
            out.append(c)
    return out


# --------------------------------------------------------------------------------------- folder
def export_folder(captures: Iterable[Capture], folder: Path, *, template: str = DEFAULT_TEMPLATE,
                  progress: ProgressCallback | None = None) -> ExportReport:
    """Copy the captures' files into ``folder`` under template names; never overwrites a file."""
    folder = Path(folder)
    check_template(template)
    report = ExportReport(folder)
    items = _exportable(captures, report)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        taken = {p.name.lower() for p in folder.iterdir()}
    except OSError as exc:
        raise storage_error(exc, folder, 0, "the export") from None
    for n, c in enumerate(items, 1):
        name = unique_name(render_filename(c, template), taken)
        atomic_copy(c.blob_path, folder / name, what="the export")  # type: ignore[arg-type]
        report.files[c.id] = name
        if progress:
            progress(n, len(items))
    return report


# ------------------------------------------------------------------------------------------ zip
def manifest(captures: Sequence[Capture], files: Mapping[int, str]) -> dict[str, Any]:
    """What a receiver needs to know about each exported file (no keys: specs hold none)."""
    return {
        "generator": f"ShotDesk {__version__}",
        "exported_at": datetime.now().astimezone().isoformat(timespec="seconds"),
        "captures": [
            {
                "file": files[c.id], "id": c.id, "url": c.url, "title": c.title,
                "captured_at": c.captured_at.isoformat(), "provider": c.provider, "format": c.format,
                "width": c.width, "height": c.height, "viewport": list(c.viewport), "device": c.device,
                "version": c.version, "tags": list(c.tags), "note": c.note, "favourite": c.favourite,
                "flags": list(c.flags),
            }
            for c in captures if c.id in files
        ],
    }


def export_zip(captures: Iterable[Capture], zip_path: Path, *, template: str = DEFAULT_TEMPLATE,
               progress: ProgressCallback | None = None) -> ExportReport:
    """One zip with the captures' files (template names) and a ``manifest.json``; written atomically."""
    zip_path = Path(zip_path)
    if zip_path.suffix.lower() != ".zip":
        zip_path = zip_path.with_name(zip_path.name + ".zip")
    check_template(template)
    report = ExportReport(zip_path)
    items = _exportable(captures, report)
    taken = {"manifest.json"}
    tmp: str | None = None
    try:
        zip_path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".zip", dir=zip_path.parent)
        with os.fdopen(fd, "wb") as raw:
            with zipfile.ZipFile(raw, "w") as zf:
                for n, c in enumerate(items, 1):
                    name = unique_name(render_filename(c, template), taken)
                    # images are compressed already: store them; PDFs deflate a little
                    method = zipfile.ZIP_DEFLATED if c.format == "pdf" else zipfile.ZIP_STORED
                    zf.write(c.blob_path, name, compress_type=method)  # type: ignore[arg-type]
                    report.files[c.id] = name
                    if progress:
                        progress(n, len(items))
                zf.writestr("manifest.json", json.dumps(manifest(items, report.files), indent=2),
                            compress_type=zipfile.ZIP_DEFLATED)
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(tmp, zip_path)
        tmp = None
    except OSError as exc:
        raise storage_error(exc, zip_path.parent, sum(c.bytes for c in items), "the zip") from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    return report


# ----------------------------------------------------------------------------------------- html
_CSS = """
:root { color-scheme: light dark; --bg: #f4f5f7; --card: #fff; --fg: #1d2330; --muted: #5d6677; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #16181d; --card: #22252c; --fg: #e8eaef; --muted: #9aa3b2; }
}
* { box-sizing: border-box; }
body { margin: 0; padding: 24px; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif;
       background: var(--bg); color: var(--fg); }
header h1 { margin: 0 0 4px; font-size: 22px; }
header p { margin: 0 0 20px; color: var(--muted); }
main { display: grid; grid-template-columns: repeat(auto-fill, minmax(260px, 1fr)); gap: 18px; }
figure { margin: 0; background: var(--card); border-radius: 10px; overflow: hidden;
         box-shadow: 0 1px 3px rgba(0,0,0,.12); }
figure a.shot { display: block; background: #e9ebef; }
figure img { display: block; width: 100%; height: auto; }
figcaption { padding: 10px 12px 12px; }
figcaption h2 { margin: 0 0 4px; font-size: 15px; overflow-wrap: anywhere; }
figcaption .url { color: var(--muted); overflow-wrap: anywhere; }
dl { display: grid; grid-template-columns: auto 1fr; gap: 2px 10px; margin: 8px 0 0; color: var(--muted); }
dt { font-weight: 600; } dd { margin: 0; }
.tag { display: inline-block; padding: 0 6px; margin: 2px 4px 0 0; border-radius: 8px;
       background: rgba(80,110,255,.15); color: var(--fg); }
.note { margin-top: 6px; white-space: pre-wrap; }
.flag { color: #c0392b; font-weight: 600; }
"""


def export_html(captures: Iterable[Capture], folder: Path, *, title: str = "ShotDesk contact sheet",
                template: str = DEFAULT_TEMPLATE, progress: ProgressCallback | None = None) -> ExportReport:
    """A self-contained contact sheet: ``folder/index.html`` with thumbnails (``thumbs/``) linking
    to the full pictures (``images/``), and each capture's metadata. Links are relative, so the
    folder can be zipped, moved or put on any web server. No external resources."""
    folder = Path(folder)
    check_template(template)
    report = ExportReport(folder / "index.html")
    items = _exportable(captures, report)
    images, thumbs = folder / "images", folder / "thumbs"
    try:
        images.mkdir(parents=True, exist_ok=True)
        thumbs.mkdir(parents=True, exist_ok=True)
        taken = {p.name.lower() for p in images.iterdir()}
    except OSError as exc:
        raise storage_error(exc, folder, 0, "the contact sheet") from None
    cards: list[str] = []
    for n, c in enumerate(items, 1):
        name = unique_name(render_filename(c, template), taken)
        atomic_copy(c.blob_path, images / name, what="the export")  # type: ignore[arg-type]
        thumb_name = Path(name).stem + "." + THUMB_EXT
        atomic_write(thumbs / thumb_name, _thumb_bytes(c), what="the contact sheet")
        report.files[c.id] = f"images/{name}"
        cards.append(_card(c, f"images/{name}", f"thumbs/{thumb_name}"))
        if progress:
            progress(n, len(items))
    stamp = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M")
    plural = "s" if len(items) != 1 else ""
    body = "\n".join(cards) or "<p>No captures were exported.</p>"
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="ShotDesk {html.escape(__version__)}">
<title>{html.escape(title)}</title>
<style>{_CSS}</style>
</head>
<body>
<header>
<h1>{html.escape(title)}</h1>
<p>{len(items)} capture{plural} · exported {html.escape(stamp)}</p>
</header>
<main>
{body}
</main>
</body>
</html>
"""
    atomic_write(folder / "index.html", page.encode("utf-8"), what="the contact sheet")
    listing = json.dumps(manifest(items, report.files), indent=2).encode("utf-8")
    atomic_write(folder / "manifest.json", listing, what="the contact sheet")
    return report


def _thumb_bytes(c: Capture) -> bytes:
    if c.thumb_path is not None and c.thumb_path.is_file():
        return c.thumb_path.read_bytes()
    if c.format == "pdf":
        return placeholder_thumbnail("PDF")
    try:
        return make_thumbnail(c.blob_path.read_bytes())  # type: ignore[union-attr]
    except (OSError, ValueError, Image.DecompressionBombError):
        return placeholder_thumbnail(c.format.upper())


def _card(c: Capture, image_href: str, thumb_src: str) -> str:
    e = html.escape
    local = c.captured_at.astimezone()
    size = f"{c.width} × {c.height} px" if c.width else c.format.upper()
    rows = [
        ("Captured", local.strftime("%Y-%m-%d %H:%M")),
        ("Size", f"{size} · {c.format.upper()} · {human_size(c.bytes)}"),
        ("Viewport", (c.device + " · " if c.device else "") + f"{c.viewport[0]} × {c.viewport[1]}"),
        ("Provider", c.provider),
        ("Version", str(c.version)),
    ]
    meta = "".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in rows)
    tags = "".join(f'<span class="tag">{e(t)}</span>' for t in c.tags)
    flags = ", ".join(c.flags)
    title = c.title or c.domain or c.url
    return (
        f'<figure id="capture-{c.id}">\n'
        f'<a class="shot" href="{e(quote(image_href))}"><img src="{e(quote(thumb_src))}" '
        f'alt="{e(title)}" loading="lazy"></a>\n'
        f"<figcaption><h2>{e(title)}</h2>"
        f'<a class="url" href="{e(c.url)}">{e(c.url)}</a>'
        f"<dl>{meta}</dl>"
        + (f"<div>{tags}</div>" if tags else "")
        + (f'<div class="flag">{e(flags)}</div>' if flags else "")
        + (f'<div class="note">{e(c.note)}</div>' if c.note else "")
        + "</figcaption>\n</figure>"
    )


# ------------------------------------------------------------------------------ responsive sheet
def responsive_sheet(captures: Sequence[Capture], out_path: Path, *, title: str | None = None,
                     max_height: int = 1400, crop_to_viewport: bool = True) -> Path:
    """One labelled image of the same page on several devices, side by side at one CSS scale.

    Each picture is brought to CSS pixels (its device scale divided out) and, by default, cropped
    to its first screen (the viewport), then all are scaled by one factor so the tallest fits
    ``max_height``: a phone looks phone-sized next to a desktop. Labels give the device name and
    the viewport. The format follows ``out_path``'s extension (png, jpg, webp). A picture damaged
    in the cache is left out (logged); :class:`StorageError` when none can be read.
    """
    usable = [c for c in captures if c.is_raster and c.blob_path is not None and c.blob_path.is_file()]
    if not usable:
        raise StorageError("None of the selected captures has an image to put on a responsive sheet",
                           hint="select image captures whose files are in the cache (not PDFs)")
    shots: list[tuple[Capture, Image.Image]] = []
    unreadable: list[Capture] = []
    for c in usable:
        try:
            with Image.open(c.blob_path) as src:  # type: ignore[arg-type]
                img = src.convert("RGB")
        except (OSError, ValueError, Image.DecompressionBombError) as exc:
            log.warning("responsive sheet: capture %s has an unreadable picture: %s", c.id, exc)
            unreadable.append(c)
            continue
        vw, vh = c.viewport if c.viewport[0] else (img.width, img.height)
        scale = img.width / vw if vw else 1.0
        css = img.resize((max(1, round(img.width / scale)), max(1, round(img.height / scale))),
                         Image.Resampling.LANCZOS) if abs(scale - 1) > 0.01 else img
        if crop_to_viewport and vh and css.height > vh:
            css = css.crop((0, 0, css.width, vh))
        shots.append((c, css))
    if not shots:
        raise StorageError(
            f"The selected captures' pictures cannot be read ({len(unreadable)} damaged in the cache)",
            hint="re-capture them (Re-capture in the gallery, or `shotdesk refresh`), then try again")
    k = min(1.0, max_height / max(img.height for _, img in shots))
    pad, gap, label_h = 40, 36, 56
    header_h = 70
    scaled = [(c, img.resize((max(1, round(img.width * k)), max(1, round(img.height * k))),
                             Image.Resampling.LANCZOS) if k < 1 else img) for c, img in shots]
    width = pad * 2 + sum(img.width for _, img in scaled) + gap * (len(scaled) - 1)
    height = pad * 2 + header_h + max(img.height for _, img in scaled) + label_h
    sheet = Image.new("RGB", (width, height), (238, 240, 244))
    draw = ImageDraw.Draw(sheet)
    head_font, label_font, small_font = default_font(28), default_font(20), default_font(16)
    first = usable[0]
    draw.text((pad, pad), title or first.title or first.url, fill=(29, 35, 48), font=head_font)
    stamp = first.captured_at.astimezone().strftime("%Y-%m-%d %H:%M")
    draw.text((pad, pad + 36), f"{first.url} · {stamp}", fill=(93, 102, 119), font=small_font)
    x, top = pad, pad + header_h
    for c, img in scaled:
        draw.rectangle((x - 1, top - 1, x + img.width, top + img.height), outline=(190, 195, 205))
        sheet.paste(img, (x, top))
        label = c.device or "Custom"
        draw.text((x, top + img.height + 10), label, fill=(29, 35, 48), font=label_font)
        scale_text = f" @{c.width / c.viewport[0]:g}x" if c.viewport[0] and c.width != c.viewport[0] else ""
        # "x", not "×": Pillow's built-in font has no multiplication sign
        draw.text((x, top + img.height + 34), f"{c.viewport[0]} x {c.viewport[1]}{scale_text}",
                  fill=(93, 102, 119), font=small_font)
        x += img.width + gap
    out_path = Path(out_path)
    fmt = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}.get(out_path.suffix.lower())
    if fmt is None:
        out_path = out_path.with_suffix(".png")
        fmt = "PNG"
    if fmt == "WEBP" and max(sheet.size) > 16383:
        fmt, out_path = "PNG", out_path.with_suffix(".png")
    buf = io.BytesIO()
    sheet.save(buf, format=fmt, **({"quality": 90} if fmt in ("JPEG", "WEBP") else {}))
    atomic_write(out_path, buf.getvalue(), what="the responsive sheet")
    return out_path


def human_size(n: int) -> str:
    if n < 1000:
        return f"{n} bytes"
    if n < 1_000_000:
        return f"{n / 1000:.0f} KB"
    return f"{n / 1_000_000:.1f} MB"
