"""``shotdesk key set|delete|test|list``: provider API keys in the OS keyring, never on the command line.

* ``key set PROVIDER`` reads the key from a hidden prompt when stdin is a terminal, otherwise one
  line from stdin (``printf %s "$KEY" | shotdesk key set snapsharp``). There is deliberately no
  argument for the key: argv is visible to every user of the machine and lands in shell history.
* ``key delete PROVIDER`` removes the stored key (a key in the environment is left alone and
  reported).
* ``key test PROVIDER [--api-base URL]`` builds the provider through the registry and calls its
  usage endpoint where it has one (``async usage() -> dict[str, str]``), else its health check.
* ``key list [--json]`` shows which providers have a key and where it comes from — never the key.

Exit statuses: 0 done; 2 invalid input (unknown provider — the message lists the valid ids —,
empty key, ``local``, which needs no key); 3 the operation failed. ``key set`` without a usable
secure keyring exits 3 and says the key was *not* saved: the session-only fallback of
:mod:`shotdesk.services.secrets` is of no use to a process that ends right away, so the message
points to the keyring and to ``SHOTDESK_<ID>_KEY`` for scripts instead. ``key list`` exits 3 when
the keyring could not be read (locked): the answer would be incomplete.

``python -m shotdesk.cli.keys ACTION …`` runs these commands alone (same as ``shotdesk key``).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import getpass
import importlib
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from shotdesk.cli.main import EXIT_FAILED, EXIT_INVALID, EXIT_OK
from shotdesk.core.errors import InvalidSpec, SecretStoreError, ShotDeskError
from shotdesk.core.settings import Settings, load_settings
from shotdesk.services import secrets


@dataclass(frozen=True)
class _Provider:
    id: str
    label: str
    needs_key: bool


#: Used only while shotdesk.capture.registry is not installed (same ids as the BRIEF's registry).
_FALLBACK_PROVIDERS = (
    _Provider("local", "Local engine", False),
    _Provider("snapsharp", "SnapSharp", True),
    _Provider("screenshotone", "ScreenshotOne", True),
    _Provider("urlbox", "urlbox", True),
    _Provider("apiflash", "ApiFlash", True),
    _Provider("hermes", "Hermes screenshot API", True),
    _Provider("snapapi", "SnapAPI", True),
    _Provider("jobapi", "Job API (self-hosted)", False),
    _Provider("thumb", "Thumbnail service (self-hosted)", False),
    _Provider("custom", "Custom provider", False),
)

Handler = Callable[[argparse.Namespace], int]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "key", help="store, test and remove provider API keys (OS keyring)",
        description="Provider API keys live in the OS keyring (service ShotDesk), never in a file. "
                    "For scripts, SHOTDESK_<PROVIDER>_KEY (and SNAPSHARP_API_KEY, SCREENSHOT_API_KEY, "
                    "SNAPAPI_KEY) are read from the environment first. Exit status: 0 done, "
                    "2 invalid input, 3 failed.")
    actions = p.add_subparsers(dest="key_action", metavar="ACTION", parser_class=type(p))
    s = actions.add_parser("set", help="store a key: hidden prompt, or one line on stdin (never an argument)",
                           description="Store the key of PROVIDER in the OS keyring. The key is read "
                                       "from a hidden prompt, or from one line of stdin when it is "
                                       "not a terminal: printf %%s \"$KEY\" | shotdesk key set PROVIDER")
    s.add_argument("provider", metavar="PROVIDER")
    s.set_defaults(func=run_set)
    d = actions.add_parser("delete", help="remove the stored key")
    d.add_argument("provider", metavar="PROVIDER")
    d.set_defaults(func=run_delete)
    t = actions.add_parser("test", help="ask the provider for its usage/quota with the key")
    t.add_argument("provider", metavar="PROVIDER")
    t.add_argument("--api-base", metavar="URL", help="base URL of the provider (self-hosted or test server)")
    t.set_defaults(func=run_test)
    ls = actions.add_parser("list", help="which providers have a key and where it comes from")
    ls.add_argument("--json", action="store_true", help="print the list as JSON")
    ls.set_defaults(func=run_list)

    def usage(_args: argparse.Namespace) -> int:
        p.print_help(sys.stderr)
        return EXIT_INVALID

    p.set_defaults(func=usage)


def _reports_errors(func: Handler) -> Handler:
    """Print a ``ShotDeskError`` like the CLI root does and return its exit status."""

    @functools.wraps(func)
    def wrapper(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except ShotDeskError as exc:
            print(f"shotdesk: {exc}", file=sys.stderr)
            return exc.exit_code

    return wrapper


# ---------------------------------------------------------------------- providers

def _providers(settings: Settings | None = None) -> list[_Provider]:
    """The registry's providers (local first), then saved custom providers by name."""
    try:
        registry = importlib.import_module("shotdesk.capture.registry")
    except ModuleNotFoundError as exc:
        if exc.name != "shotdesk.capture.registry":
            raise
        found = list(_FALLBACK_PROVIDERS)
    else:
        found = [_Provider(i.id, i.label, i.needs_key) for i in registry.provider_infos()]
    known = {p.id for p in found}
    custom = (settings or load_settings()).custom_providers
    found += [_Provider(name, f"Custom provider {name}", False) for name in custom if name not in known]
    return found


