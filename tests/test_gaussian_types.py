"""Tests of tabmfirl.irl._gaussian_types: PEMMFIRL (exact mode) with continuous Gaussian types.

Settings of the separation tests (measured when they were written, numba
backend): virus with distancing costs (0.05, 2.0), T = 10, beta = 0.1, 100
agents per type, 1-D latent, 60 iterations.  Over 4 demonstration seeds x 3
fit seeds the class means of the posterior means were 5.1 to 6.3 pooled
within-class standard deviations apart (bound: 3) and the 2-means
discretisation had ARI 0.85 to 0.96 (bound: 0.7); with 30 iterations 3.9 to
5.4 and 0.76 to 0.86.  The discretised fit scored a mean policy deviation of
0.04 to 0.24 (3 demonstration seeds) against 2.9 to 3.0 for the
``mi_weight=0`` ablation (which equals MFIRL's); bound: ratio below 0.25.
"""
import json

import numpy as np
import pytest

from tabmfirl import (
    ContextEncoder,
    ConvergenceWarning,
    MFGSpec,
    RewardHead,
    envs,
    fit_mfirl,
    solve_equilibrium,
)
from tabmfirl.evaluation._metrics import adjusted_rand_index
from tabmfirl.irl._demos import Demonstrations, generate_demonstrations
from tabmfirl.irl._gaussian_types import (
    GaussianTypesResult,
    encoder_mi_objective,
    fit_gaussian_types,
    latent_flows,
    latent_log_likelihood,
    latent_weights,
)
from tabmfirl.irl._learner import weighted_statistics
from tabmfirl.irl._results import IRLResult
from tabmfirl.testing.games import random_game

BETA = 0.1
SOLVER = {"method": "fixed_point", "damping": 0.3, "max_iter": 3000}
SMALL = {"temperature": 0.5, "max_iter": 8, "n_warmup": 2, "n_prior_samples": 6,
         "n_rollouts": 2, "backend": "numpy", "warn": False}


def _virus(horizon=10, n_agents=100, seed=0, costs=(0.05, 2.0), temperature=BETA):
    spec = envs.make("virus", horizon=horizon, costs=costs)
    eq = solve_equilibrium(spec, temperature=temperature, backend="numpy", **SOLVER)
    return spec, eq, generate_demonstrations(spec, eq.policy, n_agents, seed=seed)


def _separation(means, types):
    """|difference of the class means| / pooled within-class std (1-D latent)."""
    a, b = means[types == 0, 0], means[types == 1, 0]
    spread = np.sqrt(0.5 * (a.var() + b.var()))
    return abs(a.mean() - b.mean()) / spread if spread > 0 else 0.0


class _Raw:
    """Bare trajectories (the fits read only ``states`` and ``actions``)."""

    def __init__(self, states, actions):
        self.states, self.actions = states, actions


def _central_differences(fun, x, eps=1e-5):
    grad = np.empty_like(x)
    for i in range(x.size):
        up, down = x.copy(), x.copy()
        up[i] += eps
        down[i] -= eps
        grad[i] = (fun(up) - fun(down)) / (2 * eps)
    return grad


@pytest.fixture(scope="module")
def small_virus():
    return _virus(horizon=5, n_agents=10, seed=1, temperature=0.5)


@pytest.fixture(scope="module")
def separated():
    """The 2-type virus fit with and without the MI term (numba backend)."""
    spec, eq, demos = _virus()
    kw = {"temperature": BETA, "max_iter": 60, "backend": "numba", "warn": False}
    fit = fit_gaussian_types(spec, demos, 1, seed=0, **kw)
    ablation = fit_gaussian_types(spec, demos, 1, mi_weight=0.0, seed=0, **kw)
    return spec, eq, demos, fit, ablation


# ---------------------------------------------------------------------------
# Kernel weights and flows.
# ---------------------------------------------------------------------------


