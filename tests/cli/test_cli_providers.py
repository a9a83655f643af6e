"""Every hosted provider from the CLI, against its loopback contract server, in a subprocess.

Each run uses a recognisable key from the environment (``SHOTDESK_<ID>_KEY``) and ``-v``, then
searches everything the app printed and every file it wrote (settings, index, WAL, blobs,
thumbnails) for the key: it must be nowhere.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.test_cli_capture import run_shotdesk
from tests.contract.fakes import (
    KEY,
    ApiFlashFake,
    FakeApi,
    HermesFake,
    ScreenshotOneFake,
    SnapApiFake,
    SnapSharpFake,
    UrlboxFake,
)
from tests.helpers.images import open_image
from tests.helpers.webserver import PageServer

FAKES: dict[str, type[FakeApi]] = {
    "snapsharp": SnapSharpFake, "screenshotone": ScreenshotOneFake, "urlbox": UrlboxFake,
    "apiflash": ApiFlashFake, "hermes": HermesFake, "snapapi": SnapApiFake,
}


@pytest.fixture(scope="module")
def api_server() -> Iterator[PageServer]:
    with PageServer() as server:
        yield server


def _run(provider: str, fake: FakeApi, dirs: dict[str, Path], key: str, *extra: str):
    import os

    os.environ[f"SHOTDESK_{provider.upper()}_KEY"] = key
    try:
        return run_shotdesk("capture", "https://example.com/pricing", "--provider", provider,
                            "--api-base", fake.base_url, "--width", "800", "--height", "600",
                            "--no-cache", "-v", *extra, env_dirs=dirs, timeout=120)
    finally:
        del os.environ[f"SHOTDESK_{provider.upper()}_KEY"]


def _files_containing(root: Path, needle: bytes) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


@pytest.mark.parametrize("provider", sorted(FAKES))
def test_capture_through_contract_server_and_key_is_nowhere(provider, api_server, isolated_dirs, tmp_path):
    api_server.routes.clear()
    fake = FAKES[provider](api_server)
    out = tmp_path / "shot.png"
    proc = _run(provider, fake, isolated_dirs, KEY, "--json", "--output", str(out))
    assert proc.returncode == 0, proc.stderr
    rec = json.loads(proc.stdout)
    assert rec["provider"] == provider and (rec["width"], rec["height"]) == (800, 600)
    blob = Path(rec["path"])
    assert open_image(blob.read_bytes()).size == (800, 600)
    assert out.read_bytes() == blob.read_bytes()
    assert fake.received, "the contract server saw no request"

    assert KEY not in proc.stdout and KEY not in proc.stderr
    root = isolated_dirs["cache"].parent
    assert _files_containing(root, KEY.encode()) == []
    # the index really holds the capture (so the sweep above searched a real, non-empty index)
    listed = run_shotdesk("gallery", "list", "--json", env_dirs=isolated_dirs)
    assert [r["provider"] for r in json.loads(listed.stdout)] == [provider]


@pytest.mark.parametrize("provider", sorted(set(FAKES) - {"hermes"}))  # hermes works without a key
def test_wrong_key_exit_3_says_check_key_and_never_prints_it(provider, api_server, isolated_dirs):
    api_server.routes.clear()
    fake = FAKES[provider](api_server)
    wrong = "sk_live_WRONGKEY9876543210fedcba"
    proc = _run(provider, fake, isolated_dirs, wrong)
    assert proc.returncode == 3
    assert "key" in proc.stderr.lower()
    assert wrong not in proc.stderr and wrong not in proc.stdout
    assert _files_containing(isolated_dirs["cache"].parent, wrong.encode()) == []
    listed = run_shotdesk("gallery", "list", "--json", env_dirs=isolated_dirs)
    assert json.loads(listed.stdout) == []
