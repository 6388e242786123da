"""Progress lines of ``tabmfirl fit`` (stderr) for every kind of fit.

Each fit reports through its ``callback(iteration, info)``; the CLI prints
``iter i/n  loss ...`` with the log-likelihood, MI, gradient norm and the
ARI / accuracy of the current types against the file's true types when the
fit gives them.  The exact fits report a log-likelihood to maximise (loss =
its negative) and the information their posterior carries about the type
(``_irl.posterior_information``), the adversarial fits a discriminator loss (printed as it is),
the Gaussian fit the MI bound's variational term and continuous posterior
means (typed by their k-means clusters, as its discretised result).  A tiny
game (virus, 2 types, T = 5, 15 agents per type, 4 iterations) keeps each run
well under a second.
"""
import json
import re

import numpy as np
import pytest

from tabmfirl import envs, solve_equilibrium
from tabmfirl.apps._fit_methods import FIT_METHODS, register_fit_method
from tabmfirl.apps.cli import main
from tabmfirl.irl._checkpoint import load_result
from tabmfirl.irl._demos import generate_demonstrations

BETA = 0.2


@pytest.fixture(scope="module")
def demos_file(tmp_path_factory):
    spec = envs.make("virus", types=2, horizon=5)
    eq = solve_equilibrium(spec, temperature=BETA, backend="numpy", method="fixed_point",
                           damping=0.3, max_iter=3000)
    path = tmp_path_factory.mktemp("demos") / "demos.npz"
    generate_demonstrations(spec, eq.policy, 15, seed=0).save(path)
    return str(path)


def _fit(demos, out, method, *extra):
    # --warmup only for the methods with a warm-up: for the others it is an error
    warmup = ["--warmup", "1"] if FIT_METHODS[method].takes("n_warmup") else []
    return main(["fit", "--method", method, "--demos", demos, "--out", str(out),
                 "--beta", str(BETA), "--iters", "4", *warmup, "--backend", "numpy",
                 "--checkpoint-every", "2", "--json", *extra])


def _progress(err):
    return [line for line in err.splitlines() if line.startswith("iter ")]


def _field(line, name):
    return float(re.search(rf"(?:^|  ){re.escape(name)} (\S+)", line).group(1))


# method -> (fields that must be shown, fields that must not, sign of loss vs objective)
EXPECTED = {
    "pemmfirl_em": (["loss", "log-lik", "MI", "grad", "ARI", "accuracy"], [], -1.0),
    "mfirl": (["loss", "log-lik", "grad"], ["MI", "ARI"], -1.0),
    "oracle": (["loss", "log-lik", "MI", "ARI", "accuracy"], [], -1.0),
    "pemmfirl": (["loss", "log-lik", "MI", "grad", "ARI", "accuracy"], [], 1.0),
    "pemirl": (["loss", "log-lik", "MI", "ARI", "accuracy"], [], 1.0),
    "mf_airl": (["loss", "log-lik", "grad"], ["MI", "ARI"], 1.0),
    "gaussian_types": (["loss", "MI", "grad", "ARI", "accuracy"], ["log-lik"], -1.0),
}


@pytest.mark.parametrize("method", sorted(EXPECTED))
def test_progress_lines(demos_file, tmp_path, capsys, method):
    shown, hidden, sign = EXPECTED[method]
    assert _fit(demos_file, tmp_path / "run", method, "--progress-every", "2") == 0
    captured = capsys.readouterr()
    lines = _progress(captured.err)
    assert [line.split()[1] for line in lines] == ["2/4", "4/4"], captured.err
    for line in lines:
        for name in shown:
            assert np.isfinite(_field(line, name)), (name, line)
        for name in hidden:
            assert f"  {name} " not in line, (name, line)
        if "MI" in shown:
            assert "MI" in line
    summary = json.loads(captured.out)
    result = load_result(tmp_path / "run" / "result.npz")[0]
    # the last line is the last iterate of the saved result
    np.testing.assert_allclose(_field(lines[-1], "loss"), sign * result.objective_history[-1],
                               rtol=0, atol=5e-5)
    if "log-lik" in shown:
        np.testing.assert_allclose(_field(lines[-1], "log-lik"),
                                   result.log_likelihood_history[-1], rtol=0, atol=5e-5)
    if method in ("pemmfirl_em", "oracle"):        # the posterior after the last update
        np.testing.assert_allclose(_field(lines[-1], "ARI"), summary["ari"], rtol=0,
                                   atol=5e-4)
    for name in ("ARI", "accuracy"):
        if name in shown:
            assert all(-1.0 <= _field(line, name) <= 1.0 for line in lines)


def test_progress_every_iteration_and_none(demos_file, tmp_path, capsys):
    assert _fit(demos_file, tmp_path / "a", "gaussian_types", "--progress-every", "1") == 0
    lines = _progress(capsys.readouterr().err)
    assert [line.split()[1] for line in lines] == ["1/4", "2/4", "3/4", "4/4"]
    assert _fit(demos_file, tmp_path / "b", "pemmfirl", "--progress-every",
                "0") == 0
    assert _progress(capsys.readouterr().err) == []
    # the iteration count of a line that is not a multiple: the last one is always shown
    assert _fit(demos_file, tmp_path / "c", "mf_airl", "--progress-every", "3") == 0
    assert [line.split()[1] for line in _progress(capsys.readouterr().err)] == ["3/4", "4/4"]


def test_gaussian_cli_run_resumes(demos_file, tmp_path, capsys):
    """``tabmfirl fit --method gaussian_types``: stopped at 2 of 4, resumed, equals 4."""
    assert FIT_METHODS["gaussian_types"].takes("checkpoint")
    run = tmp_path / "run"
    assert _fit(demos_file, run, "gaussian_types", "--progress-every", "1",
                "--iters", "2") == 0
    assert (run / "checkpoint.npz").exists()
    capsys.readouterr()
    assert _fit(demos_file, run, "gaussian_types", "--progress-every", "1") == 0
    err = capsys.readouterr().err
    assert "resuming from" in err
    assert [line.split()[1] for line in _progress(err)] == ["3/4", "4/4"]
    assert _fit(demos_file, tmp_path / "full", "gaussian_types") == 0
    resumed = load_result(run / "result.npz")[0]
    full = load_result(tmp_path / "full" / "result.npz")[0]
    for name in ("reward_params", "posterior", "reward", "policy", "objective_history",
                 "grad_norm_history"):
        np.testing.assert_array_equal(getattr(resumed, name), getattr(full, name),
                                      err_msg=name)


def test_progress_of_a_method_with_few_keys(demos_file, tmp_path, capsys, monkeypatch):
    """A registered method whose callback gives only some keys still prints a line."""
    from tabmfirl import fit_pemmfirl_em

    def sparse(spec, demos, n_contexts, *, callback=None, **options):
        def forward(iteration, info):
            callback(iteration, {} if iteration == 0 else {"objective": info["objective"]})
        return fit_pemmfirl_em(spec, demos, n_contexts, callback=forward, **options)

    monkeypatch.setitem(FIT_METHODS, "pemmfirl_em", FIT_METHODS["pemmfirl_em"])   # restored afterwards
    register_fit_method("pemmfirl_em", sparse)
    assert _fit(demos_file, tmp_path / "run", "pemmfirl_em", "--progress-every", "1") == 0
    lines = _progress(capsys.readouterr().err)
    assert lines[0] == "iter 1/4"
    assert all(re.fullmatch(r"iter \d/4  loss -?\d+\.\d{4}", line) for line in lines[1:])
