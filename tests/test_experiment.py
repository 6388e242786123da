"""Tests of the fit registry (tabmfirl.apps._fit_methods), the evaluation and resumable grid
(tabmfirl.apps._experiment), the run folders (tabmfirl.apps._runs) and of the
``fit`` / ``evaluate`` / ``experiment`` commands.

Tiny settings (virus, T = 5, 15 agents per type, 8 iterations) check the
plumbing, not the statistics: the statistical claims are in tests/test_irl.py
and docs/results.md.
"""
import json
import os

import numpy as np
import pytest

from tabmfirl import envs, solve_equilibrium
from tabmfirl.apps._experiment import METRICS, aggregate, evaluate_fit, run_experiment
from tabmfirl.apps._fit_methods import FIT_METHODS, FitOptionError, register_fit_method
from tabmfirl.apps._runs import FIT_RUN_FORMAT, RunFolder, cell_path, changed_settings
from tabmfirl.apps.cli import build_parser, main
from tabmfirl.irl._checkpoint import load_result
from tabmfirl.irl._demos import generate_demonstrations

TINY = {"agents": 15, "horizon": 5, "max_iter": 8, "n_warmup": 2, "held_out_agents": 5}
BETA = 0.1
SOLVER = {"method": "fixed_point", "damping": 0.3, "max_iter": 3000}


def test_registry_has_the_methods_and_takes_one_line_additions():
    assert list(FIT_METHODS) == ["pemmfirl", "pemmfirl_exact", "pemmfirl_em", "pemmfirl_em_no_mi",
                                 "two_stage", "gaussian_types", "mfirl", "oracle", "mf_airl",
                                 "pemirl"]
    assert FIT_METHODS["pemmfirl"].fit is FIT_METHODS["pemmfirl_exact"].fit
    assert dict(FIT_METHODS["pemmfirl_exact"].fixed) == {"expectation": "exact"}
    assert [name for name, m in FIT_METHODS.items() if m.takes("n_warmup")] == [
        "pemmfirl_em", "pemmfirl_em_no_mi", "gaussian_types"]
    assert [name for name, m in FIT_METHODS.items() if not m.typed] == [
        "mfirl", "oracle", "mf_airl"]
    spec = envs.make("virus", types=2, horizon=4)
    eq = solve_equilibrium(spec, temperature=BETA, backend="numpy", **SOLVER)
    demos = generate_demonstrations(spec, eq.policy, 10, seed=0)
    calls = []

    def fake(spec, demos, *, temperature=1.0, seed=0):      # no n_contexts, few options
        calls.append((temperature, seed))
        return FIT_METHODS["mfirl"](spec, demos, 1, temperature=temperature, seed=seed,
                                    max_iter=2, backend="numpy", warn=False)

    try:
        method = register_fit_method("fake", fake)
        assert FIT_METHODS["fake"] is method and method.options == {"temperature", "seed"}
        result = method(spec, demos, 2, temperature=0.5, seed=4)
        assert calls == [(0.5, 4)] and result.prior.shape == (1,)
        # an option the fit does not take is an error naming both, and the fit never runs
        for option in ("max_iter", "checkpoint"):
            with pytest.raises(FitOptionError, match=f"'fake' does not take the option "
                                                     f"'{option}'"):
                method(spec, demos, 2, temperature=0.5, seed=4, **{option: 99})
        assert len(calls) == 1
        # settings shared by several methods: select picks those a method takes
        assert method.select({"temperature": 0.5, "n_warmup": 3, "seed": 1}) == {
            "temperature": 0.5, "seed": 1}
        with pytest.raises(FitOptionError, match="does not take mi_weight"):
            register_fit_method("fake", fake, mi_weight=0.0)
    finally:
        FIT_METHODS.pop("fake", None)
    ablation = FIT_METHODS["pemmfirl_em_no_mi"](spec, demos, 2, temperature=BETA, max_iter=3,
                                             backend="numpy", warn=False)
    np.testing.assert_array_equal(ablation.posterior, 0.5)
    with pytest.raises(FitOptionError, match="fixes mi_weight=0.0"):
        FIT_METHODS["pemmfirl_em_no_mi"](spec, demos, 2, mi_weight=1.0)
    with pytest.raises(FitOptionError, match="'mfirl' does not take the option 'n_warmup'"):
        FIT_METHODS["mfirl"](spec, demos, 1, n_warmup=5)


