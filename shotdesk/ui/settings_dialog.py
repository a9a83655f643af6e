"""SettingsDialog: default provider, providers' base URLs and keys, capture defaults, queue, cache.

Opened with ``open()`` and answered through ``finished`` — never ``exec()``, which would start a
nested event loop inside the qasync loop (STYLE.md §4.4). Keys are typed into a masked field and
go straight to :class:`SettingsService` (the keyring wrapper) when "Save key" is pressed or the
dialog is accepted; the field is cleared afterwards and the key is never part of the
:class:`Settings` this dialog produces. "Test" asks the provider's usage endpoint with the typed
key (or the stored one) and shows the answer.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from shotdesk.core.errors import SecretStoreError, ShotDeskError
from shotdesk.core.settings import CONCURRENCY_RANGE, Settings
from shotdesk.services.qt_settings import SettingsService
from shotdesk.services.tasks import TaskRegistry
from shotdesk.ui.capture_form import ProviderInfoLike
from shotdesk.ui.capture_options import CaptureOptionsPanel

log = logging.getLogger(__name__)

_DEFAULT_OPTION_KEYS = ("format", "quality", "width", "height", "scale", "device", "full_page",
                        "dark_mode", "block_ads", "hide_cookie_banners", "delay_ms", "wait_until",
                        "timeout_s")


class SettingsDialog(QDialog):
    """See the module docstring. ``settings_accepted(settings)`` when OK produced valid settings."""

    settings_accepted = Signal(object)

    def __init__(self, settings: Settings, providers: Sequence[ProviderInfoLike], service: SettingsService,
                 tasks: TaskRegistry, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("ShotDesk settings")
        self.setAccessibleName("Settings")
        self.setModal(True)
        self._settings = settings
        self._providers = list(providers)
        self._service = service
        self._tasks = tasks
        self._base_urls = dict(settings.provider_base_urls)
        self._pending_keys: dict[str, str] = {}
        self._key_states: dict[str, bool] = {}
        self._current: str | None = None

        tabs = QTabWidget()
        tabs.setAccessibleName("Settings sections")
        tabs.addTab(self._general_tab(), "&General")
        tabs.addTab(self._providers_tab(), "&Providers")
        tabs.addTab(self._defaults_tab(), "Capture &defaults")
        self.tabs = tabs
        self.error_label = QLabel("")
        self.error_label.setStyleSheet("color: #c42b1c;")
        self.error_label.setWordWrap(True)
        self.error_label.setAccessibleName("Settings problem")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self._on_ok)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(tabs, 1)
        layout.addWidget(self.error_label)
        layout.addWidget(self.buttons)
        self.resize(720, 560)
        self._tasks.spawn(self._load_key_states(), name="settings-key-states")

    # ------------------------------------------------------------------ tabs
    def _general_tab(self) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        self.default_provider_combo = QComboBox()
        self.default_provider_combo.setAccessibleName("Default provider")
        for info in self._providers:
            self.default_provider_combo.addItem(info.label, info.id)
        row = self.default_provider_combo.findData(self._settings.default_provider)
        self.default_provider_combo.setCurrentIndex(max(0, row))
        self.concurrency_spin = QSpinBox()
        self.concurrency_spin.setRange(*CONCURRENCY_RANGE)
        self.concurrency_spin.setValue(self._settings.concurrency)
        self.concurrency_spin.setAccessibleName("Captures at once")
        self.ttl_spin = QDoubleSpinBox()
        self.ttl_spin.setRange(0, 365 * 24)
        self.ttl_spin.setDecimals(1)
        self.ttl_spin.setSuffix(" h")
        self.ttl_spin.setSpecialValueText("always capture anew")
        self.ttl_spin.setValue(self._settings.cache_ttl_s / 3600)
        self.ttl_spin.setAccessibleName("Reuse captures younger than")
        self.ttl_spin.setToolTip("A capture of the same URL and options younger than this is reused")
        self.limit_spin = QSpinBox()
        self.limit_spin.setRange(1, 1_048_576)
        self.limit_spin.setSuffix(" MB")
        self.limit_spin.setValue(self._settings.cache_limit_mb)
        self.limit_spin.setAccessibleName("Cache size limit")
        self.template_edit = QLineEdit(self._settings.filename_template)
        self.template_edit.setAccessibleName("File name template")
        self.template_edit.setToolTip("Tokens: {domain} {path} {title} {date} {time} {width} {height} "
                                      "{device} {format} {ext} {provider} {id} {version}")
        form.addRow("Default &provider", self.default_provider_combo)
        form.addRow("Captures at &once", self.concurrency_spin)
        form.addRow("&Reuse captures younger than", self.ttl_spin)
        form.addRow("Cache size &limit", self.limit_spin)
        form.addRow("File &name template", self.template_edit)
        return page

    def _providers_tab(self) -> QWidget:
        page = QWidget()
        layout = QHBoxLayout(page)
        self.provider_list = QListWidget()
        self.provider_list.setAccessibleName("Providers")
        self.provider_list.setMaximumWidth(220)
        for info in self._providers:
            item = QListWidgetItem(info.label)
            item.setData(Qt.ItemDataRole.UserRole, info.id)
            self.provider_list.addItem(item)
        layout.addWidget(self.provider_list)
        right = QWidget()
        form = QFormLayout(right)
        self.provider_title = QLabel()
        font = self.provider_title.font()
        font.setBold(True)
        self.provider_title.setFont(font)
        self.base_url_edit = QLineEdit()
        self.base_url_edit.setAccessibleName("Base URL")
        self.base_url_edit.setClearButtonEnabled(True)
        self.key_edit = QLineEdit()
        self.key_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.key_edit.setAccessibleName("API key")
        self.key_edit.setToolTip("Stored in the system keyring, never in a file")
        self.key_state_label = QLabel("")
        self.key_state_label.setAccessibleName("Key state")
        self.key_state_label.setWordWrap(True)
        self.save_key_button = QPushButton("&Save key")
        self.save_key_button.setAccessibleName("Save key")
        self.delete_key_button = QPushButton("&Remove key")
        self.delete_key_button.setAccessibleName("Remove key")
        self.test_button = QPushButton("&Test")
        self.test_button.setAccessibleName("Test provider")
        self.test_button.setToolTip("Ask the provider for its usage with this key")
        buttons = QHBoxLayout()
        buttons.addWidget(self.save_key_button)
        buttons.addWidget(self.delete_key_button)
        buttons.addWidget(self.test_button)
        buttons.addStretch(1)
        self.test_label = QLabel("")
        self.test_label.setWordWrap(True)
        self.test_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.test_label.setAccessibleName("Test result")
        self.notes_label = QLabel("")
        self.notes_label.setWordWrap(True)
        self.notes_label.setAccessibleName("Provider notes")
        form.addRow(self.provider_title)
        form.addRow("Base &URL", self.base_url_edit)
        form.addRow("API &key", self.key_edit)
        form.addRow("", self.key_state_label)
        form.addRow(buttons)
        form.addRow(self.test_label)
        form.addRow(self.notes_label)
        layout.addWidget(right, 1)
        self.provider_list.currentRowChanged.connect(self._on_provider_row)
        self.base_url_edit.textEdited.connect(self._on_base_url)
        self.key_edit.textEdited.connect(self._on_key_typed)
        self.save_key_button.clicked.connect(self._save_key_clicked)
        self.delete_key_button.clicked.connect(self._delete_key_clicked)
        self.test_button.clicked.connect(self._test_clicked)
        self.provider_list.setCurrentRow(0)
        return page

    def _defaults_tab(self) -> QWidget:
        self.defaults_panel = CaptureOptionsPanel()
        self.defaults_panel.set_options(self._settings.capture_defaults)
        scroll = QScrollArea()
        scroll.setWidget(self.defaults_panel)
        scroll.setWidgetResizable(True)
        return scroll

    # ------------------------------------------------------------------ providers page
    def _info(self, provider_id: str | None) -> ProviderInfoLike | None:
        return next((p for p in self._providers if p.id == provider_id), None)

    def select_provider(self, provider_id: str) -> None:
        for row in range(self.provider_list.count()):
            item = self.provider_list.item(row)
            if item is not None and item.data(Qt.ItemDataRole.UserRole) == provider_id:
                self.provider_list.setCurrentRow(row)
                return

    def _on_provider_row(self, row: int) -> None:
        item = self.provider_list.item(row)
        pid = item.data(Qt.ItemDataRole.UserRole) if item is not None else None
        info = self._info(pid)
        self._current = pid
        if info is None:
            return
        self.provider_title.setText(info.label)
        default = getattr(info, "default_base_url", None)
        self.base_url_edit.setPlaceholderText(default or "the provider's default")
        self.base_url_edit.setText(self._base_urls.get(info.id, ""))
        self.key_edit.setText(self._pending_keys.get(info.id, ""))
        needs_key = bool(info.needs_key)
        for w in (self.key_edit, self.save_key_button, self.delete_key_button):
            w.setEnabled(needs_key)
        self.key_edit.setPlaceholderText("" if needs_key else "no key needed")
        self.test_label.setText("")
        notes = getattr(info.capabilities, "notes", {}) or {}
        self.notes_label.setText("\n".join(f"• {k.replace('_', ' ')}: {v}" for k, v in notes.items()))
        self._show_key_state()

    def _show_key_state(self) -> None:
        info = self._info(self._current)
        if info is None or not info.needs_key:
            self.key_state_label.setText("")
            return
        if self._current in self._pending_keys:
            self.key_state_label.setText("New key typed — it is stored when you press Save key or OK")
        elif self._key_states.get(info.id):
            self.key_state_label.setText("A key is stored")
            self.key_edit.setPlaceholderText("•••••••• (stored — type to replace)")
        else:
            self.key_state_label.setText("No key stored")
            self.key_edit.setPlaceholderText("paste your API key")

    def _on_base_url(self, text: str) -> None:
        if self._current is None:
            return
        if text.strip():
            self._base_urls[self._current] = text.strip()
        else:
            self._base_urls.pop(self._current, None)

    def _on_key_typed(self, text: str) -> None:
        if self._current is None:
            return
        if text:
            self._pending_keys[self._current] = text
        else:
            self._pending_keys.pop(self._current, None)
        self._show_key_state()

    def _save_key_clicked(self) -> None:
        if self._current and self._current in self._pending_keys:
            pid = self._current
            self._tasks.spawn(self._store_keys({pid: self._pending_keys[pid]}), name="settings-save-key")

    def _delete_key_clicked(self) -> None:
        if self._current:
            self._tasks.spawn(self._delete_key(self._current), name="settings-delete-key")

    def _test_clicked(self) -> None:
        if self._current:
            self.test_label.setText("Testing…")
            self.test_button.setEnabled(False)
            self._tasks.spawn(self._test(self._current), name="settings-test")

    # ------------------------------------------------------------------ async work
    async def _load_key_states(self) -> None:
        self._key_states = await self._service.key_states(p.id for p in self._providers if p.needs_key)
        problem = await self._service.keyring_problem()
        for row in range(self.provider_list.count()):
            item = self.provider_list.item(row)
            if item is None:
                continue
            info = self._info(item.data(Qt.ItemDataRole.UserRole))
            if info is not None and info.needs_key:
                mark = "🔑 " if self._key_states.get(info.id) else ""
                item.setText(f"{mark}{info.label}")
        if problem:
            self.error_label.setText(problem)
        self._show_key_state()

    async def _store_keys(self, keys: dict[str, str]) -> bool:
        ok = True
        for pid, key in keys.items():
            try:
                await self._service.set_key(pid, key)
            except SecretStoreError as exc:
                self.error_label.setText(str(exc))  # kept for this session only
                ok = False
            except ShotDeskError as exc:
                self.error_label.setText(str(exc))
                return False
            self._pending_keys.pop(pid, None)
            self._key_states[pid] = True
            if pid == self._current:
                self.key_edit.clear()
        self._show_key_state()
        await self._load_key_states()
        return ok

    async def _delete_key(self, pid: str) -> None:
        try:
            removed = await self._service.delete_key(pid)
        except ShotDeskError as exc:
            self.error_label.setText(str(exc))
            return
        self._pending_keys.pop(pid, None)
        self._key_states[pid] = False
        if pid == self._current:
            self.key_edit.clear()
            self.test_label.setText("Key removed" if removed else "There was no stored key")
        await self._load_key_states()

    async def _test(self, pid: str) -> None:
        try:
            usage = await self._service.test_provider(pid, base_url=self._base_urls.get(pid),
                                                      key=self._pending_keys.get(pid))
        except ShotDeskError as exc:
            text = f"✗ {exc}"
        except Exception as exc:  # a bug in an adapter: show it rather than lose it
            log.exception("provider test failed")
            text = f"✗ Unexpected error: {exc.__class__.__name__}: {exc}"
        else:
            text = "✓ " + "\n".join(f"{k}: {v}" for k, v in usage.items())
        finally:
            self.test_button.setEnabled(True)
        if pid == self._current:
            self.test_label.setText(text)

    # ------------------------------------------------------------------ result
    def result_settings(self) -> Settings:
        """The settings the dialog shows (raises ``InvalidSpec`` naming a bad field)."""
        options = self.defaults_panel.options()
        defaults: dict[str, Any] = {k: options[k] for k in _DEFAULT_OPTION_KEYS if options.get(k) is not None}
        if defaults.get("device") is None:
            defaults.pop("device", None)
        settings = replace(
            self._settings,
            default_provider=str(self.default_provider_combo.currentData()),
            provider_base_urls=dict(self._base_urls),
            concurrency=self.concurrency_spin.value(),
            cache_ttl_s=round(self.ttl_spin.value() * 3600),
            cache_limit_mb=self.limit_spin.value(),
            filename_template=self.template_edit.text().strip(),
            capture_defaults=defaults,
        )
        settings.validate()
        return settings

    def _on_ok(self) -> None:
        try:
            settings = self.result_settings()
        except ShotDeskError as exc:
            self.error_label.setText(str(exc))
            return
        self.buttons.setEnabled(False)
        self._tasks.spawn(self._finish(settings), name="settings-ok")

    async def _finish(self, settings: Settings) -> None:
        try:
            if self._pending_keys and not await self._store_keys(dict(self._pending_keys)):
                self.buttons.setEnabled(True)
                return  # the message says why; keep the dialog open
        finally:
            self.buttons.setEnabled(True)
        self.settings_accepted.emit(settings)
        self.accept()
