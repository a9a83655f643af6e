"""Suite-wide setup: headless Qt, and user folders isolated per test (XDG_* → tmp)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# Headless Qt and QtWebEngine as root (ENGINE-NOTES.md). Set before any PySide6 import.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QTWEBENGINE_CHROMIUM_FLAGS", "--no-sandbox")

from tests.helpers.webserver import PageServer


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Point platformdirs (XDG on Linux) at a per-test folder: no test touches real user data."""
    dirs = {}
    for var, name in (("XDG_CACHE_HOME", "cache"), ("XDG_DATA_HOME", "data"),
                      ("XDG_CONFIG_HOME", "config")):
        path = tmp_path / "xdg" / name
        path.mkdir(parents=True)
        monkeypatch.setenv(var, str(path))
        dirs[name] = path
    return dirs


@pytest.fixture
def page_server() -> Iterator[PageServer]:
    """A real HTTP server on 127.0.0.1 serving test pages and recording requests."""
    with PageServer() as server:
        yield server
