"""The Numba kernels agree with their plain-NumPy twins, and both keep the invariants."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tabmfirl
from tabmfirl.testing.games import random_game, random_policy
from tabmfirl.testing.strategies import games, temperatures

ATOL = 1e-10


def _compare_forward(spec, policy):
    reference = tabmfirl.forward_mean_field(spec, policy, backend="numpy")
    jitted = tabmfirl.forward_mean_field(spec, policy, backend="numba")
    np.testing.assert_allclose(jitted.mean_field, reference.mean_field, rtol=0, atol=ATOL)
    np.testing.assert_allclose(jitted.state_action, reference.state_action, rtol=0, atol=ATOL)
    np.testing.assert_allclose(jitted.model.reward, reference.model.reward, rtol=0, atol=ATOL)
    np.testing.assert_allclose(jitted.model.transition, reference.model.transition, rtol=0,
                               atol=ATOL)
    return reference


def _compare_backward(model, policy, temperature):
    for candidate in (None, policy):
        if candidate is None:
            reference = tabmfirl.soft_bellman_backward(model, temperature, backend="numpy")
            jitted = tabmfirl.soft_bellman_backward(model, temperature, backend="numba")
        else:
            reference = tabmfirl.policy_evaluation(model, candidate, temperature,
                                                   backend="numpy")
            jitted = tabmfirl.policy_evaluation(model, candidate, temperature, backend="numba")
        scale = max(1.0, np.abs(reference.value).max())
        np.testing.assert_allclose(jitted.q, reference.q, rtol=0, atol=ATOL * scale)
        np.testing.assert_allclose(jitted.value, reference.value, rtol=0, atol=ATOL * scale)
        np.testing.assert_allclose(jitted.policy, reference.policy, rtol=0, atol=ATOL)


def _check_invariants(spec, flow, policy, temperature):
    K, T = spec.n_contexts, spec.horizon
    # the flow stays on the simplex
    assert flow.mean_field.min() >= 0
    np.testing.assert_allclose(flow.mean_field.sum(-1), 1.0, rtol=0, atol=1e-12)
    # total occupancy equals the horizon (one unit of mass per step)
    np.testing.assert_allclose(flow.state_action.sum(axis=(1, 2, 3)), np.full(K, T),
                               rtol=0, atol=1e-10)
    best = tabmfirl.soft_bellman_backward(flow.model, temperature, backend="numpy")
    np.testing.assert_allclose(best.policy.sum(-1), 1.0, rtol=0, atol=1e-12)
    assert np.all(best.value[:, T] == 0.0)


@given(spec=games(coupling="strong"), temperature=temperatures,
       seed=st.integers(0, 2**31))
def test_numba_matches_numpy_on_random_games(spec, temperature, seed):
    policy = random_policy(spec, seed)
    flow = _compare_forward(spec, policy)
    _compare_backward(flow.model, policy, temperature)
    _check_invariants(spec, flow, policy, temperature)


@given(spec=games(max_states=12, coupling="strong"), seed=st.integers(0, 2**31))
def test_parallel_kernels_match_numpy(spec, seed):
    from unittest import mock

    from tabmfirl import config
    from tabmfirl.kernels._backend import use_parallel

    policy = random_policy(spec, seed)
    with mock.patch.object(config, "NUM_THREADS", 2):
        assert use_parallel(1)  # the prange variants are the ones under test
        flow = _compare_forward(spec, policy)
        _compare_backward(flow.model, policy, 0.7)


@given(spec=games(max_states=8, coupling="none"), seed=st.integers(0, 2**31))
def test_hard_backup_matches_numpy(spec, seed):
    policy = random_policy(spec, seed)
    flow = _compare_forward(spec, policy)
    _compare_backward(flow.model, policy, 0.0)
    best = tabmfirl.soft_bellman_backward(flow.model, 0.0, backend="numba")
    assert set(np.unique(best.policy)) <= {0.0, 1.0}


@given(spec=games(max_states=10, coupling="strong"), seed=st.integers(0, 2**31))
def test_occupancy_measure_matches_numpy(spec, seed):
    policy = random_policy(spec, seed)
    model = tabmfirl.forward_mean_field(spec, random_policy(spec, seed + 1)).model
    reference = tabmfirl.occupancy_measure(model, policy, spec.mu0, backend="numpy")
    jitted = tabmfirl.occupancy_measure(model, policy, spec.mu0, backend="numba")
    for a, b in zip(jitted, reference):
        np.testing.assert_allclose(a, b, rtol=0, atol=ATOL)
    np.testing.assert_allclose(reference[1].sum(axis=(2, 3)), 1.0, rtol=0, atol=1e-12)


@given(spec=games(max_states=10, coupling="strong"), seed=st.integers(0, 2**31))
def test_evaluate_model_matches_forward(spec, seed):
    """Evaluating the model at a flow gives the tables the forward pass used."""
    flow = tabmfirl.forward_mean_field(spec, random_policy(spec, seed))
    for backend in ("numpy", "numba"):
        model = tabmfirl.evaluate_model(spec, flow.mean_field, flow.state_action,
                                        backend=backend)
        np.testing.assert_allclose(model.reward, flow.model.reward, rtol=0, atol=ATOL)
        np.testing.assert_allclose(model.transition, flow.model.transition, rtol=0, atol=ATOL)


@pytest.mark.parametrize("temperature", [1e-3, 1e-2])
def test_backward_stable_at_small_temperature_large_rewards(temperature, backend):
    """Log-domain soft Bellman: finite values for beta = 1e-3 and rewards up to 1e3."""
    spec = random_game(6, 4, 40, 2, dynamic=False, rng=3)
    reward = 1e3 * np.sign(spec.reward) * np.minimum(1, np.abs(spec.reward))
    model = tabmfirl.forward_mean_field(spec, random_policy(spec, 0)).model.with_reward(
        np.broadcast_to(reward[:, None], (2, 40, 6, 4)))
    soft = tabmfirl.soft_bellman_backward(model, temperature, backend=backend)
    hard = tabmfirl.soft_bellman_backward(model, 0.0, backend=backend)
    assert np.all(np.isfinite(soft.value)) and np.all(np.isfinite(soft.policy))
    np.testing.assert_allclose(soft.policy.sum(-1), 1.0, rtol=0, atol=1e-12)
    # V_soft - V_hard lies in [0, T beta log A]
    gap = soft.value[:, 0] - hard.value[:, 0]
    assert gap.min() >= -1e-9 and gap.max() <= 40 * temperature * np.log(4) + 1e-9


def test_sparse_equals_dense_version_of_same_game():
    """A sparse game and its dense expansion give identical flows and values."""
    sparse = random_game(7, 3, 6, 2, width=3, dynamic=False, rng=5)
    dense_P = np.zeros((7, 3, 7))
    s_idx, a_idx, _ = np.indices(sparse.next_states.shape)
    np.add.at(dense_P, (s_idx, a_idx, sparse.next_states), sparse.transition)
    dense = sparse.replace(transition=dense_P, next_states=None)
    policy = random_policy(sparse, 1)
    for backend in ("numpy", "numba"):
        a = tabmfirl.forward_mean_field(sparse, policy, backend=backend)
        b = tabmfirl.forward_mean_field(dense, policy, backend=backend)
        np.testing.assert_allclose(a.mean_field, b.mean_field, rtol=0, atol=1e-13)
        np.testing.assert_allclose(a.model.dense_transition(), b.model.dense_transition(),
                                   rtol=0, atol=1e-15)
        va = tabmfirl.soft_bellman_backward(a.model, 0.5, backend=backend).value
        vb = tabmfirl.soft_bellman_backward(b.model, 0.5, backend=backend).value
        np.testing.assert_allclose(va, vb, rtol=0, atol=1e-12)


def test_population_coupling_makes_types_see_the_mixture():
    """With population coupling, each type's reward reads the weighted mixture."""
    spec = random_game(4, 2, 3, 2, reward_strength=1.0, rng=2)
    weights = np.array([0.3, 0.7])
    coupled = spec.replace(context_coupling=tabmfirl.population_coupling(weights))
    policy = random_policy(spec, 4)
    flow = tabmfirl.forward_mean_field(coupled, policy, backend="numba")
    mixture = np.einsum("k,kts->ts", weights, flow.mean_field)
    own = tabmfirl.evaluate_model(spec, np.stack([mixture] * 2))
    np.testing.assert_allclose(flow.model.reward, own.reward[:, :3], rtol=0, atol=1e-12)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_one_policy_for_all_contexts_and_read_only_input(backend):
    """A (T, S, A) policy (one context) and a read-only array are accepted."""
    spec = random_game(3, 2, 4, 1, dynamic=False, rng=0)
    policy = random_policy(spec, 1)[0]
    policy.setflags(write=False)
    expl = tabmfirl.exploitability(spec, policy, backend=backend)
    full = tabmfirl.exploitability(spec, policy[None].copy(), backend=backend)
    np.testing.assert_allclose(expl, full, rtol=0, atol=0)


def test_stacked_models_solve_every_game_at_once(backend):
    """Games stacked along the context axis give each game's own backward pass."""
    specs = [random_game(4, 3, 5, k, width=2, dynamic=False, rng=seed)
             for seed, k in ((0, 1), (1, 2))]
    specs[1] = specs[1].replace(next_states=specs[0].next_states)
    models = [tabmfirl.forward_mean_field(s, random_policy(s, 0)).model for s in specs]
    stacked = tabmfirl.EvaluatedModel.stack(models)
    together = tabmfirl.soft_bellman_backward(stacked, 0.6, backend=backend)
    apart = [tabmfirl.soft_bellman_backward(m, 0.6, backend=backend) for m in models]
    np.testing.assert_allclose(together.value, np.concatenate([a.value for a in apart]),
                               rtol=0, atol=1e-14)
    with pytest.raises(ValueError, match="another sparsity pattern"):
        tabmfirl.EvaluatedModel.stack([models[0], models[0].with_reward(
            models[0].reward)] + [tabmfirl.forward_mean_field(
                random_game(4, 3, 5, 1, width=2, dynamic=False, rng=9),
                np.full((5, 4, 3), 1 / 3)).model])
