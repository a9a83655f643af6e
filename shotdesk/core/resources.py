"""Where the runtime data files of ``resources/`` are, installed or from a source checkout."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

_PACKAGE_DIR = Path(__file__).resolve().parent.parent


@cache
def resources_dir() -> Path:
    """The ``resources/`` folder: inside the wheel (``shotdesk/resources``) or beside the package
    (source checkout, editable install, Briefcase bundle)."""
    for candidate in (_PACKAGE_DIR / "resources", _PACKAGE_DIR.parent / "resources"):
        if (candidate / "data").is_dir():
            return candidate
    raise FileNotFoundError(f"ShotDesk's resources folder is missing (looked beside {_PACKAGE_DIR})")


def resource_path(*parts: str) -> Path:
    return resources_dir().joinpath(*parts)


def load_json(*parts: str) -> Any:
    return json.loads(resource_path(*parts).read_text(encoding="utf-8"))
