"""User preferences: one JSON file at :func:`shotdesk.paths.settings_path`, never an API key.

* :func:`load_settings` never raises for a bad file. A file that is not JSON, not an object or
  not readable gives the defaults; the file itself is kept aside as ``settings.json.bad-<time>``
  (never deleted, never overwritten) and the reason is logged and put in
  :attr:`Settings.load_warnings` for the window to show. A single invalid value (concurrency 99,
  a base URL with a password in it…) falls back to its default with a warning; the rest loads.
* :func:`save_settings` validates (``InvalidSpec`` naming the field, e.g.
  ``provider_base_urls.snapsharp``) and writes atomically: a temporary file in the same folder,
  flushed and fsynced, then ``os.replace`` — a crash leaves the old file or the new one, never half.
* Versions: every file carries ``schema_version``. A file written by an older ShotDesk is migrated
  step by step (``MIGRATIONS[n]`` turns version ``n`` into ``n + 1``) when it is read; a file
  without ``schema_version`` (written by hand) counts as version 1. A file from a newer ShotDesk
  loads what this version understands, keeps unknown keys and writes them back; before it is first
  overwritten a copy is kept as ``settings.json.v<N>.bak``.
* API keys live in the OS keyring (:mod:`shotdesk.services.secrets`). No field is meant for one,
  and :func:`save_settings` refuses values that look like credentials: a ``user:password@`` or a
  query string in a base URL, or an ``api_key``/``token``/``password``… entry in a custom provider.

Nothing here imports Qt; the window calls these functions in a worker thread.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import math
import os
import re
import string
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from shotdesk import paths
from shotdesk.core.errors import InvalidSpec, StorageError
from shotdesk.core.spec import CaptureSpec

log = logging.getLogger(__name__)

#: The version this ShotDesk writes.
SCHEMA_VERSION = 1

#: Migration steps: ``MIGRATIONS[n](data)`` returns the data of version ``n`` as version ``n + 1``.
#: Add a step (and bump :data:`SCHEMA_VERSION`) whenever a field is renamed or changes meaning;
#: a step gets a copy of the parsed JSON object and must not touch the disk.
Migration = Callable[[dict[str, Any]], dict[str, Any]]
MIGRATIONS: dict[int, Migration] = {}

DEFAULT_FILENAME_TEMPLATE = "{domain}_{width}x{height}_{date}.{ext}"
URL_HISTORY_LIMIT = 50
CONCURRENCY_RANGE = (1, 8)
ENGINE_POOL_RANGE = (1, 8)
CACHE_TTL_MAX_S = 365 * 86_400
CACHE_LIMIT_RANGE_MB = (1, 1_048_576)
_URL_LIMIT = 8192
_TEMPLATE_LIMIT = 255

#: Provider ids: ``snapsharp``, ``custom``, a saved custom provider's name such as ``my-shots``.
PROVIDER_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.:-]{0,63}$")

#: Entry names that would hold a credential; refused inside custom provider definitions.
#: (``auth_header`` is the *name* of the header that carries the key, which is fine.)
_SECRET_ENTRY = re.compile(
    r"^(api[_-]?key|apikey|key|access[_-]?key|secret|client[_-]?secret|token|access[_-]?token|"
    r"bearer|password|passwd|pwd|authorization|credentials?)$",
    re.IGNORECASE,
)

#: Capture options that may have a saved default (``url`` and ``provider`` are not options).
_CAPTURE_OPTIONS = tuple(f.name for f in fields(CaptureSpec) if f.name not in ("url", "provider"))
_PROBE_URL = "https://example.com"


@dataclass
class Settings:
    """Preferences shared by the window and the CLI (mutable; validated on construction and save)."""

    default_provider: str = "local"
    #: Provider id → base URL (self-hosted or test server); a missing id means the public default.
    provider_base_urls: dict[str, str] = field(default_factory=dict)
    #: Saved custom providers: name → template dict (owned by the custom adapter; no keys inside).
    custom_providers: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Captures running at once (1–8).
    concurrency: int = 2
    #: How long a gallery capture counts as fresh for the same URL + options (0 = always render).
    cache_ttl_s: float = 86_400
    cache_limit_mb: int = 2048
    #: File name for drag-out and export; placeholders like ``{domain}``, ``{width}``, ``{ext}``.
    filename_template: str = DEFAULT_FILENAME_TEMPLATE
    #: CaptureSpec option overrides (``format``, ``width``, ``height``, ``scale``, ``full_page``…).
    capture_defaults: dict[str, Any] = field(default_factory=dict)
    #: Render pages the local engine keeps open (1–8).
    engine_pool_size: int = 2
    #: The last :data:`URL_HISTORY_LIMIT` captured URLs, newest first.
    url_history: list[str] = field(default_factory=list)
    schema_version: int = SCHEMA_VERSION
    #: Keys this version does not know (from a newer ShotDesk): written back unchanged.
    extras: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    #: What went wrong while loading (shown to the user once); never saved.
    load_warnings: list[str] = field(default_factory=list, repr=False, compare=False)
    #: The ``schema_version`` the file had when it was read (0: not read from a file).
    source_version: int = field(default=0, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.validate()

    # ------------------------------------------------------------------ validation
    def validate(self) -> None:
        """Check and normalise every field; raise ``InvalidSpec`` naming the first bad one."""
        for name, check in _VALIDATORS.items():
            setattr(self, name, check(getattr(self, name), None))
        if not isinstance(self.schema_version, int) or isinstance(self.schema_version, bool) \
                or self.schema_version < 1:
            raise InvalidSpec("schema_version", f"schema_version must be a positive whole number, "
                              f"got {self.schema_version!r}")

    # ------------------------------------------------------------------ helpers for callers
    def base_url(self, provider_id: str) -> str | None:
        """The configured base URL of ``provider_id`` or ``None`` for the provider's default."""
        return self.provider_base_urls.get(provider_id.strip().lower())

    def remember_url(self, url: str) -> None:
        """Put ``url`` first in :attr:`url_history` (once), keeping the newest 50."""
        text = url.strip()
        if not text:
            return
        self.url_history = _history([text, *(u for u in self.url_history if u != text)], None)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object written to disk (unknown keys of newer versions included)."""
        data: dict[str, Any] = copy.deepcopy(self.extras)
        for name in _SAVED_FIELDS:
            value = copy.deepcopy(getattr(self, name))
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            data[name] = value
        data["schema_version"] = max(SCHEMA_VERSION, self.schema_version)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Settings:
        """Strict: build from a (current-version) dict; ``InvalidSpec`` for any bad value."""
        unknown = sorted(set(data) - {*_SAVED_FIELDS, "schema_version"})
        if unknown:
            raise InvalidSpec(unknown[0], f"Unknown setting {unknown[0]!r}",
                              hint=f"known settings: {', '.join(_SAVED_FIELDS)}")
        return cls(**dict(data))


# ---------------------------------------------------------------------- field validators
# Each takes the value and a warnings list. With ``warnings=None`` a bad value raises InvalidSpec;
# with a list (lenient loading) bad *entries* of a dict/list are dropped and reported instead.

Warnings = list[str] | None


def _int_range(name: str, bounds: tuple[int, int], unit: str = "") -> Callable[[Any, Warnings], int]:
    lo, hi = bounds

    def check(value: Any, _warnings: Warnings) -> int:
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) \
            and float(value).is_integer()
        if not ok or not lo <= value <= hi:
            raise InvalidSpec(name, f"{name} must be a whole number from {lo} to {hi}{unit}, got {value!r}")
        return int(value)

    return check


def _cache_ttl(value: Any, _warnings: Warnings) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
            or not 0 <= value <= CACHE_TTL_MAX_S:
        raise InvalidSpec("cache_ttl_s", f"cache_ttl_s must be 0–{CACHE_TTL_MAX_S} seconds "
                          f"(0 = always capture anew), got {value!r}")
    return float(value)


def _provider_id(name: str, value: Any) -> str:
    text = value.strip().lower() if isinstance(value, str) else value
    if not isinstance(text, str) or not PROVIDER_ID_PATTERN.match(text):
        raise InvalidSpec(name, f"{name} must be a provider id such as 'local' or 'snapsharp' "
                          f"(letters, digits, '-', '_', '.', ':'), got {value!r}")
    return text


def _default_provider(value: Any, _warnings: Warnings) -> str:
    return _provider_id("default_provider", value)


def _mapping(name: str, value: Any) -> Mapping[Any, Any]:
    if not isinstance(value, Mapping):
        raise InvalidSpec(name, f"{name} must be an object of name → value, got {type(value).__name__}")
    return value


def _entries(name: str, value: Any, warnings: Warnings,
             check: Callable[[str, Any], tuple[str, Any] | None]) -> dict[str, Any]:
    """Validate every entry of a mapping; in lenient mode drop and report the bad ones."""
    out: dict[str, Any] = {}
    for key, item in _mapping(name, value).items():
        try:
            result = check(str(key), item)
        except InvalidSpec as exc:
            if warnings is None:
                raise
            warnings.append(f"{exc.field}: {exc.message} — ignored")
            continue
        if result is not None:
            out[result[0]] = result[1]
    return out


def _base_url_entry(key: str, value: Any) -> tuple[str, str] | None:
    pid = _provider_id("provider_base_urls", key)
    name = f"provider_base_urls.{pid}"
    if value is None or (isinstance(value, str) and not value.strip()):
        return None  # empty = the provider's default
    if not isinstance(value, str) or len(value) > _URL_LIMIT:
        raise InvalidSpec(name, f"The base URL of {pid} must be text such as https://api.example.com")
    text = value.strip()
    try:
        parts = urlsplit(text)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise InvalidSpec(name, f"The base URL of {pid} is not a valid URL") from None
    if parts.scheme.lower() not in ("http", "https") or not host:
        raise InvalidSpec(name, f"The base URL of {pid} must start with https:// and name a host",
                          hint="for example https://api.example.com")
    if parts.username or parts.password or "@" in parts.netloc:
        raise InvalidSpec(name, f"The base URL of {pid} must not contain a user name or password",
                          hint="store the key with `shotdesk key set` or in Settings → Providers instead")
    if parts.query or parts.fragment:
        raise InvalidSpec(name, f"The base URL of {pid} must not contain '?' or '#' parts "
                          "(a key in a query string would be saved in plain text)",
                          hint="give only the base, for example https://api.example.com/v1")
    return pid, text.rstrip("/")


def _base_urls(value: Any, warnings: Warnings) -> dict[str, str]:
    return _entries("provider_base_urls", value, warnings, _base_url_entry)


def _secret_entries(name: str, value: Any) -> None:
    """Refuse credential-looking entries anywhere inside a custom provider definition."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            if _SECRET_ENTRY.match(str(key)) and item not in (None, "", False):
                raise InvalidSpec(f"{name}.{key}", f"Settings never hold API keys or passwords "
                                  f"({name}.{key})",
                                  hint="store the key with `shotdesk key set` or in Settings → Providers")
            _secret_entries(f"{name}.{key}", item)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _secret_entries(f"{name}[{i}]", item)