def test_latent_weights_are_rescaled_gaussian_densities():
    rng = np.random.default_rng(0)
    nu, log_std, z = rng.normal(size=(5, 2)), rng.normal(scale=0.3, size=(5, 2)), \
        rng.normal(size=(3, 2))
    w = latent_weights(z, nu, log_std)
    sigma = np.exp(log_std)
    # the N(nu_j, diag sigma_j^2) density at z_k, by its textbook formula
    dens = np.array([[np.prod(np.exp(-0.5 * ((zk - m) / s) ** 2) / (np.sqrt(2 * np.pi) * s))
                      for zk in z] for m, s in zip(nu, sigma)])
    np.testing.assert_allclose(w, dens / dens.max(axis=0), rtol=1e-12, atol=0)
    np.testing.assert_allclose(w.max(axis=0), 1.0, rtol=0, atol=0)


def test_latent_flows_generalise_the_discrete_estimator(small_virus):
    _, _, demos = small_virus
    # tight posteriors at one point per true type: the kernel flows at those
    # points are the labelled empirical flows
    points = np.array([[-1.0, 0.5], [2.0, 0.0]])
    nu = points[demos.types]
    mf, sa = latent_flows(demos.states, demos.actions, points, nu, np.full_like(nu, -20.0),
                          2, 2)
    np.testing.assert_allclose(mf, demos.empirical_mean_field(), rtol=0, atol=1e-14)
    np.testing.assert_allclose(sa, demos.empirical_state_action(), rtol=0, atol=1e-14)
    # wide posteriors: every latent sees the pooled flow
    rng = np.random.default_rng(1)
    wide = rng.normal(size=nu.shape)
    mf, _ = latent_flows(demos.states, demos.actions, rng.normal(size=(3, 2)), wide,
                         np.full_like(nu, 20.0), 2, 2)
    pooled = weighted_statistics(demos.states, demos.actions, np.ones((20, 1)), 2, 2)[2]
    np.testing.assert_allclose(mf, np.repeat(pooled, 3, axis=0), rtol=0, atol=1e-12)


# ---------------------------------------------------------------------------
# Hand-written gradients: central finite differences on every coordinate.
# ---------------------------------------------------------------------------


def _fd_setup(spec, demos, d, rng):
    N = demos.actions.shape[0]
    latents = rng.normal(size=(N, d))
    nu, log_std = rng.normal(size=(N, d)), rng.normal(scale=0.3, size=(N, d))
    mf, sa = latent_flows(demos.states, demos.actions, latents, nu, log_std,
                          spec.n_states, spec.n_actions)
    return latents, mf, sa


@pytest.mark.parametrize("kind", ["linear", "mlp"])
def test_reward_gradient_matches_finite_differences(small_virus, kind):
    spec, _, demos = small_virus
    rng = np.random.default_rng(2)
    d = 2
    head = RewardHead(2, 2, 2, latent_dim=d, kind=kind, hidden_sizes=(5,), seed=3)
    theta = head.get_flat()
    if kind == "linear":
        theta = rng.normal(scale=0.5, size=theta.size)
    latents, mf, sa = _fd_setup(spec, demos, d, rng)

    def value(params):
        head.set_flat(params)
        return latent_log_likelihood(spec, head, demos, latents, mf, temperature=0.5,
                                     backend="numpy")[0]

    head.set_flat(theta)
    _, grad = latent_log_likelihood(spec, head, demos, latents, mf, temperature=0.5,
                                    backend="numpy")
    np.testing.assert_allclose(grad, _central_differences(value, theta), rtol=1e-6,
                               atol=1e-8)


