"""Resumable adversarial fits (tabmfirl.irl._adversarial with ``checkpoint=``).

The adversarial loop carries more state than the exact one (three Adam
optimisers, the encoder, a generator drawn from every iteration for the
sampled types and the rollouts), so a resume is checked bit for bit against
an uninterrupted run: every array of the result, the learned shaping and
encoder, and the MI history.  A tiny game (virus, 2 types, T = 5, 15 agents
per type, 15 sampler agents, 10 iterations) keeps each fit well under a
second.
"""
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from tabmfirl import envs, fit_pemmfirl_em, solve_equilibrium
from tabmfirl.irl import _adversarial
from tabmfirl.irl._adversarial import fit_mf_airl, fit_pemirl, fit_pemmfirl
from tabmfirl.irl._checkpoint import load_checkpoint, save_checkpoint
from tabmfirl.irl._demos import generate_demonstrations

BETA = 0.2
HORIZON = 5
FIT = {"temperature": BETA, "n_sampler_agents": 15, "backend": "numpy", "warn": False,
       "seed": 4}
TYPED = {"n_pretrain": 5, "learning_rate": 0.05}


@pytest.fixture(scope="module")
def game():
    spec = envs.make("virus", types=2, horizon=HORIZON)
    eq = solve_equilibrium(spec, temperature=BETA, backend="numpy", method="fixed_point",
                           damping=0.3, max_iter=3000)
    return spec, generate_demonstrations(spec, eq.policy, 15, seed=0)


FITS = {
    "pemmfirl_em": lambda spec, demos, **kw: fit_pemmfirl(
        spec, demos, 2, **TYPED, **kw),
    "pemmfirl-adversarial-expected": lambda spec, demos, **kw: fit_pemmfirl(
        spec, demos, 2, shaping="expected", n_encoder_steps=2, **TYPED, **kw),
    "pemirl": lambda spec, demos, **kw: fit_pemirl(spec, demos, 2, **TYPED, **kw),
    "mf-airl": lambda spec, demos, **kw: fit_mf_airl(spec, demos, **kw),
    "mf-airl-mlp": lambda spec, demos, **kw: fit_mf_airl(spec, demos, reward_kind="mlp",
                                                         hidden_sizes=(4,), **kw),
}


def _shaping(result):
    return result.shaping if isinstance(result.shaping, np.ndarray) else result.shaping.get_flat()


