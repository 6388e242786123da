"""The experiment grid on a Dask cluster (``run_experiment(scheduler=...)``,
``tabmfirl experiment --scheduler``): same cells and tables as the local process
pool, no finished cell lost when a worker dies mid-run, reruns skip finished cells.

Needs the extra ``dist`` (``pip install -e .[dist]``; .ci/run installs it).  One
local cluster of two single-threaded worker processes for the module; the tiny
settings of tests/test_experiment.py.  Every run is bounded by a timeout so a
hung cluster fails the test instead of hanging the suite.
"""
import json
import os
import signal
import sys
import threading
import time

import pytest

distributed = pytest.importorskip("distributed")

from tabmfirl.apps._experiment import METRICS, _collect, run_experiment  # noqa: E402
from tabmfirl.apps._runs import cell_path  # noqa: E402
from tabmfirl.apps.cli import main  # noqa: E402

TINY = {"agents": 15, "horizon": 5, "max_iter": 8, "n_warmup": 2, "held_out_agents": 5}
GRID = (["virus"], ["pemmfirl_em", "mfirl"], 3)
NAMES = sorted(f"virus__{m}__{s}.json" for m in GRID[1] for s in range(GRID[2]))
TIMEOUT = 90.0          # seconds for one run; the tiny grid takes a few


def bounded(function, *args, timeout=TIMEOUT, **kwargs):
    """Call ``function`` in a thread; fail (not hang) if it takes over ``timeout`` s."""
    box = {}

    def target():
        try:
            box["value"] = function(*args, **kwargs)
        except BaseException as error:          # re-raised in the test's thread
            box["error"] = error

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), f"run did not finish within {timeout} s"
    if "error" in box:
        raise box["error"]
    return box["value"]


def without_timings(record):
    record = json.loads(json.dumps(record))
    record.pop("seconds")
    record["fit"].pop("seconds")
    record["metrics"].pop("fit_seconds")
    return record


def rows_without_timings(rows):
    return [{k: v for k, v in row.items() if not k.startswith("fit_seconds")} for row in rows]


