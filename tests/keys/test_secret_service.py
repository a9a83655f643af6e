"""The one real-keyring test: store, read and delete a key through the wrapper in GNOME Keyring.

Run it inside a private D-Bus session with an unlocked keyring (what .ci/run does)::

    dbus-run-session -- sh -c 'printf pw | gnome-keyring-daemon --unlock --components=secrets \
        >/dev/null; SHOTDESK_REQUIRE_KEYRING=1 .venv/bin/pytest tests/keys -m keyring'

Without a session bus it skips, unless ``SHOTDESK_REQUIRE_KEYRING=1`` — then it fails, so CI
cannot pass without really talking to the Secret Service.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import uuid

import keyring
import keyring.errors
import pytest

from shotdesk.services import secrets

REQUIRED = os.environ.get("SHOTDESK_REQUIRE_KEYRING") == "1"


def _unavailable(reason: str) -> None:
    if REQUIRED:
        pytest.fail(f"SHOTDESK_REQUIRE_KEYRING=1 but {reason}")
    pytest.skip(f"{reason}; run under dbus-run-session with an unlocked gnome-keyring-daemon "
                "(see this file's docstring)")


def _secret_tool_lookup(provider_id: str) -> str | None:
    """Read the entry with libsecret's own tool: proof the key is in the Secret Service."""
    proc = subprocess.run(["secret-tool", "lookup", "service", secrets.SERVICE, "username", provider_id],
                          capture_output=True, text=True, timeout=30, check=False)
    return proc.stdout if proc.returncode == 0 and proc.stdout else None


@pytest.mark.keyring
def test_real_secret_service_stores_reads_and_deletes_through_the_wrapper():
    if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        _unavailable("there is no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is unset)")
    from keyring.backends import SecretService

    if not SecretService.Keyring.viable:
        _unavailable("keyring's SecretService backend is not usable on this session bus "
                     "(is gnome-keyring-daemon running with --components=secrets?)")
    keyring.set_keyring(SecretService.Keyring())  # the autouse fixture restores the previous one

    # A provider id of its own, so a developer's real keys on a desktop session are never touched.
    provider = f"selftest-{uuid.uuid4().hex[:12]}"
    key = f"sk_test_{uuid.uuid4().hex}"

    async def scenario() -> None:
        assert await secrets.keyring_name() == "keyring.backends.SecretService.Keyring"
        assert await secrets.get_key(provider) is None
        await secrets.set_key(provider, key)
        secrets.forget_session()  # the read below can only come from the keyring
        assert await secrets.get_key(provider) == key
        assert await secrets.key_source(provider) == "keyring"
        if shutil.which("secret-tool"):
            assert _secret_tool_lookup(provider) == key
        assert await secrets.delete_key(provider) is True
        assert await secrets.get_key(provider) is None
        assert await secrets.has_key(provider) is False
        if shutil.which("secret-tool"):
            assert _secret_tool_lookup(provider) is None

    try:
        asyncio.run(scenario())
    finally:  # never leave the test entry behind, even when an assertion failed
        # Already deleted, or the keyring is locked (the failure above says so).
        with contextlib.suppress(keyring.errors.KeyringError):
            SecretService.Keyring().delete_password(secrets.SERVICE, provider)
