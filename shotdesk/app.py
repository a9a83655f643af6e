"""The ``shotdesk`` entry point: the window without arguments, the command line with them.

Start-up order matters (qutebrowser's app.py, ENGINE-NOTES.md): decide CLI vs window before
importing Qt, so ``shotdesk capture`` on a headless server never touches a display, and a window
start on a machine without one ends with a one-line explanation instead of a Qt abort.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

NO_DISPLAY_MESSAGE = (
    "shotdesk: no display found (DISPLAY/WAYLAND_DISPLAY unset), so the window cannot open. "
    "Capture headless instead: shotdesk capture https://example.com --output shot.png"
)


def has_display() -> bool:
    """Whether a window can be shown: always on macOS/Windows; on Linux/BSD an X11/Wayland
    display or an explicitly chosen Qt platform (e.g. ``QT_QPA_PLATFORM=offscreen``)."""
    if sys.platform in ("darwin", "win32"):
        return True
    return any(os.environ.get(v) for v in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"))


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args:
        from shotdesk.cli.main import run_cli

        return run_cli(args)
    if not has_display():
        print(NO_DISPLAY_MESSAGE, file=sys.stderr)
        return 1
    from shotdesk.ui.app import run_window

    return run_window([sys.argv[0], *args])


if __name__ == "__main__":
    raise SystemExit(main())
