"""The engine's job-API server (aiohttp, on the engine process's qasync loop).

Contract (PROVIDERS.md §7 plus ShotDesk's extensions, BRIEF "Engine job API"):

* ``POST /screenshots`` — JSON with the seed fields (url, width, height, format, full_page,
  block_ads, dark_mode) and every other CaptureSpec field by its name → 202
  ``{job_id, status: "pending"}`` + ``Location``; 422 ``{"detail": [...]}`` / 400 ``{"detail": "..."}``.
* ``GET /jobs/{id}[?wait=S[&since=N]]`` — the job; ``wait`` (≤ 30 s) holds the answer until the
  job is terminal (long-poll); with ``since`` (the ``progress_seq`` of the last answer) also until
  its progress moves on, so a client can show each step.
* ``GET /jobs/{id}/image`` — the bytes; 409 while not completed; 404 unknown.
* ``DELETE /jobs/{id}`` — cancel and forget the job (204).
* ``GET /health`` — ``{"ok": true, ...}``, no token needed.

Every other route needs ``Authorization: Bearer <token>`` when the server has a token. The server
knows nothing about Qt: it drives any :class:`RenderBackend` (tests use a fake one).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import math
import os
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from shotdesk import __version__
from shotdesk.capture.engine.common import RenderBackend, RenderOutput, error_kind
from shotdesk.core.errors import InvalidSpec, ShotDeskError
from shotdesk.core.spec import CaptureSpec

log = logging.getLogger(__name__)

#: Longest long-poll a client may ask for, in seconds.
MAX_WAIT_S = 30.0
#: Finished jobs are forgotten after this long ...
JOB_TTL_S = 600.0
#: ... or when more than this many finished jobs are kept (oldest first).
MAX_FINISHED_JOBS = 64
#: At most this many jobs wait or run at once; more are refused with 503.
MAX_ACTIVE_JOBS = 64
#: Request bodies larger than this are refused (CSS/JS are limited to 100,000 characters each).
MAX_BODY_BYTES = 1_000_000

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z") if moment else None


@dataclass
class Job:
    id: str
    spec: CaptureSpec
    status: str = "pending"  # pending | processing | completed | failed
    created_at: datetime = field(default_factory=_now)
    completed_at: datetime | None = None
    error: str | None = None
    error_kind: str | None = None
    hint: str | None = None
    progress: float | None = None
    progress_text: str = ""
    output: RenderOutput | None = None
    task: asyncio.Task[None] | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)
    #: Counts progress reports; ``changed`` is set (and replaced) at each one and at the end.
    seq: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    finished_mono: float = 0.0

    def moved_on(self) -> None:
        self.seq += 1
        self.changed.set()
        self.changed = asyncio.Event()

    @property
    def terminal(self) -> bool:
        return self.status in ("completed", "failed")

    def to_json(self) -> dict[str, Any]:
        out = self.output
        return {
            "job_id": self.id,
            "status": self.status,
            "image_url": f"/jobs/{self.id}/image" if self.status == "completed" else None,
            "error": self.error,
            "created_at": _iso(self.created_at),
            "completed_at": _iso(self.completed_at),
            # ShotDesk extensions
            "error_kind": self.error_kind,
            "hint": self.hint,
            "progress": self.progress,
            "progress_text": self.progress_text,
            "progress_seq": self.seq,
            "width": out.width if out else None,
            "height": out.height if out else None,
            "media_type": out.media_type if out else None,
            "bytes": len(out.data) if out else None,
            "title": out.title if out else None,
            "final_url": out.final_url if out else None,
            "render_ms": out.render_ms if out else None,
        }


class EngineServer:
    """Jobs in memory, rendered by ``backend``; ``token`` None disables auth (tests only)."""

    def __init__(self, backend: RenderBackend, token: str | None) -> None:
        self.backend = backend
        self.token = token
        self.jobs: dict[str, Job] = {}
        self._runner: web.AppRunner | None = None
        self.port: int | None = None
        self.started = time.monotonic()
        self.completed = 0
        self.failed = 0

    # ------------------------------------------------------------------ app and lifecycle
    def make_app(self) -> web.Application:
        app = web.Application(middlewares=[self._auth], client_max_size=MAX_BODY_BYTES)
        app.router.add_get("/health", self.health)
        app.router.add_post("/screenshots", self.create)
        app.router.add_get("/jobs/{job_id}", self.get_job)
        app.router.add_get("/jobs/{job_id}/image", self.get_image)
        app.router.add_delete("/jobs/{job_id}", self.delete_job)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Listen on ``host:port`` (0 = a free port); returns the bound port."""
        self._runner = web.AppRunner(self.make_app(), access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port, reuse_address=True)
        await site.start()
        addresses = self._runner.addresses
        self.port = int(addresses[0][1]) if addresses else port
        return self.port

    async def close(self) -> None:
        for job in list(self.jobs.values()):
            if job.task is not None and not job.task.done():
                job.task.cancel()
        tasks = [j.task for j in self.jobs.values() if j.task is not None]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ------------------------------------------------------------------ auth
    @web.middleware
    async def _auth(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if self.token is not None and request.path != "/health":
            given = request.headers.get("Authorization", "")
            expected = f"Bearer {self.token}"
            if not hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8")):
                return _error(401, "Missing or wrong token (Authorization: Bearer <token>)",
                              headers={"WWW-Authenticate": "Bearer"})
        return await handler(request)

    # ------------------------------------------------------------------ handlers
    async def health(self, request: web.Request) -> web.Response:
        active = sum(1 for j in self.jobs.values() if not j.terminal)
        return web.json_response({
            "ok": True, "engine": "shotdesk", "version": __version__, "dark": self.backend.dark,
            "pool": self.backend.pool_size, "active_jobs": active, "completed": self.completed,
            "failed": self.failed, "pid": os.getpid(), "uptime_s": round(time.monotonic() - self.started, 1),
        })

    async def create(self, request: web.Request) -> web.Response:
        try:
            body = await request.json(loads=json.loads)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return _error(400, "The request body is not valid JSON")
        if not isinstance(body, dict):
            return _error(400, "The request body must be a JSON object")
        try:
            spec = spec_from_body(body)
        except InvalidSpec as exc:
            return _validation_error(exc.field, exc.message)
        if spec.dark_mode != self.backend.dark:
            scheme, other = ("dark", "without") if self.backend.dark else ("light", "with")
            return _validation_error(
                "dark_mode", f"This engine renders the {scheme} colour scheme only (dark_mode must be "
                f"{str(self.backend.dark).lower()}); start an engine {other} --dark for the other scheme")
        self._forget_old()
        if sum(1 for j in self.jobs.values() if not j.terminal) >= MAX_ACTIVE_JOBS:
            return _error(503, f"The engine is busy ({MAX_ACTIVE_JOBS} jobs waiting); try again shortly",
                          headers={"Retry-After": "5"})
        job = Job(id=secrets.token_hex(8), spec=spec)
        self.jobs[job.id] = job
        job.task = asyncio.ensure_future(self._run(job))
        return web.json_response({"job_id": job.id, "status": job.status}, status=202,
                                 headers={"Location": f"/jobs/{job.id}"})

    async def get_job(self, request: web.Request) -> web.Response:
        job = self._job(request)
        raw = request.query.get("wait")
        if raw is not None:
            try:
                wait = float(raw)
            except ValueError:
                return _validation_error("wait", f"wait must be a number of seconds, got {raw!r}",
                                         loc="query")
            if not math.isfinite(wait) or wait < 0:
                return _validation_error("wait", f"wait must be 0–{MAX_WAIT_S:g} seconds, got {raw}",
                                         loc="query")
            since = request.query.get("since")
            if since is not None and not since.isdigit():
                return _validation_error("since", f"since must be a progress_seq, got {since!r}",
                                         loc="query")
            if wait > 0 and not job.terminal and (since is None or int(since) == job.seq):
                event = job.done if since is None else job.changed
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), min(wait, MAX_WAIT_S))
        return web.json_response(job.to_json())

    async def get_image(self, request: web.Request) -> web.Response:
        job = self._job(request)
        if job.status != "completed" or job.output is None:
            detail = (f"The job failed: {job.error}" if job.status == "failed"
                      else f"The job is still {job.status}")
            return _error(409, detail)
        out = job.output
        ext = job.spec.extension
        return web.Response(body=out.data, content_type=out.media_type, headers={
            "Content-Disposition": f'inline; filename="capture-{job.id}.{ext}"',
            "X-Render-Ms": str(out.render_ms),
        })

    async def delete_job(self, request: web.Request) -> web.Response:
        job = self._job(request)
        self.jobs.pop(job.id, None)
        if job.task is not None and not job.task.done():
            job.task.cancel()
        return web.Response(status=204)

    # ------------------------------------------------------------------ jobs
    def _job(self, request: web.Request) -> Job:
        job = self.jobs.get(request.match_info["job_id"])
        if job is None:
            raise web.HTTPNotFound(text=json.dumps({"detail": "Unknown job id (finished jobs are kept "
                                                              f"{JOB_TTL_S / 60:g} minutes)"}),
                                   content_type="application/json")
        return job

    async def _run(self, job: Job) -> None:
        def progress(fraction: float | None, text: str) -> None:
            if job.status == "pending":
                job.status = "processing"
            job.progress = fraction
            job.progress_text = text
            job.moved_on()

        try:
            job.output = await self.backend.render(job.spec, progress)
        except asyncio.CancelledError:
            self._finish(job, "failed", error="The capture was cancelled", kind="engine")
            raise
        except ShotDeskError as exc:
            self._finish(job, "failed", error=exc.message, kind=error_kind(exc), hint=exc.hint)
        except Exception as exc:  # a bug in the engine: keep serving, say what broke
            log.exception("job %s failed", job.id)
            self._finish(job, "failed", error=f"The engine failed unexpectedly ({exc.__class__.__name__}: "
                         f"{exc})", kind="engine", hint="capture again; if it persists, report a bug")
        else:
            job.progress = 1.0
            self._finish(job, "completed")

    def _finish(self, job: Job, status: str, *, error: str | None = None, kind: str | None = None,
                hint: str | None = None) -> None:
        job.status = status
        job.error = error
        job.error_kind = kind
        job.hint = hint or None
        job.completed_at = _now()
        job.finished_mono = time.monotonic()
        if status == "completed":
            self.completed += 1
        else:
            self.failed += 1
        job.done.set()
        job.moved_on()

    def _forget_old(self) -> None:
        now = time.monotonic()
        finished = sorted((j for j in self.jobs.values() if j.terminal), key=lambda j: j.finished_mono)
        excess = len(finished) - MAX_FINISHED_JOBS
        for index, job in enumerate(finished):
            if index < excess or now - job.finished_mono > JOB_TTL_S:
                self.jobs.pop(job.id, None)


