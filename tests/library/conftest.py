"""Fixtures for the library tests: a library in the isolated XDG folders, a settable clock."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shotdesk.core.library import Library
from tests.library.util import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def library(clock: FakeClock) -> Iterator[Library]:
    lib = Library(clock=clock)
    yield lib
    lib.close()
