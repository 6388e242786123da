r"""Safeguarded Anderson acceleration of the best-response map on the flow.

The unknown is the observed flow :math:`x` (the state distributions
:math:`\mu_t(s \mid m)`, or the state-action distributions
:math:`L_t(s, a \mid m)` for games that observe those), and the map is

.. math:: G(x) = \Phi\big(BR_\beta(x)\big),

the flow of the soft best response to the model evaluated along :math:`x`:
one backward and one forward pass.  Its fixed points are the flows of the
ERMFNE, with policy :math:`\pi = BR_\beta(x)`.  With the residual
:math:`f(x) = G(x) - x`, Anderson acceleration (type II, Walker & Ni 2011,
"Anderson acceleration for fixed-point iterations", SIAM J. Numer. Anal. 49,
eq. (2.3), with mixing :math:`\eta`) keeps the last :math:`m` differences
:math:`\Delta x_j = x_{j+1} - x_j`, :math:`\Delta f_j = f_{j+1} - f_j` and steps

.. math::

    \gamma = \arg\min_\gamma \|f_n - \Delta F \gamma\|_2, \qquad
    x_{n+1} = P\big(x_n + \eta f_n - (\Delta X + \eta\, \Delta F)\gamma\big),

where :math:`P` clips negative entries and renormalises each
:math:`(m, t)` row onto the simplex.  It is a multisecant quasi-Newton step:
on a linear map it spans the same space as GMRES, so it does not need the map
to be a contraction, which damped iteration does.  Safeguards (ours, in the
spirit of Zhang, O'Donoghue & Boyd 2020, "Globally convergent type-I Anderson
acceleration", SIAM J. Optim. 30):

* an Anderson step is kept only if it lowers :math:`\|f\|_2`; otherwise the
  next step is the damped step :math:`x_n + \eta f_n` from the last kept point;
* a damped step that raises :math:`\|f\|_2` halves :math:`\eta` (from 1,
  down to ``MIN_STEP``);
* the first steps are plain, :math:`x_{n+1} = G(x_n)`, and plain steps go on
  while each shrinks :math:`\|f\|_2` by ``FAST_CONTRACTION``: they reuse the
  model the forward pass evaluated and need no least squares;
* the stage gives up ("stalls") when :math:`\|f\|_2` has not halved in
  ``patience`` iterates, and says so; the caller then tries another method.

The fixed-point residual of the policy, :math:`\max|BR_\beta(\Phi(\pi)) - \pi|`,
costs one more backward pass, so it is measured only when the flow residual
:math:`\max|f|` falls below a threshold that starts at ``10 * tol`` and is
lowered after each measurement that is still above ``tol`` (the policy residual
is about :math:`\|\partial BR / \partial x\|` times the flow residual: below it
at high temperature, far above it at low temperature).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..game._spec import MFGSpec
from ._mean_field import forward_unchecked
from ._model import MeanFieldFlow, allocate_model, evaluate_unchecked
from ._monitor import SolveMonitor
from ._soft_bellman import backward_unchecked

__all__ = ["FlowMap", "AndersonHistory", "StageOutcome", "anderson_stage", "STATUS_VERBS"]

#: How a stage's status reads in the solver's message.
STATUS_VERBS = {"converged": "converged", "stalled": "stalled",
                "budget": "was stopped by the budget"}

#: Plain iteration (:math:`x' = G(x)`, no Anderson step) continues while each
#: step shrinks :math:`\|f\|_2` at least this much: it then needs no model
#: evaluation and no least squares, and Anderson would gain little.
FAST_CONTRACTION = 0.5

#: Smallest mixing step :math:`\eta` the safeguard halves down to.
MIN_STEP = 1e-3


@dataclass(frozen=True, eq=False)
class StageOutcome:
    """How one stage of the default solver ended.

    Attributes
    ----------
    policy : ndarray, shape (K, T, S, A)
        Its best iterate (the converged one, when ``status == "converged"``).
    status : {"converged", "stalled", "budget"}
    iterations : int
        Iterates this stage evaluated.
    note : str
        One clause for the solver's message: what the stage did.
    """

    policy: np.ndarray
    status: str
    iterations: int
    note: str


class FlowMap:
    r""":math:`G(x) = \Phi(BR_\beta(x))` on the observed flow of ``spec``.

    ``x`` is the mean field ``(K, T+1, S)``, or the state-action distribution
    ``(K, T, S, A)`` when ``spec.mean_field_kind == "state_action"``.
    """

    def __init__(self, spec: MFGSpec, temperature: float, backend: str):
        self.spec = spec
        self.temperature = temperature
        self.backend = backend
        self.state_action = spec.mean_field_kind == "state_action"
        self._buffer = allocate_model(spec)  # the model at x: dead once BR(x) is computed
        shape = (spec.n_contexts, spec.horizon, spec.n_states, spec.n_actions)
        self._no_state_action = None if self.state_action else np.zeros(shape)

    def of_flow(self, flow: MeanFieldFlow) -> np.ndarray:
        """The part of a flow that the model observes."""
        return flow.state_action if self.state_action else flow.mean_field

    def model_at(self, x: np.ndarray):
        """The model evaluated along ``x`` (a valid flow), in a reused buffer."""
        if not self.state_action:
            return evaluate_unchecked(self.spec, x, self._no_state_action, self.backend,
                                      self._buffer)
        states = x.sum(axis=-1)
        mean_field = np.concatenate([states, states[:, -1:]], axis=1)  # last row: unread
        return evaluate_unchecked(self.spec, mean_field, x, self.backend, self._buffer)

    def __call__(self, x: np.ndarray, model=None):
        """``(G(x), BR(x), flow of BR(x))``; ``model`` may be the model at ``x``."""
        if model is None:
            model = self.model_at(x)
        _, _, policy = backward_unchecked(model, self.temperature, None, self.backend)
        flow = forward_unchecked(self.spec, policy, self.backend)
        return self.of_flow(flow), policy, flow

    def policy_residual(self, policy: np.ndarray, flow: MeanFieldFlow) -> float:
        r""":math:`\max|BR_\beta(\Phi(\pi)) - \pi|`, with ``flow`` :math:`= \Phi(\pi)`."""
        _, _, best = backward_unchecked(flow.model, self.temperature, None, self.backend)
        return float(np.max(np.abs(best - policy)))


def project_rows(x: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """Clip ``x`` at 0 and renormalise every ``(m, t)`` row; empty rows take ``fallback``'s."""
    K, T = x.shape[:2]
    rows = np.maximum(x, 0.0).reshape(K, T, -1)
    total = rows.sum(axis=-1, keepdims=True)
    good = total > 0
    rows = np.where(good, rows / np.where(good, total, 1.0), fallback.reshape(K, T, -1))
    return rows.reshape(x.shape)


