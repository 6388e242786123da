"""The fit driver (tabmfirl.irl._driver): the loop every fit runs through.

A toy method (gradient descent on a quadratic, optionally with a random step
drawn from the fit's generator) exercises what the driver owns - the stopping
rule, the update that is skipped on stopping, checkpoints and their cadence,
resumes, the callback, the warning - apart from any IRL mathematics.  The
SIGKILL test at the end runs every real fit through a killed child process.
"""
import json
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from tabmfirl import ConvergenceWarning, envs, solve_equilibrium
from tabmfirl.irl._checkpoint import LoopState, load_checkpoint
from tabmfirl.irl._demos import generate_demonstrations
from tabmfirl.irl._driver import FitMethod, FitOptions, l2_penalty, run_fit
from tabmfirl.irl._nn import SGD


class Quadratic(FitMethod):
    """Minimise ``|x - target|^2 / 2`` by SGD; ``noise`` adds a draw from the fit's rng."""

    name = "quadratic"

    def __init__(self, target, lr=0.5, noise=0.0, early_stop=True):
        self.target, self.lr, self.noise = np.asarray(target, float), lr, noise
        self.early_stop = early_stop
        self.updates = 0

    def config(self, options):
        return {"method": self.name, "target": self.target.tolist(), "lr": self.lr,
                "noise": self.noise, "tol": options.tol, "seed": options.seed_config()}

    def start(self, rng, resuming):
        return LoopState(arrays={"x": np.zeros_like(self.target)},
                         optimisers={"x": SGD(lr=self.lr)},
                         histories={"objective_history": [], "grad_norm_history": []}, rng=rng)

    def evaluate(self, state):
        x = state.arrays["x"]
        grad = x - self.target + self.noise * state.rng.standard_normal(x.shape)
        state.histories["objective_history"].append(0.5 * float(np.sum((x - self.target) ** 2)))
        state.histories["grad_norm_history"].append(float(np.linalg.norm(grad)))
        return {"objective": state.histories["objective_history"][-1]}, grad

    def update(self, state, grad):
        self.updates += 1
        state.optimisers["x"].step(state.arrays["x"], grad)

    def measures(self, state):
        return {"gradient norm": state.histories["grad_norm_history"][-1]}

    def result(self, state, *, converged, seconds):
        return {"x": state.arrays["x"].copy(), "converged": converged,
                "num_iter": len(state.histories["objective_history"]),
                "objective_history": np.array(state.histories["objective_history"])}


def test_stops_when_every_measure_is_below_tol_without_a_last_update():
    method = Quadratic([1.0, -2.0])
    out = run_fit(method, FitOptions(max_iter=100, tol=1e-6))
    assert out["converged"]
    # SGD with lr 0.5 halves the error each step: |g_k| = sqrt(5) 2^-k < 1e-6 first at k = 22
    assert out["num_iter"] == 23 and method.updates == 22
    np.testing.assert_allclose(out["x"], [1.0, -2.0], rtol=0, atol=1e-6)


def test_warns_naming_the_measure_and_the_advice():
    with pytest.warns(ConvergenceWarning,
                      match=r"quadratic did not converge: gradient norm .* after max_iter=3 "
                            r"iterations; increase `max_iter` or `learning_rate`"):
        out = run_fit(Quadratic([1.0]), FitOptions(max_iter=3, tol=1e-6))
    assert not out["converged"] and out["num_iter"] == 3


def test_no_early_stop_runs_every_iteration():
    method = Quadratic([1.0], early_stop=False)
    out = run_fit(method, FitOptions(max_iter=60, tol=1e-3))
    assert out["num_iter"] == 60 and method.updates == 60 and out["converged"]


def test_callback_sees_every_iteration_after_its_checkpoint(tmp_path):
    path = tmp_path / "ck.npz"
    seen = []

    def callback(iteration, info):
        saved = load_checkpoint(path, Quadratic([3.0]).config(options)) if path.exists() else None
        seen.append((iteration, info["objective"],
                     None if saved is None else saved["scalars"]["iteration"]))

    options = FitOptions(max_iter=7, tol=1e-12, checkpoint=path, checkpoint_every=3,
                         callback=callback, warn=False)
    run_fit(Quadratic([3.0]), options)
    assert [s[0] for s in seen] == list(range(7))
    # checkpoints after iterations 3, 6 and the last, 7
    assert [s[2] for s in seen] == [None, None, 3, 3, 3, 6, 7]
    assert seen[0][1] == pytest.approx(4.5)


