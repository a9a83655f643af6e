"""A real HTTP server on 127.0.0.1 for tests: serves pages, records every request.

Runs in a background thread (``ThreadingHTTPServer``) on a free port, so it works from sync
tests, asyncio tests and from a separate engine process alike.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Handler = Callable[["Request"], "Response"]


@dataclass
class Request:
    method: str
    path: str  # with the query string
    headers: dict[str, str]
    body: bytes
    client: str

    @property
    def route(self) -> str:
        return self.path.split("?", 1)[0]


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "text/html; charset=utf-8"
    delay_s: float = 0.0


class PageServer:
    """Routes map a path (without query) to a Response or a callable taking the Request."""

    def __init__(self) -> None:
        self.routes: dict[str, Response | Handler] = {}
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        server = self

        class _H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                req = Request(self.command, self.path, {k.lower(): v for k, v in self.headers.items()},
                              body, self.client_address[0])
                with server._lock:
                    server.requests.append(req)
                route = server.routes.get(req.route)
                if route is None:
                    resp = Response(404, b"not found", content_type="text/plain")
                else:
                    resp = route(req) if callable(route) else route
                if resp.delay_s:
                    time.sleep(resp.delay_s)
                try:
                    self.send_response(resp.status)
                    self.send_header("Content-Type", resp.content_type)
                    for k, v in resp.headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(resp.body)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(resp.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = _handle

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _H)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="PageServer", daemon=True)

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def add_page(self, path: str, html: str, **kw: Any) -> str:
        self.routes[path] = Response(body=html.encode("utf-8"), **kw)
        return self.url(path)

    def hits(self, route: str) -> int:
        with self._lock:
            return sum(1 for r in self.requests if r.route == route)

    def start(self) -> PageServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> PageServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