def _assert_same(a, b):
    for name in ("reward_params", "posterior", "assignments", "prior", "mean_field", "reward",
                 "policy", "objective_history", "log_likelihood_history", "grad_norm_history",
                 "mi_history"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    np.testing.assert_array_equal(_shaping(a), _shaping(b), err_msg="shaping")
    assert (a.encoder is None) == (b.encoder is None)
    if a.encoder is not None:
        np.testing.assert_array_equal(a.encoder.get_flat(), b.encoder.get_flat(),
                                      err_msg="encoder")
    assert a.num_iter == b.num_iter and a.converged == b.converged and a.method == b.method


def _contents(path):
    """Arrays and metadata of the checkpoint at ``path``, read without its configuration."""
    with np.load(path, allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    return arrays, json.loads(str(arrays.pop("meta")))


def _no_iteration(monkeypatch):
    """Make the encoder's pre-training and any iteration (each rolls out the sampler) fail."""
    def refuse(*args, **kwargs):
        raise AssertionError("pre-training or an iteration ran")
    monkeypatch.setattr(_adversarial, "rollout_sampler", refuse)
    monkeypatch.setattr(_adversarial, "_pretrain_encoder", refuse)


@pytest.mark.parametrize("method", sorted(FITS))
def test_resumed_run_is_bit_identical(game, tmp_path, monkeypatch, method):
    spec, demos = game
    fit = FITS[method]
    full = fit(spec, demos, max_iter=10, **FIT)
    path = tmp_path / "ck.npz"
    # stopped after 5 iterations (checkpoints at 2, 4 and the last, 5) ...
    part = fit(spec, demos, max_iter=5, checkpoint=path, checkpoint_every=2, **FIT)
    assert part.num_iter == 5 and path.exists()
    np.testing.assert_array_equal(part.objective_history, full.objective_history[:5])
    # ... resumed to the full length
    resumed = fit(spec, demos, max_iter=10, checkpoint=path, checkpoint_every=2, **FIT)
    _assert_same(full, resumed)
    # a finished checkpoint is returned as it is, without pre-training or iterating
    with monkeypatch.context() as patch:
        _no_iteration(patch)
        again = fit(spec, demos, max_iter=10, checkpoint=path, checkpoint_every=2, **FIT)
    _assert_same(full, again)
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_checkpoint_holds_the_loop_state(game, tmp_path):
    spec, demos = game
    path = tmp_path / "ck.npz"
    fit_pemmfirl(spec, demos, 2, max_iter=3, checkpoint=path, checkpoint_every=2,
                             **TYPED, **FIT)
    state, meta = _contents(path)
    assert load_checkpoint(path, meta["config"]) is not None
    assert meta["scalars"] == {"iteration": 3, "stopped": False} and meta["rng_state"] is not None
    for name in ("reward", "shaping", "encoder"):
        assert int(state[f"{name}_opt_n_steps"]) == 3
        assert state[f"{name}_opt_m"].shape == state[f"{name}_opt_v"].shape
    assert state["encoder_params"].shape == state["encoder_opt_m"].shape
    for name in ("objective_history", "log_likelihood_history", "grad_norm_history",
                 "mi_history"):
        assert state[name].shape == (3,)


def test_resume_from_an_intermediate_checkpoint(game, tmp_path, monkeypatch):
    """Interrupted during iteration 8: the periodic checkpoint of iteration 6 resumes exactly."""
    spec, demos = game
    full = fit_pemmfirl(spec, demos, 2, max_iter=10, **TYPED, **FIT)
    path = tmp_path / "ck.npz"
    calls = []
    rollout = _adversarial.rollout_sampler

    def interrupt_8th(*args, **kwargs):
        calls.append(1)
        if len(calls) == 8:
            raise KeyboardInterrupt
        return rollout(*args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(_adversarial, "rollout_sampler", interrupt_8th)
        with pytest.raises(KeyboardInterrupt):
            fit_pemmfirl(spec, demos, 2, max_iter=10, checkpoint=path,
                                     checkpoint_every=3, **TYPED, **FIT)
    assert _contents(path)[1]["scalars"]["iteration"] == 6
    resumed = fit_pemmfirl(spec, demos, 2, max_iter=10, checkpoint=path,
                                       checkpoint_every=3, **TYPED, **FIT)
    _assert_same(full, resumed)


def test_mismatched_checkpoint_is_refused(game, tmp_path):
    spec, demos = game
    path = tmp_path / "ck.npz"
    fit_pemmfirl(spec, demos, 2, max_iter=2, checkpoint=path, **TYPED, **FIT)
    before = path.read_bytes()

    def resume(fit=fit_pemmfirl, *args, **changes):
        kw = dict(TYPED, **FIT)
        kw.update(changes)
        return fit(spec, demos, *args, max_iter=4, checkpoint=path, **kw)

    with pytest.raises(ValueError, match="different configuration.*learning_rate"):
        resume(fit_pemmfirl, 2, learning_rate=0.01)
    for change, key in (({"weight_decay": 0.1}, "weight_decay"),
                        ({"shaping": "expected"}, "shaping"),
                        ({"n_sampler_agents": 16}, "n_sampler_agents"),
                        ({"encoder_learning_rate": 0.1}, "encoder_learning_rate"),
                        ({"n_encoder_steps": 2}, "n_encoder_steps"),
                        ({"n_pretrain": 6}, "n_pretrain"), ({"init": "random"}, "init"),
                        ({"mi_weight": 0.5}, "mi_weight"), ({"tol": 0.1}, "tol"),
                        ({"seed": 5}, "seed")):
        with pytest.raises(ValueError, match=f"differs in: .*{key}"):
            resume(fit_pemmfirl, 2, **change)
    with pytest.raises(ValueError, match="n_contexts"):
        resume(fit_pemmfirl, 3)
    with pytest.raises(ValueError, match="method"):
        resume(fit_pemirl, 2)
    with pytest.raises(ValueError, match="method"):
        fit_mf_airl(spec, demos, max_iter=4, checkpoint=path, **FIT)
    other = generate_demonstrations(spec, np.full((2, HORIZON, 2, 2), 0.5), 15, seed=1)
    with pytest.raises(ValueError, match="data_digest"):
        fit_pemmfirl(spec, other, 2, max_iter=4, checkpoint=path, **TYPED, **FIT)
    assert path.read_bytes() == before               # a refused resume writes nothing
    # an exact-mode checkpoint is not an adversarial one (and vice versa)
    exact = tmp_path / "exact.npz"
    fit_pemmfirl_em(spec, demos, 2, max_iter=2, checkpoint=exact, temperature=BETA,
                 backend="numpy", warn=False)
    with pytest.raises(ValueError, match="different configuration"):
        fit_pemmfirl(spec, demos, 2, max_iter=4, checkpoint=exact, **TYPED, **FIT)
    arrays, meta = _contents(path)                  # a damaged (incomplete) checkpoint
    del arrays["encoder_params"]
    save_checkpoint(path, arrays, config=meta["config"], scalars=meta["scalars"])
    with pytest.raises(ValueError, match="no array 'encoder_params'"):
        resume(fit_pemmfirl, 2)
    path.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="cannot be read"):
        resume(fit_pemmfirl, 2)
    with pytest.raises(ValueError, match="checkpoint_every"):
        fit_mf_airl(spec, demos, max_iter=4, checkpoint=tmp_path / "x.npz", checkpoint_every=0,
                    **FIT)


_CHILD = textwrap.dedent("""
    import sys, time
    from tabmfirl import envs, solve_equilibrium
    from tabmfirl.irl import _adversarial
    from tabmfirl.irl._demos import generate_demonstrations

    spec = envs.make("virus", types=2, horizon=5)
    eq = solve_equilibrium(spec, temperature=0.2, backend="numpy", method="fixed_point",
                           damping=0.3, max_iter=3000)
    demos = generate_demonstrations(spec, eq.policy, 15, seed=0)
    rollout = _adversarial.rollout_sampler

    def slow(*args, **kwargs):
        time.sleep(0.03)
        return rollout(*args, **kwargs)

    _adversarial.rollout_sampler = slow
    _adversarial.fit_pemmfirl(spec, demos, 2, max_iter=2000, checkpoint=sys.argv[1],
                                   checkpoint_every=3, n_pretrain=5, learning_rate=0.05,
                                   temperature=0.2, n_sampler_agents=15, backend="numpy",
                                   warn=False, seed=4)
""")


def _kill_after_first_checkpoint(script, path, timeout=60.0):
    """Run ``python script path``; SIGKILL it 0.2 s after ``path`` appears; its exit code."""
    child = subprocess.Popen([sys.executable, str(script), str(path)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout
    while not path.exists() and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    if path.exists():
        time.sleep(0.2)
    child.send_signal(signal.SIGKILL)               # no-op if it already exited
    stderr = child.communicate()[1].decode()
    assert path.exists(), stderr or f"no checkpoint within {timeout} s"
    return child.returncode


def test_sigkill_then_resume(game, tmp_path):
    """A real kill (SIGKILL) after the first checkpoint, then a resume in this process."""
    spec, demos = game
    path = tmp_path / "ck.npz"
    script = tmp_path / "child.py"
    script.write_text(_CHILD)
    assert _kill_after_first_checkpoint(script, path) == -signal.SIGKILL
    done = _contents(path)[1]["scalars"]["iteration"]
    assert 3 <= done < 2000 and done % 3 == 0
    max_iter = done + 4
    resumed = fit_pemmfirl(spec, demos, 2, max_iter=max_iter, checkpoint=path,
                                       checkpoint_every=3, **TYPED, **FIT)
    full = fit_pemmfirl(spec, demos, 2, max_iter=max_iter, **TYPED, **FIT)
    _assert_same(full, resumed)


def test_cli_fit_resumes_an_adversarial_run(tmp_path, capsys):
    """``tabmfirl fit --method mf_airl`` writes a checkpoint and resumes from it exactly."""
    from tabmfirl.apps._fit_methods import FIT_METHODS
    from tabmfirl.apps.cli import main
    from tabmfirl.irl._checkpoint import load_result

    for name in ("pemmfirl", "pemirl", "mf_airl"):
        assert FIT_METHODS[name].takes("checkpoint") and FIT_METHODS[name].takes(
            "checkpoint_every")
    demos = str(tmp_path / "demos.npz")
    assert main(["demos", "--game", "virus", "--types", "2", "--agents", "10", "--out", demos,
                 "--seed", "1", "--backend", "numpy"]) == 0
    fit = ["fit", "--method", "mf_airl", "--demos", demos, "--backend", "numpy",
           "--checkpoint-every", "2", "--json"]
    assert main(fit + ["--out", str(tmp_path / "run"), "--iters", "3"]) == 0
    assert (tmp_path / "run" / "checkpoint.npz").exists()
    capsys.readouterr()
    assert main(fit + ["--out", str(tmp_path / "run"), "--iters", "5"]) == 0
    assert "resuming from" in capsys.readouterr().err
    assert main(fit + ["--out", str(tmp_path / "full"), "--iters", "5"]) == 0
    resumed = load_result(tmp_path / "run" / "result.npz")[0]
    full = load_result(tmp_path / "full" / "result.npz")[0]
    for name in ("reward_params", "reward", "policy", "objective_history",
                 "log_likelihood_history", "grad_norm_history"):
        np.testing.assert_array_equal(getattr(resumed, name), getattr(full, name), err_msg=name)


@pytest.mark.parametrize("method", ["pemmfirl_em", "mf-airl"])
def test_callback_reports_each_iteration(game, tmp_path, method):
    """``callback(iteration, info)``: the histories' entries and the posterior of that iteration."""
    spec, demos = game
    fit = FITS[method]
    seen = []

    def record(iteration, info):
        seen.append((iteration, dict(info, posterior=info["posterior"].copy())))

    full = fit(spec, demos, max_iter=6, callback=record, **FIT)
    assert [i for i, _ in seen] == list(range(6))
    K = 2 if method == "pemmfirl_em" else 1
    for i, info in seen:
        assert sorted(info) == ["grad_norm", "log_likelihood", "loss", "mi", "objective",
                                "posterior"]
        assert info["objective"] == info["loss"] == full.objective_history[i]
        assert info["log_likelihood"] == full.log_likelihood_history[i]
        assert info["grad_norm"] == full.grad_norm_history[i]
        assert info["mi"] == full.mi_history[i]
        assert info["posterior"].shape == (30, K)
        np.testing.assert_allclose(info["posterior"].sum(axis=1), 1.0, rtol=0, atol=1e-12)
    if K == 2:
        assert all(np.isfinite(info["mi"]) and info["mi"] < 0 for _, info in seen)
        # the encoder trains: the posterior of the last iteration is not the first one's
        assert not np.array_equal(seen[0][1]["posterior"], seen[-1][1]["posterior"])
    # a resumed run reports only the iterations it computes, after their checkpoint
    path = tmp_path / "ck.npz"
    fit(spec, demos, max_iter=4, checkpoint=path, checkpoint_every=2, **FIT)
    later = []

    def after_checkpoint(iteration, info):
        later.append((iteration, _contents(path)[1]["scalars"]["iteration"]))

    resumed = fit(spec, demos, max_iter=6, checkpoint=path, checkpoint_every=2,
                  callback=after_checkpoint, **FIT)
    assert later == [(4, 4), (5, 6)]
    _assert_same(full, resumed)
