"""Loopback stand-ins for the hosted screenshot APIs, each speaking its PROVIDERS.md contract.

Every fake is a real HTTP server on 127.0.0.1 (:class:`tests.helpers.webserver.PageServer`). It

* records each request (:attr:`FakeApi.received`: method, route, query, headers, JSON/form body),
* checks authentication the provider's way and answers the provider's documented auth error,
* validates parameter **names and values** like the provider's own validator (unknown names,
  wrong units or ranges → the provider's 400/422 error), so a wrong mapping fails loudly,
* renders a real image of the size the parameters ask for (viewport × scale; taller for a full
  page, smaller for an element) in the requested format, with the provider's response headers,
* serves scripted answers first when a test queued some (:meth:`FakeApi.push`), e.g. a 429
  with ``Retry-After`` or the documented quota error.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.helpers.images import make_image
from tests.helpers.webserver import PageServer, Request, Response

#: A recognisable key: the secrecy tests search every output for it.
KEY = "sk_live_SECRETKEY0123456789abcdef"
#: Full-page captures are this many CSS px taller than the viewport.
FULL_PAGE_EXTRA = 200
#: An element capture is this big (CSS px).
ELEMENT_SIZE = (160, 90)

PDF_BYTES = (b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n"
             b"%%EOF\n")
_PIL_FORMAT = {"png": "PNG", "jpeg": "JPEG", "jpg": "JPEG", "webp": "WEBP"}
_MEDIA = {"png": "image/png", "jpeg": "image/jpeg", "jpg": "image/jpeg", "webp": "image/webp",
          "pdf": "application/pdf"}


class Invalid(Exception):
    """A parameter the provider's validator refuses (name, value)."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name
        self.message = message


