"""API keys: the OS keyring (service ``ShotDesk``, one entry per provider id), never a file.

Where :func:`get_key` looks, first match wins:

1. the environment, for scripts and CI — read, never written anywhere:
   ``SHOTDESK_<ID>_KEY`` (the provider id upper-cased, every other character than A–Z/0–9 turned
   into ``_``: ``custom:my-shots`` → ``SHOTDESK_CUSTOM_MY_SHOTS_KEY``), then the names the seed
   tutorials use (:data:`SEED_ENV_VARS`):

   ============  ======================  =============================================
   provider id   variable                seed tutorial
   ============  ======================  =============================================
   snapsharp     ``SNAPSHARP_API_KEY``   SnapSharp Django/Celery, FastAPI and Flask
   hermes        ``SCREENSHOT_API_KEY``  hermesforge-style FastAPI guide (X-API-Key,
                                         ``SCREENSHOT_API_BASE=https://hermesforge.dev``)
   snapapi       ``SNAPAPI_KEY``         SnapAPI FastAPI microservice
   ============  ======================  =============================================

2. the session store: keys set while no secure keyring was usable, kept in this process only;
3. the keyring (``keyring.get_keyring()``), username = provider id.

Every keyring call runs in a worker thread (``asyncio.to_thread``): a Secret Service round trip
takes tens to hundreds of milliseconds and must not stall the window's event loop.

Refused backends: keyring's ``fail`` and ``null`` backends and file backends (``keyrings.alt``:
base64 in a plain file is not a secret store; ``keyrings.cryptfile`` asks for a password on the
terminal, which would hang the window). With none usable, :func:`set_key`
keeps the key in the session store — captures in this process still work — and raises
:class:`SecretStoreError` saying so; :func:`get_key` simply finds no keyring key.

A key never appears in a log line or an exception text; :class:`Secret` masks its ``repr``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import keyring
import keyring.backends.fail
import keyring.backends.null
import keyring.errors

from shotdesk.core.errors import InvalidSpec, SecretStoreError
from shotdesk.core.settings import PROVIDER_ID_PATTERN

log = logging.getLogger(__name__)

#: Keyring service name; the username of an entry is the provider id.
SERVICE = "ShotDesk"

#: Environment variables of the seed tutorials, after ``SHOTDESK_<ID>_KEY``.
SEED_ENV_VARS: Mapping[str, tuple[str, ...]] = {
    "snapsharp": ("SNAPSHARP_API_KEY",),
    "hermes": ("SCREENSHOT_API_KEY",),
    "snapapi": ("SNAPAPI_KEY",),
}

KeySource = Literal["env", "session", "keyring"]

KEY_MAX_CHARS = 4096
_PLAINTEXT_MODULES = ("keyrings.alt", "keyrings.cryptfile")
_PLAINTEXT_NAMES = ("plaintext", "file")


class Secret:
    """A key held in memory: ``repr``/``str`` show ``***``; :meth:`reveal` gives the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self) -> Any:  # never pickled into a file or a subprocess by accident
        raise TypeError("a Secret cannot be pickled")


@dataclass(frozen=True)
class KeyStatus:
    """Where a provider's key comes from, for the window and ``shotdesk key list`` (no key inside)."""

    provider_id: str
    source: KeySource | None
    #: The variable that supplies it when ``source == "env"``.
    env_var: str | None = None
    #: Why the keyring could not be asked (locked, unavailable…), if it could not.
    problem: str | None = None


# ---------------------------------------------------------------------- ids and environment

def normalize_provider_id(provider_id: str) -> str:
    """``" SnapSharp "`` → ``"snapsharp"``; ``InvalidSpec("provider")`` for anything not id-like."""
    text = provider_id.strip().lower() if isinstance(provider_id, str) else ""
    if not PROVIDER_ID_PATTERN.match(text):
        raise InvalidSpec("provider", f"{provider_id!r} is not a provider id",
                          hint="for example snapsharp, screenshotone, urlbox, apiflash, hermes, snapapi")
    return text


def env_var_names(provider_id: str) -> tuple[str, ...]:
    """Environment variables that may hold ``provider_id``'s key, in the order they are read."""
    pid = normalize_provider_id(provider_id)
    own = "SHOTDESK_" + re.sub(r"[^A-Z0-9]", "_", pid.upper()) + "_KEY"
    return (own, *SEED_ENV_VARS.get(pid, ()))


def _from_env(pid: str) -> tuple[str, str] | None:
    for name in env_var_names(pid):
        value = os.environ.get(name, "").strip()
        if value:
            return name, value
    return None


# ---------------------------------------------------------------------- session store

_session: dict[str, Secret] = {}
_session_lock = threading.Lock()


def _session_get(pid: str) -> str | None:
    with _session_lock:
        secret = _session.get(pid)
    return secret.reveal() if secret else None


