"""The self-hosted job API (PROVIDERS.md §7) — for any base URL, and for ShotDesk's own engine.

Flow: ``POST {base}/screenshots`` (JSON) → 202 ``{job_id}`` → ``GET {base}/jobs/{id}?wait=N``
until ``completed`` or ``failed`` → ``GET`` the job's ``image_url`` (default
``{base}/jobs/{id}/image``) → bytes checked by :func:`shotdesk.core.media.check_media`.

* ``extended=False`` (a foreign server, provider id ``jobapi``): only the seed fields are sent —
  url, width, height, format, full_page, block_ads, dark_mode — and a spec that changes any other
  option (scale, delay, selector, CSS, PDF, a non-default JPEG/WebP quality, …) is refused as
  :class:`Unsupported` before anything is sent.
* ``extended=True`` (ShotDesk's engine server): every CaptureSpec field is sent by its own name,
  and the extension fields of the job (``error_kind``, ``progress``, ``title``, ``final_url``,
  ``render_ms``) are used.
* Waiting: each poll asks the server to hold the answer (``?wait=N``, N ≤ 25 s). A server that
  ignores it and answers at once is polled with backoff 0.5 s → 5 s. ShotDesk's engine is also
  asked to answer when the job's progress moves on (``&since=<progress_seq>``), so each step of
  a render ("Scrolling through the page", "Captured part 3 of 7") reaches the window. The whole
  wait is bounded by ``spec.timeout_s + wait_margin_s``; past it: :class:`CaptureTimeout` ("The
  job did not finish within N s") and a best-effort ``DELETE /jobs/{id}``. Cancelling the capture
  also deletes the job.
* A failed job becomes the typed error its ``error_kind`` names (page_load → PageLoadError,
  selector_not_found → SelectorNotFound, timeout → CaptureTimeout, format_limit → FormatLimit,
  engine → EngineCrashed, invalid → InvalidRequest; none → PageLoadError) with the server's
  message. A 404 for a job the server had accepted means it lost the job (restarted?).
* The optional key goes in ``Authorization: Bearer``, and only to the server's own origin.
  Plain ``http://`` is refused except for loopback (:func:`check_base_url`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import quote, urljoin, urlsplit

import httpx

from shotdesk.capture.base import ALL_OPTIONS, Capabilities, CaptureResult, ProgressCallback
from shotdesk.capture.http.client import SHORT_TIMEOUT, make_client, request
from shotdesk.capture.http.errors import error_for_response, parse_error_body
from shotdesk.capture.http.ratelimit import RateLimiter
from shotdesk.capture.http.retry import RetryPolicy
from shotdesk.capture.http.urls import check_base_url, redact_text, same_origin
from shotdesk.core.errors import (
    BadResponse,
    CaptureError,
    CaptureTimeout,
    EngineCrashed,
    FormatLimit,
    InvalidRequest,
    InvalidSpec,
    PageLoadError,
    ProviderUnavailable,
    SelectorNotFound,
    Unsupported,
)
from shotdesk.core.media import check_media
from shotdesk.core.spec import DEFAULT_QUALITY, CaptureSpec

log = logging.getLogger(__name__)

#: The fields of the seed contract, sent to every job-API server.
SEED_FIELDS: tuple[str, ...] = ("url", "width", "height", "format", "full_page", "block_ads", "dark_mode")
#: The fields only ShotDesk's own engine server accepts (extended=True).
EXTENDED_FIELDS: tuple[str, ...] = (
    "scale", "quality", "hide_cookie_banners", "delay_ms", "wait_until", "selector",
    "hide_selectors", "css", "js", "user_agent", "timeout_s",
)
ERROR_KINDS: Mapping[str, type[CaptureError]] = {
    "page_load": PageLoadError,
    "selector_not_found": SelectorNotFound,
    "timeout": CaptureTimeout,
    "format_limit": FormatLimit,
    "engine": EngineCrashed,
    "invalid": InvalidRequest,
}
_HINTS: Mapping[type[CaptureError], str] = {
    PageLoadError: "check the address; the page may be down or refuse automated browsers",
    SelectorNotFound: "check the CSS selector, or capture the whole page",
    CaptureTimeout: "try again, or raise the timeout",
    FormatLimit: "choose another format (PNG allows the tallest pages) or a smaller size",
    EngineCrashed: "capture again; the engine restarts by itself",
    InvalidRequest: "change the options it names and capture again",
}
_NOT_IN_SEED = "not part of the job-API contract (only ShotDesk's own engine takes it)"

SEED_CAPABILITIES = Capabilities(
    formats=frozenset({"png", "jpeg", "webp"}),
    options=frozenset({"full_page", "block_ads", "dark_mode"}),
    max_width=3840,
    max_height=2160,
    max_scale=1.0,
    needs_key=False,
    notes={name: _NOT_IN_SEED for name in ALL_OPTIONS - {"full_page", "block_ads", "dark_mode"}},
)
EXTENDED_CAPABILITIES = Capabilities()

#: Longest hold asked of a long-polling server (the contract allows ≤ 30 s).
LONG_POLL_S = 25
_MAX_POLLS = 100_000  # a hard ceiling besides the deadline


class JobApiProvider:
    """Adapter for ``POST /screenshots`` → ``GET /jobs/{id}`` → ``GET /jobs/{id}/image``."""

    label: str = "Job API (self-hosted)"
    needs_key: ClassVar[bool] = False
    default_base_url: ClassVar[str | None] = None
    capabilities: Capabilities = SEED_CAPABILITIES

    def __init__(self, *, base_url: str | None = None, api_key: str | None = None,
                 client: httpx.AsyncClient | None = None, extended: bool = False,
                 provider_id: str = "jobapi", label: str | None = None,
                 capabilities: Capabilities | None = None, policy: RetryPolicy | None = None,
                 limiter: RateLimiter | None = None, long_poll_s: float = LONG_POLL_S,
                 poll_initial_s: float = 0.5, poll_max_s: float = 5.0, wait_margin_s: float = 30.0,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.id = provider_id
        self.label = label or type(self).label
        self.extended = extended
        self.capabilities = capabilities or (EXTENDED_CAPABILITIES if extended else SEED_CAPABILITIES)
        self.base_url = check_base_url(base_url or "", provider=self.label)
        self._key = api_key or None
        self._client = client or make_client(base_url=self.base_url)
        self._owns_client = client is None
        self._policy = policy or RetryPolicy()
        self._limiter = limiter or RateLimiter(max_concurrency=8, probe_first=False, provider=self.label)
        self._long_poll = max(0.0, min(float(long_poll_s), 30.0))
        self._poll_initial = poll_initial_s
        self._poll_max = poll_max_s
        self._margin = wait_margin_s
        self._sleep = sleep
        self._clock = clock

    # ------------------------------------------------------------------ public
    async def capture(self, spec: CaptureSpec, progress: ProgressCallback | None = None) -> CaptureResult:
        self._check(spec)
        report = progress or _no_progress
        started = self._clock()
        bound = spec.timeout_s + self._margin
        deadline = started + bound
        job_id = await self._submit(spec)
        report(0.05, f"Job {job_id} submitted to {self.label}")
        try:
            job = await self._wait(job_id, deadline, bound, report)
        except (asyncio.CancelledError, CaptureTimeout):
            await self._forget(job_id)
            raise
        report(0.9, "Downloading the picture")
        data, content_type = await self._download(job_id, job)
        info = await asyncio.to_thread(check_media, data, expected=spec.format,
                                       content_type=content_type, source=self.label)
        metadata = {"job_id": job_id}
        render_ms = _render_ms(job)
        if render_ms is not None:
            metadata["render_ms"] = str(render_ms)
        metadata["wait_ms"] = str(round((self._clock() - started) * 1000))
        return CaptureResult(
            data=data, media_type=info.media_type, width=info.width, height=info.height,
            provider=self.id, metadata=metadata,
            final_url=_text(job.get("final_url")), title=_text(job.get("title")),
        )

    async def health(self) -> dict[str, Any]:
        """``GET /health`` (no key): the server's JSON; :class:`ProviderUnavailable` when not ok."""
        response = await request(self._client, "GET", "health", provider=self.label,
                                 timeout=SHORT_TIMEOUT, policy=RetryPolicy(max_attempts=1))
        data = _json(response, self.label)
        if not isinstance(data, dict) or data.get("ok") is not True:
            raise ProviderUnavailable(f"{self.label} at {self._host()} reports it is not healthy",
                                      hint="check the server's log")
        return data

    async def cancel(self, job_id: str) -> None:
        """``DELETE /jobs/{id}`` (ShotDesk extension); errors are ignored."""
        with contextlib.suppress(CaptureError):
            await request(self._client, "DELETE", f"jobs/{quote(job_id, safe='')}",
                          provider=self.label, headers=self._auth(), timeout=SHORT_TIMEOUT,
                          policy=RetryPolicy(max_attempts=1), secrets=(self._key,),
                          classify=lambda r: None)

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    # ------------------------------------------------------------------ steps
    def _check(self, spec: CaptureSpec) -> None:
        self.capabilities.check(self.id, spec)
        if not self.extended and spec.format in ("jpeg", "webp") and spec.quality != DEFAULT_QUALITY:
            raise Unsupported(
                f"{self.id} cannot honour: quality {spec.quality} ({_NOT_IN_SEED})",
                hint="remove those options or choose another provider (the local engine supports all)")

    def _body(self, spec: CaptureSpec) -> dict[str, Any]:
        data = spec.to_dict()
        names = SEED_FIELDS + (EXTENDED_FIELDS if self.extended else ())
        return {name: data[name] for name in names}

    async def _submit(self, spec: CaptureSpec) -> str:
        def classify(response: httpx.Response) -> CaptureError | None:
            if response.status_code in (422, 400):
                said = parse_error_body(response, secrets=(self._key,)).message
                return InvalidRequest(f"{self.label} refused the options" + (f": {said}" if said else ""),
                                      hint="change the options it names and capture again")
            return self._classify(response)

        response = await request(self._client, "POST", "screenshots", json=self._body(spec),
                                 headers=self._auth(), provider=self.label, policy=self._policy,
                                 limiter=self._limiter, classify=classify, secrets=(self._key,))
        data = _json(response, self.label)
        job_id = data.get("job_id") if isinstance(data, dict) else None
        if job_id is None:
            location = response.headers.get("location", "")
            tail = location.rstrip("/").rsplit("/", 1)[-1] if "/jobs/" in location else ""
            job_id = tail or None
        if job_id is None or not str(job_id).strip():
            raise BadResponse(f"{self.label} accepted the capture but sent no job id",
                              hint="is this address really a job-API server?")
        return str(job_id).strip()

    async def _wait(self, job_id: str, deadline: float, bound: float,
                    report: ProgressCallback) -> dict[str, Any]:
        delay = self._poll_initial
        # ShotDesk's engine also answers a long-poll when the job's progress moves on (``since``).
        seq: int | None = 0 if self.extended else None
        for _ in range(_MAX_POLLS):
            left = deadline - self._clock()
            if left <= 0:
                break
            hold = int(min(self._long_poll, left))
            asked = self._clock()
            job = await self._poll(job_id, hold, since=seq)
            status = str(job.get("status", "")).lower()
            if status == "completed":
                return job
            if status == "failed":
                raise self._failure(job)
            if status not in ("pending", "processing", "queued", "running", "started"):
                raise BadResponse(f"{self.label} reported an unknown job status {status[:40]!r}",
                                  hint="is this address really a job-API server?")
            fraction, text = _progress_of(job, status)
            if self.extended:  # the engine says what it is doing ("Captured part 3 of 7")
                text = (_text(job.get("progress_text")) or text)[:120]
            report(fraction, text)
            new_seq = job.get("progress_seq")
            moved = seq is not None and isinstance(new_seq, int) and new_seq != seq
            if moved:
                seq = new_seq
            elif self._clock() - asked < max(0.5, hold / 2):
                # The server answered at once (no long-poll support): back off before asking again.
                left = deadline - self._clock()
                if left <= 0:
                    break
                await self._sleep(min(delay, left))
                delay = min(delay * 2, self._poll_max)
        raise CaptureTimeout(f"The job did not finish within {bound:g} s",
                             hint=f"{self.label} may be busy; try again, or raise the timeout")

    async def _poll(self, job_id: str, hold: int, *, since: int | None = None) -> dict[str, Any]:
        params = {"wait": str(hold)} if hold >= 1 else None
        if params is not None and since is not None:
            params["since"] = str(since)
        timeout = httpx.Timeout(hold + 15.0, connect=10.0)

        def classify(response: httpx.Response) -> CaptureError | None:
            return None if response.status_code == 404 else self._classify(response)

        response = await request(self._client, "GET", f"jobs/{quote(job_id, safe='')}", params=params,
                                 headers=self._auth(), provider=self.label, timeout=timeout,
                                 policy=self._policy, limiter=self._limiter, classify=classify,
                                 secrets=(self._key,))
        if response.status_code == 404:
            raise ProviderUnavailable(
                f"{self.label} lost job {job_id} (was the server restarted?)",
                hint="capture again")
        data = _json(response, self.label)
        if not isinstance(data, dict):
            raise BadResponse(f"{self.label} sent a job status that is not a JSON object",
                              hint="is this address really a job-API server?")
        return data

    def _failure(self, job: Mapping[str, Any]) -> CaptureError:
        kind_name = str(job.get("error_kind") or "").lower()
        kind = ERROR_KINDS.get(kind_name, PageLoadError)
        said = redact_text(" ".join(str(job.get("error") or "").split()), (self._key,))[:300]
        if self.extended and said:
            message = said
        else:
            message = f"{self.label} could not capture the page" + (f": {said}" if said else "")
        hint = _text(job.get("hint")) if self.extended else None
        return kind(message, hint=hint or _HINTS.get(kind, ""))

    async def _download(self, job_id: str, job: Mapping[str, Any]) -> tuple[bytes, str | None]:
        image_url = _text(job.get("image_url"))
        path = f"{self.base_url}/jobs/{quote(job_id, safe='')}/image"
        if image_url:
            path = self._resolve(image_url)
        headers = self._auth() if same_origin(path, self.base_url) else {}

        def classify(response: httpx.Response) -> CaptureError | None:
            if response.status_code == 409:  # "not ready yet" although completed: ask again shortly
                return ProviderUnavailable(f"{self.label} says the picture of job {job_id} is not ready")
            if response.status_code == 404:
                return ProviderUnavailable(f"{self.label} lost the picture of job {job_id} "
                                           "(was the server restarted?)", hint="capture again")
            return self._classify(response)

        policy = self._policy
        response = await request(self._client, "GET", path, headers=headers, provider=self.label,
                                 policy=policy, limiter=self._limiter, classify=classify,
                                 secrets=(self._key,))
        return response.content, response.headers.get("content-type")

    def _resolve(self, image_url: str) -> str:
        """The absolute picture URL: root-relative paths are taken relative to the API base."""
        if urlsplit(image_url).scheme:
            # The server's word, not a setting: an address ShotDesk will not use (plain http to
            # another computer, not http at all) is a bad answer, not InvalidSpec (exit 2).
            try:
                return check_base_url(image_url.split("?", 1)[0], provider=self.label) + (
                    "?" + image_url.split("?", 1)[1] if "?" in image_url else "")
            except InvalidSpec as exc:
                raise BadResponse(f"{self.label} gave an unusable picture address ({exc.message})",
                                  hint="check the job server's configuration of its image URLs") from None
        base_path = urlsplit(self.base_url).path
        if image_url.startswith("/") and base_path and not image_url.startswith(base_path + "/"):
            return self.base_url + image_url
        return urljoin(self.base_url + "/", image_url)

    async def _forget(self, job_id: str) -> None:
        with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(self.cancel(job_id), timeout=2.0)

    # ------------------------------------------------------------------ helpers
    def _classify(self, response: httpx.Response) -> CaptureError | None:
        return error_for_response(response, provider=self.label, secrets=(self._key,))

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._key}"} if self._key else {}

    def _host(self) -> str:
        return urlsplit(self.base_url).netloc


