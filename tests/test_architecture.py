"""The shape of the code (issue 11): no import cycles, no function longer than 80 lines.

A function's length is from its ``def`` (or first decorator) to its last line, less its
docstring: a numpydoc docstring documenting twenty parameters is not code a reader must follow.
Function-level imports count as imports. The layering itself (cli above workflow/estimator
above training above network above the math modules; graph/ standalone) is import-linter's
contract in pyproject.toml, checked by ``lint-imports`` in .ci/run.

``KNOWN_LONG`` and ``KNOWN_CYCLES`` list what main had when these tests arrived, to be emptied:
nothing new may join them, and an entry that is fixed must leave (the test says so).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
MAX_LINES = 80
KNOWN_LONG: set[str] = set()
KNOWN_CYCLES: set[tuple[str, ...]] = set()


def _import_graph() -> dict[str, set[str]]:
    grimp = pytest.importorskip("grimp")  # comes with import-linter (the test extra)
    graph = grimp.build_graph("deltaprop", cache_dir=None)
    return {m: set(graph.find_modules_directly_imported_by(m)) for m in graph.modules}


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            v, children = work[-1]
            for w in children:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(edges.get(w, ())))))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    component = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        component.append(w)
                        if w == v:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def test_the_cycle_finder_finds_cycles():
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}}
    assert _cycles(edges) == [["a", "b", "c"]]


def test_no_module_imports_one_that_imports_it_back():
    cycles = {tuple(c) for c in _cycles(_import_graph())}
    new = sorted(cycles - KNOWN_CYCLES)
    assert not new, "import cycles (function-level imports count too): " + "; ".join(
        " <-> ".join(c) for c in new
    )
    fixed = sorted(KNOWN_CYCLES - cycles)
    assert not fixed, f"no longer cycles, remove them from KNOWN_CYCLES: {fixed}"


def _functions(path: Path):
    """(name, line of the def, length less the docstring) of every function in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            n = node.end_lineno - start + 1
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(getattr(first.value, "value", None), str):
                n -= first.end_lineno - first.lineno + 1
            yield node.name, node.lineno, n


def _lengths() -> dict[str, tuple[int, int]]:
    """``"deltaprop/module.py:name"`` -> (line, length) of its longest function of that name."""
    found: dict[str, tuple[int, int]] = {}
    for path in sorted(SRC.rglob("*.py")):
        for name, line, n in _functions(path):
            key = f"{path.relative_to(SRC).as_posix()}:{name}"
            if n > found.get(key, (0, 0))[1]:
                found[key] = (line, n)
    return found


def test_no_function_is_longer_than_80_lines():
    lengths = _lengths()
    long = {key for key, (_, n) in lengths.items() if n > MAX_LINES}
    new = [f"{k} (line {lengths[k][0]}, {lengths[k][1]} lines)" for k in sorted(long - KNOWN_LONG)]
    assert not new, f"functions over {MAX_LINES} lines (less docstrings): " + ", ".join(new)
    fixed = sorted(KNOWN_LONG - long)
    assert not fixed, f"now at most {MAX_LINES} lines, remove them from KNOWN_LONG: {fixed}"
