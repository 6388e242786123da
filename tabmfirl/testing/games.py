r"""Random mean field games for tests and benchmarks.

:func:`random_game` draws a game whose transition and reward depend smoothly on
the observed mean field :math:`\nu` (length :math:`M`):

.. math::

    P(s_j \mid s, a, \nu) &\propto \exp\Big(B_{saj} + \lambda_P \sum_i C_{ji} \nu_i\Big),
    \qquad j = 0..W-1,\\
    r(s, a, \nu, m) &= G_{msa} + \lambda_r \sum_i D_{si} \nu_i,

with standard normal :math:`B, G` and uniform :math:`C, D \in [-1, 1]`.  The
strengths :math:`\lambda_P, \lambda_r` are the Lipschitz constants (up to a
factor) of the game in the mean field: small values give a unique equilibrium
that damped fixed-point iteration finds; large ones may not.  Dense games have
``W = S`` successors ``s_j = j``; sparse ones ``W`` random successors per row.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from ..game._spec import MFGSpec, python_body

__all__ = ["random_game", "random_policy"]

_HEADER = 3  # params = [W, strength_P, strength_R, B..., C..., G..., D...]


@njit(cache=True)
def random_transition(t, observed, params, out):
    """Softmax transition with logits linear in the observed mean field."""
    S, A, W = out.shape
    M = observed.shape[0]
    strength = params[1]
    base = params[_HEADER:_HEADER + S * A * W]
    coupling = params[_HEADER + S * A * W:_HEADER + S * A * W + W * M]
    shift = np.zeros(W)
    if strength != 0.0:
        for j in range(W):
            for i in range(M):
                shift[j] += coupling[j * M + i] * observed[i]
    for s in range(S):
        for a in range(A):
            row = out[s, a]
            for j in range(W):
                row[j] = base[(s * A + a) * W + j] + strength * shift[j]
            largest = row.max()
            total = 0.0
            for j in range(W):
                row[j] = np.exp(row[j] - largest)
                total += row[j]
            for j in range(W):
                row[j] /= total


@njit(cache=True)
def random_reward(t, observed, context, params, out):
    """Reward with a per-context base table plus a term linear in the mean field."""
    S, A = out.shape
    M = observed.shape[0]
    W = int(params[0])
    strength = params[2]
    start = _HEADER + S * A * W + W * M
    base = params[start:start + (context + 1) * S * A]
    coupling = params[-S * M:]
    for s in range(S):
        shift = 0.0
        for i in range(M):
            shift += coupling[s * M + i] * observed[i]
        for a in range(A):
            out[s, a] = base[context * S * A + s * A + a] + strength * shift


def random_game(n_states: int, n_actions: int, horizon: int, n_contexts: int = 1, *,
                transition_strength: float = 0.0, reward_strength: float = 0.0,
                width: int = None, mean_field_kind: str = "state",
                dynamic: bool = True, rng=None) -> MFGSpec:
    """A random game (see the module docstring).

    Parameters
    ----------
    n_states, n_actions, horizon, n_contexts : int
    transition_strength, reward_strength : float
        :math:`\\lambda_P`, :math:`\\lambda_r`.
    width : int, optional
        Successors per row for a sparse game; ``None`` for a dense one.
    mean_field_kind : {"state", "state_action"}
    dynamic : bool
        If False, return arrays evaluated at the uniform mean field (a game
        that ignores the mean field: a single-agent MDP per context).
    rng : numpy.random.Generator or int, optional

    Returns
    -------
    MFGSpec
    """
    rng = np.random.default_rng(rng)
    S, A, K = n_states, n_actions, n_contexts
    W = S if width is None else int(width)
    M = S if mean_field_kind == "state" else S * A
    params = np.concatenate([
        [W, transition_strength, reward_strength],
        rng.standard_normal(S * A * W), rng.uniform(-1, 1, W * M),
        rng.standard_normal(K * S * A), rng.uniform(-1, 1, S * M)])
    mu0 = rng.dirichlet(np.ones(S))
    next_states = None if width is None else rng.integers(0, S, size=(S, A, W))
    if dynamic:
        transition, reward = random_transition, random_reward
    else:
        observed = np.full(M, 1.0 / M)
        transition = np.zeros((S, A, W))
        python_body(random_transition)(0, observed, params, transition)
        reward = np.zeros((K, S, A))
        for m in range(K):
            python_body(random_reward)(0, observed, m, params, reward[m])
    return MFGSpec(n_states=S, n_actions=A, horizon=horizon, mu0=mu0, transition=transition,
                   reward=reward, n_contexts=K, next_states=next_states, params=params,
                   mean_field_kind=mean_field_kind, name="random")


def random_policy(spec: MFGSpec, rng=None, concentration: float = 1.0) -> np.ndarray:
    """A random policy ``(K, T, S, A)`` with Dirichlet rows."""
    rng = np.random.default_rng(rng)
    shape = (spec.n_contexts, spec.horizon, spec.n_states)
    return rng.dirichlet(np.full(spec.n_actions, concentration), size=shape)
