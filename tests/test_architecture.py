"""The package's shape stays the data flow: no import cycles, small modules, imports at the top.

These read the source (``ast``), not the running program, so they are fast and name the
offending module and line.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "sim"
MAX_LINES = 520          # "about 500": a module above this is two concepts
# Function-level imports allowed outside sim/commands/: optional or heavy third-party packages
# only. A `sim` import inside a function hides a dependency (and usually a cycle).


def modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        out[".".join(parts)] = path
    return out


def imported_sim_modules(name: str, path: Path, known: set[str]) -> list[tuple[str, int, bool]]:
    """``(module, line, at_top)`` for every ``sim`` module that ``name`` imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = {id(n) for n in tree.body}
    found = []
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1]
                                + ([base] if base else []))
            if not base.startswith("sim"):
                continue
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                target = sub if sub in known else base
                found.append((target, node.lineno, id(node) in top))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("sim"):
                    found.append((alias.name, node.lineno, id(node) in top))
    return [(m, line, at_top) for m, line, at_top in found if m in known and m != name]


@pytest.fixture(scope="module")
def graph():
    mods = modules()
    known = set(mods)
    return mods, {name: imported_sim_modules(name, path, known) for name, path in mods.items()}


def test_no_import_cycles(graph):
    mods, edges = graph
    # cycles through module-level imports only matter at import time, but a function-level
    # import in a cycle is the same design problem, so every import counts
    adj = {m: sorted({t for t, _, _ in edges[m]}) for m in mods}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for t in adj[m]:
            if t.startswith(m + "."):          # a package importing its own submodule
                continue
            if state.get(t) == 1:
                return stack[stack.index(t):] + [t]
            if t not in state:
                cycle = visit(t)
                if cycle:
                    return cycle
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(mods):
        if m not in state:
            cycle = visit(m)
            assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_modules_are_small():
    big = {name: n for name, path in modules().items()
           if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not big, f"modules over {MAX_LINES} lines: {big}"


def test_sim_imports_are_at_module_top_outside_commands(graph):
    mods, edges = graph
    inside = [f"{mods[m].relative_to(PACKAGE.parent)}:{line} imports {t}"
              for m in mods if not m.startswith("sim.commands") and m != "sim"
              for t, line, at_top in edges[m] if not at_top]
    assert not inside, "function-level imports of sim modules:\n" + "\n".join(inside)


def test_the_checks_can_fail(tmp_path, monkeypatch):
    """A cycle and a function-level import in a scratch package are found."""
    pkg = tmp_path / "sim"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from sim.b import x\n")
    (pkg / "b.py").write_text("def f():\n    from sim.a import y\n")
    monkeypatch.setattr(__import__(__name__), "PACKAGE", pkg)
    mods = modules()
    known = set(mods)
    edges = {n: imported_sim_modules(n, p, known) for n, p in mods.items()}
    assert ("sim.b", 1, True) in edges["sim.a"]
    assert ("sim.a", 2, False) in edges["sim.b"]
    with pytest.raises(AssertionError, match="import cycle: sim.a -> sim.b -> sim.a"):
        test_no_import_cycles((mods, edges))


def test_no_module_imports_the_package_itself(graph):
    """``sim/__init__`` names the public API (and imports from every stage); a module that
    imports ``sim`` itself would close a cycle through it (``__version__`` is in sim.version)."""
    mods, edges = graph
    back = [f"{mods[m].relative_to(PACKAGE.parent)}:{line}" for m in mods if m != "sim"
            for t, line, _ in edges[m] if t == "sim"]
    assert not back, "modules importing the sim package itself: " + ", ".join(back)
