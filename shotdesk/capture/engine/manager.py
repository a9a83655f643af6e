"""EngineManager: starts, keeps warm, restarts and stops the local engine processes. No Qt here.

One process per colour scheme (``prefers-color-scheme: dark`` needs a process-wide Chromium
switch): the light engine starts on the first capture, the dark one on the first dark capture.
Each process runs ``python -m shotdesk.capture.engine.serve`` on 127.0.0.1 with a random port
and a per-run token (passed in the environment, not on the command line where ``ps`` shows it),
and exits by itself when this process goes away (its stdin closes).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import signal
import sys
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from shotdesk.core.errors import EngineCrashed

log = logging.getLogger(__name__)

READY_PREFIX = "SHOTDESK-ENGINE "  # same as serve.READY_PREFIX (serve imports Qt; this must not)
TOKEN_ENV = "SHOTDESK_ENGINE_TOKEN"
DARK_SWITCH = "--blink-settings=preferredColorScheme=0"
#: Environment variables that would change the engine's pixel sizes or platform.
_SCRUBBED_ENV = ("QT_SCALE_FACTOR", "QT_SCREEN_SCALE_FACTORS", "QT_AUTO_SCREEN_SCALE_FACTOR",
                 "QT_ENABLE_HIGHDPI_SCALING", "QT_QUICK_BACKEND", "QTWEBENGINE_CHROMIUM_FLAGS", TOKEN_ENV)
#: Chromium's usual noise on a machine without GPU/D-Bus; left out of error messages.
_NOISE = ("QRhi", "RHI", "Vulkan", "GBM", "dbus", "bus.cc", "GPUInfo", "libva", "Fontconfig",
          "QVulkanInstance", "createPlatformVulkanInstance")
_PACKAGE_PARENT = str(Path(__file__).resolve().parents[3])


@dataclass
class _Engine:
    dark: bool
    process: asyncio.subprocess.Process
    token: str
    port: int = 0
    stderr_tail: deque[str] = field(default_factory=lambda: deque(maxlen=40))
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    stdout_closed: bool = False
    started_at: float = field(default_factory=time.monotonic)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self.process.returncode is None and not self.stdout_closed

    def last_error(self) -> str:
        lines = [ln for ln in self.stderr_tail if ln.strip() and not any(n in ln for n in _NOISE)]
        return lines[-1].strip() if lines else ""


class EngineManager:
    """Lazily started engine processes, one per colour scheme.

    ``chromium_args`` go to Chromium after ``--webEngineArgs`` (tests map host names with
    ``--host-resolver-rules``); ``block_hosts`` extend the ad/tracker list.
    """

    def __init__(self, pool_size: int = 2, *, startup_timeout_s: float = 60.0, python: str | None = None,
                 chromium_args: Sequence[str] = (), block_hosts: Sequence[str] = (),
                 env: Mapping[str, str] | None = None) -> None:
        self.pool_size = max(1, int(pool_size))
        self.startup_timeout_s = startup_timeout_s
        self.python = python or sys.executable
        self.chromium_args = tuple(chromium_args)
        self.block_hosts = tuple(block_hosts)
        self._env = dict(env) if env is not None else None
        self._engines: dict[bool, _Engine] = {}
        self._locks: dict[bool, asyncio.Lock] = {}
        self._closed = False
        #: How many engine processes were started (restarts included).
        self.starts = 0
        #: Each engine leads its own process group (POSIX), so its helpers can be cleaned up.
        self._own_group = sys.platform != "win32" and hasattr(os, "killpg")

    # ------------------------------------------------------------------ public API
    async def endpoint(self, dark: bool = False) -> tuple[str, str]:
        """``(base_url, token)`` of the running engine for the scheme, starting it if needed."""
        if self._closed:
            raise EngineCrashed("The local engine has been shut down", hint="restart ShotDesk")
        lock = self._locks.setdefault(dark, asyncio.Lock())
        async with lock:
            engine = self._engines.get(dark)
            if engine is not None and not engine.alive:
                log.warning("local %s engine (pid %s) stopped (exit %s); restarting",
                            _scheme(dark), engine.process.pid, engine.process.returncode)
                await self._discard(engine)
                engine = None
            if engine is None:
                engine = await self._start(dark)
                self._engines[dark] = engine
            return engine.base_url, engine.token

    def is_running(self, dark: bool = False) -> bool:
        engine = self._engines.get(dark)
        return engine is not None and engine.alive

    def pid(self, dark: bool = False) -> int | None:
        engine = self._engines.get(dark)
        return engine.process.pid if engine is not None and engine.alive else None

    async def died(self, dark: bool = False, *, within_s: float = 1.0) -> bool:
        """True when the engine for the scheme has stopped (waiting up to ``within_s`` for a process
        that is going down to be reaped). Used to tell an engine crash from other failures."""
        engine = self._engines.get(dark)
        if engine is None:
            return False
        if not engine.alive:
            return True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(engine.process.wait()), within_s)
        return not engine.alive

    async def stop(self, dark: bool = False) -> None:
        engine = self._engines.pop(dark, None)
        if engine is not None:
            await self._discard(engine)

    async def aclose(self) -> None:
        """Stop every engine process (SIGTERM, then SIGKILL after 5 s)."""
        self._closed = True
        engines = list(self._engines.values())
        self._engines.clear()
        await asyncio.gather(*(self._discard(e) for e in engines), return_exceptions=True)

    # ------------------------------------------------------------------ processes
    def _command(self, dark: bool) -> list[str]:
        cmd = [self.python, "-m", "shotdesk.capture.engine.serve", "--host", "127.0.0.1", "--port", "0",
               "--pool", str(self.pool_size), "--parent-stdin"]
        if dark:
            cmd.append("--dark")
        for host in self.block_hosts:
            cmd += ["--block-host", host]
        if self.chromium_args:
            cmd += ["--webEngineArgs", *self.chromium_args]
        return cmd

    def _environment(self, dark: bool, token: str) -> dict[str, str]:
        env = dict(os.environ if self._env is None else self._env)
        for name in _SCRUBBED_ENV:
            env.pop(name, None)
        env["QT_QPA_PLATFORM"] = "offscreen"
        env[TOKEN_ENV] = token
        flags = []
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            flags.append("--no-sandbox")  # Chromium's sandbox refuses root
        if dark:
            flags.append(DARK_SWITCH)
        if flags:
            env["QTWEBENGINE_CHROMIUM_FLAGS"] = " ".join(flags)
        path = env.get("PYTHONPATH")
        env["PYTHONPATH"] = _PACKAGE_PARENT + (os.pathsep + path if path else "")
        env.setdefault("PYTHONUNBUFFERED", "1")
        return env

    async def _start(self, dark: bool) -> _Engine:
        token = secrets.token_urlsafe(24)
        started = time.monotonic()
        try:
            process = await asyncio.create_subprocess_exec(
                *self._command(dark), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE, env=self._environment(dark, token),
                start_new_session=self._own_group)
        except OSError as exc:
            raise EngineCrashed(f"The local engine could not be started ({exc.strerror or exc})",
                                hint=f"check the Python at {self.python}") from None
        engine = _Engine(dark=dark, process=process, token=token)
        self.starts += 1
        assert process.stderr is not None and process.stdout is not None
        engine.tasks.append(asyncio.ensure_future(_drain(process.stderr, engine.stderr_tail)))
        try:
            info = await asyncio.wait_for(self._ready(engine), self.startup_timeout_s)
        except TimeoutError:
            await self._discard(engine)
            raise EngineCrashed(
                f"The local engine did not start within {self.startup_timeout_s:g} s",
                hint="the machine may be very busy; try again, or run `shotdesk serve` to see its output"
            ) from None
        except BaseException:  # EngineCrashed, and a cancelled start: no half-started process left
            await asyncio.shield(self._discard(engine))
            raise
        engine.port = int(info["port"])
        engine.tasks.append(asyncio.ensure_future(self._watch_stdout(engine)))
        log.info("local %s engine started: pid %s, port %s, %.1f s", _scheme(dark), process.pid,
                 engine.port, time.monotonic() - started)
        return engine

    async def _ready(self, engine: _Engine) -> dict[str, int]:
        stdout = engine.process.stdout
        assert stdout is not None
        while True:
            line = await stdout.readline()
            if not line:
                code = await engine.process.wait()
                await asyncio.sleep(0.05)  # let the stderr reader catch the last lines
                detail = engine.last_error()
                raise EngineCrashed(
                    f"The local engine stopped while starting (exit status {code})"
                    + (f": {detail}" if detail else ""),
                    hint="run `shotdesk serve` to see its full output; QtWebEngine needs its system "
                         "libraries (see the README)")
            text = line.decode("utf-8", "replace").strip()
            if text.startswith(READY_PREFIX):
                try:
                    return {"port": int(json.loads(text[len(READY_PREFIX):])["port"])}
                except (ValueError, KeyError, TypeError):
                    raise EngineCrashed(
                        "The local engine's start-up message could not be understood",
                        hint="is an older or foreign `shotdesk.capture.engine.serve` on PYTHONPATH? "
                             "Run `shotdesk serve` to see its output") from None
            log.debug("engine: %s", text)

    async def _watch_stdout(self, engine: _Engine) -> None:
        stdout = engine.process.stdout
        assert stdout is not None
        with contextlib.suppress(Exception):
            while await stdout.readline():
                pass
        engine.stdout_closed = True

    async def _discard(self, engine: _Engine) -> None:
        process = engine.process
        if process.returncode is None:
            if process.stdin is not None:
                with contextlib.suppress(Exception):
                    process.stdin.close()
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 5.0)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(process.wait(), 5.0)
        if self._own_group:
            # Chromium's helper processes of a crashed engine are left in its process group.
            with contextlib.suppress(OSError):
                os.killpg(process.pid, signal.SIGKILL)
        for task in engine.tasks:
            task.cancel()
        await asyncio.gather(*engine.tasks, return_exceptions=True)
        if process.stdin is not None:
            with contextlib.suppress(Exception):
                process.stdin.close()


async def _drain(stream: asyncio.StreamReader, tail: deque[str]) -> None:
    with contextlib.suppress(Exception):
        while True:
            line = await stream.readline()
            if not line:
                return
            text = line.decode("utf-8", "replace").rstrip()
            tail.append(text)
            log.debug("engine: %s", text)


def _scheme(dark: bool) -> str:
    return "dark" if dark else "light"
