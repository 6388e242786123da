"""CUDA kernels against the NumPy twin (run with NUMBA_ENABLE_CUDASIM=1 on a CPU).

``.ci/run`` runs this module in its own pytest process with the simulator on;
in the plain pass it is skipped (module level) unless a GPU is present.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tabmfirl.kernels._backend import cuda_is_usable

if not cuda_is_usable():
    pytest.skip("no CUDA device and NUMBA_ENABLE_CUDASIM is not set", allow_module_level=True)

import tabmfirl  # noqa: E402
from tabmfirl import config  # noqa: E402
from tabmfirl.testing.games import random_game, random_policy  # noqa: E402
from tabmfirl.testing.strategies import games  # noqa: E402


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch):
    """Tiny blocks so that small games span several of them."""
    monkeypatch.setattr(config, "CUDA_THREADS_PER_BLOCK", 4)


@given(spec=games(max_states=5, max_actions=3, max_horizon=4, coupling="none",
                  per_type_dynamics=True),
       temperature=st.sampled_from([0.0, 0.4, 1.5]), seed=st.integers(0, 2**31))
@settings(max_examples=16, deadline=None)
def test_cuda_matches_numpy_on_random_games(spec, temperature, seed):
    policy = random_policy(spec, seed)
    reference = tabmfirl.forward_mean_field(spec, policy, backend="numpy")
    device = tabmfirl.forward_mean_field(spec, policy, backend="cuda")
    np.testing.assert_allclose(device.mean_field, reference.mean_field, rtol=0, atol=1e-12)
    np.testing.assert_allclose(device.state_action, reference.state_action, rtol=0,
                               atol=1e-12)
    for candidate in (None, policy):
        if candidate is None:
            a = tabmfirl.soft_bellman_backward(reference.model, temperature, backend="numpy")
            b = tabmfirl.soft_bellman_backward(reference.model, temperature, backend="cuda")
        else:
            a = tabmfirl.policy_evaluation(reference.model, policy, temperature,
                                           backend="numpy")
            b = tabmfirl.policy_evaluation(reference.model, policy, temperature,
                                           backend="cuda")
        np.testing.assert_allclose(b.q, a.q, rtol=0, atol=1e-10)
        np.testing.assert_allclose(b.value, a.value, rtol=0, atol=1e-10)
        np.testing.assert_allclose(b.policy, a.policy, rtol=0, atol=1e-10)


def test_cuda_solves_mean_field_dependent_game():
    """Dynamic games: forward on the CPU, backward on the device; same equilibrium."""
    spec = random_game(4, 2, 3, 2, transition_strength=0.1, reward_strength=0.1, width=2,
                       rng=3)
    device = tabmfirl.solve_equilibrium(spec, temperature=0.7, backend="cuda")
    reference = tabmfirl.solve_equilibrium(spec, temperature=0.7, backend="numpy")
    assert device.backend == "cuda" and device.converged
    np.testing.assert_allclose(device.policy, reference.policy, rtol=0, atol=1e-10)


def test_cuda_occupancy_measure_sparse():
    spec = random_game(5, 2, 3, 2, width=3, dynamic=False, rng=8)
    model = tabmfirl.forward_mean_field(spec, random_policy(spec, 0), backend="numpy").model
    policy = random_policy(spec, 1)
    a = tabmfirl.occupancy_measure(model, policy, spec.mu0, backend="numpy")
    b = tabmfirl.occupancy_measure(model, policy, spec.mu0, backend="cuda")
    np.testing.assert_allclose(b[1], a[1], rtol=0, atol=1e-12)


def test_auto_never_picks_the_simulator():
    from numba import config as numba_config

    if numba_config.ENABLE_CUDASIM:
        assert tabmfirl.kernels._backend.resolve_backend("auto") == "numba"


@given(spec=games(max_states=4, max_actions=3, max_horizon=3, max_contexts=3,
                  per_type_dynamics=True, observations=("mixture", "all_types")),
       seed=st.integers(0, 2**31))
@settings(max_examples=8, deadline=None)
def test_cuda_per_type_dynamics_and_all_types(spec, seed):
    """Types that move differently and read each other's flows: same equilibrium as NumPy."""
    device = tabmfirl.solve_equilibrium(spec, temperature=0.7, backend="cuda")
    reference = tabmfirl.solve_equilibrium(spec, temperature=0.7, backend="numpy")
    assert device.converged == reference.converged
    np.testing.assert_allclose(device.policy, reference.policy, rtol=0, atol=1e-10)
    policy = random_policy(spec, seed)
    np.testing.assert_allclose(tabmfirl.exploitability(spec, policy, temperature=0.7,
                                                       backend="cuda"),
                               tabmfirl.exploitability(spec, policy, temperature=0.7,
                                                       backend="numpy"), rtol=0, atol=1e-10)
