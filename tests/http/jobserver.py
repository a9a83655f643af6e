"""A job-API server on 127.0.0.1 that follows the seed contract (PROVIDERS.md §7) and can be told to fail.

``POST /screenshots`` validates like FastAPI (422 ``{"detail": [...]}``), ``GET /jobs/{id}``
reports pending → processing → completed after ``polls_to_complete`` polls, optionally holding
the answer for ``?wait=`` (``long_poll=True``), ``GET /jobs/{id}/image`` serves ``image`` (409
before completion), ``GET /health`` answers ``{"ok": true}``, ``DELETE /jobs/{id}`` is recorded.
Faults: ``post_faults`` (responses served before the real answer), ``fail`` (the job fails with
this error / error_kind), ``never_complete``, ``lose_jobs`` (404 for every job), ``token``
(401 without ``Authorization: Bearer <token>``), ``image``/``image_type`` (what the picture
endpoint sends, e.g. HTML).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from tests.helpers.images import make_image
from tests.http.server import ScriptedServer

SEED_FORMATS = ("png", "jpeg", "webp")


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class JobServer(ScriptedServer):
    def __init__(self, *, long_poll: bool = False, token: str | None = None) -> None:
        super().__init__()
        self.long_poll = long_poll
        self.token = token
        self.polls_to_complete = 2
        self.post_faults: list[Callable[[], web.Response]] = []
        self.fail: dict[str, Any] | None = None
        self.never_complete = False
        self.lose_jobs = False
        self.image: bytes = make_image(64, 48, (20, 120, 220))
        self.image_type = "image/png"
        self.image_url: Callable[[str], str] | None = None
        self.extra: dict[str, Any] = {}
        self.jobs: dict[str, dict[str, Any]] = {}
        self.deleted: list[str] = []
        self._ids = itertools.count(1)
        self.route("POST", "/screenshots", self._post)
        self.route("GET", "/health", self._health)
        self.route("*", "/jobs/*", self._jobs)

    # ------------------------------------------------------------------ handlers
    def _unauthorized(self, request: web.Request) -> web.Response | None:
        if self.token and request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response({"detail": "Not authenticated"}, status=401)
        return None

    async def _health(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": True, "jobs": len(self.jobs)})

    async def _post(self, request: web.Request) -> web.Response:
        if self.post_faults:
            return self.post_faults.pop(0)()
        denied = self._unauthorized(request)
        if denied:
            return denied
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"detail": "body is not JSON"}, status=400)
        errors = _validate(body)
        if errors:
            return web.json_response({"detail": errors}, status=422)
        job_id = f"job-{next(self._ids)}"
        self.jobs[job_id] = {"job_id": job_id, "status": "pending", "image_url": None, "error": None,
                             "created_at": _now(), "completed_at": None, "polls": 0, "body": body}
        return web.json_response({"job_id": job_id, "status": "pending"}, status=202,
                                 headers={"Location": f"/jobs/{job_id}"})

    async def _jobs(self, request: web.Request) -> web.StreamResponse:
        denied = self._unauthorized(request)
        if denied:
            return denied
        parts = request.path.strip("/").split("/")
        job = None if self.lose_jobs else self.jobs.get(parts[1] if len(parts) > 1 else "")
        if job is None:
            return web.json_response({"detail": "Job not found"}, status=404)
        if request.method == "DELETE":
            self.deleted.append(job["job_id"])
            job["status"] = "failed"
            job["error"] = "cancelled"
            return web.json_response({"job_id": job["job_id"], "status": "failed"})
        if len(parts) == 3 and parts[2] == "image":
            if job["status"] != "completed":
                return web.json_response({"detail": "Job not completed"}, status=409)
            return web.Response(body=self.image, content_type=self.image_type.split(";")[0])
        return await self._status(request, job)

    async def _status(self, request: web.Request, job: dict[str, Any]) -> web.Response:
        wait = float(request.query.get("wait", "0") or 0) if self.long_poll else 0.0
        deadline = asyncio.get_running_loop().time() + min(wait, 30.0)
        while True:
            job["polls"] += 1
            self._advance(job)
            if job["status"] in ("completed", "failed"):
                break
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                break
            await asyncio.sleep(min(0.05, left))
        public = {k: job[k] for k in ("job_id", "status", "image_url", "error", "created_at",
                                      "completed_at")}
        public.update(self.extra)
        if job["status"] == "failed" and self.fail:
            public.update({k: v for k, v in self.fail.items() if k != "error"})
        return web.json_response(public)

    def _advance(self, job: dict[str, Any]) -> None:
        if job["status"] in ("completed", "failed") or self.never_complete:
            if job["status"] == "pending":
                job["status"] = "processing"
            return
        if job["polls"] >= self.polls_to_complete:
            if self.fail:
                job["status"] = "failed"
                job["error"] = self.fail.get("error", "render failed")
            else:
                job["status"] = "completed"
                job["image_url"] = (self.image_url(job["job_id"]) if self.image_url
                                    else f"/jobs/{job['job_id']}/image")
            job["completed_at"] = _now()
        else:
            job["status"] = "processing" if job["polls"] > 1 else "pending"


def _validate(body: Any) -> list[dict[str, Any]]:
    """FastAPI-style validation of the seed fields; unknown fields are ignored, as FastAPI does."""
    if not isinstance(body, dict):
        return [{"loc": ["body"], "msg": "value is not a valid dict", "type": "type_error.dict"}]
    errors = []
    url = body.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        errors.append({"loc": ["body", "url"], "msg": "invalid or missing URL scheme",
                       "type": "value_error.url"})
    for name, lo, hi in (("width", 320, 3840), ("height", 240, 2160)):
        value = body.get(name, 1280 if name == "width" else 720)
        if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
            errors.append({"loc": ["body", name], "msg": f"ensure this value is between {lo} and {hi}",
                           "type": "value_error.number"})
    if body.get("format", "png") not in SEED_FORMATS:
        errors.append({"loc": ["body", "format"],
                       "msg": "unexpected value; permitted: 'png', 'jpeg', 'webp'",
                       "type": "value_error.const"})
    for flag in ("full_page", "block_ads", "dark_mode"):
        if flag in body and not isinstance(body[flag], bool):
            errors.append({"loc": ["body", flag], "msg": "value could not be parsed to a boolean",
                           "type": "type_error.bool"})
    return errors