def _session_put(pid: str, key: str) -> None:
    with _session_lock:
        _session[pid] = Secret(key)


def _session_pop(pid: str) -> bool:
    with _session_lock:
        return _session.pop(pid, None) is not None


def forget_session() -> None:
    """Drop every key kept for this session only (tests; "forget keys" in the window)."""
    with _session_lock:
        _session.clear()


# ---------------------------------------------------------------------- backend choice

def _backend_label(backend: object) -> str:
    cls = type(backend)
    return f"{cls.__module__}.{cls.__qualname__}"


def _is_secure(backend: object) -> bool:
    if isinstance(backend, keyring.backends.fail.Keyring | keyring.backends.null.Keyring):
        return False
    module = type(backend).__module__
    if module.startswith(_PLAINTEXT_MODULES):
        return False
    name = type(backend).__qualname__.lower()
    return not any(word in name for word in _PLAINTEXT_NAMES)


def _usable_backend() -> tuple[Any | None, str]:
    """The keyring backend to use, or ``None`` and a phrase saying why there is none.

    Call from a worker thread: choosing the default backend talks to D-Bus the first time.
    """
    try:
        current = keyring.get_keyring()
    except Exception as exc:  # a broken keyring configuration must not crash a capture
        return None, f"the keyring could not be initialised ({type(exc).__name__})"
    candidates = list(getattr(current, "backends", None) or [current]) \
        if type(current).__name__ == "ChainerBackend" else [current]
    for backend in candidates:
        if _is_secure(backend):
            return backend, ""
    refused = [_backend_label(b) for b in candidates
               if not isinstance(b, keyring.backends.fail.Keyring | keyring.backends.null.Keyring)]
    if refused:
        return None, (f"the only keyring found ({', '.join(refused)}) stores keys in a plain file, "
                      "which ShotDesk refuses")
    return None, ("no Secret Service (GNOME Keyring), KWallet, macOS Keychain or Windows Credential "
                  "Locker was found")


class SessionOnlyKey(SecretStoreError):
    """:func:`set_key` could not store the key in a keyring; it is kept for this session only.

    ``reason`` says why (no secure keyring, keyring locked…) without the session-only part, for
    callers such as the CLI whose session ends at once.
    """

    def __init__(self, message: str, *, reason: str, hint: str) -> None:
        super().__init__(message, hint=hint)
        self.reason = reason


def _no_keyring_error(pid: str, reason: str) -> SessionOnlyKey:
    env = env_var_names(pid)[0]
    return SessionOnlyKey(
        f"No secure keyring is available: {reason}; the {pid} key is kept for this session only",
        reason=f"no secure keyring is available: {reason}",
        hint="install and unlock GNOME Keyring or KWallet (a Secret Service), then set the key again; "
             f"for scripts, set {env} in the environment instead",
    )


def _failure(action: str, pid: str, exc: BaseException, secret: str | None = None) -> SecretStoreError:
    detail = str(exc).strip()
    if secret:
        detail = detail.replace(secret, "***")
    reason = type(exc).__name__ + (f": {detail}" if detail else "")
    locked = isinstance(exc, keyring.errors.KeyringLocked) or "lock" in detail.lower()
    hint = ("unlock the keyring (GNOME Keyring / KWallet) and try again" if locked
            else "check that the keyring service (GNOME Keyring / KWallet) is running and unlocked")
    where = "in" if action == "store" else "from"
    return SecretStoreError(f"Could not {action} the {pid} key {where} the keyring ({reason})", hint=hint)


# ---------------------------------------------------------------------- keyring calls (worker thread)

def _keyring_read(pid: str) -> Secret | None:
    """Runs in a worker thread: the value crosses back as a :class:`Secret`, because executors
    (qasync's among them) may log a future's result at DEBUG."""
    backend, _reason = _usable_backend()
    if backend is None:
        return None
    try:
        value = backend.get_password(SERVICE, pid)
    except Exception as exc:
        raise _failure("read", pid, exc) from None
    return Secret(value) if value else None


def _keyring_write(pid: str, secret: Secret) -> str:
    """Runs in a worker thread; the key arrives wrapped so no executor log line can show it."""
    backend, reason = _usable_backend()
    if backend is None:
        raise _no_keyring_error(pid, reason)
    key = secret.reveal()
    try:
        backend.set_password(SERVICE, pid, key)
    except Exception as exc:
        raise _failure("store", pid, exc, key) from None
    return _backend_label(backend)


def _keyring_delete(pid: str) -> bool:
    backend, _reason = _usable_backend()
    if backend is None:
        return False
    try:
        if backend.get_password(SERVICE, pid) is None:
            return False
        backend.delete_password(SERVICE, pid)
    except keyring.errors.PasswordDeleteError:
        return False
    except Exception as exc:
        raise _failure("delete", pid, exc) from None
    return True


