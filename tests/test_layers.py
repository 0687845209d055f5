"""The layers of docs/architecture.md hold: no module imports a higher layer, by an import
statement or by a module name in a string, and no package is in an import cycle.

The import graph is checked by import-linter with the contracts in pyproject.toml
([tool.importlinter]: `layers` and `acyclic`); the same check runs from the shell as
`.venv/bin/lint-imports`. Strings are checked here, from the same list of layers: a module
that names a higher one in a string (an `importlib.import_module("servicepulse.web...")`, a
uvicorn "module:attribute") is a back door the import graph does not show.
"""

from __future__ import annotations

import ast
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"
PACKAGE = ROOT / "src" / "servicepulse"
NAMED = re.compile(r"\bservicepulse\.([a-z_][a-z0-9_]*)")

# Strings that name a higher layer, each with why and who removes it. Keep it short.
KNOWN: dict[tuple[str, str], str] = {}


def layer_ranks() -> dict[str, int]:
    """{top-level module or package: its layer, 0 the lowest} from the `layers` contract."""
    settings = tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]
    (contract,) = [c for c in settings["contracts"] if c.get("id") == "layers"]
    layers: list[str] = contract["layers"]
    return {name.strip(): len(layers) - 1 - index
            for index, layer in enumerate(layers) for name in re.split(r"[:|]", layer)}


def _docstrings(tree: ast.Module) -> set[int]:
    """ids of the docstring nodes: documentation may name any module."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def names_above(module: str, source: str, ranks: dict[str, int]) -> Iterator[tuple[int, str]]:
    """(line, area) for each string constant in `source` (the text of `module`) that names
    a module of a higher layer than the module's own."""
    own = ranks.get(module.split(".")[1]) if module.count(".") else None
    if own is None:
        return
    tree = ast.parse(source)
    docstrings = _docstrings(tree)
    for node in ast.walk(tree):
        if (isinstance(node, ast.Constant) and isinstance(node.value, str)
                and id(node) not in docstrings):
            for match in NAMED.finditer(node.value):
                area = match.group(1)
                if ranks.get(area, -1) > own:
                    yield node.lineno, area


def modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        yield ".".join(parts[:-1] if parts[-1] == "__init__" else parts), path


def test_the_import_contracts_hold(capsys: pytest.CaptureFixture[str]) -> None:
    from importlinter import configuration
    from importlinter.application.use_cases import lint_imports

    configuration.configure()  # as the `lint-imports` command does
    kept = lint_imports(str(PYPROJECT), cache_dir=None, no_logo=True)
    assert kept, capsys.readouterr().out


def test_every_package_has_a_layer() -> None:
    ranks = layer_ranks()
    top = {name for name, _ in modules() if name.count(".") == 1}
    assert {name.split(".")[1] for name in top} - set(ranks) == set()


def test_no_module_names_a_higher_layer_in_a_string() -> None:
    ranks = layer_ranks()
    found = {(module, area): f"{path.relative_to(ROOT)}:{line}"
             for module, path in modules()
             for line, area in names_above(module, path.read_text(), ranks)}
    unexpected = {key: where for key, where in found.items() if key not in KNOWN}
    assert unexpected == {}, "a lower layer names a higher one (docs/architecture.md)"
    stale = set(KNOWN) - set(found)
    assert stale == set(), "gone: delete these from KNOWN"


def test_the_string_check_finds_a_back_door() -> None:
    ranks = layer_ranks()
    source = '''"""Docs may name servicepulse.web.app."""
import importlib

def load() -> None:
    """Nor does this docstring count: servicepulse.cli.main."""
    importlib.import_module("servicepulse.web.app")
    name = f"servicepulse.bench.{'kpi'}"
    same = "servicepulse.kpi.rollup"  # its own layer
    lower = "servicepulse.store.tables"
    return None
'''
    assert list(names_above("servicepulse.kpi.example", source, ranks)) == [
        (6, "web"), (7, "bench")]
    assert list(names_above("servicepulse.cli.example", source, ranks)) == []
    assert ranks["errors"] == ranks["store"] == 0
    assert ranks["kpi"] > ranks["ingest"] == ranks["simulate"] > ranks["records"]
    assert ranks["cli"] > ranks["bench"] > ranks["web"] > ranks["composition"] > ranks["insights"]
