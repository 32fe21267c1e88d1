"""The storage contract lives in one module: no other module names a record table or fixes a schema.

CONTRIBUTING says every name and schema the workbench writes into LanceDB lives in
``workbench/contract.py``. This is a cheap, static check of that rule over every module of
``workbench/`` except ``contract.py`` itself, and over the app (``app.py``, ``pages/``,
``workbench_app/``), which is a client like any other (an ``ast`` walk; nothing is imported):

- **No ``wb_`` table name.** A string literal (a plain string or a literal part of an f-string)
  that *starts* with ``wb_`` is the spelling of a workbench table, so it must come from the
  contract (``*_TABLE``). Docstrings and messages that *mention* ``wb_promotions`` mid-sentence
  are prose, not names, and pass; so does a literal ``wb_`` in the middle of a word. Building a
  name that starts with ``RESERVED_PREFIX`` (``f"{RESERVED_PREFIX}x"``, ``RESERVED_PREFIX + x``)
  outside the contract is refused too; testing a name with ``startswith(RESERVED_PREFIX)`` or
  quoting the prefix in a message (``f"must not start with {RESERVED_PREFIX!r}"``) passes.
- **No fixed table schema.** A ``pa.schema(...)`` / ``pyarrow.schema(...)`` call that names a
  column with a string literal (``pa.field("seq", …)`` anywhere in its argument, a
  ``("seq", type)`` pair, or a dict key) writes a table layout into the source, so it belongs in
  the contract (``*_schema()``). One literal is allowed: ``id``, the key of a corpus table. The
  schemas that write vectors into a corpus table are ``id`` plus columns named at run time from
  a pin (``pa.field(ref.column, vector_type(dim), metadata=…)``, ``*out_schema``): their naming
  rule, vector type and metadata keys already come from the contract (``vector_column_name``,
  ``vector_type``, ``META_*``), so they may be built where the vectors are written.

The rules are syntactic and cheap, not a proof: they know the spellings in ``_SCHEMA_CALLS``
(the house style imports ``pyarrow as pa``), and a field list built in a variable and passed to
``pa.schema`` later is not followed. A self-test runs the check on known offenders and known
innocents; the last test keeps the contract's own side honest: every record table is listed,
reserved, unique and has a schema.
"""

from __future__ import annotations

import ast
from pathlib import Path

import workbench.contract as contract

ROOT = Path(__file__).resolve().parents[1]
CONTRACT = ROOT / "workbench" / "contract.py"
_SCHEMA_CALLS = {("pa", "schema"), ("pyarrow", "schema")}
_FIELD_CALLS = {("pa", "field"), ("pyarrow", "field")}
_CORPUS_KEY = "id"


def _modules() -> list[Path]:
    found = [
        ROOT / "app.py",
        *(p for d in ("workbench", "pages", "workbench_app") for p in (ROOT / d).rglob("*.py")),
    ]
    return sorted(p for p in found if p != CONTRACT)


def _dotted(node: ast.expr) -> tuple[str, str] | None:
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        return node.value.id, node.attr
    return None