def _check_key(key: str) -> str:
    if not isinstance(key, str):
        raise InvalidSpec("key", "The key must be text")
    text = key.strip()
    if not text:
        raise InvalidSpec("key", "The key is empty", hint="paste the key from the provider's dashboard")
    if len(text) > KEY_MAX_CHARS:
        raise InvalidSpec("key", f"The key is too long ({len(text)} characters, at most {KEY_MAX_CHARS})")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise InvalidSpec("key", "The key contains control characters (a line break?)",
                          hint="give the key on one line")
    return text


# ---------------------------------------------------------------------- public API

async def get_key(provider_id: str) -> str | None:
    """The key for ``provider_id``: environment, then session store, then keyring; ``None`` if none.

    Raises :class:`SecretStoreError` only when a keyring exists but cannot be read (locked, D-Bus
    failure); no keyring at all simply means no stored key.
    """
    pid = normalize_provider_id(provider_id)
    env = _from_env(pid)
    if env is not None:
        return env[1]
    session = _session_get(pid)
    if session is not None:
        return session
    stored = await asyncio.to_thread(_keyring_read, pid)
    return stored.reveal() if stored is not None else None


async def set_key(provider_id: str, key: str) -> None:
    """Store ``key`` in the keyring.

    Without a usable keyring (or when storing fails) the key is kept in the session store, so
    captures in this process work, and :class:`SessionOnlyKey` (a ``SecretStoreError``) says it
    was not saved and why (``reason``).
    """
    pid = normalize_provider_id(provider_id)
    secret = _check_key(key)
    try:
        where = await asyncio.to_thread(_keyring_write, pid, Secret(secret))
    except SessionOnlyKey:
        _session_put(pid, secret)
        log.info("The %s key is kept for this session only (no secure keyring)", pid)
        raise
    except SecretStoreError as exc:
        _session_put(pid, secret)
        log.info("The %s key is kept for this session only (the keyring failed)", pid)
        raise SessionOnlyKey(f"{exc.message}; the key is kept for this session only",
                             reason=exc.message[0].lower() + exc.message[1:], hint=exc.hint) from None
    _session_pop(pid)  # the keyring now holds the newest key
    log.info("Stored the %s key in the keyring (%s)", pid, where)


async def delete_key(provider_id: str) -> bool:
    """Remove the stored key (session store and keyring); ``True`` if there was one.

    A key in the environment is not touched (see :func:`key_status`).
    """
    pid = normalize_provider_id(provider_id)
    removed = _session_pop(pid)
    removed = await asyncio.to_thread(_keyring_delete, pid) or removed
    if removed:
        log.info("Deleted the stored %s key", pid)
    return removed


async def has_key(provider_id: str) -> bool:
    """Whether a key is available from any source (an unreadable keyring counts as no key)."""
    return (await key_status(provider_id)).source is not None


async def key_source(provider_id: str) -> KeySource | None:
    """``"env"``, ``"session"``, ``"keyring"`` or ``None``: where :func:`get_key` would find the key."""
    return (await key_status(provider_id)).source


async def key_status(provider_id: str) -> KeyStatus:
    return (await key_statuses([provider_id]))[normalize_provider_id(provider_id)]


async def key_statuses(provider_ids: Iterable[str]) -> dict[str, KeyStatus]:
    """:class:`KeyStatus` for several providers with one worker-thread trip to the keyring."""
    pids = list(dict.fromkeys(normalize_provider_id(p) for p in provider_ids))
    found: dict[str, KeyStatus] = {}
    ask: list[str] = []
    for pid in pids:
        env = _from_env(pid)
        if env is not None:
            found[pid] = KeyStatus(pid, "env", env_var=env[0])
        elif _session_get(pid) is not None:
            found[pid] = KeyStatus(pid, "session")
        else:
            ask.append(pid)
    if ask:
        found.update(await asyncio.to_thread(_keyring_statuses, ask))
    return {pid: found[pid] for pid in pids}


def _keyring_statuses(pids: list[str]) -> dict[str, KeyStatus]:
    out: dict[str, KeyStatus] = {}
    for pid in pids:
        try:
            present = _keyring_read(pid) is not None
        except SecretStoreError as exc:
            out[pid] = KeyStatus(pid, None, problem=exc.message)
            continue
        out[pid] = KeyStatus(pid, "keyring" if present else None)
    return out


async def keyring_problem() -> str | None:
    """``None`` when a secure keyring is usable, else a sentence for the window's settings page."""
    backend, reason = await asyncio.to_thread(_usable_backend)
    if backend is not None:
        return None
    return f"No secure keyring is available: {reason}; keys are kept for this session only"


async def keyring_name() -> str | None:
    """The backend keys are stored in (``keyring.backends.SecretService.Keyring``…), or ``None``."""
    backend, _reason = await asyncio.to_thread(_usable_backend)
    return _backend_label(backend) if backend is not None else None
