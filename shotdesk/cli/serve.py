"""``shotdesk serve``: run the local capture engine in the foreground as a job-API server.

A team or a script can then capture through it with any HTTP client (or with ShotDesk's own
``--provider jobapi --api-base URL``). The server speaks the job API of PROVIDERS.md §7 plus
ShotDesk's extensions; every request but ``GET /health`` needs ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import secrets
import sys

from shotdesk.core.errors import InvalidSpec

TOKEN_ENV = "SHOTDESK_ENGINE_TOKEN"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "serve", help="run the local capture engine as a job-API server (foreground)",
        description="Run ShotDesk's QtWebEngine capture engine as an HTTP job-API server until "
                    "Ctrl-C / SIGTERM. It prints its URL and bearer token when ready.")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1; anything else exposes a browser "
                        "inside your network to whoever has the token)")
    p.add_argument("--port", type=int, default=0, help="port, 1–65535; 0 picks a free one (default)")
    p.add_argument("--token", help=f"bearer token clients must send (default: ${TOKEN_ENV} or a random one)")
    p.add_argument("--pool", type=int, default=None,
                   help="pages rendering at once, 1–16 (default: the engine pool size setting, 2)")
    p.add_argument("--dark", action="store_true",
                   help="render with prefers-color-scheme: dark (this server then takes dark-mode "
                        "requests only; run a second one for light captures)")
    p.set_defaults(func=run)


def _default_pool() -> int:
    try:
        from shotdesk.core.settings import load_settings

        return int(load_settings().engine_pool_size)
    except Exception:  # settings unreadable: the documented default
        return 2


def run(args: argparse.Namespace) -> int:
    if not 0 <= args.port <= 65535:
        raise InvalidSpec("port", f"port must be 0–65535, got {args.port}")
    pool = args.pool if args.pool is not None else _default_pool()
    if not 1 <= pool <= 16:
        raise InvalidSpec("pool", f"pool must be 1–16, got {pool}")
    token = args.token or os.environ.get(TOKEN_ENV) or secrets.token_urlsafe(24)
    if len(token) < 8:
        raise InvalidSpec("token", "token must be at least 8 characters")
    host = args.host
    if not _is_loopback(host):
        print(f"shotdesk: warning: listening on {host}: anyone who can reach it and knows the token "
              "can make this machine open any address, intranet pages included", file=sys.stderr)
    scheme = "dark" if args.dark else "light"

    def ready(port: int) -> None:
        shown = f"[{host}]" if ":" in host else host
        url = f"http://{shown}:{port}"
        pages = "1 page" if pool == 1 else f"{pool} pages"
        print(f"ShotDesk engine ({scheme} colour scheme, {pages}) listening on {url}")
        print(f"URL:   {url}")
        print(f"Token: {token}")
        print(f"Try:   curl -s -H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' "
              f"-d '{{\"url\": \"https://example.com\"}}' {url}/screenshots")
        print("Stop with Ctrl-C.", flush=True)

    from shotdesk.capture.engine.serve import run_server

    code = run_server(host=host, port=args.port, token=token, pool=pool, dark=bool(args.dark),
                      on_ready=ready)
    print("ShotDesk engine stopped.", flush=True)
    return code


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
