"""Issue 5 on the library: migration to schema 2, search, organise, timeline, refresh selection."""

from __future__ import annotations

import io
import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from shotdesk import paths
from shotdesk.core import library as library_module
from shotdesk.core.library import MIGRATIONS, SCHEMA_VERSION, Library
from shotdesk.core.spec import CaptureSpec
from tests.library.util import FakeClock, pdf_bytes, png, result_for


def test_migrates_a_version_1_index(tmp_path: Path, clock: FakeClock) -> None:
    """An index written by schema 1 (phase 1) opens, gains schema 2 and keeps every row."""
    assert SCHEMA_VERSION >= 2
    index = paths.index_path()
    index.parent.mkdir(parents=True)
    db = sqlite3.connect(index, isolation_level=None)
    db.execute("BEGIN")
    MIGRATIONS[0](db)
    db.execute("PRAGMA user_version = 1")
    spec = CaptureSpec(url="https://old.example/pricing")
    db.execute(
        "INSERT INTO captures (key, url, domain, provider, format, width, height, viewport_w, viewport_h, "
        "bytes, status, captured_at, version, title, spec, metadata, note, favourite) "
        "VALUES (?, ?, 'old.example', 'local', 'png', 1280, 720, 1280, 720, 0, 'failed', ?, 1, "
        "'Old pricing page', ?, '{}', 'checked by Anna', 1)",
        (spec.cache_key(), spec.url, clock.now - 86400, json.dumps(spec.to_dict())),
    )
    db.execute("INSERT INTO tags (capture_id, tag) VALUES (1, 'client-x')")
    db.execute("COMMIT")
    db.close()

    with Library(clock=clock) as lib:
        assert lib.schema_version == SCHEMA_VERSION
        old = lib.get(1)
        assert old is not None
        assert (old.url, old.title, old.note, old.favourite, old.tags) == (
            spec.url, "Old pricing page", "checked by Anna", True, ("client-x",))
        assert old.last_access == old.captured_at  # filled by the migration
        # the FTS index was built from the existing rows
        assert [c.id for c in lib.list(query="pricing")] == [1]
        assert [c.id for c in lib.list(query="Anna")] == [1]
        # and the series continues
        new = lib.add(spec, result_for(spec), elapsed_ms=1)
        assert new.version == 1  # the old row was a failed attempt
        assert lib.count(query="old.example") == 2


def test_full_text_search_over_url_title_and_note(library: Library, clock: FakeClock) -> None:
    pages = [
        ("https://shop.example/checkout", "Checkout – Example Shop"),
        ("https://blog.example/2024/launch", "We launched!"),
        ("https://docs.example/api/auth", "Authentication · API reference"),
        ("https://www.competitor.test/pricing", "Pricing plans"),
    ]
    ids: list[int] = []
    for url, title in pages:
        clock.advance(1)
        spec = CaptureSpec(url=url)
        ids.append(library.add(spec, result_for(spec, png(color=(len(ids), 9, 9)), title=title),
                               elapsed_ms=1).id)
    library.set_note(ids[1], "Before the redesign; compare with the Figma file")

    def found(q: str) -> list[int]:
        return sorted(c.id for c in library.list(query=q))

    assert found("checkout") == [ids[0]]
    assert found("CHECKOUT") == [ids[0]]  # case-insensitive
    assert found("launched") == [ids[1]]  # title
    assert found("redesign") == [ids[1]]  # note
    assert found("figma redesign") == [ids[1]]  # every word must occur
    assert found("figma checkout") == []
    assert found("competitor.test") == [ids[3]]  # URL with punctuation
    assert found("auth") == [ids[2]]  # part of a word
    assert found("example") == sorted(ids[:3])
    assert found('"API reference"') == [ids[2]]
    assert found("ap") == [ids[2]]  # too short for the index: still found (LIKE)
    assert found('"') == sorted(ids)  # nothing to search for → everything
    assert library.count(query="example") == 3

    # the index follows edits and deletions
    library.set_note(ids[1], "")
    assert found("redesign") == []
    library.delete(ids[0])
    assert found("checkout") == []
    library.purge_deleted()
    assert found("checkout") == []


