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

Run: ``python -m pytest validation/test_imitation.py -q -s``.
"""
from __future__ import annotations

import numpy as np
import pytest

mce_irl = pytest.importorskip(
    "imitation.algorithms.mce_irl",
    reason="imitation is not installed (pip install -r validation/requirements.txt)")
base_envs = pytest.importorskip("seals.base_envs", reason="seals (imitation's env package)")

from tabmfirl import (MFGSpec, forward_mean_field, occupancy_measure,  # noqa: E402
                      soft_bellman_backward)

ATOL = 1e-10


def random_mdp(rng, n_states, n_actions, horizon, reward_scale):
    """A random dense MDP: imitation env and the matching tabmfirl spec."""
    P = rng.dirichlet(np.full(n_states, 0.5), size=(n_states, n_actions))
    r = reward_scale * rng.normal(size=n_states)
    mu0 = rng.dirichlet(np.ones(n_states))
    env = base_envs.TabularModelMDP(transition_matrix=P, reward_matrix=r, horizon=horizon,
                                    initial_state_dist=mu0)
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