@dataclass
class Received:
    """One request as the fake saw it."""

    method: str
    route: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    params: dict[str, Any] = field(default_factory=dict)  # what the provider reads (query/JSON/form)

    def q(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


def render(fmt: str, width: int, height: int, color: tuple[int, int, int] = (30, 120, 200)) -> Response:
    """A real image (or PDF) of ``width × height`` pixels as a 200 response."""
    if fmt == "pdf":
        return Response(200, PDF_BYTES, content_type="application/pdf")
    data = make_image(width, height, color, _PIL_FORMAT[fmt])
    return Response(200, data, content_type=_MEDIA[fmt])


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(status, json.dumps(body).encode(), headers=dict(headers or {}),
                    content_type="application/json")


def html_page(status: int = 200) -> Response:
    """What a captive portal or a misconfigured proxy answers: a web page, status 200."""
    return Response(status, b"<!doctype html><html><body><h1>Welcome</h1></body></html>",
                    content_type="text/html; charset=utf-8")


def _bool(name: str, value: Any, *, strict_text: bool) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value in ("true", "false"):
        return value == "true"
    if not strict_text and isinstance(value, str) and value in ("1", "0"):
        return value == "1"
    raise Invalid(name, f"{name} must be a boolean (true/false), got {value!r}")


def _int(name: str, value: Any, lo: float, hi: float) -> int:
    if isinstance(value, bool):
        raise Invalid(name, f"{name} must be an integer, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise Invalid(name, f"{name} must be an integer, got {value!r}") from None
    if number != int(number):
        raise Invalid(name, f"{name} must be an integer, got {value!r}")
    if not lo <= number <= hi:
        raise Invalid(name, f"{name} must be between {lo:g} and {hi:g}, got {value!r}")
    return int(number)


def _num(name: str, value: Any, lo: float, hi: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise Invalid(name, f"{name} must be a number, got {value!r}") from None
    if isinstance(value, bool) or not lo <= number <= hi:
        raise Invalid(name, f"{name} must be between {lo:g} and {hi:g}, got {value!r}")
    return number


def _enum(name: str, value: Any, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise Invalid(name, f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return str(value)


class FakeApi:
    """Base: recording, scripted answers, image rendering. Subclasses add routes and rules."""

    label = "Fake"

    def __init__(self, server: PageServer, key: str = KEY) -> None:
        self.server = server
        self.key = key
        self.received: list[Received] = []
        self._queue: list[Response] = []
        self._lock = threading.Lock()
        self.install()

    # ------------------------------------------------------------------ plumbing
    @property
    def base_url(self) -> str:
        return self.server.base_url

    def install(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def route(self, path: str, handler: Callable[[Received], Response]) -> None:
        def wrapped(req: Request) -> Response:
            rec = self._record(req)
            scripted = self._pop()
            return scripted if scripted is not None else handler(rec)
        self.server.routes[path] = wrapped

    def plain_route(self, path: str, handler: Callable[[Received], Response]) -> None:
        """A route that records but never serves scripted answers (storage links…)."""
        self.server.routes[path] = lambda req: handler(self._record(req))

    def _record(self, req: Request) -> Received:
        parts = urlsplit(req.path)
        rec = Received(req.method, parts.path, parse_qs(parts.query, keep_blank_values=True),
                       dict(req.headers), req.body)
        with self._lock:
            self.received.append(rec)
        return rec

    def push(self, *responses: Response) -> None:
        """Serve these answers (in order) before the normal behaviour resumes."""
        with self._lock:
            self._queue.extend(responses)

    def _pop(self) -> Response | None:
        with self._lock:
            return self._queue.pop(0) if self._queue else None

    def hits(self, route: str) -> int:
        with self._lock:
            return sum(1 for r in self.received if r.route == route)

    def last(self, route: str) -> Received:
        with self._lock:
            matching = [r for r in self.received if r.route == route]
        assert matching, f"{self.label} fake: no request to {route}"
        return matching[-1]

    # ------------------------------------------------------------------ helpers for subclasses
    @staticmethod
    def query_params(rec: Received) -> dict[str, Any]:
        """Query as name → value, or name → list when repeated."""
        return {k: (v[0] if len(v) == 1 else v) for k, v in rec.query.items()}

    @staticmethod
    def form_params(rec: Received) -> dict[str, Any]:
        parsed = parse_qs(rec.body.decode(), keep_blank_values=True)
        return {k: (v[0] if len(v) == 1 else v) for k, v in parsed.items()}

    @staticmethod
    def output_size(width: int, height: int, scale: float, *, full_page: bool,
                    element: bool) -> tuple[int, int]:
        if element:
            width, height = ELEMENT_SIZE
        elif full_page:
            height += FULL_PAGE_EXTRA
        return round(width * scale), round(height * scale)


# ====================================================================== SnapSharp (§1)
class SnapSharpFake(FakeApi):
    """``GET``/``POST /v1/screenshot``, ``GET /v1/usage``; Bearer or X-API-Key."""

    label = "SnapSharp"
    #: Dashboard "default parameters": applied to every parameter the request omits [SS-defaults].
    account_defaults: dict[str, Any] = {"format": "webp", "full_page": True}  # noqa: RUF012
    KNOWN = frozenset({
        "url", "width", "height", "format", "quality", "full_page", "retina", "delay", "wait_until",
        "wait_for", "css", "js", "dark_mode", "block_ads", "block_cookie_banners", "stealth", "device",
        "bypass_csp", "proxy", "country", "hide_selectors", "click", "user_agent", "cache", "cache_ttl",
        "headers", "cookies", "clip",
    })

    def install(self) -> None:
        self.route("/v1/screenshot", self.screenshot)
        self.route("/v1/usage", self.usage)

    def authorised(self, rec: Received) -> bool:
        return (rec.headers.get("authorization") == f"Bearer {self.key}"
                or rec.headers.get("x-api-key") == self.key)

    def error(self, status: int, code: str, message: str, **extra: Any) -> Response:
        headers = {}
        if "retry_after" in extra:
            headers["Retry-After"] = str(extra["retry_after"])
        return json_response(status, {"error": code, "message": message, "status": status, **extra},
                             headers)

    def unauthorized(self) -> Response:
        return self.error(401, "unauthorized", "Invalid or missing API key")

    def rate_limited(self, retry_after: int = 1) -> Response:
        return self.error(429, "rate_limited", "Rate limit exceeded. Try again later.",
                          retry_after=retry_after)

    def quota_exceeded(self) -> Response:
        return self.error(429, "quota_exceeded", "Monthly quota exceeded. Upgrade your plan.")

    def rate_headers(self) -> dict[str, str]:
        return {"X-RateLimit-Limit": "30", "X-RateLimit-Remaining": "29",
                "X-RateLimit-Reset": str(int(time.time()) + 60)}

    def screenshot(self, rec: Received) -> Response:
        if not self.authorised(rec):
            return self.unauthorized()
        if rec.method == "GET":
            params, strict = self.query_params(rec), True
        elif rec.method == "POST" and rec.headers.get("content-type", "").startswith("application/json"):
            params, strict = rec.json, False
        else:
            return self.error(405, "method_not_allowed", "Use GET or POST JSON")
        rec.params = params
        unknown = sorted(set(params) - self.KNOWN)
        if unknown:
            return self.error(400, "validation_error", f"Unknown parameter: {unknown[0]}")
        try:
            merged = {**self.account_defaults, **params}
            if "url" not in merged:
                raise Invalid("url", "url is required")
            width = _int("width", merged.get("width", 1280), 320, 3840)
            height = _int("height", merged.get("height", 720), 240, 2160)
            fmt = _enum("format", merged.get("format", "png"), ("png", "jpeg", "webp"))
            if "quality" in merged:
                _int("quality", merged["quality"], 1, 100)
            _int("delay", merged.get("delay", 0), 0, 10_000)
            _enum("wait_until", merged.get("wait_until", "load"), ("load", "domcontentloaded", "networkidle"))
            flags = {name: _bool(name, merged.get(name, False), strict_text=strict)
                     for name in ("full_page", "retina", "dark_mode", "block_ads", "block_cookie_banners")}
            if "hide_selectors" in merged and not isinstance(merged["hide_selectors"], list | str):
                raise Invalid("hide_selectors", "hide_selectors must be a list or string")
        except Invalid as exc:
            return self.error(400, "validation_error", exc.message)
        size = self.output_size(width, height, 2.0 if flags["retina"] else 1.0,
                                full_page=flags["full_page"], element=False)
        resp = render(fmt, *size)
        resp.headers.update({**self.rate_headers(), "X-Response-Time": "812ms", "X-Cache": "MISS",
                             "X-Request-Id": "req_ss_42"})
        return resp

    def usage(self, rec: Received) -> Response:
        if not self.authorised(rec):
            return self.unauthorized()
        return json_response(200, {
            "plan": "starter",
            "period": {"start": "2026-11-01T00:00:00Z", "end": "2026-12-01T00:00:00Z"},
            "usage": {"requests": 12, "limit": 5000, "remaining": 4988, "percentage": 0.24},
            "breakdown": {"screenshot": 12}, "cache_hit_rate": 10, "avg_response_time_ms": 900,
        }, self.rate_headers())


# ====================================================================== ScreenshotOne (§2)
class ScreenshotOneFake(FakeApi):
    """``GET``/``POST /take`` and ``GET /usage``; ``access_key`` in query, body or X-Access-Key."""

    label = "ScreenshotOne"
    KNOWN = frozenset({
        "access_key", "signature", "url", "html", "markdown", "format", "image_quality", "viewport_width",
        "viewport_height", "viewport_device", "device_scale_factor", "viewport_mobile", "viewport_has_touch",
        "viewport_landscape", "full_page", "full_page_scroll", "selector", "error_on_selector_not_found",
        "capture_beyond_viewport", "omit_background", "dark_mode", "reduced_motion", "media_type", "styles",
        "scripts", "scripts_wait_until", "hide_selectors", "click", "hover", "block_ads",
        "block_cookie_banners", "block_banners_by_heuristics", "block_chats", "block_socials",
        "block_trackers", "block_annoyances", "block_requests", "block_resources", "delay", "timeout",
        "navigation_timeout", "wait_until", "wait_for_selector", "response_type", "cache", "cache_ttl",
        "cache_key", "user_agent", "authorization", "headers", "cookies", "proxy", "ip_country_code",
        "time_zone", "ignore_host_errors", "image_width", "image_height",
    })
    FORMATS = ("png", "jpeg", "jpg", "webp", "gif", "jp2", "tiff", "avif", "heif", "html", "pdf", "markdown")
    WAIT = ("load", "domcontentloaded", "networkidle0", "networkidle2")

    def install(self) -> None:
        self.route("/take", self.take)
        self.route("/usage", self.usage)

    def error(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
        return json_response(status, {
            "is_successful": False, "error_code": code, "error_message": message,
            "documentation_url": f"https://screenshotone.com/docs/errors/{code.replace('_', '-')}/",
        }, headers)

    def key_invalid(self) -> Response:
        return self.error(400, "access_key_invalid",
                          "Access key is invalid. Check the access key in the dashboard.")

    def quota_exceeded(self) -> Response:
        return self.error(400, "screenshots_limit_reached",
                          "You have reached the screenshots limit of your plan.")

    def concurrency_limited(self) -> Response:
        return self.error(400, "concurrency_limit_reached",
                          "You have reached the concurrency limit of your plan.")

    def rate_limited(self, retry_after: int = 1) -> Response:
        return self.error(429, "concurrency_limit_reached", "Too many requests.",
                          {"Retry-After": str(retry_after)})

    def _key(self, rec: Received, params: dict[str, Any]) -> str | None:
        return params.get("access_key") or rec.headers.get("x-access-key")

    def take(self, rec: Received) -> Response:
        if rec.method == "GET":
            params, strict = self.query_params(rec), True
        elif rec.method == "POST":
            params, strict = rec.json, False
        else:
            return self.error(405, "request_not_valid", "Method not allowed")
        rec.params = params
        key = self._key(rec, params)
        if not key:
            return self.error(400, "access_key_required", "Access key is required.")
        if key != self.key:
            return self.key_invalid()
        unknown = sorted(set(params) - self.KNOWN)
        if unknown:
            return self.error(400, "request_not_valid", f"\"{unknown[0]}\" is not allowed")
        try:
            if "url" not in params:
                raise Invalid("url", "url is required")
            fmt = _enum("format", params.get("format", "jpg"), self.FORMATS)
            width = _int("viewport_width", params.get("viewport_width", 1280), 1, 20_000)
            height = _int("viewport_height", params.get("viewport_height", 1024), 1, 20_000)
            scale = _num("device_scale_factor", params.get("device_scale_factor", 1), 1, 5)
            if "image_quality" in params:
                _int("image_quality", params["image_quality"], 0, 100)
                if fmt in ("png", "pdf"):
                    raise Invalid("image_quality", "image_quality is only allowed for jpeg and webp")
            _int("delay", params.get("delay", 0), 0, 30)  # seconds
            _int("timeout", params.get("timeout", 60), 0, 90)  # seconds
            waits = params.get("wait_until", [])
            for w in waits if isinstance(waits, list) else [waits]:
                _enum("wait_until", w, self.WAIT)
            flags = {name: _bool(name, params.get(name, False), strict_text=strict)
                     for name in ("full_page", "dark_mode", "block_ads", "block_cookie_banners",
                                  "cache", "error_on_selector_not_found")}
            if "cache_ttl" in params and not flags["cache"]:
                raise Invalid("cache_ttl", "cache_ttl is only allowed when cache=true")
            _enum("response_type", params.get("response_type", "by_format"), ("by_format", "empty", "json"))
        except Invalid as exc:
            return self.error(400, "request_not_valid", f"\"{exc.name}\": {exc.message}")
        fmt = "jpeg" if fmt == "jpg" else fmt
        if fmt not in _MEDIA:
            return self.error(400, "request_not_valid", "format not supported by this fake")
        size = self.output_size(width, height, scale, full_page=flags["full_page"],
                                element=bool(params.get("selector")))
        resp = render(fmt, *size)
        resp.headers["X-ScreenshotOne-HTTP-Response-Status-Code"] = "200"
        return resp

    def usage(self, rec: Received) -> Response:
        key = rec.q("access_key") or rec.headers.get("x-access-key")
        if key != self.key:
            return self.key_invalid()
        return json_response(200, {"total": 2000, "available": 1990, "used": 10,
                                   "concurrency": {"limit": 10, "remaining": 9,
                                                   "reset": 1_798_761_600_000_000_000}})


# ====================================================================== urlbox (§3)
class UrlboxFake(FakeApi):
    """``POST /v1/render/sync`` → JSON ``{renderUrl, size}``; the render link redirects to storage."""

    label = "urlbox"
    KNOWN = frozenset({
        "url", "html", "format", "width", "height", "full_page", "full_page_mode", "retina", "quality",
        "delay", "timeout", "wait_until", "wait_for", "selector", "click", "hover", "hide_selector",
        "block_ads", "hide_cookie_banners", "click_accept", "dark_mode", "reduced_motion", "transparent",
        "css", "js", "user_agent", "cookie", "cookies", "header", "headers", "force", "ttl", "thumb_width",
        "thumb_height", "response_type", "webhook_url", "fail_on_4xx", "fail_on_5xx", "use_s3",
        "save_html", "save_markdown", "save_metadata", "metadata",
    })
    _ids = itertools.count(1)

    def __init__(self, server: PageServer, key: str = KEY) -> None:
        self.renders_used = 41
        self.renders_allowed = 2000
        super().__init__(server, key)

    #: The id the adapter looks up to check a key without rendering.
    PROBE_ID = "00000000-0000-4000-8000-000000000000"

    def install(self) -> None:
        self.route("/v1/render/sync", self.render_sync)
        self.route(f"/v1/render/{self.PROBE_ID}", self.render_status)

    def render_status(self, rec: Received) -> Response:
        """``GET /v1/render/{renderId}``: 401 for a bad key, 404 for an id it never issued."""
        if rec.headers.get("authorization") != f"Bearer {self.key}":
            return self.unauthorized()
        return self.error(404, "NotFound", "Render not found")

    def error(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
        return json_response(status, {"error": {"message": message, "code": code, "errors": None},
                                      "requestId": "5f0c1d4e-0000-4000-8000-000000000001"}, headers)

    def usage_headers(self) -> dict[str, str]:
        return {
            "x-renders-used": str(self.renders_used),
            "x-renders-allowed": str(self.renders_allowed),
            "x-renders-remaining": str(self.renders_allowed - self.renders_used),
            "x-renders-reset": "Tue Dec 01 2026 00:00:00 GMT+0000 (Coordinated Universal Time)",
            "x-ratelimit-limit": "60", "x-ratelimit-remaining": "59",
            "x-ratelimit-reset": str(int(time.time()) + 60),
        }

    def unauthorized(self) -> Response:
        return self.error(401, "ApiKeyNotFound", "Api Key does not exist")

    def rate_limited(self, retry_after: int = 1) -> Response:
        return self.error(429, "TooManyRequests", "Too many requests, slow down",
                          {**self.usage_headers(), "Retry-After": str(retry_after),
                           "x-ratelimit-remaining": "0",
                           "x-ratelimit-reset": str(int(time.time()) + retry_after)})

    def quota_exceeded(self) -> Response:
        headers = {**self.usage_headers(), "x-renders-used": "2000", "x-renders-remaining": "0"}
        return self.error(429, "RenderLimitReached", "You have used all renders of your plan", headers)

    def render_sync(self, rec: Received) -> Response:
        if rec.method != "POST":
            return self.error(405, "MethodNotAllowed", "Use POST")
        if rec.headers.get("authorization") != f"Bearer {self.key}":
            return (self.error(401, "NoApiKeySupplied", "No api key supplied")
                    if "authorization" not in rec.headers else self.unauthorized())
        if not rec.headers.get("content-type", "").startswith("application/json"):
            return self.error(400, "InvalidOptions", "Body must be JSON")
        params = rec.json
        rec.params = params
        unknown = sorted(set(params) - self.KNOWN)
        if unknown:
            return self.error(400, "InvalidOptions", f"\"{unknown[0]}\" is not allowed")
        try:
            if "url" not in params:
                raise Invalid("url", "url is required")
            fmt = _enum("format", params.get("format", "png"),
                        ("avif", "html", "jpeg", "jpg", "md", "mhtml", "mp4", "pdf", "png", "svg", "webm",
                         "webp"))
            width = _int("width", params.get("width", 1280), 1, 10_000)
            height = _int("height", params.get("height", 1024), 1, 10_000)
            flags = {name: _bool(name, params.get(name, False), strict_text=False)
                     for name in ("full_page", "retina", "dark_mode", "block_ads", "hide_cookie_banners",
                                  "force", "fail_on_4xx", "fail_on_5xx")}
            if "quality" in params:
                _int("quality", params["quality"], 0, 100)
            if "delay" in params:
                _int("delay", params["delay"], 0, 60_000)  # ms
            _int("timeout", params.get("timeout", 30_000), 5_000, 100_000)  # ms
            if "wait_until" in params:
                _enum("wait_until", params["wait_until"],
                      ("domloaded", "loaded", "mostrequestsfinished", "requestsfinished"))
            if "hide_selector" in params and not isinstance(params["hide_selector"], str):
                raise Invalid("hide_selector", "hide_selector must be a string")
            response_type = _enum("response_type", params.get("response_type", "json"),
                                  ("base64", "binary", "json", "jsondebug", "none"))
        except Invalid as exc:
            return self.error(400, "InvalidOptions", exc.message)
        fmt = "jpeg" if fmt == "jpg" else fmt
        size = self.output_size(width, height, 2.0 if flags["retina"] else 1.0,
                                full_page=flags["full_page"], element=bool(params.get("selector")))
        image = render(fmt, *size)
        self.renders_used += 1
        headers = {**self.usage_headers(), "x-urlbox-request-id": "ub-req-7", "x-urlbox-cache-status": "miss",
                   "x-urlbox-render-time": "1234", "x-urlbox-rendered-by": "fake-1"}
        if response_type == "binary":
            image.headers.update(headers)
            return image
        render_id = next(self._ids)
        ext = "jpg" if fmt == "jpeg" else fmt
        link = f"/renders/{render_id}.{ext}"
        stored = f"/storage/{render_id}.{ext}"
        self.plain_route(link, lambda r: Response(302, b"", headers={"Location": stored},
                                                  content_type="text/plain"))
        self.plain_route(stored, lambda r: image)
        return json_response(200, {"renderUrl": self.base_url + link, "size": len(image.body)}, headers)


# ====================================================================== ApiFlash (§4)
class ApiFlashFake(FakeApi):
    """``GET``/``POST`` (form) ``/v1/urltoimage`` and ``GET /v1/urltoimage/quota``; access_key only."""

    label = "ApiFlash"
    KNOWN = frozenset({
        "access_key", "url", "format", "width", "height", "full_page", "scroll_page", "delay", "wait_for",
        "wait_until", "wait_until_timeout", "quality", "scale_factor", "thumbnail_width", "crop", "element",
        "element_overlap", "transparent", "no_ads", "no_cookie_banners", "no_tracking", "css", "js",
        "headers", "cookies", "user_agent", "accept_language", "proxy", "latitude", "longitude", "accuracy",
        "ip_location", "time_zone", "ttl", "fresh", "response_type", "extract_html", "extract_text",
        "fail_on_status",
    })

    def install(self) -> None:
        self.route("/v1/urltoimage", self.capture)
        self.route("/v1/urltoimage/quota", self.quota)

    def error(self, status: int, message: str, headers: dict[str, str] | None = None) -> Response:
        return json_response(status, {"message": message}, headers)

    def unauthorized(self) -> Response:
        return self.error(401, "The access key is invalid or missing.")

    def quota_exceeded(self) -> Response:
        return self.error(402, "The monthly screenshots quota of your plan is exceeded.")

    def rate_limited(self, retry_after: int = 1) -> Response:
        return self.error(429, "Too many requests.", {"Retry-After": str(retry_after)})

    def capture(self, rec: Received) -> Response:
        if rec.method == "GET":
            params = self.query_params(rec)
        elif rec.method == "POST" and rec.headers.get("content-type", "").startswith(
                "application/x-www-form-urlencoded"):
            params = self.form_params(rec)
        else:
            return self.error(400, "POST requests must be form-encoded.")
        rec.params = params
        if params.get("access_key") != self.key:
            return self.unauthorized()
        unknown = sorted(set(params) - self.KNOWN)
        if unknown:
            return self.error(400, f"Unknown parameter {unknown[0]}.")
        try:
            if "url" not in params:
                raise Invalid("url", "url is required")
            fmt = _enum("format", params.get("format", "jpeg"), ("jpeg", "png", "webp"))
            width = _int("width", params.get("width", 1920), 0, 7680)
            height = _int("height", params.get("height", 1080), 0, 4320)
            _int("delay", params.get("delay", 0), 0, 10)  # seconds
            _enum("wait_until", params.get("wait_until", "network_idle"),
                  ("dom_loaded", "page_loaded", "network_idle"))
            if "quality" in params:
                _int("quality", params["quality"], 0, 100)
            scale = _int("scale_factor", params.get("scale_factor", 1), 1, 2)
            flags = {name: _bool(name, params.get(name, "false"), strict_text=True)
                     for name in ("full_page", "no_ads", "no_cookie_banners", "fresh")}
            _enum("response_type", params.get("response_type", "image"), ("image", "json"))
        except Invalid as exc:
            return self.error(400, exc.message)
        size = self.output_size(width, height, scale, full_page=flags["full_page"],
                                element=bool(params.get("element")))
        return render(fmt, *size)

    def quota(self, rec: Received) -> Response:
        if rec.q("access_key") != self.key:
            return self.unauthorized()
        return json_response(200, {"limit": 100, "remaining": 88, "reset": 1_798_761_600})


# ====================================================================== Hermesforge (§5)
class HermesFake(FakeApi):
    """``GET /api/screenshot`` (X-API-Key optional) and ``GET /api/usage``."""

    label = "Hermesforge"
    KNOWN = frozenset({"url", "format", "viewport", "width", "height", "full_page", "wait_for"})

    def __init__(self, server: PageServer, key: str = KEY) -> None:
        self.anonymous_left = 10
        super().__init__(server, key)

    def install(self) -> None:
        self.route("/api/screenshot", self.screenshot)
        self.route("/api/usage", self.usage)

    def rate_limited(self, retry_after: int = 1) -> Response:
        return json_response(429, {"message": "Too many requests, slow down."},
                             {"Retry-After": str(retry_after)})

    def daily_limit(self) -> Response:
        return json_response(429, {"message": "Daily limit reached (10/day without an API key)."})

    def payment_required(self) -> Response:
        return json_response(402, {"message": "Payment required (x402)."})

    def screenshot(self, rec: Received) -> Response:
        params = self.query_params(rec)
        rec.params = params
        key = rec.headers.get("x-api-key")
        if key is not None and key != self.key:
            return json_response(401, {"detail": "Invalid API key"})
        if key is None:
            if self.anonymous_left <= 0:
                return self.daily_limit()
            self.anonymous_left -= 1
        unknown = sorted(set(params) - self.KNOWN)
        if unknown:
            return json_response(422, {"detail": [{"loc": ["query", unknown[0]], "msg": "extra field"}]})
        try:
            if "url" not in params:
                raise Invalid("url", "field required")
            fmt = _enum("format", params.get("format", "png"), ("png", "jpeg", "webp", "pdf"))
            width = _int("width", params.get("width", 1280), 320, 3840)
            height = _int("height", params.get("height", 800), 240, 2160)
            full = _bool("full_page", params.get("full_page", "false"), strict_text=True)
        except Invalid as exc:
            return json_response(422, {"detail": [{"loc": ["query", exc.name], "msg": exc.message}]})
        return render(fmt, *self.output_size(width, height, 1.0, full_page=full, element=False))

    def usage(self, rec: Received) -> Response:
        key = rec.headers.get("x-api-key")
        if key is not None and key != self.key:
            return json_response(401, {"detail": "Invalid API key"})
        tier = "free-key" if key else "anonymous"
        return json_response(200, {"tier": tier, "screenshots": {"used": 3, "limit": 100 if key else 10},
                                   "resets": "2026-11-22T00:00:00Z"})


# ====================================================================== SnapAPI (§6.1)
class SnapApiFake(FakeApi):
    """``POST /v1/screenshot`` (camelCase JSON) and ``GET /v1/usage``; X-Api-Key or Bearer."""

    label = "SnapAPI"
    KNOWN = frozenset({
        "url", "html", "markdown", "format", "quality", "responseType", "includeMetadata", "device", "width",
        "height", "deviceScaleFactor", "isMobile", "hasTouch", "isLandscape", "fullPage",
        "fullPageScrollDelay", "fullPageMaxHeight", "selector", "selectorScrollIntoView", "clipX", "clipY",
        "clipWidth", "clipHeight", "delay", "timeout", "waitUntil", "waitForSelector",
        "waitForSelectorTimeout", "darkMode", "reducedMotion", "css", "javascript", "hideSelectors",
        "clickSelector", "clickDelay", "blockAds", "blockTrackers", "blockCookieBanners", "blockChatWidgets",
        "blockResources", "userAgent", "extraHeaders", "cookies", "httpAuth", "proxy", "geolocation",
        "timezone", "locale", "failIfContentMissing", "failIfContentContains", "failOnHttpError", "cache",
        "cacheTtl", "extractMetadata", "thumbnail", "pdfOptions",
    })

    def install(self) -> None:
        self.route("/v1/screenshot", self.screenshot)
        self.route("/v1/usage", self.usage)

    def error(self, status: int, code: str, message: str, details: dict[str, Any] | None = None,
              headers: dict[str, str] | None = None) -> Response:
        err: dict[str, Any] = {"code": code, "message": message}
        if details is not None:
            err["details"] = details
        return json_response(status, {"error": err}, headers)

    def unauthorized(self) -> Response:
        return self.error(401, "INVALID_API_KEY", "The API key is invalid.")

    def quota_exceeded(self) -> Response:
        return self.error(402, "QUOTA_EXCEEDED", "Monthly quota exceeded.",
                          {"used": 200, "limit": 200, "resetAt": "2026-12-01T00:00:00Z"})

    def rate_limited(self, retry_after: int = 1) -> Response:
        return self.error(429, "RATE_LIMITED", "Rate limit exceeded.",
                          {"limit": 1, "retryAfter": retry_after},
                          {"Retry-After": str(retry_after), "X-RateLimit-Limit": "1",
                           "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(time.time()) + 1)})

    def authorised(self, rec: Received) -> bool:
        return (rec.headers.get("x-api-key") == self.key
                or rec.headers.get("authorization") == f"Bearer {self.key}")

    def screenshot(self, rec: Received) -> Response:
        if rec.method != "POST":
            return self.error(405, "INVALID_REQUEST", "Use POST")
        if not self.authorised(rec):
            return self.unauthorized()
        if not rec.headers.get("content-type", "").startswith("application/json"):
            return self.error(400, "INVALID_REQUEST", "Body must be JSON")
        params = rec.json
        rec.params = params
        unknown = sorted(set(params) - self.KNOWN)
        if unknown:
            return self.error(400, "INVALID_REQUEST", f"Unknown parameter '{unknown[0]}'")
        try:
            if "url" not in params:
                raise Invalid("url", "url is required")
            fmt = _enum("format", params.get("format", "png"), ("png", "jpeg", "webp", "avif", "pdf"))
            width = _int("width", params.get("width", 1280), 100, 3840)
            height = _int("height", params.get("height", 800), 100, 2160)
            scale = _num("deviceScaleFactor", params.get("deviceScaleFactor", 1), 1, 3)
            if "quality" in params:
                _int("quality", params["quality"], 1, 100)
            _int("delay", params.get("delay", 0), 0, 30_000)  # ms
            _int("timeout", params.get("timeout", 30_000), 1_000, 60_000)  # ms
            _enum("waitUntil", params.get("waitUntil", "load"), ("load", "domcontentloaded", "networkidle"))
            flags = {name: _bool(name, params.get(name, False), strict_text=False)
                     for name in ("fullPage", "darkMode", "blockAds", "blockCookieBanners",
                                  "failOnHttpError")}
            if "hideSelectors" in params and not isinstance(params["hideSelectors"], list):
                raise Invalid("hideSelectors", "hideSelectors must be an array")
            _enum("responseType", params.get("responseType", "binary"), ("binary", "base64", "json"))
        except Invalid as exc:
            return self.error(400, "INVALID_REQUEST", exc.message)
        if fmt == "avif":
            return self.error(400, "INVALID_FORMAT", "avif not rendered by this fake")
        size = self.output_size(width, height, scale, full_page=flags["fullPage"],
                                element=bool(params.get("selector")))
        resp = render(fmt, *size)
        resp.headers.update({"X-RateLimit-Limit": "5", "X-RateLimit-Remaining": "4",
                             "X-RateLimit-Reset": str(int(time.time()) + 1), "X-RateLimit-Window": "1s"})
        return resp

    def usage(self, rec: Received) -> Response:
        if not self.authorised(rec):
            return self.unauthorized()
        return json_response(200, {"used": 12, "limit": 5000, "remaining": 4988,
                                   "resetAt": "2026-12-01T00:00:00Z"})
