"""CompareDialog: two captures (typically two versions) side by side, as a swipe, as an onion skin,
and as a heat map of changed pixels with the percentage changed.

Non-modal, opened with ``show()``/``open()``; the pictures are decoded and the diff is computed
in worker threads (the window asks :class:`GalleryService.compare` and passes the result to
:meth:`set_diff`). Both pictures are drawn at one scale (fit to the width, never enlarged), top-left
aligned like the diff itself, so a pixel in one lines up with the same pixel in the other.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPaintEvent, QPen, QResizeEvent
from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QHBoxLayout,
    QLabel,
    QRadioButton,
    QScrollArea,
    QSizePolicy,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from shotdesk.services.tasks import TaskRegistry
from shotdesk.ui.preview import read_image
from shotdesk.ui.text import local_time_text

if TYPE_CHECKING:
    from shotdesk.core.library import Capture

MODES = ("side", "swipe", "onion", "heat")
_LABELS = {"side": "Side by side", "swipe": "Swipe", "onion": "Onion skin", "heat": "Heat map"}


def pil_to_qimage(img: Any) -> QImage:
    rgba = img.convert("RGBA")
    return QImage(rgba.tobytes("raw", "RGBA"), rgba.width, rgba.height, rgba.width * 4,
                  QImage.Format.Format_RGBA8888).copy()


class CompareCanvas(QWidget):
    """Paints the two images in the chosen mode; sized for a scroll area."""

    split_changed = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.a = QImage()
        self.b = QImage()
        self.heat = QImage()
        self.mode = "swipe"
        self.split = 0.5
        self.opacity = 0.5
        self._avail = 800
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.setAccessibleName("Comparison")
        self.setMouseTracking(False)

    def set_available_width(self, width: int) -> None:
        self._avail = max(200, width)
        self._resize()

    def _scale(self) -> float:
        widest = max(self.a.width(), self.b.width(), 1)
        columns = 2 if self.mode == "side" else 1
        gap = 12 if columns == 2 else 0
        return min(1.0, (self._avail - gap) / (widest * columns))

    def _resize(self) -> None:
        s = self._scale()
        w = max(self.a.width(), self.b.width(), 1)
        h = max(self.a.height(), self.b.height(), 1)
        if self.mode == "side":
            self.setFixedSize(QSize(round(w * s) * 2 + 12, round(h * s)))
        else:
            self.setFixedSize(QSize(round(w * s), round(h * s)))
        self.update()

    def set_mode(self, mode: str) -> None:
        self.mode = mode
        self._resize()

    def set_images(self, a: QImage, b: QImage) -> None:
        self.a, self.b = a, b
        self._resize()

    def paintEvent(self, event: QPaintEvent) -> None:
        if self.a.isNull() and self.b.isNull():
            return
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        s = self._scale()

        def target(img: QImage, x: float = 0) -> QRectF:
            return QRectF(x, 0, img.width() * s, img.height() * s)

        if self.mode == "side":
            painter.drawImage(target(self.a), self.a)
            painter.drawImage(target(self.b, max(self.a.width(), self.b.width()) * s + 12), self.b)
        elif self.mode == "onion":
            painter.drawImage(target(self.a), self.a)
            painter.setOpacity(self.opacity)
            painter.drawImage(target(self.b), self.b)
            painter.setOpacity(1.0)
        elif self.mode == "heat":
            if not self.heat.isNull():
                painter.drawImage(target(self.heat), self.heat)
        else:  # swipe: the older picture left of the line, the newer right of it
            x = self.width() * self.split
            painter.drawImage(target(self.b), self.b)
            painter.save()
            painter.setClipRect(QRectF(0, 0, x, self.height()))
            painter.drawImage(target(self.a), self.a)
            painter.restore()
            painter.setPen(QPen(QColor(255, 255, 255), 3))
            painter.drawLine(round(x), 0, round(x), self.height())
            painter.setPen(QPen(QColor(30, 120, 240), 1))
            painter.drawLine(round(x), 0, round(x), self.height())
        del event

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self._drag(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        self._drag(event)

    def _drag(self, event: QMouseEvent) -> None:
        if self.mode == "swipe" and self.width() > 0:
            self.split = max(0.0, min(1.0, event.position().x() / self.width()))
            self.split_changed.emit(self.split)
            self.update()


class CompareDialog(QDialog):
    """See the module docstring. ``a`` is the older capture, ``b`` the newer."""

    def __init__(self, a: Capture, b: Capture, tasks: TaskRegistry, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        if b.captured_at < a.captured_at:
            a, b = b, a
        self.a, self.b = a, b
        self._tasks = tasks
        self.setWindowTitle(f"Compare — {b.title or b.url}")
        self.setAccessibleName("Compare captures")
        self.resize(1100, 760)
        self.canvas = CompareCanvas()
        self.scroll_area = QScrollArea()
        self.scroll_area.setWidget(self.canvas)
        self.scroll_area.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        self.scroll_area.setAccessibleName("Comparison area")
        self.mode_group = QButtonGroup(self)
        modes = QHBoxLayout()
        for mode in MODES:
            button = QRadioButton(_LABELS[mode])
            button.setAccessibleName(_LABELS[mode])
            button.setProperty("mode", mode)
            self.mode_group.addButton(button)
            modes.addWidget(button)
            if mode == "swipe":
                button.setChecked(True)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 100)
        self.slider.setValue(50)
        self.slider.setAccessibleName("Swipe position / onion-skin opacity")
        self.slider.setMaximumWidth(240)
        modes.addWidget(self.slider)
        modes.addStretch(1)
        self.result_label = QLabel("Comparing…")
        self.result_label.setAccessibleName("Changed pixels")
        font = self.result_label.font()
        font.setBold(True)
        self.result_label.setFont(font)
        modes.addWidget(self.result_label)
        self.names_label = QLabel(f"Left / base: v{a.version} · {local_time_text(a.captured_at)}    "
                                  f"Right / top: v{b.version} · {local_time_text(b.captured_at)}")
        self.names_label.setAccessibleName("Compared versions")
        layout = QVBoxLayout(self)
        layout.addLayout(modes)
        layout.addWidget(self.names_label)
        layout.addWidget(self.scroll_area, 1)
        self.mode_group.buttonToggled.connect(self._on_mode)
        self.slider.valueChanged.connect(self._on_slider)
        self.canvas.split_changed.connect(lambda f: self.slider.setValue(round(f * 100)))
        self._load = tasks.spawn(self._load_images(), name="compare-images")

    @property
    def mode(self) -> str:
        return self.canvas.mode

    def set_mode(self, mode: str) -> None:
        for button in self.mode_group.buttons():
            if button.property("mode") == mode:
                button.setChecked(True)

    async def _load_images(self) -> None:
        paths = [c.blob_path for c in (self.a, self.b)]
        if any(p is None for p in paths):
            self.result_label.setText("A file is missing: re-capture it first")
            return
        try:
            a, b = await asyncio.gather(*(asyncio.to_thread(read_image, p) for p in paths if p is not None))
        except OSError as exc:
            self.result_label.setText(str(exc))
            return
        self.canvas.set_images(a, b)
        self.canvas.set_available_width(self.scroll_area.viewport().width() - 4)

    def set_diff(self, diff: Any) -> None:
        """Show a ``DiffResult``: the percentage and the heat map."""
        pct = float(diff.changed_pct)
        if diff.identical:
            self.result_label.setText("Identical — no pixel changed")
        else:
            self.result_label.setText(f"{pct:.2f} % of pixels changed")
        if diff.heatmap is not None:
            self.canvas.heat = pil_to_qimage(diff.heatmap)
            self.canvas.update()

    def set_error(self, message: str) -> None:
        self.result_label.setText(message)

    def _on_mode(self, button: QRadioButton, checked: bool) -> None:
        if checked:
            self.canvas.set_mode(str(button.property("mode")))
            self.slider.setEnabled(self.canvas.mode in ("swipe", "onion"))
            self._on_slider(self.slider.value())

    def _on_slider(self, value: int) -> None:
        if self.canvas.mode == "onion":
            self.canvas.opacity = value / 100
        else:
            self.canvas.split = value / 100
        self.canvas.update()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.canvas.set_available_width(self.scroll_area.viewport().width() - 4)

    def closeEvent(self, event: Any) -> None:
        if not self._load.done():
            self._load.cancel()
        super().closeEvent(event)

    def grab_canvas_rect(self) -> QRect:
        return self.canvas.rect()
