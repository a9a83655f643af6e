"""Engine fixtures: ONE engine process per test module (started directly, the way the manager
does), a job-API client for it, and loopback pages.

Host names under ``.shotdesk.test`` resolve to 127.0.0.1 inside the engine
(``--host-resolver-rules``), and ``ads.shotdesk.test`` is on its block list, so a page served by
the ``page_server`` fixture can reference a "tracker" whose requests the test server records.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
READY = "SHOTDESK-ENGINE "
BLOCKED_HOST = "ads.shotdesk.test"
ALLOWED_HOST = "cdn.shotdesk.test"
RESOLVER_RULES = "--host-resolver-rules=MAP *.shotdesk.test 127.0.0.1"


@dataclass
class JobOutcome:
    job: dict[str, Any]
    raw: bytes | None

    @property
    def data(self) -> bytes:
        assert self.raw is not None, f"the job did not complete: {self.job}"
        return self.raw

    @property
    def status(self) -> str:
        return str(self.job["status"])

    @property
    def error(self) -> str:
        return str(self.job.get("error"))

    @property
    def kind(self) -> str | None:
        return self.job.get("error_kind")


class EngineProcess:
    """A running ``python -m shotdesk.capture.engine.serve`` and an httpx client for it."""

    def __init__(self, *, dark: bool = False, pool: int = 2) -> None:
        self.token = f"test-token-{os.getpid()}-{int(dark)}"
        env = dict(os.environ)
        env.pop("QTWEBENGINE_CHROMIUM_FLAGS", None)  # serve.py adds --no-sandbox for root itself
        env["SHOTDESK_ENGINE_TOKEN"] = self.token
        env["PYTHONPATH"] = str(ROOT)
        cmd = [sys.executable, "-m", "shotdesk.capture.engine.serve", "--pool", str(pool),
               "--block-host", BLOCKED_HOST, "--parent-stdin"]
        if dark:
            cmd.append("--dark")
        cmd += ["--webEngineArgs", RESOLVER_RULES]
        log_dir = Path(os.environ.get("TMPDIR", "/tmp"))
        self.stderr_path = log_dir / f"shotdesk-engine-{os.getpid()}-{int(dark)}.log"
        self._stderr = self.stderr_path.open("wb")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
                                     env=env, cwd=ROOT)
        assert self.proc.stdout is not None
        deadline = time.monotonic() + 90
        line = b""
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line or line.startswith(READY.encode()):
                break
        if not line.startswith(READY.encode()):
            self.close()
            output = self.stderr_path.read_text(errors="replace")[-3000:]
            raise RuntimeError("engine did not start:\n" + output)
        self.info = json.loads(line[len(READY):])
        self.base_url = f"http://127.0.0.1:{self.info['port']}"
        self.client = httpx.Client(base_url=self.base_url, timeout=90,
                                   headers={"Authorization": f"Bearer {self.token}"})

    def submit(self, **body: Any) -> str:
        resp = self.client.post("/screenshots", json=body)
        assert resp.status_code == 202, resp.text
        return str(resp.json()["job_id"])

    def wait(self, job_id: str, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:  # long-poll: one request per 30 s at most, bounded by the deadline
            job = self.client.get(f"/jobs/{job_id}", params={"wait": 30}).json()
            if job["status"] in ("completed", "failed") or time.monotonic() > deadline:
                return dict(job)

    def capture(self, **body: Any) -> JobOutcome:
        job = self.wait(self.submit(**body))
        data = None
        if job["status"] == "completed":
            resp = self.client.get(f"/jobs/{job['job_id']}/image")
            assert resp.status_code == 200
            assert resp.headers["content-type"] == job["media_type"]
            data = resp.content
        return JobOutcome(job, data)

    def close(self) -> None:
        if getattr(self, "client", None) is not None:
            self.client.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()
        self._stderr.close()


@pytest.fixture(scope="module")
def engine() -> Iterator[EngineProcess]:
    proc = EngineProcess()
    try:
        yield proc
    finally:
        proc.close()


@pytest.fixture(scope="module")
def dark_engine() -> Iterator[EngineProcess]:
    proc = EngineProcess(dark=True, pool=1)
    try:
        yield proc
    finally:
        proc.close()
