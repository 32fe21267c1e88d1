"""The public surface is real: ``__all__`` is the namespace, every name is documented, clients use it."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import json
import pkgutil
import subprocess
import sys
import types
from pathlib import Path

import pytest

import workbench

ROOT = Path(__file__).resolve().parents[1]


def _modules() -> list[str]:
    return sorted(m.name for m in pkgutil.walk_packages(workbench.__path__, "workbench."))


def test_all_is_exactly_the_public_namespace() -> None:
    for name in workbench.__all__:
        getattr(workbench, name)  # every listed name resolves
    public = {
        name
        for name, value in vars(workbench).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public == set(workbench.__all__)  # nothing public but what the stub lists
    assert dir(workbench) == sorted(workbench.__all__)
    assert len(workbench.__all__) == len(set(workbench.__all__))


def test_the_public_api_is_listed_once() -> None:
    # __init__.pyi is the one list (read by lazy_loader and by type checkers); __init__.py names nothing.
    init = ast.parse((ROOT / "workbench" / "__init__.py").read_text())
    strings = [n.value for n in ast.walk(init) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    assert not set(strings) & set(workbench.__all__)
    stub = ast.parse((ROOT / "workbench" / "__init__.pyi").read_text())
    imported = sorted(a.name for n in stub.body if isinstance(n, ast.ImportFrom) for a in n.names)
    assert imported == sorted(workbench.__all__)
    assert len(workbench.__all__) <= 70, "a short API: the verbs and nouns a user needs"


def _defined_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.If | ast.Try):
            names.update(s.name for s in ast.walk(node) if isinstance(s, ast.FunctionDef | ast.ClassDef))
    return names


def test_no_module_re_exports_another_modules_names() -> None:
    offenders = []
    for path in sorted((ROOT / "workbench").rglob("*.py")):
        if path == ROOT / "workbench" / "__init__.py":
            continue  # the root's names are the stub's (test_the_public_api_is_listed_once)
        mod = importlib.import_module(
            ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        )
        defined = _defined_names(ast.parse(path.read_text()))
        offenders += [f"{mod.__name__}.{n}" for n in getattr(mod, "__all__", []) if n not in defined]
    assert offenders == []


def test_clients_use_the_public_address_of_public_names() -> None:
    # A name in workbench.__all__ has one address for clients: workbench.NAME.
    public = set(workbench.__all__)
    offenders = [
        f"{file}: from {module} import {name}"
        for file, module, name in _client_imports()
        if module != "workbench" and name in public and not _is_module(module, name)
    ]
    assert offenders == []


def test_every_public_callable_has_a_docstring() -> None:
    missing = []
    for name in workbench.__all__:
        value = getattr(workbench, name)
        if (inspect.isclass(value) or inspect.isfunction(value)) and not (value.__doc__ or "").strip():
            missing.append(name)
    assert missing == []


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="nope"):
        workbench.nope  # noqa: B018


def test_verbs_no_longer_shadow_modules() -> None:
    # The verbs are functions; their implementations live in subpackage modules that can be patched.
    assert inspect.isfunction(workbench.promote)
    module = importlib.import_module("workbench.production.promote")
    assert module.promote is workbench.promote


@pytest.mark.parametrize("module", _modules())
def test_every_module_declares_all_and_it_resolves(module: str) -> None:
    mod = importlib.import_module(module)
    assert hasattr(mod, "__all__"), f"{module} has no __all__"
    for name in mod.__all__:
        assert hasattr(mod, name), f"{module}.__all__ names {name!r}, which it does not define"


def _is_module(package: str, name: str) -> bool:
    return hasattr(importlib.import_module(package), "__path__") and bool(
        importlib.util.find_spec(f"{package}.{name}")
    )


def _client_imports() -> list[tuple[str, str, str]]:
    """(file, module, name) for every ``from workbench… import name`` in the app, pages and notebooks."""
    sources: list[tuple[str, str]] = []
    files = [
        ROOT / "app.py",
        *sorted((ROOT / "pages").glob("*.py")),
        *sorted((ROOT / "workbench_app").glob("*.py")),
        *sorted((ROOT / "workbench" / "cli").glob("*.py")),
    ]
    for path in files:
        sources.append((path.name, path.read_text()))
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        sources.append((path.name, code))
    found = []
    for name, code in sources:
        for node in ast.walk(ast.parse(code)):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("workbench"):
                if node.module.startswith("workbench_app"):
                    continue
                found.extend((name, node.module, alias.name) for alias in node.names)
    return found


def test_app_and_notebooks_use_only_documented_names() -> None:
    private = []
    for file, module, name in _client_imports():
        mod = importlib.import_module(module)
        is_module = _is_module(module, name)
        if name.startswith("_") or not (name in getattr(mod, "__all__", []) or is_module):
            private.append(f"{file}: from {module} import {name}")
    assert private == []


def test_clients_use_only_public_names_of_the_namespace() -> None:
    # ``wb.NAME`` in the app and the notebooks must be a name of the public API.
    sources = [(p.name, p.read_text()) for p in [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py"))]]
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        sources.append(
            (path.name, "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code"))
        )
    unknown = [
        f"{file}: wb.{node.attr}"
        for file, code in sources
        for node in ast.walk(ast.parse(code))
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "wb"
        and node.attr not in workbench.__all__
    ]
    assert unknown == []


def test_library_imports_no_private_name_of_another_subpackage() -> None:
    offenders = []
    for path in sorted((ROOT / "workbench").rglob("*.py")):
        own = path.relative_to(ROOT).parts[1]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("workbench."):
                other = node.module.split(".")[1]
                if other != own and any(a.name.startswith("_") for a in node.names):
                    offenders.append(f"{path.relative_to(ROOT)}: {node.module}")
    assert offenders == []


def test_import_is_light() -> None:
    code = "import sys, workbench; print(sorted(m for m in ('torch', 'lancedb', 'streamlit', 'pandas') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
