"""Property-based tests of the equilibria the solvers claim to find."""
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tabmfirl
from tabmfirl import ConvergenceWarning, MFGSpec
from tabmfirl.testing.games import congestion_game, graph_neighbours, random_game, random_policy
from tabmfirl.testing.strategies import congestion_games, games, low_temperatures, temperatures


def _assert_fixed_point(spec, result, atol=1e-8):
    """Check, with the NumPy twin, that the returned pair is an ERMFNE.

    Independent of the solver: a fresh NumPy forward pass of the returned
    policy, a NumPy soft best response to it, and the exploitability, which is
    >= 0 by definition of a best response and 0 at the equilibrium
    (two-sided: a negative value would be a bug, not a good equilibrium).
    """
    flow = tabmfirl.forward_mean_field(spec, result.policy, backend="numpy")
    np.testing.assert_allclose(result.mean_field, flow.mean_field, rtol=0, atol=atol)
    best = tabmfirl.soft_bellman_backward(flow.model, result.temperature, backend="numpy")
    np.testing.assert_allclose(result.policy, best.policy, rtol=0, atol=atol)
    expl = tabmfirl.exploitability(spec, result.policy, temperature=result.temperature,
                                   backend="numpy")
    assert np.all(expl >= -1e-12) and np.all(expl <= atol), expl
    np.testing.assert_allclose(result.exploitability, expl, rtol=0, atol=1e-12)


def _assert_certificate(spec, result):
    """The result's certificate equals a NumPy recomputation on its policy alone.

    The unregularised exploitability of a regularised equilibrium lies in
    [0, beta * T * log A]: J_beta(pi) >= J_beta(BR_0) gives
    J_0(BR_0) - J_0(pi) <= beta (H(pi) - H(BR_0)) <= beta T log A.
    """
    hard = tabmfirl.exploitability(spec, result.policy, temperature=0.0, backend="numpy")
    np.testing.assert_allclose(result.unregularised_exploitability, hard, rtol=0, atol=1e-10)
    bound = result.temperature * spec.horizon * np.log(spec.n_actions)
    assert np.all(hard >= -1e-12) and np.all(hard <= bound + 1e-9), (hard, bound)
    best = tabmfirl.best_response(spec, result.policy, temperature=result.temperature,
                                  backend="numpy")
    residual = np.max(np.abs(best.policy - result.policy))
    assert result.residual == pytest.approx(residual, abs=1e-12)


# ------------------------------------------------- the default solver ("auto")
@given(spec=congestion_games(), temperature=low_temperatures)
@settings(max_examples=40)
def test_default_converges_on_strongly_coupled_monotone_games(spec, temperature):
    """Congestion -c mu(s) with c up to 5, rings / grids / random graphs, 1-3 types,
    own or population flow, temperature down to 0.05: a unique ERMFNE, and the
    default solver must find it with nothing tuned."""
    result = tabmfirl.solve_equilibrium(spec, temperature=temperature, backend="numba")
    assert result.converged, result.message
    assert result.method == "auto" and result.residual < 1e-10
    _assert_fixed_point(spec, result)
    _assert_certificate(spec, result)


@given(spec=games(coupling="weak"), temperature=temperatures)
def test_weak_coupling_converges_to_a_fixed_point(spec, temperature):
    result = tabmfirl.solve_equilibrium(spec, temperature=temperature, max_iter=300,
                                        backend="numba")
    assert result.converged, (result.residual, result.num_iter)
    _assert_fixed_point(spec, result)
    assert result.residual_history[-1] == result.residual < 1e-10
    assert result.exploitability_history.shape == (result.num_iter, spec.n_contexts)
    assert result.flow_residual_history.shape == (result.num_iter,)


def test_the_issue_ring_game_converges_by_default():
    """Issue 13, as a new user tried it: 8 locations on a ring, 3 moves, reward
    -2 mu(s) + a type's location preference - its move cost, T = 30, beta = 0.1.
    The plain methods at their defaults do not converge there; the default does."""
    spec = congestion_game(graph_neighbours("ring", 8), 30, 3, congestion=2.0, slip=0.0, rng=0)
    assert spec.n_actions == 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        plain = tabmfirl.solve_equilibrium(spec, temperature=0.1, method="fixed_point",
                                           max_iter=300, backend="numba")
        mirror = tabmfirl.solve_equilibrium(spec, temperature=0.1, method="mirror_descent",
                                            max_iter=300, backend="numba")
    assert not plain.converged and not mirror.converged
    result = tabmfirl.solve_equilibrium(spec, temperature=0.1, backend="numba")
    assert result.converged, result.message
    _assert_fixed_point(spec, result)