def _custom_entry(key: str, value: Any) -> tuple[str, dict[str, Any]]:
    pid = _provider_id("custom_providers", key)
    name = f"custom_providers.{pid}"
    if not isinstance(value, Mapping):
        raise InvalidSpec(name, f"{name} must be an object (the request template), "
                          f"got {type(value).__name__}")
    try:
        data = json.loads(json.dumps(dict(value)))
    except (TypeError, ValueError):
        raise InvalidSpec(name, f"{name} holds values that cannot be saved as JSON") from None
    _secret_entries(name, data)
    return pid, data


def _custom_providers(value: Any, warnings: Warnings) -> dict[str, dict[str, Any]]:
    return _entries("custom_providers", value, warnings, _custom_entry)


def _capture_default_entry(key: str, value: Any) -> tuple[str, Any]:
    if key not in _CAPTURE_OPTIONS:
        raise InvalidSpec(f"capture_defaults.{key}", f"{key!r} is not a capture option",
                          hint=f"options: {', '.join(_CAPTURE_OPTIONS)}")
    if key == "hide_selectors":
        if isinstance(value, str) or not isinstance(value, list | tuple):
            raise InvalidSpec("capture_defaults.hide_selectors",
                              "hide_selectors must be a list of CSS selectors")
        value = tuple(value)
    try:
        spec = CaptureSpec(url=_PROBE_URL, **{key: value})
    except InvalidSpec as exc:
        raise InvalidSpec(f"capture_defaults.{key}", f"Default capture option: {exc.message}",
                          hint=exc.hint) from None
    except TypeError:
        raise InvalidSpec(f"capture_defaults.{key}", f"Default capture option {key} has the wrong type, "
                          f"got {value!r}") from None
    return key, spec.to_dict()[key]


