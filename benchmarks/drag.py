"""Drag start: how long the window waits when tiles are dragged out (issue 4's drag and drop).

    .venv/bin/python benchmarks/drag.py [--repeat 5]

ShotDesk copies the selection into the drag folder in a worker thread while the selection is made
(``DragCopies``) and reads a single picture's image only when a drop asks for it
(``FileDragMime``); at drag start the window only hands over paths. Baseline, same run and same
files: the copies and the image decode done when the drag starts, on the window's thread.

Pictures are page-like (text lines and coloured blocks, as ``benchmarks/library.py`` makes them):
one 1280 × 8000 full page, and 30 1280 × 720 viewport captures.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PIL import Image
from PySide6.QtCore import QMimeData, QUrl
from PySide6.QtGui import QGuiApplication, QImage

from benchmarks.library import tall_page
from shotdesk.capture.base import CaptureResult
from shotdesk.core.export import DEFAULT_TEMPLATE
from shotdesk.core.library import Capture, Library
from shotdesk.core.spec import CaptureSpec
from shotdesk.services.qt_export import DragCopies, drag_folder, export_copies
from shotdesk.ui.dnd import drag_mime


def add(lib: Library, url: str, image: Image.Image, *, full_page: bool) -> Capture:
    buf = io.BytesIO()
    image.save(buf, "PNG")
    w, h = image.size
    spec = CaptureSpec(url=url, width=1280, height=720, full_page=full_page)
    return lib.add(spec, CaptureResult(buf.getvalue(), "image/png", w, h, "local", {}, url, "Page"),
                   elapsed_ms=1)


def baseline_start(caps: list[Capture], root: Path) -> QMimeData:
    """What a drag start cost before: copy now, decode the single picture now."""
    files = export_copies(caps, drag_folder(root), DEFAULT_TEMPLATE)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in files])
    if len(files) == 1:
        mime.setImageData(QImage(str(files[0])))
    return mime


def shotdesk_start(copies: DragCopies, caps: list[Capture]) -> QMimeData:
    return drag_mime(copies.files(caps, DEFAULT_TEMPLATE))


def median_ms(fn: Callable[[], object], repeat: int, before: Callable[[], None] = lambda: None) -> float:
    times = []
    for _ in range(repeat):
        before()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    app = QGuiApplication.instance() or QGuiApplication([])
    with tempfile.TemporaryDirectory(prefix="shotdesk-bench-") as tmp_name:
        tmp = Path(tmp_name)
        lib = Library(tmp / "gallery.sqlite3", tmp / "cache")
        try:
            full = [add(lib, "https://long.example/", tall_page(1), full_page=True)]
            viewports = [add(lib, f"https://site{i}.example/", tall_page(i + 2).crop((0, 0, 1280, 720)),
                             full_page=False) for i in range(30)]
            copies = DragCopies(tmp / "drag")
            print(f"{'selection':<36} {'baseline':>10} {'ShotDesk':>10} {'ratio':>7}")
            for label, caps in ((f"1 full page ({full[0].bytes / 1e6:.1f} MB PNG)", full),
                                ("1 viewport capture", viewports[:1]),
                                (f"30 viewport captures ({sum(c.bytes for c in viewports) / 1e6:.1f} MB)",
                                 viewports)):
                base = median_ms(partial(baseline_start, caps, tmp / "base"), args.repeat)

                def prepared(caps: list[Capture] = caps) -> None:
                    copies.prepare([], DEFAULT_TEMPLATE)  # a fresh selection each time: new copies
                    copies.prepare(caps, DEFAULT_TEMPLATE)  # the selection was made a moment ago
                    deadline = time.monotonic() + 60
                    while not copies.ready_for(caps, DEFAULT_TEMPLATE) and time.monotonic() < deadline:
                        time.sleep(0.005)

                ours = median_ms(partial(shotdesk_start, copies, caps), args.repeat, prepared)
                print(f"{label:<36} {base:>8.1f} ms {ours:>8.2f} ms {ours / base:>7.3f}")
            copies.close()
        finally:
            lib.close()
    del app
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
