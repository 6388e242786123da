r"""Solvers for the entropy-regularised mean field Nash equilibrium (ERMFNE).

An ERMFNE at temperature :math:`\beta > 0` is a policy :math:`\pi` with

.. math:: \pi = BR_\beta\big(\Phi(\pi)\big),

where :math:`\Phi` is the forward pass (:func:`forward_mean_field`) and
:math:`BR_\beta` the soft best response (:func:`soft_bellman_backward`) to the
model frozen at that flow.  Every method evaluates iterates (one forward and
one backward pass each) and stops when the fixed-point residual

.. math:: r(\pi_n) = \max_{m,t,s,a} |BR_\beta(\Phi(\pi_n)) - \pi_n|

falls below ``tol``.  Whatever the method, the returned policy is then
*certified* by a fresh forward and backward pass on it alone
(:mod:`tabmfirl.solvers._certificate`): ``residual``, the regularised
exploitability :math:`\mathcal{E}_\beta` and the unregularised one
:math:`\mathcal{E}_0`, per context; ``converged`` is ``residual < tol`` of
that pass.

``auto`` (the default) needs no step size; it runs these stages in turn
until one converges (each from the initial policy):
    1. Anderson acceleration of :math:`x \mapsto \Phi(BR_\beta(x))` on the flow
       (:mod:`tabmfirl.solvers._anderson`: a multisecant step, kept only when
       it lowers the flow residual, else a damped step whose size halves while
       it does not);
    2. the same after :math:`T + 1` plain steps :math:`x' = \Phi(BR_\beta(x))`
       taken whatever they do to the residual: where the best response at a
       step hinges on the flow at other steps, plain iteration settles one
       more step per iterate and can reach the equilibrium's basin only after
       its residual has grown for a while, which the safeguards of stage 1
       forbid;
    3. Newton–Krylov on the policy logits (:mod:`tabmfirl.solvers._newton`,
       SciPy), whose line search does not need the equilibrium to attract any
       fixed-point iteration.
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

Why ``auto`` (measured, ``benchmarks/bench_solvers.py``, table in
``docs/theory.md``): plain iteration cycles as soon as the coupling is
strong or the temperature low, and the damping or learning rate that
converges depends on the game (the issue's ring of 8 locations with
congestion :math:`-2\mu(s)` at :math:`\beta = 0.1` needs mirror descent with
step 0.01, 2,273 iterations; damping 0.05 does not converge in 3,000).
Anderson acceleration is a quasi-Newton method: it converges where the
damped iteration converges only with a tiny step, in tens to hundreds of
iterates, with nothing to tune.  On rotating games at low temperature
(rock-paper-scissors with switching costs at :math:`\beta \le 0.1`) every
damped map needs a step below 0.002 and Anderson stalls; Newton–Krylov on the
logits converges there in about 500 evaluations.  On a malware game with a
learned reward, plain iteration's residual grows five-fold over 9 iterates,
then collapses (converged in 21), while stage 1 stalls after 347 iterates;
stage 2 converges in 20.  Anderson alone costs :math:`2m` flow-sized vectors;
Newton–Krylov about 30 policy-sized ones.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from ..game._spec import MFGSpec
from ..kernels._backend import resolve_backend
from ._anderson import anderson_stage
from ._certificate import certify
from ._exploitability import exploitability_on_model
from ._mean_field import check_policy, forward_unchecked, occupancy_measure
from ._model import EvaluatedModel
from ._monitor import SolveMonitor
from ._newton import newton_krylov_stage
from ._soft_bellman import backward_unchecked, check_temperature

__all__ = ["EquilibriumResult", "ConvergenceWarning", "solve_equilibrium",
           "EQUILIBRIUM_METHODS", "METHODS"]

#: Names of the equilibrium methods of :func:`solve_equilibrium`.
EQUILIBRIUM_METHODS = ("auto", "fixed_point", "fictitious_play", "mirror_descent")
#: Alias of :data:`EQUILIBRIUM_METHODS` (the public name before it was renamed).
METHODS = EQUILIBRIUM_METHODS

#: Patience of the second Anderson stage (after the plain steps), in iterates.
AFTER_PLAIN_PATIENCE = 30

_HINTS = {"fixed_point": "lower `damping`",
          "fictitious_play": "use method='auto'",
          "mirror_descent": "lower `learning_rate`"}


class ConvergenceWarning(UserWarning):
    """A solver stopped (budget spent or stalled) before reaching ``tol``."""


@dataclass(frozen=True, eq=False)
class EquilibriumResult:
    r"""Result of :func:`solve_equilibrium`.

    ``policy`` is the iterate the solver returns; everything from
    ``mean_field`` to ``unregularised_exploitability`` is its certificate,
    computed by a fresh forward and backward pass on it alone.

    Attributes
    ----------
    policy : ndarray, shape (K, T, S, A)
        The returned iterate :math:`\pi`.
    mean_field : ndarray, shape (K, T+1, S)
        Its flow :math:`\Phi(\pi)`.
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
        Number of iterates evaluated (forward plus backward passes).
    residual : float
        :math:`\max |BR_\beta(\Phi(\pi)) - \pi|` at the returned policy.
    residual_history : ndarray, shape (num_iter,)
        The residual of each iterate; NaN where the method did not measure it
        (``auto`` measures it only when the flow residual is small).
    exploitability : ndarray, shape (K,)
        :math:`\mathcal{E}_\beta` of the returned policy, per context.
    exploitability_history : ndarray, shape (num_iter, K)
        Per iterate; NaN rows where not measured (``auto`` never measures it
        during the iteration).
    method : str
    temperature : float
    backend : str
    seconds : float
        Wall time of the solve, certificate included.
    unregularised_exploitability : ndarray, shape (K,)
        :math:`\mathcal{E}_0` of the returned policy (hard best response, no
        entropy term; positive at a regularised equilibrium).
    flow_residual_history : ndarray, shape (num_iter,)
        ``auto``'s :math:`\max|\Phi(BR_\beta(x_n)) - x_n|` per iterate of its
        Anderson stage (NaN elsewhere).
    message : str
        What the solver did: stages, iterations, steps; on failure, what to
        change.
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
    unregularised_exploitability: np.ndarray = None
    flow_residual_history: np.ndarray = None
    message: str = ""


