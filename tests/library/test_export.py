"""Exports that open: folder names, zip listing, HTML that parses with links that resolve, sheets."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from PIL import Image

from shotdesk.core import export
from shotdesk.core.errors import InvalidSpec, StorageError
from shotdesk.core.library import Capture, Library
from shotdesk.core.spec import CaptureSpec
from tests.library.util import FakeClock, pdf_bytes, png, result_for


def fill(library: Library, clock: FakeClock) -> list[Capture]:
    specs = [
        (CaptureSpec(url="https://www.example.com/pricing/plans?x=1", width=1280, height=720),
         'Pricing: "Pro" <plans> / 2024'),
        (CaptureSpec(url="https://www.example.com/pricing/plans?x=1", width=1280, height=720), "Pricing v2"),
        (CaptureSpec(url="https://shop.test/", device="iPhone 15", width=393, height=852, scale=3), "Shop"),
        (CaptureSpec(url="https://docs.test/guide", format="pdf"), "Guide"),
    ]
    out = []
    for i, (spec, title) in enumerate(specs):
        clock.advance(3600)
        data = pdf_bytes() if spec.format == "pdf" else png(*spec.output_size, color=(i * 40, 90, 160))
        out.append(library.add(spec, result_for(spec, data, title=title), elapsed_ms=1))
    return out


def test_filename_template_tokens_and_sanitising(library: Library, clock: FakeClock) -> None:
    a, _b, shop, pdf = fill(library, clock)
    local = a.captured_at.astimezone()
    name = export.render_filename(a, "{domain}_{path}_{width}x{height}_{date}_{time}.{ext}")
    assert name == f"example.com_pricing-plans_1280x720_{local:%Y-%m-%d}_{local:%H-%M-%S}.png"
    assert export.render_filename(a, "{title}") == "Pricing_ _Pro_ _plans_ _ 2024.png"
    assert export.render_filename(shop, "{device}-{provider}-{format}-{id}-v{version}") == \
        f"iPhone 15-local-png-{shop.id}-v1.png"
    assert export.render_filename(pdf, "{domain}{path}.{ext}") == "docs.testguide.pdf"
    assert export.render_filename(a, "{domain}.png") == "example.com.png"  # no doubled extension
    assert export.sanitise_filename("CON", ".png") == "_CON.png"
    assert export.sanitise_filename(" ...", ".png") == "capture.png"
    assert len(export.sanitise_filename("x" * 400, ".webp")) == export.MAX_NAME
    assert export.unique_name("a.png", {"a.png", "a-2.png"}) == "a-3.png"
    with pytest.raises(InvalidSpec, match=r"Unknown placeholder \{colour\}"):
        export.render_filename(a, "{colour}.png")
    with pytest.raises(InvalidSpec, match="unbalanced"):
        export.render_filename(a, "{domain.png")


def test_export_folder_collision_safe(library: Library, clock: FakeClock, tmp_path: Path) -> None:
    caps = fill(library, clock)
    target = tmp_path / "out"
    target.mkdir()
    existing = target / "example.com.png"
    existing.write_bytes(b"someone else's file")
    report = export.export_folder(caps, target, template="{domain}")
    assert report.count == 4 and report.skipped == []
    assert existing.read_bytes() == b"someone else's file"  # never overwritten
    assert sorted(report.files.values()) == ["docs.test.pdf", "example.com-2.png", "example.com-3.png",
                                             "shop.test.png"]
    for c in caps:
        assert (target / report.files[c.id]).read_bytes() == c.blob_path.read_bytes()  # type: ignore[union-attr]
    assert [p.name for p in target.iterdir() if p.name.startswith(".tmp-")] == []


def test_missing_and_failed_captures_are_skipped(library: Library, clock: FakeClock, tmp_path: Path) -> None:
    caps = fill(library, clock)
    assert caps[0].blob_path is not None
    caps[0].blob_path.unlink()
    failed = library.add_failed(CaptureSpec(url="https://down.test/"), "refused")
    report = export.export_folder([*caps, failed], tmp_path / "out")
    assert report.count == 3
    assert dict(report.skipped).keys() == {caps[0].id, failed.id}
    assert "missing" in dict(report.skipped)[caps[0].id]


def test_export_zip_lists_and_decodes(library: Library, clock: FakeClock, tmp_path: Path) -> None:
    caps = fill(library, clock)
    out = tmp_path / "out"
    report = export.export_zip(caps, out / "review")
    assert report.target == out / "review.zip"
    with zipfile.ZipFile(report.target) as zf:
        assert zf.testzip() is None
        names = zf.namelist()
        assert sorted(names) == sorted([*report.files.values(), "manifest.json"])
        info = json.loads(zf.read("manifest.json"))
        assert [e["id"] for e in info["captures"]] == [c.id for c in caps]
        assert info["captures"][0]["url"] == "https://www.example.com/pricing/plans?x=1"
        for c in caps:
            data = zf.read(report.files[c.id])
            if c.format == "pdf":
                assert data.startswith(b"%PDF-")
            else:
                img = Image.open(io.BytesIO(data))
                img.load()
                assert img.size == (c.width, c.height)
    assert [p.name for p in out.iterdir()] == ["review.zip"]  # no temp file left


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[tuple[str, str]] = []
        self.figures = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "figure":
            self.figures += 1
        if tag == "a" and a.get("href"):
            self.refs.append(("a", a["href"] or ""))
        if tag == "img":
            self.refs.append(("img", a.get("src") or ""))
        if tag in ("link", "script") and (a.get("href") or a.get("src")):
            self.refs.append((tag, a.get("href") or a.get("src") or ""))


def test_export_html_parses_and_links_resolve(library: Library, clock: FakeClock, tmp_path: Path) -> None:
    caps = fill(library, clock)
    library.set_tags(caps[0].id, ["client <x>"])
    library.set_note(caps[0].id, "Hero too big & logo off")
    caps = library.get_many(c.id for c in caps)
    folder = tmp_path / "sheet"
    report = export.export_html(caps, folder, title="Review for ACME")
    index = folder / "index.html"
    assert report.target == index
    text = index.read_text("utf-8")
    parser = _Links()
    parser.feed(text)
    parser.close()
    assert parser.figures == 4
    assert "<title>Review for ACME</title>" in text
    assert "client &lt;x&gt;" in text and "Hero too big &amp; logo off" in text
    assert "Pricing: &quot;Pro&quot; &lt;plans&gt; / 2024" in text
    local = [(tag, ref) for tag, ref in parser.refs if not urlsplit(ref).scheme]
    external = [ref for _tag, ref in parser.refs if urlsplit(ref).scheme]
    assert external and all(ref.startswith("https://") for ref in external)  # only the page URLs
    assert len([r for t, r in local if t == "img"]) == 4 and len([r for t, r in local if t == "a"]) == 4
    for tag, ref in local:
        target = (folder / unquote(ref)).resolve()
        assert target.is_file(), ref
        assert folder.resolve() in target.parents
        if tag == "img" or target.suffix != ".pdf":
            img = Image.open(target)
            img.load()
    assert all(tag not in ("link", "script") for tag, _ in parser.refs)  # self-contained
    listing = json.loads((folder / "manifest.json").read_text())
    assert listing["captures"][0]["note"] == "Hero too big & logo off"


def test_responsive_sheet(library: Library, clock: FakeClock, tmp_path: Path) -> None:
    url = "https://responsive.test/"
    specs = [CaptureSpec(url=url, device="Phone", width=390, height=844, scale=3),
             CaptureSpec(url=url, device="Tablet", width=820, height=1180, scale=2),
             CaptureSpec(url=url, device="Desktop", width=1440, height=900, scale=1, full_page=True)]
    caps = []
    for i, spec in enumerate(specs):
        w, h = spec.output_size
        if spec.full_page:
            h = 3000
        caps.append(library.add(spec, result_for(spec, png(w, h, color=(200, 40 * i, 40))), elapsed_ms=1))
    pdf_spec = CaptureSpec(url=url, format="pdf")
    pdf = library.add(pdf_spec, result_for(pdf_spec, pdf_bytes()), elapsed_ms=1)
    out = export.responsive_sheet([*caps, pdf], tmp_path / "sheet.png", max_height=600)
    img = Image.open(out)
    assert img.format == "PNG"
    # one CSS scale for all: the tallest (tablet, 1180 CSS px) fits 600 px
    k = 600 / 1180
    expected_w = 40 * 2 + round(390 * k) + round(820 * k) + round(1440 * k) + 36 * 2
    assert abs(img.width - expected_w) <= 3
    assert img.height == 40 * 2 + 70 + 600 + 56
    # each device's picture is where the layout puts it: the phone's colour at its column
    x_phone = 40 + round(390 * k) // 2
    assert img.convert("RGB").getpixel((x_phone, 40 + 70 + 300)) == (200, 0, 40)
    x_desk = 40 + round(390 * k) + 36 + round(820 * k) + 36 + 10
    assert img.convert("RGB").getpixel((x_desk, 40 + 70 + 100)) == (200, 80, 40)
    with pytest.raises(StorageError, match="responsive sheet"):
        export.responsive_sheet([pdf], tmp_path / "none.png")


def test_responsive_sheet_skips_a_damaged_picture(library: Library, clock: FakeClock, tmp_path: Path) -> None:
    url = "https://responsive.test/"
    specs = [CaptureSpec(url=url, device="Phone", width=390, height=844, scale=1),
             CaptureSpec(url=url, device="Desktop", width=1440, height=900, scale=1)]
    phone, desktop = (library.add(s, result_for(s, png(*s.output_size, color=(200, 40, 40))), elapsed_ms=1)
                      for s in specs)
    assert desktop.blob_path is not None and phone.blob_path is not None
    desktop.blob_path.write_bytes(b"<html>not a picture</html>")  # damaged in the cache
    out = export.responsive_sheet([phone, desktop], tmp_path / "sheet.png", max_height=900)
    img = Image.open(out)
    # only the phone's column: 40 + 390 + 40 wide
    assert img.width == 40 * 2 + 390
    assert img.convert("RGB").getpixel((40 + 195, 40 + 70 + 400)) == (200, 40, 40)
    phone.blob_path.write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    with pytest.raises(StorageError, match="cannot be read") as info:
        export.responsive_sheet([phone, desktop], tmp_path / "none.png")
    assert "re-capture" in (info.value.hint or "")
    assert not (tmp_path / "none.png").exists()


def test_export_dates_are_local(library: Library, clock: FakeClock) -> None:
    spec = CaptureSpec(url="https://example.com/")
    cap = library.add(spec, result_for(spec), elapsed_ms=1)
    local = datetime.fromtimestamp(clock.now).astimezone()
    assert export.template_values(cap)["date"] == local.strftime("%Y-%m-%d")
