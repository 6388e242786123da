r"""Assertions in the style of :mod:`numpy.testing` for policies and flows computed elsewhere.

Each recomputes the exact quantity with tabmfirl and raises
:class:`AssertionError` whose message says, per type and step, what is off.

:func:`assert_equilibrium` checks the exploitability
:math:`\mathcal{E}_\beta(\pi)_m \le` ``atol`` for every type ``m``.  Its
message splits the exploitability over steps by the performance-difference
identity (exact, no approximation):

.. math::

    \mathcal{E}_\beta(\pi)_m = \sum_{t=0}^{T-1} \sum_s \mu^\pi_t(s \mid m)\,
    g_t(s), \qquad
    g_t(s) = V^*_t(s) - \sum_a \pi_t(a \mid s)
             \big(Q^*_t(s, a) - \beta \log \pi_t(a \mid s)\big) \ge 0,

with :math:`Q^*, V^*` the soft best response to the policy's own flow
:math:`\mu^\pi` (for :math:`\beta > 0`,
:math:`g_t(s) = \beta\, \mathrm{KL}(\pi_t(\cdot \mid s) \,\|\, BR_t(\cdot \mid s))`),
so each step's share and the state contributing most are named.
"""
from __future__ import annotations

import numpy as np

from ..game._spec import MFGSpec
from ..solvers._exploitability import exploitability
from ..solvers._mean_field import check_policy, forward_mean_field
from ..solvers._model import evaluate_model
from ..solvers._soft_bellman import check_temperature, soft_bellman_backward

__all__ = ["assert_equilibrium", "assert_flow", "assert_soft_best_response",
           "exploitability_by_step"]

#: Most (type, step) lines a failure message lists before summarising the rest.
MAX_LINES = 12
#: Exploitability below ``-NEGATIVE_FLOOR`` is a failure too (it is >= 0 by theory).
NEGATIVE_FLOOR = 1e-10


def _per_type(array, spec: MFGSpec, tail: tuple, name: str) -> np.ndarray:
    """``array`` as float64 ``(K,) + tail``; a ``tail``-shaped array is accepted when K = 1."""
    array = np.asarray(array, dtype=np.float64)
    if spec.n_contexts == 1 and array.shape == tail:
        array = array[None]
    if array.shape != (spec.n_contexts,) + tail:
        raise ValueError(f"{name} must have shape {(spec.n_contexts,) + tail} "
                         f"(or {tail} for a one-type game), got {array.shape}")
    return array


def _limit(lines: list) -> list:
    """At most ``MAX_LINES`` lines, then how many were left out."""
    if len(lines) <= MAX_LINES:
        return lines
    return lines[:MAX_LINES] + [f"  ... and {len(lines) - MAX_LINES} more"]


def _off(given: np.ndarray, exact: np.ndarray, atol: float, rtol: float) -> np.ndarray:
    """True where ``|given - exact| > atol + rtol |exact|`` (or ``given`` is not finite)."""
    with np.errstate(invalid="ignore"):
        return ~(np.abs(given - exact) <= atol + rtol * np.abs(exact))


def assert_flow(spec: MFGSpec, policy, mean_field, *, atol: float = 1e-8, rtol: float = 0.0,
                backend: str = "numpy") -> None:
    r"""Assert that ``mean_field`` is the flow of ``policy``.

    .. math:: \mu_{t+1}(s' \mid m) = \sum_{s, a} \mu_t(s \mid m)\,
              \pi_t(a \mid s, m)\, P(s' \mid s, a, \nu^m_t), \qquad
              \mu_0 = \mu_0,

    checked entry by entry: ``|given - exact| <= atol + rtol * |exact|``.

    Parameters
    ----------
    spec : MFGSpec
    policy : ndarray, shape (K, T, S, A) or (T, S, A)
    mean_field : ndarray, shape (K, T+1, S) (or (T+1, S) when K = 1)
        The flow to check, ``mean_field[:, 0]`` included.
    atol, rtol : float
    backend : {"numpy", "numba", "auto"}

    Raises
    ------
    AssertionError
        Naming each type and step where an entry is off: the largest error,
        its state, the given and the exact value.
    ValueError
        Wrong shapes or a policy whose rows are not distributions.

    Examples
    --------
    >>> from tabmfirl import forward_mean_field
    >>> from tabmfirl.testing import random_game, random_policy
    >>> spec = random_game(3, 2, 4, transition_strength=0.1, rng=0)
    >>> pi = random_policy(spec, rng=1)
    >>> mu = forward_mean_field(spec, pi, backend="numpy").mean_field
    >>> assert_flow(spec, pi, mu)
    >>> mu[0, 2] = mu[0, 2, ::-1]
    >>> assert_flow(spec, pi, mu)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    AssertionError: mean field is not the flow of the policy (atol=1e-08, rtol=0.0): ...
      type 0, step 2: max |given - exact| = ... at state ...
    """
    T, S = spec.horizon, spec.n_states
    given = _per_type(mean_field, spec, (T + 1, S), "mean_field")
    exact = forward_mean_field(spec, policy, backend=backend).mean_field
    bad = _off(given, exact, atol, rtol)
    if not bad.any():
        return
    lines = []
    for m, t in zip(*np.nonzero(bad.any(axis=2))):
        error = np.where(np.isfinite(given[m, t]), np.abs(given[m, t] - exact[m, t]), np.inf)
        s = int(np.argmax(error))
        lines.append(f"  type {m}, step {t}: max |given - exact| = {error[s]:.3g} at state {s} "
                     f"(given {given[m, t, s]:.6g}, exact {exact[m, t, s]:.6g})")
    raise AssertionError("\n".join(
        [f"mean field is not the flow of the policy (atol={atol}, rtol={rtol}): "
         f"{int(bad.sum())} of {bad.size} entries off"] + _limit(lines)))