# ---------------------------------------------------------------------- request → spec
#: Body fields that are not CaptureSpec fields but harmless (the seed's clients may send them).
_IGNORED_FIELDS = frozenset({"provider"})


def spec_from_body(body: dict[str, Any]) -> CaptureSpec:
    """A CaptureSpec from a POST body; InvalidSpec names the offending field."""
    if not body.get("url"):
        raise InvalidSpec("url", "url is required (an http or https address)")
    data = {k: v for k, v in body.items() if k not in _IGNORED_FIELDS and v is not None}
    hides = data.get("hide_selectors")
    if hides is not None:
        if isinstance(hides, str):
            hides = [hides]
        if not isinstance(hides, list | tuple) or not all(isinstance(h, str) for h in hides):
            raise InvalidSpec("hide_selectors", "hide_selectors must be a list of CSS selectors")
        data["hide_selectors"] = tuple(hides)
    if not isinstance(data["url"], str):
        raise InvalidSpec("url", "url must be a string")
    data["provider"] = "local"
    return CaptureSpec.from_dict(data)


def _error(status: int, detail: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"detail": detail}, status=status, headers=headers)


def _validation_error(name: str, message: str, loc: str = "body") -> web.Response:
    return web.json_response({"detail": [{"loc": [loc, name], "msg": message, "type": "value_error"}]},
                             status=422)
