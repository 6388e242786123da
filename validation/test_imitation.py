r"""tabmfirl against imitation 1.0.1's maximum causal entropy IRL primitives.

``imitation.algorithms.mce_irl.mce_partition_fh`` (soft value iteration,
Ziebart 2010, recurrences 9.1-9.3) and ``mce_occupancy_measures`` on random
finite-horizon MDPs equal tabmfirl's :func:`~tabmfirl.soft_bellman_backward`
(temperature 1) and :func:`~tabmfirl.occupancy_measure` / the forward pass of
an :class:`~tabmfirl.MFGSpec` whose ``P`` and ``r`` ignore the mean field.

Conventions matched:

* imitation's ``env.horizon = H`` gives ``V, Q, pi`` with ``H`` rows
  ``t = 0..H-1`` and a visitation ``D`` with ``H + 1`` rows: the same as
  tabmfirl's ``horizon = H`` (tabmfirl's ``value`` has an extra terminal row
  ``V_H = 0``).
* ``discount = 1`` (tabmfirl has no discounting), temperature 1 (imitation has
  no temperature).
* imitation's reward is state-only, ``r(s)``; tabmfirl's ``r[s, a] = r(s)``.
* Other temperatures: soft value iteration at temperature ``beta`` on ``r`` is
  ``beta`` times soft value iteration at temperature 1 on ``r / beta``
  (``V_beta(r) = beta V_1(r / beta)``, same policy), so imitation run on
  ``r / beta`` gives tabmfirl's regularised quantities at ``beta``.

Run: ``python -m pytest validation/test_imitation.py -q -s``.
"""
from __future__ import annotations

import numpy as np
import pytest
from peers import require_peer

mce_irl = require_peer("imitation.algorithms.mce_irl", "imitation")
base_envs = require_peer("seals.base_envs", "seals (imitation's env package)")

from tabmfirl import (  # noqa: E402
    MFGSpec,
    exploitability,
    forward_mean_field,
    occupancy_measure,
    policy_evaluation,
    soft_bellman_backward,
)

ATOL = 1e-10
TEMPERATURES = (0.05, 0.3, 1.0, 5.0)


def random_mdp(rng, n_states, n_actions, horizon, reward_scale, temperature=1.0):
    """A random dense MDP: imitation env (reward ``r / temperature``) and the tabmfirl spec."""
    P = rng.dirichlet(np.full(n_states, 0.5), size=(n_states, n_actions))
    r = reward_scale * rng.normal(size=n_states)
    mu0 = rng.dirichlet(np.ones(n_states))
    env = base_envs.TabularModelMDP(transition_matrix=P, reward_matrix=r / temperature,
                                    horizon=horizon, initial_state_dist=mu0)
    spec = MFGSpec(n_states=n_states, n_actions=n_actions, horizon=horizon, mu0=mu0,
                   transition=P, reward=np.repeat(r[None, :, None], n_actions, axis=2),
                   name="imitation_random_mdp")
    return env, spec


CASES = [(5, 2, 1, 1.0), (7, 3, 12, 1.0), (20, 4, 30, 10.0), (3, 5, 50, 100.0)]


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("n_states,n_actions,horizon,scale", CASES)
def test_soft_values_and_occupancy_match_imitation(n_states, n_actions, horizon, scale,
                                                   backend):
    rng = np.random.default_rng(n_states * 1000 + horizon)
    env, spec = random_mdp(rng, n_states, n_actions, horizon, scale)
    V, Q, pi = mce_irl.mce_partition_fh(env)
    D, _ = mce_irl.mce_occupancy_measures(env, pi=pi)

    uniform = np.full((1, horizon, n_states, n_actions), 1.0 / n_actions)
    model = forward_mean_field(spec, uniform, backend=backend).model
    result = soft_bellman_backward(model, 1.0, backend=backend)
    mu, rho = occupancy_measure(model, result.policy, spec.mu0, backend=backend)
    flow = forward_mean_field(spec, result.policy, backend=backend)

    # another policy: the occupancy of an arbitrary random policy
    other = rng.dirichlet(np.ones(n_actions), size=(horizon, n_states))
    D_other, _ = mce_irl.mce_occupancy_measures(env, pi=other)
    mu_other, _ = occupancy_measure(model, other[None].copy(), spec.mu0, backend=backend)

    errors = {
        "V": np.max(np.abs(result.value[0, :horizon] - V)),
        "Q": np.max(np.abs(result.q[0] - Q)),
        "pi": np.max(np.abs(result.policy[0] - pi)),
        "D": np.max(np.abs(mu[0] - D)),
        "D(flow)": np.max(np.abs(flow.mean_field[0] - D)),
        "D(random pi)": np.max(np.abs(mu_other[0] - D_other)),
    }
    print(f"\n[imitation] S={n_states} A={n_actions} H={horizon} |r|~{scale} ({backend}): "
          + ", ".join(f"{k} {v:.1e}" for k, v in errors.items()))
    np.testing.assert_allclose(result.value[0, horizon], 0.0)
    scale_v = max(1.0, np.max(np.abs(V)))
    np.testing.assert_allclose(result.value[0, :horizon], V, rtol=0, atol=ATOL * scale_v)
    np.testing.assert_allclose(result.q[0], Q, rtol=0, atol=ATOL * scale_v)
    np.testing.assert_allclose(result.policy[0], pi, rtol=0, atol=ATOL)
    np.testing.assert_allclose(mu[0], D, rtol=0, atol=ATOL)
    np.testing.assert_allclose(rho[0].sum(axis=-1), D[:horizon], rtol=0, atol=ATOL)
    np.testing.assert_allclose(flow.mean_field[0], D, rtol=0, atol=ATOL)
    np.testing.assert_allclose(mu_other[0], D_other, rtol=0, atol=ATOL)


