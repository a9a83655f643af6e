"""SettingsService: preferences and API keys for the window, off the GUI thread.

* Preferences: :func:`shotdesk.core.settings.load_settings` / ``save_settings`` (a JSON file, no
  key ever) in a worker thread; ``settings_changed(settings)`` after a save.
* Keys: only through :mod:`shotdesk.services.secrets` (the OS keyring; a session store when there
  is none). ``keys_changed(states)`` with ``provider id → key available?``.
* Test: a throw-away provider built with the base URL and key being edited (the typed key, or the
  stored one) asks the provider's usage endpoint, so a key can be checked before it is saved.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from PySide6.QtCore import QObject, Signal

from shotdesk.core.errors import ShotDeskError
from shotdesk.core.settings import Settings, load_settings, save_settings
from shotdesk.services import secrets

log = logging.getLogger(__name__)


class SettingsService(QObject):
    settings_changed = Signal(object)  # Settings
    keys_changed = Signal(dict)  # provider id -> bool

    def __init__(self, settings: Settings | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._settings = settings if settings is not None else Settings()

    @property
    def settings(self) -> Settings:
        return self._settings

    # ------------------------------------------------------------------ preferences
    async def load(self) -> Settings:
        self._settings = await asyncio.to_thread(load_settings)
        return self._settings

    async def save(self, settings: Settings) -> None:
        """Validate and write ``settings``; raises ``InvalidSpec``/``StorageError`` with a message."""
        await asyncio.to_thread(save_settings, settings)
        self._settings = settings
        self.settings_changed.emit(settings)

    async def remember_url(self, url: str) -> None:
        self._settings.remember_url(url)
        try:
            await asyncio.to_thread(save_settings, self._settings)
        except ShotDeskError as exc:
            log.warning("could not save the URL history: %s", exc)

    # ------------------------------------------------------------------ keys
    async def key_states(self, provider_ids: Iterable[str]) -> dict[str, bool]:
        try:
            statuses = await secrets.key_statuses(list(provider_ids))
        except ShotDeskError as exc:
            log.warning("could not read key states: %s", exc)
            return {}
        return {pid: status.source is not None for pid, status in statuses.items()}

    async def key_sources(self, provider_ids: Iterable[str]) -> dict[str, str | None]:
        statuses = await secrets.key_statuses(list(provider_ids))
        return {pid: status.source for pid, status in statuses.items()}

    async def set_key(self, provider_id: str, key: str) -> None:
        """Store ``key``; a missing keyring raises ``SecretStoreError`` (key kept for the session)."""
        try:
            await secrets.set_key(provider_id, key)
        finally:
            self.keys_changed.emit(await self.key_states([provider_id]))

    async def delete_key(self, provider_id: str) -> bool:
        removed = await secrets.delete_key(provider_id)
        self.keys_changed.emit(await self.key_states([provider_id]))
        return removed

    async def keyring_problem(self) -> str | None:
        return await secrets.keyring_problem()

    async def test_provider(self, provider_id: str, *, base_url: str | None = None,
                            key: str | None = None) -> dict[str, str]:
        """Ask the provider's usage endpoint with these credentials; raises ``ShotDeskError``."""
        from shotdesk.capture.registry import ProviderRegistry

        settings = Settings(**{**_plain(self._settings), "provider_base_urls": {
            **self._settings.provider_base_urls, **({provider_id: base_url} if base_url else {})}})

        async def lookup(pid: str) -> str | None:
            if pid == provider_id and key:
                return key
            return await secrets.get_key(pid)

        registry = ProviderRegistry(settings, key_lookup=lookup)
        try:
            provider = await registry.get(provider_id)
            usage = getattr(provider, "usage", None)
            if usage is None:
                return {"status": f"{provider_id} is ready (it reports no usage)"}
            result: Mapping[str, Any] = await usage()
            return {str(k): str(v) for k, v in result.items()}
        finally:
            await registry.aclose()


def _plain(settings: Settings) -> dict[str, Any]:
    data = settings.to_dict()
    data.pop("schema_version", None)
    return {k: v for k, v in data.items() if k in Settings.__dataclass_fields__}
