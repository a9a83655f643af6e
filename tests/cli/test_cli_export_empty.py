"""``shotdesk export`` with a selection that matches nothing: exit 3, a hint, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from shotdesk.cli.main import EXIT_FAILED, run_cli


@pytest.mark.parametrize("which", [["--tag", "nothing-has-this"], ["--query", "nowhere"], ["--all"]])
def test_export_of_an_empty_selection_fails_with_a_hint(which: list[str], tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "out"
    assert run_cli(["export", *which, "--to", "folder", str(target)]) == EXIT_FAILED
    err = capsys.readouterr().err
    assert "Nothing to export" in err
    assert "shotdesk gallery list" in err  # what to do next
    assert not target.exists()
