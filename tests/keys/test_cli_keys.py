"""``shotdesk key …``: keys from stdin or a hidden prompt (never argv), listed without the key."""

from __future__ import annotations

import argparse
import getpass
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import keyring
import keyring.backends.fail
import keyring.errors
import pytest

from shotdesk.cli import keys
from shotdesk.core.errors import AuthError
from shotdesk.core.settings import Settings, save_settings
from tests.keys.conftest import MemoryKeyring

KEY = "sk_live_CliKeyThatMustNeverShow_7"
REPO = Path(__file__).parents[2]


class FakeStdin(io.StringIO):
    def __init__(self, text: str, *, tty: bool = False) -> None:
        super().__init__(text)
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def shotdesk(*argv: str, stdin: str = "", tty: bool = False,
             monkeypatch: pytest.MonkeyPatch) -> int:
    """Parse like ``shotdesk key …`` (the root parser only adds --verbose) and run the handler."""
    parser = argparse.ArgumentParser(prog="shotdesk")
    keys.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(list(argv))
    monkeypatch.setattr(sys, "stdin", FakeStdin(stdin, tty=tty))
    result: int = args.func(args)
    return result


def written_files(dirs: dict[str, Path]) -> list[Path]:
    return [p for d in dirs.values() for p in d.rglob("*") if p.is_file()]


def test_set_from_stdin_then_list_never_shows_the_key(memory_keyring: MemoryKeyring, monkeypatch,
                                                     capsys, isolated_dirs):
    save_settings(Settings(default_provider="snapsharp"))  # a settings file exists to be searched
    assert shotdesk("key", "set", "snapsharp", stdin=KEY + "\n", monkeypatch=monkeypatch) == 0
    out, err = capsys.readouterr()
    assert "Stored the SnapSharp key in the OS keyring" in out
    assert memory_keyring.entries == {("ShotDesk", "snapsharp"): KEY}

    assert shotdesk("key", "list", monkeypatch=monkeypatch) == 0
    out2, err2 = capsys.readouterr()
    lines = {line.split()[0]: line for line in out2.splitlines()}
    assert "key from the keyring" in lines["snapsharp"]
    assert "no key (needed)" in lines["urlbox"]
    assert "no key needed" in lines["local"]

    assert shotdesk("key", "list", "--json", monkeypatch=monkeypatch) == 0
    out3, err3 = capsys.readouterr()
    rows = {row["provider"]: row for row in json.loads(out3)}
    assert rows["snapsharp"]["has_key"] is True and rows["snapsharp"]["source"] == "keyring"
    assert rows["hermes"]["has_key"] is False

    for text in (out, err, out2, err2, out3, err3):
        assert KEY not in text
    files = written_files(isolated_dirs)
    assert files  # settings.json at least
    for path in files:
        assert KEY.encode() not in path.read_bytes(), path


def test_set_prompts_hidden_when_stdin_is_a_terminal(memory_keyring: MemoryKeyring, monkeypatch, capsys):
    prompts: list[str] = []

    def fake_getpass(prompt: str = "") -> str:
        prompts.append(prompt)
        return KEY

    monkeypatch.setattr(getpass, "getpass", fake_getpass)
    assert shotdesk("key", "set", "hermes", stdin="not-this-line\n", tty=True, monkeypatch=monkeypatch) == 0
    assert len(prompts) == 1 and "hidden" in prompts[0] and KEY not in prompts[0]
    assert memory_keyring.entries[("ShotDesk", "hermes")] == KEY
    assert KEY not in "".join(capsys.readouterr())


def test_the_key_cannot_be_given_as_an_argument(monkeypatch, capsys):
    with pytest.raises(SystemExit) as info:
        shotdesk("key", "set", "snapsharp", KEY, monkeypatch=monkeypatch)
    assert info.value.code == 2
    assert "unrecognized arguments" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [("key", "set", "nosuch"), ("key", "delete", "nosuch"),
                                  ("key", "test", "nosuch")])
def test_unknown_provider_exits_2_listing_valid_ids(argv: tuple[str, ...], monkeypatch, capsys):
    assert shotdesk(*argv, stdin=KEY, monkeypatch=monkeypatch) == 2
    err = capsys.readouterr().err
    assert "Unknown provider 'nosuch'" in err
    for pid in ("snapsharp", "screenshotone", "urlbox", "apiflash", "hermes", "snapapi"):
        assert pid in err


