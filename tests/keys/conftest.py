"""Keys tests: an in-memory keyring backend, and no key leaking in from the environment."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import keyring
import keyring.errors
import pytest
from keyring.backend import KeyringBackend

from shotdesk.services import secrets


class MemoryKeyring(KeyringBackend):
    """A real ``KeyringBackend`` keeping entries in a dict and recording the calling threads.

    Not ``viable``, so keyring's own backend discovery never picks it up for other tests; tests
    install it explicitly with ``keyring.set_keyring``.
    """

    viable = False
    priority = 1

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}
        self.threads: list[int] = []
        self.fail_with: Exception | None = None

    def _call(self) -> None:
        self.threads.append(threading.get_ident())
        if self.fail_with is not None:
            raise self.fail_with

    def get_password(self, service: str, username: str) -> str | None:
        self._call()
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self._call()
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self._call()
        if (service, username) not in self.entries:
            raise keyring.errors.PasswordDeleteError("not found")
        del self.entries[(service, username)]


ENV_NAMES = ("SNAPSHARP_API_KEY", "SCREENSHOT_API_KEY", "SNAPAPI_KEY")


@pytest.fixture(autouse=True)
def memory_keyring(monkeypatch: pytest.MonkeyPatch) -> Iterator[MemoryKeyring]:
    """Every keys test starts with an empty in-memory keyring, no key variables, no session keys."""
    import os

    for name in list(os.environ):
        if name in ENV_NAMES or (name.startswith("SHOTDESK_") and name.endswith("_KEY")):
            monkeypatch.delenv(name)
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    secrets.forget_session()
    try:
        yield backend
    finally:
        secrets.forget_session()
        keyring.set_keyring(previous)
