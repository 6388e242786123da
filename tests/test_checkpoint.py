"""Tests of tabmfirl.irl._checkpoint: resumable exact fits and result files.

Small settings (virus, 3 types, T = 8, 40 agents per type, beta = 0.1, as in
tests/test_irl.py's determinism test) keep each fit well under a second.
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

from tabmfirl import Adam, envs, solve_equilibrium
from tabmfirl._io import atomic_write_json, read_json
from tabmfirl.irl._checkpoint import (
    load_checkpoint,
    load_result,
    optimizer_state,
    restore_optimizer,
    save_checkpoint,
    save_result,
)
from tabmfirl.irl._demos import generate_demonstrations
from tabmfirl.irl._em import fit_mfirl, fit_oracle, fit_pemmfirl_em

BETA = 0.1
FIT = {"temperature": BETA, "n_warmup": 5, "learning_rate": 0.02, "backend": "numpy",
       "warn": False, "seed": 3}
SOLVER = {"method": "fixed_point", "damping": 0.3, "max_iter": 3000}


@pytest.fixture(scope="module")
def game():
    spec = envs.make("virus", types=3, horizon=8)
    eq = solve_equilibrium(spec, temperature=BETA, backend="numpy", **SOLVER)
    demos = generate_demonstrations(spec, eq.policy, 40, seed=0)
    return spec, demos


def _assert_same(a, b):
    for name in ("reward_params", "posterior", "assignments", "prior", "mean_field", "reward",
                 "policy", "objective_history", "log_likelihood_history", "grad_norm_history"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert a.num_iter == b.num_iter and a.converged == b.converged


FITS = {
    "pemmfirl_em": lambda spec, demos, **kw: fit_pemmfirl_em(spec, demos, 3, **kw),
    "mfirl": lambda spec, demos, **kw: fit_mfirl(spec, demos, **{k: v for k, v in kw.items()
                                                                  if k != "n_warmup"}),
    "oracle": lambda spec, demos, **kw: fit_oracle(spec, demos, **{k: v for k, v in kw.items()
                                                                    if k != "n_warmup"}),
}


@pytest.mark.parametrize("method", sorted(FITS))
def test_resumed_run_is_bit_identical(game, tmp_path, method):
    spec, demos = game
    fit = FITS[method]
    full = fit(spec, demos, max_iter=25, **FIT)
    path = tmp_path / "ck.npz"
    # "killed" after 12 iterations (checkpoints at 5, 10 and the last, 12) ...
    part = fit(spec, demos, max_iter=12, checkpoint=path, checkpoint_every=5, **FIT)
    assert part.num_iter == 12 and path.exists()
    # ... resumed to the full length
    resumed = fit(spec, demos, max_iter=25, checkpoint=path, checkpoint_every=5, **FIT)
    _assert_same(full, resumed)
    # a finished checkpoint is returned as it is
    again = fit(spec, demos, max_iter=25, checkpoint=path, checkpoint_every=5, **FIT)
    _assert_same(full, again)
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_resume_from_an_intermediate_checkpoint(game, tmp_path):
    """Resuming from a periodic (not final) checkpoint also continues exactly."""
    spec, demos = game
    full = fit_pemmfirl_em(spec, demos, 3, max_iter=20, **FIT)
    path = tmp_path / "ck.npz"
    seen = []

    def stop_at_13(iteration, info):
        seen.append(iteration)
        if iteration == 13:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fit_pemmfirl_em(spec, demos, 3, max_iter=20, checkpoint=path, checkpoint_every=4,
                     callback=stop_at_13, **FIT)
    assert seen == list(range(14))
    state = load_checkpoint(path, _config_of(path))
    assert state["scalars"]["iteration"] == 12          # the last periodic write
    resumed = fit_pemmfirl_em(spec, demos, 3, max_iter=20, checkpoint=path, checkpoint_every=4,
                           **FIT)
    _assert_same(full, resumed)


def _config_of(path):
    with np.load(path, allow_pickle=False) as data:
        return json.loads(str(data["meta"]))["config"]


def test_mismatched_checkpoint_is_refused(game, tmp_path):
    spec, demos = game
    path = tmp_path / "ck.npz"
    fit_pemmfirl_em(spec, demos, 3, max_iter=3, checkpoint=path, **FIT)
    with pytest.raises(ValueError, match="different configuration.*learning_rate"):
        fit_pemmfirl_em(spec, demos, 3, max_iter=5, checkpoint=path,
                     **dict(FIT, learning_rate=0.05))
    with pytest.raises(ValueError, match="n_contexts"):
        fit_pemmfirl_em(spec, demos, 2, max_iter=5, checkpoint=path, **FIT)
    other = generate_demonstrations(spec, np.full((3, 8, 2, 2), 0.5), 40, seed=1)
    with pytest.raises(ValueError, match="data_digest"):
        fit_pemmfirl_em(spec, other, 3, max_iter=5, checkpoint=path, **FIT)
    with pytest.raises(ValueError, match="method"):
        fit_mfirl(spec, demos, max_iter=5, checkpoint=path,
                  **{k: v for k, v in FIT.items() if k != "n_warmup"})
    path.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="cannot be read"):
        fit_pemmfirl_em(spec, demos, 3, max_iter=5, checkpoint=path, **FIT)
    with pytest.raises(ValueError, match="checkpoint_every"):
        fit_pemmfirl_em(spec, demos, 3, max_iter=5, checkpoint=tmp_path / "x.npz",
                     checkpoint_every=0, **FIT)


_CHILD = textwrap.dedent("""
    import sys, time
    import numpy as np
    from tabmfirl import envs, solve_equilibrium
    from tabmfirl.irl._demos import generate_demonstrations
    from tabmfirl.irl._em import fit_pemmfirl_em

    spec = envs.make("virus", types=3, horizon=8)
    eq = solve_equilibrium(spec, temperature=0.1, backend="numpy", method="fixed_point",
                           damping=0.3, max_iter=3000)
    demos = generate_demonstrations(spec, eq.policy, 40, seed=0)
    slow = lambda iteration, info: time.sleep(0.05)
    fit_pemmfirl_em(spec, demos, 3, max_iter=400, checkpoint=sys.argv[1], checkpoint_every=3,
                 callback=slow, temperature=0.1, n_warmup=5, learning_rate=0.02,
                 backend="numpy", warn=False, seed=3)