@pytest.mark.parametrize("every", [1, 2, 5])
def test_resume_is_bit_identical_with_a_random_step(tmp_path, every):
    options = {"tol": 1e-12, "seed": 11, "warn": False}
    full = run_fit(Quadratic([1.0, 2.0], noise=0.3), FitOptions(max_iter=12, **options))
    path = tmp_path / "ck.npz"
    run_fit(Quadratic([1.0, 2.0], noise=0.3),
            FitOptions(max_iter=5, checkpoint=path, checkpoint_every=every, **options))
    method = Quadratic([1.0, 2.0], noise=0.3)
    resumed = run_fit(method, FitOptions(max_iter=12, checkpoint=path, checkpoint_every=every,
                                         **options))
    assert method.updates == 7                       # only the iterations not in the file
    np.testing.assert_array_equal(resumed["x"], full["x"])
    np.testing.assert_array_equal(resumed["objective_history"], full["objective_history"])


def test_a_stopped_run_resumes_without_iterating(tmp_path):
    path = tmp_path / "ck.npz"
    first = run_fit(Quadratic([1.0]), FitOptions(max_iter=100, tol=1e-6, checkpoint=path))
    with open(path, "rb") as handle:
        meta = json.loads(str(np.load(handle)["meta"]))
    assert meta["scalars"] == {"iteration": first["num_iter"], "stopped": True}
    method = Quadratic([1.0])
    again = run_fit(method, FitOptions(max_iter=500, tol=1e-6, checkpoint=path))
    assert method.updates == 0 and again["converged"]
    np.testing.assert_array_equal(again["x"], first["x"])


def test_a_checkpoint_of_another_configuration_is_refused(tmp_path):
    path = tmp_path / "ck.npz"
    run_fit(Quadratic([1.0]), FitOptions(max_iter=2, tol=1e-9, checkpoint=path, warn=False))
    with pytest.raises(ValueError, match="different configuration.*target"):
        run_fit(Quadratic([2.0]), FitOptions(max_iter=4, tol=1e-9, checkpoint=path))


@pytest.mark.parametrize("bad, message", [
    ({"max_iter": 0}, "max_iter must be a positive integer"),
    ({"max_iter": 2.5}, "max_iter must be a positive integer"),
    ({"tol": 0.0}, "tol must be finite and > 0"),
    ({"tol": float("nan")}, "tol must be finite"),
    ({"checkpoint_every": 0}, "checkpoint_every must be a positive integer"),
    ({"backend": "gpu"}, "backend"),
    ({"callback": 3}, "callback must be callable"),
])
def test_fit_options_are_validated(bad, message):
    with pytest.raises(ValueError, match=message):
        FitOptions(**{"max_iter": 5, "tol": 1e-6, **bad})


def test_l2_penalty_matches_its_definition_and_finite_differences():
    rng = np.random.default_rng(0)
    params, mask = rng.normal(size=7), (rng.random(7) < 0.5).astype(float)
    value, grad = l2_penalty(params, mask, 0.3)
    assert value == pytest.approx(0.15 * np.sum((mask * params) ** 2), rel=1e-14)
    eps = 1e-6
    fd = [(l2_penalty(params + eps * e, mask, 0.3)[0] - l2_penalty(params - eps * e, mask, 0.3)[0])
          / (2 * eps) for e in np.eye(7)]
    np.testing.assert_allclose(grad, fd, rtol=1e-8, atol=1e-10)
    assert np.all(grad[mask == 0] == 0)


# ---------------------------------------------------------------------------
# Every real fit survives a SIGKILL and resumes bit-identically.
# ---------------------------------------------------------------------------

_CHILD = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, sys.argv[3])
    from test_fit_driver import FITS, game
    spec, eq, demos = game()
    slow = lambda iteration, info: time.sleep(0.05)
    FITS[sys.argv[2]](spec, eq, demos, max_iter=400, checkpoint=sys.argv[1], checkpoint_every=3,
                      callback=slow)
