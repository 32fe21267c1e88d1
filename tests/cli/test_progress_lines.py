"""Progress when stderr is not a terminal: whole lines, a few of them, never carriage-return redraws."""

from __future__ import annotations

import re

import pytest

from workbench.cli.common import progress_bar


def test_progress_to_a_file_is_a_few_whole_lines(capsys: pytest.CaptureFixture[str]) -> None:
    with progress_bar("embedding with minilm-l6") as update:
        for done in range(0, 433, 8):
            update(done, 432)
        update(432, 432)
    err = capsys.readouterr().err
    assert "\r" not in err and "\x1b" not in err
    lines = err.splitlines()
    shares = [re.search(r"\((\d+)%\)", line).group(1) for line in lines]  # type: ignore[union-attr]
    assert shares == ["0", "26", "50", "76", "100"], lines
    assert all(line.startswith("embedding with minilm-l6: ") and " rows (" in line for line in lines)
    assert lines[-1].startswith("embedding with minilm-l6: 432/432 rows (100%)")


def test_no_work_prints_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    with progress_bar("comparing"):
        pass
    assert capsys.readouterr().err == ""


def test_scaled_counts_read_like_the_bar(capsys: pytest.CaptureFixture[str]) -> None:
    with progress_bar("uploading", unit="B", scale=True) as update:
        update(3 * 1024 * 1024, 3 * 1024 * 1024)
    assert capsys.readouterr().err.startswith("uploading: 3.00MB/3.00MB (100%)")
