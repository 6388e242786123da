"""The code in the README, the tutorial and docs/testing.md runs as written.

A block preceded by ``<!-- path/to/file.py -->`` is that file, verbatim (CI runs
it where its dependencies are installed): it is compared, not run.
"""
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


FILE_BLOCK = re.compile(r"<!-- (\S+) -->\n```python\n(.*?)```", re.S)


def _python_blocks(path):
    """The python blocks of ``path`` that are not copies of a file."""
    text = FILE_BLOCK.sub("", path.read_text(encoding="utf-8"))
    return re.findall(r"```python\n(.*?)```", text, re.S)


@pytest.mark.parametrize("page", ["README.md", "docs/tutorial.md", "docs/testing.md"])
def test_code_blocks_run(page, tmp_path, monkeypatch):
    blocks = _python_blocks(ROOT / page)
    assert blocks, f"{page} has no python code block"
    monkeypatch.chdir(tmp_path)
    namespace = {}
    for block in blocks:
        exec(compile(block, f"{page} code block", "exec"), namespace)


def test_api_reference_is_up_to_date():
    """docs/api.md lists every public name (regenerate: python docs/make_api.py)."""
    import subprocess
    import sys

    completed = subprocess.run([sys.executable, str(ROOT / "docs" / "make_api.py"), "--check"],
                               capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr


def test_the_external_solver_example_is_the_file_ci_runs():
    """docs/testing.md shows validation/test_external_solver.py verbatim, in under 30 lines."""
    blocks = FILE_BLOCK.findall((ROOT / "docs" / "testing.md").read_text(encoding="utf-8"))
    assert [path for path, _ in blocks] == ["validation/test_external_solver.py"]
    code = blocks[0][1]
    assert code == (ROOT / blocks[0][0]).read_text(encoding="utf-8")
    assert len(code.splitlines()) < 30
    assert "assert_equilibrium(" in code and "OnlineMirrorDescent" in code


@pytest.mark.parametrize("page", ["README.md", "docs/index.md"])
def test_the_testing_page_is_linked(page):
    assert "testing.md" in (ROOT / page).read_text(encoding="utf-8")