""")

COMMON = {"temperature": 0.2, "backend": "numpy", "warn": False, "seed": 4}
FITS = {
    "pemmfirl_em": lambda spec, eq, demos, **kw: __import__("tabmfirl").fit_pemmfirl_em(
        spec, demos, 2, n_warmup=2, **COMMON, **kw),
    "mfirl": lambda spec, eq, demos, **kw: __import__("tabmfirl").fit_mfirl(
        spec, demos, **COMMON, **kw),
    "oracle": lambda spec, eq, demos, **kw: __import__("tabmfirl").fit_oracle(
        spec, demos, **COMMON, **kw),
    "reward": lambda spec, eq, demos, **kw: __import__("tabmfirl").fit_reward(
        spec, 15.0 * eq.state_action, eq.mean_field, weight_decay=0.1, **COMMON, **kw),
    "pemmfirl": lambda spec, eq, demos, **kw: __import__(
        "tabmfirl").fit_pemmfirl(spec, demos, 2, n_sampler_agents=10, n_pretrain=3,
                                             **COMMON, **kw),
    "pemmfirl_exact": lambda spec, eq, demos, **kw: __import__(
        "tabmfirl").fit_pemmfirl(spec, demos, 2, n_sampler_agents=10, n_pretrain=3,
                                             expectation="exact",
                                             encoder_gradient="discriminator", **COMMON, **kw),
    "reward_adversarial": lambda spec, eq, demos, **kw: __import__(
        "tabmfirl").fit_reward_adversarial(spec, 15.0 * eq.state_action, eq.mean_field,
                                           weight_decay=0.1, **COMMON, **kw),
    "mf_airl": lambda spec, eq, demos, **kw: __import__("tabmfirl").fit_mf_airl(
        spec, demos, n_sampler_agents=10, **COMMON, **kw),
    "pemirl": lambda spec, eq, demos, **kw: __import__("tabmfirl").fit_pemirl(
        spec, demos, 2, n_sampler_agents=10, n_pretrain=3, **COMMON, **kw),
    "gaussian": lambda spec, eq, demos, **kw: __import__("tabmfirl").fit_gaussian_types(
        spec, demos, 1, n_warmup=2, n_prior_samples=3, n_rollouts=2, **COMMON, **kw),
}


def game():
    spec = envs.make("virus", types=2, horizon=5)
    eq = solve_equilibrium(spec, temperature=0.2, backend="numpy", method="fixed_point",
                           damping=0.3, max_iter=3000)
    return spec, eq, generate_demonstrations(spec, eq.policy, 15, seed=0)


def _arrays(result):
    out = {}
    for name, value in vars(result).items():
        if hasattr(value, "get_flat"):
            value = value.get_flat()
        if isinstance(value, np.ndarray):
            out[name] = value
    return out


@pytest.mark.parametrize("name", sorted(FITS))
def test_sigkill_then_resume_for_every_fit(tmp_path, name):
    """A real kill (SIGKILL) after the first checkpoint, then a resume in this process."""
    path = tmp_path / "ck.npz"
    script = tmp_path / "child.py"
    script.write_text(_CHILD)
    tests = str(__import__("pathlib").Path(__file__).resolve().parent)
    child = subprocess.Popen([sys.executable, str(script), str(path), name, tests],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 90
        while not path.exists():
            assert child.poll() is None, child.stderr.read().decode()
            assert time.monotonic() < deadline, "no checkpoint within 90 s"
            time.sleep(0.02)
        time.sleep(0.2)
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait()
        child.stderr.close()
    assert child.returncode == -signal.SIGKILL
    with open(path, "rb") as handle:
        done = json.loads(str(np.load(handle)["meta"]))["scalars"]["iteration"]
    assert 3 <= done < 400
    spec, eq, demos = game()
    resumed = FITS[name](spec, eq, demos, max_iter=done + 6, checkpoint=path)
    full = FITS[name](spec, eq, demos, max_iter=done + 6)
    full_arrays, resumed_arrays = _arrays(full), _arrays(resumed)
    assert set(full_arrays) == set(resumed_arrays) and len(full_arrays) >= 8
    for key, value in full_arrays.items():
        np.testing.assert_array_equal(resumed_arrays[key], value, err_msg=key)
    assert resumed.num_iter == full.num_iter == done + 6