def uniform_policy(spec: MFGSpec) -> np.ndarray:
    """The uniform policy, shape ``(K, T, S, A)``."""
    shape = (spec.n_contexts, spec.horizon, spec.n_states, spec.n_actions)
    return np.full(shape, 1.0 / spec.n_actions)


def _check_step(value, name: str) -> float:
    value = float(value)
    if not 0.0 < value <= 1.0:
        raise ValueError(f"{name} must lie in (0, 1], got {value}")
    return value


def _check_budgets(max_iter, tol, max_seconds):
    if isinstance(max_iter, (bool, np.bool_)) or not isinstance(max_iter, (int, np.integer)) \
            or max_iter < 1:
        raise ValueError(f"max_iter must be a positive integer, got {max_iter!r}")
    tol = float(tol)
    if not tol > 0:
        raise ValueError(f"tol must be > 0, got {tol}")
    if max_seconds is not None:
        max_seconds = float(max_seconds)
        if not max_seconds > 0:
            raise ValueError(f"max_seconds must be > 0 (or None), got {max_seconds}")
    return int(max_iter), tol, max_seconds


def solve_equilibrium(spec: MFGSpec, *, temperature: float = 1.0, method: str = "auto",
                      max_iter: int = 1000, tol: float = 1e-10, damping: float = 1.0,
                      learning_rate: float = 0.5, initial_policy=None, backend: str = "auto",
                      callback: Optional[Callable[[int, dict], None]] = None,
                      max_seconds: Optional[float] = None,
                      warn: bool = True) -> EquilibriumResult:
    r"""Entropy-regularised mean field Nash equilibrium of every context.

    Solves :math:`\pi = BR_\beta(\Phi(\pi))` (module docstring) and certifies
    the result with a fresh forward and backward pass.

    Parameters
    ----------
    spec : MFGSpec
    temperature : float, default 1.0
        :math:`\beta > 0`.
    method : {"auto", "fixed_point", "fictitious_play", "mirror_descent"}
        ``"auto"`` (default): Anderson acceleration on the flow, then
        Newton–Krylov on the logits if that stalls; no step size to choose.
        The others are the plain iterations of the module docstring.
    max_iter : int, default 1000
        Most iterates evaluated (each one forward and one backward pass).
    tol : float, default 1e-10
        Stop when the fixed-point residual falls below this.
    damping : float, default 1.0
        :math:`\alpha` of ``fixed_point`` (1 = plain iteration).
    learning_rate : float, default 0.5
        :math:`\eta` of ``mirror_descent``.
    initial_policy : ndarray, shape (K, T, S, A) or (T, S, A), optional
        Where the iteration starts (default: uniform).  A game with several
        equilibria (a coordination game, where everyone gains from choosing
        what the others choose) has one attracting equilibrium per basin, and
        the result depends on this policy.
    backend : {"auto", "numpy", "numba", "cuda"}
    callback : callable, optional
        Called as ``callback(iteration, info)`` after each iterate; ``info``
        has ``stage``, ``residual`` (NaN where not measured),
        ``flow_residual``, ``exploitability`` (per context, or None where not
        measured), ``step``, ``policy`` (read-only) and ``seconds``.
    max_seconds : float, optional
        Stop (not converged) once the solve has run this long.
    warn : bool, default True
        Emit a :class:`ConvergenceWarning` when the result has not converged;
        it says what was tried and what to change.

    Returns
    -------
    EquilibriumResult

    Raises
    ------
    ValueError
        Unknown method, bad budget, step size, temperature or initial policy.

    Examples
    --------
    >>> from tabmfirl.envs import virus
    >>> result = solve_equilibrium(virus.make(), temperature=0.5, backend="numpy")
    >>> result.converged, bool(result.exploitability.max() < 1e-9)
    (True, True)
    """
    if method not in EQUILIBRIUM_METHODS:
        raise ValueError(f"method must be one of {EQUILIBRIUM_METHODS}, got {method!r}")
    max_iter, tol, max_seconds = _check_budgets(max_iter, tol, max_seconds)
    temperature = check_temperature(temperature, allow_zero=False)
    steps = {"damping": _check_step(damping, "damping"),
             "learning_rate": _check_step(learning_rate, "learning_rate")}
    backend = resolve_backend(backend)
    K, T, S, A = spec.n_contexts, spec.horizon, spec.n_states, spec.n_actions
    policy = uniform_policy(spec) if initial_policy is None else \
        check_policy(initial_policy, K, T, S, A).copy()
    monitor = SolveMonitor(K, max_iter, max_seconds, callback)
    if method == "auto":
        policy, note = _solve_auto(spec, policy, temperature, tol, monitor, backend)
    else:
        policy, note = _solve_plain(spec, method, policy, temperature, tol, steps, monitor,
                                    backend)
    return _finish(spec, policy, note, method, temperature, tol, monitor, backend, warn)


