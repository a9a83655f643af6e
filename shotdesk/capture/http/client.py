"""The HTTP client every adapter uses: one factory, one retry loop, one place httpx errors are caught.

For adapter authors — the whole API::

    from shotdesk.capture.http import (RateLimiter, RetryPolicy, error_for_response, make_client,
                                       request, send)

    class FooProvider:
        def __init__(self, *, base_url=None, api_key=None, client=None):
            self._base = check_base_url(base_url or DEFAULT_BASE, provider="Foo")
            self._key = api_key
            self._client = client or make_client(base_url=self._base)   # one per provider
            self._owns_client = client is None
            self._limiter = RateLimiter(provider="Foo")                  # optional

        async def capture(self, spec, progress=None):
            self.capabilities.check(self.id, spec)
            response = await request(
                self._client, "GET", "/v1/screenshot", params={...},
                headers={"Authorization": f"Bearer {self._key}"},
                provider="Foo", limiter=self._limiter, secrets=(self._key,),
                classify=lambda r: error_for_response(r, provider="Foo", codes=CODES,
                                                      secrets=(self._key,)))
            info = check_media(response.content, expected=spec.format,
                               content_type=response.headers.get("content-type"), source="Foo")
            ...

        async def aclose(self):
            if self._owns_client:
                await self._client.aclose()

* :func:`make_client` — an ``httpx.AsyncClient`` with ShotDesk's defaults: connect 10 s, read
  100 s (renders are slow; PROVIDERS.md §0), pool limits, ``User-Agent: ShotDesk/<version>``,
  ``follow_redirects`` off unless asked (urlbox needs it on), and the shared TLS context of
  :func:`ssl_context`. Pass ``transport=`` in tests.
* :func:`ssl_context` / :func:`warm_up` — one ``ssl.SSLContext`` for every client, built once.
  Building one reads the whole CA bundle (20–55 ms); httpx would do that for each new client,
  on the calling thread — the GUI thread at the window's first capture. ``await warm_up()`` at
  start builds it in a worker thread instead, and imports there what httpx would import lazily
  at the first client and the first connection (httpcore, anyio's asyncio backend).
* :func:`request` — build and send one request with retries; returns the ``httpx.Response``
  (body read) that ``classify`` accepted, or raises a typed ``CaptureError``.
  :func:`send` is the same for a prepared ``httpx.Request`` or a zero-argument factory of one.
* ``classify(response) -> CaptureError | None`` decides what a response means: ``None`` = good,
  return it; an error = retried when the policy says so (transient errors), else raised. The
  default is :func:`~shotdesk.capture.http.errors.error_for_response` (``None`` for every 2xx).
  Adapters refine it with their error-code table; they may also reject a 2xx (a JSON body that
  says "failed").
* ``policy`` (:class:`~shotdesk.capture.http.retry.RetryPolicy`) bounds attempts and total time;
  ``limiter`` (:class:`~shotdesk.capture.http.ratelimit.RateLimiter`) is fed every response's
  headers and holds requests while the budget is spent.
* ``secrets`` — the key(s) of this request, masked in any message built from a response.

Transport failures become typed errors in :func:`_attempt` only: refused / unreachable →
``ProviderUnavailable`` ("Could not reach Foo at api.foo.com"), read/write/pool timeouts →
``CaptureTimeout`` ("Foo did not answer within 100 s"), a connection cut mid-answer (truncated
body) → ``ProviderUnavailable``, a bad address → ``InvalidRequest``, too many redirects or an
undecodable body → ``BadResponse``. Messages name the host, never the query string or headers.
Nothing outside this module catches httpx exceptions. Importing it also installs
:class:`RedactingFilter` on the ``httpx``/``httpcore`` loggers (httpx logs every request URL at
INFO, query keys included).
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import ssl
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import httpx

from shotdesk import __version__
from shotdesk.capture.http.errors import error_for_response
from shotdesk.capture.http.ratelimit import RateLimiter
from shotdesk.capture.http.retry import RetryPolicy
from shotdesk.capture.http.urls import redact_text
from shotdesk.core.errors import (
    BadResponse,
    CaptureError,
    CaptureTimeout,
    InvalidRequest,
    ProviderUnavailable,
    RateLimited,
)
from shotdesk.core.urls import is_loopback_host

log = logging.getLogger(__name__)


class _KnownSecrets:
    """Every key :func:`send` has been given in this process, for :class:`RedactingFilter`.

    A key is not always under a key-like name: a custom template may put it in ``?k=`` or in the
    path, where :func:`redact_url` cannot see it. The keys are in this process's memory anyway
    (the adapters hold them); the filter runs on whatever thread logs, hence the lock.
    """

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._lock = threading.Lock()

    def add(self, secrets: Iterable[str | None]) -> None:
        new = {s for s in secrets if s and len(s) >= 4}
        if new and not new <= self._values:
            with self._lock:
                self._values |= new

    def snapshot(self) -> tuple[str, ...]:
        with self._lock:
            return tuple(self._values)


_known_secrets = _KnownSecrets()


class RedactingFilter(logging.Filter):
    """Masks key-like query parameters in every URL of a log record (see :func:`redact_text`),
    and every key :func:`send` was given, wherever it stands.

    httpx logs each request as ``HTTP Request: GET https://…?access_key=… "HTTP/1.1 200 OK"`` at
    INFO; some providers take the key in the query. Installed on the ``httpx`` and ``httpcore``
    loggers when this module is imported, so the key never reaches a handler.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is the logging module's business, not ours
            return True
        redacted = redact_text(message, _known_secrets.snapshot())
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def install_log_redaction() -> None:
    """Put a :class:`RedactingFilter` on the loggers of the HTTP libraries (idempotent)."""
    for name in ("httpx", "httpcore"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in logger.filters):
            logger.addFilter(RedactingFilter())