def test_tags_notes_favourites(library: Library) -> None:
    spec = CaptureSpec(url="https://example.com/")
    a = library.add(spec, result_for(spec), elapsed_ms=1)
    b = library.add(CaptureSpec(url="https://b.example/"), result_for(CaptureSpec(url="https://b.example/"),
                                                                      png(color=(0, 0, 9))), elapsed_ms=1)
    tagged = library.set_tags(a.id, ["Client X", "  client   x ", "launch", ""])
    assert tagged is not None and tagged.tags == ("client x", "launch")
    library.add_tags([a.id, b.id], ["review"])
    library.remove_tags([a.id], ["launch"])
    assert library.get(a.id).tags == ("client x", "review")  # type: ignore[union-attr]
    assert library.get(b.id).tags == ("review",)  # type: ignore[union-attr]
    assert library.tags() == [("review", 2), ("client x", 1)]
    assert [c.id for c in library.list(tag="Client X")] == [a.id]

    noted = library.set_note(b.id, "  logo too small  ")
    assert noted is not None and noted.note == "logo too small"
    fav = library.set_favourite(b.id, True)
    assert fav is not None and fav.favourite
    assert [c.id for c in library.list(favourite=True)] == [b.id]
    library.set_favourite(b.id, False)
    assert library.count(favourite=True) == 0


def test_filters(library: Library, clock: FakeClock) -> None:
    start = clock.now
    rows = [
        dict(url="https://www.alpha.example/", provider="local", format="png", width=1280, height=720),
        dict(url="https://shop.alpha.example/", provider="snapsharp", format="jpeg", width=390, height=844,
             device="iPhone 15"),
        dict(url="https://beta.example/", provider="local", format="webp", width=1280, height=720),
        dict(url="https://beta.example/", provider="local", format="pdf", width=1280, height=720),
    ]
    ids = []
    for i, r in enumerate(rows):
        clock.advance(86400)
        spec = CaptureSpec(**r)  # type: ignore[arg-type]
        if spec.format == "pdf":
            ids.append(library.add(spec, result_for(spec, pdf_bytes()), elapsed_ms=1).id)
        else:
            fmt = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}[spec.format]
            ids.append(library.add(spec, result_for(spec, png(color=(i, 0, 0), fmt=fmt)), elapsed_ms=1).id)
    clock.advance(86400)
    failed = library.add_failed(CaptureSpec(url="https://gamma.example/"), "timeout").id

    def found(**f: object) -> list[int]:
        return sorted(c.id for c in library.list(**f))  # type: ignore[arg-type]

    assert found(domain="alpha.example") == [ids[0], ids[1]]  # sub-domains included
    assert found(domain="shop.alpha.example") == [ids[1]]
    assert found(domain="www.beta.example") == [ids[2], ids[3]]
    assert found(provider="snapsharp") == [ids[1]]
    assert found(format="pdf") == [ids[3]]
    assert found(viewport="390x844") == [ids[1]]
    assert found(viewport=(1280, 720)) == [ids[0], ids[2], ids[3], failed]
    assert found(device="iPhone 15") == [ids[1]]
    assert found(status="failed") == [failed]
    assert found(status=("ready", "failed")) == sorted([*ids, failed])
    day = 86400
    assert found(since=start + 2 * day, until=start + 4 * day) == [ids[1], ids[2]]
    assert found(since=datetime.fromtimestamp(start + 4 * day, tz=UTC)) == [ids[3], failed]
    assert found(ids=[ids[0], failed, 999]) == [ids[0], failed]
    assert library.count(domain="alpha.example", format="jpeg") == 1
    assert dict(library.domains()) == {"alpha.example": 1, "shop.alpha.example": 1, "beta.example": 2,
                                       "gamma.example": 1}
    # failed rows have a viewport too; deleted rows do not count
    assert library.viewports() == [((1280, 720), 4), ((390, 844), 1)]
    library.delete(ids[1])
    assert library.viewports() == [((1280, 720), 4)]


