r"""MFGLib environments for the cross-checks: product games over (type, state), entropy.

Shared by ``test_mfglib.py`` and ``test_mfglib_types.py``; imports torch and
MFGLib, so only the test modules that already required them import it.

**Product game.**  A tabmfirl game with ``K`` types (contexts) sharing ``S``,
``A``, ``P`` and ``mu0`` is one MFGLib game over the pairs ``x = (m, s)``,
flattened as ``x = m * S + s``: the type never changes, and
``mu0(m, s) = w_m mu0(s)`` with ``w`` the types' shares.  MFGLib's joint
distribution then holds ``L_t(x, a) = w_m L_t(s, a | m)``, and type ``m``
observes

.. math:: \nu^m_t = \sum_{m'} C_{m m'}\, \frac{\mu_t(m', \cdot)}{w_{m'}},

with ``C`` the identity for uncoupled types and tabmfirl's
``context_coupling`` otherwise.  The transition of the product game is block
diagonal (one block per type, evaluated at ``nu^m``), the reward of pair
``(m, s)`` is type ``m``'s reward at ``nu^m``.

**Entropy.**  MFGLib's games and algorithms are unregularised.  The
entropy-regularised game at temperature ``beta`` is the MFGLib game with reward

.. math:: r'_t(x, a, L_t) = r_t(x, a, L_t) - \beta \log \pi_t(a \mid x),
          \qquad \pi_t(a \mid x) = L_t(x, a) / \textstyle\sum_{a'} L_t(x, a'),

which MFGLib can express because its rewards read the joint distribution
``L_t``.  For a policy with full support on a flow with full support,
MFGLib's ``QFn(env, L).for_policy(pi)`` in this game is
``Q'_t = Q^\pi_{\beta,t} - \beta \log \pi_t`` with ``Q^\pi_\beta`` tabmfirl's
regularised Q (:func:`tabmfirl.policy_evaluation`), and
``sum_a pi Q'`` is tabmfirl's regularised value ``V^\pi_\beta``.
"""
from __future__ import annotations

from typing import Callable, Optional, Sequence

import numpy as np
from peers import require_peer

torch = require_peer("torch", "torch (MFGLib needs it)")
Environment = require_peer("mfglib.env", "MFGLib").Environment

torch.set_default_dtype(torch.float64)
# MFGLib's Q functions are loops over small tensors: one thread is several times
# faster than two contending threads on the shared 2-core machine.
torch.set_num_threads(1)


class ProductGame:
    r"""The MFGLib game over (type, state) pairs of a K-type game (module docstring).

    Parameters
    ----------
    n_states, n_actions, horizon : int
        ``S``, ``A`` and tabmfirl's horizon ``T`` (MFGLib's ``env.T = T - 1``).
    mu0 : array_like, shape (S,)
    shares : array_like, shape (K,)
        ``w_m > 0``, summing to 1.
    transition : callable
        ``transition(nu)`` with ``nu`` a torch vector ``(S,)``: returns
        ``P[s, a, s_next]``, shape ``(S, A, S)``.
    reward : callable
        ``reward(nu, m)``: returns ``r[s, a]`` of type ``m``, shape ``(S, A)``.
    coupling : array_like, shape (K, K), optional
        tabmfirl's ``context_coupling``; ``None``: each type observes its own flow.
    """

    def __init__(self, n_states: int, n_actions: int, horizon: int, mu0, shares,
                 transition: Callable, reward: Callable, coupling=None):
        self.S, self.A, self.T = n_states, n_actions, horizon
        self.w = torch.as_tensor(np.asarray(shares, dtype=float))
        self.K = self.w.numel()
        self.mu0 = torch.as_tensor(np.asarray(mu0, dtype=float))
        self.coupling = None if coupling is None else torch.as_tensor(
            np.asarray(coupling, dtype=float))
        self.transition, self.reward_of_type = transition, reward

    def observed(self, L_t: torch.Tensor) -> torch.Tensor:
        """``nu[m]``: what each type observes of ``L_t`` ``(K*S, A)``; shape ``(K, S)``."""
        own = L_t.reshape(self.K, self.S, self.A).sum(-1) / self.w[:, None]
        return own if self.coupling is None else self.coupling @ own

    def prob(self, env, t: int, L_t: torch.Tensor) -> torch.Tensor:
        """MFGLib's ``P[x_next, x, a]``: block diagonal over types."""
        S, K = self.S, self.K
        nu = self.observed(L_t)
        P = torch.zeros(K * S, K * S, self.A)
        for m in range(K):
            block = self.transition(nu[m])              # (S, A, S_next)
            P[m * S:(m + 1) * S, m * S:(m + 1) * S, :] = block.permute(2, 0, 1)
        return P

    def reward(self, env, t: int, L_t: torch.Tensor) -> torch.Tensor:
        """MFGLib's ``r[x, a]``: type ``m``'s reward at ``nu^m`` on block ``m``."""
        nu = self.observed(L_t)
        return torch.cat([self.reward_of_type(nu[m], m) for m in range(self.K)])

    def env(self) -> Environment:
        """The MFGLib environment (``T - 1`` steps, ``T`` rewarded slices)."""
        return Environment(T=self.T - 1, S=(self.K * self.S,), A=(self.A,),
                           mu0=torch.kron(self.w, self.mu0), r_max=1.0,
                           reward_fn=self.reward, transition_fn=self.prob)


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


