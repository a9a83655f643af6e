"""Which providers exist, what each can do, and one live instance of each (no Qt).

* :func:`provider_infos` / :func:`provider_info` — static facts read from each adapter class's
  attributes (``label``, ``needs_key``, ``default_base_url``, ``capabilities``); adapter modules
  are imported lazily, by id, the first time they are asked about.
* :class:`ProviderRegistry` — creates providers on demand from the settings (base URL:
  ``settings.provider_base_urls[id]``, else the adapter's public default; key: ``key_lookup(id)``)
  and keeps one instance per id, so each keeps its own pooled HTTP client.

Provider ids: ``local``, ``snapsharp``, ``screenshotone``, ``urlbox``, ``apiflash``, ``hermes``,
``snapapi``, ``jobapi``, ``thumb``, ``custom``. Custom providers saved in
``settings.custom_providers`` are addressed by their name (``my-shots``) or as ``custom:my-shots``;
``custom`` itself uses the entry named ``custom`` (what ``shotdesk capture --template`` sets).
:meth:`ProviderRegistry.info` knows them, with the capabilities their template really has.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from shotdesk.capture.base import Capabilities, Provider
from shotdesk.core.errors import AuthError, InvalidSpec, ProviderUnavailable, SecretStoreError

if TYPE_CHECKING:
    from shotdesk.capture.engine.manager import EngineManager

log = logging.getLogger(__name__)

#: id → (module, class), in the order the UI lists them (local first).
_ADAPTERS: Mapping[str, tuple[str, str]] = {
    "local": ("shotdesk.capture.local", "LocalProvider"),
    "snapsharp": ("shotdesk.capture.providers.snapsharp", "SnapSharpProvider"),
    "screenshotone": ("shotdesk.capture.providers.screenshotone", "ScreenshotOneProvider"),
    "urlbox": ("shotdesk.capture.providers.urlbox", "UrlboxProvider"),
    "apiflash": ("shotdesk.capture.providers.apiflash", "ApiFlashProvider"),
    "hermes": ("shotdesk.capture.providers.hermes", "HermesProvider"),
    "snapapi": ("shotdesk.capture.providers.snapapi", "SnapApiProvider"),
    "jobapi": ("shotdesk.capture.providers.jobapi", "JobApiProvider"),
    "thumb": ("shotdesk.capture.providers.thumb", "ThumbProvider"),
    "custom": ("shotdesk.capture.providers.custom", "CustomProvider"),
}
PROVIDER_IDS: tuple[str, ...] = tuple(_ADAPTERS)

KeyLookup = Callable[[str], Awaitable[str | None]]


class SettingsLike(Protocol):
    """What the registry reads from :class:`shotdesk.core.settings.Settings`."""

    @property
    def provider_base_urls(self) -> Mapping[str, str]: ...

    @property
    def custom_providers(self) -> Mapping[str, Mapping[str, Any]]: ...


@dataclass(frozen=True)
class ProviderInfo:
    id: str
    label: str
    needs_key: bool
    default_base_url: str | None
    capabilities: Capabilities


_info_cache: dict[str, ProviderInfo] = {}


def provider_class(provider_id: str) -> type[Any]:
    """The adapter class of a built-in id, imported now; ``InvalidSpec("provider")`` if unknown."""
    pid = _norm(provider_id)
    if pid not in _ADAPTERS:
        raise InvalidSpec("provider", f"Unknown provider {provider_id!r}",
                          hint=f"choose one of: {', '.join(PROVIDER_IDS)}")
    module_name, class_name = _ADAPTERS[pid]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        raise InvalidSpec("provider", f"The {pid} provider is not available in this build") from None
    cls: type[Any] = getattr(module, class_name)
    return cls


def provider_info(provider_id: str, settings: SettingsLike | None = None) -> ProviderInfo:
    """Facts about one provider. With ``settings``, saved custom providers are known too."""
    pid = _norm(provider_id)
    if pid in _ADAPTERS and not (pid == "custom" and settings is not None and "custom" in
                                 settings.custom_providers):
        cached = _info_cache.get(pid)
        if cached is None:
            cls = provider_class(pid)
            cached = ProviderInfo(
                id=pid,
                label=str(getattr(cls, "label", pid)),
                needs_key=bool(getattr(cls, "needs_key", False)),
                default_base_url=getattr(cls, "default_base_url", None),
                capabilities=getattr(cls, "capabilities", None) or Capabilities(),
            )
            _info_cache[pid] = cached
        return cached
    name = _custom_name(pid, settings)
    if name is None or settings is None:
        raise InvalidSpec("provider", f"Unknown provider {provider_id!r}",
                          hint=f"choose one of: {', '.join(PROVIDER_IDS)}, or a saved custom provider")
    return _custom_info(pid, name, settings.custom_providers[name])


def provider_infos(settings: SettingsLike | None = None) -> list[ProviderInfo]:
    """Every available provider, local first; with ``settings`` also each saved custom provider."""
    out: list[ProviderInfo] = []
    for pid in PROVIDER_IDS:
        try:
            out.append(provider_info(pid, settings))
        except InvalidSpec as exc:
            log.warning("provider %s left out: %s", pid, exc)
    if settings is not None:
        for name in settings.custom_providers:
            if name == "custom" or _norm(name) in _ADAPTERS:
                continue
            try:
                out.append(_custom_info(_norm(name), name, settings.custom_providers[name]))
            except InvalidSpec as exc:
                log.warning("custom provider %s left out: %s", name, exc)
    return out


class ProviderRegistry:
    """One provider instance per id, created on first use and reused (HTTP pools stay warm)."""

    def __init__(self, settings: SettingsLike, *, key_lookup: KeyLookup | None = None,
                 engine: EngineManager | None = None) -> None:
        self._settings = settings
        self._key_lookup = key_lookup
        self._engine = engine
        self._instances: dict[str, Provider] = {}
        self._configs: dict[str, tuple[Any, ...]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._closed = False

    @property
    def settings(self) -> SettingsLike:
        return self._settings

    def info(self, provider_id: str) -> ProviderInfo:
        """Like :func:`provider_info`, knowing this registry's saved custom providers."""
        return provider_info(provider_id, self._settings)

    def infos(self) -> list[ProviderInfo]:
        return provider_infos(self._settings)

    async def get(self, provider_id: str) -> Provider:
        """The provider for ``provider_id``, created on first use.

        Raises ``InvalidSpec("provider")`` for an unknown id, ``InvalidSpec`` for a bad base URL or
        template, ``AuthError`` when a key is needed and none is stored.
        """
        if self._closed:
            raise ProviderUnavailable("Captures are shutting down", hint="start ShotDesk again")
        pid = _norm(provider_id)
        existing = self._instances.get(pid)
        if existing is not None:
            return existing
        lock = self._locks.setdefault(pid, asyncio.Lock())
        async with lock:
            existing = self._instances.get(pid)
            if existing is not None:
                return existing
            provider = await self._create(pid)
            if self._closed:
                await provider.aclose()
                raise ProviderUnavailable("Captures are shutting down", hint="start ShotDesk again")
            self._instances[pid] = provider
            self._configs[pid] = self._config(pid)
            return provider

    async def forget(self, provider_id: str) -> None:
        """Close and drop one provider (e.g. after its key changed); the next get() makes a new one."""
        pid = _norm(provider_id)
        provider = self._instances.pop(pid, None)
        self._configs.pop(pid, None)
        if provider is not None:
            await _close(pid, provider)

    async def update_settings(self, settings: SettingsLike) -> None:
        """Use new settings; providers whose base URL or template changed are recreated."""
        self._settings = settings
        for pid in list(self._instances):
            if self._configs.get(pid) != self._config(pid):
                await self.forget(pid)

    async def aclose(self) -> None:
        self._closed = True
        instances = list(self._instances.items())
        self._instances.clear()
        self._configs.clear()
        for pid, provider in instances:
            await _close(pid, provider)

    # ------------------------------------------------------------------ creation
    def _config(self, pid: str) -> tuple[Any, ...]:
        name = _custom_name(pid, self._settings) if pid not in _ADAPTERS or pid == "custom" else None
        template = self._settings.custom_providers.get(name) if name else None
        return (self._settings.provider_base_urls.get(pid), repr(template),
                getattr(self._settings, "engine_pool_size", None) if pid == "local" else None)

    async def _create(self, pid: str) -> Provider:
        info = self.info(pid)  # InvalidSpec for unknown ids
        if pid == "local":
            cls = provider_class("local")
            if self._engine is not None:
                return _as_provider(cls(engine=self._engine))
            pool = getattr(self._settings, "engine_pool_size", None)
            return _as_provider(cls(pool_size=pool) if isinstance(pool, int) else cls())
        base_url = self._settings.provider_base_urls.get(pid) or info.default_base_url
        key = await self._key(pid, info)
        if pid in _ADAPTERS and pid != "custom":
            cls = provider_class(pid)
            return _as_provider(cls(base_url=base_url, api_key=key))
        name = _custom_name(pid, self._settings)
        if name is None:
            raise InvalidSpec("template", "The custom provider has no request template",
                              hint="pass --template '…' (with --provider custom) or save one in Settings")
        cls = provider_class("custom")
        return _as_provider(cls(base_url=base_url, api_key=key, provider_id=pid,
                                template=dict(self._settings.custom_providers[name])))

    async def _key(self, pid: str, info: ProviderInfo) -> str | None:
        key: str | None = None
        if self._key_lookup is not None:
            try:
                key = await self._key_lookup(pid)
            except SecretStoreError as exc:
                if info.needs_key:
                    raise
                log.info("no key for %s (%s); going on without one", pid, exc.message)
        if info.needs_key and not key:
            raise AuthError(f"No API key for {info.label}",
                            hint=f"add it in Settings, or run `shotdesk key set {pid}`")
        return key or None