@pytest.mark.parametrize("temperature", TEMPERATURES)
@pytest.mark.parametrize("n_states,n_actions,horizon,scale", CASES[1:3])
def test_regularised_quantities_at_temperatures_match_imitation(n_states, n_actions, horizon,
                                                                 scale, temperature):
    r"""Soft optimum, regularised return and exploitability at ``beta`` from imitation.

    imitation on ``r / beta``: ``V_beta = beta V``, ``Q_beta = beta Q``, same
    policy.  The regularised return of a random policy ``pi`` is the entropy
    objective on imitation's occupancy of ``pi``,
    ``J_beta(pi) = sum_t sum_s D_t(s) sum_a pi (r(s) - beta log pi)``, and its
    exploitability is ``sum_s mu0 V_beta(s) - J_beta(pi) >= 0``.
    """
    rng = np.random.default_rng(n_states * 1000 + horizon)
    env, spec = random_mdp(rng, n_states, n_actions, horizon, scale, temperature)
    V, Q, pi_star = mce_irl.mce_partition_fh(env)
    r = spec.reward[0, :, 0]
    other = rng.dirichlet(np.ones(n_actions), size=(horizon, n_states))
    D, _ = mce_irl.mce_occupancy_measures(env, pi=other)
    entropy_objective = np.sum(other * (r[None, :, None] - temperature * np.log(other)), -1)
    J_theirs = float(np.sum(D[:horizon] * entropy_objective))
    E_theirs = temperature * float(V[0] @ spec.mu0) - J_theirs

    uniform = np.full((1, horizon, n_states, n_actions), 1.0 / n_actions)
    model = forward_mean_field(spec, uniform, backend="numpy").model
    optimum = soft_bellman_backward(model, temperature, backend="numpy")
    J_ours = float(policy_evaluation(model, other[None], temperature,
                                     backend="numpy").value[0, 0] @ spec.mu0)
    E_ours = float(exploitability(spec, other[None], temperature=temperature,
                                  backend="numpy")[0])
    scale_v = max(1.0, temperature * np.max(np.abs(V)))
    print(f"\n[imitation beta={temperature}] S={n_states} A={n_actions} H={horizon}: "
          f"|dV| {np.max(np.abs(optimum.value[0, :horizon] - temperature * V)):.1e}, "
          f"|dpi| {np.max(np.abs(optimum.policy[0] - pi_star)):.1e}, J_beta {J_ours:.6g} "
          f"(|d| {abs(J_ours - J_theirs):.1e}), E_beta {E_ours:.6g} "
          f"(|d| {abs(E_ours - E_theirs):.1e})")
    np.testing.assert_allclose(optimum.value[0, :horizon], temperature * V, rtol=0,
                               atol=ATOL * scale_v)
    np.testing.assert_allclose(optimum.q[0], temperature * Q, rtol=0, atol=ATOL * scale_v)
    np.testing.assert_allclose(optimum.policy[0], pi_star, rtol=0, atol=ATOL)
    np.testing.assert_allclose(J_ours, J_theirs, rtol=0, atol=ATOL * scale_v)
    np.testing.assert_allclose(E_ours, E_theirs, rtol=0, atol=ATOL * scale_v)
    assert E_ours >= -1e-12 and E_theirs >= -ATOL * scale_v