def regularised(env: Environment, temperature: float) -> Environment:
    r"""The game with reward ``r - beta log pi`` (``pi`` read from ``L_t``; module docstring).

    ``temperature = 0`` returns ``env`` itself.  States of the flow must have
    mass and the policy full support, or the reward is not finite.
    """
    if temperature == 0:
        return env

    def reward_fn(_, t, L_t):
        policy = L_t / L_t.sum(dim=-1, keepdim=True)
        return env.reward(t, L_t) - temperature * torch.log(policy)

    return Environment(T=env.T, S=env.S, A=env.A, mu0=env.mu0, r_max=env.r_max,
                       reward_fn=reward_fn, transition_fn=lambda _, t, L_t: env.prob(t, L_t))


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


def to_mfglib_policy(policy: np.ndarray, env: Optional[Environment] = None) -> torch.Tensor:
    """tabmfirl ``(K, T, S, A)`` -> MFGLib ``(T, K*S, A)`` over pairs ``m * S + s``.

    With ``env`` given, reshape to ``(T, *env.S, *env.A)`` (one type only).
    """
    K, T, S, A = policy.shape
    flat = np.ascontiguousarray(policy.transpose(1, 0, 2, 3)).reshape(T, K * S, A)
    out = torch.from_numpy(flat.copy())
    return out if env is None else out.reshape((T,) + tuple(env.S) + tuple(env.A))


def from_mfglib(array, n_types: int) -> np.ndarray:
    """MFGLib ``(T, K*S[, A])`` -> tabmfirl layout ``(K, T, S[, A])``."""
    a = array.detach().numpy() if isinstance(array, torch.Tensor) else np.asarray(array)
    per_type = a.reshape((a.shape[0], n_types, -1) + a.shape[2:])
    return np.ascontiguousarray(np.moveaxis(per_type, 1, 0))


def per_type_return(q: torch.Tensor, policy: torch.Tensor, mu0: np.ndarray,
                    n_types: int) -> np.ndarray:
    r"""``J_m = sum_s mu0(s) sum_a pi_0(a | m, s) Q_0((m, s), a)`` from MFGLib's ``Q``."""
    value0 = from_mfglib((policy[0] * q[0]).sum(-1)[None], n_types)[:, 0]   # (K, S)
    return value0 @ np.asarray(mu0)


def per_type_best(q: torch.Tensor, mu0: np.ndarray, n_types: int) -> np.ndarray:
    r"""``sum_s mu0(s) max_a Q*_0((m, s), a)`` per type from MFGLib's optimal ``Q``."""
    best0 = from_mfglib(q[0].max(dim=-1)[0][None], n_types)[:, 0]
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
