"""Smoke runs of the speed benchmarks (benchmarks/bench_threads.py, bench_process.py).

They check the tables are printed with parseable numbers, never the times
themselves (benchmarks are scripts, not timed tests).
"""
import importlib.util
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rows(out):
    return [[c.strip() for c in line.strip("|").split("|")]
            for line in out.splitlines() if line.startswith("| ") and "---" not in line][1:]


def test_bench_threads_quick(capsys):
    _load("bench_threads").main(["--quick", "--repeats", "1"])
    rows = _rows(capsys.readouterr().out)
    assert [row[0] for row in rows] == ["dense random S=100, A=5, T=10",
                                        "dense random S=300, A=5, T=10"]
    for row in rows:
        assert all(float(cell) > 0 for cell in row[2:6] + row[7:])  # times, ratio, bound
        assert int(row[6]) >= 1  # threads the default chose


def test_bytes_per_pass_counts_each_step_slice():
    """S=100, A=5, T=10, one stationary slice: 10 steps x 100 x 5 x 100 x 8 B + rewards."""
    module = _load("bench_threads")
    model = module.dense_model(100)
    assert module.bytes_per_pass(model) == 10 * 100 * 5 * 100 * 8 + 10 * 100 * 5 * 8


@pytest.mark.slow
def test_bench_process_one_game(capsys):
    _load("bench_process").main(["--games", "virus", "--backends", "numpy", "numba",
                                 "--repeats", "1"])
    rows = _rows(capsys.readouterr().out)
    assert len(rows) == 1 and rows[0][0] == "virus"
    assert float(rows[0][1]) > 0 and float(rows[0][2]) > 0 and rows[0][3].endswith("x")
