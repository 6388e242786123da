r"""Newton–Krylov solve of the equilibrium on the policy logits.

The unknown is a table of logits :math:`y` ``(K, T, S, A)`` with policy
:math:`\pi_y = \mathrm{softmax}_a(y)`, and the equation is

.. math:: F(y) = \frac{Q^*_\beta(\Phi(\pi_y)) - V^*_\beta(\Phi(\pi_y))}{\beta} - y = 0,

i.e. :math:`y = \log BR_\beta(\Phi(\pi_y))`: at a root, :math:`\pi_y` is the
ERMFNE and :math:`y` its log-policy.  One evaluation of :math:`F` is one
forward and one backward pass.  :func:`scipy.optimize.newton_krylov` solves
it: each Newton step solves :math:`J_F\, d = -F` by LGMRES with
finite-difference Jacobian-vector products (one evaluation each) and takes an
Armijo line search on :math:`\|F\|_2`.  The Newton direction lowers
:math:`\|F\|` whether or not the equilibrium attracts any fixed-point
iteration (rotating best-response dynamics, as in rock-paper-scissors at low
temperature), which is why this is the fallback of the default solver.  Logits
need no projection (every table is a valid policy), unlike the flow, whose
finite-difference probes would leave the simplex.

Every evaluation measures the policy's fixed-point residual
:math:`\max|BR_\beta(\Phi(\pi_y)) - \pi_y|` for free; the stage stops at the
first evaluation below ``tol``, when the budget is spent, or when
:math:`\|F\|_2` has not halved in ``patience`` evaluations (the policy
residual, a maximum over entries, can sit near its ceiling for long while
:math:`\|F\|_2` falls).
"""
from __future__ import annotations

import numpy as np

from ..game._spec import MFGSpec
from ._anderson import STATUS_VERBS, StageOutcome
from ._mean_field import forward_unchecked
from ._monitor import SolveMonitor
from ._soft_bellman import backward_unchecked

__all__ = ["newton_krylov_stage"]

#: Probabilities below this are treated as this when turned into logits.
_FLOOR = 1e-300


class _Stop(Exception):
    """Raised inside F to leave SciPy's solver (converged, budget or stalled)."""


class _GameError(Exception):
    """Carries a game's own error out of SciPy's solver, which swallows ValueError here."""


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, max subtracted first."""
    z = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def newton_krylov_stage(spec: MFGSpec, temperature: float, initial_policy: np.ndarray, tol: float,
                        monitor: SolveMonitor, backend: str, *,
                        patience: int = 500) -> StageOutcome:
    r"""Solve :math:`F(y) = 0` (module docstring) from the logits of ``initial_policy``.

    Parameters
    ----------
    spec : MFGSpec
    temperature : float
        :math:`\beta > 0`.
    initial_policy : ndarray, shape (K, T, S, A)
    tol : float
        Stop at the first policy whose fixed-point residual is below this.
    monitor : SolveMonitor
    backend : str
    patience : int, default 500
        Evaluations allowed without halving the smallest :math:`\|F\|_2`.

    Returns
    -------
    StageOutcome
    """
    from scipy.optimize import NoConvergence, newton_krylov

    shape = initial_policy.shape
    state = {"best": (np.inf, initial_policy), "mark": np.inf, "mark_at": monitor.iteration,
             "status": "stalled"}
    start = monitor.iteration

    def residual_function(flat):
        if monitor.exhausted() or monitor.iteration - state["mark_at"] > patience:
            state["status"] = "budget" if monitor.exhausted() else "stalled"
            raise _Stop
        y = flat.reshape(shape)
        policy = softmax(y)
        try:
            flow = forward_unchecked(spec, policy, backend)
            q, value, best = backward_unchecked(flow.model, temperature, None, backend)
        except ValueError as error:  # a bad table from the game's functions
            raise _GameError(error) from error
        residual = float(np.max(np.abs(best - policy)))
        monitor.record("newton_krylov", policy, residual=residual)
        if residual < state["best"][0]:
            state["best"] = (residual, policy)
        if residual < tol:
            state["status"] = "converged"
            raise _Stop
        out = ((q - value[:, :-1, :, None]) / temperature - y).ravel()
        size = float(np.sqrt(out @ out))
        if size < 0.5 * state["mark"]:
            state["mark"], state["mark_at"] = size, monitor.iteration
        return out

    y0 = np.log(np.maximum(initial_policy, _FLOOR))
    try:
        newton_krylov(residual_function, y0.ravel(), f_tol=0.0, maxiter=10 ** 9,
                      method="lgmres", inner_maxiter=20)
    except _GameError as error:
        raise error.args[0] from None
    except (_Stop, NoConvergence, ValueError, np.linalg.LinAlgError):
        pass  # converged, budget, stalled, or SciPy could not go on: the best iterate stands
    residual, policy = state["best"]
    iterations = monitor.iteration - start
    note = (f"Newton-Krylov on the policy logits {STATUS_VERBS[state['status']]} after "
            f"{iterations} iterations (best residual {residual:.2e})")
    return StageOutcome(policy, state["status"], iterations, note)