def _resolve(text: str, settings: Settings | None = None) -> _Provider:
    providers = _providers(settings)
    valid = ", ".join(p.id for p in providers)
    try:
        pid = secrets.normalize_provider_id(text)
    except InvalidSpec:
        pid = ""
    for provider in providers:
        if provider.id == pid:
            if pid == "local":
                raise InvalidSpec("provider", "The local engine needs no key",
                                  hint=f"keys are for the hosted providers: {valid}")
            return provider
    raise InvalidSpec("provider", f"Unknown provider {text!r}", hint=f"valid providers: {valid}")


def _source_text(status: secrets.KeyStatus) -> str:
    if status.source == "env":
        return f"the environment ({status.env_var})"
    if status.source == "session":
        return "this session only"
    if status.source == "keyring":
        return "the keyring"
    return "nowhere"


# ---------------------------------------------------------------------- key set

def _read_key(label: str) -> str:
    stdin = sys.stdin
    if stdin is None:
        raise InvalidSpec("key", "No key given: there is no input to read it from",
                          hint="run in a terminal, or pipe the key on stdin")
    try:
        if stdin.isatty():
            return getpass.getpass(f"Key for {label} (typing is hidden): ")
        return stdin.readline()
    except EOFError:
        return ""


@_reports_errors
def run_set(args: argparse.Namespace) -> int:
    provider = _resolve(args.provider)
    key = _read_key(provider.label)
    if not key.strip():
        raise InvalidSpec("key", "No key given",
                          hint=f"type or paste it at the prompt, or pipe it: "
                               f"printf %s \"$KEY\" | shotdesk key set {provider.id}")
    try:
        asyncio.run(secrets.set_key(provider.id, key))
    except SecretStoreError as exc:
        env = secrets.env_var_names(provider.id)[0]
        reason = exc.reason if isinstance(exc, secrets.SessionOnlyKey) else exc.message
        print(f"shotdesk: the {provider.label} key was NOT saved: {reason}", file=sys.stderr)
        print(f"  install and unlock GNOME Keyring or KWallet (a Secret Service) and run "
              f"`shotdesk key set {provider.id}` again; for scripts, set {env} in the environment",
              file=sys.stderr)
        return EXIT_FAILED
    where = asyncio.run(secrets.keyring_name()) or "the keyring"
    print(f"Stored the {provider.label} key in the OS keyring ({where}).")
    status = asyncio.run(secrets.key_status(provider.id))
    if status.source == "env":
        print(f"note: {status.env_var} is set in the environment and is used before the stored key",
              file=sys.stderr)
    return EXIT_OK


# ---------------------------------------------------------------------- key delete

@_reports_errors
def run_delete(args: argparse.Namespace) -> int:
    provider = _resolve(args.provider)
    removed = asyncio.run(secrets.delete_key(provider.id))
    print(f"Deleted the stored {provider.label} key." if removed
          else f"No {provider.label} key was stored.")
    status = asyncio.run(secrets.key_status(provider.id))
    if status.source == "env":
        print(f"note: {status.env_var} in the environment still provides a {provider.label} key",
              file=sys.stderr)
    return EXIT_OK


# ---------------------------------------------------------------------- key test