install_log_redaction()

USER_AGENT = f"ShotDesk/{__version__}"
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 100.0
#: Renders are slow: short connect, long read (PROVIDERS.md §0).
DEFAULT_TIMEOUT = httpx.Timeout(READ_TIMEOUT, connect=CONNECT_TIMEOUT, write=30.0, pool=60.0)
#: For health, usage and quota calls.
SHORT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
#: Keep every connection of a burst alive (fewer keep-alive slots than concurrent captures means a
#: new TCP connection for each capture beyond them).
DEFAULT_LIMITS = httpx.Limits(max_connections=32, max_keepalive_connections=32, keepalive_expiry=30.0)
DEFAULT_POLICY = RetryPolicy()

#: ``classify(response)``: ``None`` when the response is usable, else the error it means.
Classifier = Callable[[httpx.Response], CaptureError | None]
RequestFactory = Callable[[], httpx.Request]


class _SharedTLS:
    """The process-wide TLS context (built once) and whether :func:`warm_up` has run."""

    def __init__(self) -> None:
        self.context: ssl.SSLContext | None = None
        self.warmed = False
        self.lock = threading.Lock()


_tls = _SharedTLS()


def ssl_context() -> ssl.SSLContext:
    """The TLS context every ShotDesk client shares, built on first use (thread-safe).

    Exactly what httpx builds by default for ``verify=True``: certificate and host-name checks
    against certifi's CA bundle, or ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` when set (read once, at
    the first build). Sharing is safe: every client uses it the same way (HTTP/1.1 only, no
    client certificate), and an ``SSLContext`` may serve many connections and threads.
    """
    context = _tls.context
    if context is None:
        with _tls.lock:
            if _tls.context is None:
                _tls.context = httpx.create_ssl_context(verify=True, trust_env=True)
            context = _tls.context
    return context


#: What httpx imports lazily on the calling thread: httpcore (and h11) when a client is made,
#: anyio's asyncio backend at the first connection (~40 ms together on the test machine).
_LAZY_MODULES = ("httpcore", "httpcore._backends.anyio", "anyio._backends._asyncio")


def _prepare() -> None:
    ssl_context()
    for name in _LAZY_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:  # another httpx/httpcore layout: it imports what it needs itself
            log.debug("warm-up: %s not importable", name)