def test_saved_custom_provider_names_are_valid(memory_keyring: MemoryKeyring, monkeypatch):
    save_settings(Settings(custom_providers={"my-shots": {"template": "https://s.example/?u={url}",
                                                          "auth_header": "X-Key"}}))
    assert shotdesk("key", "set", "my-shots", stdin=KEY, monkeypatch=monkeypatch) == 0
    assert memory_keyring.entries == {("ShotDesk", "my-shots"): KEY}


@pytest.mark.parametrize(("argv", "stdin", "text"), [
    (("key", "set", "local"), KEY, "The local engine needs no key"),
    (("key", "set", "urlbox"), "", "No key given"),
    (("key", "set", "urlbox"), "\n", "No key given"),
])
def test_invalid_input_exits_2(argv, stdin, text, memory_keyring: MemoryKeyring, monkeypatch, capsys):
    assert shotdesk(*argv, stdin=stdin, monkeypatch=monkeypatch) == 2
    assert text in capsys.readouterr().err
    assert memory_keyring.entries == {}


def test_set_without_a_secure_keyring_exits_3_and_says_not_saved(monkeypatch, capsys):
    keyring.set_keyring(keyring.backends.fail.Keyring())
    assert shotdesk("key", "set", "urlbox", stdin=KEY, monkeypatch=monkeypatch) == 3
    out, err = capsys.readouterr()
    assert "the urlbox key was NOT saved: no secure keyring is available" in err
    assert "GNOME Keyring or KWallet" in err and "SHOTDESK_URLBOX_KEY" in err
    assert KEY not in out + err


def test_set_into_a_locked_keyring_exits_3(memory_keyring: MemoryKeyring, monkeypatch, capsys):
    memory_keyring.fail_with = keyring.errors.KeyringLocked("Failed to unlock the collection!")
    assert shotdesk("key", "set", "urlbox", stdin=KEY, monkeypatch=monkeypatch) == 3
    err = capsys.readouterr().err
    assert "NOT saved: could not store the urlbox key in the keyring (KeyringLocked" in err


def test_delete_and_environment_notes(memory_keyring: MemoryKeyring, monkeypatch, capsys):
    memory_keyring.entries[("ShotDesk", "snapapi")] = KEY
    monkeypatch.setenv("SNAPAPI_KEY", "from-env")
    assert shotdesk("key", "delete", "snapapi", monkeypatch=monkeypatch) == 0
    out, err = capsys.readouterr()
    assert "Deleted the stored SnapAPI key." in out
    assert "SNAPAPI_KEY in the environment still provides" in err
    assert memory_keyring.entries == {}
    assert shotdesk("key", "delete", "snapapi", monkeypatch=monkeypatch) == 0
    assert "No SnapAPI key was stored." in capsys.readouterr().out

    assert shotdesk("key", "list", monkeypatch=monkeypatch) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("snapapi"))
    assert "key from the environment (SNAPAPI_KEY)" in line and "from-env" not in line


def test_list_with_a_locked_keyring_exits_3(memory_keyring: MemoryKeyring, monkeypatch, capsys):
    memory_keyring.fail_with = keyring.errors.KeyringLocked("locked")
    assert shotdesk("key", "list", monkeypatch=monkeypatch) == 3
    out, err = capsys.readouterr()
    assert "unknown — the keyring could not be read" in out
    assert "unlock it" in err


# ---------------------------------------------------------------------- key test

class FakeAdapter:
    def __init__(self, *, usage: dict[str, str] | None = None, health: Any = None) -> None:
        if usage is not None:
            async def usage_call() -> dict[str, str]:
                return usage
            self.usage = usage_call
        if health is not None:
            async def health_call() -> Any:
                return health
            self.health = health_call


class FakeRegistry:
    def __init__(self, settings: Settings, adapter: FakeAdapter | Exception) -> None:
        self.settings = settings
        self.adapter = adapter
        self.asked: list[str] = []
        self.closed = False

    async def get(self, provider_id: str) -> FakeAdapter:
        self.asked.append(provider_id)
        if isinstance(self.adapter, Exception):
            raise self.adapter
        return self.adapter

    async def aclose(self) -> None:
        self.closed = True