""")


def test_sigkill_then_resume(game, tmp_path):
    """A real kill (SIGKILL) after the first checkpoint, then a resume in this process."""
    spec, demos = game
    path = tmp_path / "ck.npz"
    script = tmp_path / "child.py"
    script.write_text(_CHILD)
    child = subprocess.Popen([sys.executable, str(script), str(path)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not path.exists():
            assert child.poll() is None, child.stderr.read().decode()
            assert time.monotonic() < deadline, "no checkpoint within 60 s"
            time.sleep(0.02)
        time.sleep(0.2)
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait()
        child.stderr.close()
    assert child.returncode == -signal.SIGKILL
    done = load_checkpoint(path, _config_of(path))["scalars"]["iteration"]
    assert 3 <= done < 400
    max_iter = done + 10
    resumed = fit_pemmfirl_em(spec, demos, 3, max_iter=max_iter, checkpoint=path, checkpoint_every=3,
                           **FIT)
    full = fit_pemmfirl_em(spec, demos, 3, max_iter=max_iter, **FIT)
    _assert_same(full, resumed)


def test_checkpoint_round_trip_and_rng_state(tmp_path):
    rng = np.random.default_rng(123)
    rng.random(7)
    optimiser = Adam(lr=0.1)
    theta = np.zeros(3)
    for g in ([1.0, -2.0, 0.5], [0.3, 0.1, -0.2]):
        optimiser.step(theta, np.array(g))
    config = {"a": 1, "b": [1, 2], "c": {"d": "x"}}
    path = tmp_path / "ck.npz"
    save_checkpoint(path, {"theta": theta, **optimizer_state(optimiser)}, config=config,
                    scalars={"iteration": 2, "change": float("inf")}, rng=rng)
    state = load_checkpoint(path, {"c": {"d": "x"}, "b": [1, 2], "a": 1})   # key order free
    assert state["scalars"] == {"iteration": 2, "change": float("inf")}
    restored = np.random.default_rng(0)
    restored.bit_generator.state = state["rng_state"]
    np.testing.assert_array_equal(restored.random(5), rng.random(5))
    # the restored optimiser takes the same next step
    other = Adam(lr=0.1)
    restore_optimizer(other, state)
    theta2 = state["theta"].copy()
    optimiser.step(theta, np.array([0.7, 0.7, -1.0]))
    other.step(theta2, np.array([0.7, 0.7, -1.0]))
    np.testing.assert_array_equal(theta, theta2)
    with pytest.raises(ValueError, match=r"differs in: c\.d"):
        load_checkpoint(path, {"a": 1, "b": [1, 2], "c": {"d": "y"}})
    assert load_checkpoint(tmp_path / "missing.npz", config) is None
    with pytest.raises(ValueError, match="reserved"):
        save_checkpoint(path, {"meta": np.zeros(1)}, config=config, scalars={})


def test_result_file_round_trip(game, tmp_path):
    spec, demos = game
    for result in (fit_pemmfirl_em(spec, demos, 3, max_iter=4, **FIT),
                   fit_pemmfirl_em(spec, demos, 2, max_iter=4, reward_kind="mlp", hidden_sizes=(4,),
                                **FIT)):
        path = save_result(tmp_path / "r.npz", result, extra={"game": "virus"})
        loaded, extra = load_result(path)
        assert extra == {"game": "virus"}
        _assert_same(result, loaded)
        np.testing.assert_array_equal(loaded.head.get_flat(), result.head.get_flat())
        np.testing.assert_array_equal(loaded.head.reward_tables(result.mean_field[:, :8]),
                                      result.head.reward_tables(result.mean_field[:, :8]))
    with pytest.raises(FileNotFoundError):
        load_result(tmp_path / "none.npz")
    (tmp_path / "bad.npz").write_bytes(b"junk")
    with pytest.raises(ValueError, match="cannot be read"):
        load_result(tmp_path / "bad.npz")


def test_atomic_json(tmp_path):
    path = tmp_path / "x.json"
    atomic_write_json(path, {"a": [1, 2.5], "b": None})
    assert read_json(path) == {"a": [1, 2.5], "b": None}
    path.write_text('{"a": [1, ')             # truncated
    assert read_json(path) is None
    assert read_json(tmp_path / "missing.json") is None
