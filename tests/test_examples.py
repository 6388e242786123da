"""Every ``examples/*.py`` script runs in small mode and writes its PNGs.

Convention for example scripts: they accept ``--small`` (also the environment
variable ``TABMFIRL_EXAMPLES_SMALL=1``) for a run of seconds and ``--out
FOLDER`` for their figures.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.py"))


def test_there_are_examples():
    assert EXAMPLES, "no examples/*.py found"


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda path: path.name)
def test_example_runs_in_small_mode(script, tmp_path):
    out = tmp_path / "figures"
    env = dict(os.environ, TABMFIRL_EXAMPLES_SMALL="1")
    env.pop("DISPLAY", None)      # headless: the scripts must not need a display
    env.pop("MPLBACKEND", None)
    done = subprocess.run([sys.executable, str(script), "--small", "--out", str(out)],
                          capture_output=True, text=True, timeout=240, env=env,
                          cwd=tmp_path)
    assert done.returncode == 0, f"{script.name} failed:\n{done.stdout}\n{done.stderr}"
    pngs = sorted(out.rglob("*.png"))
    assert pngs, f"{script.name} wrote no PNG into --out"
    for png in pngs:
        assert png.stat().st_size > 2000, f"{png.name} is suspiciously small"