@pytest.fixture
def registry(monkeypatch):
    made: list[FakeRegistry] = []
    box: dict[str, FakeAdapter | Exception] = {}

    def make(settings: Settings) -> FakeRegistry:
        made.append(FakeRegistry(settings, box["adapter"]))
        return made[-1]

    monkeypatch.setattr(keys, "_make_registry", make)
    return box, made


def test_key_test_prints_the_usage_report(registry, memory_keyring: MemoryKeyring, monkeypatch, capsys):
    box, made = registry
    box["adapter"] = FakeAdapter(usage={"plan": "pro", "used": "12", "limit": "5000", "echo": f"k={KEY}"})
    memory_keyring.entries[("ShotDesk", "snapsharp")] = KEY
    assert shotdesk("key", "test", "snapsharp", "--api-base", "http://127.0.0.1:9999",
                    monkeypatch=monkeypatch) == 0
    out, err = capsys.readouterr()
    assert "SnapSharp: key from the keyring" in out
    assert "The provider accepted the key. Usage:" in out
    assert "  plan: pro" in out and "  used: 12" in out and "  limit: 5000" in out
    assert "  echo: k=***" in out and KEY not in out + err  # even an echoed key is masked
    assert made[0].asked == ["snapsharp"] and made[0].closed
    assert made[0].settings.base_url("snapsharp") == "http://127.0.0.1:9999"


def test_key_test_without_usage_endpoint_does_a_health_check(registry, memory_keyring: MemoryKeyring,
                                                            monkeypatch, capsys):
    box, made = registry
    box["adapter"] = FakeAdapter(health={"ok": True, "version": "1.2"})
    memory_keyring.entries[("ShotDesk", "hermes")] = KEY
    assert shotdesk("key", "test", "hermes", monkeypatch=monkeypatch) == 0
    out = capsys.readouterr().out
    assert "has no usage endpoint; checking that it answers instead." in out
    assert "  ok: True" in out and "  version: 1.2" in out and made[0].closed


def test_key_test_with_neither_says_so(registry, memory_keyring: MemoryKeyring, monkeypatch, capsys):
    box, _made = registry
    box["adapter"] = FakeAdapter()
    memory_keyring.entries[("ShotDesk", "apiflash")] = KEY
    assert shotdesk("key", "test", "apiflash", monkeypatch=monkeypatch) == 0
    assert "has no usage endpoint and no health check" in capsys.readouterr().out


def test_key_test_without_a_key_exits_3(registry, monkeypatch, capsys):
    box, made = registry
    box["adapter"] = FakeAdapter(usage={})
    assert shotdesk("key", "test", "urlbox", monkeypatch=monkeypatch) == 3
    assert "no urlbox key is stored" in capsys.readouterr().err
    assert made == []  # nothing was sent anywhere


def test_key_test_rejected_key_exits_3_with_the_providers_message(registry, memory_keyring: MemoryKeyring,
                                                                 monkeypatch, capsys):
    box, made = registry
    box["adapter"] = AuthError("SnapSharp rejected the API key (401)")
    memory_keyring.entries[("ShotDesk", "snapsharp")] = KEY
    assert shotdesk("key", "test", "snapsharp", monkeypatch=monkeypatch) == 3
    err = capsys.readouterr().err
    assert "SnapSharp rejected the API key (401)" in err and "check your API key" in err
    assert made[0].closed


# ---------------------------------------------------------------------- the module entry point

def test_python_m_entry_reads_stdin_and_never_echoes_the_key(isolated_dirs):
    """A real process, key piped on stdin; keyring forced to 'none' so the result is deterministic."""
    env = {**os.environ, "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
           **{f"XDG_{k.upper()}_HOME": str(v) for k, v in isolated_dirs.items()}}
    proc = subprocess.run([sys.executable, "-m", "shotdesk.cli.keys", "set", "snapsharp"], input=KEY + "\n",
                          env=env, cwd=REPO, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 3, proc.stderr
    assert "the SnapSharp key was NOT saved" in proc.stderr
    assert KEY not in proc.stdout + proc.stderr
    assert written_files(isolated_dirs) == []
