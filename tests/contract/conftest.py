"""Contract-test fixtures: a loopback fake per provider, a fake clock so retries never really wait."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.contract.harness import Harness
from tests.helpers.webserver import PageServer


@pytest.fixture(scope="module")
def contract_server() -> Iterator[PageServer]:
    """One loopback server per module (stopping one takes ~0.5 s); each test installs a fresh fake."""
    with PageServer() as server:
        yield server


@pytest.fixture
def harness(contract_server: PageServer) -> Iterator[Harness]:
    contract_server.routes.clear()
    yield Harness(contract_server)
