"""Types that move differently, start differently and read each other's flows (issue 18).

NumPy twin against the Numba kernels on random games (hypothesis), the fixed
point of the default solver, closed-form reductions (independent types are K
games; identical types are one game; ``observation="all_types"`` reading a
weighted mixture is ``context_coupling``), and every new validation error.
The CUDA kernels are checked against the twin in ``tests/test_cuda.py``.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit

import tabmfirl
from tabmfirl import MFGSpec, population_coupling
from tabmfirl.testing import assert_equilibrium
from tabmfirl.testing.games import random_game, random_policy, random_transition
from tabmfirl.testing.strategies import games

TOL = 1e-10
BACKENDS = ("numpy", "numba")


def _compare_flows(spec, policy):
    flows = [tabmfirl.forward_mean_field(spec, policy, backend=b) for b in BACKENDS]
    reference, other = flows
    np.testing.assert_allclose(other.mean_field, reference.mean_field, rtol=0, atol=TOL)
    np.testing.assert_allclose(other.model.reward, reference.model.reward, rtol=0, atol=TOL)
    np.testing.assert_allclose(other.model.dense_transition(),
                               reference.model.dense_transition(), rtol=0, atol=TOL)
    return reference


@given(spec=games(max_states=5, max_actions=3, max_horizon=4, max_contexts=3,
                  per_type_dynamics=True, observations=("mixture", "all_types")),
       seed=st.integers(0, 2**31), temperature=st.sampled_from([0.0, 0.3, 1.0]))
@settings(max_examples=40, deadline=None)
def test_numba_matches_numpy_twin(spec, seed, temperature):
    policy = random_policy(spec, seed)
    flow = _compare_flows(spec, policy)
    # each type starts from its own initial distribution
    np.testing.assert_array_equal(flow.mean_field[:, 0], spec.initial_distribution)
    values = [tabmfirl.exploitability(spec, policy, temperature=temperature, backend=b)
              for b in BACKENDS]
    np.testing.assert_allclose(values[1], values[0], rtol=0, atol=TOL)
    assert np.all(values[0] >= -1e-12) and np.all(np.isfinite(values[0]))
    model = tabmfirl.evaluate_model(spec, flow.mean_field, flow.state_action, backend="numba")
    np.testing.assert_allclose(model.reward, flow.model.reward, rtol=0, atol=TOL)


@given(spec=games(max_states=5, max_actions=3, max_horizon=5, max_contexts=3,
                  per_type_dynamics=True, observations=("mixture", "all_types")),
       temperature=st.sampled_from([0.3, 1.0]))
@settings(max_examples=25, deadline=None)
def test_default_solver_finds_the_fixed_point(spec, temperature):
    """The solver's policy is the soft best response to its own flow, every type."""
    result = tabmfirl.solve_equilibrium(spec, temperature=temperature, backend="numba")
    assert result.converged
    assert_equilibrium(spec, result.policy, temperature, atol=1e-8)


# ------------------------------------------------------------------ closed form
def _one_type(spec, m):
    """Type ``m`` of a game of arrays whose types do not interact, as a one-type game."""
    transition = spec.transition[m] if spec.transition_by_context else spec.transition
    return MFGSpec(n_states=spec.n_states, n_actions=spec.n_actions, horizon=spec.horizon,
                   mu0=spec.initial_distribution[m], transition=transition,
                   reward=spec.reward[m:m + 1], next_states=spec.next_states)


@pytest.mark.parametrize("width", [None, 2])
def test_independent_types_are_separate_games(width):
    """Types with their own dynamics and no interaction: K independent MDPs."""
    spec = random_game(5, 3, 4, 3, dynamic=False, per_type_dynamics=True, width=width, rng=4)
    assert spec.transition_by_context and spec.initial_distribution.shape == (3, 5)
    assert not np.allclose(spec.transition[0], spec.transition[1])
    joint = tabmfirl.solve_equilibrium(spec, temperature=0.5, backend="numba")
    policy = random_policy(spec, 2)
    flow = tabmfirl.forward_mean_field(spec, policy, backend="numba")
    for m in range(3):
        single = _one_type(spec, m)
        alone = tabmfirl.solve_equilibrium(single, temperature=0.5, backend="numba")
        np.testing.assert_allclose(joint.policy[m], alone.policy[0], rtol=0, atol=1e-13)
        np.testing.assert_allclose(joint.mean_field[m], alone.mean_field[0], rtol=0,
                                   atol=1e-13)
        alone_flow = tabmfirl.forward_mean_field(single, policy[m:m + 1], backend="numba")
        np.testing.assert_allclose(flow.mean_field[m], alone_flow.mean_field[0], rtol=0,
                                   atol=1e-14)


