"""The keyring wrapper against in-memory and refused backends: order, fallbacks, no leaks."""

from __future__ import annotations

import asyncio
import logging
import pickle
import threading
from pathlib import Path

import keyring
import keyring.backends.fail
import keyring.backends.null
import keyring.errors
import pytest
from keyring.backend import KeyringBackend

from shotdesk.core.errors import InvalidSpec, SecretStoreError
from shotdesk.core.settings import Settings, load_settings, save_settings
from shotdesk.services import secrets
from tests.keys.conftest import MemoryKeyring

KEY = "sk_live_K3yThatMustNeverLeak_42"


def run(coro):
    return asyncio.run(coro)


# ---------------------------------------------------------------------- environment names

@pytest.mark.parametrize(
    ("provider", "names"),
    [
        ("snapsharp", ("SHOTDESK_SNAPSHARP_KEY", "SNAPSHARP_API_KEY")),
        ("hermes", ("SHOTDESK_HERMES_KEY", "SCREENSHOT_API_KEY")),
        ("snapapi", ("SHOTDESK_SNAPAPI_KEY", "SNAPAPI_KEY")),
        ("ScreenshotOne", ("SHOTDESK_SCREENSHOTONE_KEY",)),
        ("custom:my-shots", ("SHOTDESK_CUSTOM_MY_SHOTS_KEY",)),
    ],
)
def test_environment_variable_names(provider: str, names: tuple[str, ...]):
    assert secrets.env_var_names(provider) == names


@pytest.mark.parametrize("bad", ["", "   ", "snap sharp", "../x", "a" * 80])
def test_bad_provider_id_is_invalid_input(bad: str):
    with pytest.raises(InvalidSpec) as info:
        run(secrets.get_key(bad))
    assert info.value.field == "provider"


# ---------------------------------------------------------------------- keyring round trip

def test_set_get_delete_through_the_keyring(memory_keyring: MemoryKeyring):
    assert run(secrets.get_key("snapsharp")) is None
    assert run(secrets.has_key("snapsharp")) is False
    run(secrets.set_key("SnapSharp", f"  {KEY}\n"))
    assert memory_keyring.entries == {("ShotDesk", "snapsharp"): KEY}  # service ShotDesk, one per id
    assert run(secrets.get_key("snapsharp")) == KEY
    assert run(secrets.key_source("snapsharp")) == "keyring"
    assert run(secrets.has_key("snapsharp")) is True
    assert run(secrets.get_key("urlbox")) is None  # other providers unaffected
    assert run(secrets.delete_key("snapsharp")) is True
    assert memory_keyring.entries == {}
    assert run(secrets.get_key("snapsharp")) is None
    assert run(secrets.delete_key("snapsharp")) is False  # nothing left to delete


def test_keyring_calls_run_off_the_event_loop_thread(memory_keyring: MemoryKeyring):
    async def scenario() -> int:
        await secrets.set_key("urlbox", KEY)
        await secrets.get_key("urlbox")
        await secrets.key_statuses(["urlbox", "hermes"])
        await secrets.delete_key("urlbox")
        return threading.get_ident()

    loop_thread = run(scenario())
    assert len(memory_keyring.threads) >= 5
    assert loop_thread not in memory_keyring.threads


def test_order_is_environment_then_session_then_keyring(memory_keyring: MemoryKeyring, monkeypatch):
    memory_keyring.entries[("ShotDesk", "snapsharp")] = "from-keyring"
    assert run(secrets.get_key("snapsharp")) == "from-keyring"

    # A session key: set while the keyring refused to store (locked).
    memory_keyring.fail_with = keyring.errors.KeyringLocked("Collection is locked")
    with pytest.raises(SecretStoreError):
        run(secrets.set_key("snapsharp", "from-session"))
    memory_keyring.fail_with = None
    assert memory_keyring.entries[("ShotDesk", "snapsharp")] == "from-keyring"
    assert run(secrets.get_key("snapsharp")) == "from-session"
    assert run(secrets.key_source("snapsharp")) == "session"

    monkeypatch.setenv("SNAPSHARP_API_KEY", "from-seed-variable")
    assert run(secrets.get_key("snapsharp")) == "from-seed-variable"
    monkeypatch.setenv("SHOTDESK_SNAPSHARP_KEY", "from-shotdesk-variable")
    assert run(secrets.get_key("snapsharp")) == "from-shotdesk-variable"
    status = run(secrets.key_status("snapsharp"))
    assert (status.source, status.env_var) == ("env", "SHOTDESK_SNAPSHARP_KEY")

    monkeypatch.setenv("SHOTDESK_SNAPSHARP_KEY", "  ")  # blank counts as unset
    assert run(secrets.get_key("snapsharp")) == "from-seed-variable"
    monkeypatch.delenv("SHOTDESK_SNAPSHARP_KEY")
    monkeypatch.delenv("SNAPSHARP_API_KEY")
    assert run(secrets.get_key("snapsharp")) == "from-session"
    secrets.forget_session()
    assert run(secrets.get_key("snapsharp")) == "from-keyring"


