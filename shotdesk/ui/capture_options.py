"""CaptureOptionsPanel: every capture option except the URL and the provider.

Format (+ quality for JPEG/WebP), device preset or custom width/height/scale with the output
pixel size shown live ("1280×720 @2× → 2560×1440 px"), full page, dark mode, block ads, hide
cookie banners, delay, and an "Advanced" fold (selector, hide selectors, CSS, JS, wait-until,
user agent, timeout). :meth:`apply_capabilities` disables what the chosen provider cannot honour,
with a tooltip saying why; :meth:`options` then leaves those at their defaults, so the spec the
form builds is one the provider can take.

Used by the capture form and, for the default options, by the settings dialog.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from shotdesk.capture.base import Capabilities
from shotdesk.core.devices import Device, devices
from shotdesk.core.spec import (
    DEFAULT_QUALITY,
    DELAY_RANGE,
    FORMATS,
    HEIGHT_RANGE,
    OPTION_DEFAULTS,
    SCALE_RANGE,
    TIMEOUT_RANGE,
    WAIT_UNTIL,
    WIDTH_RANGE,
)
from shotdesk.ui.text import output_size_text

CUSTOM = "Custom"
_KIND_LABELS = {"phone": "Phones", "tablet": "Tablets", "laptop": "Laptops", "desktop": "Desktops"}
_FORMAT_LABELS = {"png": "PNG", "jpeg": "JPEG", "webp": "WebP", "pdf": "PDF"}
_WAIT_LABELS = {"load": "Page loaded", "networkidle": "Network idle"}
#: Tall pages: WebP stops at 16,383 px (ENGINE-NOTES.md).
WEBP_LIMIT = 16_383


class CaptureOptionsPanel(QWidget):
    """See the module docstring. ``changed`` fires on any edit."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._caps = Capabilities()
        self._provider_label = "This provider"
        self._devices: dict[str, Device] = {d.name: d for d in devices()}
        self._applying_device = False
        self._build()
        self._update_dependent()

    # ------------------------------------------------------------------ construction
    def _build(self) -> None:
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        grid = QGridLayout()
        grid.setHorizontalSpacing(10)
        grid.setVerticalSpacing(6)
        outer.addLayout(grid)

        self.format_combo = QComboBox()
        for fmt in FORMATS:
            self.format_combo.addItem(_FORMAT_LABELS[fmt], fmt)
        self.format_combo.setAccessibleName("Format")
        self.quality_spin = QSpinBox()
        self.quality_spin.setRange(1, 100)
        self.quality_spin.setValue(DEFAULT_QUALITY)
        self.quality_spin.setSuffix(" %")
        self.quality_spin.setAccessibleName("Quality")
        self.quality_spin.setToolTip("Compression quality for JPEG and WebP")
        fmt_row = QHBoxLayout()
        fmt_row.addWidget(self.format_combo)
        quality_label = QLabel("&Quality")
        quality_label.setBuddy(self.quality_spin)
        fmt_row.addWidget(quality_label)
        fmt_row.addWidget(self.quality_spin)
        fmt_row.addStretch(1)
        format_label = QLabel("&Format")
        format_label.setBuddy(self.format_combo)
        grid.addWidget(format_label, 0, 0)
        grid.addLayout(fmt_row, 0, 1)

        self.device_combo = QComboBox()
        self.device_combo.setAccessibleName("Device preset")
        self.device_combo.addItem(CUSTOM, None)
        by_kind: dict[str, list[Device]] = {}
        for device in devices():
            by_kind.setdefault(device.kind, []).append(device)
        for kind, items in by_kind.items():
            self.device_combo.insertSeparator(self.device_combo.count())
            self.device_combo.addItem(f"— {_KIND_LABELS.get(kind, kind.title())} —", None)
            header = self.device_combo.model()
            if isinstance(header, QStandardItemModel):
                item = header.item(self.device_combo.count() - 1)
                if item is not None:
                    item.setEnabled(False)
            for device in items:
                self.device_combo.addItem(
                    f"{device.name}  ({device.width}×{device.height} @{device.scale:g}×)", device.name)
        device_label = QLabel("&Device")
        device_label.setBuddy(self.device_combo)
        grid.addWidget(device_label, 1, 0)
        grid.addWidget(self.device_combo, 1, 1)

        self.width_spin = _spin(WIDTH_RANGE, 1280, " px", "Viewport width")
        self.height_spin = _spin(HEIGHT_RANGE, 720, " px", "Viewport height")
        self.scale_spin = ScaleSpinBox()
        self.scale_spin.setRange(*SCALE_RANGE)
        self.scale_spin.setSingleStep(0.5)
        self.scale_spin.setDecimals(3)
        self.scale_spin.setMinimumWidth(self.scale_spin.fontMetrics().horizontalAdvance("2.625 ×") + 40)
        self.scale_spin.setValue(1.0)
        self.scale_spin.setSuffix(" ×")
        self.scale_spin.setAccessibleName("Scale factor")
        self.scale_spin.setToolTip("Device pixel ratio: 2× gives a picture twice as wide and tall")
        size_row = QHBoxLayout()
        size_row.addWidget(self.width_spin)
        size_row.addWidget(QLabel("×"))
        size_row.addWidget(self.height_spin)
        size_row.addWidget(QLabel("@"))
        size_row.addWidget(self.scale_spin)
        size_row.addStretch(1)
        viewport_label = QLabel("&Viewport")
        viewport_label.setBuddy(self.width_spin)
        grid.addWidget(viewport_label, 2, 0)
        grid.addLayout(size_row, 2, 1)
        self.output_label = QLabel()
        self.output_label.setAccessibleName("Output size")
        self.output_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        grid.addWidget(self.output_label, 3, 1)

        self.full_page_check = _check("F&ull page", "Capture the whole page, not just the viewport")
        self.dark_mode_check = _check("Dar&k mode", "Ask the page for its dark colour scheme")
        self.block_ads_check = _check("Block &ads", "Block ad and tracker requests")
        self.cookie_check = _check("Hide coo&kie banners", "Hide common cookie-consent banners")
        checks = QGridLayout()
        checks.addWidget(self.full_page_check, 0, 0)
        checks.addWidget(self.dark_mode_check, 0, 1)
        checks.addWidget(self.block_ads_check, 1, 0)
        checks.addWidget(self.cookie_check, 1, 1)
        grid.addLayout(checks, 4, 1)

        self.delay_spin = _spin(DELAY_RANGE, 0, " ms", "Delay before capture")
        self.delay_spin.setSingleStep(250)
        self.delay_spin.setToolTip("Wait this long after the page has loaded (for animations, timers)")
        delay_label = QLabel("D&elay")
        delay_label.setBuddy(self.delay_spin)
        grid.addWidget(delay_label, 5, 0)
        grid.addWidget(self.delay_spin, 5, 1, Qt.AlignmentFlag.AlignLeft)

        # Advanced fold.
        self.advanced_button = QToolButton()
        self.advanced_button.setText("Advanced")
        self.advanced_button.setCheckable(True)
        self.advanced_button.setArrowType(Qt.ArrowType.RightArrow)
        self.advanced_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.advanced_button.setAutoRaise(True)
        self.advanced_button.setAccessibleName("Show advanced options")
        outer.addWidget(self.advanced_button)
        self.advanced = QWidget()
        form = QFormLayout(self.advanced)
        form.setContentsMargins(12, 0, 0, 0)
        self.selector_edit = _line("CSS selector of one element, e.g. #hero", "Element selector")
        self.hide_edit = _line("Selectors to hide, comma-separated, e.g. .popup, #chat", "Hide selectors")
        self.css_edit = _text("CSS injected into the page", "Custom CSS")
        self.js_edit = _text("JavaScript run before the capture", "Custom JavaScript")
        self.wait_combo = QComboBox()
        for value in WAIT_UNTIL:
            self.wait_combo.addItem(_WAIT_LABELS.get(value, value), value)
        self.wait_combo.setAccessibleName("Wait until")
        self.ua_edit = _line("Browser default (or the device's)", "User agent")
        self.timeout_spin = QDoubleSpinBox()
        self.timeout_spin.setRange(*TIMEOUT_RANGE)
        self.timeout_spin.setValue(30.0)
        self.timeout_spin.setDecimals(0)
        self.timeout_spin.setSuffix(" s")
        self.timeout_spin.setAccessibleName("Timeout")
        form.addRow("&Selector", self.selector_edit)
        form.addRow("&Hide", self.hide_edit)
        form.addRow("&CSS", self.css_edit)
        form.addRow("&JS", self.js_edit)
        form.addRow("&Wait until", self.wait_combo)
        form.addRow("User &agent", self.ua_edit)
        form.addRow("&Timeout", self.timeout_spin)
        self.advanced.setVisible(False)
        outer.addWidget(self.advanced)
        outer.addStretch(1)
        self.advanced_button.toggled.connect(self._toggle_advanced)

        #: Option name → the widget(s) that set it (for capability greying).
        self._option_widgets: dict[str, list[QWidget]] = {
            "scale": [self.scale_spin], "full_page": [self.full_page_check],
            "dark_mode": [self.dark_mode_check], "block_ads": [self.block_ads_check],
            "hide_cookie_banners": [self.cookie_check], "delay_ms": [self.delay_spin],
            "wait_until": [self.wait_combo], "selector": [self.selector_edit],
            "hide_selectors": [self.hide_edit], "css": [self.css_edit], "js": [self.js_edit],
            "user_agent": [self.ua_edit],
        }
        self._tooltips = {w: w.toolTip() for ws in self._option_widgets.values() for w in ws}

        for combo in (self.format_combo, self.wait_combo):
            combo.currentIndexChanged.connect(self._on_changed)
        self.device_combo.currentIndexChanged.connect(self._on_device)
        for spin in (self.width_spin, self.height_spin, self.quality_spin, self.delay_spin):
            spin.valueChanged.connect(self._on_size_edit if spin in (self.width_spin, self.height_spin)
                                      else self._on_changed)
        self.scale_spin.valueChanged.connect(self._on_size_edit)
        self.timeout_spin.valueChanged.connect(self._on_changed)
        for check in (self.full_page_check, self.dark_mode_check, self.block_ads_check, self.cookie_check):
            check.toggled.connect(self._on_changed)
        for edit in (self.selector_edit, self.hide_edit, self.ua_edit):
            edit.textChanged.connect(self._on_changed)
        for text in (self.css_edit, self.js_edit):
            text.textChanged.connect(self._on_changed)

    # ------------------------------------------------------------------ behaviour
    def _toggle_advanced(self, on: bool) -> None:
        self.advanced.setVisible(on)
        self.advanced_button.setArrowType(Qt.ArrowType.DownArrow if on else Qt.ArrowType.RightArrow)

    def _on_device(self) -> None:
        name = self.device_combo.currentData()
        device = self._devices.get(name) if name else None
        if device is not None:
            self._applying_device = True
            try:
                self.width_spin.setValue(device.width)
                self.height_spin.setValue(device.height)
                if self.scale_spin.isEnabled():
                    self.scale_spin.setValue(device.scale)
            finally:
                self._applying_device = False
        self._on_changed()

    def _on_size_edit(self) -> None:
        if not self._applying_device and self.device_combo.currentData():
            device = self._devices.get(self.device_combo.currentData())
            if device is None or (self.width_spin.value(), self.height_spin.value()) != (device.width,
                                                                                         device.height):
                self.device_combo.setCurrentIndex(0)  # edited by hand: a custom size now
        self._on_changed()

    def _on_changed(self) -> None:
        self._update_dependent()
        self.changed.emit()

    def _update_dependent(self) -> None:
        fmt = self.format_combo.currentData()
        self.quality_spin.setEnabled(fmt in ("jpeg", "webp"))
        scale = self.scale_spin.value() if self.scale_spin.isEnabled() else 1.0
        self.output_label.setText(output_size_text(self.width_spin.value(), self.height_spin.value(), scale,
                                                   full_page=self.full_page_check.isChecked()
                                                   and self.full_page_check.isEnabled()))
        if fmt == "webp" and self.full_page_check.isChecked():
            self.output_label.setToolTip(f"WebP pictures stop at {WEBP_LIMIT:,} px: very tall pages "
                                         "need PNG or JPEG")
        else:
            self.output_label.setToolTip("The size of the picture, in pixels")

    # ------------------------------------------------------------------ capabilities
    def apply_capabilities(self, caps: Capabilities, provider_label: str) -> None:
        """Disable what ``caps`` cannot honour, with a tooltip saying why."""
        self._caps = caps
        self._provider_label = provider_label
        for name, widgets in self._option_widgets.items():
            ok = name in caps.options or (name == "scale" and caps.max_scale > 1.0)
            reason = caps.notes.get(name) or f"{provider_label} cannot do this"
            for w in widgets:
                w.setEnabled(ok)
                w.setToolTip(self._tooltips.get(w, "") if ok else f"Not available: {reason}")
        self.scale_spin.setMaximum(max(1.0, min(SCALE_RANGE[1], caps.max_scale)))
        scales = getattr(caps, "scales", None)
        if scales and self.scale_spin.isEnabled():
            allowed = " or ".join(f"{s:g}×" for s in sorted(scales))
            self.scale_spin.setToolTip(f"{provider_label} renders at {allowed} only")
            if self.scale_spin.value() not in scales:
                self.scale_spin.setValue(min(scales, key=lambda s: abs(s - self.scale_spin.value())))
        self.width_spin.setMaximum(min(WIDTH_RANGE[1], caps.max_width))
        self.height_spin.setMaximum(min(HEIGHT_RANGE[1], caps.max_height))
        model = self.format_combo.model()
        if isinstance(model, QStandardItemModel):
            for row in range(self.format_combo.count()):
                fmt = self.format_combo.itemData(row)
                item = model.item(row)
                if item is None:
                    continue
                ok = fmt in caps.formats
                item.setEnabled(ok)
                item.setToolTip("" if ok else f"{provider_label} cannot produce {_FORMAT_LABELS[fmt]}")
        if self.format_combo.currentData() not in caps.formats:
            first = next((r for r in range(self.format_combo.count())
                          if self.format_combo.itemData(r) in caps.formats), 0)
            self.format_combo.setCurrentIndex(first)
        self._update_dependent()

    def disabled_options(self) -> list[str]:
        return [name for name, widgets in self._option_widgets.items() if not widgets[0].isEnabled()]

    # ------------------------------------------------------------------ values
    def options(self) -> dict[str, Any]:
        """CaptureSpec keyword arguments (no url/provider); disabled options at their defaults."""
        device = self.device_combo.currentData()
        out: dict[str, Any] = {
            "format": self.format_combo.currentData(),
            "quality": self.quality_spin.value(),
            "width": self.width_spin.value(),
            "height": self.height_spin.value(),
            "scale": round(self.scale_spin.value(), 3),
            "device": device,
            "full_page": self.full_page_check.isChecked(),
            "dark_mode": self.dark_mode_check.isChecked(),
            "block_ads": self.block_ads_check.isChecked(),
            "hide_cookie_banners": self.cookie_check.isChecked(),
            "delay_ms": self.delay_spin.value(),
            "wait_until": self.wait_combo.currentData(),
            "selector": self.selector_edit.text().strip() or None,
            "hide_selectors": tuple(s.strip() for s in self.hide_edit.text().split(",") if s.strip()),
            "css": self.css_edit.toPlainText().strip() or None,
            "js": self.js_edit.toPlainText().strip() or None,
            "user_agent": self.ua_edit.text().strip() or None,
            "timeout_s": float(self.timeout_spin.value()),
        }
        if out["user_agent"] is None and device and device in self._devices:
            out["user_agent"] = self._devices[device].user_agent
        for name in self.disabled_options():
            out[name] = OPTION_DEFAULTS[name]
        return out

    def set_options(self, values: Mapping[str, Any]) -> None:
        """Show ``values`` (CaptureSpec option names; unknown or bad ones are ignored)."""
        try:
            if "format" in values:
                _select(self.format_combo, "jpeg" if values["format"] == "jpg" else values["format"])
            _set_int(self.quality_spin, values.get("quality"))
            device = values.get("device")
            if device and device in self._devices:
                _select(self.device_combo, device)
            else:
                self.device_combo.setCurrentIndex(0)
            _set_int(self.width_spin, values.get("width"))
            _set_int(self.height_spin, values.get("height"))
            if isinstance(values.get("scale"), int | float):
                self.scale_spin.setValue(float(values["scale"]))
            if device and device in self._devices:
                _select(self.device_combo, device)
            checks = (("full_page", self.full_page_check), ("dark_mode", self.dark_mode_check),
                      ("block_ads", self.block_ads_check), ("hide_cookie_banners", self.cookie_check))
            for key, check in checks:
                if isinstance(values.get(key), bool):
                    check.setChecked(values[key])
            _set_int(self.delay_spin, values.get("delay_ms"))
            if values.get("wait_until"):
                _select(self.wait_combo, values["wait_until"])
            self.selector_edit.setText(str(values.get("selector") or ""))
            hides = values.get("hide_selectors") or ()
            self.hide_edit.setText(", ".join(hides) if not isinstance(hides, str) else hides)
            self.css_edit.setPlainText(str(values.get("css") or ""))
            self.js_edit.setPlainText(str(values.get("js") or ""))
            ua = values.get("user_agent")
            if device and device in self._devices and ua == self._devices[device].user_agent:
                ua = None  # the device's own: keep the field empty so it follows the device
            self.ua_edit.setText(str(ua or ""))
            if isinstance(values.get("timeout_s"), int | float):
                self.timeout_spin.setValue(float(values["timeout_s"]))
        finally:
            self._on_changed()

    def output_size_text(self) -> str:
        return self.output_label.text()