async def warm_up() -> None:
    """Do in a worker thread what the first client and first request would do on the event
    loop's thread: build the shared TLS context and import httpx's lazily imported transport
    modules. Idempotent and cheap once done; the window awaits it at start."""
    if not _tls.warmed:
        await asyncio.to_thread(_prepare)
        _tls.warmed = True


def make_client(*, base_url: str | None = None, timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
                follow_redirects: bool = False, headers: Mapping[str, str] | None = None,
                limits: httpx.Limits = DEFAULT_LIMITS,
                transport: httpx.AsyncBaseTransport | None = None) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` with ShotDesk's timeouts, pool limits, User-Agent and TLS context.

    Create one per provider and keep it (connection pooling); close it with ``aclose()``.
    ``base_url`` should already have passed :func:`~shotdesk.capture.http.urls.check_base_url`.
    TLS uses the shared :func:`ssl_context` (built here if :func:`warm_up` has not run yet).
    """
    all_headers = {"User-Agent": USER_AGENT, **(dict(headers) if headers else {})}
    kwargs: dict[str, Any] = {}
    if base_url:
        kwargs["base_url"] = base_url.rstrip("/") + "/"
    if transport is not None:
        kwargs["transport"] = transport
    return httpx.AsyncClient(timeout=timeout, follow_redirects=follow_redirects, headers=all_headers,
                             limits=limits, verify=ssl_context(), **kwargs)


async def request(client: httpx.AsyncClient, method: str, url: str, *, provider: str,
                  params: Mapping[str, Any] | None = None, json: Any = None,
                  content: bytes | str | None = None, data: Mapping[str, Any] | None = None,
                  headers: Mapping[str, str] | None = None,
                  timeout: httpx.Timeout | float | None = None,  # noqa: ASYNC109 - httpx's per-request timeout
                  policy: RetryPolicy | None = None,
                  limiter: RateLimiter | None = None, classify: Classifier | None = None,
                  secrets: Iterable[str | None] = ()) -> httpx.Response:
    """Build ``method url`` on ``client`` and :func:`send` it (retries, limiter, typed errors).

    ``url`` may be relative to the client's ``base_url`` (no leading slash needed).
    """
    kwargs: dict[str, Any] = {"params": params, "json": json, "content": content, "data": data,
                              "headers": headers}
    if timeout is not None:
        kwargs["timeout"] = timeout
    kwargs = {k: v for k, v in kwargs.items() if v is not None}

    def build() -> httpx.Request:
        return client.build_request(method, url, **kwargs)

    return await send(client, build, provider=provider, policy=policy, limiter=limiter,
                      classify=classify, secrets=secrets)


async def send(client: httpx.AsyncClient, request: httpx.Request | RequestFactory, *, provider: str,
               policy: RetryPolicy | None = None, limiter: RateLimiter | None = None,
               classify: Classifier | None = None,
               secrets: Iterable[str | None] = ()) -> httpx.Response:
    """Send ``request`` until ``classify`` accepts a response or the policy gives up.

    Returns the accepted response with its body read. Raises the last typed error — with
    "(after N attempts)" appended when it was retried. Cancellation propagates untouched.
    """
    policy = policy or DEFAULT_POLICY
    secrets = tuple(secrets)
    _known_secrets.add(secrets)
    if classify is None:
        def classify(response: httpx.Response) -> CaptureError | None:
            return error_for_response(response, provider=provider, secrets=secrets)
    started = policy.clock()
    for attempt in range(1, max(1, policy.max_attempts) + 1):
        req = request() if callable(request) else request
        status: int | None = None
        headers: Mapping[str, str] = {}
        if limiter is not None:
            async with limiter.slot():
                result = await _attempt(client, req, provider=provider, secrets=secrets)
                if isinstance(result, httpx.Response):
                    limiter.update(result.headers, status=result.status_code)
        else:
            result = await _attempt(client, req, provider=provider, secrets=secrets)
        if isinstance(result, httpx.Response):
            status, headers = result.status_code, result.headers
            error = classify(result)
            if log.isEnabledFor(logging.DEBUG):
                log.debug("%s %s → %d%s", req.method, redact_text(str(req.url), secrets), status,
                          f" ({type(error).__name__})" if error else "")
            if error is None:
                return result
            await result.aclose()
        else:
            error = result
            if log.isEnabledFor(logging.DEBUG):
                log.debug("%s %s → %s", req.method, redact_text(str(req.url), secrets),
                          type(error).__name__)
        decision = policy.decide(attempt, elapsed=policy.clock() - started, status=status,
                                 headers=headers, error=error)
        if not decision.retry:
            if attempt > 1:
                error.message = f"{error.message} (after {attempt} attempts)"
            raise error
        if limiter is not None and isinstance(error, RateLimited):
            limiter.pause(decision.delay)
        log.info("%s: %s; retry %d in %.2f s (%s)", provider, type(error).__name__, attempt,
                 decision.delay, decision.reason)
        await policy.sleep(decision.delay)
    raise AssertionError("unreachable: the policy ends the loop")  # pragma: no cover


async def _attempt(client: httpx.AsyncClient, request: httpx.Request, *, provider: str,
                   secrets: tuple[str | None, ...]) -> httpx.Response | CaptureError:
    """One try. THE place where httpx exceptions are caught and turned into typed errors."""
    try:
        return await client.send(request)
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        return transport_error(exc, provider=provider, request=request, secrets=secrets)


def transport_error(exc: Exception, *, provider: str, request: httpx.Request,
                    secrets: Iterable[str | None] = ()) -> CaptureError:
    """The typed error an httpx exception means (pure; used by :func:`_attempt`)."""
    url = request.url
    host = url.host + (f":{url.port}" if url.port else "")
    local = is_loopback_host(url.host)
    where_hint = ("is the server running on this computer?" if local else
                  "check your internet connection and the provider's address in Settings")
    reason = redact_text(str(exc), secrets).strip()
    if isinstance(exc, httpx.ConnectTimeout):
        return ProviderUnavailable(f"Could not reach {provider} at {host}: the connection timed out",
                                   hint=where_hint)
    if isinstance(exc, httpx.TimeoutException):
        seconds = _timeout_of(request, exc)
        within = f" within {seconds:g} s" if seconds else " in time"
        return CaptureTimeout(f"{provider} did not answer{within}",
                              hint="the page may be slow or the service busy; try again or raise "
                                   "the timeout")
    if isinstance(exc, httpx.ProxyError):
        return ProviderUnavailable(f"Could not reach {provider} at {host} through the proxy",
                                   hint="check the proxy settings (HTTPS_PROXY / NO_PROXY)")
    if isinstance(exc, httpx.ConnectError):
        why = f" ({_short(reason)})" if reason else ""
        return ProviderUnavailable(f"Could not reach {provider} at {host}{why}", hint=where_hint)
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL | httpx.LocalProtocolError):
        return InvalidRequest(f"The address of {provider} cannot be used ({_short(reason) or 'bad URL'})",
                              hint="check the provider's address (base URL) in Settings")
    if isinstance(exc, httpx.TooManyRedirects):
        return BadResponse(f"{provider} redirected too many times", hint="check the provider's address")
    if isinstance(exc, httpx.DecodingError):
        return BadResponse(f"{provider} sent a response that could not be decoded",
                           hint="try again; nothing was saved")
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        return ProviderUnavailable(f"The connection to {provider} at {host} broke off before the "
                                   "answer was complete", hint="try again; nothing was saved")
    return ProviderUnavailable(f"Could not talk to {provider} at {host} ({type(exc).__name__})",
                               hint=where_hint)


def _timeout_of(request: httpx.Request, exc: Exception) -> float | None:
    timeouts = request.extensions.get("timeout")
    if not isinstance(timeouts, Mapping):
        return None
    key = ("read" if isinstance(exc, httpx.ReadTimeout) else "write" if isinstance(exc, httpx.WriteTimeout)
           else "pool" if isinstance(exc, httpx.PoolTimeout) else None)
    value = timeouts.get(key) if key else None
    return float(value) if isinstance(value, int | float) else None


def _short(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
