"""Reward error up to potential-based shaping (tabmfirl.evaluation._shaping)."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tabmfirl
from tabmfirl import envs
from tabmfirl.evaluation._shaping import shaping_matrix, shaping_residual
from tabmfirl.testing.games import random_game


def _random_mdp(rng, T, S, A, W=None):
    """Random dynamics over all states (dense) or ``W`` successors of each (s, a)."""
    if W is None:
        return rng.dirichlet(np.ones(S), size=(T, S, A)), None
    next_states = np.stack([[rng.choice(S, W, replace=False) for _ in range(A)]
                            for _ in range(S)])
    return rng.dirichlet(np.ones(W), size=(T, S, A)), next_states


def _dense_shaping(potential, transition, next_states):
    """F_t(s, a) = phi_t(s) - sum_s' P_t(s'|s,a) phi_{t+1}(s'), plainly."""
    T, S, A, W = transition.shape
    F = np.zeros((T, S, A))
    for t in range(T):
        for s in range(S):
            for a in range(A):
                succ = np.arange(S) if next_states is None else next_states[s, a]
                F[t, s, a] = potential[t, s] - transition[t, s, a] @ potential[t + 1, succ]
    return F


def _dense_residual(difference, transition, next_states, weights):
    """The least-squares problem with a dense matrix built column by column (NumPy twin)."""
    T, S, A = difference.shape
    columns = []
    for t in range(T):
        for s in range(S):
            unit = np.zeros((T + 1, S))
            unit[t, s] = 1.0
            columns.append(_dense_shaping(unit, transition, next_states).ravel())
    matrix = np.stack(columns, axis=1)
    root = np.sqrt(weights.ravel())
    solution = np.linalg.lstsq(root[:, None] * matrix, root * difference.ravel(), rcond=None)[0]
    residual = root * (difference.ravel() - matrix @ solution)
    return np.sqrt(residual @ residual / T)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 6), st.integers(1, 5), st.integers(1, 4), st.booleans(),
       st.integers(0, 2**32 - 1))
def test_matches_the_dense_numpy_twin(T, S, A, sparse, seed):
    rng = np.random.default_rng(seed)
    W = min(S, 2) if sparse else None
    transition, next_states = _random_mdp(rng, T, S, A, W)
    np.testing.assert_allclose(
        shaping_matrix(transition, next_states).toarray(),
        np.stack([_dense_shaping(np.vstack([np.eye(T * S)[i].reshape(T, S), np.zeros((1, S))]),
                                 transition, next_states).ravel()
                  for i in range(T * S)], axis=1),
        atol=1e-15)
    difference = rng.normal(size=(T, S, A))
    weights = rng.uniform(0.0, 1.0, size=(T, S, A)) * (rng.uniform(size=(T, S, 1)) > 0.2)
    got, _ = shaping_residual(difference, transition, next_states, weights)
    assert got == pytest.approx(_dense_residual(difference, transition, next_states, weights),
                                rel=1e-7, abs=1e-10)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 8), st.integers(1, 6), st.integers(1, 4), st.integers(0, 2**32 - 1))
def test_a_planted_shaping_term_costs_nothing(T, S, A, seed):
    rng = np.random.default_rng(seed)
    transition, next_states = _random_mdp(rng, T, S, A)
    potential = np.vstack([rng.normal(scale=5.0, size=(T, S)), np.zeros((1, S))])
    shaping = _dense_shaping(potential, transition, None)
    weights = rng.uniform(0.1, 1.0, size=(T, S, A))
    residual, found = shaping_residual(shaping, transition, next_states, weights)
    assert 0.0 <= residual < 1e-8
    np.testing.assert_allclose(found, potential, atol=1e-6)


def test_a_reward_that_changes_the_policy_costs_something():
    # one step, two actions: shaping is a constant per state, so a difference
    # between the actions' rewards is not shaping; residual = its weighted spread
    transition = np.ones((1, 1, 2, 1))
    difference = np.array([[[1.0, -1.0]]])
    residual, _ = shaping_residual(difference, transition, None, np.full((1, 1, 2), 0.5))
    assert residual == pytest.approx(1.0, rel=1e-10)


def test_states_without_weight_are_not_identified():
    rng = np.random.default_rng(0)
    transition, _ = _random_mdp(rng, 3, 4, 2)
    difference = np.zeros((3, 4, 2))
    difference[:, 3] = rng.normal(size=(3, 2))     # only on state 3, never visited
    weights = np.ones((3, 4, 2))
    weights[:, 3] = 0.0
    residual, _ = shaping_residual(difference, transition, None, weights)
    assert 0.0 <= residual < 1e-10


def _experts(spec, temperature=0.5):
    return tabmfirl.solve_equilibrium(spec, temperature=temperature, backend="numpy")


def test_relative_error_of_the_truth_and_of_zero():
    spec = random_game(5, 3, 6, 2, transition_strength=1.0, reward_strength=1.0,
                       rng=np.random.default_rng(3))
    expert = _experts(spec)
    true_model = tabmfirl.evaluate_model(spec, expert.mean_field, backend="numpy")
    truth = tabmfirl.reward_error_up_to_shaping(true_model, true_model, expert.mean_field,
                                                expert.policy)
    assert np.all((truth >= 0.0) & (truth < 1e-8))
    zero = tabmfirl.EvaluatedModel(true_model.transition, true_model.slice_index,
                                   np.zeros_like(true_model.reward), true_model.next_states)
    np.testing.assert_allclose(
        tabmfirl.reward_error_up_to_shaping(true_model, zero, expert.mean_field, expert.policy),
        1.0, rtol=1e-8)


def test_evaluate_reward_reports_it_and_catches_a_wrong_type():
    """The true reward scores ~0; the true rewards with the types swapped do not."""
    spec = envs.make("virus", types=2, horizon=6)
    expert = _experts(spec)
    ev = tabmfirl.evaluate_reward(spec, spec.reward, temperature=0.5, expert=expert,
                                  backend="numpy")
    assert np.all((ev.reward_error >= 0.0) & (ev.reward_error < 1e-8))
    swapped = tabmfirl.evaluate_reward(spec, spec.reward, type_map=[1, 0], temperature=0.5,
                                       expert=expert, backend="numpy")
    assert np.all(swapped.reward_error > 0.05)


def test_shape_mismatch_is_refused():
    spec = random_game(3, 2, 2, 2, rng=np.random.default_rng(0))
    expert = _experts(spec)
    model = tabmfirl.evaluate_model(spec, expert.mean_field, backend="numpy")
    other = tabmfirl.EvaluatedModel(model.transition, model.slice_index[:1], model.reward[:1],
                                    model.next_states)
    with pytest.raises(ValueError, match="shape"):
        tabmfirl.reward_error_up_to_shaping(model, other, expert.mean_field, expert.policy)