def _capture_defaults(value: Any, warnings: Warnings) -> dict[str, Any]:
    return _entries("capture_defaults", value, warnings, _capture_default_entry)


_FILENAME_BAD = re.compile(r"[/\\\x00-\x1f]")


def _filename_template(value: Any, _warnings: Warnings) -> str:
    name = "filename_template"
    if not isinstance(value, str) or not value.strip():
        raise InvalidSpec(name, "The file name template must not be empty",
                          hint=f"for example {DEFAULT_FILENAME_TEMPLATE}")
    text = value.strip()
    if len(text) > _TEMPLATE_LIMIT:
        raise InvalidSpec(name, f"The file name template is too long ({len(text)} characters, "
                          f"at most {_TEMPLATE_LIMIT})")
    if _FILENAME_BAD.search(text):
        raise InvalidSpec(name, "The file name template must not contain '/', '\\' or control characters",
                          hint="it names one file; the folder is chosen where you drop or export")
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise InvalidSpec(name, f"The file name template has unbalanced braces: {exc}",
                          hint="write placeholders like {domain}; use {{ and }} for literal braces") from None
    for _literal, placeholder, _spec, conversion in parsed:
        if placeholder is None:
            continue
        if not placeholder.isidentifier() or conversion:
            raise InvalidSpec(name, f"Placeholder {{{placeholder}}} in the file name template is not "
                              "a simple name", hint="use names such as {domain}, {width}, {date}, {ext}")
    return text


