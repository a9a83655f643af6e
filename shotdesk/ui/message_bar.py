"""MessageBar: a non-blocking notice above the grid (what happened, what to do, one-click actions).

Used for things a status-bar line is too short or too fleeting for: a damaged index that was
moved aside at start, files found missing by the integrity check, an export that finished (with
"Reveal") or failed. It never takes focus and never blocks; Close hides it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton, QWidget

_COLOURS = {
    "info": "rgba(60, 120, 220, 40)",
    "success": "rgba(40, 160, 80, 45)",
    "warning": "rgba(230, 160, 20, 55)",
    "error": "rgba(220, 50, 50, 50)",
}


class MessageBar(QFrame):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("messageBar")
        self.setAccessibleName("Notice")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label.setAccessibleName("Notice text")
        self.close_button = QToolButton()
        self.close_button.setText("✕")
        self.close_button.setToolTip("Close this notice")
        self.close_button.setAccessibleName("Close notice")
        self.close_button.clicked.connect(self.hide)
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(8, 4, 4, 4)
        self._layout.addWidget(self.label, 1)
        self._layout.addWidget(self.close_button)
        self.buttons: list[QPushButton] = []
        self.kind = "info"
        self.hide()

    @property
    def text(self) -> str:
        return self.label.text()

    def show_message(self, text: str, kind: str = "info",
                     actions: Sequence[tuple[str, Callable[[], object]]] = ()) -> None:
        """Show ``text`` with a button per (label, callback); replaces the previous notice."""
        for button in self.buttons:
            self._layout.removeWidget(button)
            button.deleteLater()
        self.buttons = []
        for n, (label, callback) in enumerate(actions):
            button = QPushButton(label)
            button.setAccessibleName(label)
            button.clicked.connect(lambda _checked=False, cb=callback: cb())
            self._layout.insertWidget(1 + n, button)
            self.buttons.append(button)
        self.kind = kind if kind in _COLOURS else "info"
        self.setStyleSheet(f"#messageBar {{ background: {_COLOURS[self.kind]}; border-radius: 6px; }}")
        self.label.setText(text)
        self.show()

    def button(self, label: str) -> QPushButton | None:
        return next((b for b in self.buttons if b.text() == label), None)