def _solve_auto(spec, policy, temperature, tol, monitor, backend):
    """The stages of ``auto`` (module docstring) in turn; ``(policy, note)``."""
    initial_flow = forward_unchecked(spec, policy, backend)
    stages = (
        lambda: anderson_stage(spec, temperature, initial_flow, tol, monitor, backend),
        lambda: anderson_stage(spec, temperature, initial_flow, tol, monitor, backend,
                               plain_steps=spec.horizon + 1, patience=AFTER_PLAIN_PATIENCE),
        lambda: newton_krylov_stage(spec, temperature, policy, tol, monitor, backend),
    )
    outcomes = []
    for stage in stages:
        outcomes.append(stage())
        if outcomes[-1].status in ("converged", "budget"):
            break
    note = "; then ".join(outcome.note for outcome in outcomes)
    if outcomes[-1].status == "converged" or len(outcomes) == 1:
        return outcomes[-1].policy, note
    residuals = [certify(spec, outcome.policy, temperature, backend, unregularised=False).residual
                 for outcome in outcomes]
    return outcomes[int(np.argmin(residuals))].policy, note


def _solve_plain(spec, method, policy, temperature, tol, steps, monitor, backend):
    """The plain iterations of the module docstring; ``(last iterate, note)``."""
    model = None
    while True:
        flow = forward_unchecked(spec, policy, backend, model)
        model = flow.model
        q, value, best = backward_unchecked(model, temperature, None, backend)
        residual = float(np.max(np.abs(best - policy)))
        expl, own_q = exploitability_on_model(model, spec.initial_distribution, policy,
                                              temperature, backend, best_value=value)
        step = steps["learning_rate"] if method == "mirror_descent" else steps["damping"]
        monitor.record(method, policy, residual=residual, exploitability=expl,
                       step=step if method != "fictitious_play" else np.nan)
        if residual < tol or monitor.exhausted():
            break
        if method == "fixed_point":
            damping = steps["damping"]
            policy = (1.0 - damping) * policy + damping * best
        elif method == "fictitious_play":
            policy = _fictitious_play_step(model, spec.initial_distribution, policy,
                                           flow.state_action, best, monitor.iteration, backend)
        else:
            policy = _mirror_descent_step(policy, own_q, temperature, steps["learning_rate"])
    return policy, f"{method} ran {monitor.iteration} iterations"