def _history(value: Any, warnings: Warnings) -> list[str]:
    if not isinstance(value, list):
        raise InvalidSpec("url_history", f"url_history must be a list of URLs, got {type(value).__name__}")
    out: list[str] = []
    for item in value:
        if not isinstance(item, str) or len(item) > _URL_LIMIT:
            if warnings is None:
                raise InvalidSpec("url_history", f"url_history entries must be URLs (text), got {item!r:.60}")
            warnings.append("url_history: an entry that is not a URL was dropped")
            continue
        text = item.strip()
        if text and text not in out:
            out.append(text)
    return out[:URL_HISTORY_LIMIT]


_VALIDATORS: dict[str, Callable[[Any, Warnings], Any]] = {
    "default_provider": _default_provider,
    "provider_base_urls": _base_urls,
    "custom_providers": _custom_providers,
    "concurrency": _int_range("concurrency", CONCURRENCY_RANGE),
    "cache_ttl_s": _cache_ttl,
    "cache_limit_mb": _int_range("cache_limit_mb", CACHE_LIMIT_RANGE_MB, " MB"),
    "filename_template": _filename_template,
    "capture_defaults": _capture_defaults,
    "engine_pool_size": _int_range("engine_pool_size", ENGINE_POOL_RANGE),
    "url_history": _history,
}
_SAVED_FIELDS: tuple[str, ...] = tuple(_VALIDATORS)


# ---------------------------------------------------------------------- loading

def load_settings(path: Path | None = None) -> Settings:
    """Read the settings file; defaults when it is missing. Never raises for a bad file.

    Problems are logged and listed in ``Settings.load_warnings``; an unreadable or corrupt file
    is moved aside to ``settings.json.bad-<YYYYmmdd-HHMMSS>`` so the user can recover it.
    """
    target = Path(path) if path is not None else paths.settings_path()
    try:
        raw = target.read_bytes()
    except FileNotFoundError:
        return Settings()
    except OSError as exc:
        return _fallback(target, f"could not be read ({exc.strerror or exc})")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        return _fallback(target, f"is not valid JSON ({exc})")
    if not isinstance(data, dict):
        return _fallback(target, f"does not hold a JSON object (found {type(data).__name__})")
    return _from_file_data(target, data)