def cell_files(out):
    return sorted(p.name for p in (out / "cells").glob("*.json"))


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0", silence_logs=40) as cluster:
        with distributed.Client(cluster, timeout="30s", set_as_default=False) as c:
            c.wait_for_workers(2, timeout=60)
            yield c


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The grid on the local process pool."""
    out = tmp_path_factory.mktemp("local") / "res"
    summary = run_experiment(*GRID, out=out, workers=2, **TINY)
    assert summary["ran"] == 6 and not summary["failed"]
    return summary


def test_dask_run_equals_the_local_pool(client, reference, tmp_path):
    out = tmp_path / "res"
    lines = []
    summary = bounded(run_experiment, *GRID, out=out, scheduler=client, log=lines.append,
                      **TINY)
    assert summary["ran"] == 6 and summary["skipped"] == 0 and not summary["failed"]
    assert cell_files(out) == NAMES
    assert any("to run on a Dask cluster" in line for line in lines)
    assert any("2 worker(s)" in line for line in lines if "Dask scheduler" in line)
    assert sum("[" in line and "/6]" in line for line in lines) == 6
    assert ([without_timings(r) for r in summary["cells"]]
            == [without_timings(r) for r in reference["cells"]])
    assert set(METRICS) <= set(summary["cells"][0]["metrics"])
    assert rows_without_timings(summary["rows"]) == rows_without_timings(reference["rows"])
    assert (out / "results.csv").read_text().splitlines()[0] == \
        open(reference["csv"]).read().splitlines()[0]
    assert "| virus | pemmfirl_em | 3 |" in (out / "results.md").read_text()


def test_a_worker_killed_mid_run_loses_no_cell_and_a_rerun_skips_all(client, reference,
                                                                     tmp_path):
    out = tmp_path / "res"
    pids = client.run(os.getpid)                  # worker address -> process id
    assert len(pids) == 2
    box = {}
    thread = threading.Thread(
        target=lambda: box.update(summary=run_experiment(*GRID, out=out, scheduler=client,
                                                         **TINY)),
        daemon=True)
    thread.start()
    deadline = time.monotonic() + TIMEOUT
    while not ((out / "cells").exists() and list((out / "cells").glob("*.json"))):
        assert time.monotonic() < deadline and thread.is_alive(), "no cell was written"
        time.sleep(0.01)
    # kill (SIGKILL: no clean-up) a worker that holds a cell still running or queued
    busy = [address for address, keys in client.processing().items()
            if keys and address in pids]
    assert busy, "every cell finished before the kill; the grid is too small to test it"
    os.kill(pids[busy[0]], signal.SIGKILL)
    thread.join(TIMEOUT)
    assert not thread.is_alive(), f"run did not finish within {TIMEOUT} s after the kill"
    summary = box["summary"]
    assert not summary["failed"] and summary["ran"] == 6
    assert pids[busy[0]] not in client.run(os.getpid).values()      # it did die
    assert cell_files(out) == NAMES
    assert ([without_timings(r) for r in summary["cells"]]
            == [without_timings(r) for r in reference["cells"]])

    # a rerun skips every finished cell (files untouched; the cluster is not needed)
    mtimes = {p: p.stat().st_mtime_ns for p in (out / "cells").glob("*.json")}
    again = bounded(run_experiment, *GRID, out=out, scheduler="tcp://127.0.0.1:9", **TINY)
    assert again["ran"] == 0 and again["skipped"] == 6 and not again["failed"]
    assert {p: p.stat().st_mtime_ns for p in (out / "cells").glob("*.json")} == mtimes
    assert again["rows"] == summary["rows"]


def test_experiment_command_with_scheduler_address(client, tmp_path, capsys):
    address = client.scheduler.address
    out = tmp_path / "res"
    argv = ["experiment", "--games", "virus", "--methods", "oracle", "--seeds", "2",
            "--agents", "10", "--horizon", "4", "--iters", "3", "--warmup", "1",
            "--held-out-agents", "0", "--scheduler", address, "--out", str(out)]
    assert bounded(main, argv) == 0
    captured = capsys.readouterr()
    assert "| virus | oracle | 2 |" in captured.out and "2 cells run" in captured.out
    assert "Dask scheduler" in captured.err and "[2/2]" in captured.err
    assert cell_path(out, "virus", "oracle", 1).exists()
    assert bounded(main, argv + ["--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["ran"] == 0 and summary["skipped"] == 2


def test_a_failing_cell_is_reported_per_cell(client, tmp_path):
    lines = []
    summary = bounded(run_experiment, ["virus"], ["mfirl"], 2, out=tmp_path / "res",
                      scheduler=client, log=lines.append, **dict(TINY, backend="nope"))
    assert summary["ran"] == 0 and len(summary["failed"]) == 2
    assert {r["seed"] for r in summary["failed"]} == {0, 1}
    assert all("error" in r and r["traceback"] for r in summary["failed"])
    assert sum("FAILED" in line for line in lines) == 2
    assert cell_files(tmp_path / "res") == []


def test_a_lost_task_becomes_the_error_record_of_its_cell():
    """A future that raises (e.g. KilledWorker after its retries) is a failed cell."""
    def raising():
        raise RuntimeError("worker lost")

    class Future:                                  # hashable, like both kinds of future
        def __init__(self, result):
            self.result = result

    lost = Future(raising)
    fine = Future(lambda: {"game": "virus", "method": "mfirl", "seed": 1})
    reported = []
    _collect({lost: ("virus", "mfirl", 0), fine: ("virus", "mfirl", 1)}, [lost, fine],
             lambda record, done: reported.append((done, record)))
    assert [done for done, _ in reported] == [1, 2]
    first = reported[0][1]
    assert first["seed"] == 0 and first["error"] == "RuntimeError: worker lost"
    assert "worker lost" in first["traceback"] and reported[1][1]["seed"] == 1


def test_missing_distributed_names_the_extra(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "distributed", None)      # import fails
    with pytest.raises(ImportError, match=r"pip install -e \.\[dist\]"):
        run_experiment(["virus"], ["mfirl"], 1, out=tmp_path, scheduler="tcp://x:1", **TINY)
    assert main(["experiment", "--games", "virus", "--methods", "mfirl", "--seeds", "1",
                 "--scheduler", "tcp://x:1", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "pip install -e .[dist]" in err


def test_unreachable_scheduler_is_an_error(tmp_path):
    import dask

    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}), \
            pytest.raises(OSError, match="cannot connect to the Dask scheduler"):
        bounded(run_experiment, ["virus"], ["mfirl"], 1, out=tmp_path,
                scheduler="tcp://127.0.0.1:9", **TINY)