def _finish(spec, policy, note, method, temperature, tol, monitor, backend, warn):
    """Certify ``policy``, warn if it has not converged, and build the result."""
    certificate = certify(spec, policy, temperature, backend)
    converged = certificate.residual < tol
    residuals, flow_residuals, exploitabilities = monitor.histories()
    if converged:
        message = f"{method}: converged; {note}"
    else:
        message = _failure_message(method, certificate.residual, tol, temperature, note,
                                   monitor)
        if warn:
            warnings.warn(message, ConvergenceWarning, stacklevel=3)
    flow = certificate.flow
    return EquilibriumResult(
        policy=policy, mean_field=flow.mean_field, state_action=flow.state_action,
        model=flow.model, q=certificate.q, value=certificate.value, converged=converged,
        num_iter=monitor.iteration, residual=certificate.residual,
        residual_history=residuals, exploitability=certificate.exploitability,
        exploitability_history=exploitabilities, method=method, temperature=temperature,
        backend=backend, seconds=monitor.seconds,
        unregularised_exploitability=certificate.unregularised_exploitability,
        flow_residual_history=flow_residuals, message=message)


def _failure_message(method, residual, tol, temperature, note, monitor) -> str:
    """One paragraph: how far it got, what was tried, what to change."""
    spent = monitor.exhausted()
    where = (f"after {spent}" if spent and spent.startswith("max_iter")
             else f"after {monitor.iteration} iterations")
    if spent and spent.startswith("max_seconds"):
        where += f" ({spent} reached)"
    head = (f"{method} did not converge: residual {residual:.3e} > tol={tol:.1e} {where} "
            f"in {monitor.seconds:.1f} s")
    if method != "auto":
        return (f"{head}; increase `max_iter` or `temperature`, or {_HINTS[method]}")
    return (f"{head}. Tried: {note}. Increase `max_iter` or `max_seconds` if the residual was "
            f"still falling; otherwise the equilibrium may not be unique or attracting at "
            f"temperature={temperature:g}: raise `temperature`, or pass an `initial_policy` "
            f"(with several equilibria the result depends on it)")


def _fictitious_play_step(model, mu0, policy, state_action, best, iteration, backend):
    """Average the occupancies of the current policy and of its best response."""
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