@njit(cache=True)
def _shared_as_per_type(t, observed, context, params, out):
    """:func:`random_transition` behind the per-type signature (ignores the type)."""
    random_transition(t, observed, params, out)


def test_identical_types_are_one_game():
    """Per-type dynamics and initial distributions that are all equal: the shared game."""
    shared = random_game(5, 2, 4, 3, transition_strength=0.3, reward_strength=0.3, rng=8)
    K = shared.n_contexts
    model = tabmfirl.evaluate_model(shared, np.broadcast_to(shared.initial_distribution[:, None],
                                                            (K, 5, 5)))
    stacked = np.stack([model.transition_at(0, 0)] * K)     # shared.transition is a function
    as_types = shared.replace(transition=_shared_as_per_type, transition_by_context=True,
                              mu0=shared.initial_distribution.copy())
    assert not as_types.shares_dynamics and shared.shares_dynamics
    for backend in BACKENDS:
        a = tabmfirl.solve_equilibrium(shared, temperature=0.4, backend=backend)
        b = tabmfirl.solve_equilibrium(as_types, temperature=0.4, backend=backend)
        np.testing.assert_allclose(b.policy, a.policy, rtol=0, atol=1e-13)
        np.testing.assert_allclose(b.mean_field, a.mean_field, rtol=0, atol=1e-13)
    # a stacked array of the one table is the same game too
    static = shared.replace(transition=stacked, transition_by_context=True)
    static_shared = shared.replace(transition=stacked[0])
    a = tabmfirl.solve_equilibrium(static_shared, temperature=0.4, backend="numba")
    b = tabmfirl.solve_equilibrium(static, temperature=0.4, backend="numba")
    np.testing.assert_allclose(b.policy, a.policy, rtol=0, atol=1e-13)


@njit(cache=True)
def _population_crowd(t, observed, context, params, out):
    """All-types observation: penalty ``-c * sum_m' w_m' mu(s | m')`` (a mixture)."""
    S, A = out.shape
    K = observed.shape[0] // S
    for s in range(S):
        crowd = 0.0
        for j in range(K):
            crowd += params[1 + j] * observed[j * S + s]
        for a in range(A):
            out[s, a] = -params[0] * crowd + 0.1 * (context + 1) * a


@njit(cache=True)
def _mixture_crowd(t, observed, context, params, out):
    """Mixture observation: the same penalty, the mixture built by the coupling."""
    S, A = out.shape
    for s in range(S):
        for a in range(A):
            out[s, a] = -params[0] * observed[s] + 0.1 * (context + 1) * a


def test_all_types_reading_a_mixture_is_the_coupling():
    """A reward that mixes the stack itself equals the same reward under context_coupling."""
    rng = np.random.default_rng(0)
    S, A, K, T = 4, 2, 3, 5
    weights = np.array([0.2, 0.5, 0.3])
    P = rng.dirichlet(np.ones(S), size=(K, S, A))
    mu0 = rng.dirichlet(np.ones(S), size=K)
    common = dict(n_states=S, n_actions=A, horizon=T, mu0=mu0, transition=P, n_contexts=K,
                  transition_by_context=True)
    stack = MFGSpec(reward=_population_crowd, params=np.concatenate([[2.0], weights]),
                    observation="all_types", **common)
    mixture = MFGSpec(reward=_mixture_crowd, params=[2.0],
                      context_coupling=population_coupling(weights), **common)
    for backend in BACKENDS:
        a = tabmfirl.solve_equilibrium(mixture, temperature=0.3, backend=backend)
        b = tabmfirl.solve_equilibrium(stack, temperature=0.3, backend=backend)
        assert a.converged and b.converged
        np.testing.assert_allclose(b.policy, a.policy, rtol=0, atol=1e-12)


@njit(cache=True)
def _predator_prey_reward(t, observed, context, params, out):
    """Type 0 (predator) likes type 1's presence; type 1 (prey) avoids type 0's."""
    S, A = out.shape
    other = 1 - context
    sign = 1.0 if context == 0 else -1.0
    for s in range(S):
        for a in range(A):
            out[s, a] = sign * params[0] * observed[other * S + s]


def _ring_moves(S, speed):
    """Moves -speed, 0, +speed on a ring, as a dense (S, 3, S) transition."""
    P = np.zeros((S, 3, S))
    for s in range(S):
        for a, step in enumerate((-speed, 0, speed)):
            P[s, a, (s + step) % S] = 1.0
    return P


