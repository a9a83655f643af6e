"""GalleryDelegate: paints one gallery tile — thumbnail, caption, status badge, queue progress.

Layout of a tile (logical pixels)::

    ┌──────────────────────────┐
    │ PNG              v2 ★    │  format chip, version / cached badge, favourite
    │      thumbnail           │  cropped from the top; placeholder while it loads
    │  [ Retry ] / progress    │  failed: error text + Retry; queue: progress + cancel ✕
    ├──────────────────────────┤
    │ example.com              │  domain (bold, elided)
    │ 1280×720 · 5 min         │  viewport · age
    └──────────────────────────┘

Thumbnails come from the :class:`ThumbnailLoader` (a required argument, as in Picard's cover-art
box) at the tile size × devicePixelRatio, so they are sharp on HiDPI screens. Only ``paint`` and
``sizeHint`` are overridden, plus ``editorEvent`` for the tile's buttons (Retry, Cancel, Dismiss),
reported as signals carrying the source-independent row index the view maps.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import (
    QEvent,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QPoint,
    QPointF,
    QRect,
    QRectF,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetrics,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPalette,
    QPen,
)
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from shotdesk.services.qt_thumbnails import ThumbnailLoader
from shotdesk.ui.gallery_model import Role, TileLook

TILE_WIDTH = 224
THUMB_HEIGHT = 150
PAD = 8
RADIUS = 6.0
BUTTON_H = 24

AnyIndex = QModelIndex | QPersistentModelIndex

_FAILED = QColor(196, 43, 28)
_MISSING = QColor(176, 120, 0)
_OK = QColor(30, 130, 76)


class GalleryDelegate(QStyledItemDelegate):
    """See the module docstring. Signals carry the view's (proxy) index."""

    retry_requested = Signal(QModelIndex)
    cancel_requested = Signal(QModelIndex)
    dismiss_requested = Signal(QModelIndex)
    recapture_requested = Signal(QModelIndex)

    def __init__(self, loader: ThumbnailLoader, parent: QObject | None = None) -> None:
        if loader is None:
            raise ValueError("GalleryDelegate needs a ThumbnailLoader")
        super().__init__(parent)
        self._loader = loader
        self._pressed: tuple[int, str] | None = None

    @property
    def loader(self) -> ThumbnailLoader:
        return self._loader

    # ------------------------------------------------------------------ geometry
    def sizeHint(self, option: QStyleOptionViewItem, index: AnyIndex) -> QSize:
        line = QFontMetrics(option.font).height()
        return QSize(TILE_WIDTH, PAD + THUMB_HEIGHT + 6 + 2 * line + 2 + PAD)

    @staticmethod
    def thumb_rect(rect: QRect) -> QRect:
        return QRect(rect.x() + PAD, rect.y() + PAD, rect.width() - 2 * PAD, THUMB_HEIGHT)

    @classmethod
    def button_rect(cls, rect: QRect, kind: str) -> QRect:
        """Where a tile's button is: ``retry``/``recapture`` bottom centre, ``cancel``/``dismiss``
        top right of the thumbnail."""
        thumb = cls.thumb_rect(rect)
        if kind in ("cancel", "dismiss"):
            return QRect(thumb.right() - 26, thumb.top() + 4, 22, 22)
        w = 96
        return QRect(thumb.center().x() - w // 2, thumb.bottom() - BUTTON_H - 10, w, BUTTON_H)

    @staticmethod
    def buttons_for(index: AnyIndex) -> list[str]:
        status = index.data(Role.STATUS)
        kind = index.data(Role.KIND)
        if kind == "job":
            return ["dismiss", "retry"] if status == "failed" else ["cancel"]
        if status == "failed":
            return ["retry"]
        if status == "missing":
            return ["recapture"]
        return []

    # ------------------------------------------------------------------ painting
    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: AnyIndex) -> None:
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        rect: QRect = option.rect
        palette: QPalette = option.palette
        state = option.state
        selected = bool(state & QStyle.StateFlag.State_Selected)
        hovered = bool(state & QStyle.StateFlag.State_MouseOver)

        tile = QRectF(rect).adjusted(2, 2, -2, -2)
        if selected or hovered:
            colour = QColor(palette.color(QPalette.ColorRole.Highlight))
            colour.setAlpha(90 if selected else 35)
            painter.setPen(QPen(palette.color(QPalette.ColorRole.Highlight), 1.5) if selected
                           else Qt.PenStyle.NoPen)
            painter.setBrush(colour)
            painter.drawRoundedRect(tile, RADIUS + 2, RADIUS + 2)

        thumb = self.thumb_rect(rect)
        look: TileLook = index.data(Role.PAINT)
        if look is None:
            painter.restore()
            return
        self._paint_thumbnail(painter, option, look, thumb, palette)
        self._paint_badges(painter, look, thumb, palette)
        self._paint_caption(painter, option, look, thumb, palette=palette, selected=selected)
        if state & QStyle.StateFlag.State_HasFocus:
            painter.setPen(QPen(palette.color(QPalette.ColorRole.Highlight), 1, Qt.PenStyle.DotLine))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(tile.adjusted(1, 1, -1, -1), RADIUS, RADIUS)
        painter.restore()

    def _paint_thumbnail(self, painter: QPainter, option: QStyleOptionViewItem, look: TileLook,
                         thumb: QRect, palette: QPalette) -> None:
        path = QPainterPath()
        path.addRoundedRect(QRectF(thumb), RADIUS, RADIUS)
        painter.save()
        painter.setClipPath(path)
        base = palette.color(QPalette.ColorRole.AlternateBase)
        painter.fillRect(thumb, base)
        status = look.status
        kind = look.kind
        thumb_path: Path | None = look.thumb_path
        widget: QWidget | None = option.widget
        dpr = widget.devicePixelRatioF() if widget is not None else 1.0
        painted = False
        if thumb_path is not None and status in ("ready", "missing"):
            pm = self._loader.pixmap(thumb_path, round(thumb.width() * dpr), round(thumb.height() * dpr), dpr)
            if pm is not None:
                logical_h = round(pm.height() / pm.devicePixelRatio())
                top = thumb.top() + max(0, (thumb.height() - logical_h) // 2)  # short pages: centred
                painter.drawPixmap(QPoint(thumb.left(), top), pm)
                painted = True
        if status == "failed":
            self._paint_failure(painter, look, thumb, palette)
        elif kind == "job":
            self._paint_progress(painter, look, thumb, palette)
        elif not painted:
            painter.setPen(palette.color(QPalette.ColorRole.PlaceholderText))
            label = "Loading…"
            if thumb_path is None:
                label = "No preview"
            elif self._loader.error(thumb_path, round(thumb.width() * dpr), round(thumb.height() * dpr)):
                label = "Preview unavailable"
            painter.drawText(thumb, Qt.AlignmentFlag.AlignCenter, label)
        if status == "missing":
            veil = QColor(palette.color(QPalette.ColorRole.Window))
            veil.setAlpha(170)
            painter.fillRect(thumb, veil)
            painter.setPen(_MISSING)
            painter.drawText(thumb.adjusted(8, 8, -8, -BUTTON_H - 16),
                             Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                             "The file is gone from the cache")
            self._paint_button(painter, self.button_rect(option.rect, "recapture"),
                               "Re-capture", palette)
        painter.restore()
        painter.setPen(QPen(palette.color(QPalette.ColorRole.Mid), 1))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRoundedRect(QRectF(thumb).adjusted(0.5, 0.5, -0.5, -0.5), RADIUS, RADIUS)

    def _paint_failure(self, painter: QPainter, look: TileLook, thumb: QRect, palette: QPalette) -> None:
        tint = QColor(_FAILED)
        tint.setAlpha(30)
        painter.fillRect(thumb, tint)
        painter.setPen(_FAILED if palette.color(QPalette.ColorRole.Window).lightness() > 128
                       else QColor(255, 140, 120))
        font = QFont(painter.font())
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.9))
        painter.setFont(font)
        message = str(look.error or "The capture failed")
        text_rect = thumb.adjusted(10, 30, -10, -BUTTON_H - 14)  # below the FAILED badge
        fm = QFontMetrics(font)
        # Fit the message into the box: elide the last line that fits.
        lines = max(1, text_rect.height() // fm.lineSpacing())
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop
                         | Qt.TextFlag.TextWordWrap, _wrap_elide(message, fm, text_rect.width(), lines))
        tile_rect = thumb.adjusted(-PAD, -PAD, PAD, PAD)
        self._paint_button(painter, self.button_rect(tile_rect, "retry"), "Retry", palette)
        if look.kind == "job":
            self._paint_close(painter, self.button_rect(tile_rect, "dismiss"), palette)

    def _paint_progress(self, painter: QPainter, look: TileLook, thumb: QRect, palette: QPalette) -> None:
        fraction = float(look.progress or -1.0)
        text = str(look.progress_text or "")
        status = look.status
        painter.setPen(palette.color(QPalette.ColorRole.Text))
        painter.drawText(thumb.adjusted(10, 10, -34, -40),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop | Qt.TextFlag.TextWordWrap,
                         text or ("Waiting" if status == "pending" else "Capturing"))
        bar = QRectF(thumb.left() + 12, thumb.bottom() - 22, thumb.width() - 24, 8)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(palette.color(QPalette.ColorRole.Mid))
        painter.drawRoundedRect(bar, 4, 4)
        painter.setBrush(palette.color(QPalette.ColorRole.Highlight))
        if fraction >= 0:
            done = QRectF(bar)
            done.setWidth(max(8.0, bar.width() * fraction))
            painter.drawRoundedRect(done, 4, 4)
        elif status == "running":  # indeterminate: a third of the bar, centred
            painter.drawRoundedRect(QRectF(bar.left() + bar.width() / 3, bar.top(), bar.width() / 3, 8), 4, 4)
        tile_rect = thumb.adjusted(-PAD, -PAD, PAD, PAD)
        self._paint_close(painter, self.button_rect(tile_rect, "cancel"), palette)

    @staticmethod
    def _paint_button(painter: QPainter, rect: QRect, label: str, palette: QPalette) -> None:
        painter.save()
        painter.setPen(QPen(palette.color(QPalette.ColorRole.Mid), 1))
        painter.setBrush(palette.color(QPalette.ColorRole.Button))
        painter.drawRoundedRect(QRectF(rect), 4, 4)
        painter.setPen(palette.color(QPalette.ColorRole.ButtonText))
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, label)
        painter.restore()

    @staticmethod
    def _paint_close(painter: QPainter, rect: QRect, palette: QPalette) -> None:
        painter.save()
        painter.setPen(Qt.PenStyle.NoPen)
        bg = QColor(palette.color(QPalette.ColorRole.Window))
        bg.setAlpha(220)
        painter.setBrush(bg)
        painter.drawEllipse(QRectF(rect))
        painter.setPen(QPen(palette.color(QPalette.ColorRole.Text), 1.6))
        c = QRectF(rect).center()
        d = 4.0
        painter.drawLine(QPointF(c.x() - d, c.y() - d), QPointF(c.x() + d, c.y() + d))
        painter.drawLine(QPointF(c.x() + d, c.y() - d), QPointF(c.x() - d, c.y() + d))
        painter.restore()

    def _paint_badges(self, painter: QPainter, look: TileLook, thumb: QRect, palette: QPalette) -> None:
        font = QFont(painter.font())
        font.setPointSizeF(max(6.5, font.pointSizeF() * 0.8))
        font.setBold(True)
        painter.setFont(font)
        fm = QFontMetrics(font)
        fmt = str(look.format or "").upper()
        status = look.status
        kind = look.kind
        if fmt and kind != "job" and status != "failed":
            _chip(painter, fm, QPointF(thumb.left() + 6, thumb.top() + 6), fmt,
                  bg=QColor(0, 0, 0, 150), fg=QColor(255, 255, 255), left=True)
        right = thumb.right() - 6.0
        chips: list[tuple[str, QColor]] = []
        if status == "failed":
            chips.append(("FAILED", _FAILED))
        elif status == "missing":
            chips.append(("MISSING", _MISSING))
        elif kind != "job":
            if "challenge" in look.flags:
                chips.append(("BOT CHECK", _MISSING))
            elif "blank" in look.flags:
                chips.append(("BLANK", _MISSING))
            if look.unchanged:
                chips.append(("UNCHANGED", QColor(90, 90, 90, 200)))
            if look.cached:
                chips.append(("CACHED", _OK))
            version = int(look.version or 0)
            if version > 1:
                chips.append((f"v{version}", QColor(60, 60, 60, 170)))
        if look.favourite:
            chips.append(("★", QColor(200, 140, 0)))
        if kind == "job" and status != "failed":
            return  # the cancel button sits there
        for text, colour in chips:
            width = _chip(painter, fm, QPointF(right, thumb.top() + 6), text, bg=colour,
                          fg=QColor(255, 255, 255), left=False)
            right -= width + 4

    def _paint_caption(self, painter: QPainter, option: QStyleOptionViewItem, look: TileLook,
                       thumb: QRect, *, palette: QPalette, selected: bool) -> None:
        font = QFont(option.font)
        fm = QFontMetrics(font)
        width = thumb.width()
        top = thumb.bottom() + 6
        bold = QFont(font)
        bold.setBold(True)
        painter.setFont(bold)
        painter.setPen(palette.color(QPalette.ColorRole.Text))
        domain = str(look.domain or "")
        title_rect = QRect(thumb.left(), top, width, fm.height())
        painter.drawText(title_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         QFontMetrics(bold).elidedText(domain, Qt.TextElideMode.ElideMiddle, width))
        painter.setFont(font)
        caption = str(look.caption or "")
        rest = caption.split(" · ", 1)[1] if " · " in caption else caption
        role = QPalette.ColorRole.Text if selected else QPalette.ColorRole.PlaceholderText
        painter.setPen(palette.color(role))
        painter.drawText(QRect(thumb.left(), top + fm.height() + 2, width, fm.height()),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         fm.elidedText(rest, Qt.TextElideMode.ElideRight, width))

    # ------------------------------------------------------------------ buttons
    def editorEvent(self, event: QEvent, model: object, option: QStyleOptionViewItem,
                    index: AnyIndex) -> bool:
        if event.type() not in (QEvent.Type.MouseButtonPress, QEvent.Type.MouseButtonRelease):
            return False
        assert isinstance(event, QMouseEvent)
        if event.button() != Qt.MouseButton.LeftButton:
            return False
        pos = event.position().toPoint()
        hit = next((kind for kind in self.buttons_for(index)
                    if self.button_rect(option.rect, kind).contains(pos)), None)
        if hit is None:
            self._pressed = None
            return False
        if event.type() == QEvent.Type.MouseButtonPress:
            self._pressed = (index.row(), hit)
            return True
        if self._pressed != (index.row(), hit):
            return True
        self._pressed = None
        target = index if isinstance(index, QModelIndex) else index.model().index(index.row(), 0)
        {"retry": self.retry_requested, "cancel": self.cancel_requested,
         "dismiss": self.dismiss_requested, "recapture": self.recapture_requested}[hit].emit(target)
        return True