def test_reward_gradient_on_a_state_action_game():
    # random game of tabmfirl.testing.games whose transition and reward read L_t(s, a)
    spec = random_game(3, 2, 4, 1, transition_strength=0.5, reward_strength=0.5,
                       mean_field_kind="state_action", rng=0)
    eq = solve_equilibrium(spec, backend="numpy", **SOLVER)
    demos = generate_demonstrations(spec, eq.policy, 6, seed=0)
    rng = np.random.default_rng(4)
    head = RewardHead(3, 2, 6, latent_dim=1)
    theta = rng.normal(scale=0.5, size=head.n_params)
    latents, mf, sa = _fd_setup(spec, demos, 1, rng)

    def value(params):
        head.set_flat(params)
        return latent_log_likelihood(spec, head, demos, latents, mf, sa, temperature=1.0,
                                     backend="numpy")[0]

    head.set_flat(theta)
    _, grad = latent_log_likelihood(spec, head, demos, latents, mf, sa, temperature=1.0,
                                    backend="numpy")
    np.testing.assert_allclose(grad, _central_differences(value, theta), rtol=1e-6,
                               atol=1e-8)
    with pytest.raises(ValueError, match="state_action"):
        latent_log_likelihood(spec, head, demos, latents, mf, temperature=1.0,
                              backend="numpy")


def test_mi_gradient_matches_finite_differences(small_virus):
    _, _, demos = small_virus
    encoder = ContextEncoder(2, 2, kind="gaussian", latent_dim=2, embed_dim=3,
                             hidden_sizes=(4,), seed=5)
    rng = np.random.default_rng(6)
    z = rng.normal(size=(demos.actions.shape[0], 2))
    theta = encoder.get_flat()

    def value(params):
        encoder.set_flat(params)
        return encoder_mi_objective(encoder, demos.states, demos.actions, z)[0]

    encoder.set_flat(theta)
    value0, grad = encoder_mi_objective(encoder, demos.states, demos.actions, z)
    np.testing.assert_allclose(grad, _central_differences(value, theta), rtol=1e-6,
                               atol=1e-9)
    # the value is the mean Gaussian log-density of z under (nu, sigma)
    encoder.set_flat(theta)
    nu, log_std = encoder.mean_log_std(demos.states, demos.actions)
    expected = np.mean(np.sum(-0.5 * ((z - nu) / np.exp(log_std)) ** 2 - log_std
                              - 0.5 * np.log(2 * np.pi), axis=1))
    np.testing.assert_allclose(value0, expected, rtol=1e-12, atol=0)