def test_predator_prey_reads_the_other_population():
    """Each type's reward at the equilibrium reads the other type's flow, and only it."""
    S = 6
    P = np.stack([_ring_moves(S, 2), _ring_moves(S, 1)])     # fast predator, slow prey
    mu0 = np.array([np.eye(S)[0], np.eye(S)[3]])
    spec = MFGSpec(n_states=S, n_actions=3, horizon=6, mu0=mu0, transition=P,
                   reward=_predator_prey_reward, n_contexts=2, params=[1.0],
                   transition_by_context=True, observation="all_types")
    result = tabmfirl.solve_equilibrium(spec, temperature=0.2, backend="numba")
    assert result.converged
    assert_equilibrium(spec, result.policy, 0.2, atol=1e-8)
    model = tabmfirl.forward_mean_field(spec, result.policy, backend="numpy").model
    mf = result.mean_field
    np.testing.assert_allclose(model.reward[0], np.repeat(mf[1, :-1, :, None], 3, axis=-1),
                               rtol=0, atol=1e-14)
    np.testing.assert_allclose(model.reward[1], -np.repeat(mf[0, :-1, :, None], 3, axis=-1),
                               rtol=0, atol=1e-14)
    # the predator moves two cells a step: from state 0 it reaches only even states at t=1
    assert np.all(mf[0, 1, [1, 3, 5]] == 0.0) and mf[0, 1, [0, 2, 4]].sum() == pytest.approx(1)


def test_occupancy_and_evaluate_step_per_type():
    spec = random_game(4, 2, 3, 2, dynamic=False, per_type_dynamics=True, rng=1)
    policy = random_policy(spec, 0)
    flow = tabmfirl.forward_mean_field(spec, policy, backend="numpy")
    for backend in ("numpy", "numba"):
        mean_field, _ = tabmfirl.occupancy_measure(flow.model, policy, spec.initial_distribution,
                                                   backend=backend)
        np.testing.assert_allclose(mean_field, flow.mean_field, rtol=0, atol=1e-14)
    transition, _ = tabmfirl.evaluate_step(spec, 1, flow.mean_field[:, 1])
    np.testing.assert_array_equal(transition, spec.transition)
    with pytest.raises(ValueError, match=r"mu0 must have shape \(4,\) or \(2, 4\)"):
        tabmfirl.occupancy_measure(flow.model, policy, np.full((3, 4), 0.25))


def test_sparse_per_type_layout_is_the_same_game():
    spec = random_game(6, 2, 3, 2, dynamic=False, per_type_dynamics=True, width=2, rng=5)
    dense = tabmfirl.evaluate_model(spec, np.full((2, 4, 6), 1 / 6)).dense_transition()
    as_dense = spec.replace(next_states=None, transition=dense[:, 0])
    sparse = as_dense.to_sparse()
    assert not sparse.is_dense and sparse.transition.shape[0] == 2
    policy = random_policy(spec, 3)
    a = tabmfirl.forward_mean_field(as_dense, policy, backend="numba")
    b = tabmfirl.forward_mean_field(sparse, policy, backend="numba")
    np.testing.assert_allclose(b.mean_field, a.mean_field, rtol=0, atol=1e-14)


def test_save_and_load_per_type_game(tmp_path):
    spec = random_game(3, 2, 3, 2, dynamic=False, per_type_dynamics=True, rng=2)
    loaded = tabmfirl.load_spec(tabmfirl.save_spec(spec, tmp_path / "game.npz"))
    assert loaded.transition_by_context
    np.testing.assert_array_equal(loaded.transition, spec.transition)
    np.testing.assert_array_equal(loaded.mu0, spec.mu0)


# ------------------------------------------------------------------ bad input
def _valid(**changes):
    P = np.full((2, 3, 1, 3), 1 / 3)
    values = dict(n_states=3, n_actions=1, horizon=2, mu0=np.full((2, 3), 1 / 3),
                  transition=P, reward=np.zeros((2, 3, 1)), transition_by_context=True)
    values.update(changes)
    return values


