"""The window's library tasks: export, responsive sheets and re-capture batches.

:class:`LibraryActions` asks where to save (non-modal dialogs, never ``exec()``), hands the work
to :class:`GalleryService` / :class:`LibraryJobs`, shows one task at a time in the status bar
(label, progress, Cancel for batches) and the result in the window's :class:`MessageBar`
("Reveal" / "Open" buttons). The window builds it, puts :meth:`status_widgets` in its status bar
and connects the services' signals to its ``on_*`` slots.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QFileDialog, QInputDialog, QLabel, QProgressBar, QPushButton, QWidget

from shotdesk.core.export import ExportReport
from shotdesk.core.library import Capture
from shotdesk.services import qt_desktop
from shotdesk.services.qt_gallery import CaptureBatch, default_export_name
from shotdesk.ui.responsive_dialog import ResponsiveSheetDialog

if TYPE_CHECKING:
    from shotdesk.ui.main_window import MainWindow

PREFS_REFRESH_DAYS = "library/refresh_days"
PREFS_SHEET_DEVICES = "library/sheet_devices"


class LibraryActions(QObject):
    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self._win = window
        self._batch: CaptureBatch | None = None
        self._task_kind = ""
        self._refresh_age_s = 0.0
        self._export_dialog: QFileDialog | None = None
        self._sheet_dialog: ResponsiveSheetDialog | None = None
        self._refresh_dialog: QInputDialog | None = None
        self.task_label = QLabel("")
        self.task_label.setAccessibleName("Library task")
        self.task_label.hide()
        self.task_progress = QProgressBar()
        self.task_progress.setMaximumWidth(140)
        self.task_progress.setAccessibleName("Library task progress")
        self.task_progress.hide()
        self.task_cancel_button = QPushButton("Cancel")
        self.task_cancel_button.setAccessibleName("Cancel the library task")
        self.task_cancel_button.hide()
        self.task_cancel_button.clicked.connect(self.cancel_task)

    def status_widgets(self) -> list[QWidget]:
        """Label, progress bar and Cancel button, in status-bar order."""
        return [self.task_label, self.task_progress, self.task_cancel_button]

    # ------------------------------------------------------------------ export
    def export_selection(self) -> None:
        self.export_selection_as("folder")

    def export_selection_as(self, kind: str) -> QFileDialog | None:
        """Ask where (non-modal file dialog), then export the ready selection (folder, zip, html)."""
        captures = [c for c in self._win.selected_captures() if c.status == "ready"]
        if not captures:
            self._win.show_message("Select captures with pictures to export")
            return None
        titles = {"folder": "Export to folder", "zip": "Export as zip",
                  "html": "Export contact sheet into folder"}
        dialog = QFileDialog(self._win, titles[kind])
        if kind == "zip":
            dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
            dialog.setFileMode(QFileDialog.FileMode.AnyFile)
            dialog.setNameFilter("Zip archives (*.zip)")
            dialog.setDefaultSuffix("zip")
            dialog.selectFile(default_export_name("shotdesk-export", ".zip"))
        else:
            dialog.setFileMode(QFileDialog.FileMode.Directory)
            dialog.setOption(QFileDialog.Option.ShowDirsOnly, True)
            dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptOpen)
        dialog.fileSelected.connect(lambda path: self.export_to(kind, captures, Path(path)))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()  # never exec() inside the qasync loop
        self._export_dialog = dialog
        return dialog

    def export_to(self, kind: str, captures: Sequence[Capture], target: Path) -> None:
        """Export to ``target`` (a contact sheet goes into a new folder inside it)."""
        self.start_task("export", f"Exporting {len(captures)} capture(s)…", cancellable=False)
        self._win.gallery_service.export_to(kind, captures, target,
                                            template=self._win.ctx.settings.filename_template,
                                            new_folder=kind == "html")

    def on_export_progress(self, done: int, total: int) -> None:
        if self._task_kind == "export":
            self.task_progress.setRange(0, max(1, total))
            self.task_progress.setValue(done)
            self.task_label.setText(f"Exporting {done} of {total}")

    def on_exported(self, kind: str, report: ExportReport) -> None:
        self.end_task("export")
        what = {"folder": "to", "zip": "into", "html": "as a contact sheet in"}[kind]
        where = report.target.parent if kind == "html" else report.target
        text = f"Exported {report.count} capture(s) {what} {where}"
        if report.skipped:
            reasons = "; ".join(sorted({why for _id, why in report.skipped}))
            text += f". {len(report.skipped)} left out: {reasons}"
        target = report.target
        actions: list[tuple[str, Callable[[], object]]] = [
            ("Reveal", lambda: self._win._guard(lambda: qt_desktop.reveal_in_file_manager(target)))]
        if kind == "html":
            actions.append(("Open", lambda: self._win._guard(lambda: qt_desktop.open_file(target))))
        self._win.message_bar.show_message(text, "warning" if report.skipped else "success", actions)
        self._win.show_message(text)

    # ------------------------------------------------------------------ responsive sheet
    def responsive_sheet_dialog(self) -> ResponsiveSheetDialog | None:
        capture = next((c for c in self._win.selected_captures() if not c.key.startswith("recovered:")), None)
        if capture is None:
            self._win.show_message("Select a capture of the page to show on several devices")
            return None
        dialog = ResponsiveSheetDialog(capture.url, capture.title or capture.domain, parent=self._win)
        remembered = self._win.ctx.prefs.value(PREFS_SHEET_DEVICES)
        if isinstance(remembered, str) and remembered:
            dialog.set_chosen(json.loads(remembered) if remembered.startswith("[") else [])
        dialog.devices_chosen.connect(lambda names, title: self._ask_sheet_path(capture, names, title))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        self._sheet_dialog = dialog
        return dialog

    def _ask_sheet_path(self, capture: Capture, names: list[str], title: str) -> QFileDialog:
        self._win.ctx.prefs.setValue(PREFS_SHEET_DEVICES, json.dumps(names))
        dialog = QFileDialog(self._win, "Save the responsive sheet")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setNameFilters(["PNG image (*.png)", "JPEG image (*.jpg)", "WebP image (*.webp)"])
        dialog.setDefaultSuffix("png")
        dialog.selectFile(default_export_name(f"{capture.domain or 'page'}-responsive", ".png"))
        dialog.fileSelected.connect(
            lambda path: self.make_responsive_sheet(capture, names, Path(path), title=title or None))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        self._export_dialog = dialog
        return dialog

    def make_responsive_sheet(self, capture: Capture, device_names: Sequence[str], out_path: Path, *,
                              title: str | None = None) -> CaptureBatch:
        return self._win.library_jobs.responsive_sheet(capture, device_names, out_path, title=title)

    def on_sheet(self, path: Path, failures: list[str]) -> None:
        self.end_task("sheet")
        text = f"Responsive sheet saved: {path}"
        if failures:
            text += f". {len(failures)} device(s) left out: " + "; ".join(failures)
        self._win.message_bar.show_message(text, "warning" if failures else "success", [
            ("Reveal", lambda: self._win._guard(lambda: qt_desktop.reveal_in_file_manager(path))),
            ("Open", lambda: self._win._guard(lambda: qt_desktop.open_file(path)))])
        self._win.show_message(text)

    # ------------------------------------------------------------------ refresh
    def refresh_old_dialog(self) -> QInputDialog:
        dialog = QInputDialog(self._win)
        dialog.setWindowTitle("Re-capture old pages")
        dialog.setInputMode(QInputDialog.InputMode.IntInput)
        dialog.setLabelText("Capture again every page whose newest capture is older than (days):")
        dialog.setIntRange(0, 3650)
        days = self._win.ctx.prefs.value(PREFS_REFRESH_DAYS)
        dialog.setIntValue(int(days) if isinstance(days, int | str) and str(days).isdigit() else 7)
        dialog.setOkButtonText("Re-capture")
        dialog.intValueSelected.connect(self._refresh_days_chosen)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        self._refresh_dialog = dialog
        return dialog

    def _refresh_days_chosen(self, days: int) -> None:
        self._win.ctx.prefs.setValue(PREFS_REFRESH_DAYS, int(days))
        self.refresh_older_than(days * 86_400.0)

    def refresh_older_than(self, seconds: float) -> CaptureBatch:
        """Queue a new version of every page whose newest capture is older than ``seconds``."""
        self._refresh_age_s = seconds
        return self._win.library_jobs.refresh(seconds)

    def refresh_selection(self) -> CaptureBatch | None:
        captures = self._win.selected_captures()
        if not captures:
            return None
        self._refresh_age_s = 0.0
        return self._win.library_jobs.refresh(0.0, ids=[c.id for c in captures])

    def refresh_missing(self) -> CaptureBatch:
        """Re-capture every page whose newest capture lost its file."""
        self._refresh_age_s = 0.0
        return self._win.library_jobs.refresh(0.0, status="missing")

    def follow_batch(self, batch: CaptureBatch, what: str) -> None:
        self._batch = batch
        label = "Finding pages to re-capture…" if what == "refresh" else "Preparing the responsive sheet…"
        self.start_task(what, label, cancellable=True)
        batch.progress.connect(lambda done, total, failed:
                               self._on_batch_progress(batch, done, total, failed))
        batch.finished.connect(self._on_batch_finished)

    def _on_batch_progress(self, batch: CaptureBatch, done: int, total: int, failed: int) -> None:
        if batch is not self._batch:
            return
        self.task_progress.setRange(0, max(1, total))
        self.task_progress.setValue(done)
        verb = "Re-capturing" if batch.name == "refresh" else "Capturing devices"
        self.task_label.setText(f"{verb}: {done} of {total}" + (f" · {failed} failed" if failed else ""))

    def _on_batch_finished(self, batch: CaptureBatch) -> None:
        if batch.name == "sheet":
            if batch.cancelled:
                self.end_task("sheet")
            else:
                self.task_cancel_button.hide()
                self.task_progress.setRange(0, 0)
                self.task_label.setText("Drawing the responsive sheet…")
            return
        if batch is self._batch:
            self.end_task("refresh")
        new = len(batch.captures)
        failed = len(batch.failures)
        if batch.total == 0 and not batch.cancelled:
            age = self._refresh_age_s
            text = ("Nothing to re-capture: every page was captured in the last "
                    f"{age / 86_400:g} day(s)" if age else "Nothing to re-capture")
            self._win.message_bar.show_message(text, "info")
        elif batch.cancelled:
            self._win.message_bar.show_message(
                f"Re-capture cancelled: {new} of {batch.total} page(s) got a new version", "warning")
        else:
            text = f"Re-captured {new} of {batch.total} page(s); earlier versions are kept"
            if failed:
                text += f". {failed} failed (the tiles say why; Retry is on each): " + "; ".join(
                    dict.fromkeys(batch.failures))
            self._win.message_bar.show_message(text, "warning" if failed else "success")
        self._win._facets_timer.start()

    def on_library_error(self, message: str) -> None:
        for kind in ("sheet", "refresh"):
            self.end_task(kind)
        self._win.message_bar.show_message(message, "error")
        self._win.show_message(message, 15_000)

    # ------------------------------------------------------------------ status-bar task
    @property
    def kind(self) -> str:
        """The library task shown in the status bar ("export", "sheet", "refresh") or ""."""
        return self._task_kind

    def start_task(self, kind: str, text: str, *, cancellable: bool) -> None:
        self._task_kind = kind
        self.task_label.setText(text)
        self.task_label.show()
        self.task_progress.setRange(0, 0)
        self.task_progress.show()
        self.task_cancel_button.setVisible(cancellable)

    def end_task(self, kind: str) -> None:
        if self._task_kind != kind:
            return
        self._task_kind = ""
        for widget in (self.task_label, self.task_progress, self.task_cancel_button):
            widget.hide()

    def cancel_task(self) -> None:
        if self._batch is not None and not self._batch.is_done:
            self._batch.cancel()

