"""Settings → Providers → Test: asks the provider's usage endpoint and shows the answer.

The dialog talks to SnapSharp's loopback contract fake (tests/contract/fakes.py) at the base URL
typed into the dialog, with the key typed into the masked field (or the one stored in the keyring
wrapper, here over an in-memory keyring). A user checks what the result label says: the plan and
the usage the provider reported, or — with a wrong key — a clear "check your key" that does not
repeat the key.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from PySide6.QtCore import Qt

from tests.contract.fakes import KEY, SnapSharpFake
from tests.gui.conftest import FakePipeline, make_window, wait_until
from tests.helpers.webserver import PageServer

pytestmark = [pytest.mark.timeout(60)]

WRONG = "sk_live_WRONGKEY9876543210fedcba"
#: What SnapSharpFake's /v1/usage reports, as the dialog lists it.
USAGE_LINES = ["plan: starter", "used: 12", "limit: 5000", "remaining: 4988",
               "resets: 2026-12-01T00:00:00Z"]



@pytest.fixture
def window(qtbot: Any, qloop: Any, tasks: Any, library: Any, prefs: Any) -> Iterator[Any]:
    from shotdesk.capture.registry import provider_infos

    win = make_window(FakePipeline(library), tasks, prefs, providers=provider_infos())
    qtbot.addWidget(win)
    win.show()
    yield win
    if not win._closed:
        win.close()
        wait_until(qtbot, lambda: win._closed, what="shutdown")


@pytest.fixture
def snapsharp(page_server: PageServer) -> SnapSharpFake:
    return SnapSharpFake(page_server)


def open_snapsharp_page(qtbot: Any, window: Any, base_url: str, key: str | None) -> Any:
    """Open Settings, pick SnapSharp, type the base URL and (optionally) a key, like a user."""
    dialog = window.open_settings()
    dialog.tabs.setCurrentIndex(1)  # Providers
    dialog.select_provider("snapsharp")
    assert dialog.provider_title.text() == "SnapSharp"
    qtbot.keyClicks(dialog.base_url_edit, base_url)
    if key is not None:
        qtbot.keyClicks(dialog.key_edit, key)
    return dialog


def press_test(qtbot: Any, dialog: Any) -> str:
    qtbot.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
    wait_until(qtbot, lambda: dialog.test_button.isEnabled()
               and dialog.test_label.text() not in ("", "Testing…"), timeout_s=30, what="the test result")
    text: str = dialog.test_label.text()
    return text


def test_test_shows_the_usage_the_provider_reports(qtbot, window, snapsharp, memory_keyring) -> None:
    dialog = open_snapsharp_page(qtbot, window, snapsharp.base_url, KEY)
    text = press_test(qtbot, dialog)
    assert text.startswith("✓"), text
    assert text.removeprefix("✓ ").splitlines() == USAGE_LINES
    assert KEY not in text
    # It asked the usage endpoint (no render) at the typed base URL, with the typed key.
    assert [(r.method, r.route) for r in snapsharp.received] == [("GET", "/v1/usage")]
    assert snapsharp.received[0].headers["authorization"] == f"Bearer {KEY}"
    # Testing is not saving: nothing went to the keyring.
    assert memory_keyring.entries == {}
    assert dialog.isVisible()


def test_a_wrong_key_says_check_your_key_without_showing_it(qtbot, window, snapsharp, memory_keyring) -> None:
    dialog = open_snapsharp_page(qtbot, window, snapsharp.base_url, WRONG)
    text = press_test(qtbot, dialog)
    assert text.startswith("✗"), text
    assert "check your api key" in text.lower(), text
    assert WRONG not in text and WRONG[:12] not in text and WRONG[-8:] not in text
    assert dialog.error_label.text() == ""
    # A 401 is never retried: one request.
    assert [(r.method, r.route) for r in snapsharp.received] == [("GET", "/v1/usage")]
    assert snapsharp.received[0].headers["authorization"] == f"Bearer {WRONG}"


def test_without_a_typed_key_test_uses_the_stored_one(qtbot, window, snapsharp, memory_keyring) -> None:
    memory_keyring.entries[("ShotDesk", "snapsharp")] = KEY
    dialog = open_snapsharp_page(qtbot, window, snapsharp.base_url, None)
    wait_until(qtbot, lambda: dialog.key_state_label.text() == "A key is stored", what="key state")
    text = press_test(qtbot, dialog)
    assert text.removeprefix("✓ ").splitlines() == USAGE_LINES, text
    assert snapsharp.received[0].headers["authorization"] == f"Bearer {KEY}"


def test_without_any_key_test_says_one_is_needed(qtbot, window, snapsharp, memory_keyring) -> None:
    dialog = open_snapsharp_page(qtbot, window, snapsharp.base_url, None)
    text = press_test(qtbot, dialog)
    assert text.startswith("✗") and "key" in text.lower(), text
    assert snapsharp.received == []  # nothing is sent without a key