def _is_literal_name(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def _literal_columns(fields: ast.expr) -> list[str]:
    """The column names a schema argument writes as string literals."""
    names: list[ast.expr | None] = []
    for node in ast.walk(fields):  # pa.field("x", ...), also inside a generator or a splat
        if isinstance(node, ast.Call) and _dotted(node.func) in _FIELD_CALLS:
            names.append(
                node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "name"), None)
            )
    if isinstance(fields, ast.List | ast.Tuple):  # ("x", type) pairs
        names += [e.elts[0] for e in fields.elts if isinstance(e, ast.Tuple) and e.elts]
    if isinstance(fields, ast.Dict):  # {"x": type}
        names += fields.keys
    return [n.value for n in names if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def _is_fixed_schema(call: ast.Call) -> bool:
    """A schema call that names a column other than ``id`` with a literal (see the module docstring)."""
    if _dotted(call.func) not in _SCHEMA_CALLS or not call.args:
        return False
    return any(name != _CORPUS_KEY for name in _literal_columns(call.args[0]))


def _builds_reserved_name(node: ast.AST) -> bool:
    """``f"{RESERVED_PREFIX}…"`` or ``RESERVED_PREFIX + …``: a string that starts with the prefix."""

    def is_prefix(n: ast.AST) -> bool:
        return (isinstance(n, ast.Name) and n.id == "RESERVED_PREFIX") or (
            isinstance(n, ast.Attribute) and n.attr == "RESERVED_PREFIX"
        )

    if isinstance(node, ast.JoinedStr) and node.values:
        first = node.values[0]
        return isinstance(first, ast.FormattedValue) and first.conversion == -1 and is_prefix(first.value)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return is_prefix(node.left)
    return False


def _violations(path: Path) -> list[str]:
    found = []
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in sorted(ast.walk(tree), key=lambda n: (getattr(n, "lineno", 0), getattr(n, "col_offset", 0))):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if node.value.startswith(contract.RESERVED_PREFIX):
                found.append(f"{line}: table name {node.value!r}; import it from workbench.contract")
        elif _builds_reserved_name(node):
            found.append(f"{line}: builds a {contract.RESERVED_PREFIX}… name; add it to workbench.contract")
        elif isinstance(node, ast.Call) and _is_fixed_schema(node):
            found.append(f"{line}: a fixed table schema; define it in workbench.contract")
    return found


def test_no_module_but_the_contract_names_a_record_table_or_fixes_a_schema() -> None:
    violations = [f"{path.relative_to(ROOT)}:{v}" for path in _modules() for v in _violations(path)]
    assert violations == []


def test_the_check_sees_what_it_should(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import pyarrow as pa\n"
        "from workbench.contract import RESERVED_PREFIX\n"
        'TABLE = "wb_things"\n'
        'OTHER = f"{RESERVED_PREFIX}others"\n'
        'S = pa.schema([pa.field("id", pa.string()), ("b", pa.int64())])\n'
        'D = pa.schema({"a": pa.string()})\n'
        'G = pa.schema([pa.field("id", pa.string()), *(pa.field("x", pa.string()) for _ in range(2))])\n'
    )
    good = tmp_path / "good.py"
    good.write_text(
        '"""Rows of ``wb_promotions``."""\n'
        "import pyarrow as pa\n"
        "from workbench.contract import RESERVED_PREFIX\n"
        "def f(name, ref, other, dim):\n"
        "    assert not name.startswith(RESERVED_PREFIX)\n"
        '    raise ValueError(f"the table {name!r} must not start with {RESERVED_PREFIX!r}")\n'
        '    return pa.schema([pa.field("id", pa.string()), pa.field(ref.column, pa.list_(pa.float32(), dim))])\n'
        "def g(other):\n"
        '    return pa.schema([pa.field("id", pa.string()), *other])\n'
    )
    assert [v.split(";")[0] for v in _violations(bad)] == [
        "3: table name 'wb_things'",
        "4: builds a wb_… name",
        "5: a fixed table schema",
        "6: a fixed table schema",
        "7: a fixed table schema",
    ]
    assert _violations(good) == []


def test_every_record_table_is_reserved_unique_and_has_a_schema() -> None:
    tables = contract.RECORD_TABLES
    assert len(set(tables)) == len(tables)
    assert all(name.startswith(contract.RESERVED_PREFIX) for name in tables)
    declared = {value for key, value in vars(contract).items() if key.endswith("_TABLE")}
    assert declared == set(tables)
    for key, name in vars(contract).items():
        if key.endswith("_TABLE"):
            schema = getattr(contract, key.removesuffix("_TABLE").lower() + "_schema")()
            assert len(schema) > 0 and len(set(schema.names)) == len(schema.names), name
