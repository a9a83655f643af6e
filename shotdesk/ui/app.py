"""``run_window(argv)``: the QApplication, the qasync loop, the window, a clean shutdown.

Start-up and shutdown stages (ENGINE-NOTES.md "Event loop", STYLE.md §4):

1. ``QApplication`` (names, icon, quit-on-last-window off: the window closes itself after its
   shutdown coroutine has run).
2. PySide6 is imported before qasync; one ``qasync.QEventLoop(app)`` is made the current loop.
3. Settings, the library and the pipeline (``CapturePipeline.open_default``) are opened; the
   window is built and shown.
4. Exactly one ``loop.run_until_complete(app_close.wait())`` — not ``qasync.run``, which re-enters
   ``app.exec()`` and segfaults at exit once QtWebEngine was used. ``app_close`` is set by the
   window after its shutdown (queue cancelled, tasks cancelled, pipeline closed: engine processes
   stop) and by ``app.aboutToQuit`` (session logout).
5. If the loop ended some other way, the shutdown coroutine still runs; then the loop is closed.

The GUI process never imports QtWebEngine: the local engine runs in its own process.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSettings
from PySide6.QtGui import QGuiApplication, QIcon
from PySide6.QtWidgets import QApplication

from shotdesk import paths

if TYPE_CHECKING:
    from shotdesk.ui.main_window import MainWindow

log = logging.getLogger(__name__)

APP_NAME = "ShotDesk"
ORG_NAME = "ShotDesk"
DESKTOP_FILE = "dev.shotdesk.shotdesk"


def app_icon() -> QIcon:
    """The app icon from ``resources/icons`` (in the wheel: ``shotdesk/resources/icons``)."""
    icon = QIcon()
    for folder in _icon_dirs():
        for size in (16, 32, 48, 64, 128, 256, 512):
            png = folder / f"shotdesk-{size}.png"
            if png.is_file():
                icon.addFile(str(png))
        if not icon.isNull():
            break
    return icon


def _icon_dirs() -> list[Path]:
    here = Path(__file__).resolve()
    return [here.parents[1] / "resources" / "icons", here.parents[2] / "resources" / "icons"]


def window_prefs() -> QSettings:
    """Window geometry and last options: an INI file next to settings.json (never a key)."""
    folder = paths.config_dir()
    folder.mkdir(parents=True, exist_ok=True)
    return QSettings(str(folder / "window.ini"), QSettings.Format.IniFormat)


def follow_color_scheme(app: QApplication) -> None:
    """Light/dark following the OS: Qt's styles follow the platform's scheme on macOS, GNOME/KDE
    and Windows 11; Windows' classic style cannot draw dark, so use Fusion there when it is dark."""
    if sys.platform != "win32":
        return

    def apply(scheme: object) -> None:
        from PySide6.QtCore import Qt

        if scheme == Qt.ColorScheme.Dark and app.style().name().lower() != "fusion":
            app.setStyle("Fusion")

    hints = QGuiApplication.styleHints()
    hints.colorSchemeChanged.connect(apply)
    apply(hints.colorScheme())


def run_window(argv: Sequence[str], *, on_window: Callable[[MainWindow], None] | None = None) -> int:
    """Run the window until it is closed; ``on_window(window)`` is called once it is shown
    (scripts that drive the real window use it, e.g. benchmarks/window_screenshot.py)."""
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(list(argv))
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(ORG_NAME)
    app.setApplicationDisplayName(APP_NAME)
    app.setDesktopFileName(DESKTOP_FILE)
    app.setWindowIcon(app_icon())
    app.setQuitOnLastWindowClosed(False)
    follow_color_scheme(app)

    import qasync  # after PySide6 (ENGINE-NOTES.md)

    from shotdesk.capture.registry import provider_infos
    from shotdesk.core.settings import load_settings
    from shotdesk.services.pipeline import CapturePipeline
    from shotdesk.services.tasks import TaskRegistry
    from shotdesk.ui.main_window import MainWindow, WindowContext

    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    app_close = asyncio.Event()
    app.aboutToQuit.connect(app_close.set)
    tasks = TaskRegistry(loop)

    settings = load_settings()
    pipeline = CapturePipeline.open_default(settings)
    ctx = WindowContext(pipeline=pipeline, settings=settings, providers=provider_infos(settings), tasks=tasks,
                        prefs=window_prefs(), on_closed=app_close.set)
    window = MainWindow(ctx)
    window.show()
    if on_window is not None:
        on_window(window)
    try:
        loop.run_until_complete(app_close.wait())
    except RuntimeError as exc:  # the Qt loop ended before the event was seen (app.quit())
        log.info("event loop ended: %s", exc)
    finally:
        if not window._closed:
            try:
                window.save_prefs()
                loop.run_until_complete(window.shutdown())
            except RuntimeError:
                log.exception("shutdown after the loop ended failed")
        loop.close()
        asyncio.set_event_loop(None)
    return 0
