"""The only user of platformdirs: where captures, the index and preferences live.

On Linux platformdirs honours ``XDG_CACHE_HOME``, ``XDG_DATA_HOME`` and ``XDG_CONFIG_HOME``;
tests isolate themselves by pointing those at a temporary folder. Nothing is cached at import,
so a test that changes the variables sees the new folders.
"""

from __future__ import annotations

from pathlib import Path

import platformdirs

from shotdesk import APP_NAME


def cache_dir() -> Path:
    """Blobs and thumbnails: may be purged by the OS or the user."""
    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))


def captures_dir() -> Path:
    return cache_dir() / "captures"


def thumbnails_dir() -> Path:
    return cache_dir() / "thumbnails"


def data_dir() -> Path:
    """The gallery index: the user's work, kept across cache purges."""
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def index_path() -> Path:
    return data_dir() / "gallery.sqlite3"


def config_dir() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def settings_path() -> Path:
    return config_dir() / "settings.json"
