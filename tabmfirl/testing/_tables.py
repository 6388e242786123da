r"""A game as plain arrays and NumPy callables, to hand to another implementation.

Another solver (PyTorch, JAX, MFGLib, your own) does not read an
:class:`~tabmfirl.MFGSpec`.  Two ways to give it the same game:

* :func:`dense_tables`: the transition and reward of every type and step
  evaluated along a given flow (a frozen game, e.g. to check a best response);
* :func:`numpy_game`: the game itself, its mean field dependence as plain
  callables ``transition(t, nu) -> P[s, a, s_next]`` and
  ``reward(t, nu, m) -> r[s, a]`` of NumPy arrays, and
  ``observed(mean_field_t, state_action_t) -> nu`` (what each type observes,
  coupling included), so that a solver can run its own forward pass:

.. math::

    \nu^m_t = \sum_{m'} C_{m m'}\, x_t(\cdot \mid m'), \qquad
    \mu_{t+1}(s' \mid m) = \sum_{s, a} \mu_t(s \mid m)\, \pi_t(a \mid s, m)\,
    P(s' \mid s, a, \nu^m_t),

with :math:`x_t` the state distribution :math:`\mu_t` (``mean_field_kind="state"``)
or the state-action distribution :math:`L_t` flattened as ``s * A + a``
(``"state_action"``), and :math:`C` the identity unless the types are coupled.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..game._spec import MFGSpec
from ..solvers._model import evaluate_model

__all__ = ["NumpyGame", "numpy_game", "dense_tables"]


def dense_tables(spec: MFGSpec, mean_field, state_action=None, *, backend: str = "numpy"):
    r"""Transition and reward of every type and step at a given flow, as dense arrays.

    .. math:: P[m, t, s, a, s'] = P(s' \mid s, a, \nu^m_t), \qquad
              R[m, t, s, a] = r(s, a, \nu^m_t, m),

    with :math:`\nu^m_t` what type ``m`` observes of the flow (module docstring).

    Parameters
    ----------
    spec : MFGSpec
    mean_field : ndarray, shape (K, T+1, S)
        The flow the game is frozen at, e.g. ``forward_mean_field(spec, pi).mean_field``.
    state_action : ndarray, shape (K, T, S, A), optional
        Required when the game observes the state-action distribution.
    backend : {"numpy", "numba", "auto"}

    Returns
    -------
    transition : ndarray, shape (K, T, S, A, S)
    reward : ndarray, shape (K, T, S, A)

    Examples
    --------
    >>> from tabmfirl import forward_mean_field
    >>> from tabmfirl.testing import random_game, random_policy
    >>> spec = random_game(3, 2, 4, 2, transition_strength=0.1, rng=0)
    >>> flow = forward_mean_field(spec, random_policy(spec, rng=1), backend="numpy")
    >>> P, R = dense_tables(spec, flow.mean_field)
    >>> P.shape, R.shape
    ((2, 4, 3, 2, 3), (2, 4, 3, 2))
    """
    model = evaluate_model(spec, mean_field, state_action, backend=backend)
    return np.array(model.dense_transition()), model.reward.copy()


@dataclass(frozen=True, eq=False)
class NumpyGame:
    r"""A game as NumPy arrays and callables (see :func:`numpy_game`).

    Attributes
    ----------
    n_states, n_actions, horizon, n_types : int
        ``S``, ``A``, ``T``, ``K``.
    mu0 : ndarray, shape (S,) or (K, S)
        As in the spec: shared, or one initial distribution per type.
    coupling : ndarray, shape (K, K)
        :math:`C` (the identity when each type observes its own flow; unused
        when every type observes the stack of all flows,
        ``spec.observation == "all_types"``).
    mean_field_kind : {"state", "state_action"}
    spec : MFGSpec
        The game these callables evaluate.
    """

    n_states: int
    n_actions: int
    horizon: int
    n_types: int
    mu0: np.ndarray
    coupling: np.ndarray
    mean_field_kind: str
    spec: Any

    def observed(self, mean_field_t, state_action_t=None) -> np.ndarray:
        r""":math:`\nu^m_t` of every type: shape ``(K, D)`` (``D = S`` or ``S*A``).

        ``mean_field_t`` is ``(K, S)``; ``state_action_t`` ``(K, S, A)`` is
        needed when the game observes the state-action distribution.  With
        ``observation="all_types"`` every row is the stack of all types'
        distributions, shape ``(K, K * D)``.
        """
        K = self.n_types
        if self.mean_field_kind == "state":
            source = np.asarray(mean_field_t, dtype=float).reshape(K, self.n_states)
        else:
            if state_action_t is None:
                raise ValueError("this game observes the state-action distribution: "
                                 "pass state_action_t of shape (K, S, A)")
            source = np.asarray(state_action_t, dtype=float).reshape(K, -1)
        if self.spec.observation == "all_types":
            return np.tile(source.reshape(1, -1), (K, 1))
        return self.coupling @ source

    def transition(self, t: int, nu, m: int = None) -> np.ndarray:
        r"""Dense :math:`P(s' \mid s, a, \nu, m)` at step ``t``: shape ``(S, A, S)``.

        ``m`` (the type) is needed, and only used, when the types move
        differently (``spec.transition_by_context``).
        """
        spec = self.spec
        S, A, W = self.n_states, self.n_actions, spec.transition_width
        if spec.transition_by_context:
            if m is None:
                raise ValueError("the types of this game move differently: pass the type m")
            m = spec.check_context(m)
        nu = np.ascontiguousarray(nu, dtype=float)
        if spec.transition_is_dynamic:
            table = np.zeros((S, A, W))
            if spec.transition_by_context:
                spec.transition(int(t), nu, m, spec.params, table)
            else:
                spec.transition(int(t), nu, spec.params, table)
        else:
            table = spec.transition[m] if spec.transition_by_context else spec.transition
            table = table if table.ndim == 3 else table[t]
        if spec.is_dense:
            return np.array(table)
        dense = np.zeros((S, A, S))
        s_idx, a_idx, _ = np.indices(spec.next_states.shape)
        np.add.at(dense, (s_idx, a_idx, spec.next_states), table)
        return dense

    def reward(self, t: int, nu, m: int) -> np.ndarray:
        r""":math:`r(s, a, \nu, m)` at step ``t``: shape ``(S, A)``."""
        spec = self.spec
        m = spec.check_context(m)
        if spec.reward_is_dynamic:
            out = np.zeros((self.n_states, self.n_actions))
            spec.reward(int(t), np.ascontiguousarray(nu, dtype=float), m, spec.params, out)
            return out
        return np.array(spec.reward[m] if spec.reward.ndim == 3 else spec.reward[m, t])


def numpy_game(spec: MFGSpec) -> NumpyGame:
    r"""The game of ``spec`` as NumPy callables for another implementation.

    Parameters
    ----------
    spec : MFGSpec

    Returns
    -------
    NumpyGame
        ``transition(t, nu)`` ``(S, A, S)`` (``transition(t, nu, m)`` when the
        types move differently), ``reward(t, nu, m)`` ``(S, A)``,
        ``observed(mean_field_t, state_action_t)`` ``(K, len(nu))``; a table
        that ignores the mean field ignores ``nu``.

    Examples
    --------
    A forward pass written with the callables only agrees with tabmfirl's:

    >>> import numpy as np
    >>> from tabmfirl import forward_mean_field
    >>> from tabmfirl.testing import random_game, random_policy
    >>> spec = random_game(4, 2, 3, transition_strength=0.1, rng=0)
    >>> pi = random_policy(spec, rng=1)
    >>> game = numpy_game(spec)
    >>> mu = [np.tile(game.mu0, (1, 1))]
    >>> for t in range(game.horizon):
    ...     nu = game.observed(mu[-1])
    ...     mu.append(np.einsum("s,sa,sap->p", mu[-1][0], pi[0, t],
    ...                         game.transition(t, nu[0]))[None])
    >>> exact = forward_mean_field(spec, pi, backend="numpy").mean_field
    >>> bool(np.allclose(np.stack(mu, axis=1), exact, rtol=0, atol=1e-14))
    True
    """
    K = spec.n_contexts
    coupling = spec.context_coupling if spec.context_coupling is not None else np.eye(K)
    return NumpyGame(spec.n_states, spec.n_actions, spec.horizon, K, spec.mu0.copy(),
                     coupling, spec.mean_field_kind, spec)
