"""``shotdesk export`` and ``shotdesk refresh`` through their argparse front ends."""

from __future__ import annotations

import argparse
import io
import json
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from shotdesk.capture.base import CaptureResult
from shotdesk.cli import export as export_cli
from shotdesk.cli import refresh as refresh_cli
from shotdesk.core.errors import InvalidSpec, PageLoadError, ShotDeskError, StorageError
from shotdesk.core.library import Library
from shotdesk.core.spec import CaptureSpec
from tests.library.util import FakeClock, png, result_for

DAY = 86400.0


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="shotdesk")
    sub = parser.add_subparsers(dest="command")
    export_cli.register(sub)
    refresh_cli.register(sub)
    args = parser.parse_args(list(argv))
    result: int = args.func(args)
    return result


def seed(clock: FakeClock) -> list[int]:
    with Library(clock=clock) as lib:
        ids = []
        for i, url in enumerate(["https://a.example/", "https://b.example/", "https://c.example/"]):
            spec = CaptureSpec(url=url)
            ids.append(lib.add(spec, result_for(spec, png(color=(i, 50, 50)), title=f"Page {i}"),
                               elapsed_ms=1).id)
        lib.set_tags(ids[1], ["client"])
        return ids


def test_parse_age_and_ids() -> None:
    assert refresh_cli.parse_age("1d") == DAY
    assert refresh_cli.parse_age("12h") == 12 * 3600
    assert refresh_cli.parse_age("90m") == 5400
    assert refresh_cli.parse_age("2w") == 14 * DAY
    assert refresh_cli.parse_age("3") == 3 * DAY
    assert refresh_cli.parse_age("1.5d") == 1.5 * DAY
    with pytest.raises(InvalidSpec, match="older-than"):
        refresh_cli.parse_age("yesterday")
    assert refresh_cli.parse_ids("1, 2,3") == [1, 2, 3]
    with pytest.raises(InvalidSpec, match="--ids"):
        refresh_cli.parse_ids("a,b")


