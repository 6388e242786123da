"""Write docs/api.md: every public name with its signature and summary.

    python docs/make_api.py          # rewrite docs/api.md
    python docs/make_api.py --check  # exit 1 if docs/api.md is out of date

``tests/test_docs.py`` runs the check, so the reference cannot fall behind
the code.
"""
import argparse
import inspect
import pathlib
import sys

import tabmfirl
import tabmfirl.envs
import tabmfirl.interop
import tabmfirl.testing

PAGE = pathlib.Path(__file__).resolve().parent / "api.md"
SECTIONS = [
    ("tabmfirl", tabmfirl, tabmfirl.__all__),
    ("tabmfirl.envs", tabmfirl.envs, tabmfirl.envs.__all__),
    ("tabmfirl.testing", tabmfirl.testing, tabmfirl.testing.__all__),
    ("tabmfirl.interop", tabmfirl.interop, tabmfirl.interop.__all__),
]


def _summary(obj):
    doc = inspect.getdoc(obj) or ""
    return doc.split("\n\n")[0].replace("\n", " ").strip()


def _signature(name, obj):
    try:
        return f"{name}{inspect.signature(obj)}"
    except (TypeError, ValueError):
        return name


def render():
    lines = ["# API reference", "",
             "Generated from the docstrings by `python docs/make_api.py`; the full "
             "documentation of each name (parameters, equations, examples) is its "
             "docstring: `help(tabmfirl.NAME)`.", ""]
    modules = list(SECTIONS)
    try:
        import tabmfirl.plot as plot_module  # needs matplotlib
        modules.append(("tabmfirl.plot", plot_module, plot_module.__all__))
    except ImportError:  # pragma: no cover
        pass
    for title, module, names in modules:
        lines += [f"## `{title}`", ""]
        for name in names:
            obj = getattr(module, name)
            if callable(obj):
                lines += [f"### `{title}.{name}`", "", "```python",
                          _signature(name, obj), "```", "", _summary(obj), ""]
            else:
                lines += [f"### `{title}.{name}`", "", f"Constant: `{obj!r}`."
                          if not isinstance(obj, dict) else "A registry (dict).", ""]
    return "\n".join(lines).rstrip() + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description="write or check docs/api.md")
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if not PAGE.exists() or PAGE.read_text(encoding="utf-8") != text:
            print("docs/api.md is out of date: run python docs/make_api.py", file=sys.stderr)
            return 1
        return 0
    PAGE.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
