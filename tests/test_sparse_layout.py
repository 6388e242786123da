"""``MFGSpec.to_sparse``: the same game in the sparse layout gives the same flows and values."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tabmfirl
from tabmfirl.testing.games import random_game, random_policy


def _sparse_dense_game(S, A, T, K, width, seed, time_varying):
    """A dense transition with at most ``width`` successors per row."""
    rng = np.random.default_rng(seed)
    shape = (T, S, A, S) if time_varying else (S, A, S)
    P = np.zeros(shape)
    for index in np.ndindex(shape[:-1]):
        successors = rng.choice(S, size=rng.integers(1, width + 1), replace=False)
        P[index + (successors,)] = rng.dirichlet(np.ones(successors.size))
    return tabmfirl.MFGSpec(n_states=S, n_actions=A, horizon=T, mu0=rng.dirichlet(np.ones(S)),
                            transition=P, reward=rng.standard_normal((K, S, A)))


@given(S=st.integers(4, 12), A=st.integers(1, 3), T=st.integers(1, 5), K=st.integers(1, 2),
       width=st.integers(1, 2), seed=st.integers(0, 2**31), time_varying=st.booleans(),
       backend=st.sampled_from(["numpy", "numba"]))
def test_sparse_layout_gives_the_dense_flow_and_values(S, A, T, K, width, seed, time_varying,
                                                        backend):
    dense = _sparse_dense_game(S, A, T, K, width, seed, time_varying)
    sparse = dense.to_sparse(max_fill=1.0)
    # the union of the steps' successors
    assert not sparse.is_dense and 1 <= sparse.transition_width <= min(S, width * T)
    # every row still sums to one and points at the dense row's successors
    np.testing.assert_allclose(sparse.transition.sum(-1), 1.0, rtol=0, atol=1e-12)
    policy = random_policy(dense, seed)
    flows = [tabmfirl.forward_mean_field(g, policy, backend=backend) for g in (dense, sparse)]
    np.testing.assert_allclose(flows[1].mean_field, flows[0].mean_field, rtol=0, atol=1e-12)
    np.testing.assert_allclose(flows[1].model.dense_transition(),
                               flows[0].model.dense_transition(), rtol=0, atol=1e-15)
    best = [tabmfirl.soft_bellman_backward(f.model, 0.5, backend=backend) for f in flows]
    np.testing.assert_allclose(best[1].value, best[0].value, rtol=0, atol=1e-10)
    np.testing.assert_allclose(best[1].policy, best[0].policy, rtol=0, atol=1e-12)


def test_full_rows_stay_dense_and_sparse_specs_are_returned_as_is():
    spec = random_game(6, 2, 3, 1, dynamic=False, rng=0)  # Dirichlet rows: every entry > 0
    assert spec.to_sparse() is spec
    sparse = _sparse_dense_game(8, 2, 2, 1, 1, 0, False).to_sparse()
    assert sparse.to_sparse() is sparse


def test_transition_function_cannot_be_made_sparse():
    spec = random_game(4, 2, 3, 1, rng=0)
    assert spec.transition_is_dynamic
    with pytest.raises(ValueError, match="transition function: its sparsity is not known"):
        spec.to_sparse()
