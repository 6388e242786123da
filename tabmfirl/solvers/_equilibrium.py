r"""Solvers for the entropy-regularised mean field Nash equilibrium (ERMFNE).

An ERMFNE at temperature :math:`\beta > 0` is a policy :math:`\pi` with

.. math:: \pi = BR_\beta\big(\Phi(\pi)\big),

where :math:`\Phi` is the forward pass (:func:`forward_mean_field`) and
:math:`BR_\beta` the soft best response (:func:`soft_bellman_backward`) to the
model frozen at that flow.  Every solver iterates on a policy
:math:`\pi_n` (all contexts at once) and measures, at each iterate,

* the fixed-point residual :math:`r_n = \max_{m,t,s,a} |BR_\beta(\Phi(\pi_n)) - \pi_n|`;
* the exploitability :math:`\mathcal{E}_\beta(\pi_n)` per context.

It stops when :math:`r_n <` ``tol`` and returns that iterate, so
``converged=True`` certifies the returned policy itself.  Updates:

``fixed_point`` (damped), damping :math:`\alpha \in (0, 1]`:
    :math:`\pi_{n+1} = (1 - \alpha)\pi_n + \alpha\, BR_\beta(\Phi(\pi_n))`.
``fictitious_play`` (Perrin et al. 2020, with policy averaging):
    :math:`\bar L_{n+1} = \frac{n}{n+1} L^{\pi_n} + \frac{1}{n+1} L^{BR_n}`,
    :math:`\pi_{n+1}(a|s) = \bar L_{n+1}(s,a) / \sum_{a'} \bar L_{n+1}(s,a')`,
    where :math:`L^{BR_n}` is the occupancy of the best response in the model
    frozen at :math:`\Phi(\pi_n)` (states with no mass keep the plain average).
``mirror_descent`` (online mirror descent, Pérolat et al. 2022, with entropy):
    :math:`\pi_{n+1} \propto \pi_n^{1-\eta} \exp(\eta\, Q^{\pi_n}_\beta / \beta)`,
    :math:`Q^{\pi_n}_\beta` the regularised Q of :math:`\pi_n` at its own
    flow; its fixed points are the ERMFNE (soft policy iteration, damped).

Plain iteration (``fixed_point`` with ``damping=1``) can cycle when the
coupling is strong; lower the damping, raise the temperature, or use
fictitious play (which converges like :math:`1/n` only).
"""
from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from ..kernels._backend import resolve_backend
from ._exploitability import exploitability_on_model
from ._mean_field import check_policy, forward_unchecked
from ._model import EvaluatedModel
from ._soft_bellman import _check_temperature, _run_backward
from ..game._spec import MFGSpec

__all__ = ["EquilibriumResult", "ConvergenceWarning", "solve_equilibrium", "METHODS"]

METHODS = ("fixed_point", "fictitious_play", "mirror_descent")


class ConvergenceWarning(UserWarning):
    """A solver stopped at ``max_iter`` before reaching ``tol``."""


@dataclass(frozen=True, eq=False)
class EquilibriumResult:
    r"""Result of :func:`solve_equilibrium`.

    Attributes
    ----------
    policy : ndarray, shape (K, T, S, A)
        The last iterate :math:`\pi_n` (the one the residual was measured at).
    mean_field : ndarray, shape (K, T+1, S)
        Its flow :math:`\Phi(\pi_n)`.
    state_action : ndarray, shape (K, T, S, A)
        Its occupancy :math:`L_t(s, a)`.
    model : EvaluatedModel
        Transition and reward evaluated along that flow.
    q, value : ndarray
        Soft-optimal :math:`Q_t` ``(K, T, S, A)`` and :math:`V_t` ``(K, T+1, S)``
        of the best response to that flow.
    converged : bool
        ``residual < tol``.
    num_iter : int
        Number of iterates evaluated.
    residual : float
        :math:`\max |BR_\beta(\Phi(\pi_n)) - \pi_n|` at the returned policy.
    residual_history : ndarray, shape (num_iter,)
    exploitability : ndarray, shape (K,)
        :math:`\mathcal{E}_\beta` of the returned policy, per context.
    exploitability_history : ndarray, shape (num_iter, K)
    method : str
    temperature : float
    backend : str
    seconds : float
        Wall time of the solve.
    """

    policy: np.ndarray
    mean_field: np.ndarray
    state_action: np.ndarray
    model: EvaluatedModel
    q: np.ndarray
    value: np.ndarray
    converged: bool
    num_iter: int
    residual: float
    residual_history: np.ndarray
    exploitability: np.ndarray
    exploitability_history: np.ndarray
    method: str
    temperature: float
    backend: str
    seconds: float


def uniform_policy(spec: MFGSpec) -> np.ndarray:
    """The uniform policy, shape ``(K, T, S, A)``."""
    shape = (spec.n_contexts, spec.horizon, spec.n_states, spec.n_actions)
    return np.full(shape, 1.0 / spec.n_actions)


def _check_step(value, name: str) -> float:
    value = float(value)
    if not 0.0 < value <= 1.0:
        raise ValueError(f"{name} must lie in (0, 1], got {value}")
    return value