def test_rotating_game_needs_and_gets_the_newton_stage():
    """Rock-paper-scissors with switching costs at beta = 0.1: the best-response
    dynamics rotate, every damped map needs a step below 0.002 (measured), the
    Anderson stage stalls and Newton-Krylov on the logits converges."""
    from tabmfirl import envs

    spec = envs.make("rock_paper_scissors", types=3)
    result = tabmfirl.solve_equilibrium(spec, temperature=0.1, backend="numba")
    assert result.converged, result.message
    assert "Anderson acceleration on the flow stalled" in result.message
    assert "Newton-Krylov on the policy logits converged" in result.message
    _assert_fixed_point(spec, result)


def _coordination_game():
    """Two places; going to a place is rewarded by the crowd there, r = 2 mu(s):
    everyone in place 0 and everyone in place 1 are both equilibria."""
    def reward(t, observed, context, params, out):
        for s in range(2):
            for a in range(2):
                out[s, a] = 2.0 * observed[s]

    P = np.zeros((2, 2, 2))
    P[:, 0, 0] = P[:, 1, 1] = 1.0  # action a leads to place a
    return MFGSpec(n_states=2, n_actions=2, horizon=5, mu0=[0.5, 0.5], transition=P,
                   reward=reward, n_contexts=1)


def test_initial_policy_selects_among_several_equilibria():
    spec = _coordination_game()
    ends = []
    for place in (0, 1):
        start = np.zeros((1, 5, 2, 2))
        start[..., place] = 1.0
        result = tabmfirl.solve_equilibrium(spec, temperature=0.1, initial_policy=start,
                                            backend="numpy")
        assert result.converged, result.message
        _assert_fixed_point(spec, result)
        ends.append(result.mean_field[0, -2])  # at T the last, unrewarded move is uniform
    assert ends[0][0] > 0.99 and ends[1][1] > 0.99


def test_plain_fixed_point_is_unchanged_bit_for_bit():
    """method="fixed_point" still iterates pi <- (1 - a) pi + a BR(Phi(pi)) from uniform,
    exactly (pinned fits depend on it): replay it with the public functions."""
    spec = random_game(6, 3, 8, 2, transition_strength=0.05, reward_strength=0.05, rng=3)
    result = tabmfirl.solve_equilibrium(spec, temperature=0.7, method="fixed_point",
                                        damping=0.6, backend="numba")
    policy = np.full((2, 8, 6, 3), 1 / 3)
    for _ in range(result.num_iter - 1):
        best = tabmfirl.best_response(spec, policy, temperature=0.7, backend="numba").policy
        policy = (1.0 - 0.6) * policy + 0.6 * best
    np.testing.assert_array_equal(result.policy, policy)
    assert result.converged and result.method == "fixed_point"


