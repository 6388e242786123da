"""Closed-form and brute-force references for the exact solver."""
import itertools

import numpy as np
import pytest

import tabmfirl
from tabmfirl import MFGSpec
from tabmfirl.testing.games import random_game, random_policy


def test_horizon_one_is_a_softmax(backend):
    """T = 1: V_0(s) = beta log sum_a exp(r(s,a)/beta), pi = softmax(r/beta),
    mu_1(s') = sum_{s,a} mu0(s) pi(a|s) P(s'|s,a)."""
    spec = random_game(5, 3, 1, 2, dynamic=False, rng=0)
    beta = 0.7
    result = tabmfirl.solve_equilibrium(spec, temperature=beta, backend=backend)
    r = spec.reward
    expected_value = beta * np.log(np.exp(r / beta).sum(-1))
    expected_policy = np.exp(r / beta) / np.exp(r / beta).sum(-1, keepdims=True)
    np.testing.assert_allclose(result.value[:, 0], expected_value, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(result.policy[:, 0], expected_policy, rtol=1e-12, atol=1e-14)
    expected_next = np.einsum("s,ksa,saj->kj", spec.mu0, expected_policy, spec.transition)
    np.testing.assert_allclose(result.mean_field[:, 1], expected_next, rtol=1e-12, atol=1e-14)
    assert result.converged and result.num_iter == 2


def test_one_action_is_a_markov_chain(backend):
    """A = 1: the only policy; mu_t = mu0 P^t, V_0 = sum_t P^t r, exploitability 0."""
    rng = np.random.default_rng(1)
    S, T = 4, 6
    P = rng.dirichlet(np.ones(S), size=(S, 1))
    r = rng.standard_normal((1, S, 1))
    spec = MFGSpec(n_states=S, n_actions=1, horizon=T, mu0=rng.dirichlet(np.ones(S)),
                   transition=P, reward=r)
    result = tabmfirl.solve_equilibrium(spec, temperature=0.3, backend=backend)
    chain = P[:, 0, :]
    flows = [spec.mu0 @ np.linalg.matrix_power(chain, t) for t in range(T + 1)]
    np.testing.assert_allclose(result.mean_field[0], flows, rtol=1e-12, atol=1e-14)
    value = sum(np.linalg.matrix_power(chain, t) @ r[0, :, 0] for t in range(T))
    np.testing.assert_allclose(result.value[0, 0], value, rtol=1e-12, atol=1e-12)
    assert result.residual == 0.0 and result.exploitability[0] == pytest.approx(0, abs=1e-13)


def _enumerated_return(spec, policy, beta, context=0):
    """E[sum_t r(s_t,a_t) - beta log pi_t(a_t|s_t)] by summing over all trajectories."""
    S, A, T = spec.n_states, spec.n_actions, spec.horizon
    P, r, pi = spec.transition, spec.reward[context], policy[context]
    total = 0.0
    for s0 in range(S):
        for actions in itertools.product(range(A), repeat=T):
            for states in itertools.product(range(S), repeat=T - 1):
                path = (s0,) + states
                prob, gain = spec.mu0[s0], 0.0
                for t in range(T):
                    s, a = path[t], actions[t]
                    prob *= pi[t, s, a]
                    if prob == 0.0:  # a path the policy never takes
                        break
                    gain += r[s, a] - beta * np.log(pi[t, s, a])
                    if t + 1 < T:
                        prob *= P[s, a, path[t + 1]]
                total += prob * gain
    return total


@pytest.mark.parametrize("beta", [0.5, 1.0])
def test_mdp_returns_match_brute_force_enumeration(beta, backend):
    """A game that ignores mu is an MDP: check J_beta by enumerating every trajectory,
    and that the soft Bellman policy beats random policies."""
    spec = random_game(2, 2, 3, 1, dynamic=False, rng=7)
    best = tabmfirl.solve_equilibrium(spec, temperature=beta, backend=backend)
    optimum = _enumerated_return(spec, best.policy, beta)
    assert optimum == pytest.approx(best.value[0, 0] @ spec.mu0, abs=1e-12)
    for seed in range(5):
        policy = random_policy(spec, seed)
        enumerated = _enumerated_return(spec, policy, beta)
        computed = tabmfirl.regularised_return(spec, policy, temperature=beta, backend=backend)
        assert computed[0] == pytest.approx(enumerated, abs=1e-12)
        assert enumerated <= optimum + 1e-12


def test_hard_best_response_matches_brute_force_over_deterministic_policies(backend):
    """beta = 0: the hard Bellman value equals the best of all A^(S*T) Markov policies."""
    spec = random_game(2, 2, 3, 1, dynamic=False, rng=11)
    S, A, T = 2, 2, 3
    model = tabmfirl.forward_mean_field(spec, random_policy(spec, 0)).model
    hard = tabmfirl.soft_bellman_backward(model, 0.0, backend=backend)
    best = -np.inf
    for choice in itertools.product(range(A), repeat=S * T):
        policy = np.eye(A)[np.array(choice).reshape(1, T, S)]
        best = max(best, _enumerated_return(spec, policy, 0.0))
    assert hard.value[0, 0] @ spec.mu0 == pytest.approx(best, abs=1e-12)