def _as_provider(obj: Any) -> Provider:
    if not isinstance(obj, Provider):
        raise TypeError(f"{type(obj).__name__} does not implement the Provider protocol")
    return obj


async def _close(pid: str, provider: Provider) -> None:
    try:
        await provider.aclose()
    except Exception:  # one broken provider must not keep the others open
        log.exception("closing provider %s failed", pid)


def _norm(provider_id: str) -> str:
    return str(provider_id or "").strip().lower()


def _custom_name(pid: str, settings: SettingsLike | None) -> str | None:
    """The ``custom_providers`` key that ``pid`` refers to, or None."""
    if settings is None:
        return None
    saved = settings.custom_providers
    lowered = {_norm(k): k for k in saved}
    if pid == "custom":
        return lowered.get("custom")
    if pid.startswith("custom:"):
        return lowered.get(pid.split(":", 1)[1])
    return lowered.get(pid)


def _custom_info(pid: str, name: str, data: Mapping[str, Any]) -> ProviderInfo:
    from shotdesk.capture.providers.custom import CustomTemplate

    template = CustomTemplate.from_dict(data)
    caps = template.capabilities()
    label = template.label if template.label != "Custom provider" else f"Custom: {name}"
    return ProviderInfo(id=pid, label=label, needs_key=caps.needs_key, default_base_url=None,
                        capabilities=caps)


__all__ = ["PROVIDER_IDS", "ProviderInfo", "ProviderRegistry", "SettingsLike", "provider_class",
           "provider_info", "provider_infos"]