@pytest.mark.parametrize(("provider", "var"), [("hermes", "SCREENSHOT_API_KEY"), ("snapapi", "SNAPAPI_KEY")])
def test_seed_variables_belong_to_their_provider(provider: str, var: str, monkeypatch):
    monkeypatch.setenv(var, KEY)
    assert run(secrets.get_key(provider)) == KEY
    assert run(secrets.get_key("snapsharp")) is None
    assert run(secrets.get_key("screenshotone")) is None


def test_environment_keys_are_written_nowhere(memory_keyring: MemoryKeyring, monkeypatch, isolated_dirs):
    monkeypatch.setenv("SNAPSHARP_API_KEY", KEY)
    assert run(secrets.get_key("snapsharp")) == KEY
    assert run(secrets.key_source("snapsharp")) == "env"
    assert memory_keyring.entries == {}
    assert secrets._session == {}
    assert not any(p.is_file() for d in isolated_dirs.values() for p in d.rglob("*"))


def test_a_newer_set_replaces_a_session_key(memory_keyring: MemoryKeyring):
    memory_keyring.fail_with = keyring.errors.KeyringLocked("locked")
    with pytest.raises(SecretStoreError):
        run(secrets.set_key("apiflash", "old"))
    memory_keyring.fail_with = None
    run(secrets.set_key("apiflash", "new"))
    assert run(secrets.key_source("apiflash")) == "keyring"
    assert run(secrets.get_key("apiflash")) == "new"


def test_delete_leaves_environment_keys_and_says_where_they_come_from(monkeypatch):
    run(secrets.set_key("hermes", KEY))
    monkeypatch.setenv("SCREENSHOT_API_KEY", "env-key")
    assert run(secrets.delete_key("hermes")) is True
    status = run(secrets.key_status("hermes"))
    assert (status.source, status.env_var) == ("env", "SCREENSHOT_API_KEY")


# ---------------------------------------------------------------------- no usable backend

@pytest.mark.parametrize("backend", [keyring.backends.fail.Keyring(), keyring.backends.null.Keyring()],
                         ids=["fail", "null"])
def test_no_keyring_keeps_the_key_for_the_session_with_a_clear_error(backend: KeyringBackend):
    keyring.set_keyring(backend)
    assert run(secrets.get_key("snapsharp")) is None  # no keyring is not an error when reading
    with pytest.raises(SecretStoreError) as info:
        run(secrets.set_key("snapsharp", KEY))
    text = str(info.value)
    assert isinstance(info.value, secrets.SessionOnlyKey)
    assert info.value.reason.startswith("no secure keyring is available: no Secret Service")
    assert "No secure keyring is available" in text
    assert "kept for this session only" in text
    assert "GNOME Keyring or KWallet" in text and "SHOTDESK_SNAPSHARP_KEY" in text
    assert KEY not in text
    assert run(secrets.get_key("snapsharp")) == KEY  # captures in this process still work
    assert run(secrets.key_source("snapsharp")) == "session"
    assert run(secrets.has_key("snapsharp")) is True
    problem = run(secrets.keyring_problem())
    assert problem is not None and "session only" in problem
    assert run(secrets.delete_key("snapsharp")) is True
    assert run(secrets.get_key("snapsharp")) is None


class PlaintextKeyring(MemoryKeyring):
    """Looks like keyrings.alt's file backend: writes the key to a file in plain text."""

    path: Path

    def set_password(self, service: str, username: str, password: str) -> None:
        self.path.write_text(f"{service}:{username}={password}")


