"""EngineManager start-up failures: a clear EngineCrashed instead of a hang (no Qt, fast)."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path

import pytest

from shotdesk.capture.engine.manager import EngineManager
from shotdesk.core.errors import EngineCrashed


def fake_python(tmp_path: Path, body: str) -> str:
    script = tmp_path / "fake-python"
    script.write_text("#!/bin/sh\n" + body + "\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


def start(manager: EngineManager) -> EngineCrashed:
    async def main() -> EngineCrashed:
        try:
            with pytest.raises(EngineCrashed) as info:
                await manager.endpoint(False)
            return info.value
        finally:
            await manager.aclose()

    return asyncio.run(main())


def test_engine_that_exits_while_starting_says_so_with_its_last_words(tmp_path):
    last_words = "ImportError: libEGL.so.1: cannot open shared object file"
    python = fake_python(tmp_path, f"echo 'noise' >&2; echo '{last_words}' >&2; exit 3")
    error = start(EngineManager(python=python))
    assert error.message == ("The local engine stopped while starting (exit status 3): "
                             "ImportError: libEGL.so.1: cannot open shared object file")
    assert "shotdesk serve" in error.hint


def test_engine_that_never_gets_ready_times_out_with_a_clear_message(tmp_path):
    python = fake_python(tmp_path, "exec sleep 30")
    error = start(EngineManager(python=python, startup_timeout_s=1))
    assert error.message == "The local engine did not start within 1 s"
    assert "try again" in error.hint


def test_missing_python_is_a_clear_error(tmp_path):
    error = start(EngineManager(python=str(tmp_path / "no-such-python")))
    assert error.message.startswith("The local engine could not be started")