def _chip(painter: QPainter, fm: QFontMetrics, anchor: QPointF, text: str, *, bg: QColor, fg: QColor,
          left: bool) -> float:
    w = fm.horizontalAdvance(text) + 10.0
    h = fm.height() + 2.0
    x = anchor.x() if left else anchor.x() - w
    r = QRectF(x, anchor.y(), w, h)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QBrush(bg))
    painter.drawRoundedRect(r, h / 2, h / 2)
    painter.setPen(fg)
    painter.drawText(r, Qt.AlignmentFlag.AlignCenter, text)
    return w


def _wrap_elide(text: str, fm: QFontMetrics, width: int, max_lines: int) -> str:
    """Word-wrap ``text`` to ``max_lines`` lines of ``width`` px, eliding the last one."""
    words = text.split()
    lines: list[str] = []
    current = ""
    for i, word in enumerate(words):
        candidate = f"{current} {word}".strip()
        if fm.horizontalAdvance(candidate) <= width or not current:
            current = candidate
            continue
        lines.append(current)
        current = word
        if len(lines) == max_lines - 1:
            current = " ".join(words[i:])
            break
    if current:
        lines.append(fm.elidedText(current, Qt.TextElideMode.ElideRight, width)
                     if len(lines) == max_lines - 1 else current)
    return "\n".join(lines[:max_lines])
