r"""The fit driver: one loop that every IRL fit runs through.

A fit is a :class:`FitMethod` (its mathematics: how to start, one evaluation of
the objective and its gradient, one update, the convergence measures, the
result) plus the :class:`FitOptions` every fit shares.  :func:`run_fit` owns
the rest, once for all methods:

.. code-block:: text

    state <- method.start(rng)              (or the checkpoint's state, when one exists)
    while not stopped and iteration < max_iter:
        info, pending <- method.evaluate(state)          histories, posterior, ...
        stop and warn (DivergenceWarning) when info diverged (see below)
        stop <- method.early_stop and every measure < tol
        if not stop: method.update(state, pending)       optimiser steps
        checkpoint (every `checkpoint_every` iterations, after the last, on stopping)
        callback(iteration, info)
    converged <- every measure < tol;  warn when not
    return method.result(state, converged)

The loop state (:class:`~tabmfirl.irl._checkpoint.LoopState`: parameter
vectors, optimisers, histories, generator, counters) is the whole state of a
run, so a checkpoint resumes it bit-identically, whatever the method.

**Divergence.**  A fit has diverged when a monitored value of its ``info``
(:data:`MONITORED`: objective, loss, log-likelihood) is not finite, or lies
farther from its first value :math:`v_0` than
:math:`\text{DIVERGENCE\_FACTOR} \cdot (1 + |v_0|)` (a step size far too
large drives a log-likelihood of :math:`-35` to :math:`-10^8`).  The loop then
stops at once, without writing a checkpoint (the last one written is the last
sound state), warns with :class:`DivergenceWarning` (whatever ``warn``
says), and the result is marked not converged.

Regularisation shared by the fits: :func:`l2_penalty`, a Gaussian prior
:math:`\frac\kappa2\|M\omega\|^2` on the parameters with a 0/1 mask :math:`M`.
"""
from __future__ import annotations

import os
import time
import warnings
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from .._checks import check_positive_float, check_positive_int
from ..kernels._backend import resolve_backend
from ..solvers._equilibrium import ConvergenceWarning
from ._checkpoint import LoopState, load_checkpoint

__all__ = ["FitOptions", "FitMethod", "run_fit", "l2_penalty", "DivergenceWarning",
           "MONITORED", "DIVERGENCE_FACTOR", "divergence"]

#: The values of a fit's ``info`` watched for divergence.
MONITORED = ("objective", "loss", "log_likelihood")
#: How far (in units of ``1 + |first value|``) a monitored value may move before the
#: fit counts as diverged.
DIVERGENCE_FACTOR = 1e3


class DivergenceWarning(RuntimeWarning):
    """A fit diverged (a non-finite or exploding objective); it stopped early."""


def divergence(info: dict, first: dict):
    r"""The reason ``info`` shows a diverged fit, or None.

    A monitored value :math:`v` (:data:`MONITORED`) diverged when it is not
    finite or when :math:`|v - v_0| > 	ext{DIVERGENCE\_FACTOR}\,(1 + |v_0|)`,
    :math:`v_0` its value in ``first``.

    Parameters
    ----------
    info : dict
        The method's ``info`` of the current iteration.
    first : dict
        The monitored values of the first iteration (filled here on the first call).

    Returns
    -------
    str or None
    """
    for key in MONITORED:
        value = info.get(key)
        if value is None or np.ndim(value) != 0:
            continue
        value = float(value)
        if not np.isfinite(value):
            return f"{key.replace('_', '-')} is {value}"
        start = first.setdefault(key, value)
        if abs(value - start) > DIVERGENCE_FACTOR * (1.0 + abs(start)):
            return f"{key.replace('_', '-')} went from {start:.4g} to {value:.4g}"
    return None


@dataclass(frozen=True)
class FitOptions:
    """The loop options every fit shares, validated at construction.

    Parameters
    ----------
    max_iter : int
        Iterations at most (one evaluation and one update each).
    tol : float
        Converged when every convergence measure of the method is below it.
    seed : int or numpy.random.Generator
        Of the fit's one generator (initialisations, sampled types, rollouts).
    backend : {"auto", "numpy", "numba", "cuda"}
        Of the model evaluations and backward passes (resolved here).
    warn : bool
        Warn (:class:`~tabmfirl.ConvergenceWarning`) when not converged.
    checkpoint : str or os.PathLike, optional
        Path of a resumable checkpoint (``.npz``, atomic, no pickle).  If the
        file exists the fit resumes from it bit-identically; a checkpoint of
        another configuration raises ``ValueError``.
    checkpoint_every : int
        Write the checkpoint every this many iterations, and after the last.
    callback : callable, optional
        ``callback(iteration, info)`` after each iteration (and after that
        iteration's checkpoint), with the method's ``info`` dict.
    """

    max_iter: int
    tol: float
    seed: object = 0
    backend: str = "auto"
    warn: bool = True
    checkpoint: Optional[os.PathLike] = None
    checkpoint_every: int = 10
    callback: Optional[Callable] = None

    def __post_init__(self):
        object.__setattr__(self, "max_iter", check_positive_int(self.max_iter, "max_iter"))
        object.__setattr__(self, "tol", check_positive_float(self.tol, "tol"))
        object.__setattr__(self, "backend", resolve_backend(self.backend))
        object.__setattr__(self, "checkpoint_every",
                           check_positive_int(self.checkpoint_every, "checkpoint_every"))
        if self.callback is not None and not callable(self.callback):
            raise ValueError(f"callback must be callable, got {type(self.callback).__name__}")

    def seed_config(self):
        """The seed as it enters a checkpoint's configuration (JSON)."""
        seed = self.seed
        return int(seed) if isinstance(seed, (int, np.integer)) else repr(seed)