class AndersonHistory:
    r"""The last ``size`` secant pairs :math:`(\Delta x_j, \Delta f_j)` and their Gram matrix.

    Every evaluated point is pushed in order; consecutive points give one
    pair.  :meth:`step` solves the least-squares problem through the
    ``size x size`` Gram matrix :math:`\Delta F^\top \Delta F`, kept up to date one
    row per push, so an iteration costs :math:`O(m n)`; a ridge of
    :math:`10^{-10}` times the mean diagonal keeps :math:`\gamma` bounded when the
    differences are nearly collinear.
    """

    def __init__(self, size: int, n: int):
        self.size = size
        self.dx = np.empty((size, n))
        self.df = np.empty((size, n))
        self.gram = np.zeros((size, size))
        self.count = 0
        self.head = 0
        self.last = None

    def push(self, x: np.ndarray, f: np.ndarray) -> None:
        """Add the evaluated point ``x`` (flat) with residual ``f`` (flat)."""
        if self.last is not None:
            i = self.head
            np.subtract(x, self.last[0], out=self.dx[i])
            np.subtract(f, self.last[1], out=self.df[i])
            self.count = min(self.count + 1, self.size)
            self.head = (self.head + 1) % self.size
            column = self.df[:self.count] @ self.df[i]
            self.gram[i, :self.count] = column
            self.gram[:self.count, i] = column
        self.last = (x.copy(), f.copy())

    def step(self, x: np.ndarray, f: np.ndarray, eta: float) -> np.ndarray:
        r""":math:`x + \eta f - (\Delta X + \eta \Delta F)\gamma` (module docstring), flat."""
        if self.count == 0:
            return x + eta * f
        n = self.count
        rhs = self.df[:n] @ f
        gram = self.gram[:n, :n]
        scale = np.trace(gram) / n
        if not scale > 0:  # the residual did not change: no secant information
            return x + eta * f
        # Tikhonov term: bounds gamma when the differences are nearly collinear
        gamma = np.linalg.solve(gram + 1e-10 * scale * np.eye(n), rhs)
        return x + eta * f - gamma @ self.dx[:n] - eta * (gamma @ self.df[:n])


