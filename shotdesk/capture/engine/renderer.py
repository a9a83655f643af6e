"""The QtWebEngine renderer: a pool of offscreen pages that turn a CaptureSpec into bytes.

Runs on the thread of the ``QApplication`` (a qasync loop). Measured tricks from
ENGINE-NOTES.md:

* exact viewport: the view is ``width × scale`` by ``height × scale`` device pixels, the page zoom
  is ``scale`` (so ``devicePixelRatio`` is the scale and the CSS viewport is ``width × height``),
  scrollbars off;
* settle before grab: ``innerHeight × zoom == view height``, two ``requestAnimationFrame`` s, then
  grab until two grabs ~250 ms apart are identical (bounded);
* full page: lazy-load pre-scroll, measure ``scrollHeight`` once, resize the view to it; beyond
  :data:`SAFE_GRAB_PX` device pixels the page is captured in chunks (scroll + grab + stitch), with
  fixed and sticky elements hidden after the first chunk so they do not repeat; an "app shell"
  (the document does not scroll, an element filling most of the viewport does) is pre-scrolled
  inside that element and captured with the view made taller by what the element hides, since
  such an element is sized by the viewport (in one piece, up to SAFE_GRAB_PX);
* dark mode is process-wide (``--blink-settings=preferredColorScheme=0``): a renderer is either
  dark or light and refuses the other kind of request;
* encoding with Pillow in an executor, never on the event-loop thread.

Every failure is one of the typed errors of :mod:`shotdesk.core.errors`.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import math
import time
from collections.abc import Callable, Coroutine
from http import HTTPStatus
from typing import Any, TypeVar
from urllib.parse import urlsplit

from PIL import Image
from PySide6.QtCore import QMarginsF, QObject, QRect, QUrl
from PySide6.QtGui import QColor, QImage, QPageLayout, QPageSize
from PySide6.QtWebEngineCore import (
    QWebEngineLoadingInfo,
    QWebEnginePage,
    QWebEngineProfile,
    QWebEngineScript,
    QWebEngineSettings,
    QWebEngineUrlRequestInfo,
    QWebEngineUrlRequestInterceptor,
)
from PySide6.QtWebEngineWidgets import QWebEngineView

from shotdesk.capture.engine.common import (
    JPEG_MAX_PX,
    WEBP_MAX_PX,
    ProgressFn,
    RenderOutput,
    cookie_banner_css,
    default_blocklist,
    hide_selectors_css,
    host_blocked,
)
from shotdesk.core.errors import (
    CaptureTimeout,
    EngineCrashed,
    FormatLimit,
    InvalidRequest,
    PageLoadError,
    SelectorNotFound,
)
from shotdesk.core.media import MAX_PIXELS
from shotdesk.core.spec import CaptureSpec

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Tallest single grab, in device pixels (below OpenGL's 16,384 px texture limit).
SAFE_GRAB_PX = 16_000
#: Largest single grab in pixels (a grab is held as 32-bit pixels: 48 MP ≈ 190 MB).
SAFE_GRAB_AREA = 48_000_000
#: Height of one chunk when a page is taller than SAFE_GRAB_PX (device pixels) ...
CHUNK_PX = 10_000
#: ... and at most this many pixels per chunk (wide views at scale 3 get lower chunks).
CHUNK_AREA = 24_000_000
#: Longest wait for the frame marker to show up in a grab.
MARKER_WAIT_S = 3.0
#: Two grabs this far apart must be identical before a picture counts as settled.
STABLE_GAP_S = 0.25
#: At most this many extra grabs while waiting for a settled picture.
MAX_STABLE_GRABS = 8
#: Network idle: the resource count must stay unchanged this long ...
NETWORK_QUIET_S = 0.5
#: ... and the wait gives up (and captures anyway) after this long.
NETWORK_IDLE_MAX_S = 15.0
#: Lazy-load pre-scroll budget.
PRESCROLL_MAX_S = 3.0
PRESCROLL_STEP_MS = 40
#: How much taller the view is made first, to see whether an app shell's scrolling element grows
#: with it (CSS px).
GROWTH_PROBE_PX = 64
#: Zlib level for PNG: 3 is ~2× faster than Pillow's default 6 for a few % more bytes.
PNG_COMPRESS_LEVEL = 3
#: A single runJavaScript answer must come within this time.
JS_TIMEOUT_S = 10.0

_APP_WORLD = int(QWebEngineScript.ScriptWorldId.ApplicationWorld.value)
_MAIN_WORLD = int(QWebEngineScript.ScriptWorldId.MainWorld.value)

# Chromium net error codes (net/base/net_error_list.h) that deserve their own message.
_ERR_ABORTED = -3
_ERR_TIMED_OUT = -7
_ERR_CONNECTION_CLOSED = -100
_ERR_CONNECTION_RESET = -101
_ERR_CONNECTION_REFUSED = -102
_ERR_NAME_NOT_RESOLVED = -105
_ERR_INTERNET_DISCONNECTED = -106
_ERR_ADDRESS_UNREACHABLE = -109
_ERR_CONNECTION_TIMED_OUT = -118
_ERR_NAME_RESOLUTION_FAILED = -137
_ERR_UNSAFE_PORT = -312
_ERR_EMPTY_RESPONSE = -324


# ---------------------------------------------------------------------- page-side scripts
_METRICS_JS = """JSON.stringify({
  w: window.innerWidth, h: window.innerHeight, y: window.scrollY,
  sh: Math.max(document.documentElement ? document.documentElement.scrollHeight : 0,
               document.body ? document.body.scrollHeight : 0),
  title: document.title, ready: document.readyState})"""

_RAF_START_JS = """window.__shotdeskRaf = 0;
requestAnimationFrame(function () { requestAnimationFrame(function () { window.__shotdeskRaf = 1; }); });
0"""

_RAF_DONE_JS = "window.__shotdeskRaf === 1"

#: Colours of the 1 px frame marker (unusual, distinct in every channel).
_MARKER_COLORS: tuple[tuple[int, int, int], ...] = ((255, 0, 254), (1, 254, 3))
# Show (colour string) or remove (null) the frame marker in the top-left corner.
_MARKER_JS = """(function (color) {
  var m = document.getElementById('__shotdesk_marker');
  if (!color) { if (m) m.remove(); return 0; }
  if (!m) {
    m = document.createElement('div');
    m.id = '__shotdesk_marker';
    m.style.cssText = 'position:fixed;left:0;top:0;width:1px;height:1px;z-index:2147483647;' +
                      'pointer-events:none;margin:0;padding:0;border:0;display:block;opacity:1';
    document.documentElement.appendChild(m);
  }
  m.style.setProperty('background', color, 'important');
  return 1;
})(%s)"""

_IDLE_JS = """JSON.stringify({
  ready: document.readyState,
  images: Array.prototype.every.call(document.images, function (img) {
    if (img.complete) return true;
    if (img.loading === 'lazy') {
      var r = img.getBoundingClientRect();
      return r.top > window.innerHeight || r.bottom < 0;
    }
    return false;
  }),
  resources: performance.getEntriesByType('resource').length})"""

_IMAGES_DONE_JS = """Array.prototype.every.call(document.images, function (img) {
  return img.complete || img.loading === 'lazy' && img.getBoundingClientRect().top > window.innerHeight;
})"""

# Scroll through the page once (scroll-event lazy loaders), then back to the top; with ``inner``
# true, through the element _SCROLLER_JS marked instead of the window.
_PRESCROLL_JS = """(function (inner) {
  window.__shotdeskScrolled = 0;
  var el = inner ? document.querySelector('[data-shotdesk-scroller]') : null;
  var target = el || window;
  function view() { return el ? el.clientHeight : window.innerHeight; }
  function height() {
    if (el) return el.scrollHeight;
    return Math.max(document.documentElement.scrollHeight, document.body ? document.body.scrollHeight : 0);
  }
  var y = 0, step = Math.max(200, view()), t0 = Date.now();
  function next() {
    y += step;
    target.scrollTo({top: y, left: 0, behavior: 'instant'});
    if (y + view() >= height() || Date.now() - t0 > %(budget)d) {
      setTimeout(function () {
        target.scrollTo({top: 0, left: 0, behavior: 'instant'});
        window.__shotdeskScrolled = 1;
      }, %(step)d);
      return;
    }
    setTimeout(next, %(step)d);
  }
  next();
  return 0;
})(%(inner)s)"""

# An "app shell": the document does not scroll (html/body overflow hidden, a fixed header) but an
# element filling most of the viewport does. Marks the largest such element and returns how much
# taller its content is than its box, or null when the document scrolls itself or none is found.
_SCROLLER_JS = """(function () {
  var de = document.documentElement, b = document.body;
  var old = document.querySelector('[data-shotdesk-scroller]');
  if (old) old.removeAttribute('data-shotdesk-scroller');
  if (Math.max(de.scrollHeight, b ? b.scrollHeight : 0) > window.innerHeight + 1) return 'null';
  var best = null, area = 0, all = document.querySelectorAll('body *');
  for (var i = 0; i < all.length; i++) {
    var el = all[i];
    if (el.scrollHeight <= el.clientHeight + 1) continue;
    var oy = getComputedStyle(el).overflowY;
    if (oy !== 'auto' && oy !== 'scroll' && oy !== 'overlay') continue;
    var r = el.getBoundingClientRect();
    if (r.width < window.innerWidth / 2 || r.height < window.innerHeight / 2) continue;
    if (r.width * r.height > area) { best = el; area = r.width * r.height; }
  }
  if (!best) return 'null';
  best.setAttribute('data-shotdesk-scroller', '1');
  return JSON.stringify({extra: best.scrollHeight - best.clientHeight});
})()"""

# The marked element's box height (CSS px), or -1.
_SCROLLER_HEIGHT_JS = """(function () {
  var el = document.querySelector('[data-shotdesk-scroller]');
  return el ? el.clientHeight : -1;
})()"""

_SCROLL_TO_JS = """(function () {
  window.scrollTo({top: %s, left: 0, behavior: 'instant'});
  return JSON.stringify(window.scrollY);
})()"""

# Hide fixed and sticky elements so they do not repeat in every chunk.
_HIDE_FIXED_JS = """(function () {
  var n = 0, all = document.querySelectorAll('body *');
  for (var i = 0; i < all.length; i++) {
    var pos = getComputedStyle(all[i]).position;
    if (pos === 'fixed' || pos === 'sticky') {
      all[i].style.setProperty('visibility', 'hidden', 'important');
      n++;
    }
  }
  return n;
})()"""

_RECT_JS = """(function (sel) {
  var el;
  try {
    el = document.querySelector(sel);
  } catch (e) {
    return JSON.stringify({error: String(e.message || e)});
  }
  if (!el) return JSON.stringify({found: false});
  var r = el.getBoundingClientRect();
  return JSON.stringify({found: true, x: r.left + window.scrollX, y: r.top + window.scrollY,
                         w: r.width, h: r.height});
})(%s)"""

_USER_JS = """(function () {
  try {
    (function () {
%s
    })();
    return JSON.stringify({ok: true});
  } catch (e) {
    return JSON.stringify({ok: false, error: String(e && e.message || e)});
  }
})()"""

# Adds one <style> element as early as possible and keeps it last in <head>.
_STYLE_JS = """(function (css) {
  var ID = '__shotdesk_style';
  function add() {
    var old = document.getElementById(ID);
    var parent = document.head || document.documentElement;
    if (!parent) return false;
    var s = old || document.createElement('style');
    s.id = ID;
    s.textContent = css;
    parent.appendChild(s);
    return true;
  }
  if (!add()) document.addEventListener('readystatechange', add, {once: true});
  document.addEventListener('DOMContentLoaded', add, {once: true});
})(%s);"""


# ---------------------------------------------------------------------- Qt helpers
class _Blocker(QWebEngineUrlRequestInterceptor):
    """Blocks sub-resource requests to listed ad and tracker hosts (never the page itself)."""

    def __init__(self, hosts: frozenset[str], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.hosts = hosts
        self.enabled = False
        self.blocked = 0

    def interceptRequest(self, info: QWebEngineUrlRequestInfo) -> None:
        if not self.enabled:
            return
        if info.resourceType() == QWebEngineUrlRequestInfo.ResourceType.ResourceTypeMainFrame:
            return
        if host_blocked(info.requestUrl().host(), self.hosts):
            info.block(True)
            self.blocked += 1


class _Page(QWebEnginePage):
    """A page that never opens a dialog: alerts, confirms and prompts answer at once."""

    def javaScriptAlert(self, securityOrigin: QUrl | str, msg: str) -> None:
        pass

    def javaScriptConfirm(self, securityOrigin: QUrl | str, msg: str) -> bool:
        return False

    def javaScriptPrompt(self, securityOrigin: QUrl | str, msg: str, defaultValue: str) -> tuple[bool, str]:
        return False, ""

    def javaScriptConsoleMessage(self, level: QWebEnginePage.JavaScriptConsoleMessageLevel, message: str,
                                 lineNumber: int, sourceID: str) -> None:
        pass


class _Slot:
    """One offscreen view with its own off-the-record profile (user agent, interceptor)."""

    def __init__(self, hosts: frozenset[str]) -> None:
        self.profile = QWebEngineProfile()  # no storage name: off the record
        self.profile.setHttpCacheType(QWebEngineProfile.HttpCacheType.NoCache)
        self.default_ua = self.profile.httpUserAgent()
        self.blocker = _Blocker(hosts)  # Python reference kept: Qt does not own it
        self.profile.setUrlRequestInterceptor(self.blocker)
        self.view = QWebEngineView()
        self.page = _Page(self.profile, self.view)
        self.view.setPage(self.page)
        self.page.setBackgroundColor(QColor(255, 255, 255))
        settings = self.page.settings()
        settings.setAttribute(QWebEngineSettings.WebAttribute.ShowScrollBars, False)
        settings.setAttribute(QWebEngineSettings.WebAttribute.ScrollAnimatorEnabled, False)
        settings.setAttribute(QWebEngineSettings.WebAttribute.ErrorPageEnabled, False)
        settings.setAttribute(QWebEngineSettings.WebAttribute.PluginsEnabled, False)
        settings.setAttribute(QWebEngineSettings.WebAttribute.PdfViewerEnabled, False)
        self.dead = False
        self.crashed: asyncio.Future[str] | None = None
        self.page.renderProcessTerminated.connect(self._terminated)
        self.view.resize(1280, 720)
        self.view.show()

    def _terminated(self, status: QWebEnginePage.RenderProcessTerminationStatus, code: int) -> None:
        if status == QWebEnginePage.RenderProcessTerminationStatus.NormalTerminationStatus:
            return
        self.dead = True
        reason = {
            QWebEnginePage.RenderProcessTerminationStatus.CrashedTerminationStatus: "crashed",
            QWebEnginePage.RenderProcessTerminationStatus.KilledTerminationStatus: "was killed",
        }.get(status, f"stopped (exit code {code})")
        if self.crashed is not None and not self.crashed.done():
            self.crashed.set_result(reason)

    def close(self) -> None:
        with contextlib.suppress(RuntimeError):
            self.page.renderProcessTerminated.disconnect(self._terminated)
        with contextlib.suppress(RuntimeError):
            self.view.close()
            self.view.deleteLater()  # the page is the view's child and goes with it
            self.profile.deleteLater()


# ---------------------------------------------------------------------- the renderer
class Renderer:
    """A pool of up to ``pool_size`` pages rendering CaptureSpecs concurrently.

    ``dark`` says whether this process was started with the dark colour-scheme switch; the
    renderer refuses requests of the other scheme (the engine manager runs one process per scheme).
    """

    def __init__(self, pool_size: int = 2, *, dark: bool = False, hosts: frozenset[str] | None = None,
                 extra_css: str = "") -> None:
        if pool_size < 1:
            raise ValueError("pool_size must be at least 1")
        self._pool_size = pool_size
        self._dark = dark
        self._hosts = default_blocklist() if hosts is None else hosts
        self._extra_css = extra_css
        self._free: list[_Slot] = []
        self._created = 0
        self._waiters: list[asyncio.Future[None]] = []
        self._closed = False

    @property
    def dark(self) -> bool:
        return self._dark

    @property
    def pool_size(self) -> int:
        return self._pool_size

    # ------------------------------------------------------------------ pool
    async def _acquire(self) -> _Slot:
        while True:
            if self._closed:
                raise EngineCrashed("The local engine is shutting down", hint="capture again")
            if self._free:
                return self._free.pop()
            if self._created < self._pool_size:
                self._created += 1
                try:
                    return _Slot(self._hosts)
                except Exception:
                    self._created -= 1
                    raise
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            finally:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)

    def _release(self, slot: _Slot) -> None:
        if slot.dead or self._closed:
            slot.close()
            self._created -= 1
        else:
            self._free.append(slot)
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
                break

    async def aclose(self) -> None:
        self._closed = True
        for slot in self._free:
            slot.close()
        self._free.clear()
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        await asyncio.sleep(0.05)  # let deleteLater run before the application goes

    # ------------------------------------------------------------------ entry point
    async def render(self, spec: CaptureSpec, progress: ProgressFn | None = None) -> RenderOutput:
        """Render ``spec``. Raises PageLoadError, SelectorNotFound, CaptureTimeout, FormatLimit,
        InvalidRequest or EngineCrashed."""
        report: ProgressFn = progress or _no_progress
        if spec.dark_mode != self._dark:
            scheme = "dark" if self._dark else "light"
            raise InvalidRequest(
                f"This engine renders the {scheme} colour scheme only; dark_mode={spec.dark_mode} "
                "needs the other engine",
                hint="start the engine with --dark for dark-mode captures (or without it for light ones)")
        slot = await self._acquire()
        started = time.monotonic()
        loop = asyncio.get_running_loop()
        slot.crashed = loop.create_future()
        try:
            report(0.05, "Loading the page")
            async with asyncio.timeout(spec.timeout_s):
                output = await _race(self._render_on(slot, spec, report), slot.crashed)
        except TimeoutError:
            slot.dead = True  # mid-load state: start the next job on a fresh page
            with contextlib.suppress(RuntimeError):
                slot.page.triggerAction(QWebEnginePage.WebAction.Stop)
            raise CaptureTimeout(
                f"The page did not finish within {spec.timeout_s:g} s",
                hint="raise the timeout, or use wait-until load instead of networkidle") from None
        except _Crashed as exc:
            slot.dead = True
            raise EngineCrashed(f"The page's renderer process {exc.reason} while capturing {spec.url}",
                                hint="capture again; very heavy pages may need more memory") from None
        except asyncio.CancelledError:
            slot.dead = True
            with contextlib.suppress(RuntimeError):
                slot.page.triggerAction(QWebEnginePage.WebAction.Stop)
            raise
        finally:
            slot.crashed = None
            self._release(slot)
        elapsed = int((time.monotonic() - started) * 1000)
        report(1.0, "Done")
        return RenderOutput(output.data, output.media_type, output.width, output.height,
                            output.title, output.final_url, elapsed)

    # ------------------------------------------------------------------ one job on one page
    async def _render_on(self, slot: _Slot, spec: CaptureSpec, report: ProgressFn) -> RenderOutput:
        page, view = slot.page, slot.view
        scale = spec.scale
        vw, vh = _dev(spec.width, scale), _dev(spec.height, scale)
        slot.profile.setHttpUserAgent(spec.user_agent or slot.default_ua)
        slot.blocker.enabled = spec.block_ads
        slot.blocker.blocked = 0
        slot.profile.cookieStore().deleteAllCookies()
        self._install_scripts(slot, spec)
        view.resize(vw, vh)
        page.setZoomFactor(scale)

        await self._load(slot, spec.url)
        page.setZoomFactor(scale)  # Chromium may reset the zoom on navigation
        report(0.4, "Page loaded")
        if spec.wait_until == "networkidle":
            report(0.45, "Waiting for the network to go quiet")
            await self._network_idle(slot)
        if spec.js:
            await self._user_js(slot, spec.js)
        if spec.delay_ms:
            report(0.5, f"Waiting {spec.delay_ms} ms")
            await asyncio.sleep(spec.delay_ms / 1000)
        title = page.title() or None
        final_url = page.url().toString() or spec.url

        if spec.format == "pdf":
            report(0.6, "Printing to PDF")
            data = await self._pdf(slot)
            return RenderOutput(data, spec.media_type, 0, 0, title, final_url)

        report(0.55, "Rendering")
        if spec.selector:
            image = await self._element(slot, spec, report)
        elif spec.full_page:
            image = await self._full_page(slot, spec, report)
        else:
            qimg = await self._settle(slot, vw, vh, scale)
            image = await _in_thread(_to_pil, qimg, QRect(0, 0, vw, vh))
        report(0.85, f"Encoding {spec.format.upper()}")
        data = await _in_thread(_encode, image, spec.format, spec.quality)
        title = page.title() or title
        return RenderOutput(data, spec.media_type, image.width, image.height, title, final_url)

    def _install_scripts(self, slot: _Slot, spec: CaptureSpec) -> None:
        scripts = slot.page.scripts()
        scripts.clear()
        parts = ["html { scroll-behavior: auto !important; }"]
        if self._extra_css:
            parts.append(self._extra_css)
        if spec.hide_cookie_banners:
            parts.append(cookie_banner_css())
        if spec.hide_selectors:
            parts.append(hide_selectors_css(spec.hide_selectors))
        if spec.css:
            parts.append(spec.css)
        css = "\n".join(parts)
        for point, name in ((QWebEngineScript.InjectionPoint.DocumentCreation, "shotdesk-css-early"),
                            (QWebEngineScript.InjectionPoint.DocumentReady, "shotdesk-css")):
            script = QWebEngineScript()
            script.setName(name)
            script.setSourceCode(_STYLE_JS % json.dumps(css))
            script.setInjectionPoint(point)
            script.setWorldId(_APP_WORLD)
            script.setRunsOnSubFrames(False)
            scripts.insert(script)

    # ------------------------------------------------------------------ loading
    async def _load(self, slot: _Slot, url: str) -> None:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[QWebEngineLoadingInfo] = loop.create_future()
        started = False

        def changed(info: QWebEngineLoadingInfo) -> None:
            nonlocal started
            status = info.status()
            if status == QWebEngineLoadingInfo.LoadStatus.LoadStartedStatus:
                started = True
            elif started and not done.done():
                done.set_result(info)

        slot.page.loadingChanged.connect(changed)
        try:
            slot.page.load(QUrl(url))
            info = await done
        finally:
            slot.page.loadingChanged.disconnect(changed)
        _check_load(info, url)

    async def _network_idle(self, slot: _Slot) -> None:
        """readyState complete + images complete + resource count unchanged for 500 ms (bounded)."""
        loop = asyncio.get_running_loop()
        end = loop.time() + NETWORK_IDLE_MAX_S
        last_count = -1
        quiet_since = loop.time()
        while loop.time() < end:
            state = json.loads(await self._js(slot, _IDLE_JS) or "{}")
            count = int(state.get("resources", 0))
            now = loop.time()
            if count != last_count or state.get("ready") != "complete" or not state.get("images"):
                last_count = count
                quiet_since = now
            elif now - quiet_since >= NETWORK_QUIET_S:
                return
            await asyncio.sleep(0.1)
        log.info("network idle not reached within %.0f s; capturing anyway", NETWORK_IDLE_MAX_S)

    async def _user_js(self, slot: _Slot, source: str) -> None:
        answer = await self._js(slot, _USER_JS % source, world=_MAIN_WORLD)
        if not answer:
            raise InvalidRequest("The custom JavaScript could not run (syntax error?)",
                                 hint="check the script in a browser console first")
        result = json.loads(answer)
        if not result.get("ok"):
            raise InvalidRequest(f"The custom JavaScript failed: {result.get('error')}",
                                 hint="check the script in a browser console first")

    # ------------------------------------------------------------------ JavaScript bridge
    async def _js(self, slot: _Slot, source: str, *, world: int = _APP_WORLD) -> Any:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()

        def answer(result: Any) -> None:
            if not fut.done():
                fut.set_result(result)

        slot.page.runJavaScript(source, world, answer)
        try:
            return await asyncio.wait_for(fut, JS_TIMEOUT_S)
        except TimeoutError:
            raise CaptureTimeout("The page stopped answering (a script is busy or the page hangs)",
                                 hint="try again with a longer delay, or without custom JavaScript") from None

    async def _metrics(self, slot: _Slot) -> dict[str, Any]:
        text = await self._js(slot, _METRICS_JS)
        return json.loads(text) if isinstance(text, str) and text else {}

    # ------------------------------------------------------------------ settle and grab
    async def _settle(self, slot: _Slot, view_w: int, view_h: int, zoom: float) -> QImage:
        """Wait until the page has laid out for the view size and painted, then grab."""
        await self._wait_view(slot, view_w, view_h, zoom)
        await self._frame_sync(slot)
        await self._js(slot, _RAF_START_JS)
        await self._poll(slot, _RAF_DONE_JS, 1.0, 0.02)  # two frames
        prev = slot.view.grab().toImage()
        for _ in range(MAX_STABLE_GRABS):
            await asyncio.sleep(STABLE_GAP_S)
            cur = slot.view.grab().toImage()
            if cur == prev and cur.width() >= view_w and cur.height() >= view_h:
                return cur
            prev = cur
        return prev

    async def _wait_view(self, slot: _Slot, view_w: int, view_h: int, zoom: float) -> bool:
        """Wait (≤ ~2 s) until the page's viewport has the view's size; False if it never did."""
        for _ in range(40):
            m = await self._metrics(slot)
            if (abs(float(m.get("h", 0)) * zoom - view_h) <= max(1.0, zoom)
                    and abs(float(m.get("w", 0)) * zoom - view_w) <= max(1.0, zoom)):
                return True
            await asyncio.sleep(0.05)
        log.info("viewport did not reach %dx%d; grabbing anyway", view_w, view_h)
        return False

    async def _frame_sync(self, slot: _Slot) -> None:
        """Prove that frames reach the view: paint a 1 px marker in two colours and wait until a
        grab shows each, then remove it and wait until it is gone (there is no "frame painted"
        signal; a fresh view delivers its first frame late and a grab before it is blank)."""
        for color in _MARKER_COLORS:
            await self._js(slot, _MARKER_JS % json.dumps(f"rgb{color}"))
            await self._wait_pixel(slot, lambda c, want=color: c == want)  # type: ignore[misc]
        await self._js(slot, _MARKER_JS % "null")
        await self._wait_pixel(slot, lambda c: c != _MARKER_COLORS[-1])

    async def _wait_pixel(self, slot: _Slot, ok: Callable[[tuple[int, int, int]], bool]) -> bool:
        loop = asyncio.get_running_loop()
        end = loop.time() + MARKER_WAIT_S
        for _ in range(int(MARKER_WAIT_S / 0.01) + 1):
            pixel = slot.view.grab(QRect(0, 0, 1, 1)).toImage().pixelColor(0, 0)
            if ok((pixel.red(), pixel.green(), pixel.blue())):
                return True
            if loop.time() >= end:
                break
            await asyncio.sleep(0.01)
        log.info("frame marker not seen within %.1f s", MARKER_WAIT_S)
        return False

    # ------------------------------------------------------------------ full page
    async def _full_page(self, slot: _Slot, spec: CaptureSpec, report: ProgressFn) -> Image.Image:
        scale = spec.scale
        m = await self._metrics(slot)
        if int(m.get("sh", 0)) > spec.height:
            report(0.58, "Scrolling through the page (lazy images)")
            await self._prescroll(slot)
        elif await self._scroller_extra(slot):
            return await self._app_shell(slot, spec, report)
        m = await self._metrics(slot)  # measured once; the resize below must not re-measure
        css_h = max(spec.height, int(m.get("sh", spec.height)))
        out_w, out_h = _dev(spec.width, scale), _dev(css_h, scale)
        _check_limits(spec.format, out_w, out_h, what="The full page")
        return await self._band(slot, spec, 0, css_h, report)

    async def _scroller_extra(self, slot: _Slot) -> int:
        """CSS px by which an app shell's scrolling element is taller inside than its box (0: none)."""
        found = json.loads(await self._js(slot, _SCROLLER_JS) or "null")
        return max(0, int(found["extra"])) if isinstance(found, dict) else 0

    async def _app_shell(self, slot: _Slot, spec: CaptureSpec, report: ProgressFn) -> Image.Image:
        """Full page of a page that scrolls inside an element: the view is made taller by what the
        element hides, so that the element — sized by the viewport — shows all of its content.
        An element that does not grow with the viewport leaves the capture viewport-high."""
        scale = spec.scale
        report(0.58, "Scrolling through the page (lazy images)")
        await self._prescroll(slot, inner=True)
        extra = await self._scroller_extra(slot)  # measured after lazy content came
        if not await self._grows_with_view(slot, spec, min(extra, GROWTH_PROBE_PX)):
            log.info("the scrolling element has a fixed height; capturing the viewport")
            return await self._band(slot, spec, 0, spec.height, report)
        css_h = spec.height + extra
        out_w, out_h = _dev(spec.width, scale), _dev(css_h, scale)
        _check_limits(spec.format, out_w, out_h, what="The full page")
        if out_h > SAFE_GRAB_PX or out_w * out_h > SAFE_GRAB_AREA:
            raise FormatLimit(
                f"The page scrolls inside an element; at {out_w:,}×{out_h:,} px it is too tall to "
                "capture in one piece, and such a page cannot be captured in parts",
                hint="capture the viewport or an element (selector), or lower the scale")
        return await self._band(slot, spec, 0, css_h, report)

    async def _grows_with_view(self, slot: _Slot, spec: CaptureSpec, probe: int) -> bool:
        """Whether the marked scrolling element gets ``probe`` CSS px taller with the view."""
        before = float(await self._js(slot, _SCROLLER_HEIGHT_JS) or -1)
        vw, vh = _dev(spec.width, spec.scale), _dev(spec.height + probe, spec.scale)
        slot.view.resize(vw, vh)
        await self._wait_view(slot, vw, vh, spec.scale)
        after = float(await self._js(slot, _SCROLLER_HEIGHT_JS) or -1)
        return before >= 0 and after - before >= probe - 1

    async def _prescroll(self, slot: _Slot, *, inner: bool = False) -> None:
        script = _PRESCROLL_JS % {"budget": int(PRESCROLL_MAX_S * 1000), "step": PRESCROLL_STEP_MS,
                                  "inner": "true" if inner else "false"}
        await self._js(slot, script)
        await self._poll(slot, "window.__shotdeskScrolled === 1", PRESCROLL_MAX_S + 1.0, 0.05)
        await self._poll(slot, _IMAGES_DONE_JS, 2.0, 0.1)  # images the scroll revealed

    async def _poll(self, slot: _Slot, condition: str, timeout_s: float, interval_s: float) -> bool:
        """Evaluate ``condition`` until it is true or ``timeout_s`` passed (bounded polling)."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout_s
        for _ in range(int(timeout_s / interval_s) + 1):
            if await self._js(slot, condition):
                return True
            if loop.time() >= end:
                break
            await asyncio.sleep(interval_s)
        return False

    async def _band(self, slot: _Slot, spec: CaptureSpec, top: int, bottom: int,
                    report: ProgressFn) -> Image.Image:
        """Document rows ``top``..``bottom`` (CSS px) at full viewport width, exact."""
        scale = spec.scale
        vw = _dev(spec.width, scale)
        view_h = max(_dev(spec.height, scale), _dev(bottom, scale))
        if view_h <= SAFE_GRAB_PX and vw * view_h <= SAFE_GRAB_AREA:
            slot.view.resize(vw, view_h)
            await self._js(slot, _SCROLL_TO_JS % 0)
            qimg = await self._settle(slot, vw, view_h, scale)
            return await _in_thread(_to_pil, qimg, QRect(0, _dev(top, scale), vw, _dev(bottom - top, scale)))
        return await self._chunked(slot, spec, top, bottom, report)

    async def _chunked(self, slot: _Slot, spec: CaptureSpec, top: int, bottom: int,
                       report: ProgressFn) -> Image.Image:
        scale = spec.scale
        vw = _dev(spec.width, scale)
        chunk_css = max(spec.height, int(min(CHUNK_PX, CHUNK_AREA // vw) / scale))
        chunk_dev = _dev(chunk_css, scale)
        slot.view.resize(vw, chunk_dev)
        out = Image.new("RGB", (vw, _dev(bottom - top, scale)), (255, 255, 255))
        total = math.ceil((bottom - top) / chunk_css)
        y = float(top)
        index = 0
        while y < bottom:
            actual = float(json.loads(await self._js(slot, _SCROLL_TO_JS % y) or "0"))
            if index == 1:
                await self._js(slot, _HIDE_FIXED_JS)
            qimg = await self._settle(slot, vw, chunk_dev, scale)
            offset = max(0.0, y - actual)  # > 0 when the browser clamped the scroll at the page end
            take = min(chunk_css - offset, bottom - y)
            if take <= 0:
                log.warning("page shrank below its measured height at %d px", y)
                break
            dst_top = _dev(y - top, scale)
            src_h = _dev(y + take - top, scale) - dst_top
            piece = await _in_thread(_to_pil, qimg, QRect(0, _dev(offset, scale), vw, src_h))
            out.paste(piece, (0, dst_top))
            y += take
            index += 1
            report(0.55 + 0.3 * min(index, total) / total, f"Captured part {index} of {total}")
        return out

    # ------------------------------------------------------------------ element
    async def _element(self, slot: _Slot, spec: CaptureSpec, report: ProgressFn) -> Image.Image:
        assert spec.selector is not None
        scale = spec.scale
        vw, vh = _dev(spec.width, scale), _dev(spec.height, scale)
        rect = await self._rect(slot, spec.selector)
        bottom = rect["y"] + rect["h"]
        if _dev(bottom, scale) > SAFE_GRAB_PX or vw * _dev(bottom, scale) > SAFE_GRAB_AREA:
            top_i, bottom_i = math.floor(rect["y"]), math.ceil(bottom)
            _check_limits(spec.format, _dev(rect["w"], scale), _dev(bottom_i - top_i, scale),
                          what="The element")
            band = await self._band(slot, spec, top_i, bottom_i, report)
            x0 = _dev(max(0.0, rect["x"]), scale)
            x1 = min(band.width, _dev(rect["x"] + rect["w"], scale))
            return band.crop((x0, 0, x1, band.height))
        view_h = max(vh, _dev(bottom, scale))
        if view_h != vh:
            slot.view.resize(vw, view_h)  # grow the view so the whole element is on it
        await self._js(slot, _SCROLL_TO_JS % 0)
        qimg = await self._settle(slot, vw, view_h, scale)
        rect = await self._rect(slot, spec.selector)  # the resize may have moved it
        x0 = max(0, _dev(rect["x"], scale))
        y0 = max(0, _dev(rect["y"], scale))
        x1 = min(qimg.width(), _dev(rect["x"] + rect["w"], scale))
        y1 = min(qimg.height(), _dev(rect["y"] + rect["h"], scale))
        if x1 <= x0 or y1 <= y0:
            raise SelectorNotFound(f"The element {spec.selector!r} is outside the page",
                                   hint="check the selector, or capture the full page")
        _check_limits(spec.format, x1 - x0, y1 - y0, what="The element")
        return await _in_thread(_to_pil, qimg, QRect(x0, y0, x1 - x0, y1 - y0))

    async def _rect(self, slot: _Slot, selector: str) -> dict[str, float]:
        answer = json.loads(await self._js(slot, _RECT_JS % json.dumps(selector)) or "{}")
        if "error" in answer:
            raise InvalidRequest(f"The selector {selector!r} is not valid CSS",
                                 hint="check it with document.querySelector in a browser console")
        if not answer.get("found"):
            raise SelectorNotFound(f"No element on the page matches the selector {selector!r}",
                                   hint="check the selector, or add a delay if the element appears later")
        if answer["w"] < 1 or answer["h"] < 1:
            raise SelectorNotFound(f"The element matching {selector!r} has no visible size "
                                   f"({answer['w']:g}×{answer['h']:g} px)",
                                   hint="it may be hidden; check the selector or add a delay")
        return {k: float(answer[k]) for k in ("x", "y", "w", "h")}

    # ------------------------------------------------------------------ PDF
    async def _pdf(self, slot: _Slot) -> bytes:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[bytes] = loop.create_future()

        def done(data: Any) -> None:
            if not fut.done():
                fut.set_result(bytes(data))

        layout = QPageLayout(QPageSize(QPageSize.PageSizeId.A4), QPageLayout.Orientation.Portrait,
                             QMarginsF(10, 10, 10, 10), QPageLayout.Unit.Millimeter)
        slot.page.setZoomFactor(1.0)
        slot.page.printToPdf(done, layout)
        data = await fut
        if not data.startswith(b"%PDF"):
            raise EngineCrashed("The engine could not print the page to PDF",
                                hint="try again, or capture an image instead")
        return data


# ---------------------------------------------------------------------- helpers
class _Crashed(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def _race(work: Coroutine[Any, Any, T], crashed: asyncio.Future[str]) -> T:
    """Run ``work``; if the page's renderer process dies first, cancel it and raise _Crashed."""
    task: asyncio.Future[T] = asyncio.ensure_future(work)
    watch: set[asyncio.Future[Any]] = {task, crashed}
    try:
        await asyncio.wait(watch, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        raise
    if task.done():
        return task.result()
    task.cancel()
    with contextlib.suppress(BaseException):
        await task
    raise _Crashed(crashed.result())


def _no_progress(fraction: float | None, text: str) -> None:
    pass


def _dev(css: float, scale: float) -> int:
    """CSS pixels → device pixels."""
    return round(css * scale)


async def _in_thread(func: Callable[..., T], *args: Any) -> T:
    return await asyncio.get_running_loop().run_in_executor(None, func, *args)


def _check_load(info: QWebEngineLoadingInfo, url: str) -> None:
    """Turn a finished load into a PageLoadError when the page itself failed."""
    status = info.status()
    domain = info.errorDomain()
    code = info.errorCode()
    parts = urlsplit(url)
    host = parts.hostname or url
    if domain == QWebEngineLoadingInfo.ErrorDomain.HttpStatusCodeDomain and code >= 400:
        try:
            reason = HTTPStatus(code).phrase
        except ValueError:
            reason = "error"
        raise PageLoadError(f"The page answered {code} {reason}",
                            hint="check the address; the server says the page is not available"
                            if code < 500 else "the site has a problem; try again later")
    if status == QWebEngineLoadingInfo.LoadStatus.LoadSucceededStatus:
        return
    if status == QWebEngineLoadingInfo.LoadStatus.LoadStoppedStatus:
        raise PageLoadError("Loading the page was stopped", hint="capture again")
    error = info.errorString() or "unknown error"
    if code in (_ERR_NAME_NOT_RESOLVED, _ERR_NAME_RESOLUTION_FAILED) \
            or domain == QWebEngineLoadingInfo.ErrorDomain.DnsErrorDomain:
        raise PageLoadError(f"Could not find the host {host}",
                            hint="check the spelling of the address and your network connection")
    if code == _ERR_CONNECTION_REFUSED:
        where = f"{host}:{parts.port}" if parts.port else host
        raise PageLoadError(f"{where} refused the connection",
                            hint="is the server running on that port? check the address")
    if code in (_ERR_CONNECTION_TIMED_OUT, _ERR_TIMED_OUT):
        raise PageLoadError(f"The connection to {host} timed out",
                            hint="the site may be down or blocked; try again later")
    if code == _ERR_INTERNET_DISCONNECTED:
        raise PageLoadError("There is no network connection", hint="check your network and try again")
    if code == _ERR_ADDRESS_UNREACHABLE:
        raise PageLoadError(f"{host} cannot be reached from this machine", hint="check your network")
    if code in (_ERR_CONNECTION_CLOSED, _ERR_CONNECTION_RESET, _ERR_EMPTY_RESPONSE):
        raise PageLoadError(f"{host} closed the connection without sending the page",
                            hint="the server may be overloaded; try again")
    if code == _ERR_UNSAFE_PORT:
        raise PageLoadError(f"Browsers refuse to open port {parts.port} (reserved for other services)",
                            hint="use the web server's real port")
    if domain == QWebEngineLoadingInfo.ErrorDomain.CertificateErrorDomain:
        raise PageLoadError(f"The security certificate of {host} is not valid ({error})",
                            hint="check the address; use http:// only for servers you trust")
    if code == _ERR_ABORTED:
        raise PageLoadError("The address did not open a page (a download, or the load was aborted)",
                            hint="check that the address shows a web page in a browser")
    raise PageLoadError(f"The page could not be loaded ({error})", hint="check the address and try again")


def _check_limits(fmt: str, width: int, height: int, *, what: str) -> None:
    """Refuse pictures a format cannot hold, before rendering them."""
    if width * height > MAX_PIXELS:
        raise FormatLimit(
            f"{what} would be {width:,}×{height:,} px ({width * height / 1e6:.0f} megapixels), more than "
            f"the {MAX_PIXELS // 1_000_000} megapixel limit",
            hint="capture the viewport or an element, or lower the scale")
    if fmt == "webp" and max(width, height) > WEBP_MAX_PX:
        raise FormatLimit(
            f"{what} would be {width:,}×{height:,} px; WebP images can be at most {WEBP_MAX_PX:,} px "
            "in each direction",
            hint="choose PNG (no such limit) or JPEG (up to 65,500 px), or capture the viewport")
    if fmt == "jpeg" and max(width, height) > JPEG_MAX_PX:
        raise FormatLimit(
            f"{what} would be {width:,}×{height:,} px; JPEG images can be at most {JPEG_MAX_PX:,} px "
            "in each direction",
            hint="choose PNG (no such limit), or capture the viewport")


def _to_pil(qimg: QImage, rect: QRect) -> Image.Image:
    """Crop ``rect`` (device px) out of a grab and convert it to a Pillow RGB image (any thread)."""
    bounded = rect.intersected(qimg.rect())
    part = qimg.copy(bounded).convertToFormat(QImage.Format.Format_RGB888)
    width, height, stride = part.width(), part.height(), part.bytesPerLine()
    data = bytes(part.constBits())
    image = Image.frombuffer("RGB", (width, height), data, "raw", "RGB", stride, 1)
    if (width, height) != (rect.width(), rect.height()):  # the view was smaller than asked: pad white
        padded = Image.new("RGB", (rect.width(), rect.height()), (255, 255, 255))
        padded.paste(image, (bounded.x() - rect.x(), bounded.y() - rect.y()))
        return padded
    return image


def _encode(image: Image.Image, fmt: str, quality: int) -> bytes:
    buf = io.BytesIO()
    if fmt == "png":
        image.save(buf, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    elif fmt == "jpeg":
        image.save(buf, format="JPEG", quality=quality)
    elif fmt == "webp":
        image.save(buf, format="WEBP", quality=quality)
    else:  # pragma: no cover - CaptureSpec validated the format
        raise InvalidRequest(f"Cannot encode {fmt}")
    return buf.getvalue()


__all__ = ["CHUNK_PX", "SAFE_GRAB_PX", "Renderer"]
