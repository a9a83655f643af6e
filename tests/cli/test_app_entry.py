"""``shotdesk`` with no arguments and no display: one clear line, not a Qt abort."""

from __future__ import annotations

import os
import subprocess
import sys


def test_no_display_says_so_in_one_line_and_shows_headless_capture():
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    proc = subprocess.run([sys.executable, "-m", "shotdesk"], capture_output=True, text=True, env=env,
                          timeout=60, check=False)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "no display" in lines[0] and "shotdesk capture" in lines[0]
    assert "Aborted" not in proc.stderr and "qt.qpa" not in proc.stderr


def test_version_and_help():
    proc = subprocess.run([sys.executable, "-m", "shotdesk", "--version"], capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 0 and proc.stdout.startswith("ShotDesk ")