@dataclass(eq=False)
class _Point:
    x: np.ndarray
    image: np.ndarray
    f: np.ndarray
    norm: float
    policy: np.ndarray
    flow: MeanFieldFlow


def anderson_stage(spec: MFGSpec, temperature: float, initial_flow: MeanFieldFlow, tol: float,
                   monitor: SolveMonitor, backend: str, *, memory: int = 8,
                   patience: int = 100, plain_steps: int = 0) -> StageOutcome:
    r"""Run safeguarded Anderson acceleration (module docstring) from ``initial_flow``.

    Parameters
    ----------
    spec : MFGSpec
    temperature : float
        :math:`\beta > 0`.
    initial_flow : MeanFieldFlow
        The flow (and model) of the initial policy: :math:`x_0`.
    tol : float
        Stop when the policy's fixed-point residual is below this.
    monitor : SolveMonitor
    backend : str
    memory : int, default 8
        :math:`m`, secant pairs kept.
    patience : int, default 100
        Iterates allowed without halving the best :math:`\|f\|_2`.
    plain_steps : int, default 0
        Take this many plain steps :math:`x' = G(x)` first, whatever they do to
        :math:`\|f\|_2` (no safeguard, no stall test), then go on as above.

    Returns
    -------
    StageOutcome
    """
    flow_map = FlowMap(spec, temperature, backend)
    x = flow_map.of_flow(initial_flow)
    history = AndersonHistory(memory, x.size)
    current = _evaluate(flow_map, x, initial_flow.model, monitor, history, 1.0)
    start = monitor.iteration - 1
    label = "Anderson acceleration on the flow" + (
        f" after {plain_steps} plain steps" if plain_steps else "")
    for _ in range(plain_steps):
        if monitor.exhausted():
            break
        current = _evaluate(flow_map, current.image, current.flow.model, monitor, history, 1.0)
    best, mark, mark_at = current, current.norm, monitor.iteration
    eta, use_anderson, plain, rejected, threshold = 1.0, True, True, 0, 10.0 * tol
    while True:
        if np.max(np.abs(current.f)) < threshold:
            residual = flow_map.policy_residual(current.policy, current.flow)
            monitor.set_residual(residual)
            if residual < tol:
                return _outcome(current, "converged", monitor, start, eta, rejected, label)
            threshold = 0.5 * np.max(np.abs(current.f)) * tol / residual
        if monitor.exhausted():
            return _outcome(best, "budget", monitor, start, eta, rejected, label)
        if monitor.iteration - mark_at > patience:
            return _outcome(best, "stalled", monitor, start, eta, rejected, label)
        anderson = use_anderson and not plain and history.count > 0
        if anderson:
            proposal = history.step(current.x.ravel(), current.f.ravel(), eta)
            point, model = project_rows(proposal.reshape(x.shape), current.x), None
        elif eta == 1.0:  # plain step: x' = G(x), a flow whose model the forward pass made
            point, model = current.image, current.flow.model
        else:
            point, model = project_rows(current.x + eta * current.f, current.x), None
        trial = _evaluate(flow_map, point, model, monitor, history, eta)
        if anderson and not trial.norm < current.norm:
            rejected += 1
            use_anderson = False
            continue
        if not anderson:
            if trial.norm > current.norm:
                eta = max(0.5 * eta, MIN_STEP)
            plain = eta == 1.0 and trial.norm <= FAST_CONTRACTION * current.norm
        use_anderson = True
        current = trial
        if current.norm < best.norm:
            best = current
        if current.norm < 0.5 * mark:
            mark, mark_at = current.norm, monitor.iteration


def _evaluate(flow_map, x, model, monitor, history, eta) -> _Point:
    """Evaluate ``G`` at ``x``, record the iterate and push it to the history."""
    image, policy, flow = flow_map(x, model)
    f = image - x
    monitor.record("anderson", policy, flow_residual=float(np.max(np.abs(f))), step=eta)
    history.push(x.ravel(), f.ravel())
    return _Point(x, image, f, float(np.sqrt(np.sum(f * f))), policy, flow)


def _outcome(point, status, monitor, start, eta, rejected, label) -> StageOutcome:
    iterations = monitor.iteration - start
    note = (f"{label} {STATUS_VERBS[status]} after {iterations} "
            f"iterations (flow residual {np.max(np.abs(point.f)):.2e}, mixing step {eta:g}, "
            f"{rejected} Anderson steps rejected)")
    return StageOutcome(point.policy, status, iterations, note)