def test_timeline_and_unchanged_flag(library: Library, clock: FakeClock) -> None:
    spec = CaptureSpec(url="https://example.com/", width=400, height=300)
    base = png(400, 300, (255, 255, 255))
    v1 = library.add(spec, result_for(spec, base), elapsed_ms=1)
    clock.advance(60)
    v2 = library.add(spec, result_for(spec, base), elapsed_ms=1)  # identical bytes
    img = Image.new("RGB", (400, 300), (255, 255, 255))
    img.paste((0, 0, 0), (0, 0, 40, 30))  # 1 % of the pixels
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    clock.advance(60)
    v3 = library.add(spec, result_for(spec, buf.getvalue()), elapsed_ms=1)

    assert (v1.unchanged, v1.changed_pct) == (False, None)
    assert (v2.unchanged, v2.changed_pct) == (True, 0.0)
    assert v3.unchanged is False and v3.changed_pct == pytest.approx(1.0, abs=0.01)
    assert [c.id for c in library.versions(spec.cache_key())] == [v3.id, v2.id, v1.id]
    assert library.previous_version(v3).id == v2.id  # type: ignore[union-attr]
    assert library.previous_version(v1) is None
    assert [c.id for c in library.list(unchanged=True)] == [v2.id]

    diff = library.compare(v1.id, v3.id)
    assert diff.changed_pixels == 40 * 30 and diff.bbox == (0, 0, 40, 30)
    assert diff.heatmap is not None and diff.heatmap.size == (400, 300)


def test_blank_and_challenge_flags_stored(library: Library) -> None:
    blank_spec = CaptureSpec(url="https://blank.example/")
    blank = library.add(blank_spec, result_for(blank_spec, png(1280, 720, (255, 255, 255))), elapsed_ms=1)
    assert blank.flags == ("blank",)
    bot_spec = CaptureSpec(url="https://guarded.example/")
    img = Image.new("RGB", (1280, 720), (240, 240, 240))
    ImageDraw.Draw(img).rectangle((100, 100, 900, 500), fill=(20, 60, 200))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    bot = library.add(bot_spec, result_for(bot_spec, buf.getvalue(), title="Just a moment..."), elapsed_ms=1)
    assert bot.flags == ("challenge",)
    retried = library.add(bot_spec, result_for(bot_spec, buf.getvalue(), title="Shop"), elapsed_ms=1,
                          flags=("retried",))
    assert retried.flags == ("retried",)
    assert [c.id for c in library.list(flag="blank")] == [blank.id]
    assert library.set_flags(bot.id, []).flags == ()  # type: ignore[union-attr]


def test_refresh_candidates(library: Library, clock: FakeClock) -> None:
    day = 86400.0
    old = CaptureSpec(url="https://old.example/")
    fresh = CaptureSpec(url="https://fresh.example/")
    old_twice = CaptureSpec(url="https://series.example/")
    library.add(old, result_for(old), elapsed_ms=1)
    s1 = library.add(old_twice, result_for(old_twice, png(color=(1, 1, 1))), elapsed_ms=1)
    clock.advance(3 * day)
    s2 = library.add(old_twice, result_for(old_twice, png(color=(2, 2, 2))), elapsed_ms=1)
    library.add(fresh, result_for(fresh, png(color=(3, 3, 3))), elapsed_ms=1)
    failed = library.add_failed(CaptureSpec(url="https://down.example/"), "refused")
    clock.advance(2 * day)

    picked = library.refresh_candidates(older_than_s=1 * day)
    assert {c.url for c in picked} == {old.url, old_twice.url, fresh.url, failed.url}
    assert next(c for c in picked if c.url == old_twice.url).id == s2.id  # the newest version
    picked = library.refresh_candidates(older_than_s=4 * day)
    assert [c.url for c in picked] == [old.url]  # the series was refreshed 2 days ago
    picked = library.refresh_candidates(older_than_s=0, ids=[s1.id])
    assert picked == []  # s1 is not the newest of its series
    picked = library.refresh_candidates(older_than_s=0, ids=[s2.id])
    assert [c.id for c in picked] == [s2.id]
    assert [c.capture_spec() for c in library.refresh_candidates(4 * day)] == [old]


def test_touch_records_last_access(library: Library, clock: FakeClock) -> None:
    spec = CaptureSpec(url="https://example.com/")
    cap = library.add(spec, result_for(spec), elapsed_ms=1)
    clock.advance(100)
    library.touch(cap.id)
    got = library.get(cap.id)
    assert got is not None and got.last_access is not None
    assert got.last_access.timestamp() == pytest.approx(clock.now)
    clock.advance(100)
    assert library.find_fresh(spec.cache_key(), 3600) is not None  # a cache hit is a use too
    assert library.get(cap.id).last_access.timestamp() == pytest.approx(clock.now)  # type: ignore[union-attr]


def test_fts_available_in_this_python() -> None:
    assert library_module.fts_tokenizer() in ("trigram", "unicode61")