@given(spec=games(max_states=10, max_horizon=8, coupling="strong"), temperature=temperatures)
@settings(max_examples=15)
def test_strong_coupling_reported_convergence_is_true(spec, temperature):
    """Random strong couplings need not be monotone: whatever the default solver
    reports must be true, and a failure must say what was tried."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        result = tabmfirl.solve_equilibrium(spec, temperature=temperature, max_iter=300,
                                            backend="numba")
        damped = tabmfirl.solve_equilibrium(spec, temperature=temperature, max_iter=60,
                                            method="fixed_point", damping=0.5, backend="numba")
    for outcome in (result, damped):
        if outcome.converged:
            _assert_fixed_point(spec, outcome)
        else:
            assert outcome.residual >= 1e-10
    if not result.converged:
        assert "Tried: Anderson acceleration" in result.message


@given(spec=games(max_states=12, coupling="strong"), temperature=st.floats(0.0, 3.0),
       seed=st.integers(0, 2**31))
def test_exploitability_is_nonnegative_and_best_response_is_best(spec, temperature, seed):
    policy = random_policy(spec, seed, concentration=0.5)
    expl = tabmfirl.exploitability(spec, policy, temperature=temperature)
    assert np.all(expl >= -1e-12)
    flow = tabmfirl.forward_mean_field(spec, policy)
    best = tabmfirl.best_response(spec, policy, temperature=temperature)
    own = tabmfirl.regularised_return(spec, policy, temperature=temperature)
    # J_beta(BR, mu^pi) >= J_beta(pi, mu^pi), both with the flow of pi frozen
    model_value = tabmfirl.policy_evaluation(flow.model, best.policy, temperature).value
    assert np.all(model_value[:, 0] @ spec.mu0 >= own - 1e-12)
    np.testing.assert_allclose(model_value[:, 0] @ spec.mu0 - own, expl, rtol=0, atol=1e-10)


@pytest.mark.parametrize("method, options", [
    ("fixed_point", {"damping": 0.5}),
    ("mirror_descent", {"learning_rate": 0.5}),
])
@given(spec=games(max_states=10, max_horizon=10, coupling="weak"))
@settings(max_examples=10)
def test_other_methods_converge_on_weak_games(method, options, spec):
    result = tabmfirl.solve_equilibrium(spec, temperature=1.0, method=method, max_iter=500,
                                        backend="numba", **options)
    assert result.converged and result.method == method
    _assert_fixed_point(spec, result)


def test_fictitious_play_reduces_exploitability():
    """Fictitious play converges like 1/n: exploitability falls, the residual too."""
    spec = random_game(8, 3, 10, 2, transition_strength=0.05, reward_strength=0.05, rng=4)
    with pytest.warns(ConvergenceWarning, match="increase `max_iter` or `temperature`"):
        result = tabmfirl.solve_equilibrium(spec, temperature=0.5, method="fictitious_play",
                                            max_iter=200, backend="numba")
    history = result.exploitability_history.sum(axis=1)
    assert history[-1] < 0.05 * history[0]
    assert result.residual < 0.05 * result.residual_history[0]
    exact = tabmfirl.solve_equilibrium(spec, temperature=0.5, backend="numba")
    np.testing.assert_allclose(result.policy, exact.policy, rtol=0, atol=0.05)


def test_all_backends_find_the_same_equilibrium(backend):
    spec = random_game(6, 3, 8, 3, transition_strength=0.05, reward_strength=0.05, rng=9)
    result = tabmfirl.solve_equilibrium(spec, temperature=0.8, backend=backend)
    reference = tabmfirl.solve_equilibrium(spec, temperature=0.8, backend="numpy")
    np.testing.assert_allclose(result.policy, reference.policy, rtol=0, atol=1e-10)
    assert result.converged and reference.converged


# ------------------------------------------------ budgets, messages, callback
def test_non_convergence_warns_and_says_what_was_tried():
    spec = random_game(5, 2, 6, 1, transition_strength=0.1, reward_strength=0.1, rng=0)
    with pytest.warns(ConvergenceWarning,
                      match=r"max_iter=2 .*Tried: Anderson .*Increase `max_iter`"):
        result = tabmfirl.solve_equilibrium(spec, max_iter=2)
    assert not result.converged and result.num_iter == 2
    assert "did not converge" in result.message
    with pytest.warns(ConvergenceWarning, match=r"max_iter=2 .*lower `damping`"):
        tabmfirl.solve_equilibrium(spec, max_iter=2, method="fixed_point")


def test_time_budget_stops_the_solve():
    spec = congestion_game(graph_neighbours("grid", 12), 20, 3, congestion=5.0, rng=1)
    with pytest.warns(ConvergenceWarning, match=r"max_seconds=1e-06 reached"):
        result = tabmfirl.solve_equilibrium(spec, temperature=0.05, max_seconds=1e-6,
                                            backend="numba")
    assert not result.converged and result.num_iter == 1


def test_callback_sees_every_iterate():
    spec = random_game(4, 2, 5, 2, transition_strength=0.05, rng=1)
    for method in ("auto", "fixed_point"):
        seen = []
        result = tabmfirl.solve_equilibrium(spec, method=method,
                                            callback=lambda i, info: seen.append((i, info)))
        assert [i for i, _ in seen] == list(range(1, result.num_iter + 1))
        info = seen[-1][1]
        assert set(info) == {"stage", "residual", "flow_residual", "exploitability", "step",
                             "policy", "seconds"}
        assert not info["policy"].flags.writeable and info["policy"].shape == (2, 5, 4, 2)
        if method == "fixed_point":
            assert info["residual"] == result.residual and info["stage"] == "fixed_point"
            np.testing.assert_array_equal(info["exploitability"], result.exploitability)
        else:
            assert info["stage"] == "anderson" and info["flow_residual"] >= 0


@pytest.mark.parametrize("kwargs, match", [
    ({"method": "newton"}, "method must be one of"),
    ({"max_iter": 0}, "max_iter must be a positive integer"),
    ({"max_iter": True}, "max_iter must be a positive integer"),
    ({"tol": 0.0}, "tol must be > 0"),
    ({"max_seconds": 0.0}, "max_seconds must be > 0"),
    ({"damping": 1.5}, r"damping must lie in \(0, 1\]"),
    ({"temperature": 0.0}, "temperature must be finite and > 0"),
])
def test_bad_arguments_are_named(kwargs, match):
    spec = random_game(3, 2, 2, 1, rng=0)
    with pytest.raises(ValueError, match=match):
        tabmfirl.solve_equilibrium(spec, **kwargs)


def test_registry_names():
    assert tabmfirl.EQUILIBRIUM_METHODS[0] == "auto"
    assert tabmfirl.METHODS is tabmfirl.EQUILIBRIUM_METHODS


def test_virus_equilibrium_distances_more_when_cheaper():
    """Sanity of the built-in game: a lower distancing cost means more distancing."""
    from tabmfirl.envs import virus

    result = tabmfirl.solve_equilibrium(virus.make(), temperature=0.5)
    distancing = result.state_action[:, :, virus.SUSCEPTIBLE, virus.DISTANCE].sum(axis=1)
    assert distancing[0] > distancing[1] > distancing[2]
