"""The settings dialog: keys go through the keyring wrapper and never into a preferences file."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

from shotdesk.core.settings import load_settings
from tests.gui.conftest import wait_until

KEY = "sk_live_THIS-IS-THE-SECRET-1234567890"




def files_containing(root: Path, needle: bytes) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


def test_key_is_stored_in_the_keyring_and_never_in_preferences(qtbot, window, memory_keyring,
                                                                isolated_dirs, prefs) -> None:
    dialog = window.open_settings()
    assert dialog.isVisible() and dialog.isModal()
    dialog.select_provider("snapsharp")
    assert dialog.key_edit.echoMode() == dialog.key_edit.EchoMode.Password
    qtbot.keyClicks(dialog.key_edit, KEY)
    dialog.concurrency_spin.setValue(3)
    dialog.template_edit.setText("{domain}-{date}.{ext}")
    with qtbot.waitSignal(dialog.finished, timeout=10_000):
        qtbot.mouseClick(dialog.buttons.button(dialog.buttons.StandardButton.Ok), Qt.MouseButton.LeftButton)
    # Stored through the wrapper, in the keyring (service "ShotDesk", user = provider id).
    assert memory_keyring.entries == {("ShotDesk", "snapsharp"): KEY}
    wait_until(qtbot, lambda: window.ctx.settings.concurrency == 3, what="settings applied")
    assert window.capture_service.concurrency == 3
    saved = load_settings()
    assert saved.concurrency == 3 and saved.filename_template == "{domain}-{date}.{ext}"
    # The key is in no file: not settings.json, not the window's QSettings, nowhere in the XDG dirs.
    window.save_prefs()
    prefs.sync()
    assert Path(prefs.fileName()).is_file()
    for root in isolated_dirs.values():
        assert files_containing(root, KEY.encode()) == []
    assert KEY not in repr(saved.to_dict())
    wait_until(qtbot, lambda: "key stored" in window.capture_bar.provider_combo.itemText(
        window.capture_bar.provider_combo.findData("snapsharp")), what="key state in the picker")


def test_removing_a_key_and_cancel_keeps_settings(qtbot, window, memory_keyring) -> None:
    memory_keyring.entries[("ShotDesk", "snapsharp")] = KEY
    dialog = window.open_settings()
    dialog.select_provider("snapsharp")
    wait_until(qtbot, lambda: dialog.key_state_label.text() == "A key is stored", what="key state")
    qtbot.mouseClick(dialog.delete_key_button, Qt.MouseButton.LeftButton)
    wait_until(qtbot, lambda: memory_keyring.entries == {}, what="key removed")
    dialog.concurrency_spin.setValue(5)
    with qtbot.waitSignal(dialog.finished, timeout=5000):
        dialog.reject()
    assert window.capture_service.concurrency == 2


def test_an_invalid_setting_is_named_and_the_dialog_stays_open(qtbot, window, memory_keyring) -> None:
    dialog = window.open_settings()
    dialog.select_provider("snapsharp")
    dialog.base_url_edit.setText("https://user:pw@example.com")
    dialog.base_url_edit.textEdited.emit(dialog.base_url_edit.text())
    qtbot.mouseClick(dialog.buttons.button(dialog.buttons.StandardButton.Ok), Qt.MouseButton.LeftButton)
    assert dialog.isVisible()
    assert "provider_base_urls" in dialog.error_label.text() or "password" in dialog.error_label.text()