def test_evaluate_fit_of_the_true_reward_tables_is_zero():
    """A result whose head is the true reward scores 0 deviations (sanity of the wiring)."""
    spec = envs.make("virus", types=2, horizon=5)
    eq = solve_equilibrium(spec, temperature=BETA, backend="numpy", **SOLVER)
    demos = generate_demonstrations(spec, eq.policy, 20, seed=0)
    oracle = FIT_METHODS["oracle"](spec, demos, 2, temperature=BETA, max_iter=3, backend="numpy",
                               warn=False)
    metrics = evaluate_fit(spec, oracle, demos, temperature=BETA, expert=eq, held_out=demos,
                           backend="numpy")
    assert metrics["ari"] == 1.0 and metrics["nmi"] == 1.0 and metrics["type_map"] == [0, 1]
    for key in METRICS:
        if key not in ("fit_seconds", "bayes_ari"):
            assert key in metrics
    assert metrics["transfer_policy_deviation"] is None            # no variant given
    assert metrics["policy_deviation"] >= 0 and metrics["held_out_log_likelihood"] < 0


@pytest.mark.parametrize("workers", [1, 2])
def test_tiny_experiment_writes_cells_tables_and_skips_finished_cells(tmp_path, workers):
    out = tmp_path / "res"
    lines = []
    summary = run_experiment(["virus"], ["pemmfirl_em", "mfirl"], 2, out=out, workers=workers,
                             log=lines.append, **TINY)
    assert summary["ran"] == 4 and summary["skipped"] == 0 and not summary["failed"]
    files = sorted(p.name for p in (out / "cells").iterdir())
    assert files == ["virus__mfirl__0.json", "virus__mfirl__1.json",
                     "virus__pemmfirl_em__0.json", "virus__pemmfirl_em__1.json"]
    record = json.loads(cell_path(out, "virus", "pemmfirl_em", 1).read_text())
    assert record["seed"] == 1 and record["fit"]["num_iter"] == 8
    # the grid's n_warmup reaches the methods with a warm-up, and only them
    assert record["fit"]["options"]["n_warmup"] == TINY["n_warmup"]
    mfirl = json.loads(cell_path(out, "virus", "mfirl", 1).read_text())
    assert "n_warmup" not in mfirl["fit"]["options"]
    assert mfirl["fit"]["options"]["max_iter"] == TINY["max_iter"]
    assert set(METRICS) <= set(record["metrics"])
    assert 0 < record["metrics"]["bayes_ari"] <= 1
    assert len(record["metrics"]["per_type"]["policy_deviation"]) == 3
    csv_lines = (out / "results.csv").read_text().splitlines()
    assert csv_lines[0].startswith("game,method,n_seeds,ari_mean,ari_std")
    assert len(csv_lines) == 3
    md = (out / "results.md").read_text()
    assert "| virus | pemmfirl_em | 2 |" in md and "| virus | mfirl | 2 |" in md and "±" in md
    assert any("4 to run" in line for line in lines)
    # MFIRL learns one reward: every agent in context 0
    rows = {r["method"]: r for r in summary["rows"]}
    assert rows["mfirl"]["ari_mean"] == 0.0 and rows["mfirl"]["n_seeds"] == 2

    # a rerun skips every finished cell (files untouched)
    mtimes = {p: p.stat().st_mtime_ns for p in (out / "cells").iterdir()}
    again = run_experiment(["virus"], ["pemmfirl_em", "mfirl"], 2, out=out, workers=workers, **TINY)
    assert again["ran"] == 0 and again["skipped"] == 4
    assert {p: p.stat().st_mtime_ns for p in (out / "cells").iterdir()} == mtimes
    assert again["rows"] == summary["rows"]


