"""Property-based tests of the equilibria the solvers claim to find."""
import warnings

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tabmfirl
from tabmfirl import ConvergenceWarning
from tabmfirl.testing.games import random_game, random_policy
from tabmfirl.testing.strategies import games, temperatures


def _assert_fixed_point(spec, result, atol=1e-8):
    """Check, with the NumPy twin, that the returned pair is an ERMFNE."""
    flow = tabmfirl.forward_mean_field(spec, result.policy, backend="numpy")
    np.testing.assert_allclose(result.mean_field, flow.mean_field, rtol=0, atol=atol)
    best = tabmfirl.soft_bellman_backward(flow.model, result.temperature, backend="numpy")
    np.testing.assert_allclose(result.policy, best.policy, rtol=0, atol=atol)
    expl = tabmfirl.exploitability(spec, result.policy, temperature=result.temperature,
                                   backend="numpy")
    assert np.all(expl >= -1e-12) and np.all(expl < 1e-8)


@given(spec=games(coupling="weak"), temperature=temperatures)
def test_weak_coupling_converges_to_a_fixed_point(spec, temperature):
    result = tabmfirl.solve_equilibrium(spec, temperature=temperature, max_iter=300,
                                        backend="numba")
    assert result.converged, (result.residual, result.num_iter)
    _assert_fixed_point(spec, result)
    assert result.residual_history[-1] == result.residual < 1e-10
    assert result.exploitability_history.shape == (result.num_iter, spec.n_contexts)


@given(spec=games(max_states=10, max_horizon=8, coupling="strong"), temperature=temperatures)
@settings(max_examples=15)
def test_strong_coupling_reported_convergence_is_true(spec, temperature):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        result = tabmfirl.solve_equilibrium(spec, temperature=temperature, max_iter=60,
                                            damping=0.5, backend="numba")
    if result.converged:
        _assert_fixed_point(spec, result)
    else:
        assert result.residual >= 1e-10 and result.num_iter == 60


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
    assert result.num_iter == reference.num_iter


def test_non_convergence_warns_and_names_the_knob():
    spec = random_game(5, 2, 6, 1, transition_strength=0.1, reward_strength=0.1, rng=0)
    with pytest.warns(ConvergenceWarning, match=r"max_iter=2 .*increase `max_iter`"):
        result = tabmfirl.solve_equilibrium(spec, max_iter=2)
    assert not result.converged and result.num_iter == 2


def test_callback_sees_every_iterate():
    spec = random_game(4, 2, 5, 2, transition_strength=0.05, rng=1)
    seen = []
    result = tabmfirl.solve_equilibrium(
        spec, callback=lambda i, residual, expl: seen.append((i, residual, expl.copy())))
    assert [i for i, _, _ in seen] == list(range(1, result.num_iter + 1))
    assert seen[-1][1] == result.residual


def test_virus_equilibrium_distances_more_when_cheaper():
    """Sanity of the built-in game: a lower distancing cost means more distancing."""
    from tabmfirl.envs import virus

    result = tabmfirl.solve_equilibrium(virus.make(), temperature=0.5)
    distancing = result.state_action[:, :, virus.SUSCEPTIBLE, virus.DISTANCE].sum(axis=1)
    assert distancing[0] > distancing[1] > distancing[2]
