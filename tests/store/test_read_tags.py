"""Tag listing while another process moves tags: a vanished tag file is retried, damage is not hidden."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from workbench.store.workspace import read_tags


class _Tags:
    def __init__(self, failures: int, message: str) -> None:
        self.failures, self.message, self.calls = failures, message, 0

    def list(self) -> dict[str, dict[str, int]]:
        self.calls += 1
        if self.calls <= self.failures:
            raise RuntimeError(self.message)
        return {"production": {"version": 7}}


def test_a_tag_file_renamed_during_the_listing_is_read_again() -> None:
    tags = _Tags(2, "lance error: Not found: /ws/demo.lance/_refs/tags/production-8.json")
    assert read_tags(SimpleNamespace(tags=tags)) == {"production": {"version": 7}}  # type: ignore[arg-type]
    assert tags.calls == 3


def test_other_errors_and_a_persistent_miss_are_raised() -> None:
    with pytest.raises(RuntimeError, match="permission denied"):
        read_tags(SimpleNamespace(tags=_Tags(1, "permission denied")))  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="Not found"):
        read_tags(SimpleNamespace(tags=_Tags(99, "Not found: x.json")), attempts=3)  # type: ignore[arg-type]