def _from_file_data(target: Path, data: dict[str, Any]) -> Settings:
    notes: list[str] = []     # nothing lost
    dropped: list[str] = []   # a value was replaced by its default: keep a copy of the file
    version = data.get("schema_version", 1)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        notes.append(f"schema_version {version!r} is not a version number; read as version 1")
        version = 1
    source_version = version
    while version < SCHEMA_VERSION:
        step = MIGRATIONS.get(version)
        if step is None:  # a gap in the table is a programming error; keep what can be kept
            dropped.append(f"no migration from settings version {version}; unknown values were reset")
            break
        data = step(copy.deepcopy(data))
        version += 1
        data["schema_version"] = version
    if version > SCHEMA_VERSION:
        notes.append(f"written by a newer ShotDesk (settings version {version}); options this "
                     "version does not know are kept unchanged")
    values: dict[str, Any] = {}
    for name in _SAVED_FIELDS:
        if name not in data:
            continue
        try:
            values[name] = _VALIDATORS[name](data[name], dropped)
        except InvalidSpec as exc:
            dropped.append(f"{exc.field}: {exc.message} — using the default")
    extras = {k: v for k, v in data.items() if k not in _SAVED_FIELDS and k != "schema_version"}
    if extras and version <= SCHEMA_VERSION:
        dropped.append(f"unknown settings ignored: {', '.join(sorted(extras))}")
        extras = {}
    settings = Settings(**values)
    settings.schema_version = max(version, SCHEMA_VERSION)
    settings.extras = extras
    settings.source_version = source_version
    if dropped:
        kept = _keep_aside(target, copy_only=True)
        dropped.append(f"the original file was copied to {kept.name}" if kept
                       else "the original file could not be copied aside")
    warnings = notes + dropped
    for w in warnings:
        log.warning("Settings %s: %s", target, w)
    settings.load_warnings = [f"Settings file {target}: {w}" for w in warnings]
    return settings


def _fallback(target: Path, reason: str) -> Settings:
    kept = _keep_aside(target, copy_only=False)
    where = f"it was kept as {kept.name}" if kept else "it could not be moved aside and was left in place"
    message = f"Settings file {target} {reason}; using the default settings ({where})"
    log.warning("%s", message)
    settings = Settings()
    settings.load_warnings = [message]
    return settings


def _keep_aside(target: Path, *, copy_only: bool) -> Path | None:
    """Move (or copy) ``target`` to a fresh ``<name>.bad-<time>[-n]``; ``None`` if that failed."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for n in range(100):
        candidate = target.with_name(f"{target.name}.bad-{stamp}" + (f"-{n}" if n else ""))
        if candidate.exists():
            continue
        try:
            if copy_only:
                _atomic_write(candidate, target.read_bytes())
            else:
                os.rename(target, candidate)  # same folder: atomic, and keeps every byte
        except (OSError, StorageError):
            return None
        return candidate
    return None


# ---------------------------------------------------------------------- saving

def save_settings(settings: Settings, path: Path | None = None) -> None:
    """Validate and write ``settings`` atomically; ``InvalidSpec``/``StorageError`` on failure."""
    settings.validate()
    data = settings.to_dict()
    payload = (json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")
    target = Path(path) if path is not None else paths.settings_path()
    if settings.source_version > SCHEMA_VERSION:
        backup = target.with_name(f"{target.name}.v{settings.source_version}.bak")
        if target.exists() and not backup.exists():
            try:
                _atomic_write(backup, target.read_bytes())
            except OSError as exc:
                raise StorageError(f"Could not back up the settings of a newer ShotDesk to {backup}: "
                                   f"{exc.strerror or exc}") from None
    _atomic_write(target, payload)


def _atomic_write(target: Path, payload: bytes) -> None:
    """Temporary file in the same folder, fsync, ``os.replace``; the temp file never survives an error."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise StorageError(f"Could not write the settings to {target.parent}: {exc.strerror or exc}",
                           hint="check that the folder exists and is writable") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise StorageError(f"Could not write the settings to {target}: {exc.strerror or exc}",
                           hint="free some disk space or check the folder's permissions") from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(target.parent)


def _fsync_dir(folder: Path) -> None:
    """Make the rename durable (best effort: not every platform can open a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