def assert_soft_best_response(spec: MFGSpec, policy, temperature: float, *, mean_field=None,
                              state_action=None, atol: float = 1e-8, reached_only: bool = False,
                              backend: str = "numpy") -> None:
    r"""Assert that ``policy`` is the soft best response to a flow.

    .. math:: \pi_t(a \mid s, m) = \exp\big((Q^*_t(s, a) - V^*_t(s)) / \beta\big),
              \qquad Q^*_t = r(\cdot, \cdot, \nu^m_t, m) + P(\cdot \mid \cdot, \cdot,
              \nu^m_t)\, V^*_{t+1},

    with :math:`V^*_t = \beta \log \sum_a \exp(Q^*_t / \beta)`,
    :math:`V^*_T = 0`, the game frozen at the flow, checked entry by entry:
    ``|pi - BR| <= atol``.

    Parameters
    ----------
    spec : MFGSpec
    policy : ndarray, shape (K, T, S, A) or (T, S, A)
    temperature : float
        :math:`\beta > 0`.
    mean_field : ndarray, shape (K, T+1, S), optional
        The flow the game is frozen at; default: the flow of ``policy`` (then
        the assertion is the equilibrium fixed point :math:`\pi = BR_\beta(\Phi(\pi))`).
    state_action : ndarray, shape (K, T, S, A), optional
        With ``mean_field``, for games that observe the state-action distribution.
    atol : float
    reached_only : bool, default False
        Compare only states the flow charges (:math:`\mu_t(s \mid m) > 0`).
    backend : {"numpy", "numba", "auto"}

    Raises
    ------
    AssertionError
        Naming each type and step where the policy is off: the largest
        ``|pi - BR|``, its state, and both action distributions there.
    ValueError
        Wrong shapes, a policy that is not a distribution, or ``temperature <= 0``.
    """
    temperature = check_temperature(temperature, allow_zero=False)
    K, T, S, A = spec.n_contexts, spec.horizon, spec.n_states, spec.n_actions
    given = check_policy(_per_type(policy, spec, (T, S, A), "policy"), K, T, S, A)
    if mean_field is None:
        flow = forward_mean_field(spec, given, backend=backend)
        model, mu = flow.model, flow.mean_field
    else:
        mu = _per_type(mean_field, spec, (T + 1, S), "mean_field")
        if state_action is not None:
            state_action = _per_type(state_action, spec, (T, S, A), "state_action")
        model = evaluate_model(spec, mu, state_action, backend=backend)
    exact = soft_bellman_backward(model, temperature, backend=backend).policy
    error = np.abs(given - exact).max(axis=-1)                       # (K, T, S)
    if reached_only:
        error = np.where(mu[:, :T] > 0, error, 0.0)
    bad = error > atol
    if not bad.any():
        return
    lines = []
    for m, t in zip(*np.nonzero(bad.any(axis=2))):
        s = int(np.argmax(error[m, t]))
        lines.append(f"  type {m}, step {t}: max |pi - BR| = {error[m, t, s]:.3g} at state {s} "
                     f"(pi {np.array2string(given[m, t, s], precision=4)}, BR "
                     f"{np.array2string(exact[m, t, s], precision=4)}; "
                     f"mu_t(s) = {mu[m, t, s]:.3g})")
    raise AssertionError("\n".join(
        [f"policy is not the soft best response at temperature {temperature} (atol={atol}): "
         f"{int(bad.sum())} of {bad.size} (type, step, state) rows off"] + _limit(lines)))


