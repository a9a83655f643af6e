"""Review: an engine start that is cancelled or answers garbage leaves no process behind."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
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


def read_pid(pid_file: Path) -> int:
    return int(pid_file.read_text().strip())


def is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0); a reaped process does not
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split(") ", 1)[1][0] != "Z"


def kill_quietly(pid: int) -> None:
    with contextlib.suppress(OSError):
        os.kill(pid, signal.SIGKILL)


def test_cancelling_a_start_stops_the_half_started_engine(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    python = fake_python(tmp_path, f"echo $$ > {pid_file}; exec sleep 30")

    async def main() -> int:
        manager = EngineManager(python=python, startup_timeout_s=20)
        task = asyncio.create_task(manager.endpoint(False))
        for _ in range(500):  # bounded: ≤ 5 s for the script to write its pid
            await asyncio.sleep(0.01)
            if pid_file.exists() and pid_file.read_text().strip():
                break
        pid = read_pid(pid_file)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await manager.aclose()
        return pid

    pid = asyncio.run(main())
    try:
        assert not is_alive(pid)
    finally:
        kill_quietly(pid)


def test_garbled_ready_line_is_engine_crashed_and_stops_the_process(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    python = fake_python(tmp_path, f"echo $$ > {pid_file}; echo 'SHOTDESK-ENGINE {{not json'; "
                                   "exec sleep 30")

    async def main() -> EngineCrashed:
        manager = EngineManager(python=python, startup_timeout_s=20)
        try:
            with pytest.raises(EngineCrashed) as info:
                await manager.endpoint(False)
            return info.value
        finally:
            await manager.aclose()

    error = asyncio.run(main())
    pid = read_pid(pid_file)
    try:
        assert "could not be understood" in error.message
        assert not is_alive(pid)
    finally:
        kill_quietly(pid)
