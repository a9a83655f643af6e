"""Keys cross worker threads wrapped: even at DEBUG, qasync's executor logs never show one."""

from __future__ import annotations

import logging

import pytest

from shotdesk.services import secrets

KEY = "sk_live_QASYNCLOGKEY0123456789abcd"


@pytest.mark.gui
def test_key_never_in_debug_logs_of_the_qt_event_loop(qapp, caplog: pytest.LogCaptureFixture) -> None:
    import qasync

    loop = qasync.QEventLoop(qapp)

    async def round_trip() -> str | None:
        await secrets.set_key("snapsharp", KEY)
        secrets.forget_session()
        return await secrets.get_key("snapsharp")

    with caplog.at_level(logging.DEBUG):
        try:
            got = loop.run_until_complete(round_trip())
        finally:
            loop.close()
    assert got == KEY  # really read back through the keyring in a worker thread
    assert any(r.name.startswith("qasync") for r in caplog.records)  # qasync did log at DEBUG
    assert KEY not in caplog.text
