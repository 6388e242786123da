"""Structural rules of the application layer (issue 12) that tests/test_architecture.py
(no cycle, no function over 120 lines, no private names across modules, nothing below
imports the applications; package-wide) does not check, read from the source with ``ast``:

* imports inside functions only for optional dependencies (matplotlib, Dask, pyarrow),
  never to dodge an import cycle (scope: ``tabmfirl/apps/``, ``tabmfirl/plot.py`` and the
  taxi modules ``envs/taxi.py``, ``envs/taxi_city.py``, ``envs/taxi_data.py``; widen
  ``FILES`` as the other layers follow);
* the applications' modules do not import ``cli`` (the study's subcommand used to import
  its ``CommandError``: a cycle), and ``cli`` wires the others.

An exception is listed with its reason, and must still be needed: a listed exception
that no longer occurs fails the test, so the list cannot go stale.
"""
import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
APPS = ROOT / "tabmfirl" / "apps"
FILES = sorted(APPS.glob("*.py")) + [ROOT / "tabmfirl" / "plot.py", ROOT / "envs" / "taxi.py",
                                     ROOT / "envs" / "taxi_city.py",
                                     ROOT / "envs" / "taxi_data.py"]
#: Top-level packages a function may import lazily: optional dependencies.
OPTIONAL = ("matplotlib", "distributed", "pyarrow")
#: (file, function) -> why it imports inside the function anyway.
LAZY_IMPORTS = {
    ("tabmfirl/apps/cli.py", "_cmd_plot"): "tabmfirl.plot imports matplotlib (optional)",
    ("tabmfirl/apps/_taxi_study.py", "write_taxi_study"):
        "tabmfirl.plot imports matplotlib (optional)",
}


def _name(path):
    return str(path.relative_to(ROOT))


def _trees():
    return [(path, ast.parse(path.read_text(encoding="utf-8"))) for path in FILES]


def _functions(tree):
    return [node for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))]


def test_the_files_exist():
    assert all(path.exists() for path in FILES)
    assert {p.name for p in FILES} >= {"cli.py", "_runs.py", "_fit_methods.py",
                                       "_experiment.py", "_taxi_study.py"}


def test_imports_inside_functions_are_optional_dependencies():
    lazy = set()
    for path, tree in _trees():
        for function in _functions(tree):
            for node in ast.walk(function):
                if isinstance(node, ast.Import):
                    modules = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom):
                    modules = [node.module or ""]
                else:
                    continue
                if not all(m.split(".")[0] in OPTIONAL for m in modules):
                    lazy.add((_name(path), function.name))
    assert lazy == set(LAZY_IMPORTS), (
        f"new: {sorted(lazy - set(LAZY_IMPORTS))}; "
        f"listed but gone (remove them): {sorted(set(LAZY_IMPORTS) - lazy)}")


def _imported_modules(tree, package):
    """Absolute names of the modules a module imports (``package``: its own package)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def test_no_application_module_imports_cli_and_none_forms_a_cycle():
    modules = {p.stem: ast.parse(p.read_text(encoding="utf-8")) for p in APPS.glob("*.py")
               if p.stem != "__init__"}
    graph = {name: {m.split(".")[2] for m in _imported_modules(tree, "tabmfirl.apps")
                    if m.startswith("tabmfirl.apps.") and m.split(".")[2] in modules}
             for name, tree in modules.items()}
    assert not any("cli" in deps for name, deps in graph.items() if name != "cli"), graph
    assert graph["cli"] >= {"_runs", "_fit_methods", "_experiment", "_taxi_study", "_errors"}
    # depth-first search for a cycle
    state = {}

    def visit(name, path):
        if state.get(name) == "open":
            pytest.fail(f"import cycle: {' -> '.join(path + [name])}")
        if state.get(name) == "done":
            return
        state[name] = "open"
        for dep in sorted(graph[name] - {name}):
            visit(dep, path + [name])
        state[name] = "done"

    for name in sorted(graph):
        visit(name, [])