def _no_progress(fraction: float | None, text: str) -> None:
    pass


def _json(response: httpx.Response, label: str) -> Any:
    try:
        return response.json()
    except ValueError:
        kind = "a web page (HTML)" if "html" in response.headers.get("content-type", "") else "no JSON"
        raise BadResponse(f"{label} answered with {kind} where a job status was expected",
                          hint="is this address really a job-API server?") from None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _progress_of(job: Mapping[str, Any], status: str) -> tuple[float | None, str]:
    raw = job.get("progress")
    fraction: float | None = None
    if isinstance(raw, int | float) and not isinstance(raw, bool) and 0 <= raw <= 1:
        fraction = 0.1 + 0.75 * float(raw)
    if status in ("pending", "queued"):
        return fraction, "Waiting in the queue"
    return fraction, "Rendering"


def _render_ms(job: Mapping[str, Any]) -> int | None:
    raw = job.get("render_ms")
    if isinstance(raw, int | float) and not isinstance(raw, bool) and raw >= 0:
        return round(raw)
    try:
        created = datetime.fromisoformat(str(job["created_at"]).replace("Z", "+00:00"))
        done = datetime.fromisoformat(str(job["completed_at"]).replace("Z", "+00:00"))
    except (KeyError, ValueError, TypeError):
        return None
    ms = (done - created).total_seconds() * 1000
    return round(ms) if ms >= 0 else None
