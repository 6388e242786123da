r"""MFGLib helpers for the cross-checks: iterates, frozen games, per-type returns.

Shared by ``test_mfglib.py`` and ``test_mfglib_types.py``; imports torch and
MFGLib, so only the test modules that already required them import it.  The
conversions themselves (the product game over (type, state) pairs, the
entropy-regularised game ``r - beta log pi``, array layouts) are
:mod:`tabmfirl.interop`, whose module docstring states them.

For a policy with full support on a flow with full support, MFGLib's
``QFn(entropy_regularised(env, beta), L).for_policy(pi)`` is
``Q'_t = Q^\pi_{\beta,t} - \beta \log \pi_t`` with ``Q^\pi_\beta`` tabmfirl's
regularised Q (:func:`tabmfirl.policy_evaluation`), and ``sum_a pi Q'`` is
tabmfirl's regularised value ``V^\pi_\beta``.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from peers import require_peer

torch = require_peer("torch", "torch (MFGLib needs it)")
Environment = require_peer("mfglib.env", "MFGLib").Environment

from tabmfirl.interop import array_from_mfglib  # noqa: E402

torch.set_default_dtype(torch.float64)
# MFGLib's Q functions are loops over small tensors: one thread is several times
# faster than two contending threads on the shared 2-core machine.
torch.set_num_threads(1)


def mfglib_iterates(algorithm, env: Environment, n_iter: int) -> list:
    """MFGLib's iterates ``pi_0 .. pi_{n-1}`` of ``algorithm`` from the uniform policy.

    The steps of ``algorithm.solve`` without its per-iterate exploitability
    (``init_state`` and ``step_next_state`` are MFGLib's algorithm itself).
    """
    pi = torch.ones((env.T + 1,) + tuple(env.S) + tuple(env.A)) / env.n_actions
    state = algorithm.init_state(env, pi)
    iterates = [state.pi]
    for _ in range(n_iter - 1):
        state = algorithm.step_next_state(state, None, None)
        iterates.append(state.pi)
    return iterates


def frozen(env: Environment, L: torch.Tensor, temperature: float,
           policy: torch.Tensor) -> Environment:
    r"""``env`` frozen at the flow ``L``, paying ``-beta log policy`` (an MDP).

    MFGLib's ``QFn(frozen(env, L, beta, pi'), L).for_policy(pi')`` is then the
    regularised Q of ``pi'`` in the model frozen at ``L`` (minus ``beta log pi'``):
    what a deviating agent gets while the population plays the policy of ``L``.
    """
    def reward_fn(_, t, __):
        base = env.reward(t, L[t])
        return base if temperature == 0 else base - temperature * torch.log(policy[t])

    return Environment(T=env.T, S=env.S, A=env.A, mu0=env.mu0, r_max=env.r_max,
                       reward_fn=reward_fn, transition_fn=lambda _, t, __: env.prob(t, L[t]))


def per_type_return(q: torch.Tensor, policy: torch.Tensor, mu0: np.ndarray,
                    n_types: int) -> np.ndarray:
    r"""``J_m = sum_s mu0(s) sum_a pi_0(a | m, s) Q_0((m, s), a)`` from MFGLib's ``Q``."""
    value0 = array_from_mfglib((policy[0] * q[0]).sum(-1)[None], n_types)[:, 0]   # (K, S)
    return value0 @ np.asarray(mu0)


def per_type_best(q: torch.Tensor, mu0: np.ndarray, n_types: int) -> np.ndarray:
    r"""``sum_s mu0(s) max_a Q*_0((m, s), a)`` per type from MFGLib's optimal ``Q``."""
    best0 = array_from_mfglib(q[0].max(dim=-1)[0][None], n_types)[:, 0]
    return best0 @ np.asarray(mu0)


def action_spread(q: torch.Tensor) -> float:
    r"""``max_{t, x} (max_a q - min_a q)``: 0 when ``q`` is constant across actions."""
    flat = q.reshape(q.shape[0], -1, q.shape[-1])
    return float((flat.max(dim=-1)[0] - flat.min(dim=-1)[0]).max())


def smallest_positive_gap(q: torch.Tensor, floor: float = 1e-12) -> float:
    r"""Smallest gap ``max_a q - q(a)`` above ``floor`` over all ``(t, x, a)``.

    Exact ties (gap 0) are split uniformly by MFGLib's greedy policy and by a
    softmax alike; a positive gap smaller than about ``745 * beta`` would make a
    softmax at temperature ``beta`` differ from the greedy policy.
    """
    flat = q.reshape(q.shape[0], -1, q.shape[-1])
    gaps = flat.max(dim=-1, keepdim=True)[0] - flat
    positive = gaps[gaps > floor]
    return float(positive.min()) if positive.numel() else np.inf


def shares_array(shares: Sequence[float]) -> np.ndarray:
    """The shares as a float array (checked positive and summing to 1)."""
    w = np.asarray(shares, dtype=float)
    assert np.all(w > 0) and abs(w.sum() - 1) < 1e-12, w
    return w