# ---------------------------------------------------------------------- widget helpers
class ScaleSpinBox(QDoubleSpinBox):
    """A scale factor shown as ``2 ×`` or ``2.625 ×`` (no trailing zeros)."""

    def textFromValue(self, value: float) -> str:
        return f"{value:g}"

def _spin(bounds: tuple[int, int], value: int, suffix: str, name: str) -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(*bounds)
    spin.setValue(value)
    spin.setSuffix(suffix)
    spin.setAccessibleName(name)
    spin.setAccelerated(True)
    return spin


def _check(text: str, tip: str) -> QCheckBox:
    box = QCheckBox(text)
    box.setToolTip(tip)
    box.setAccessibleName(text.replace("&", ""))
    return box


def _line(placeholder: str, name: str) -> QLineEdit:
    edit = QLineEdit()
    edit.setPlaceholderText(placeholder)
    edit.setAccessibleName(name)
    edit.setClearButtonEnabled(True)
    return edit


def _text(placeholder: str, name: str) -> QPlainTextEdit:
    edit = QPlainTextEdit()
    edit.setPlaceholderText(placeholder)
    edit.setAccessibleName(name)
    edit.setTabChangesFocus(True)
    edit.setFixedHeight(54)
    return edit


def _select(combo: QComboBox, data: Any) -> None:
    row = combo.findData(data)
    if row >= 0:
        combo.setCurrentIndex(row)


def _set_int(spin: QSpinBox, value: Any) -> None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        spin.setValue(int(value))