def exploitability_by_step(spec: MFGSpec, policy, temperature: float, *,
                           backend: str = "numpy") -> np.ndarray:
    r"""Each state's and step's share of the exploitability (module docstring).

    Parameters
    ----------
    spec : MFGSpec
    policy : ndarray, shape (K, T, S, A) or (T, S, A)
    temperature : float
        :math:`\beta \ge 0`.
    backend : {"numpy", "numba", "auto"}

    Returns
    -------
    ndarray, shape (K, T, S)
        :math:`\mu^\pi_t(s \mid m)\, g_t(s) \ge 0`; summed over steps and
        states it is :func:`tabmfirl.exploitability`.
    """
    temperature = check_temperature(temperature, allow_zero=True)
    K, T, S, A = spec.n_contexts, spec.horizon, spec.n_states, spec.n_actions
    pi = check_policy(_per_type(policy, spec, (T, S, A), "policy"), K, T, S, A)
    flow = forward_mean_field(spec, pi, backend=backend)
    best = soft_bellman_backward(flow.model, temperature, backend=backend)
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = np.where(pi > 0, pi * np.log(np.where(pi > 0, pi, 1.0)), 0.0)
    own = (pi * best.q).sum(-1) - temperature * entropy.sum(-1)     # (K, T, S)
    return flow.mean_field[:, :T] * (best.value[:, :T] - own)


def assert_equilibrium(spec: MFGSpec, policy, temperature: float, atol: float = 1e-8, *,
                       backend: str = "numpy") -> None:
    r"""Assert that ``policy`` is an (entropy-regularised) mean field Nash equilibrium.

    Checks, for every type :math:`m`,

    .. math:: -10^{-10} \le \mathcal{E}_\beta(\pi)_m
              = \max_{\pi'} J_\beta(\pi', \mu^\pi) - J_\beta(\pi, \mu^\pi) \le
              \text{atol},

    the exploitability of :func:`tabmfirl.exploitability` (regularised at
    :math:`\beta > 0`, the unregularised one of MFGLib and OpenSpiel at
    :math:`\beta = 0`).

    Parameters
    ----------
    spec : MFGSpec
    policy : ndarray, shape (K, T, S, A) or (T, S, A)
    temperature : float
        :math:`\beta \ge 0`.
    atol : float, default 1e-8
    backend : {"numpy", "numba", "auto"}

    Raises
    ------
    AssertionError
        Naming each type that fails with its exploitability, and the steps
        that contribute most to it (:func:`exploitability_by_step`) with the
        state contributing most at each.
    ValueError
        Wrong shapes, a policy that is not a distribution, or ``temperature < 0``.

    Examples
    --------
    >>> from tabmfirl import solve_equilibrium
    >>> from tabmfirl.testing import random_game, random_policy
    >>> spec = random_game(3, 2, 4, 2, transition_strength=0.1, rng=0)
    >>> result = solve_equilibrium(spec, temperature=0.5, backend="numpy")
    >>> assert_equilibrium(spec, result.policy, 0.5)
    >>> assert_equilibrium(spec, random_policy(spec, rng=0), 0.5)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    AssertionError: policy is not an equilibrium at temperature 0.5 (atol=1e-08): ...
      type 0: exploitability ... > atol; by step (sum over states of mu_t(s) g_t(s)): ...
    """
    temperature = check_temperature(temperature, allow_zero=True)
    K, T, S, A = spec.n_contexts, spec.horizon, spec.n_states, spec.n_actions
    pi = check_policy(_per_type(policy, spec, (T, S, A), "policy"), K, T, S, A)
    value = exploitability(spec, pi, temperature=temperature, backend=backend)
    bad = ~((value <= atol) & (value >= -NEGATIVE_FLOOR))
    if not bad.any():
        return
    shares = exploitability_by_step(spec, pi, temperature, backend=backend)
    lines = []
    for m in np.nonzero(bad)[0]:
        if value[m] < -NEGATIVE_FLOOR:
            lines.append(f"  type {m}: exploitability {value[m]:.3g} < 0 beyond rounding "
                         f"(a bug in the exact solver: please report it)")
            continue
        per_step = shares[m].sum(axis=1)
        worst = [int(t) for t in np.argsort(-per_step, kind="stable")[:5] if per_step[t] > 0]
        steps = ", ".join(f"t={t}: {per_step[t]:.3g} (most at state "
                          f"{int(np.argmax(shares[m, t]))}: {shares[m, t].max():.3g})"
                          for t in worst)
        lines.append(f"  type {m}: exploitability {value[m]:.3g} > atol; by step (sum over "
                     f"states of mu_t(s) g_t(s)): {steps}")
    raise AssertionError("\n".join(
        [f"policy is not an equilibrium at temperature {temperature} (atol={atol}): "
         f"exploitability per type {np.array2string(value, precision=3)}"] + _limit(lines)))
