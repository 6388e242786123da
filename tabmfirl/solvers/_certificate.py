r"""Certificate of an equilibrium: a fresh forward and backward pass on a policy.

Whatever iteration produced a policy :math:`\pi`, the numbers that say
whether it is an entropy-regularised mean field Nash equilibrium are computed
here from :math:`\pi` alone, for every context :math:`m`:

.. math::

    \mu^\pi &= \Phi(\pi) \quad \text{(forward pass, model evaluated along it)},\\
    r(\pi) &= \max_{m,t,s,a} \big|BR_\beta(\mu^\pi) - \pi\big|
        \quad \text{(fixed-point residual)},\\
    \mathcal{E}_\beta(\pi)_m &= \sum_s \mu_0(s)\big(V^{*}_{\beta,0}(s) - V^{\pi}_{\beta,0}(s)\big),
    \qquad
    \mathcal{E}_0(\pi)_m = \sum_s \mu_0(s)\big(V^{*}_{0,0}(s) - V^{\pi}_{0,0}(s)\big),

with :math:`V^*_\beta` the soft-optimal value (soft Bellman backward pass at
temperature :math:`\beta`) and :math:`V^\pi_\beta` the regularised value of
:math:`\pi`, both in the model frozen at :math:`\mu^\pi`; :math:`\beta = 0`
gives the unregularised exploitability (hard best response, no entropy term)
that MFGLib and OpenSpiel report.  Both are :math:`\ge 0` by definition of a
best response, up to rounding; :math:`\mathcal{E}_\beta = 0` and :math:`r = 0`
exactly at the equilibrium, while :math:`\mathcal{E}_0 > 0` there (the
regularised equilibrium is not a Nash equilibrium of the unregularised game).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..game._spec import MFGSpec
from ._exploitability import exploitability_on_model
from ._mean_field import forward_unchecked
from ._model import MeanFieldFlow
from ._soft_bellman import backward_unchecked

__all__ = ["Certificate", "certify"]


@dataclass(frozen=True, eq=False)
class Certificate:
    r"""What a fresh forward and backward pass say about a policy.

    Attributes
    ----------
    residual : float
        :math:`r(\pi) = \max |BR_\beta(\Phi(\pi)) - \pi|`.
    exploitability : ndarray, shape (K,)
        :math:`\mathcal{E}_\beta(\pi)` per context.
    unregularised_exploitability : ndarray, shape (K,) or None
        :math:`\mathcal{E}_0(\pi)` per context (None when not asked for).
    flow : MeanFieldFlow
        :math:`\Phi(\pi)` and the model evaluated along it.
    q, value : ndarray
        Soft-optimal :math:`Q_t` ``(K, T, S, A)`` and :math:`V_t` ``(K, T+1, S)``
        in that model.
    best_response : ndarray, shape (K, T, S, A)
        :math:`BR_\beta(\Phi(\pi))`.
    """

    residual: float
    exploitability: np.ndarray
    unregularised_exploitability: Optional[np.ndarray]
    flow: MeanFieldFlow
    q: np.ndarray
    value: np.ndarray
    best_response: np.ndarray


def certify(spec: MFGSpec, policy: np.ndarray, temperature: float, backend: str, *,
            unregularised: bool = True) -> Certificate:
    r"""Residual and exploitabilities of ``policy`` (module docstring), without checks.

    Parameters
    ----------
    spec : MFGSpec
    policy : ndarray, shape (K, T, S, A)
        A valid policy (rows on the simplex, C-contiguous float64).
    temperature : float
        :math:`\beta > 0`.
    backend : str
        A resolved backend (``"numpy"``, ``"numba"`` or ``"cuda"``).
    unregularised : bool, default True
        Also compute :math:`\mathcal{E}_0` (two more backward passes).

    Returns
    -------
    Certificate
    """
    flow = forward_unchecked(spec, policy, backend)
    q, value, best = backward_unchecked(flow.model, temperature, None, backend)
    residual = float(np.max(np.abs(best - policy)))
    mu0 = spec.initial_distribution
    regularised, _ = exploitability_on_model(flow.model, mu0, policy, temperature, backend,
                                             best_value=value)
    hard = None
    if unregularised:
        hard, _ = exploitability_on_model(flow.model, mu0, policy, 0.0, backend)
    return Certificate(residual=residual, exploitability=regularised,
                       unregularised_exploitability=hard, flow=flow, q=q, value=value,
                       best_response=best)