def test_export_cli_zip_and_folder(clock: FakeClock, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    ids = seed(clock)
    assert run("export", "--all", "--to", "zip", str(tmp_path / "all.zip")) == 0
    assert "Exported 3 captures" in capsys.readouterr().out
    with zipfile.ZipFile(tmp_path / "all.zip") as zf:
        assert len([n for n in zf.namelist() if n.endswith(".png")]) == 3

    assert run("export", "--ids", f"{ids[0]},{ids[2]}", "--to", "folder", str(tmp_path / "two"),
               "--template", "{id}-{domain}") == 0
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == [f"{ids[0]}-a.example.png",
                                                                  f"{ids[2]}-c.example.png"]
    assert run("export", "--tag", "client", "--to", "html", str(tmp_path / "sheet"),
               "--title", "For ACME") == 0
    assert "For ACME" in (tmp_path / "sheet" / "index.html").read_text()
    assert run("export", "--query", "Page 2", "--to", "sheet", str(tmp_path / "r.png")) == 0
    assert Image.open(tmp_path / "r.png").width > 0


def test_export_cli_errors(clock: FakeClock, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ids = seed(clock)
    with pytest.raises(InvalidSpec, match="#999"):
        run("export", "--ids", "999", "--to", "zip", str(tmp_path / "x.zip"))
    with pytest.raises(InvalidSpec, match="--to must be one of"):
        run("export", "--all", "--to", "tarball", str(tmp_path / "x"))
    with pytest.raises(InvalidSpec, match=r"\{size\}"):
        run("export", "--all", "--to", "folder", str(tmp_path / "x"), "--template", "{size}")
    with pytest.raises(SystemExit):  # a selection is required
        run("export", "--to", "zip", str(tmp_path / "x.zip"))
    with Library() as lib:
        for c in lib.get_many(ids):
            assert c.blob_path is not None
            c.blob_path.unlink()
    with pytest.raises(StorageError, match="Nothing was exported"):
        run("export", "--all", "--to", "folder", str(tmp_path / "y"))
    assert "missing from the cache" in capsys.readouterr().err
    assert run("export", "--query", "no such thing", "--to", "zip", str(tmp_path / "z.zip")) == 3


class FakePipeline:
    """The pipeline's contract over a fake provider: fails for URLs containing 'down'."""

    def __init__(self, library: Library) -> None:
        self.library = library
        self.calls: list[tuple[str, bool, int | None]] = []
        self.closed = False
        self.down_is_down = True

    async def capture(self, spec: CaptureSpec, *, use_cache: bool = True, record_failure: bool = False,
                      replaces: int | None = None) -> Any:
        self.calls.append((spec.url, use_cache, replaces))
        if "down" in spec.url and self.down_is_down:
            err = PageLoadError(f"Could not reach {spec.url}")
            if record_failure:
                self.library.add_failed(spec, str(err))
            raise err
        result: CaptureResult = result_for(spec, png(color=(9, 9, 9)))
        cap = self.library.add(spec, result, elapsed_ms=5)
        if replaces is not None:
            self.library.delete(replaces)

        class Outcome:
            capture = cap
            cached = False
            elapsed_ms = 5

        return Outcome()

    async def aclose(self) -> None:
        self.closed = True


def test_refresh_recaptures_old_series(monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    # the command judges ages by the real clock: the library's rows are dated relative to now
    clock = FakeClock(time.time() - 3.5 * DAY)
    lib = Library(clock=clock)
    try:
        old = CaptureSpec(url="https://old.example/")
        down = CaptureSpec(url="https://down.example/")
        first = lib.add(old, result_for(old), elapsed_ms=1)
        lib.add(down, result_for(down, png(color=(1, 2, 3))), elapsed_ms=1)
        clock.advance(3 * DAY)
        fresh = CaptureSpec(url="https://fresh.example/")
        lib.add(fresh, result_for(fresh), elapsed_ms=1)
        pipeline = FakePipeline(lib)
        monkeypatch.setattr(refresh_cli, "open_pipeline", lambda: (pipeline, 2))

        assert run("refresh", "--older-than", "1d", "--dry-run") == 0
        out = capsys.readouterr().out
        assert "old.example" in out and "down.example" in out and "fresh.example" not in out
        assert pipeline.calls == []

        assert run("refresh", "--older-than", "1d") == 3  # one page is down
        captured = capsys.readouterr()
        assert "Refreshed 1 of 2; 1 failed" in captured.out
        assert "down.example/ failed: Could not reach" in captured.err
        assert sorted(url for url, _cache, _r in pipeline.calls) == [down.url, old.url]
        assert all(use_cache is False for _u, use_cache, _r in pipeline.calls)  # no cache answers
        assert pipeline.closed
        series = lib.versions(old.cache_key())
        assert [c.version for c in series] == [2, 1] and series[1].id == first.id  # history kept
        assert series[0].unchanged is False
        failed = lib.list(status="failed")
        assert [c.url for c in failed] == [down.url]

        # the failed tile is refreshed by id once the site is back: the new capture replaces it
        pipeline.calls.clear()
        pipeline.down_is_down = False
        assert run("refresh", "--ids", str(failed[0].id), "--json") == 0
        lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
        assert [(r["url"], r["ok"]) for r in lines] == [(down.url, True)]
        assert pipeline.calls[0][2] == failed[0].id  # replaces the failed tile
        assert lib.count(status="failed") == 0

        assert run("refresh", "--older-than", "1w") == 0
        assert "Nothing to refresh" in capsys.readouterr().out
        with pytest.raises(ShotDeskError, match="--older-than AGE"):
            run("refresh")
    finally:
        lib.close()


def test_refresh_end_to_end_through_the_pipeline(page_server: Any, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """``shotdesk refresh`` through the real CapturePipeline and a provider on 127.0.0.1."""
    pytest.importorskip("shotdesk.capture.registry")
    from shotdesk.cli.main import run_cli
    from shotdesk.core.settings import load_settings, save_settings
    from tests.helpers.webserver import Request, Response

    calls: list[str] = []

    def thumb(req: Request) -> Response:
        calls.append(req.path)
        img = Image.new("RGB", (1280, 720), (250, 250, 250))
        img.paste((10 * len(calls), 100, 160), (0, 0, 1280, 300))  # a page, not a blank frame
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        return Response(body=buf.getvalue(), content_type="image/png")

    page_server.routes["/thumb"] = thumb
    settings = load_settings()
    settings.provider_base_urls["thumb"] = page_server.base_url
    save_settings(settings)

    clock = FakeClock(time.time() - 2 * DAY)
    spec = CaptureSpec(url="https://example.com/", provider="thumb")
    with Library(clock=clock) as lib:
        first = lib.add(spec, result_for(spec, png(1280, 720)), elapsed_ms=1)

    assert run_cli(["refresh", "--older-than", "1d"]) == 0
    out = capsys.readouterr().out
    assert "[1/1] https://example.com/ → #" in out and "v2" in out
    assert len(calls) == 1 and "url=https" in calls[0]
    with Library() as lib:
        series = lib.versions(spec.cache_key())
        assert [c.version for c in series] == [2, 1] and series[1].id == first.id
        assert series[0].flags == () and series[0].changed_pct is not None and series[0].changed_pct > 99
    assert run_cli(["refresh", "--older-than", "1d"]) == 0  # now fresh: nothing to do
    assert "Nothing to refresh" in capsys.readouterr().out
    assert run_cli(["export", "--all", "--to", "zip", str(tmp_path / "x.zip")]) == 0
    with zipfile.ZipFile(tmp_path / "x.zip") as zf:
        assert len([n for n in zf.namelist() if n.endswith(".png")]) == 2