class FitMethod:
    """One IRL method's mathematics, run by :func:`run_fit`.

    Subclasses set :attr:`name` and implement the six methods below; they keep
    their data and settings as attributes.  Nothing here touches files,
    callbacks or warnings.
    """

    #: Name of the method (``IRLResult.method``, checkpoint configurations).
    name = "fit"
    #: Stop as soon as every convergence measure is below ``tol``.  ``False``
    #: for methods whose measure can be small before the fit has learned
    #: anything (the adversarial fits: the discriminator loss starts at log 4).
    early_stop = True
    #: What to change when the fit does not converge (the warning's last words).
    advice = "increase `max_iter` or `learning_rate`"

    def config(self, options: FitOptions) -> dict:
        """Everything that changes the iterates, except ``max_iter`` (JSON)."""
        raise NotImplementedError

    def start(self, rng: np.random.Generator, resuming: bool) -> LoopState:
        """The initial loop state.

        With ``resuming`` the state is overwritten by a checkpoint next, so
        expensive starts (screening, pre-training) may be skipped; the arrays
        only need their shapes.
        """
        raise NotImplementedError

    def evaluate(self, state: LoopState):
        """Objective, gradients and records at the current state.

        Appends to the histories and updates state that is not optimised
        (e.g. a posterior).  Returns ``(info, pending)``: the callback's dict
        and whatever :meth:`update` needs.
        """
        raise NotImplementedError

    def update(self, state: LoopState, pending) -> None:
        """Apply the optimiser steps prepared by :meth:`evaluate`."""
        raise NotImplementedError

    def measures(self, state: LoopState) -> dict:
        """Convergence measures (name -> float >= 0) at the last evaluation."""
        raise NotImplementedError

    def result(self, state: LoopState, *, converged: bool, seconds: float):
        """The result object of the fit at ``state``."""
        raise NotImplementedError


def l2_penalty(params, mask, weight_decay: float):
    r"""Value and gradient of the prior :math:`\frac\kappa2\|M\omega\|^2`.

    Parameters
    ----------
    params : ndarray, shape (n,)
        :math:`\omega`.
    mask : ndarray, shape (n,) or float
        :math:`M` (0/1 entries, or 1.0 for every weight).
    weight_decay : float
        :math:`\kappa \ge 0`.

    Returns
    -------
    value : float
        :math:`\frac\kappa2 \omega^\top M \omega` (``M`` is 0/1, so
        :math:`M^2 = M`).
    grad : ndarray, shape (n,)
        :math:`\kappa M \omega`.

    Examples
    --------
    >>> l2_penalty(np.array([1.0, 2.0]), np.array([0.0, 1.0]), 0.5)
    (1.0, array([0., 1.]))
    """
    decayed = mask * params
    return 0.5 * weight_decay * float(decayed @ params), weight_decay * decayed


def _save_due(state: LoopState, options: FitOptions) -> bool:
    return (state.stopped or state.iteration % options.checkpoint_every == 0
            or state.iteration == options.max_iter)


def run_fit(method: FitMethod, options: FitOptions):
    """Run ``method`` to convergence or ``options.max_iter`` (module docstring).

    Parameters
    ----------
    method : FitMethod
    options : FitOptions

    Returns
    -------
    The method's result (:meth:`FitMethod.result`).

    Raises
    ------
    ValueError
        A checkpoint of another configuration, or damaged.
    """
    start = time.perf_counter()
    rng = np.random.default_rng(options.seed)
    config = loaded = None
    if options.checkpoint is not None:
        config = method.config(options)
        loaded = load_checkpoint(options.checkpoint, config)
    state = method.start(rng, resuming=loaded is not None)
    if loaded is not None:
        state.restore(options.checkpoint, loaded)
    first, diverged = {}, None
    while not state.stopped and state.iteration < options.max_iter:
        iteration = state.iteration
        info, pending = method.evaluate(state)
        diverged = divergence(info, first)
        if diverged is not None:
            warnings.warn(f"{method.name} diverged at iteration {iteration + 1}: {diverged}; "
                          "stopped without saving this state; lower the learning rate",
                          DivergenceWarning, stacklevel=3)
            break
        state.stopped = method.early_stop and _below(method.measures(state), options.tol)
        if not state.stopped:
            method.update(state, pending)
        state.iteration = iteration + 1
        if options.checkpoint is not None and _save_due(state, options):
            state.save(options.checkpoint, config)
        if options.callback is not None:
            options.callback(iteration, info)
    measures = method.measures(state)
    converged = diverged is None and _below(measures, options.tol)
    if not converged and options.warn and diverged is None:
        described = ", ".join(f"{name} {value:.3e}" for name, value in measures.items())
        warnings.warn(f"{method.name} did not converge: {described} (tol={options.tol:.1e}) "
                      f"after max_iter={options.max_iter} iterations; {method.advice}",
                      ConvergenceWarning, stacklevel=3)
    return method.result(state, converged=converged, seconds=time.perf_counter() - start)


def _below(measures: dict, tol: float) -> bool:
    return all(value < tol for value in measures.values())
