"""The real engine process rendering pages served on 127.0.0.1, checked pixel by pixel.

One engine process for the whole module (fixture ``engine``), a second, dark one only for the
dark-mode test.
"""

from __future__ import annotations

import socket

import pytest

from shotdesk.core.media import check_media
from tests.engine.conftest import ALLOWED_HOST, BLOCKED_HOST, EngineProcess
from tests.helpers.images import make_image, open_image
from tests.helpers.webserver import PageServer, Response

pytestmark = pytest.mark.engine

BLUE = (0, 128, 255)
WHITE = (255, 255, 255)

# A box of a known colour at a known place, and content taller than the viewport (so a browser
# would show a scrollbar).
BOX_PAGE = """<!doctype html><html><head><title>Box page</title><style>
html, body { margin: 0; background: #ffffff; }
#box { position: absolute; left: 40px; top: 30px; width: 200px; height: 100px; background: rgb(0,128,255); }
#tall { height: 3000px; }
</style></head><body><div id="box"></div><div id="tall"></div></body></html>"""

BAND_COLORS = [(230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
               (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60), (0, 128, 128)]


def bands_page(total: int, band: int) -> str:
    divs = "".join(f'<div style="height:{band}px;background:rgb{BAND_COLORS[i % len(BAND_COLORS)]}"></div>'
                   for i in range(total // band))
    return ("<!doctype html><html><head><style>html,body{margin:0}"
            "#hdr{position:fixed;top:0;left:0;right:0;height:40px;background:rgb(0,0,0)}</style></head>"
            f'<body><div id="hdr"></div>{divs}</body></html>')


def rgb(image, x: int, y: int) -> tuple[int, int, int]:
    if image.mode != "RGB":
        image = image.convert("RGB")
    return tuple(image.getpixel((x, y))[:3])


def near(a: tuple[int, ...], b: tuple[int, ...], tol: int = 6) -> bool:
    return all(abs(x - y) <= tol for x, y in zip(a, b, strict=True))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------------- sizes and pixels
def test_viewport_is_exactly_w_by_h_with_the_box_in_place_and_no_scrollbar(engine: EngineProcess,
                                                                            page_server: PageServer):
    url = page_server.add_page("/box", BOX_PAGE)
    out = engine.capture(url=url, width=1280, height=720)
    assert out.status == "completed", out.job
    image = open_image(out.data)
    assert image.format == "PNG"
    assert image.size == (1280, 720)
    assert (out.job["width"], out.job["height"]) == (1280, 720)
    assert out.job["title"] == "Box page"
    # the box: inside corners blue, just outside white
    assert rgb(image, 40, 30) == BLUE and rgb(image, 239, 129) == BLUE and rgb(image, 140, 80) == BLUE
    assert rgb(image, 39, 30) == WHITE and rgb(image, 40, 29) == WHITE
    assert rgb(image, 240, 129) == WHITE and rgb(image, 239, 130) == WHITE
    # no scrollbar: the right-most columns are page background from top to bottom
    assert all(rgb(image, x, y) == WHITE for x in (1265, 1272, 1279) for y in (5, 360, 715))


def test_other_viewport_size_and_scale_2(engine: EngineProcess, page_server: PageServer):
    url = page_server.add_page("/box", BOX_PAGE)
    small = open_image(engine.capture(url=url, width=800, height=600).data)
    assert small.size == (800, 600)
    out = engine.capture(url=url, width=640, height=480, scale=2)
    assert out.status == "completed", out.job
    image = open_image(out.data)
    assert image.size == (1280, 960)  # output px = CSS px × scale
    assert rgb(image, 80, 60) == BLUE and rgb(image, 479, 259) == BLUE
    assert rgb(image, 79, 60) == WHITE and rgb(image, 480, 259) == WHITE and rgb(image, 479, 260) == WHITE


def test_full_page_is_exactly_as_tall_as_the_page(engine: EngineProcess, page_server: PageServer):
    url = page_server.add_page("/bands", bands_page(3000, 500))
    out = engine.capture(url=url, width=1024, height=768, full_page=True)
    assert out.status == "completed", out.job
    image = open_image(out.data)
    assert image.size == (1024, 3000)
    for i in range(6):
        assert rgb(image, 500, i * 500 + 250) == BAND_COLORS[i], i
    assert rgb(image, 500, 10) == (0, 0, 0)  # the fixed header, once, at the top


def test_full_page_of_20000_px_is_exact_band_by_band(engine: EngineProcess, page_server: PageServer):
    band = 1000
    url = page_server.add_page("/tall", bands_page(20_000, band))
    out = engine.capture(url=url, width=800, height=600, full_page=True, timeout_s=120)
    assert out.status == "completed", out.job
    image = open_image(out.data).convert("RGB")
    assert image.size == (800, 20_000)
    print("20,000 px page rendered in", out.job["render_ms"], "ms")
    for i in range(20):
        top = i * band
        color = BAND_COLORS[i % len(BAND_COLORS)]
        first = top + 45 if i == 0 else top + 2  # below the 40 px fixed header
        rows = (first, top + band // 2, top + band - 2)
        for y in rows:
            assert rgb(image, 400, y) == color, (i, y, rgb(image, 400, y))
    # the fixed header appears once (top of the picture), not at the start of every chunk
    assert rgb(image, 400, 10) == (0, 0, 0)
    assert all(rgb(image, 400, y) != (0, 0, 0) for y in range(100, 20_000, 250))


def test_full_page_at_scale_2_beyond_one_grab_is_exact(engine: EngineProcess, page_server: PageServer):
    band = 1000
    url = page_server.add_page("/tall2", bands_page(9_000, band))
    out = engine.capture(url=url, width=640, height=480, scale=2, full_page=True, timeout_s=120)
    assert out.status == "completed", out.job
    image = open_image(out.data).convert("RGB")
    assert image.size == (1280, 18_000)  # 18,000 device px: captured in chunks
    for i in range(9):
        top = 2 * i * band
        first = top + 90 if i == 0 else top + 2
        for y in (first, top + band, top + 2 * band - 2):
            assert rgb(image, 640, y) == BAND_COLORS[i], (i, y, rgb(image, 640, y))
    assert rgb(image, 640, 20) == (0, 0, 0)
    assert all(rgb(image, 640, y) != (0, 0, 0) for y in range(200, 18_000, 250))


def test_full_page_scrolls_through_for_lazy_content(engine: EngineProcess, page_server: PageServer):
    green = make_image(200, 100, (0, 160, 0))
    page_server.routes["/lazy.png"] = Response(body=green, content_type="image/png")
    url = page_server.add_page("/lazy", """<!doctype html><html><body style="margin:0">
        <div style="height:3000px"></div>
        <div id="onscroll" style="width:200px;height:100px;background:rgb(255,0,0)"></div>
        <div style="height:1000px"></div>
        <img loading="lazy" src="/lazy.png" width="200" height="100" style="display:block">
        <div style="height:500px"></div>
        <script>
        window.addEventListener('scroll', function () {
          var el = document.getElementById('onscroll');
          if (el.getBoundingClientRect().top < window.innerHeight) el.style.background = 'rgb(0,0,255)';
        });
        </script></body></html>""")
    out = engine.capture(url=url, width=800, height=600, full_page=True)
    assert out.status == "completed", out.job
    image = open_image(out.data)
    assert image.size == (800, 4700)
    assert rgb(image, 100, 3050) == (0, 0, 255)  # a scroll-event loader ran
    assert near(rgb(image, 100, 4150), (0, 160, 0))  # the loading=lazy image is there
    assert page_server.hits("/lazy.png") == 1


APP_SHELL_PAGE = """<!doctype html><html><head><style>
html, body { margin: 0; height: 100%%; overflow: hidden; background: #fff; }
header { position: fixed; top: 0; left: 0; right: 0; height: 60px; background: rgb(0,0,0); }
#main { position: absolute; top: 60px; bottom: 0; left: 0; right: 0; overflow-y: auto; }
.band { height: 1000px; }
</style></head><body><header></header><div id="main">%s
<div id="end" style="height:100px;background:rgb(0,128,255)"></div>
<div id="late" style="height:100px;background:rgb(255,0,0)"></div></div>
<script>
var main = document.getElementById('main');
main.addEventListener('scroll', function () {  // a loader listening to the container's scroll
  var el = document.getElementById('late');
  if (el.getBoundingClientRect().top < main.getBoundingClientRect().bottom) {
    el.style.background = 'rgb(0,160,0)';
  }
});
</script></body></html>"""


def test_full_page_of_an_app_shell_that_scrolls_inside_an_element(engine: EngineProcess,
                                                                  page_server: PageServer):
    """The document never scrolls (html/body overflow hidden); a container under a fixed header
    does: the whole container is captured, as tall as its content."""
    bands = "".join(f'<div class="band" style="background:rgb{BAND_COLORS[i]}"></div>' for i in range(3))
    url = page_server.add_page("/shell", APP_SHELL_PAGE % bands)
    out = engine.capture(url=url, width=1024, height=768, full_page=True)
    assert out.status == "completed", out.job
    image = open_image(out.data).convert("RGB")
    assert image.size == (1024, 60 + 3000 + 200)
    assert rgb(image, 500, 30) == (0, 0, 0)  # the header, once, at the top
    for i in range(3):
        assert rgb(image, 500, 60 + i * 1000 + 500) == BAND_COLORS[i], i
    assert rgb(image, 500, 60 + 3000 + 50) == BLUE  # the container's last rows are there
    assert rgb(image, 500, 60 + 3000 + 150) == (0, 160, 0)  # its scroll-event loader ran


def test_a_fixed_height_scrolling_box_leaves_the_full_page_viewport_high(engine: EngineProcess,
                                                                          page_server: PageServer):
    """A box of fixed pixel height does not grow with the view: no white band is added below, and
    content too tall for one grab is no reason to refuse."""
    url = page_server.add_page("/fixed-box", """<!doctype html><html><head><style>
        html, body { margin: 0; height: 100%; overflow: hidden; background: rgb(255,255,255); }
        #box { height: 500px; overflow-y: auto; }
        </style></head><body><div id="box"><div style="height:20000px;background:rgb(0,128,255)"></div>
        </div></body></html>""")
    out = engine.capture(url=url, width=1024, height=768, full_page=True)
    assert out.status == "completed", out.job
    image = open_image(out.data).convert("RGB")
    assert image.size == (1024, 768)
    assert rgb(image, 500, 250) == BLUE and rgb(image, 500, 700) == WHITE


def test_an_app_shell_too_tall_for_one_piece_is_refused_with_a_clear_message(engine: EngineProcess,
                                                                               page_server: PageServer):
    bands = '<div class="band"></div>' * 20
    url = page_server.add_page("/shell-tall", APP_SHELL_PAGE % bands)
    out = engine.capture(url=url, width=800, height=600, full_page=True)
    assert out.status == "failed"
    assert out.kind == "format_limit"
    assert "scrolls inside an element" in out.error and "800×20,260 px" in out.error


def test_app_shell_viewport_capture_is_unchanged(engine: EngineProcess, page_server: PageServer):
    bands = "".join(f'<div class="band" style="background:rgb{BAND_COLORS[i]}"></div>' for i in range(3))
    url = page_server.add_page("/shell-vp", APP_SHELL_PAGE % bands)
    image = open_image(engine.capture(url=url, width=1024, height=768).data).convert("RGB")
    assert image.size == (1024, 768)
    assert rgb(image, 500, 30) == (0, 0, 0) and rgb(image, 500, 700) == BAND_COLORS[0]


def test_webp_taller_than_its_limit_is_refused_with_a_clear_message(engine: EngineProcess,
                                                                    page_server: PageServer):
    url = page_server.add_page("/tall", bands_page(20_000, 1000))
    out = engine.capture(url=url, width=800, height=600, full_page=True, format="webp")
    assert out.status == "failed"
    assert out.kind == "format_limit"
    assert "WebP images can be at most 16,383 px" in out.error
    assert "800×20,000 px" in out.error


def test_jpeg_and_webp_with_quality(engine: EngineProcess, page_server: PageServer):
    url = page_server.add_page("/box", BOX_PAGE)
    for fmt, pil_name in (("jpeg", "JPEG"), ("webp", "WEBP")):
        low = engine.capture(url=url, width=640, height=480, format=fmt, quality=10)
        high = engine.capture(url=url, width=640, height=480, format=fmt, quality=95)
        assert low.status == high.status == "completed"
        info = check_media(high.data, expected=fmt)
        assert (info.width, info.height) == (640, 480)
        image = open_image(high.data)
        assert image.format == pil_name
        assert near(rgb(image, 140, 80), BLUE)
        assert len(low.data) < len(high.data)


# ---------------------------------------------------------------------- page options
def test_dark_mode_flips_a_prefers_color_scheme_page(engine: EngineProcess, dark_engine: EngineProcess,
                                                     page_server: PageServer):
    url = page_server.add_page("/scheme", """<!doctype html><html><head><style>
        html, body { margin: 0; height: 100%; background: rgb(250, 250, 250); }
        @media (prefers-color-scheme: dark) { html, body { background: rgb(20, 20, 20); } }
        </style></head><body></body></html>""")
    light = engine.capture(url=url, width=640, height=480)
    dark = dark_engine.capture(url=url, width=640, height=480, dark_mode=True)
    assert light.status == dark.status == "completed"
    assert rgb(open_image(light.data), 300, 300) == (250, 250, 250)
    assert rgb(open_image(dark.data), 300, 300) == (20, 20, 20)
    # each engine refuses the other scheme instead of rendering it wrongly
    wrong = engine.client.post("/screenshots", json={"url": url, "dark_mode": True})
    assert wrong.status_code == 422
    assert "light colour scheme only" in wrong.json()["detail"][0]["msg"]


def test_blocked_tracker_never_reaches_the_server(engine: EngineProcess, page_server: PageServer):
    port = page_server.port
    page_server.routes["/pixel.png"] = Response(body=make_image(10, 10), content_type="image/png")
    page_server.routes["/tracker.js"] = Response(body=b"window.tracked = 1;", content_type="text/javascript")
    page_server.routes["/lib.js"] = Response(body=b"window.lib = 1;", content_type="text/javascript")
    url = page_server.add_page("/ads", f"""<!doctype html><html><body>
        <img src="http://{BLOCKED_HOST}:{port}/pixel.png?blocked">
        <script src="http://{BLOCKED_HOST}:{port}/tracker.js"></script>
        <script src="http://{ALLOWED_HOST}:{port}/lib.js"></script>
        <img src="http://{ALLOWED_HOST}:{port}/pixel.png?allowed"></body></html>""")

    out = engine.capture(url=url, width=640, height=480, block_ads=True)
    assert out.status == "completed", out.job
    assert page_server.hits("/tracker.js") == 0
    assert not any("blocked" in r.path for r in page_server.requests)
    assert page_server.hits("/lib.js") == 1  # the same server, under a host that is not listed

    # without blocking, the tracker's requests do arrive (the host mapping works)
    assert engine.capture(url=url, width=640, height=480).status == "completed"
    assert page_server.hits("/tracker.js") == 1
    assert any(r.headers.get("host", "").startswith(BLOCKED_HOST) for r in page_server.requests)


def test_selector_captures_the_element_at_its_size(engine: EngineProcess, page_server: PageServer):
    url = page_server.add_page("/el", """<!doctype html><html><head><style>
        body { margin: 0; }
        #card { margin: 900px 0 0 100px; width: 300px; height: 200px; background: rgb(200, 30, 30);
                border-top: 10px solid rgb(0, 0, 0); box-sizing: border-box; }
        </style></head><body><div id="card"></div><div style="height:2000px"></div></body></html>""")
    out = engine.capture(url=url, width=1280, height=720, selector="#card")
    assert out.status == "completed", out.job
    image = open_image(out.data)
    assert image.size == (300, 200)
    assert rgb(image, 150, 5) == (0, 0, 0) and rgb(image, 150, 100) == (200, 30, 30)
    assert rgb(image, 0, 199) == (200, 30, 30) and rgb(image, 299, 10) == (200, 30, 30)
    double = open_image(engine.capture(url=url, width=1280, height=720, selector="#card", scale=2).data)
    assert double.size == (600, 400)


def test_selector_matching_nothing_is_a_clear_error(engine: EngineProcess, page_server: PageServer):
    url = page_server.add_page("/box", BOX_PAGE)
    out = engine.capture(url=url, selector="#nowhere")
    assert out.status == "failed"
    assert out.kind == "selector_not_found"
    assert out.error == "No element on the page matches the selector '#nowhere'"
    bad = engine.capture(url=url, selector="div[")
    assert bad.kind == "invalid" and "not valid CSS" in bad.error


def test_pdf_is_a_valid_pdf(engine: EngineProcess, page_server: PageServer):
    url = page_server.add_page("/doc", "<!doctype html><html><head><title>Doc</title></head><body>"
                               "<h1>Quarterly report</h1><p>Some text.</p></body></html>")
    out = engine.capture(url=url, format="pdf")
    assert out.status == "completed", out.job
    assert out.job["media_type"] == "application/pdf"
    assert out.data.startswith(b"%PDF-")
    assert check_media(out.data, expected="pdf").format == "pdf"
    assert b"/Type /Page" in out.data or b"/Type/Page" in out.data


def test_hide_selectors_cookie_banners_custom_css_and_js(engine: EngineProcess, page_server: PageServer):
    url = page_server.add_page("/banners", """<!doctype html><html><head><style>
        html, body { margin: 0; background: rgb(255, 255, 255); }
        #onetrust-banner-sdk { position: fixed; left: 0; right: 0; bottom: 0; height: 200px;
                               background: rgb(0, 0, 0); }
        #promo { position: absolute; left: 0; top: 0; width: 300px; height: 100px;
                 background: rgb(255, 0, 0); }
        </style></head><body><div id="promo"></div>
        <div id="onetrust-banner-sdk">We use cookies</div></body></html>""")
    plain = open_image(engine.capture(url=url, width=640, height=480).data)
    assert rgb(plain, 320, 400) == (0, 0, 0) and rgb(plain, 100, 50) == (255, 0, 0)

    hidden = open_image(engine.capture(url=url, width=640, height=480, hide_cookie_banners=True,
                                       hide_selectors=["#promo"]).data)
    assert rgb(hidden, 320, 400) == WHITE and rgb(hidden, 100, 50) == WHITE

    styled = open_image(engine.capture(url=url, width=640, height=480,
                                       css="html, body { background: rgb(10, 200, 10) !important; }").data)
    assert rgb(styled, 600, 250) == (10, 200, 10)

    scripted = engine.capture(url=url, width=640, height=480,
                              js="document.getElementById('promo').style.background = 'rgb(0, 0, 255)';")
    assert rgb(open_image(scripted.data), 100, 50) == (0, 0, 255)

    broken = engine.capture(url=url, js="throw new Error('nope')")
    assert broken.kind == "invalid" and "The custom JavaScript failed: nope" in broken.error


def test_delay_and_network_idle_wait_for_late_content(engine: EngineProcess, page_server: PageServer):
    page_server.routes["/late.png"] = Response(body=make_image(100, 100, (0, 160, 0)),
                                               content_type="image/png", delay_s=0.4)
    url = page_server.add_page("/late", """<!doctype html><html><body style="margin:0">
        <div id="t" style="width:100px;height:100px;background:rgb(255,0,0)"></div>
        <script>
        setTimeout(function () { document.getElementById('t').style.background = 'rgb(0,0,255)'; }, 400);
        setTimeout(function () {
          var img = new Image();
          img.src = '/late.png';
          img.style.display = 'block';
          document.body.appendChild(img);
        }, 300);
        </script></body></html>""")
    early = open_image(engine.capture(url=url, width=640, height=480).data)
    assert rgb(early, 50, 50) == (255, 0, 0)  # captured before the timer fired
    delayed = open_image(engine.capture(url=url, width=640, height=480, delay_ms=1500).data)
    assert rgb(delayed, 50, 50) == (0, 0, 255)
    idle = open_image(engine.capture(url=url, width=640, height=480, wait_until="networkidle").data)
    assert near(rgb(idle, 50, 150), (0, 160, 0))  # the late image is in the picture


def test_user_agent_is_sent(engine: EngineProcess, page_server: PageServer):
    # dialogs must not block the engine: alert/confirm/prompt answer at once
    url = page_server.add_page("/ua", "<html><body>ua<script>alert('hi'); confirm('sure?'); prompt('name?');"
                                      "document.title = navigator.userAgent;</script></body></html>")
    out = engine.capture(url=url, user_agent="ShotDeskTest/1.0", timeout_s=10)
    assert out.status == "completed", out.job
    assert out.job["title"] == "ShotDeskTest/1.0"  # what scripts see, too
    agents = [r.headers.get("user-agent") for r in page_server.requests if r.route == "/ua"]
    assert agents == ["ShotDeskTest/1.0"]


# ---------------------------------------------------------------------- failures
def test_http_error_status_and_refused_port_are_page_load_errors(engine: EngineProcess,
                                                                  page_server: PageServer):
    missing = engine.capture(url=page_server.url("/missing"))
    assert missing.status == "failed"
    assert missing.kind == "page_load"
    assert missing.error == "The page answered 404 Not Found"

    page_server.routes["/boom"] = Response(500, b"oops")
    assert engine.capture(url=page_server.url("/boom")).error == "The page answered 500 Internal Server Error"

    port = free_port()
    refused = engine.capture(url=f"http://127.0.0.1:{port}/")
    assert refused.kind == "page_load"
    assert refused.error == f"127.0.0.1:{port} refused the connection"
    assert "server running" in refused.job["hint"]

    unknown = engine.capture(url="http://nosuchhost.invalid/")
    assert unknown.kind == "page_load"
    assert unknown.error == "Could not find the host nosuchhost.invalid"


def test_timeout(engine: EngineProcess, page_server: PageServer):
    page_server.routes["/slow"] = Response(body=b"<html><body>slow</body></html>", delay_s=4)
    out = engine.capture(url=page_server.url("/slow"), timeout_s=1)
    assert out.status == "failed"
    assert out.kind == "timeout"
    assert out.error == "The page did not finish within 1 s"
    # the engine goes on working after a timeout
    again = engine.capture(url=page_server.add_page("/ok", BOX_PAGE), width=640, height=480)
    assert again.status == "completed"


def test_long_poll_holds_until_done_and_image_is_409_before(engine: EngineProcess, page_server: PageServer):
    page_server.routes["/slowish"] = Response(body=BOX_PAGE.encode(), delay_s=1.5)
    job_id = engine.submit(url=page_server.url("/slowish"), width=640, height=480)
    first = engine.client.get(f"/jobs/{job_id}").json()
    assert first["status"] in ("pending", "processing")
    assert first["image_url"] is None and first["completed_at"] is None
    assert engine.client.get(f"/jobs/{job_id}/image").status_code == 409
    done = engine.client.get(f"/jobs/{job_id}", params={"wait": 30}).json()  # one request, no polling
    assert done["status"] == "completed"
    assert done["image_url"] == f"/jobs/{job_id}/image"
    assert done["progress"] == 1.0 and done["render_ms"] > 0 and done["completed_at"].endswith("Z")
    assert open_image(engine.client.get(done["image_url"]).content).size == (640, 480)


def test_auth_and_validation(engine: EngineProcess, page_server: PageServer):
    import httpx

    anonymous = httpx.post(engine.base_url + "/screenshots", json={"url": page_server.url("/")})
    assert anonymous.status_code == 401
    assert httpx.get(engine.base_url + "/health").json()["ok"] is True
    bad = engine.client.post("/screenshots", json={"url": page_server.url("/"), "width": 99999})
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "width"]
    assert "width must be 320–3840 px, got 99999" in bad.json()["detail"][0]["msg"]
