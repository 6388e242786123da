"""The code in the README and the tutorial runs as written."""
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _python_blocks(path):
    return re.findall(r"```python\n(.*?)```", path.read_text(encoding="utf-8"), re.S)


@pytest.mark.parametrize("page", ["README.md", "docs/tutorial.md"])
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
