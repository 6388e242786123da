"""The structural rules of docs/architecture.md, checked on the source.

- no import cycle between the package's modules;
- no function over 120 lines (package and games);
- no module imports another module's underscore names, except the kernel
  modules' (tabmfirl/kernels/: jitted functions private by convention);
- the applications layer (tabmfirl/apps/) is imported by no other layer.
"""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAX_FUNCTION_LINES = 120


def _modules():
    """``{dotted name: path}`` of every module of the package and of ``envs``."""
    out = {}
    for base, package in ((ROOT / "tabmfirl", "tabmfirl"), (ROOT / "envs", "tabmfirl.envs")):
        for path in sorted(base.rglob("*.py")):
            parts = path.relative_to(base).with_suffix("").parts
            name = ".".join((package,) + parts)
            out[name[: -len(".__init__")] if name.endswith(".__init__") else name] = path
    return out


MODULES = _modules()


def _target(module, node):
    """Dotted module an ``ImportFrom`` node imports from."""
    if node.level == 0:
        return node.module
    base = module.split(".")
    if MODULES[module].name != "__init__.py":
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(module):
    """``(imported module, imported name or None, node)`` of every package import."""
    tree = ast.parse(MODULES[module].read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            target = _target(module, node)
            if not target or not target.startswith("tabmfirl"):
                continue
            for alias in node.names:
                full = f"{target}.{alias.name}"
                yield (full, None, node) if full in MODULES else (target, alias.name, node)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("tabmfirl"):
                    yield alias.name, None, node


def _graph():
    return {m: {t for t, _, _ in _imports(m) if t in MODULES and t != m} for m in MODULES}


def _cycles(graph):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
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

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_the_checker_sees_the_package():
    assert {"tabmfirl", "tabmfirl.irl._driver", "tabmfirl.solvers._equilibrium",
            "tabmfirl.apps.cli", "tabmfirl.envs.virus"} <= set(MODULES)
    graph = _graph()
    assert "tabmfirl.irl._checkpoint" in graph["tabmfirl.irl._driver"]
    # and it finds a cycle when there is one
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycle():
    assert _cycles(_graph()) == []


def test_no_function_over_120_lines():
    long = []
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long.append(f"{module}.{node.name}: {length} lines")
    assert long == []


def test_no_module_imports_another_modules_private_names():
    crossing = [f"{module} imports {target}.{name}"
                for module in MODULES for target, name, _ in _imports(module)
                if name is not None and name.startswith("_") and not name.startswith("__")
                and not target.startswith("tabmfirl.kernels")]
    assert crossing == []


@pytest.mark.parametrize("layer", ["game", "kernels", "solvers", "irl", "evaluation"])
def test_no_layer_below_imports_the_applications(layer):
    offenders = [m for m in MODULES if m.startswith(f"tabmfirl.{layer}")
                 for t in _graph()[m] if t.startswith("tabmfirl.apps")]
    assert offenders == []