PlaintextKeyring.__module__ = "keyrings.alt.file"


def test_plaintext_backend_is_refused_and_nothing_is_written(tmp_path: Path):
    backend = PlaintextKeyring()
    backend.path = tmp_path / "keyring_pass.cfg"
    keyring.set_keyring(backend)
    with pytest.raises(SecretStoreError) as info:
        run(secrets.set_key("urlbox", KEY))
    assert "plain file" in str(info.value) and "keyrings.alt.file.PlaintextKeyring" in str(info.value)
    assert not backend.path.exists()
    assert run(secrets.key_source("urlbox")) == "session"
    assert run(secrets.keyring_name()) is None


def test_locked_keyring_on_read_is_a_clear_error_not_a_missing_key(memory_keyring: MemoryKeyring):
    memory_keyring.fail_with = keyring.errors.KeyringLocked("Failed to unlock the collection!")
    with pytest.raises(SecretStoreError) as info:
        run(secrets.get_key("urlbox"))
    assert "Could not read the urlbox key" in str(info.value)
    assert "unlock the keyring" in str(info.value)
    status = run(secrets.key_status("urlbox"))
    assert status.source is None and status.problem and "Could not read" in status.problem
    assert run(secrets.has_key("urlbox")) is False


def test_store_error_text_never_contains_the_key(memory_keyring: MemoryKeyring):
    memory_keyring.fail_with = keyring.errors.PasswordSetError(f"cannot store {KEY}")
    with pytest.raises(SecretStoreError) as info:
        run(secrets.set_key("urlbox", KEY))
    assert KEY not in str(info.value) and "***" in str(info.value)


# ---------------------------------------------------------------------- key input

@pytest.mark.parametrize(("key", "text"), [("", "The key is empty"), ("  \n", "The key is empty"),
                                           ("abc\ndef", "control characters"), ("x" * 5000, "too long")])
def test_bad_keys_are_invalid_input(key: str, text: str, memory_keyring: MemoryKeyring):
    with pytest.raises(InvalidSpec) as info:
        run(secrets.set_key("urlbox", key))
    assert info.value.field == "key" and text in str(info.value)
    assert memory_keyring.entries == {}


# ---------------------------------------------------------------------- no leaks

def test_the_key_is_never_logged_or_shown_in_a_repr(memory_keyring: MemoryKeyring, caplog):
    caplog.set_level(logging.DEBUG)
    run(secrets.set_key("snapsharp", KEY))
    run(secrets.get_key("snapsharp"))
    keyring.set_keyring(keyring.backends.fail.Keyring())
    with pytest.raises(SecretStoreError) as info:
        run(secrets.set_key("snapapi", KEY))
    run(secrets.key_statuses(["snapsharp", "snapapi"]))
    run(secrets.delete_key("snapapi"))
    assert "snapsharp" in caplog.text  # it did log, by provider id
    assert KEY not in caplog.text
    assert KEY not in repr(info.value) and KEY not in str(info.value)
    secret = secrets.Secret(KEY)
    assert KEY not in repr(secret) and KEY not in str(secret) and KEY not in f"{secret}"
    assert KEY not in repr({"snapsharp": secret})
    with pytest.raises(TypeError):
        pickle.dumps(secret)


def test_settings_file_never_holds_a_key(memory_keyring: MemoryKeyring, isolated_dirs):
    """Set keys (keyring and session-only), save settings, then search every file written."""
    run(secrets.set_key("snapsharp", KEY))
    keyring.set_keyring(keyring.backends.fail.Keyring())
    with pytest.raises(SecretStoreError):
        run(secrets.set_key("urlbox", KEY + "-session"))
    s = load_settings()
    s.default_provider = "snapsharp"
    s.provider_base_urls["snapsharp"] = "https://api.snapsharp.example"
    s.remember_url("https://example.com/")
    save_settings(s)
    written = [p for d in isolated_dirs.values() for p in d.rglob("*") if p.is_file()]
    assert written, "settings.json should have been written"
    for path in written:
        assert KEY.encode() not in path.read_bytes(), path
    assert set(vars(Settings()).keys()).isdisjoint({"api_key", "key", "keys", "token", "secret"})
