r"""The result of the exact-likelihood fits (:class:`IRLResult`), shared by every
discrete-type fit and by the result files."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from ._heads import RewardHead

__all__ = ["IRLResult"]


@dataclass(frozen=True, eq=False)
class IRLResult:
    r"""Result of :func:`fit_pemmfirl_em`, :func:`fit_two_stage`, :func:`fit_mfirl`, :func:`fit_oracle` or :func:`fit_reward`.

    Attributes
    ----------
    method : str
        ``"pemmfirl-em"``, ``"two-stage"``, ``"mfirl"``, ``"oracle"`` or ``"reward"``.
    head : RewardHead
        The learned reward head (a copy; discrete, ``n_contexts = K``).
    reward_params : ndarray, shape (n_params,)
        ``head.get_flat()``.
    posterior : ndarray, shape (N, K) or None
        Final :math:`q(m \mid \tau_j)` (``None`` for :func:`fit_reward`).
    assignments : ndarray of int, shape (N,) or None
        :math:`\arg\max_m q(m\mid\tau_j)`.
    prior : ndarray, shape (K,)
        :math:`p(m)` (type shares :math:`W_m/N`).
    mean_field : ndarray, shape (K, T+1, S)
        :math:`\hat\mu(\cdot\mid m)` at the final posterior.
    state_action : ndarray, shape (K, T, S, A)
        :math:`\hat L(\cdot\mid m)`.
    reward, policy : ndarray, shape (K, T, S, A)
        Reward table of the returned head at the returned :math:`\hat\mu`
        and its soft-optimal policy with the flow frozen there.
    objective_history : ndarray, shape (num_iter,)
        :math:`\ell` of step 4 per trajectory (posterior-weighted causal
        log-likelihood), at each iterate, with that iterate's posterior.
    log_likelihood_history : ndarray, shape (num_iter,)
        Marginal causal log-likelihood per trajectory,
        :math:`\frac1N\sum_j \log\sum_m p(m) e^{\ell_{jm}}` (EM method, MFIRL;
        equal to ``objective_history`` for :math:`K = 1`), or the objective
        (:func:`fit_reward`).
    grad_norm_history : ndarray, shape (num_iter,)
        Euclidean norm of :math:`\nabla_\omega \ell`.
    converged : bool
        Final gradient norm below ``tol`` (and, with a posterior, its last
        change below ``tol``).
    num_iter : int
    temperature : float
    seconds : float
    """

    method: str
    head: RewardHead
    reward_params: np.ndarray
    posterior: Optional[np.ndarray]
    assignments: Optional[np.ndarray]
    prior: np.ndarray
    mean_field: np.ndarray
    state_action: np.ndarray
    reward: np.ndarray
    policy: np.ndarray
    objective_history: np.ndarray
    log_likelihood_history: np.ndarray
    grad_norm_history: np.ndarray
    converged: bool
    num_iter: int
    temperature: float
    seconds: float
