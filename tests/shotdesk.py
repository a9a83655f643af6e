"""Test runner for ``briefcase dev --test`` / ``briefcase run --test`` (Briefcase starts ``tests.<app>``).

Runs the suite with pytest and prints the marker Briefcase reads for the exit status. The
README's test command (``bash .ci/run``) is the full check; this runner serves packaged builds.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

if __name__ == "__main__":
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    tests_dir = Path(__file__).resolve().parent
    returncode = pytest.main(["--no-header", "-m", "not keyring", str(tests_dir), *sys.argv[1:]])
    print(f">>>>>>>>>> EXIT {returncode} <<<<<<<<<<")