def test_gaussian_types_cell(tmp_path):
    """The continuous-type fit runs as a cell: discretised to K = 3 latent centres."""
    out = tmp_path / "res"
    summary = run_experiment(["virus"], ["gaussian_types"], 1, out=out, workers=1, **TINY)
    assert summary["ran"] == 1 and not summary["failed"]
    record = json.loads(cell_path(out, "virus", "gaussian_types", 0).read_text())
    assert record["fit"]["method"] == "gaussian-types" and record["fit"]["num_iter"] == 8
    assert len(record["metrics"]["type_map"]) == 3
    assert record["metrics"]["policy_deviation"] >= 0


def test_half_written_and_stale_cells_are_redone(tmp_path):
    out = tmp_path / "res"
    run_experiment(["virus"], ["mfirl"], 2, out=out, workers=1, **TINY)
    done = cell_path(out, "virus", "mfirl", 0)
    kept = cell_path(out, "virus", "mfirl", 1)
    kept_mtime = kept.stat().st_mtime_ns
    # a killed writer: the stray temporary file, and (worse) a truncated cell
    stray = done.parent / f".{done.name}.abc123.tmp"
    stray.write_text('{"format": "tabmfirl.experiment_cell/1", "met')
    text = done.read_text()
    done.write_text(text[: len(text) // 2])
    lines = []
    summary = run_experiment(["virus"], ["mfirl"], 2, out=out, workers=1, log=lines.append,
                             **TINY)
    assert summary["ran"] == 1 and summary["skipped"] == 1
    assert json.loads(done.read_text())["seed"] == 0          # rewritten whole
    assert kept.stat().st_mtime_ns == kept_mtime
    assert summary["rows"][0]["n_seeds"] == 2                  # the stray file is not a cell
    # changed settings: the old cells are stale and are recomputed
    stale = run_experiment(["virus"], ["mfirl"], 1, out=out, workers=1,
                           **dict(TINY, max_iter=9))
    assert stale["ran"] == 1 and stale["skipped"] == 0


def test_aggregate_mean_and_std():
    cells = [{"game": "g", "method": "m", "metrics": {"ari": a, "policy_deviation": p}}
             for a, p in ((0.5, 1.0), (1.0, None), (0.0, 3.0))]
    (row,) = aggregate(cells)
    assert row["n_seeds"] == 3
    np.testing.assert_allclose(row["ari_mean"], 0.5, rtol=0, atol=1e-15)
    np.testing.assert_allclose(row["ari_std"], 0.5, rtol=0, atol=1e-15)    # ddof=1
    np.testing.assert_allclose(row["policy_deviation_mean"], 2.0, rtol=0, atol=1e-15)
    assert row["nmi_mean"] is None and row["nmi_std"] is None


def test_run_experiment_rejects_bad_grids(tmp_path):
    with pytest.raises(ValueError, match="unknown game"):
        run_experiment(["nope"], ["mfirl"], 1, out=tmp_path)
    with pytest.raises(ValueError, match="unknown method"):
        run_experiment(["virus"], ["nope"], 1, out=tmp_path)
    with pytest.raises(ValueError, match="unknown setting"):
        run_experiment(["virus"], ["mfirl"], 1, out=tmp_path, colour="red")
    with pytest.raises(ValueError, match="empty"):
        run_experiment(["virus"], ["mfirl"], 0, out=tmp_path)


# ---------------------------------------------------------------------------
# Commands.
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demos_file(tmp_path_factory):
    spec = envs.make("virus", types=2, horizon=5)
    eq = solve_equilibrium(spec, temperature=BETA, backend="numpy", **SOLVER)
    path = tmp_path_factory.mktemp("d") / "demos.npz"
    generate_demonstrations(spec, eq.policy, 20, seed=0).save(path)
    held = tmp_path_factory.mktemp("h") / "held.npz"
    generate_demonstrations(spec, eq.policy, 10, seed=1).save(held)
    return path, held


def test_fit_resume_and_evaluate_commands(demos_file, tmp_path, capsys):
    demos, held = demos_file
    run = tmp_path / "run"
    base = ["fit", "--method", "pemmfirl_em", "--demos", str(demos), "--out", str(run),
            "--beta", "0.1", "--warmup", "2", "--checkpoint-every", "3", "--progress-every", "3"]
    assert main(base + ["--iters", "6"]) == 0
    err = capsys.readouterr().err
    assert "iter 3/6" in err and "ARI" in err and "accuracy" in err and "log-lik" in err
    assert sorted(os.listdir(run)) == ["checkpoint.npz", "config.json", "result.npz"]
    assert main(base + ["--iters", "9", "--json"]) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert summary["resumed"] and summary["iterations"] == 9
    assert "resuming" in captured.err
    # the resumed result equals an uninterrupted 9-iteration run
    direct = tmp_path / "direct"
    assert main(["fit", "--method", "pemmfirl_em", "--demos", str(demos), "--out", str(direct),
                 "--beta", "0.1", "--warmup", "2", "--iters", "9", "--json"]) == 0
    capsys.readouterr()
    a, extra = load_result(run / "result.npz")
    b, _ = load_result(direct / "result.npz")
    np.testing.assert_array_equal(a.reward_params, b.reward_params)
    np.testing.assert_array_equal(a.posterior, b.posterior)
    assert extra["method"] == "pemmfirl_em" and extra["temperature"] == 0.1

    assert main(["evaluate", str(run), "--held-out", str(held), "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    for key in ("ari", "return_deviation", "mean_field_deviation", "policy_deviation",
                "transfer_policy_deviation", "held_out_log_likelihood"):
        assert metrics[key] is not None, key
    assert json.loads((run / "metrics.json").read_text())["ari"] == metrics["ari"]
    assert main(["evaluate", str(run)]) == 0
    out = capsys.readouterr().out
    assert "policy deviation" in out and "variant dynamics" in out


def test_fit_and_evaluate_with_the_additive_head(demos_file, tmp_path, capsys):
    demos, held = demos_file
    run = tmp_path / "run"
    assert main(["fit", "--method", "pemmfirl_em", "--demos", str(demos), "--out", str(run),
                 "--beta", "0.1", "--warmup", "2", "--iters", "5", "--reward-kind", "additive",
                 "--json"]) == 0
    capsys.readouterr()
    result, extra = load_result(run / "result.npz")
    assert result.head.kind == "additive" and extra["reward_kind"] == "additive"
    assert main(["evaluate", str(run), "--held-out", str(held), "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["policy_deviation"] >= 0
    # a rerun with another head is refused (it would not resume the same fit)
    assert main(["fit", "--method", "pemmfirl_em", "--demos", str(demos), "--out", str(run),
                 "--beta", "0.1", "--warmup", "2", "--iters", "5"]) == 2
    assert "reward_kind" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["fit", "--method", "nope", "--demos", "{demos}", "--out", "{tmp}/r"], "unknown method"),
    (["fit", "--method", "mfirl", "--demos", "{tmp}/missing.npz", "--out", "{tmp}/r"],
     "no demonstrations file"),
    (["fit", "--method", "mfirl", "--demos", "{tmp}/bad.npz", "--out", "{tmp}/r"],
     "cannot be read"),
    (["fit", "--method", "oracle", "--demos", "{demos}", "--out", "{tmp}/r", "--types", "3"],
     "does not match"),
    (["fit", "--method", "mfirl", "--demos", "{demos}", "--out", "{tmp}/r", "--iters", "0"],
     "--iters"),
    (["evaluate", "{tmp}/nowhere"], "no run folder"),
    (["evaluate", "{tmp}"], "config"),
    (["experiment", "--games", "nope", "--methods", "mfirl", "--seeds", "1"], "unknown game"),
    (["experiment", "--games", "virus", "--methods", "nope", "--seeds", "1"],
     "unknown method"),
])
def test_bad_input_exits_2_with_one_line(demos_file, tmp_path, capsys, argv, message):
    (tmp_path / "bad.npz").write_bytes(b"junk")
    argv = [a.format(demos=demos_file[0], tmp=tmp_path) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err and err.startswith("tabmfirl ")


def test_fit_flag_of_an_option_the_method_does_not_take_is_an_error(demos_file, tmp_path,
                                                                   capsys):
    """``--warmup`` is PEMMFIRL's: given to mfirl it is refused (exit 2, one line naming the
    flag, the option and the method) before anything is written, not silently dropped."""
    demos, _ = demos_file
    run = tmp_path / "r"
    base = ["fit", "--method", "mfirl", "--demos", str(demos), "--out", str(run),
            "--beta", "0.1", "--iters", "2"]
    assert main(base + ["--warmup", "5"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("tabmfirl fit: error: --warmup: fit method 'mfirl' does not take the "
                   "option 'n_warmup'")
    assert not run.exists()
    # left out, it is not passed: the config records no warm-up for mfirl
    assert main(base + ["--json"]) == 0
    capsys.readouterr()
    config = json.loads((run / "config.json").read_text())
    assert config["format"] == FIT_RUN_FORMAT and config["n_warmup"] is None
    assert config["max_iter"] == 2 and config["learning_rate"] == 0.02
    pemmfirl_em = tmp_path / "p"
    assert main(["fit", "--method", "pemmfirl_em", "--demos", str(demos), "--out", str(pemmfirl_em),
                 "--beta", "0.1", "--iters", "1", "--json"]) == 0
    assert json.loads((pemmfirl_em / "config.json").read_text())["n_warmup"] == 50  # the default


def test_run_folder_layout_and_resume_rule(tmp_path):
    folder = RunFolder(tmp_path / "run")
    assert [p.name for p in (folder.config_path, folder.checkpoint_path, folder.result_path,
                             folder.metrics_path)] == ["config.json", "checkpoint.npz",
                                                       "result.npz", "metrics.json"]
    config = {"method": "mfirl", "temperature": 0.1, "max_iter": 5, "checkpoint_every": 2}
    assert folder.read_config() is None and folder.conflicts(config) == []
    assert folder.start(config) is False                      # no checkpoint: a fresh start
    assert folder.read_config() == {"format": FIT_RUN_FORMAT, **config}
    other = dict(config, temperature=0.2, max_iter=9, checkpoint_every=3)
    assert folder.conflicts(other) == []                      # nothing to resume yet
    folder.checkpoint_path.write_bytes(b"state")
    assert folder.conflicts(other) == ["temperature"]         # max_iter may grow
    assert folder.conflicts(dict(config, max_iter=9)) == []
    assert folder.start(dict(config, max_iter=9)) is True       # resumes
    assert changed_settings({"a": 1, "b": 2}, {"a": 1, "b": 3, "c": 4}, ignore=("c",)) == ["b"]
    folder.config_path.write_text('{"format": "something else"}')
    assert folder.read_config() is None and folder.conflicts(other) == []


def test_changed_settings_refuse_to_resume(demos_file, tmp_path, capsys):
    demos, _ = demos_file
    base = ["fit", "--method", "mfirl", "--demos", str(demos), "--out", str(tmp_path / "r"),
            "--iters", "2"]
    assert main(base + ["--beta", "0.1"]) == 0
    assert main(base + ["--beta", "0.2"]) == 2
    assert "different settings (temperature)" in capsys.readouterr().err


def test_experiment_command(tmp_path, capsys):
    out = tmp_path / "res"
    argv = ["experiment", "--games", "virus", "--methods", "oracle,pemmfirl_em_no_mi",
            "--seeds", "1", "--agents", "10", "--horizon", "4", "--iters", "3", "--warmup", "1",
            "--held-out-agents", "0", "--workers", "1", "--out", str(out)]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "| virus | oracle | 1 |" in captured.out and "2 cells run" in captured.out
    assert "[2/2]" in captured.err
    assert main(argv + ["--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["ran"] == 0 and summary["skipped"] == 2
    rows = {r["method"]: r for r in summary["rows"]}
    assert rows["oracle"]["ari_mean"] == 1.0 and rows["pemmfirl_em_no_mi"]["ari_mean"] == 0.0


def test_help_has_examples():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name in ("fit", "evaluate", "experiment"):
        text = sub.choices[name].format_help()
        assert "examples:" in text and f"tabmfirl {name}" in text
