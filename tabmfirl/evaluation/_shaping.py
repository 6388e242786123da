r"""Reward error at the experts' flow, up to potential-based shaping.

Along a frozen flow :math:`\mu^E` a finite-horizon game of type :math:`m` is an
MDP with rewards :math:`r_t(s, a) = r(s, a, \mu^E_t, m)`.  Two reward tables
give the same soft-optimal policies at every temperature exactly when they
differ by a shaping term

.. math::

    F_t(s, a) = \phi_t(s) - \sum_{s'} P_t(s' \mid s, a)\, \phi_{t+1}(s'),
    \qquad \phi_T \equiv 0,

for some potential :math:`\phi` (the soft values shift by :math:`\phi_t`).  So
the part of a learned reward that demonstrations along :math:`\mu^E` can
identify is its class modulo shaping (``docs/theory.md``, section 8), and the
distance between the classes of the learned and the true reward is

.. math::

    d(\hat r, r) = \min_\phi \Big( \frac{1}{T} \sum_{t,s,a} w_t(s, a)
        \big(\hat r_t(s, a) - r_t(s, a) - F_t(s, a)\big)^2 \Big)^{1/2},
    \qquad w_t(s, a) = \mu^E_t(s)\, \pi^E_t(a \mid s),

weighted by the experts' state-action occupancy (states the experts never
visit carry no weight: nothing there is identified).  The *relative* error
divides by :math:`d(0, r)`, the distance of the true reward to pure shaping:
0 means the same policies as the true reward wherever the experts go; 1 is
as far as the zero reward.  It is a weighted linear least-squares problem in
the :math:`T S` values of :math:`\phi`, solved sparsely (``scipy.sparse``,
LSQR); ``tests/test_shaping.py`` checks it against a dense ``numpy.linalg``
twin and against planted shaping terms.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.linalg import lsqr

from ..solvers._model import EvaluatedModel

__all__ = ["shaping_matrix", "shaping_residual", "reward_error_up_to_shaping"]


def shaping_matrix(transition: np.ndarray, next_states: Optional[np.ndarray]):
    r"""Sparse matrix :math:`M` with :math:`(M \phi)_{t,s,a} = F_t(s, a)`.

    Parameters
    ----------
    transition : ndarray, shape (T, S, A, W)
        :math:`P_t(\cdot \mid s, a)` over the ``W`` successors of ``(s, a)``.
    next_states : ndarray of int, shape (S, A, W), or None
        The successors (``None``: dense, ``W = S``).

    Returns
    -------
    scipy.sparse.csr_matrix, shape (T * S * A, T * S)
        Rows ordered ``(t, s, a)``, columns ``(t, s)`` for
        :math:`\phi_0, \dots, \phi_{T-1}` (:math:`\phi_T = 0`).
    """
    T, S, A, W = transition.shape
    if next_states is None:
        next_states = np.broadcast_to(np.arange(S), (S, A, S))
    rows = np.arange(T * S * A).reshape(T, S, A)
    own = np.broadcast_to(np.arange(T)[:, None, None] * S + np.arange(S)[None, :, None],
                          (T, S, A))
    # -P_t(s'|s,a) phi_{t+1}(s') for t < T - 1 (phi_T = 0)
    succ_rows = np.broadcast_to(rows[:-1, :, :, None], (T - 1, S, A, W))
    succ_cols = (np.arange(1, T)[:, None, None, None] * S
                 + np.broadcast_to(next_states, (T - 1, S, A, W)))
    row = np.concatenate([rows.ravel(), succ_rows.ravel()])
    col = np.concatenate([own.ravel(), succ_cols.ravel()])
    val = np.concatenate([np.ones(T * S * A), -transition[:-1].ravel()])
    return coo_matrix((val, (row, col)), shape=(T * S * A, T * S)).tocsr()


def shaping_residual(difference: np.ndarray, transition: np.ndarray,
                     next_states: Optional[np.ndarray], weights: np.ndarray):
    r"""Smallest weighted RMS of ``difference`` minus a shaping term, and the potential.

    Solves :math:`\min_\phi \sum_{t,s,a} w_t(s,a) (\Delta_t(s,a) - F_t(s,a))^2`
    (module docstring) and returns :math:`(\frac1T \sum w (\Delta - F)^2)^{1/2}`.

    Parameters
    ----------
    difference : ndarray, shape (T, S, A)
        :math:`\Delta = \hat r - r` along the flow.
    transition, next_states
        As :func:`shaping_matrix`.
    weights : ndarray, shape (T, S, A)
        Non-negative weights :math:`w`.

    Returns
    -------
    residual : float
    potential : ndarray, shape (T + 1, S)
        A minimiser :math:`\phi` (the minimum-norm one among several), with
        :math:`\phi_T = 0`.
    """
    T, S, A = difference.shape
    matrix = shaping_matrix(transition, next_states)
    root = np.sqrt(weights.ravel())
    scaled = matrix.multiply(root[:, None]).tocsr()
    target = root * difference.ravel()
    solution = lsqr(scaled, target, atol=1e-14, btol=1e-14, conlim=1e12,
                    iter_lim=20 * T * S + 100)[0]
    residual = target - scaled @ solution
    potential = np.zeros((T + 1, S))
    potential[:T] = solution.reshape(T, S)
    return float(np.sqrt(residual @ residual / T)), potential


def reward_error_up_to_shaping(true_model: EvaluatedModel, learned_model: EvaluatedModel,
                               mean_field: np.ndarray, policy: np.ndarray) -> np.ndarray:
    r"""Relative reward error per type at the experts' flow, up to shaping.

    :math:`d(\hat r^m, r^m) / d(0, r^m)` of the module docstring for every type
    :math:`m`, with the weights :math:`w_t(s,a) = \mu^E_t(s) \pi^E_t(a|s)` and
    the true model's dynamics along the flow.

    Parameters
    ----------
    true_model, learned_model : EvaluatedModel
        Both games evaluated along the experts' flow (same dynamics, same
        number of types ``K``).
    mean_field : ndarray, shape (K, T+1, S)
        The experts' flow :math:`\mu^E`.
    policy : ndarray, shape (K, T, S, A)
        The experts' policy :math:`\pi^E`.

    Returns
    -------
    ndarray, shape (K,)
        ``nan`` for a type whose true reward is itself pure shaping along the
        flow (:math:`d(0, r^m) = 0`: every reward is then equally right).
    """
    K, T, S, A = true_model.reward.shape
    if learned_model.reward.shape != true_model.reward.shape:
        raise ValueError(f"the learned model's reward has shape {learned_model.reward.shape}, "
                         f"the true one {true_model.reward.shape}")
    errors = np.empty(K)
    for m in range(K):
        transition = true_model.transition[true_model.slice_index[m]]
        weights = mean_field[m, :T, :, None] * policy[m]
        true_reward = true_model.reward[m]
        error, _ = shaping_residual(learned_model.reward[m] - true_reward, transition,
                                    true_model.next_states, weights)
        scale, _ = shaping_residual(-true_reward, transition, true_model.next_states, weights)
        errors[m] = error / scale if scale > 1e-12 * (1.0 + np.abs(true_reward).max()) \
            else np.nan
    return errors