def solve_equilibrium(spec: MFGSpec, *, temperature: float = 1.0,
                      method: str = "fixed_point", max_iter: int = 1000, tol: float = 1e-10,
                      damping: float = 1.0, learning_rate: float = 0.5,
                      initial_policy=None, backend: str = "auto",
                      callback: Optional[Callable[[int, float, np.ndarray], None]] = None,
                      warn: bool = True) -> EquilibriumResult:
    r"""Entropy-regularised mean field Nash equilibrium of every context.

    Parameters
    ----------
    spec : MFGSpec
    temperature : float, default 1.0
        :math:`\beta > 0`.
    method : {"fixed_point", "fictitious_play", "mirror_descent"}
        See the module docstring for each update rule.
    max_iter : int, default 1000
        Most iterates evaluated.
    tol : float, default 1e-10
        Stop when the fixed-point residual falls below this.
    damping : float, default 1.0
        :math:`\alpha` of ``fixed_point`` (1 = plain iteration).
    learning_rate : float, default 0.5
        :math:`\eta` of ``mirror_descent``.
    initial_policy : ndarray, shape (K, T, S, A) or (T, S, A), optional
        Default: uniform.
    backend : {"auto", "numpy", "numba", "cuda"}
    callback : callable, optional
        Called as ``callback(iteration, residual, exploitability)`` after each
        iterate is evaluated.
    warn : bool, default True
        Emit a :class:`ConvergenceWarning` when ``max_iter`` is reached.

    Returns
    -------
    EquilibriumResult

    Examples
    --------
    >>> from tabmfirl.envs import virus
    >>> result = solve_equilibrium(virus.make(), temperature=0.5, backend="numpy")
    >>> result.converged, bool(result.exploitability.max() < 1e-9)
    (True, True)
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
        raise ValueError(f"max_iter must be a positive integer, got {max_iter!r}")
    tol = float(tol)
    if not tol > 0:
        raise ValueError(f"tol must be > 0, got {tol}")
    temperature = _check_temperature(temperature, allow_zero=False)
    damping = _check_step(damping, "damping")
    learning_rate = _check_step(learning_rate, "learning_rate")
    backend = resolve_backend(backend)
    K, T, S, A = spec.n_contexts, spec.horizon, spec.n_states, spec.n_actions
    policy = uniform_policy(spec) if initial_policy is None else \
        check_policy(initial_policy, K, T, S, A).copy()

    start = time.perf_counter()
    residuals, exploitabilities = [], []
    model = None
    for iteration in range(1, max_iter + 1):
        flow = forward_unchecked(spec, policy, backend, model)
        model = flow.model
        q, value, best = _run_backward(model, temperature, None, backend)
        residual = float(np.max(np.abs(best - policy)))
        expl, own_q = exploitability_on_model(model, spec.mu0, policy, temperature,
                                                  backend, best_value=value)
        residuals.append(residual)
        exploitabilities.append(expl)
        if callback is not None:
            callback(iteration, residual, expl)
        if residual < tol or iteration == max_iter:
            break
        if method == "fixed_point":
            policy = (1.0 - damping) * policy + damping * best
        elif method == "fictitious_play":
            policy = _fictitious_play_step(model, spec.mu0, policy, flow.state_action, best,
                                           iteration, backend)
        else:
            policy = _mirror_descent_step(policy, own_q, temperature, learning_rate)

    converged = residual < tol
    if not converged and warn:
        hint = {"fixed_point": "lower `damping`",
                "fictitious_play": "use method='fixed_point' or 'mirror_descent'",
                "mirror_descent": "lower `learning_rate`"}[method]
        warnings.warn(
            f"{method} did not converge: residual {residual:.3e} > tol={tol:.1e} after "
            f"max_iter={max_iter} iterations; increase `max_iter` or `temperature`, or "
            f"{hint}", ConvergenceWarning, stacklevel=2)
    return EquilibriumResult(
        policy=policy, mean_field=flow.mean_field, state_action=flow.state_action,
        model=model, q=q, value=value, converged=converged, num_iter=len(residuals),
        residual=residual, residual_history=np.array(residuals),
        exploitability=exploitabilities[-1], exploitability_history=np.array(exploitabilities),
        method=method, temperature=temperature, backend=backend,
        seconds=time.perf_counter() - start)


def _fictitious_play_step(model, mu0, policy, state_action, best, iteration, backend):
    """Average the occupancies of the current policy and of its best response."""
    from ._mean_field import occupancy_measure

    _, best_occupancy = occupancy_measure(model, best, mu0, backend=backend)
    weight = 1.0 / (iteration + 1)
    averaged = (1.0 - weight) * state_action + weight * best_occupancy
    mass = averaged.sum(axis=-1, keepdims=True)
    plain_average = (1.0 - weight) * policy + weight * best
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(mass > 0, averaged / np.where(mass > 0, mass, 1.0), plain_average)


def _mirror_descent_step(policy, own_q, temperature, learning_rate):
    r""":math:`\pi' \propto \pi^{1-\eta} \exp(\eta Q^\pi / \beta)`, in the log domain."""
    with np.errstate(divide="ignore"):
        logits = (1.0 - learning_rate) * np.log(policy) + learning_rate * own_q / temperature
    logits -= logits.max(axis=-1, keepdims=True)
    unnormalised = np.exp(logits)
    return unnormalised / unnormalised.sum(axis=-1, keepdims=True)
