"""The provider registry: static facts, instances from settings, keys, custom providers."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest

from shotdesk.capture.registry import PROVIDER_IDS, ProviderRegistry, provider_info, provider_infos
from shotdesk.core.errors import AuthError, InvalidSpec, ProviderUnavailable, SecretStoreError
from shotdesk.core.settings import Settings
from shotdesk.core.spec import CaptureSpec
from tests.helpers.images import open_image
from tests.http.jobserver import JobServer
from tests.http.server import ScriptedServer
from tests.http.test_thumb_custom import picture_handler

TOKEN = "registry-TOKEN-0a1b2c3d4e"


@dataclass
class LooseSettings:
    """Any object with the attributes the registry reads (SettingsLike)."""

    provider_base_urls: dict[str, str] = field(default_factory=dict)
    custom_providers: dict[str, dict[str, Any]] = field(default_factory=dict)


def test_provider_infos_lists_every_provider_local_first():
    infos = provider_infos()
    assert [i.id for i in infos] == list(PROVIDER_IDS)
    assert infos[0].id == "local" and not infos[0].needs_key
    by_id = {i.id: i for i in infos}
    assert by_id["snapsharp"].needs_key and (by_id["snapsharp"].default_base_url or "").startswith("https://")
    assert by_id["jobapi"].default_base_url is None
    assert by_id["thumb"].capabilities.formats == frozenset({"png"})
    assert "delay_ms" not in by_id["jobapi"].capabilities.options


def test_unknown_provider_is_an_invalid_spec():
    with pytest.raises(InvalidSpec) as info:
        provider_info("nosuch")
    assert info.value.field == "provider"
    assert "snapsharp" in info.value.hint


def test_missing_key_is_an_auth_error_naming_the_command():
    async def lookup(pid: str) -> str | None:
        return None

    async def main():
        registry = ProviderRegistry(Settings(), key_lookup=lookup)
        try:
            with pytest.raises(AuthError) as info:
                await registry.get("snapsharp")
        finally:
            await registry.aclose()
        return info.value

    err = asyncio.run(main())
    assert err.message == "No API key for SnapSharp"
    assert "shotdesk key set snapsharp" in err.hint


def test_jobapi_from_settings_with_key_lookup_and_reuse():
    asked: list[str] = []

    async def lookup(pid: str) -> str | None:
        asked.append(pid)
        return TOKEN

    async def main():
        async with JobServer(token=TOKEN) as srv, JobServer() as other:
            settings = Settings(provider_base_urls={"jobapi": srv.base_url})
            registry = ProviderRegistry(settings, key_lookup=lookup)
            try:
                provider = await registry.get("JobAPI")
                again = await registry.get("jobapi")
                result = await provider.capture(CaptureSpec(url="https://example.org", provider="jobapi"))
                await registry.update_settings(Settings(provider_base_urls={"jobapi": other.base_url}))
                moved = await registry.get("jobapi")
            finally:
                await registry.aclose()
            return provider, again, moved, result

    provider, again, moved, result = asyncio.run(main())
    assert provider is again and moved is not provider
    assert asked == ["jobapi", "jobapi"]
    assert open_image(result.data).size == (64, 48)


def test_jobapi_without_base_url_asks_for_one():
    async def main():
        registry = ProviderRegistry(Settings())
        try:
            with pytest.raises(InvalidSpec) as info:
                await registry.get("jobapi")
        finally:
            await registry.aclose()
        return info.value

    assert "Set the address (base URL) of Job API" in str(asyncio.run(main()))


def test_plain_http_base_url_to_a_remote_host_is_refused():
    async def main():
        registry = ProviderRegistry(LooseSettings(provider_base_urls={"thumb": "http://thumbs.example.com"}))
        try:
            with pytest.raises(InvalidSpec) as info:
                await registry.get("thumb")
        finally:
            await registry.aclose()
        return info.value

    assert "Plain http://" in str(asyncio.run(main()))


def test_keyring_trouble_does_not_block_providers_that_need_no_key():
    async def broken(pid: str) -> str | None:
        raise SecretStoreError("no keyring backend")

    async def main():
        async with ScriptedServer() as srv:
            srv.route("GET", "/thumb", picture_handler())
            registry = ProviderRegistry(LooseSettings(provider_base_urls={"thumb": srv.base_url}),
                                        key_lookup=broken)
            try:
                provider = await registry.get("thumb")
                return await provider.capture(CaptureSpec(url="https://example.org", provider="thumb"))
            finally:
                await registry.aclose()

    assert asyncio.run(main()).width == 40


def test_custom_providers_from_settings_by_name():
    async def main():
        async with ScriptedServer() as srv:
            srv.route("GET", "/a", picture_handler())
            srv.route("POST", "/b", picture_handler())
            settings = Settings(custom_providers={
                "custom": {"template": f"GET {srv.base_url}/a?u={{url}}&w={{width}}"},
                "my-shots": {"url": f"{srv.base_url}/b", "method": "POST",
                             "body": {"u": "{url}", "d": "{delay_ms}"}, "label": "My shots"},
            })
            registry = ProviderRegistry(settings)
            try:
                infos = {i.id: i for i in registry.infos()}
                one = await (await registry.get("custom")).capture(
                    CaptureSpec(url="https://example.org", provider="custom", width=800))
                two = await (await registry.get("my-shots")).capture(
                    CaptureSpec(url="https://example.org", provider="my-shots", delay_ms=300))
                same = await registry.get("custom:my-shots")
            finally:
                await registry.aclose()
            return infos, one, two, same, srv

    infos, one, two, same, srv = asyncio.run(main())
    assert infos["my-shots"].label == "My shots"
    assert infos["my-shots"].capabilities.options == frozenset({"delay_ms"})
    assert "delay_ms" not in infos["custom"].capabilities.options
    assert one.provider == "custom" and two.provider == "my-shots" and same.id == "custom:my-shots"
    assert [s.path for s in srv.seen] == ["/a", "/b"]
    assert srv.seen[0].query["w"] == "800"


def test_custom_without_a_template_says_how_to_give_one():
    async def main():
        registry = ProviderRegistry(Settings())
        try:
            with pytest.raises(InvalidSpec) as info:
                await registry.get("custom")
        finally:
            await registry.aclose()
        return info.value

    assert "--template" in str(asyncio.run(main()))


def test_closed_registry_refuses_new_providers():
    async def main():
        registry = ProviderRegistry(Settings())
        await registry.aclose()
        with pytest.raises(ProviderUnavailable):
            await registry.get("thumb")

    asyncio.run(main())
