"""``shotdesk serve``: the engine in the foreground prints its URL and token, serves captures with
that token, and stops cleanly on SIGTERM."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from shotdesk.cli import serve
from shotdesk.core.errors import InvalidSpec
from tests.helpers.images import open_image
from tests.helpers.webserver import PageServer

ROOT = Path(__file__).resolve().parents[2]



def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    serve.register(parser.add_subparsers())
    return parser.parse_args(["serve", *argv])


@pytest.mark.parametrize(("argv", "message"), [
    (["--port", "70000"], "port must be 0–65535, got 70000"),
    (["--pool", "0"], "pool must be 1–16, got 0"),
    (["--token", "short"], "token must be at least 8 characters"),
])
def test_invalid_options_name_the_option(argv, message):
    args = parse(*argv)
    with pytest.raises(InvalidSpec) as info:
        args.func(args)
    assert info.value.message == message


@pytest.mark.engine
def test_serve_prints_url_and_token_serves_captures_and_stops_on_sigterm(page_server: PageServer):
    url = page_server.add_page("/p", "<!doctype html><html><body style='margin:0;background:rgb(9,99,199)'>"
                                    "</body></html>")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("SHOTDESK_ENGINE_TOKEN", None)
    command = [sys.executable, "-m", "shotdesk", "serve", "--pool", "1"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
                            cwd=ROOT)
    try:
        assert proc.stdout is not None
        lines: dict[str, str] = {}
        deadline = time.monotonic() + 90
        while "Token" not in lines and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            if ":" in line:
                key, _, value = line.partition(":")
                lines[key.strip()] = value.strip()
        assert "URL" in lines and "Token" in lines, lines
        base, token = lines["URL"], lines["Token"]
        assert base.startswith("http://127.0.0.1:") and len(token) >= 20

        with httpx.Client(base_url=base, timeout=60) as client:
            assert client.post("/screenshots", json={"url": url}).status_code == 401
            auth = {"Authorization": f"Bearer {token}"}
            body = {"url": url, "width": 400, "height": 300}
            job = client.post("/screenshots", json=body, headers=auth).json()
            done = client.get(f"/jobs/{job['job_id']}", params={"wait": 30}, headers=auth).json()
            assert done["status"] == "completed", done
            image = open_image(client.get(done["image_url"], headers=auth).content).convert("RGB")
            assert image.size == (400, 300) and image.getpixel((200, 150)) == (9, 99, 199)

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
        assert "ShotDesk engine stopped." in proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        if proc.stdout is not None:
            proc.stdout.close()
