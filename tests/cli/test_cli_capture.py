"""The CLI end to end, in a subprocess with isolated XDG folders, against pages served on 127.0.0.1."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.images import open_image
from tests.helpers.webserver import PageServer

PAGE = """<!doctype html><html><head><title>CLI test page</title><style>
html,body{margin:0;background:#ffffff}
#box{position:absolute;left:40px;top:30px;width:200px;height:100px;background:rgb(0,128,255)}
</style></head><body><div id="box"></div></body></html>"""


def run_shotdesk(*args: str, env_dirs: dict[str, Path],
                 timeout: float = 240) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.update({"XDG_CACHE_HOME": str(env_dirs["cache"]), "XDG_DATA_HOME": str(env_dirs["data"]),
                "XDG_CONFIG_HOME": str(env_dirs["config"])})
    env.pop("DISPLAY", None)  # the CLI must not need a display
    env.pop("QT_QPA_PLATFORM", None)
    return subprocess.run([sys.executable, "-m", "shotdesk", *args], capture_output=True, text=True,
                          env=env, timeout=timeout, check=False)


def test_width_out_of_range_exits_2_naming_option_and_range(isolated_dirs):
    proc = run_shotdesk("capture", "http://127.0.0.1:9/", "--width", "99999", env_dirs=isolated_dirs)
    assert proc.returncode == 2
    assert "width must be 320–3840 px, got 99999" in proc.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["capture", "javascript:alert(1)"], "Only http and https pages can be captured"),
        (["capture", "example.com", "--format", "gif"], "invalid choice: 'gif'"),
        (["capture", "example.com", "--delay", "20000"], "delay must be 0–10000 ms, got 20000"),
        (["capture", "example.com", "--device", "Nokia 3310"], "Unknown device 'Nokia 3310'"),
    ],
)
def test_invalid_input_exit_2(isolated_dirs, args, message):
    proc = run_shotdesk(*args, env_dirs=isolated_dirs)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr


def test_devices_lists_presets(isolated_dirs):
    proc = run_shotdesk("devices", "--json", env_dirs=isolated_dirs)
    assert proc.returncode == 0
    names = {d["name"] for d in json.loads(proc.stdout)}
    assert {"iPhone 15", "iPad Air", "Desktop Full HD"} <= names


@pytest.mark.engine
def test_capture_writes_gallery_and_second_is_served_from_library(isolated_dirs, page_server: PageServer,
                                                                   tmp_path: Path):
    url = page_server.add_page("/", PAGE)
    out = tmp_path / "copy.png"
    first = run_shotdesk("capture", url, "--width", "800", "--height", "600", "--json", "--output", str(out),
                         env_dirs=isolated_dirs)
    assert first.returncode == 0, first.stderr
    rec = json.loads(first.stdout)
    assert rec["cached"] is False and rec["provider"] == "local" and rec["format"] == "png"
    assert (rec["width"], rec["height"]) == (800, 600)
    blob = Path(rec["path"])
    assert blob.is_file() and blob.stat().st_size == rec["bytes"]
    assert str(blob).startswith(str(isolated_dirs["cache"]))
    img = open_image(blob.read_bytes()).convert("RGB")
    assert img.size == (800, 600)
    assert img.getpixel((140, 80)) == (0, 128, 255)  # inside the box
    assert img.getpixel((20, 20)) == (255, 255, 255)  # outside it
    assert out.read_bytes() == blob.read_bytes()
    hits_after_first = page_server.hits("/")

    second = run_shotdesk("capture", url, "--width", "800", "--height", "600", "--json",
                          env_dirs=isolated_dirs)
    assert second.returncode == 0, second.stderr
    rec2 = json.loads(second.stdout)
    assert rec2["cached"] is True and rec2["id"] == rec["id"] and rec2["path"] == rec["path"]
    assert page_server.hits("/") == hits_after_first  # not rendered again

    # the index is a real SQLite file under the data dir with exactly one row
    dbs = list(isolated_dirs["data"].rglob("*.sqlite3"))
    assert len(dbs) == 1
    with sqlite3.connect(dbs[0]) as db:
        assert db.execute("select count(*) from captures").fetchone()[0] == 1

    listed = run_shotdesk("gallery", "list", "--json", env_dirs=isolated_dirs)
    assert listed.returncode == 0
    assert [r["url"] for r in json.loads(listed.stdout)] == [url]


@pytest.mark.engine
def test_capture_failure_exits_3_with_what_to_try(isolated_dirs, page_server: PageServer):
    page_server.add_page("/missing", "<h1>gone</h1>", status=404)
    proc = run_shotdesk("capture", page_server.url("/missing"), env_dirs=isolated_dirs)
    assert proc.returncode == 3
    assert "404" in proc.stderr
    listed = run_shotdesk("gallery", "list", "--json", env_dirs=isolated_dirs)
    assert json.loads(listed.stdout) == []  # nothing half-stored