@pytest.mark.parametrize("changes, message", [
    (dict(mu0=np.full((3, 3), 1 / 3)), "mu0 has 3 rows .* n_contexts=2"),
    (dict(mu0=np.array([[1.0, 0, 0], [0.5, 0.4, 0]])), r"mu0 is not stochastic.*\(1,\)"),
    (dict(mu0=np.array([[1.0, 0, 0], [1.5, -0.5, 0]])), "mu0 has a negative probability"),
    (dict(mu0=np.array([[1.0, 0, 0], [np.nan, 0, 1]])), "mu0 has a non-finite entry"),
    (dict(mu0=np.full((2, 2, 3), 1 / 3)), r"mu0 must have shape \(n_states,\)"),
    (dict(transition=np.full((3, 3, 1, 3), 1 / 3)), "transition has 3 types .* n_contexts=2"),
    (dict(transition=np.full((3, 1, 3), 1 / 3)),
     "transition_by_context=True must have shape"),
    (dict(transition=np.full((2, 2, 3, 1, 3), 1 / 3), transition_by_context=False),
     "a transition per type needs transition_by_context=True"),
    (dict(transition=np.full((2, 2, 3, 1, 3), 0.5)), "transition is not stochastic"),
    (dict(transition_by_context="yes"), "transition_by_context must be True or False"),
    (dict(observation="everyone"), "observation must be one of"),
    (dict(observation="all_types", context_coupling=np.eye(2)),
     "context_coupling cannot be combined with observation='all_types'"),
])
def test_bad_input_names_the_problem(changes, message):
    with pytest.raises(ValueError, match=message):
        MFGSpec(**_valid(**changes))


def _bad_for_type_one(t, observed, context, params, out):
    for s in range(out.shape[0]):
        out[s, 0, :] = 0.0
        out[s, 0, 0] = 1.0 if context == 0 else 2.0


def test_transition_function_per_type_checked_at_construction():
    with pytest.raises(ValueError, match="transition function at t=0, context 1"):
        MFGSpec(**_valid(transition=_bad_for_type_one))


def _bad_after_start(t, observed, context, params, out):
    for s in range(out.shape[0]):
        out[s, 0, :] = 0.0
        out[s, 0, 0] = 1.0 if (context == 0 or t != 1) else 2.0


@pytest.mark.parametrize("backend", BACKENDS)
def test_bad_per_type_table_in_the_kernels_names_the_type(backend):
    """Checked at mu0 (fine), the function turns bad later: the kernels name type and step."""
    spec = MFGSpec(**_valid(transition=_bad_after_start, horizon=3))
    with pytest.raises(ValueError, match="context 1, step 1"):
        tabmfirl.forward_mean_field(spec, np.ones((2, 3, 3, 1)), backend=backend)


def _reads_the_stack(t, observed, context, params, out):
    out[:, :] = observed.shape[0]


def test_all_types_functions_receive_every_flow():
    spec = MFGSpec(**_valid(reward=_reads_the_stack, n_contexts=2, observation="all_types"))
    assert spec.observed_dim == 6 and spec.mean_field_dim == 3
    for backend in BACKENDS:
        flow = tabmfirl.forward_mean_field(spec, np.ones((2, 2, 3, 1)), backend=backend)
        np.testing.assert_array_equal(flow.model.reward, 6.0)


def test_to_mfglib_refuses_per_type_games_before_importing_it():
    from tabmfirl.interop import to_mfglib

    spec = random_game(3, 2, 3, 2, dynamic=False, per_type_dynamics=True, rng=0)
    with pytest.raises(ValueError, match="transition_by_context=True, mu0 of shape"):
        to_mfglib(spec)


def _typed_game():
    return random_game(5, 3, 6, 3, transition_strength=0.05, reward_strength=0.05,
                       per_type_dynamics=True, observation="all_types", rng=11)


@pytest.mark.parametrize("method", ["auto", "fixed_point", "mirror_descent"])
def test_every_solver_finds_the_same_equilibrium(method):
    """Every equilibrium method on a game whose types move differently and read each other."""
    spec = _typed_game()
    reference = tabmfirl.solve_equilibrium(spec, temperature=0.5, backend="numpy")
    result = tabmfirl.solve_equilibrium(spec, temperature=0.5, method=method, max_iter=5000,
                                        tol=1e-11, backend="numba")
    assert reference.converged and result.converged, result.message
    assert_equilibrium(spec, result.policy, 0.5, atol=1e-8)
    np.testing.assert_allclose(result.policy, reference.policy, rtol=0, atol=1e-8)


def test_fictitious_play_approaches_it_at_its_rate():
    """Fictitious play's averaged policy converges like 1/n (slowly): checked at its rate."""
    spec = _typed_game()
    reference = tabmfirl.solve_equilibrium(spec, temperature=0.5, backend="numba")
    distances = []
    for n in (250, 1000):
        with pytest.warns(tabmfirl.ConvergenceWarning):
            result = tabmfirl.solve_equilibrium(spec, temperature=0.5, method="fictitious_play",
                                                max_iter=n, tol=1e-12, backend="numba")
        distances.append(np.abs(result.policy - reference.policy).max())
        assert 0.0 < distances[-1] < 5.0 / n
        assert np.all(result.exploitability >= -1e-12)
    assert distances[1] < distances[0] / 3      # the 1/n rate, not a plateau