def test_linear_reward_gradient_is_expert_minus_model_feature_counts():
    # Hand-computed: dynamics that ignore the action, zero reward, beta = 1,
    # z = 0.  The model policy is uniform and, the actions not changing where
    # the agent goes, the model occupancy started from the trajectory's own
    # states is rho_t(s, .) = 1[s_t = s] / 2, so the gradient of the c_0 = 1
    # bias block, summed over t, is sum_t (e_(s_t, a_t) - e_(s_t) / 2).
    P = np.array([[0.3, 0.7], [0.6, 0.4]])
    spec = MFGSpec(n_states=2, n_actions=2, horizon=4, mu0=[0.5, 0.5],
                   transition=np.stack([P, P], axis=1), reward=np.zeros((1, 2, 2)))
    one = _Raw(np.array([[0, 1, 1, 0, 1]]), np.array([[1, 0, 1, 1]]))
    head = RewardHead(2, 2, 2, latent_dim=1)
    mf = weighted_statistics(one.states, one.actions, np.ones((1, 1)), 2, 2)[2]
    _, grad = latent_log_likelihood(spec, head, one, np.zeros((1, 1)), mf, temperature=1.0,
                                    backend="numpy")
    # (s, a) visits: (0, 1), (1, 0), (1, 1), (0, 1); states 0, 1, 1, 0
    expected = np.array([[0 - 1.0, 2 - 1.0],
                         [1 - 1.0, 1 - 1.0]])
    np.testing.assert_allclose(grad[:4].reshape(2, 2), expected, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(grad[4:8], 0.0)      # z-block of the bias: c_1 = z = 0
    np.testing.assert_array_equal(grad[16:], 0.0)      # z-block of the coefficients


# ---------------------------------------------------------------------------
# The fit.
# ---------------------------------------------------------------------------


def test_fit_is_bit_reproducible(small_virus):
    spec, _, demos = small_virus
    a = fit_gaussian_types(spec, demos, 2, seed=7, **SMALL)
    b = fit_gaussian_types(spec, demos, 2, seed=7, **SMALL)
    for name in ("reward_params", "encoder_params", "posterior_mean", "posterior_std",
                 "objective_history", "grad_norm_history", "mi_history",
                 "posterior_change_history"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    c = fit_gaussian_types(spec, demos, 2, seed=8, **SMALL)
    assert not np.array_equal(a.posterior_mean, c.posterior_mean)
    assert isinstance(a, GaussianTypesResult) and a.num_iter == 8 and a.latent_dim == 2
    assert a.objective_history.shape == a.mi_history.shape == (8,)
    # warm-up: the encoder is held for 2 iterations
    np.testing.assert_array_equal(a.posterior_change_history[:2], 0.0)
    assert np.all(a.posterior_change_history[2:] > 0)


def test_posterior_means_of_two_types_separate(separated):
    spec, _, demos, fit, ablation = separated
    sep = _separation(fit.posterior_mean, demos.types)
    assert sep > 3.0, sep
    assert fit.objective_history[-1] > fit.objective_history[0] + 1.0
    disc = fit.discretise(spec, demos, 2, backend="numba")
    assert adjusted_rand_index(demos.types, disc.assignments) >= 0.7
    # ablation: one latent (z = 0) for everyone, nothing separates
    np.testing.assert_array_equal(ablation.posterior_mean, 0.0)
    np.testing.assert_array_equal(ablation.posterior_std, 1.0)
    assert _separation(ablation.posterior_mean, demos.types) == 0.0
    assert np.all(np.isnan(ablation.mi_history))
    disc0 = ablation.discretise(spec, demos, 2, backend="numba")
    assert adjusted_rand_index(demos.types, disc0.assignments) == 0.0
    np.testing.assert_allclose(disc0.reward[0], disc0.reward[1], rtol=0, atol=0)


def test_discretised_fit_scores_with_evaluate_fit(separated):
    from tabmfirl.apps._experiment import evaluate_fit

    spec, eq, demos, fit, ablation = separated
    scores = []
    for result, centres in ((fit, 2), (ablation, np.zeros((1, 1)))):
        metrics = evaluate_fit(spec, result.discretise(spec, demos, centres, backend="numba"),
                               demos, temperature=BETA, expert=eq, solver_kwargs=SOLVER,
                               backend="numba")
        scores.append(metrics["policy_deviation"])
    assert scores[0] < 0.25 * scores[1], scores


def test_ablation_is_mfirl(small_virus):
    # linear head, mi_weight = 0: the z-blocks get zero gradient, the c_0 = 1
    # block follows exactly MFIRL's iterates (pooled flow, same Adam)
    spec, _, demos = small_virus
    kw = {"temperature": 0.5, "max_iter": 15, "learning_rate": 0.05, "backend": "numpy",
          "warn": False}
    fit = fit_gaussian_types(spec, demos, 2, mi_weight=0.0, **kw)
    mf = fit_mfirl(spec, demos, **kw)
    disc = fit.discretise(spec, demos, np.zeros((1, 2)), backend="numpy")
    np.testing.assert_allclose(disc.reward, mf.reward, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(disc.mean_field, mf.mean_field, rtol=0, atol=1e-14)
    np.testing.assert_allclose(fit.objective_history, mf.objective_history, rtol=1e-10)
    np.testing.assert_array_equal(fit.head.bias[1:], 0.0)
    np.testing.assert_array_equal(fit.head.coef[1:], 0.0)


@pytest.mark.parametrize("kind", ["linear", "mlp"])
def test_discretise_reproduces_the_latent_head(small_virus, kind):
    spec, _, demos = small_virus
    fit = fit_gaussian_types(spec, demos, 2, reward_kind=kind, hidden_sizes=(6,), seed=1,
                                **SMALL)
    centres = np.array([[0.3, -1.0], [2.0, 0.5], [-0.4, 0.1]])
    disc = fit.discretise(spec, demos, centres, backend="numpy")
    assert isinstance(disc, IRLResult) and disc.head.discrete and disc.head.n_contexts == 3
    latent = fit.head.reward_tables(disc.mean_field[:, :spec.horizon], contexts=centres)
    np.testing.assert_allclose(disc.reward, latent, rtol=1e-12, atol=1e-12)
    # nearest centre of each posterior mean, flows at the centres
    d2 = ((fit.posterior_mean[:, None] - centres[None]) ** 2).sum(-1)
    np.testing.assert_array_equal(disc.assignments, d2.argmin(1))
    np.testing.assert_allclose(disc.prior, np.bincount(d2.argmin(1), minlength=3) / 20)
    mf, _ = latent_flows(demos.states, demos.actions, centres, fit.posterior_mean,
                         np.log(fit.posterior_std), 2, 2)
    np.testing.assert_allclose(disc.mean_field, mf, rtol=0, atol=0)
    np.testing.assert_allclose(disc.policy.sum(-1), 1.0, rtol=0, atol=1e-12)
    # k-means centres: K rows of the latent space
    assert fit.discretise(spec, demos, 2, backend="numpy").head.n_contexts == 2


def test_callback_and_convergence_warning(small_virus):
    spec, _, demos = small_virus
    seen = []
    kw = dict(SMALL, warn=True)
    with pytest.warns(ConvergenceWarning, match="max_iter"):
        fit_gaussian_types(spec, demos, 1, callback=lambda i, info: seen.append(
            (i, sorted(info), info["posterior_mean"].shape)), **kw)
    assert [s[0] for s in seen] == list(range(8))
    assert seen[0][1] == ["grad_norm", "mi", "objective", "posterior_mean"]
    assert seen[0][2] == (20, 1)


# ---------------------------------------------------------------------------
# Input validation.
# ---------------------------------------------------------------------------


def test_input_validation(small_virus):
    spec, _, demos = small_virus
    for bad in (0, -1, 1.5, True, None):
        with pytest.raises(ValueError, match="latent_dim"):
            fit_gaussian_types(spec, demos, bad, **SMALL)
    short = Demonstrations(states=demos.states[:, :-1], actions=demos.actions[:, :-1],
                           types=demos.types, n_states=2, n_actions=2, n_types=2)
    with pytest.raises(ValueError, match="horizon"):
        fit_gaussian_types(spec, short, 1, **SMALL)

    with pytest.raises(ValueError, match=r"states \(N, T\+1\)"):
        fit_gaussian_types(spec, _Raw(demos.states[:, :-1], demos.actions), 1, **SMALL)
    nan_states = demos.states.astype(float)
    nan_states[0, 0] = np.nan
    with pytest.raises(ValueError, match="ints"):
        fit_gaussian_types(spec, _Raw(nan_states, demos.actions), 1, **SMALL)
    with pytest.raises(ValueError, match="at least one"):
        fit_gaussian_types(spec, _Raw(np.zeros((0, 6), int), np.zeros((0, 5), int)), 1,
                              **SMALL)
    for name, value in (("temperature", np.nan), ("learning_rate", np.nan),
                        ("mi_weight", np.nan), ("mi_weight", -1.0),
                        ("encoder_learning_rate", 0.0), ("n_prior_samples", 0),
                        ("n_rollouts", 0), ("n_warmup", -1), ("max_iter", 0)):
        with pytest.raises(ValueError, match=name):
            fit_gaussian_types(spec, demos, 1, **dict(SMALL, **{name: value}))
    with pytest.raises(ValueError, match="kind"):
        fit_gaussian_types(spec, demos, 1, reward_kind="table", **SMALL)
    fit = fit_gaussian_types(spec, demos, 2, **dict(SMALL, max_iter=2))
    with pytest.raises(ValueError, match="centres"):
        fit.discretise(spec, demos, np.zeros((2, 3)), backend="numpy")
    with pytest.raises(ValueError, match="non-finite"):
        fit.discretise(spec, demos, np.array([[0.0, np.nan]]), backend="numpy")
    with pytest.raises(ValueError, match="n_contexts"):
        fit.discretise(spec, demos, 0, backend="numpy")
    with pytest.raises(ValueError, match="trajectories"):
        fit.discretise(spec, _Raw(demos.states[:5], demos.actions[:5]), 2, backend="numpy")
    mf = np.full((20, 6, 2), 0.5)
    with pytest.raises(ValueError, match="latent_dim"):
        latent_log_likelihood(spec, RewardHead(2, 2, 2, n_contexts=2), demos,
                              np.zeros((20, 1)), mf, temperature=1.0)
    with pytest.raises(ValueError, match="latents"):
        latent_log_likelihood(spec, RewardHead(2, 2, 2, latent_dim=1), demos,
                              np.full((20, 1), np.nan), mf, temperature=1.0)
    with pytest.raises(ValueError, match="gaussian"):
        encoder_mi_objective(ContextEncoder(2, 2, n_contexts=2), demos.states, demos.actions,
                             np.zeros((20, 1)))


# ---------------------------------------------------------------------------
# Checkpoints: a stopped or killed fit resumes bit for bit.
# ---------------------------------------------------------------------------

_RESULT_ARRAYS = ("reward_params", "encoder_params", "posterior_mean", "posterior_std",
                  "objective_history", "grad_norm_history", "mi_history",
                  "posterior_change_history")
# the ablation (no encoder optimiser, NaN MI history) and an MLP head besides the default
CHECKPOINTED = {"linear": {}, "mlp": {"reward_kind": "mlp", "hidden_sizes": (4,)},
                "ablation": {"mi_weight": 0.0}}


def _assert_same_fit(a, b):
    for name in _RESULT_ARRAYS:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    np.testing.assert_array_equal(a.head.get_flat(), b.head.get_flat(), err_msg="head")
    np.testing.assert_array_equal(a.encoder.get_flat(), b.encoder.get_flat(), err_msg="encoder")
    assert a.num_iter == b.num_iter and a.converged == b.converged


@pytest.mark.parametrize("variant", sorted(CHECKPOINTED))
def test_resumed_fit_is_bit_identical(small_virus, tmp_path, monkeypatch, variant):
    import tabmfirl.irl._gaussian_types as gt

    spec, _, demos = small_virus
    kw = dict(SMALL, seed=3, **CHECKPOINTED[variant])          # 8 iterations, warm-up 2
    full = fit_gaussian_types(spec, demos, 2, **kw)
    path = tmp_path / "ck.npz"
    # stopped after 5 iterations (checkpoints at 2, 4 and the last, 5) ...
    part = fit_gaussian_types(spec, demos, 2, checkpoint=path, checkpoint_every=2,
                                 **dict(kw, max_iter=5))
    assert part.num_iter == 5 and path.exists()
    np.testing.assert_array_equal(part.objective_history, full.objective_history[:5])
    # ... resumed to the full length: the callback sees only the computed iterations
    seen = []
    resumed = fit_gaussian_types(spec, demos, 2, checkpoint=path, checkpoint_every=2,
                                    callback=lambda i, info: seen.append(i), **kw)
    assert seen == [5, 6, 7]
    _assert_same_fit(full, resumed)
    # a finished checkpoint is returned as it is, without iterating
    with monkeypatch.context() as patch:
        patch.setattr(gt, "_batch_step", lambda *a, **k: pytest.fail("an iteration ran"))
        again = fit_gaussian_types(spec, demos, 2, checkpoint=path, **kw)
    _assert_same_fit(full, again)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_resume_after_an_interrupted_iteration(small_virus, tmp_path):
    """Killed during iteration 8: the periodic checkpoint of iteration 6 resumes exactly."""
    spec, _, demos = small_virus
    kw = dict(SMALL, max_iter=10, seed=5)
    full = fit_gaussian_types(spec, demos, 1, **kw)
    path = tmp_path / "ck.npz"

    def interrupt(iteration, info):
        if iteration == 7:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fit_gaussian_types(spec, demos, 1, checkpoint=path, checkpoint_every=3,
                              callback=interrupt, **kw)
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        state = {name: data[name] for name in data.files if name != "meta"}
    assert meta["scalars"] == {"iteration": 6, "stopped": False}
    assert meta["rng_state"] is not None
    for name in ("reward", "encoder"):
        assert int(state[f"{name}_opt_n_steps"]) == (6 if name == "reward" else 6 - 2)
        assert state[f"{name}_opt_m"].shape == state[f"{name}_params"].shape
    for name in ("objective_history", "grad_norm_history", "mi_history",
                 "posterior_change_history"):
        assert state[name].shape == (6,)
    resumed = fit_gaussian_types(spec, demos, 1, checkpoint=path, checkpoint_every=3, **kw)
    _assert_same_fit(full, resumed)


def test_converged_checkpoint_is_final(small_virus, tmp_path):
    spec, _, demos = small_virus
    kw = dict(SMALL, mi_weight=0.0, tol=1e3)               # converges at the first iterate
    path = tmp_path / "ck.npz"
    first = fit_gaussian_types(spec, demos, 1, checkpoint=path, **kw)
    assert first.converged and first.num_iter == 1
    again = fit_gaussian_types(spec, demos, 1, checkpoint=path, **dict(kw, max_iter=20))
    _assert_same_fit(first, again)


def test_mismatched_checkpoint_is_refused(small_virus, tmp_path):
    from tabmfirl import fit_pemmfirl_em

    spec, _, demos = small_virus
    path = tmp_path / "ck.npz"
    kw = dict(SMALL, max_iter=2)
    fit_gaussian_types(spec, demos, 1, checkpoint=path, **kw)
    before = path.read_bytes()
    for change, key in (({"learning_rate": 0.01}, "learning_rate"),
                        ({"encoder_learning_rate": 0.1}, "encoder_learning_rate"),
                        ({"n_warmup": 1}, "n_warmup"), ({"mi_weight": 0.5}, "mi_weight"),
                        ({"weight_decay": 0.5}, "weight_decay"),
                        ({"n_prior_samples": 7}, "n_prior_samples"),
                        ({"n_rollouts": 3}, "n_rollouts"), ({"temperature": 0.4}, "temperature"),
                        ({"reward_kind": "mlp"}, "reward_kind"), ({"tol": 1e-3}, "tol"),
                        ({"seed": 1}, "seed")):
        with pytest.raises(ValueError, match=f"different configuration.*{key}"):
            fit_gaussian_types(spec, demos, 1, checkpoint=path, **dict(kw, **change))
    with pytest.raises(ValueError, match="latent_dim"):
        fit_gaussian_types(spec, demos, 2, checkpoint=path, **kw)
    other = Demonstrations(states=demos.states[::-1].copy(), actions=demos.actions[::-1].copy(),
                           types=demos.types, n_states=2, n_actions=2, n_types=2)
    with pytest.raises(ValueError, match="data_digest"):
        fit_gaussian_types(spec, other, 1, checkpoint=path, **kw)
    assert path.read_bytes() == before                 # a refused resume writes nothing
    # an exact-mode checkpoint is not a Gaussian one
    exact = tmp_path / "exact.npz"
    fit_pemmfirl_em(spec, demos, 2, max_iter=2, checkpoint=exact, temperature=0.5,
                 backend="numpy", warn=False)
    with pytest.raises(ValueError, match="different configuration.*method"):
        fit_gaussian_types(spec, demos, 1, checkpoint=exact, **kw)
    path.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="cannot be read"):
        fit_gaussian_types(spec, demos, 1, checkpoint=path, **kw)
    with pytest.raises(ValueError, match="checkpoint_every"):
        fit_gaussian_types(spec, demos, 1, checkpoint=tmp_path / "x.npz",
                              checkpoint_every=0, **kw)
