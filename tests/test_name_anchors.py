"""Names are validated whole: a trailing newline is not a valid name (regex ``$`` matched before it).

Issue 22 item 9: ``-t "docs\\n"`` passed the table-name check and gave a LanceDB traceback.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from workbench.contract import parse_column, parse_production_tag, parse_rolled_back_tag
from workbench.embedding.ingest import check_name
from workbench.errors import InvalidArgumentError, UnpinnedModelError
from workbench.models.ref import ModelRef
from workbench.production.retire import parse_duration

PACKAGE = Path(__file__).resolve().parents[1] / "workbench"
_REGEX_CALLS = ("compile", "match", "fullmatch", "search")
PIN = {"name": "acme/encoder-v2", "source": "path", "location": "/nowhere", "fingerprint": "a" * 64, "dim": 8}


def test_no_validating_pattern_ends_in_a_bare_dollar() -> None:
    """``$`` also matches before a final newline: anchor with ``\\Z`` (or use ``fullmatch``)."""
    found = []
    for module in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") in _REGEX_CALLS:
                pattern = node.args[0] if node.args else None
                text = pattern.value if isinstance(pattern, ast.Constant) else None
                if isinstance(pattern, ast.JoinedStr) and isinstance(pattern.values[-1], ast.Constant):
                    text = pattern.values[-1].value
                if isinstance(text, str) and text.endswith("$") and not text.endswith("\\$"):
                    found.append(f"{module.relative_to(PACKAGE.parent)}:{node.lineno}")
    assert not found, found


@pytest.mark.parametrize("name", ["docs\n", "docs\r\n", "doc\ns", "\ndocs"])
def test_a_table_name_with_a_line_break_is_refused(name: str) -> None:
    with pytest.raises(InvalidArgumentError, match=r"table name .* is not allowed"):
        check_name(name, "table")


def test_contract_names_are_parsed_whole() -> None:
    assert parse_column("vec__a__0123abcd") is not None and parse_column("vec__a__0123abcd\n") is None
    assert parse_production_tag("production-3") == 3 and parse_production_tag("production-3\n") is None
    assert parse_rolled_back_tag("rolled-back-2") == 2 and parse_rolled_back_tag("rolled-back-2\n") is None


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"fingerprint": "a" * 64 + "\n"}, "is not a sha256"),
        ({"source": "hub", "revision": "b" * 40 + "\n"}, "must be a full 40-hex commit"),
        (
            {"source": "openai", "location": "http://127.0.0.1:1/v1", "api_key_env": "KEY\n"},
            "must be the NAME of an environment variable",
        ),
    ],
)
def test_model_pins_are_checked_whole(fields: dict[str, str], match: str) -> None:
    with pytest.raises(UnpinnedModelError, match=match):
        ModelRef(**{**PIN, "revision": "1", **fields})


def test_a_duration_is_parsed_whole() -> None:
    assert parse_duration("7d\n").days == 7  # surrounding blanks are allowed, as before
    with pytest.raises(InvalidArgumentError, match="is not understood"):
        parse_duration("7d\nx")


def test_the_guard_sees_an_f_string_pattern() -> None:
    assert re.compile(r"^a\Z").match("a\n") is None and re.compile(r"^a$").match("a\n") is not None
