"""Settings: round trip, validation messages, migration, corrupt files kept aside, atomic writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from shotdesk import paths
from shotdesk.core import settings as settings_mod
from shotdesk.core.errors import InvalidSpec, StorageError
from shotdesk.core.settings import Settings, load_settings, save_settings


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_missing_file_gives_defaults_without_warnings():
    s = load_settings()
    assert s == Settings()
    assert s.default_provider == "local"
    assert s.concurrency == 2 and s.engine_pool_size == 2
    assert s.cache_ttl_s == 86_400 and s.cache_limit_mb == 2048
    assert s.filename_template == "{domain}_{width}x{height}_{date}.{ext}"
    assert s.load_warnings == []
    assert not paths.settings_path().exists()  # reading does not create the file


def test_round_trip_through_the_file_at_settings_path(isolated_dirs):
    s = Settings(
        default_provider="SnapSharp",
        provider_base_urls={"snapsharp": "http://127.0.0.1:8123/", "hermes": "https://shots.example/api"},
        custom_providers={"my-shots": {"method": "GET", "template": "https://s.example/?u={url}",
                                       "auth_header": "X-API-Key"}},
        concurrency=4, cache_ttl_s=3600, cache_limit_mb=500,
        filename_template="{date}-{domain}.{ext}",
        capture_defaults={"format": "jpg", "width": 1440, "full_page": True, "hide_selectors": [".ad"]},
        engine_pool_size=3, url_history=["https://a.example/", "https://b.example/"],
    )
    save_settings(s)
    target = isolated_dirs["config"] / "ShotDesk" / "settings.json"
    assert target == paths.settings_path() and target.is_file()
    on_disk = json.loads(target.read_text("utf-8"))
    assert on_disk["schema_version"] == settings_mod.SCHEMA_VERSION
    assert on_disk["provider_base_urls"] == {"snapsharp": "http://127.0.0.1:8123",
                                             "hermes": "https://shots.example/api"}
    assert on_disk["capture_defaults"] == {"format": "jpeg", "width": 1440, "full_page": True,
                                           "hide_selectors": [".ad"]}
    loaded = load_settings()
    assert loaded == s
    assert loaded.default_provider == "snapsharp"
    assert loaded.base_url("SNAPSHARP") == "http://127.0.0.1:8123"
    assert loaded.load_warnings == []
    assert _files(target.parent) == ["settings.json"]  # no temp file left behind


def test_capture_defaults_feed_a_capture_spec():
    from shotdesk.core.spec import CaptureSpec

    s = Settings(capture_defaults={"format": "webp", "scale": 2, "hide_selectors": ["#x"]})
    spec = CaptureSpec.from_dict({"url": "example.com", **s.capture_defaults})
    assert (spec.format, spec.scale, spec.hide_selectors) == ("webp", 2.0, ("#x",))


def test_url_history_keeps_newest_50_once_each():
    s = Settings()
    for i in range(60):
        s.remember_url(f"https://site{i}.example/")
    s.remember_url("https://site30.example/")
    assert len(s.url_history) == 50
    assert s.url_history[0] == "https://site30.example/"
    assert s.url_history[1] == "https://site59.example/"
    assert s.url_history.count("https://site30.example/") == 1
    assert "https://site9.example/" not in s.url_history


@pytest.mark.parametrize(
    ("kwargs", "field", "text"),
    [
        ({"concurrency": 9}, "concurrency", "concurrency must be a whole number from 1 to 8, got 9"),
        ({"concurrency": True}, "concurrency", "concurrency must be a whole number"),
        ({"engine_pool_size": 0}, "engine_pool_size", "from 1 to 8, got 0"),
        ({"cache_ttl_s": -1}, "cache_ttl_s", "cache_ttl_s must be 0–31536000 seconds"),
        ({"cache_limit_mb": 0}, "cache_limit_mb", "cache_limit_mb must be a whole number from 1"),
        ({"default_provider": "snap sharp"}, "default_provider", "must be a provider id"),
        ({"capture_defaults": {"width": 99999}}, "capture_defaults.width",
         "Default capture option: width must be 320–3840 px, got 99999"),
        ({"capture_defaults": {"colour": "red"}}, "capture_defaults.colour",
         "'colour' is not a capture option"),
        ({"capture_defaults": {"url": "https://x.example"}}, "capture_defaults.url", "not a capture option"),
        ({"provider_base_urls": {"snapsharp": "ftp://x.example"}}, "provider_base_urls.snapsharp",
         "must start with https://"),
        ({"filename_template": "{domain"}, "filename_template", "unbalanced braces"),
        ({"filename_template": "{domain.__class__}.png"}, "filename_template", "not a simple name"),
        ({"filename_template": "../{domain}.png"}, "filename_template", "must not contain '/'"),
        ({"url_history": "https://x.example"}, "url_history", "must be a list"),
    ],
)
def test_invalid_values_name_the_field(kwargs: dict[str, Any], field: str, text: str):
    with pytest.raises(InvalidSpec) as info:
        Settings(**kwargs)
    assert info.value.field == field
    assert text in str(info.value)


def test_save_validates_values_changed_after_construction():
    s = Settings()
    s.concurrency = 0
    with pytest.raises(InvalidSpec) as info:
        save_settings(s)
    assert info.value.field == "concurrency"
    assert not paths.settings_path().exists()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"provider_base_urls": {"urlbox": "https://user:sk_live_SECRET@api.urlbox.example"}},
         "provider_base_urls.urlbox"),
        ({"provider_base_urls": {"apiflash": "https://api.apiflash.example/v1?access_key=sk_live_SECRET"}},
         "provider_base_urls.apiflash"),
        ({"custom_providers": {"mine": {"template": "https://x.example/?u={url}",
                                        "api_key": "sk_live_SECRET"}}},
         "custom_providers.mine.api_key"),
        ({"custom_providers": {"mine": {"headers": {"Authorization": "Bearer sk_live_SECRET"}}}},
         "custom_providers.mine.headers.Authorization"),
    ],
)
def test_settings_refuse_values_that_hold_a_key(kwargs: dict[str, Any], field: str):
    with pytest.raises(InvalidSpec) as info:
        Settings(**kwargs)
    assert info.value.field == field
    assert "sk_live_SECRET" not in str(info.value)  # the message does not repeat the secret
    s = Settings()
    for name, value in kwargs.items():
        setattr(s, name, value)
    with pytest.raises(InvalidSpec):
        save_settings(s)
    assert not paths.settings_path().exists()


def test_custom_provider_auth_header_name_is_allowed():
    template = {"template": "https://x.example/?u={url}", "auth_header": "X-Key"}
    s = Settings(custom_providers={"custom": template})
    assert s.custom_providers["custom"]["auth_header"] == "X-Key"


# ---------------------------------------------------------------------- corrupt / invalid files

@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b'{"concurrency": 4,', "is not valid JSON"),
        (b"\xff\xfe\x00garbage", "is not valid JSON"),
        (b"[1, 2, 3]", "does not hold a JSON object (found list)"),
        (b"", "is not valid JSON"),
    ],
)
def test_corrupt_file_gives_defaults_and_is_kept_aside(content: bytes, reason: str, caplog):
    target = paths.settings_path()
    target.parent.mkdir(parents=True)
    target.write_bytes(content)
    s = load_settings()
    assert s == Settings()
    assert len(s.load_warnings) == 1 and reason in s.load_warnings[0]
    assert "using the default settings" in s.load_warnings[0]
    assert reason in caplog.text
    names = _files(target.parent)
    assert len(names) == 1 and names[0].startswith("settings.json.bad-")
    assert (target.parent / names[0]).read_bytes() == content  # every byte kept
    assert names[0] in s.load_warnings[0]
    # The next save writes a fresh file and leaves the kept copy alone.
    s.concurrency = 3
    save_settings(s)
    assert load_settings().concurrency == 3
    assert (target.parent / names[0]).read_bytes() == content


def test_two_corrupt_files_in_the_same_second_are_both_kept():
    target = paths.settings_path()
    target.parent.mkdir(parents=True)
    target.write_text("{one")
    load_settings()
    target.write_text("{two")
    load_settings()
    kept = sorted(p.read_text() for p in target.parent.glob("settings.json.bad-*"))
    assert kept == ["{one", "{two"]


def test_unreadable_file_gives_defaults_and_does_not_crash():
    target = paths.settings_path()
    target.mkdir(parents=True)  # a folder where the file should be: reading fails with an OSError
    s = load_settings()
    assert s == Settings()
    assert "could not be read" in s.load_warnings[0]


def test_one_bad_value_falls_back_alone_and_the_file_is_copied_aside():
    target = paths.settings_path()
    target.parent.mkdir(parents=True)
    original = json.dumps({
        "schema_version": 1, "concurrency": 99, "default_provider": "hermes",
        "provider_base_urls": {"hermes": "https://h.example", "snapsharp": "https://u:p@x.example"},
        "capture_defaults": {"format": "gif", "width": 1024},
        "mystery": 1,
    })
    target.write_text(original)
    s = load_settings()
    assert s.concurrency == 2  # the default
    assert s.default_provider == "hermes"  # the good values survive
    assert s.provider_base_urls == {"hermes": "https://h.example"}
    assert s.capture_defaults == {"width": 1024}
    text = "\n".join(s.load_warnings)
    assert "concurrency must be a whole number from 1 to 8, got 99 — using the default" in text
    assert "provider_base_urls.snapsharp" in text and "capture_defaults.format" in text
    assert "unknown settings ignored: mystery" in text
    copies = list(target.parent.glob("settings.json.bad-*"))
    assert len(copies) == 1 and copies[0].read_text() == original
    assert target.read_text() == original  # loading never rewrites the file


# ---------------------------------------------------------------------- versions

def test_file_without_schema_version_is_read_as_version_1():
    target = paths.settings_path()
    target.parent.mkdir(parents=True)
    target.write_text('{"default_provider": "snapapi"}')
    s = load_settings()
    assert s.default_provider == "snapapi" and s.load_warnings == []
    save_settings(s)
    assert json.loads(target.read_text())["schema_version"] == settings_mod.SCHEMA_VERSION


def test_migration_runs_step_by_step_from_an_older_version(monkeypatch):
    """A version-1 file read by a ShotDesk at version 3: each step runs once, in order."""
    seen: list[int] = []

    def v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
        seen.append(data["schema_version"])
        data["default_provider"] = data.pop("provider")
        return data

    def v2_to_v3(data: dict[str, Any]) -> dict[str, Any]:
        seen.append(data["schema_version"])
        data["cache_ttl_s"] = data.pop("cache_ttl_hours") * 3600
        return data

    monkeypatch.setattr(settings_mod, "SCHEMA_VERSION", 3)
    monkeypatch.setattr(settings_mod, "MIGRATIONS", {1: v1_to_v2, 2: v2_to_v3})
    target = paths.settings_path()
    target.parent.mkdir(parents=True)
    old = '{"schema_version": 1, "provider": "urlbox", "cache_ttl_hours": 2, "concurrency": 3}'
    target.write_text(old)
    s = load_settings()
    assert seen == [1, 2]
    assert (s.default_provider, s.cache_ttl_s, s.concurrency) == ("urlbox", 7200, 3)
    assert s.schema_version == 3 and s.load_warnings == []
    assert target.read_text() == old  # migrated in memory; the file changes on the next save
    save_settings(s)
    on_disk = json.loads(target.read_text())
    assert on_disk["schema_version"] == 3
    assert on_disk["default_provider"] == "urlbox" and "provider" not in on_disk
    assert load_settings() == s and seen == [1, 2]  # a current file is not migrated again


def test_file_from_a_newer_version_keeps_unknown_options_and_is_backed_up():
    target = paths.settings_path()
    target.parent.mkdir(parents=True)
    newer = {"schema_version": 99, "concurrency": 5, "future_option": {"a": 1}}
    target.write_text(json.dumps(newer))
    s = load_settings()
    assert s.concurrency == 5
    assert any("newer ShotDesk" in w for w in s.load_warnings)
    s.concurrency = 6
    save_settings(s)
    written = json.loads(target.read_text())
    assert written["future_option"] == {"a": 1} and written["concurrency"] == 6
    assert written["schema_version"] == 99
    backup = target.with_name("settings.json.v99.bak")
    assert json.loads(backup.read_text()) == newer


# ---------------------------------------------------------------------- atomic writes

def test_failed_replace_leaves_the_old_file_whole_and_no_temp_file(monkeypatch):
    save_settings(Settings(concurrency=3))
    target = paths.settings_path()
    before = target.read_bytes()

    def crash(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(os, "replace", crash)
        with pytest.raises(StorageError, match="No space left on device"):
            save_settings(Settings(concurrency=7))
    assert target.read_bytes() == before
    assert _files(target.parent) == ["settings.json"]
    assert load_settings().concurrency == 3


def test_process_killed_between_write_and_replace_leaves_the_old_file(isolated_dirs):
    """A real crash: the child dies (os._exit) after fsyncing the temp file, before os.replace."""
    save_settings(Settings(concurrency=3))
    target = paths.settings_path()
    before = target.read_bytes()
    script = textwrap.dedent("""
        import os
        from shotdesk.core import settings as m
        m.os.replace = lambda src, dst: os._exit(9)
        m.save_settings(m.Settings(concurrency=8, default_provider="urlbox"))
    """)
    env = {**os.environ, "XDG_CONFIG_HOME": str(isolated_dirs["config"])}
    proc = subprocess.run([sys.executable, "-c", script], env=env, cwd=Path(__file__).parents[2],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 9, proc.stderr
    assert target.read_bytes() == before  # the old settings, whole
    leftovers = [n for n in _files(target.parent) if n != "settings.json"]
    assert len(leftovers) == 1 and leftovers[0].startswith(".settings.json.")  # the complete new one
    assert json.loads((target.parent / leftovers[0]).read_text())["concurrency"] == 8
    s = load_settings()
    assert s.concurrency == 3 and s.load_warnings == []
    save_settings(s)  # and the next save works
    assert load_settings().concurrency == 3


def test_unwritable_folder_raises_storage_error(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    with pytest.raises(StorageError, match="Could not write the settings"):
        save_settings(Settings(), blocker / "settings.json")
