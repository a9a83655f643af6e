"""The shared TLS context of make_client: built once (in a worker thread by warm_up), still verifying.

Timing is not asserted here (see the report for the measured cost of make_client before and
after); these tests check the behaviour the speed-up relies on.
"""

from __future__ import annotations

import asyncio
import datetime
import ssl
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from shotdesk.capture.http import client as client_module
from shotdesk.capture.http.client import make_client, request, ssl_context, warm_up
from shotdesk.capture.http.retry import RetryPolicy
from shotdesk.core.errors import ProviderUnavailable


@pytest.fixture
def fresh_tls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Forget the process-wide context for this test; record the thread of every build."""
    monkeypatch.setattr(client_module._tls, "context", None)
    monkeypatch.setattr(client_module._tls, "warmed", False)
    threads: list[int] = []
    real = httpx.create_ssl_context

    def recording(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        threads.append(threading.get_ident())
        return real(*args, **kwargs)

    monkeypatch.setattr(httpx, "create_ssl_context", recording)
    return threads


def _pool_context(client: httpx.AsyncClient) -> Any:
    return client._transport._pool._ssl_context  # type: ignore[attr-defined]


def test_every_client_shares_one_context_built_once(fresh_tls: list[int]) -> None:
    async def main() -> list[Any]:
        clients = [make_client(base_url="https://api.example.com") for _ in range(5)]
        try:
            return [_pool_context(c) for c in clients]
        finally:
            for c in clients:
                await c.aclose()

    contexts = asyncio.run(main())
    assert len(fresh_tls) == 1
    assert all(ctx is ssl_context() for ctx in contexts)


def test_warm_up_builds_the_context_in_a_worker_thread_and_make_client_reuses_it(
        fresh_tls: list[int]) -> None:
    loop_thread: list[int] = []

    async def main() -> None:
        loop_thread.append(threading.get_ident())
        await warm_up()
        await warm_up()  # idempotent
        client = make_client()
        await client.aclose()

    asyncio.run(main())
    assert len(fresh_tls) == 1
    assert fresh_tls[0] != loop_thread[0]
    # what httpx would import lazily on the loop's thread is imported too
    assert "httpcore" in sys.modules and "anyio._backends._asyncio" in sys.modules


def test_concurrent_first_use_from_many_threads_builds_one_context(fresh_tls: list[int]) -> None:
    seen: list[ssl.SSLContext] = []
    barrier = threading.Barrier(6)

    def use() -> None:
        barrier.wait(timeout=10)
        seen.append(ssl_context())

    workers = [threading.Thread(target=use) for _ in range(6)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=10)
    assert len(seen) == 6 and len({id(c) for c in seen}) == 1
    assert len(fresh_tls) == 1


def test_the_shared_context_verifies_certificates_and_host_names() -> None:
    ctx = ssl_context()
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    assert ctx.cert_store_stats()["x509_ca"] > 0  # a CA bundle is loaded


# ---------------------------------------------------------------------------------- a real TLS server
@pytest.fixture
def self_signed_https(tmp_path: Path) -> Iterator[str]:
    """An HTTPS server on 127.0.0.1 with a self-signed certificate for 127.0.0.1."""
    crypto = pytest.importorskip("cryptography")
    del crypto
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert_file, key_file)
    server.socket = server_ctx.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_a_self_signed_server_is_refused_with_a_clear_error(self_signed_https: str) -> None:
    async def main() -> None:
        await warm_up()
        client = make_client(base_url=self_signed_https)
        try:
            await request(client, "GET", "/", provider="Example",
                          policy=RetryPolicy(max_attempts=1))
        finally:
            await client.aclose()

    with pytest.raises(ProviderUnavailable) as caught:
        asyncio.run(main())
    assert "certificate" in str(caught.value).lower(), caught.value
