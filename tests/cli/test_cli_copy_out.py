"""``shotdesk capture --output``: the copy is atomic and a bad target is a clear error, not a crash."""

from __future__ import annotations

from pathlib import Path

import pytest

from shotdesk.cli.capture import copy_out
from shotdesk.core.errors import StorageError
from shotdesk.core.spec import CaptureSpec
from tests.helpers.images import make_image


def test_output_into_a_new_folder_is_created(tmp_path: Path) -> None:
    blob = tmp_path / "blob.png"
    blob.write_bytes(make_image(40, 30, (10, 20, 30), "PNG"))
    target = tmp_path / "new" / "deeper" / "shot.png"
    assert copy_out(blob, target, CaptureSpec(url="https://example.com/")) == target
    assert target.read_bytes() == blob.read_bytes()
    assert [p.name for p in target.parent.iterdir()] == ["shot.png"]  # no temporary file left


def test_output_under_a_file_is_a_storage_error_with_a_hint(tmp_path: Path) -> None:
    tmp_path = tmp_path / "work"
    tmp_path.mkdir()
    blob = tmp_path / "blob.png"
    blob.write_bytes(make_image(40, 30, (10, 20, 30), "PNG"))
    not_a_folder = tmp_path / "notes.txt"
    not_a_folder.write_text("a file, not a folder")
    with pytest.raises(StorageError) as info:
        copy_out(blob, not_a_folder / "sub" / "shot.png", CaptureSpec(url="https://example.com/"))
    assert "--output" in info.value.hint
    assert str(not_a_folder) in info.value.message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blob.png", "notes.txt"]