def _make_registry(settings: Settings) -> Any:
    """The providers' registry with keys looked up through the keyring wrapper (tests replace this)."""
    try:
        registry = importlib.import_module("shotdesk.capture.registry")
    except ModuleNotFoundError as exc:
        if exc.name != "shotdesk.capture.registry":
            raise
        raise ShotDeskError("Cannot test keys: this ShotDesk has no provider registry "
                            "(shotdesk.capture.registry)", hint="update or reinstall ShotDesk") from None
    return registry.ProviderRegistry(settings, key_lookup=secrets.get_key)


def _mask(text: str, key: str | None) -> str:
    return text.replace(key, "***") if key and len(key) >= 4 else text


@_reports_errors
def run_test(args: argparse.Namespace) -> int:
    settings = load_settings()
    provider = _resolve(args.provider, settings)
    if args.api_base:
        settings.provider_base_urls[provider.id] = args.api_base
        settings.validate()
    return asyncio.run(_test(provider, settings))


async def _test(provider: _Provider, settings: Settings) -> int:
    status = await secrets.key_status(provider.id)
    if status.problem:
        raise SecretStoreError(status.problem,
                               hint="unlock the keyring (GNOME Keyring / KWallet) and try again")
    key = await secrets.get_key(provider.id) if status.source else None
    if key is None and provider.needs_key:
        print(f"shotdesk: no {provider.label} key is stored — set one with "
              f"`shotdesk key set {provider.id}` or {secrets.env_var_names(provider.id)[0]}", file=sys.stderr)
        return EXIT_FAILED
    print(f"{provider.label}: key from {_source_text(status)}" if key else f"{provider.label}: no key set")
    registry = _make_registry(settings)
    try:
        adapter = await registry.get(provider.id)
        usage = getattr(adapter, "usage", None)
        health = getattr(adapter, "health", None)
        if callable(usage):
            report: dict[str, str] = await usage()
            if report:
                print("The provider accepted the key. Usage:")
                for name, value in report.items():
                    print(_mask(f"  {name}: {value}", key))
            else:
                print("The provider accepted the key but reported no usage figures.")
        elif callable(health):
            print(f"{provider.label} has no usage endpoint; checking that it answers instead.")
            result = await health()
            for line in _health_lines(result):
                print(_mask(f"  {line}", key))
        else:
            print(f"{provider.label} has no usage endpoint and no health check: "
                  f"capture a page to try the key (shotdesk capture URL --provider {provider.id}).")
    finally:
        await registry.aclose()
    return EXIT_OK


def _health_lines(result: Any) -> list[str]:
    if isinstance(result, dict):
        return [f"{k}: {v}" for k, v in result.items()] or ["ok"]
    if isinstance(result, bool):
        return ["ok" if result else "not healthy"]
    return ["ok" if result is None else str(result)]


# ---------------------------------------------------------------------- key list

@_reports_errors
def run_list(args: argparse.Namespace) -> int:
    providers = _providers()

    async def gather() -> tuple[dict[str, secrets.KeyStatus], str | None]:
        statuses = await secrets.key_statuses([p.id for p in providers])
        return statuses, await secrets.keyring_problem()

    statuses, problem = asyncio.run(gather())
    rows = [(p, statuses[p.id]) for p in providers]
    if args.json:
        print(json.dumps([{
            "provider": p.id, "label": p.label, "needs_key": p.needs_key,
            "has_key": st.source is not None, "source": st.source, "env_var": st.env_var,
            "problem": st.problem,
        } for p, st in rows], indent=2))
    else:
        width = max(len(p.id) for p in providers)
        for p, st in rows:
            if st.problem:
                state = "unknown — the keyring could not be read"
            elif st.source:
                state = f"key from {_source_text(st)}"
            elif p.id == "local":
                state = "no key needed"
            else:
                state = "no key (needed)" if p.needs_key else "no key (optional)"
            print(f"{p.id:<{width}}  {state}")
    if problem:
        print(f"note: {problem}", file=sys.stderr)
    if any(st.problem for _p, st in rows):
        print("shotdesk: the keyring could not be read — unlock it (GNOME Keyring / KWallet) and try again",
              file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


# ---------------------------------------------------------------------- python -m shotdesk.cli.keys

def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="shotdesk")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["key", *(sys.argv[1:] if argv is None else argv)])
    func: Handler = args.func
    return func(args)


if __name__ == "__main__":
    raise SystemExit(main())
