r"""Bookkeeping shared by every equilibrium method: budgets, histories, callback.

A method evaluates iterates (one forward pass plus one soft backward pass
each) and reports each to a :class:`SolveMonitor`, which counts them, keeps
the histories an :class:`~tabmfirl.EquilibriumResult` carries, calls the
user's ``callback(iteration, info)`` and says when the iteration budget
(``max_iter``) or the time budget (``max_seconds``) is spent.
"""
from __future__ import annotations

import time
from typing import Callable, Optional

import numpy as np

__all__ = ["SolveMonitor"]


class SolveMonitor:
    """Counts iterates, keeps their histories and calls ``callback(iteration, info)``.

    Parameters
    ----------
    n_contexts : int
    max_iter : int
        Most iterates.
    max_seconds : float or None
        Wall-time budget (None: none).
    callback : callable or None
        ``callback(iteration, info)`` after each iterate; ``info`` has the
        keys ``stage``, ``residual`` (NaN where not measured), ``flow_residual``
        (NaN where not measured), ``exploitability`` (ndarray or None),
        ``step`` (the method's current step size), ``policy`` (the iterate,
        read-only) and ``seconds`` (since the solve started).
    """

    def __init__(self, n_contexts: int, max_iter: int, max_seconds: Optional[float],
                 callback: Optional[Callable[[int, dict], None]]):
        self.n_contexts = n_contexts
        self.max_iter = max_iter
        self.max_seconds = max_seconds
        self.callback = callback
        self.start = time.perf_counter()
        self.residuals: list = []
        self.flow_residuals: list = []
        self.exploitabilities: list = []

    @property
    def iteration(self) -> int:
        """Iterates evaluated so far."""
        return len(self.residuals)

    @property
    def seconds(self) -> float:
        """Wall time since the solve started."""
        return time.perf_counter() - self.start

    def record(self, stage: str, policy: np.ndarray, *, residual: float = np.nan,
               flow_residual: float = np.nan, exploitability=None, step: float = np.nan) -> None:
        """Count one iterate and pass it to the callback."""
        self.residuals.append(float(residual))
        self.flow_residuals.append(float(flow_residual))
        self.exploitabilities.append(np.full(self.n_contexts, np.nan) if exploitability is None
                                     else np.asarray(exploitability, dtype=float))
        if self.callback is not None:
            view = policy.view()
            view.flags.writeable = False
            self.callback(self.iteration, {
                "stage": stage, "residual": float(residual), "flow_residual": float(flow_residual),
                "exploitability": exploitability, "step": float(step), "policy": view,
                "seconds": self.seconds})

    def set_residual(self, residual: float) -> None:
        """Store the residual of the last iterate, measured after it was recorded."""
        self.residuals[-1] = float(residual)

    def exhausted(self) -> Optional[str]:
        """``"max_iter=N"`` or ``"max_seconds=S"`` once a budget is spent, else None."""
        if self.iteration >= self.max_iter:
            return f"max_iter={self.max_iter}"
        if self.max_seconds is not None and self.seconds >= self.max_seconds:
            return f"max_seconds={self.max_seconds:g}"
        return None

    def histories(self):
        """``(residual, flow_residual, exploitability)`` histories as arrays."""
        expl = (np.array(self.exploitabilities) if self.exploitabilities
                else np.zeros((0, self.n_contexts)))
        return np.array(self.residuals), np.array(self.flow_residuals), expl
