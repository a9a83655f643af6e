"""CaptureBar: the URL field, the provider picker and the Capture button.

* The URL is checked as you type with :func:`shotdesk.core.urls.normalize_url`: the line under the
  field shows what will be captured (``→ https://example.com/``) or what is wrong with it.
* History completer over the last captured URLs; Enter captures.
* The provider picker lists :func:`provider_infos` and says which need a key and whether one is
  stored (:meth:`set_key_states`, filled in asynchronously by the window).
* Capture builds a :class:`CaptureSpec` from the URL, the provider and the options panel. An
  invalid option is reported under the field (``InvalidSpec`` names the field; that widget gets
  the focus) and nothing is emitted; a valid spec is emitted as ``capture_requested(spec)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from PySide6.QtCore import QStringListModel, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from shotdesk.capture.base import Capabilities
from shotdesk.core.errors import InvalidSpec
from shotdesk.core.spec import CaptureSpec
from shotdesk.core.urls import normalize_url
from shotdesk.ui.capture_options import CaptureOptionsPanel


class ProviderInfoLike(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def label(self) -> str: ...
    @property
    def needs_key(self) -> bool: ...
    @property
    def capabilities(self) -> Capabilities: ...


class CaptureBar(QWidget):
    """See the module docstring."""

    capture_requested = Signal(object)  # CaptureSpec
    provider_changed = Signal(str)

    def __init__(self, options: CaptureOptionsPanel, providers: Sequence[ProviderInfoLike],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._options = options
        self._providers = {p.id: p for p in providers}
        self._keys: dict[str, bool] = {}
        self._history = QStringListModel(self)

        self.url_edit = QLineEdit()
        self.url_edit.setPlaceholderText("Web address to capture, e.g. example.com   (Ctrl+L)")
        self.url_edit.setAccessibleName("Web address")
        self.url_edit.setClearButtonEnabled(True)
        completer = QCompleter(self._history, self)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.url_edit.setCompleter(completer)

        self.provider_combo = QComboBox()
        self.provider_combo.setAccessibleName("Provider")
        self.provider_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        for info in providers:
            self.provider_combo.addItem(info.label, info.id)
        self.capture_button = QPushButton("&Capture")
        self.capture_button.setDefault(True)
        self.capture_button.setAccessibleName("Capture")
        self.capture_button.setToolTip("Capture the page (Enter)")
        self.status_label = QLabel(" ")
        self.status_label.setAccessibleName("Address check")
        self.status_label.setTextFormat(Qt.TextFormat.PlainText)
        self.status_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.key_label = QLabel("")
        self.key_label.setAccessibleName("Key status")
        self.key_label.setTextFormat(Qt.TextFormat.PlainText)

        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.url_edit, 1)
        row.addWidget(self.provider_combo)
        row.addWidget(self.capture_button)
        info_row = QHBoxLayout()
        info_row.setContentsMargins(4, 0, 4, 0)
        info_row.addWidget(self.status_label, 1)
        info_row.addWidget(self.key_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(row)
        layout.addLayout(info_row)

        self.url_edit.textChanged.connect(self._validate)
        self.url_edit.returnPressed.connect(self.request_capture)
        self.capture_button.clicked.connect(self.request_capture)
        self.provider_combo.currentIndexChanged.connect(self._on_provider)
        self._on_provider()
        self._validate()

    # ------------------------------------------------------------------ public API
    @property
    def provider_id(self) -> str:
        return str(self.provider_combo.currentData() or "local")

    def set_provider(self, provider_id: str) -> None:
        row = self.provider_combo.findData(provider_id)
        if row >= 0:
            self.provider_combo.setCurrentIndex(row)

    def set_history(self, urls: Iterable[str]) -> None:
        self._history.setStringList(list(urls))

    def history(self) -> list[str]:
        return list(self._history.stringList())

    def set_key_states(self, states: Mapping[str, bool]) -> None:
        """``provider id → key stored?`` — shown in the picker and under it."""
        self._keys.update(states)
        for row in range(self.provider_combo.count()):
            pid = self.provider_combo.itemData(row)
            info = self._providers.get(pid)
            if info is None:
                continue
            label = info.label
            if info.needs_key:
                stored = self._keys.get(pid)
                label += " — key stored" if stored else (" — needs a key" if stored is False else " — key?")
            self.provider_combo.setItemText(row, label)
            self.provider_combo.setItemData(row, _provider_tip(info, self._keys.get(pid)),
                                            Qt.ItemDataRole.ToolTipRole)
        self._update_key_label()

    def spec(self) -> CaptureSpec:
        """The spec for the current inputs; raises ``InvalidSpec`` naming the bad field."""
        return CaptureSpec(url=self.url_edit.text(), provider=self.provider_id, **self._options.options())

    def request_capture(self) -> None:
        try:
            spec = self.spec()
        except InvalidSpec as exc:
            self._show_problem(str(exc))
            self._focus_field(exc.field)
            return
        problems = self._providers[self.provider_id].capabilities.problems(spec) \
            if self.provider_id in self._providers else []
        if problems:
            self._show_problem(f"{self._label()} cannot honour: {'; '.join(problems)}")
            return
        self.capture_requested.emit(spec)
        self.url_edit.selectAll()  # typing the next address replaces this one

    # ------------------------------------------------------------------ internals
    def _label(self) -> str:
        info = self._providers.get(self.provider_id)
        return info.label if info else self.provider_id

    def _on_provider(self) -> None:
        info = self._providers.get(self.provider_id)
        if info is not None:
            self._options.apply_capabilities(info.capabilities, info.label)
        self._update_key_label()
        self.provider_changed.emit(self.provider_id)

    def _update_key_label(self) -> None:
        info = self._providers.get(self.provider_id)
        if info is None or not info.needs_key:
            self.key_label.setText("")
            return
        stored = self._keys.get(info.id)
        if stored:
            self.key_label.setText(f"{info.label}: key stored")
        elif stored is False:
            self.key_label.setText(f"{info.label} needs an API key — add it in Settings (Ctrl+,)")
        else:
            self.key_label.setText("")

    def _validate(self) -> None:
        text = self.url_edit.text()
        if not text.strip():
            self.status_label.setText(" ")
            self._set_invalid(False)
            return
        try:
            url = normalize_url(text)
        except InvalidSpec as exc:
            self._show_problem(exc.message)
            return
        self._set_invalid(False)
        self.status_label.setText(f"→ {url}")

    def _show_problem(self, message: str) -> None:
        self._set_invalid(True)
        self.status_label.setText(f"⚠ {message}")
        self.status_label.setToolTip(message)

    def _set_invalid(self, invalid: bool) -> None:
        self.url_edit.setProperty("invalid", invalid)
        self.url_edit.setStyleSheet("QLineEdit { border: 1px solid #c42b1c; }" if invalid else "")
        self.status_label.setStyleSheet("color: #c42b1c;" if invalid else "")

    def _focus_field(self, field: str) -> None:
        widgets = {
            "url": self.url_edit, "width": self._options.width_spin, "height": self._options.height_spin,
            "scale": self._options.scale_spin, "quality": self._options.quality_spin,
            "delay": self._options.delay_spin, "selector": self._options.selector_edit,
            "hide": self._options.hide_edit, "css": self._options.css_edit, "js": self._options.js_edit,
            "user_agent": self._options.ua_edit, "timeout": self._options.timeout_spin,
        }
        widget = widgets.get(field)
        if widget is not None:
            if widget is not self.url_edit and not self._options.advanced.isVisible() and \
                    widget in (self._options.selector_edit, self._options.hide_edit, self._options.css_edit,
                               self._options.js_edit, self._options.ua_edit, self._options.timeout_spin):
                self._options.advanced_button.setChecked(True)
            widget.setFocus(Qt.FocusReason.OtherFocusReason)


def _provider_tip(info: ProviderInfoLike, stored: bool | None) -> str:
    if not info.needs_key:
        return f"{info.label}: no key needed"
    if stored:
        return f"{info.label}: an API key is stored"
    return f"{info.label}: needs an API key (Settings → Providers)"
