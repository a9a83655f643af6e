"""The job-API server over real HTTP on 127.0.0.1, driving a fake renderer (no Qt, fast)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from shotdesk.capture.engine.common import (
    RenderOutput,
    error_kind,
    host_blocked,
    load_blocklist,
    parse_host_list,
)
from shotdesk.capture.engine.server import EngineServer
from shotdesk.capture.providers.jobapi import ERROR_KINDS as JOB_ERROR_KINDS
from shotdesk.core.errors import (
    CaptureTimeout,
    EngineCrashed,
    FormatLimit,
    InvalidRequest,
    PageLoadError,
    SelectorNotFound,
)
from shotdesk.core.spec import CaptureSpec
from tests.helpers.images import make_image

TOKEN = "s3cret-token"


class FakeRenderer:
    """Renders a PNG of the requested size after ``gate`` opens; raises what a URL asks for."""

    def __init__(self, dark: bool = False) -> None:
        self.dark = dark
        self.pool_size = 2
        self.gate = asyncio.Event()
        self.gate.set()
        self.specs: list[CaptureSpec] = []
        self.cancelled = 0

    async def render(self, spec: CaptureSpec, progress: Any = None) -> RenderOutput:
        self.specs.append(spec)
        if progress:
            progress(0.3, "Loading the page")
        try:
            await self.gate.wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        if "fail404" in spec.url:
            raise PageLoadError("The page answered 404 Not Found", hint="check the address")
        if "bug" in spec.url:
            raise RuntimeError("kaboom")
        w, h = spec.output_size
        return RenderOutput(make_image(w, h), "image/png", w, h, "Fake title", spec.url, 12)

    async def aclose(self) -> None:
        pass


class SteppedRenderer(FakeRenderer):
    """Reports its progress in steps, each after ``step`` is set (then cleared)."""

    STEPS = ((0.3, "Loading the page"), (0.6, "Captured part 1 of 2"), (0.85, "Captured part 2 of 2"))

    def __init__(self, dark: bool = False) -> None:
        super().__init__(dark)
        self.step = asyncio.Event()

    async def render(self, spec: CaptureSpec, progress: Any = None) -> RenderOutput:
        for n, (fraction, text) in enumerate(self.STEPS):
            if n:
                await self.step.wait()
                self.step.clear()
            progress(fraction, text)
        await self.step.wait()
        w, h = spec.output_size
        return RenderOutput(make_image(w, h), "image/png", w, h, "Stepped", spec.url, 5)


def run_with_server(test: Callable[[httpx.AsyncClient, Any, EngineServer], Awaitable[None]],
                    *, dark: bool = False, renderer_class: type[FakeRenderer] = FakeRenderer) -> None:
    async def main() -> None:
        renderer = renderer_class(dark)
        server = EngineServer(renderer, TOKEN)
        port = await server.start("127.0.0.1", 0)
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10,
                                         headers={"Authorization": f"Bearer {TOKEN}"}) as client:
                await test(client, renderer, server)
        finally:
            await server.close()

    asyncio.run(main())


def test_submit_poll_and_fetch_image():
    async def body(client: httpx.AsyncClient, renderer: FakeRenderer, server: EngineServer) -> None:
        resp = await client.post("/screenshots", json={"url": "http://127.0.0.1:9999/x", "width": 800,
                                                       "height": 600, "format": "png", "full_page": False,
                                                       "block_ads": True, "dark_mode": False, "scale": 2,
                                                       "hide_selectors": ["#a", ".b"]})
        assert resp.status_code == 202
        job_id = resp.json()["job_id"]
        assert resp.json()["status"] == "pending"
        assert resp.headers["Location"] == f"/jobs/{job_id}"
        job = (await client.get(f"/jobs/{job_id}", params={"wait": 5})).json()
        assert job["status"] == "completed"
        assert job["image_url"] == f"/jobs/{job_id}/image"
        assert job["error"] is None and job["error_kind"] is None
        assert (job["width"], job["height"], job["media_type"]) == (1600, 1200, "image/png")
        assert job["title"] == "Fake title" and job["render_ms"] == 12 and job["progress"] == 1.0
        assert job["created_at"].endswith("Z") and job["completed_at"].endswith("Z")
        image = await client.get(job["image_url"])
        assert image.status_code == 200 and image.headers["content-type"] == "image/png"
        assert image.content.startswith(b"\x89PNG")
        spec = renderer.specs[0]
        assert spec.block_ads and spec.scale == 2.0 and spec.hide_selectors == ("#a", ".b")

    run_with_server(body)


def test_long_poll_waits_for_the_job_and_image_is_409_until_done():
    async def body(client: httpx.AsyncClient, renderer: FakeRenderer, server: EngineServer) -> None:
        renderer.gate.clear()
        job_id = (await client.post("/screenshots", json={"url": "http://127.0.0.1:9999/"})).json()["job_id"]
        await asyncio.sleep(0.05)
        running = (await client.get(f"/jobs/{job_id}", params={"wait": 0.2})).json()
        assert running["status"] == "processing"  # the wait ended before the job did
        assert running["progress"] == 0.3 and running["image_url"] is None and running["completed_at"] is None
        assert (await client.get(f"/jobs/{job_id}/image")).status_code == 409

        async def open_gate() -> None:
            await asyncio.sleep(0.3)
            renderer.gate.set()

        opener = asyncio.ensure_future(open_gate())
        done = (await client.get(f"/jobs/{job_id}", params={"wait": 5})).json()
        await opener
        assert done["status"] == "completed"

    run_with_server(body)


def test_long_poll_with_since_answers_at_each_progress_step():
    async def body(client: httpx.AsyncClient, renderer: SteppedRenderer, server: EngineServer) -> None:
        job_id = (await client.post("/screenshots", json={"url": "http://127.0.0.1:9999/"})).json()["job_id"]
        first = (await client.get(f"/jobs/{job_id}", params={"wait": 5, "since": 0})).json()
        assert (first["progress"], first["progress_text"]) == (0.3, "Loading the page")
        seen = [first["progress_text"]]
        seq = first["progress_seq"]
        for _ in range(3):
            poll = asyncio.ensure_future(client.get(f"/jobs/{job_id}", params={"wait": 5, "since": seq}))
            await asyncio.sleep(0.2)
            assert not poll.done()  # held: nothing moved on since ``seq``
            renderer.step.set()
            job = (await poll).json()
            assert job["progress_seq"] > seq
            seq = job["progress_seq"]
            seen.append(job["progress_text"] if job["status"] != "completed" else job["status"])
        assert seen == ["Loading the page", "Captured part 1 of 2", "Captured part 2 of 2", "completed"]
        stale = (await client.get(f"/jobs/{job_id}", params={"wait": 5, "since": 0})).json()
        assert stale["status"] == "completed"  # an old ``since`` answers at once
        bad = await client.get(f"/jobs/{job_id}", params={"wait": 5, "since": "soon"})
        assert bad.status_code == 422 and "since" in bad.text

    run_with_server(body, renderer_class=SteppedRenderer)


def test_the_engine_client_reports_every_step_without_sleeping():
    from shotdesk.capture.providers.jobapi import JobApiProvider
    from tests.http.server import RecordingSleep

    async def body(client: httpx.AsyncClient, renderer: SteppedRenderer, server: EngineServer) -> None:
        sleep = RecordingSleep()
        provider = JobApiProvider(base_url=str(client.base_url).rstrip("/"), api_key=TOKEN, extended=True,
                                  provider_id="local", sleep=sleep, long_poll_s=5, wait_margin_s=2)
        texts: list[str] = []

        def progress(fraction: float | None, text: str) -> None:
            texts.append(text)
            if text.startswith("Captured part") or text == "Loading the page":
                renderer.step.set()  # the engine moves on once the client has seen this step

        try:
            result = await provider.capture(CaptureSpec(url="http://127.0.0.1:9999/", width=320, height=240,
                                                        timeout_s=8), progress)
        finally:
            await provider.aclose()
        assert (result.width, result.height) == (320, 240)
        wanted = [text for _, text in SteppedRenderer.STEPS]
        assert [t for t in texts if t in wanted] == wanted
        assert sleep.delays == []  # each answer came because the job moved on, not from a server
        #                            that ignores long-polls

    run_with_server(body, renderer_class=SteppedRenderer)


def test_failures_carry_error_kind_message_and_hint():
    async def body(client: httpx.AsyncClient, renderer: FakeRenderer, server: EngineServer) -> None:
        job_id = (await client.post("/screenshots", json={"url": "http://127.0.0.1:9999/fail404"})).json()["job_id"]
        job = (await client.get(f"/jobs/{job_id}", params={"wait": 5})).json()
        assert job["status"] == "failed"
        assert job["error"] == "The page answered 404 Not Found"
        assert job["error_kind"] == "page_load" and job["hint"] == "check the address"
        assert job["image_url"] is None and job["completed_at"]
        image = await client.get(f"/jobs/{job_id}/image")
        assert image.status_code == 409 and "404 Not Found" in image.json()["detail"]

        job_id = (await client.post("/screenshots", json={"url": "http://127.0.0.1:9999/bug"})).json()["job_id"]
        job = (await client.get(f"/jobs/{job_id}", params={"wait": 5})).json()
        assert job["error_kind"] == "engine" and "kaboom" in job["error"]
        health = (await client.get("/health")).json()
        assert health["failed"] == 2 and health["ok"] is True  # still serving

    run_with_server(body)


def test_auth_is_required_except_for_health():
    async def body(client: httpx.AsyncClient, renderer: FakeRenderer, server: EngineServer) -> None:
        base = str(client.base_url)
        async with httpx.AsyncClient(base_url=base) as anonymous:
            assert (await anonymous.get("/health")).json()["ok"] is True
            resp = await anonymous.post("/screenshots", json={"url": "http://127.0.0.1:9999/"})
            assert resp.status_code == 401 and resp.headers["WWW-Authenticate"] == "Bearer"
            wrong = await anonymous.get("/jobs/x", headers={"Authorization": "Bearer nope"})
            assert wrong.status_code == 401
        assert renderer.specs == []
        assert TOKEN not in resp.text

    run_with_server(body)


def test_invalid_requests_are_400_or_422_naming_the_field():
    async def body(client: httpx.AsyncClient, renderer: FakeRenderer, server: EngineServer) -> None:
        not_json = await client.post("/screenshots", content=b"{nope",
                                     headers={"Content-Type": "application/json"})
        assert not_json.status_code == 400 and "not valid JSON" in not_json.json()["detail"]
        cases = [
            ({"width": 800}, "url", "url is required"),
            ({"url": "file:///etc/passwd"}, "url", "Only http and https"),
            ({"url": "http://127.0.0.1/", "width": 99999}, "width", "width must be 320–3840 px, got 99999"),
            ({"url": "http://127.0.0.1/", "format": "gif"}, "format", "format must be one of"),
            ({"url": "http://127.0.0.1/", "colour": "red"}, "colour", "Unknown option 'colour'"),
            ({"url": "http://127.0.0.1/", "dark_mode": True}, "dark_mode", "light colour scheme only"),
        ]
        for payload, field, message in cases:
            resp = await client.post("/screenshots", json=payload)
            assert resp.status_code == 422, payload
            detail = resp.json()["detail"][0]
            assert detail["loc"] == ["body", field], payload
            assert message in detail["msg"], (payload, detail)
        assert renderer.specs == []  # nothing invalid reached the renderer
        missing = await client.get("/jobs/doesnotexist")
        assert missing.status_code == 404 and "Unknown job" in missing.json()["detail"]
        assert (await client.get("/jobs/doesnotexist/image")).status_code == 404
        job_id = (await client.post("/screenshots", json={"url": "http://127.0.0.1:9999/"})).json()["job_id"]
        bad_wait = await client.get(f"/jobs/{job_id}", params={"wait": "soon"})
        assert bad_wait.status_code == 422 and bad_wait.json()["detail"][0]["loc"] == ["query", "wait"]

    run_with_server(body)


def test_delete_cancels_a_running_job():
    async def body(client: httpx.AsyncClient, renderer: FakeRenderer, server: EngineServer) -> None:
        renderer.gate.clear()
        job_id = (await client.post("/screenshots", json={"url": "http://127.0.0.1:9999/"})).json()["job_id"]
        await asyncio.sleep(0.05)
        assert (await client.delete(f"/jobs/{job_id}")).status_code == 204
        await asyncio.sleep(0.05)
        assert renderer.cancelled == 1
        assert (await client.get(f"/jobs/{job_id}")).status_code == 404

    run_with_server(body)


def test_dark_engine_accepts_dark_requests_only():
    async def body(client: httpx.AsyncClient, renderer: FakeRenderer, server: EngineServer) -> None:
        ok = await client.post("/screenshots", json={"url": "http://127.0.0.1:9999/", "dark_mode": True})
        assert ok.status_code == 202
        light = await client.post("/screenshots", json={"url": "http://127.0.0.1:9999/"})
        assert light.status_code == 422 and "dark colour scheme only" in light.json()["detail"][0]["msg"]
        assert (await client.get("/health")).json()["dark"] is True

    run_with_server(body, dark=True)


# ---------------------------------------------------------------------- pure helpers
def test_error_kinds_round_trip():
    for exc, kind in ((PageLoadError("x"), "page_load"), (SelectorNotFound("x"), "selector_not_found"),
                      (CaptureTimeout("x"), "timeout"), (FormatLimit("x"), "format_limit"),
                      (InvalidRequest("x"), "invalid"), (EngineCrashed("x"), "engine"),
                      (RuntimeError("x"), "engine")):
        assert error_kind(exc) == kind
        # the job-API client turns the kind back into the same typed error
        assert error_kind(JOB_ERROR_KINDS[kind]("msg")) == kind


def test_block_list_matches_hosts_and_their_subdomains():
    text = "# comment\nads.example.com\n\n0.0.0.0 tracker.net  # hosts-file style\n*.wild.org\n"
    hosts = parse_host_list(text)
    assert hosts == {"ads.example.com", "tracker.net", "wild.org"}
    assert host_blocked("ads.example.com", hosts)
    assert host_blocked("x.y.ADS.example.com.", hosts)
    assert host_blocked("cdn.tracker.net", hosts)
    assert not host_blocked("example.com", hosts)
    assert not host_blocked("notads.example.com", hosts)
    assert not host_blocked("tracker.network", hosts)
    shipped = load_blocklist(["extra.test"])
    assert len(shipped) > 300
    for host in ("www.google-analytics.com", "securepubads.g.doubleclick.net", "connect.facebook.net",
                 "static.hotjar.com", "extra.test"):
        assert host_blocked(host, shipped), host
    for host in ("example.com", "github.com", "fonts.googleapis.com", "127.0.0.1"):
        assert not host_blocked(host, shipped), host
