r"""Exact verdicts on arrays computed elsewhere: a policy, a mean field flow, a reward.

These functions take what another implementation produced (a PyTorch or JAX
solver's policy, an MFGLib flow, a learned reward table) and score it against
the exact equilibrium of the game, **per type** :math:`m`.  Notation as in
:mod:`tabmfirl.solvers._certificate`: :math:`\Phi` the forward pass,
:math:`BR_\beta` the soft best response, :math:`(\pi^*, \mu^*)` the exact
equilibrium that :func:`tabmfirl.solve_equilibrium` finds (certified).

:func:`check_policy` (a policy :math:`\pi`)
    .. math::

        \mathcal{E}_\beta(\pi)_m, \quad \mathcal{E}_0(\pi)_m, \quad
        r_m = \max_{t,s,a} |BR_\beta(\Phi(\pi)) - \pi|_m, \quad
        \max_{t,s,a} |\pi - \pi^*|_m, \quad \max_{t,s} |\Phi(\pi) - \mu^*|_m,

    and the policy deviation :math:`\sum_t \sum_s \mu^*_t(s)\,
    \mathrm{KL}(\pi^*_t(\cdot|s) \| \pi_t(\cdot|s))` of
    :func:`tabmfirl.policy_deviation`.  With the flow the implementation
    reported, also :math:`\max_{t,s} |\mu - \Phi(\pi)|_m` (is it the flow of
    its own policy?).

:func:`check_mean_field` (a flow :math:`\mu`)
    The policy it induces is :math:`\pi^\mu = BR_\beta(\mu)` (model frozen at
    :math:`\mu`); reported: the flow's fixed-point residual
    :math:`\max_{t,s} |\Phi(BR_\beta(\mu)) - \mu|_m`, the exploitabilities of
    :math:`\pi^\mu` (regularised and not), and :math:`\max|\mu - \mu^*|_m`,
    :math:`\max|\pi^\mu - \pi^*|_m`.

:func:`check_reward` (learned reward tables :math:`\hat r`)
    The metrics of :func:`tabmfirl.evaluate_reward` (return, mean-field and
    policy deviations of the learned game's equilibrium
    :math:`(\pi^L, \mu^L)` against the experts' :math:`(\pi^*, \mu^*)`), the
    distances :math:`\max|\pi^L - \pi^*|_m` and :math:`\max|\mu^L - \mu^*|_m`,
    and whether the reward rationalises the experts: the experts'
    exploitability in the learned game :math:`\hat{\mathcal{E}}_\beta(\pi^*)_m`
    (and :math:`\hat{\mathcal{E}}_0`), and their fixed-point residual there.

Each returns a :class:`CheckReport`; ``passed`` is the verdict at ``tol``:
the checked policy's regularised exploitability (policy, mean field) or the
experts' exploitability in the learned game (reward) is at most ``tol`` for
every type.  ``verdict="unregularised"`` (policy, reward) reads
:math:`\mathcal{E}_0` instead: the verdict for solvers of the unregularised
game (MFGLib, OpenSpiel), whose Nash equilibria have
:math:`\mathcal{E}_0 = 0` but not :math:`\mathcal{E}_\beta = 0`.  Exploitability and residuals do not depend on which equilibrium
the solver finds; the distances do, when the game has several.

Input checks
------------
Arrays are checked before anything is computed, each failure a one-line
``ValueError`` naming the array and the problem: shape (the expected shapes
are spelled out, and a wrong number of types is named as such), NaN or
infinite entries, negative probabilities, probability rows that do not sum to
1 within ``row_tol`` (default ``1e-6``, so float32 output of other
libraries passes; accepted rows are divided by their sums, and the report
gives the largest row error seen).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from .._checks import check_positive_float
from ..game._spec import MFGSpec
from ..kernels._backend import resolve_backend
from ..solvers._certificate import certify
from ..solvers._equilibrium import EquilibriumResult, solve_equilibrium
from ..solvers._model import evaluate_model
from ..solvers._soft_bellman import check_temperature, soft_bellman_backward
from ._learned_game import learned_game
from ._metrics import evaluate_reward, policy_deviation

__all__ = ["CheckReport", "check_policy", "check_mean_field", "check_reward",
           "as_policy", "as_mean_field", "as_reward"]


@dataclass(frozen=True, eq=False)
class CheckReport:
    r"""What :func:`check_policy`, :func:`check_mean_field` or :func:`check_reward` found.

    Attributes
    ----------
    kind : {"policy", "mean_field", "reward"}
    game : str
    temperature : float
        :math:`\beta` of the checks.
    tol : float
        Tolerance of the verdict.
    passed : bool
        The verdict (module docstring): every type's ``per_type[verdict_on]``
        is at most ``tol``.
    verdict_on : str
        The quantity the verdict reads.
    per_type : dict of str to ndarray, shape (K,)
        Every quantity of the module docstring, per type of the game.
    row_error : float
        Largest :math:`|\sum_a \pi(a|s) - 1|` (or flow row error) of the input.
    expert : EquilibriumResult
        The exact equilibrium the arrays were compared with.
    notes : tuple of str
        Remarks (e.g. the exact equilibrium did not converge).
    """

    kind: str
    game: str
    temperature: float
    tol: float
    passed: bool
    verdict_on: str
    per_type: dict
    row_error: float
    expert: EquilibriumResult
    notes: tuple = field(default_factory=tuple)

    def __str__(self) -> str:
        """The report as a small table: one column per type, then the verdict.

        What ``print(report)`` and ``tabmfirl check`` show (the dataclass
        ``repr`` holds every array of the exact equilibrium).
        """
        summary = self.to_dict()
        expert = summary["expert"]
        lines = [f"check {self.kind} of {self.game} ({summary['types']} types, "
                 f"beta={self.temperature:g}) against the exact equilibrium (residual "
                 f"{expert['residual']:.1e}, "
                 f"{'converged' if expert['converged'] else 'NOT converged'})"]
        width = max(len(name) for name in self.per_type)
        lines.append(f"  {'':{width}}  " + "  ".join(f"{'type ' + str(m):>10}"
                                                     for m in range(summary["types"])))
        for name, values in self.per_type.items():
            lines.append(f"  {name:{width}}  " + "  ".join(f"{x:10.3e}" for x in values))
        lines.extend(f"  note: {note}" for note in self.notes)
        quantity = self.verdict_on
        if self.passed:
            lines.append(f"PASS: every type's {quantity} <= {self.tol:g}")
        else:
            worst = int(np.argmax(self.per_type[quantity]))
            lines.append(f"FAIL: type {worst} has {quantity} "
                         f"{self.per_type[quantity][worst]:.3e} > {self.tol:g}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """JSON-serialisable summary: sizes, verdict, per-type lists and their maxima."""
        per_type = {name: [float(x) for x in values] for name, values in self.per_type.items()}
        return {"kind": self.kind, "game": self.game, "types": len(self.expert.exploitability),
                "temperature": self.temperature, "tol": self.tol, "passed": bool(self.passed),
                "verdict_on": self.verdict_on, "row_error": self.row_error,
                "per_type": per_type,
                "max": {name: max(values) for name, values in per_type.items()},
                "expert": {"converged": bool(self.expert.converged),
                           "residual": float(self.expert.residual),
                           "exploitability": [float(x) for x in self.expert.exploitability]},
                "notes": list(self.notes)}


# ---------------------------------------------------------------------------
# Input checks.
# ---------------------------------------------------------------------------


def _numeric(array, name: str) -> np.ndarray:
    array = np.asarray(array)
    if array.dtype.kind not in "fiu" or array.dtype == np.bool_:
        raise ValueError(f"{name} must be a numeric array, got dtype {array.dtype}")
    array = np.asarray(array, dtype=np.float64)
    if not np.all(np.isfinite(array)):
        index = tuple(int(i) for i in np.argwhere(~np.isfinite(array))[0])
        raise ValueError(f"{name} has a non-finite entry {array[index]} at index {index}")
    return array


def _per_type(array, name: str, K: int, tail: tuple, labels: str) -> np.ndarray:
    """``array`` as ``(K,) + tail``: a shared ``tail`` array is used for every type."""
    if array.shape == tail:
        return np.ascontiguousarray(np.broadcast_to(array, (K,) + tail))
    if array.shape == (K,) + tail:
        return np.ascontiguousarray(array)
    if array.ndim == len(tail) + 1 and array.shape[1:] == tail:
        raise ValueError(f"{name} has {array.shape[0]} types but the game has {K} "
                         f"(shape {array.shape}, expected {(K,) + tail})")
    raise ValueError(f"{name} must have shape {(K,) + tail} = {labels} or {tail} "
                     f"(shared by every type), got {array.shape}")


def _rows(array, name: str, row_tol: float) -> tuple:
    """Check probability rows along the last axis; return them renormalised, and the error."""
    if np.any(array < 0):
        index = tuple(int(i) for i in np.argwhere(array < 0)[0])
        raise ValueError(f"{name} has a negative probability {array[index]:.3g} at index "
                         f"{index}")
    sums = array.sum(axis=-1)
    error = np.abs(sums - 1.0)
    if np.any(error > row_tol):
        index = tuple(int(i) for i in np.argwhere(error > row_tol)[0])
        raise ValueError(f"{name} rows must sum to 1: {name}[{', '.join(map(str, index))}, :] "
                         f"sums to {sums[index]!r} (tolerance {row_tol:g})")
    return np.ascontiguousarray(array / sums[..., None]), float(error.max(initial=0.0))


def as_policy(spec: MFGSpec, policy, *, row_tol: float = 1e-6, name: str = "policy"):
    """``(policy, row_error)``: ``policy`` checked as ``(K, T, S, A)`` rows (module docstring)."""
    K, T, S, A = spec.n_contexts, spec.horizon, spec.n_states, spec.n_actions
    array = _per_type(_numeric(policy, name), name, K, (T, S, A), "(K, T, S, A)")
    return _rows(array, name, row_tol)


def as_mean_field(spec: MFGSpec, mean_field, *, row_tol: float = 1e-6,
                  name: str = "mean_field"):
    """``(mean_field, row_error)``: checked as ``(K, T+1, S)`` distributions."""
    K, T, S = spec.n_contexts, spec.horizon, spec.n_states
    array = _per_type(_numeric(mean_field, name), name, K, (T + 1, S), "(K, T+1, S)")
    return _rows(array, name, row_tol)


def as_state_action(spec: MFGSpec, state_action, *, row_tol: float = 1e-6,
                    name: str = "state_action"):
    """``(state_action, row_error)``: checked as ``(K, T, S, A)``, each step summing to 1."""
    K, T, S, A = spec.n_contexts, spec.horizon, spec.n_states, spec.n_actions
    array = _per_type(_numeric(state_action, name), name, K, (T, S, A), "(K, T, S, A)")
    flat, error = _rows(array.reshape(K, T, S * A), name + " (per step)", row_tol)
    return flat.reshape(K, T, S, A), error


def as_reward(spec: MFGSpec, reward, *, type_map=None, name: str = "reward") -> np.ndarray:
    """``reward`` checked as tables ``(K_L, T, S, A)`` or ``(K_L, S, A)`` with ``K_L`` in
    ``(1, K)`` (or any ``K_L`` with a ``type_map``)."""
    K, T, S, A = spec.n_contexts, spec.horizon, spec.n_states, spec.n_actions
    array = _numeric(reward, name)
    if array.ndim not in (3, 4) or array.shape[-2:] != (S, A) or \
            (array.ndim == 4 and array.shape[1] != T):
        raise ValueError(f"{name} must have shape (K, T, S, A) = ({K}, {T}, {S}, {A}) or "
                         f"(K, S, A) = ({K}, {S}, {A}), got {array.shape}")
    if type_map is None and array.shape[0] not in (1, K):
        raise ValueError(f"{name} has {array.shape[0]} types but the game has {K} "
                         f"(give a type map, or one table per type)")
    return np.ascontiguousarray(array)


# ---------------------------------------------------------------------------
# The checks.
# ---------------------------------------------------------------------------


def _by_type(x) -> np.ndarray:
    """Largest absolute entry of each type's block, shape ``(K,)``."""
    x = np.abs(np.asarray(x))
    return x.reshape(x.shape[0], -1).max(axis=1)


#: The quantity each verdict reads, per kind of check.
VERDICTS = {("policy", "regularised"): "exploitability",
            ("policy", "unregularised"): "unregularised_exploitability",
            ("mean_field", "regularised"): "exploitability",
            ("reward", "regularised"): "expert_exploitability",
            ("reward", "unregularised"): "expert_unregularised_exploitability"}


def _verdict(kind: str, verdict: str) -> str:
    if (kind, verdict) not in VERDICTS:
        known = [v for k, v in VERDICTS if k == kind]
        raise ValueError(f"verdict must be one of {', '.join(map(repr, known))} for a "
                         f"{kind.replace('_', ' ')} check, got {verdict!r}")
    return VERDICTS[kind, verdict]


def _report(kind, spec, temperature, tol, verdict_on, per_type, row_error, expert, notes):
    passed = bool(np.all(per_type[verdict_on] <= tol))
    return CheckReport(kind=kind, game=spec.name, temperature=temperature, tol=tol,
                       passed=passed, verdict_on=verdict_on, per_type=per_type,
                       row_error=row_error, expert=expert, notes=notes)


def _setup(spec, temperature, tol, expert, backend):
    backend = resolve_backend(backend)
    temperature = check_temperature(temperature, allow_zero=False)
    tol = check_positive_float(tol, "tol", allow_zero=True)
    if expert is None:
        expert = solve_equilibrium(spec, temperature=temperature, backend=backend)
    notes = () if expert.converged else (
        f"the exact equilibrium did not converge (residual {expert.residual:.2e}): "
        f"distances are to an approximation",)
    return backend, temperature, tol, expert, notes


def check_policy(spec: MFGSpec, policy, *, temperature: float, mean_field=None,
                 tol: float = 1e-6, verdict: str = "regularised", row_tol: float = 1e-6,
                 expert: Optional[EquilibriumResult] = None,
                 backend: str = "auto") -> CheckReport:
    r"""Score a policy computed elsewhere against the exact equilibrium, per type.

    Reports (module docstring) :math:`\mathcal{E}_\beta(\pi)_m` as
    ``exploitability``, :math:`\mathcal{E}_0(\pi)_m` as
    ``unregularised_exploitability``, the fixed-point residual
    :math:`\max|BR_\beta(\Phi(\pi)) - \pi|_m` as ``residual``,
    ``policy_distance`` :math:`\max|\pi - \pi^*|_m`, ``mean_field_distance``
    :math:`\max|\Phi(\pi) - \mu^*|_m`, ``policy_deviation`` and, with
    ``mean_field``, ``flow_error`` :math:`\max|\mu - \Phi(\pi)|_m`.

    Parameters
    ----------
    spec : MFGSpec
    policy : array_like, shape (K, T, S, A) or (T, S, A)
        :math:`\pi_t(a \mid s, m)`; a ``(T, S, A)`` policy is every type's.
    temperature : float
        :math:`\beta > 0` of the regularised exploitability and of the exact
        equilibrium.
    mean_field : array_like, shape (K, T+1, S) or (T+1, S), optional
        The flow the other implementation reported for ``policy``.
    tol : float, default 1e-6
        Verdict: ``passed`` when every type's ``exploitability <= tol``.
    verdict : {"regularised", "unregularised"}
        ``"unregularised"``: the verdict reads ``unregularised_exploitability``
        (a solver of the unregularised game).
    row_tol : float, default 1e-6
        Tolerance on the row sums of the inputs.
    expert : EquilibriumResult, optional
        The exact equilibrium of ``spec`` at ``temperature``, if solved.
    backend : {"auto", "numpy", "numba", "cuda"}

    Returns
    -------
    CheckReport

    Raises
    ------
    ValueError
        One line naming the array and the problem (module docstring).

    Examples
    --------
    >>> from tabmfirl import check_policy, solve_equilibrium
    >>> from tabmfirl.envs import virus
    >>> spec = virus.make(types=2, horizon=5)
    >>> exact = solve_equilibrium(spec, temperature=0.5, backend="numpy")
    >>> check_policy(spec, exact.policy, temperature=0.5, backend="numpy").passed
    True
    >>> uniform = 0.5 * np.ones((5, 2, 2))
    >>> check_policy(spec, uniform, temperature=0.5, backend="numpy").passed
    False
    """
    verdict_on = _verdict("policy", verdict)
    policy, row_error = as_policy(spec, policy, row_tol=row_tol)
    given = None if mean_field is None else as_mean_field(spec, mean_field, row_tol=row_tol)[0]
    backend, temperature, tol, expert, notes = _setup(spec, temperature, tol, expert, backend)
    certificate = certify(spec, policy, temperature, backend)
    flow = certificate.flow.mean_field
    per_type = {
        "exploitability": certificate.exploitability,
        "unregularised_exploitability": certificate.unregularised_exploitability,
        "residual": _by_type(certificate.best_response - policy),
        "policy_distance": _by_type(policy - expert.policy),
        "mean_field_distance": _by_type(flow - expert.mean_field),
        "policy_deviation": policy_deviation(expert.mean_field, expert.policy, policy),
    }
    if given is not None:
        per_type["flow_error"] = _by_type(given - flow)
    return _report("policy", spec, temperature, tol, verdict_on, per_type, row_error, expert,
                   notes)


def check_mean_field(spec: MFGSpec, mean_field, *, temperature: float, state_action=None,
                     tol: float = 1e-6, row_tol: float = 1e-6,
                     expert: Optional[EquilibriumResult] = None,
                     backend: str = "auto") -> CheckReport:
    r"""Score a mean field flow computed elsewhere against the exact equilibrium, per type.

    The flow's policy is :math:`\pi^\mu = BR_\beta(\mu)`.  Reports ``residual``
    :math:`\max|\Phi(\pi^\mu) - \mu|_m` (the flow's fixed-point residual; with
    ``state_action`` also over :math:`L`), ``exploitability`` and
    ``unregularised_exploitability`` of :math:`\pi^\mu`, ``policy_residual``
    :math:`\max|BR_\beta(\Phi(\pi^\mu)) - \pi^\mu|_m`, ``mean_field_distance``
    :math:`\max|\mu - \mu^*|_m` and ``policy_distance``
    :math:`\max|\pi^\mu - \pi^*|_m`.

    Parameters
    ----------
    spec : MFGSpec
    mean_field : array_like, shape (K, T+1, S) or (T+1, S)
        :math:`\mu_t(s \mid m)`, row 0 the initial distribution.
    temperature : float
        :math:`\beta > 0`.
    state_action : array_like, shape (K, T, S, A) or (T, S, A), optional
        :math:`L_t(s, a \mid m)`; required when the game observes the
        state-action distribution (``mean_field_kind="state_action"``).
    tol : float, default 1e-6
        Verdict: ``passed`` when every type's ``exploitability <= tol`` (the
        regularised one: the flow's policy is the *soft* best response).
    row_tol : float, default 1e-6
    expert : EquilibriumResult, optional
    backend : {"auto", "numpy", "numba", "cuda"}

    Returns
    -------
    CheckReport

    Raises
    ------
    ValueError
        One line naming the array and the problem.
    """
    mean_field, row_error = as_mean_field(spec, mean_field, row_tol=row_tol)
    if state_action is not None:
        state_action, sa_error = as_state_action(spec, state_action, row_tol=row_tol)
        row_error = max(row_error, sa_error)
    elif spec.mean_field_kind == "state_action":
        raise ValueError("this game observes the state-action distribution: give "
                         "state_action (K, T, S, A) with the mean field")
    backend, temperature, tol, expert, notes = _setup(spec, temperature, tol, expert, backend)
    model = evaluate_model(spec, mean_field, state_action, backend=backend)
    induced = soft_bellman_backward(model, temperature, backend=backend).policy
    certificate = certify(spec, induced, temperature, backend)
    residual = _by_type(certificate.flow.mean_field - mean_field)
    if state_action is not None:
        residual = np.maximum(residual, _by_type(certificate.flow.state_action - state_action))
    per_type = {
        "exploitability": certificate.exploitability,
        "unregularised_exploitability": certificate.unregularised_exploitability,
        "residual": residual,
        "policy_residual": _by_type(certificate.best_response - induced),
        "mean_field_distance": _by_type(mean_field - expert.mean_field),
        "policy_distance": _by_type(induced - expert.policy),
    }
    return _report("mean_field", spec, temperature, tol, "exploitability", per_type, row_error,
                   expert, notes)


def check_reward(spec: MFGSpec, reward, *, temperature: float, type_map=None,
                 tol: float = 1e-6, verdict: str = "regularised",
                 expert: Optional[EquilibriumResult] = None,
                 backend: str = "auto") -> CheckReport:
    r"""Score learned reward tables against the experts of ``spec``, per type.

    Reports the metrics of :func:`tabmfirl.evaluate_reward`
    (``return_deviation``, ``mean_field_deviation``, ``policy_deviation``, and
    ``policy_deviation_from_expert``: of the learned game's equilibrium reached
    from :math:`\pi^*` instead of the uniform policy), ``policy_distance`` :math:`\max|\pi^L - \pi^*|_m`, ``mean_field_distance``
    :math:`\max|\mu^L - \mu^*|_m`, ``learned_exploitability`` (the learned
    equilibrium's certificate), and, in the learned game,
    ``expert_exploitability`` :math:`\hat{\mathcal{E}}_\beta(\pi^*)_m`,
    ``expert_unregularised_exploitability`` and ``expert_residual``
    :math:`\max|\widehat{BR}_\beta(\Phi(\pi^*)) - \pi^*|_m`.

    Parameters
    ----------
    spec : MFGSpec
        The game with the true reward (its dynamics are kept).
    reward : array_like, shape (K_L, T, S, A) or (K_L, S, A)
        Learned reward of each learned type (``K_L = 1``: one shared reward).
    temperature : float
        :math:`\beta > 0` of the experts and of the learned equilibrium.
    type_map : array_like of int, shape (K,), optional
        Learned type of each true type; default the identity (or all 0 for
        one shared reward).
    tol : float, default 1e-6
        Verdict: ``passed`` when every type's ``expert_exploitability <= tol``.
    verdict : {"regularised", "unregularised"}
        ``"unregularised"``: the verdict reads
        ``expert_unregularised_exploitability``.
    expert : EquilibriumResult, optional
    backend : {"auto", "numpy", "numba", "cuda"}

    Returns
    -------
    CheckReport

    Raises
    ------
    ValueError
        One line naming the array and the problem; a game with a
        ``context_coupling`` (not supported by :func:`evaluate_reward`).

    Examples
    --------
    The true reward tables pass:

    >>> from tabmfirl import check_reward, evaluate_model, solve_equilibrium
    >>> from tabmfirl.envs import virus
    >>> spec = virus.make(types=2, horizon=5)
    >>> exact = solve_equilibrium(spec, temperature=0.5, backend="numpy")
    >>> tables = exact.model.reward              # the true reward along the flow
    >>> report = check_reward(spec, tables, temperature=0.5, expert=exact, backend="numpy")
    >>> report.passed, float(report.per_type["policy_deviation"].max()) < 1e-12
    (True, True)
    """
    verdict_on = _verdict("reward", verdict)
    tables = as_reward(spec, reward, type_map=type_map)
    backend, temperature, tol, expert, notes = _setup(spec, temperature, tol, expert, backend)
    evaluation = evaluate_reward(spec, tables, type_map=type_map, temperature=temperature,
                                 expert=expert, backend=backend)
    game = learned_game(spec, tables, evaluation.type_map)
    certificate = certify(game, expert.policy, temperature, backend)
    learned = evaluation.learned
    if not learned.converged:
        notes += (f"the learned game's equilibrium did not converge (residual "
                  f"{learned.residual:.2e})",)
    per_type = {
        "expert_exploitability": certificate.exploitability,
        "expert_unregularised_exploitability": certificate.unregularised_exploitability,
        "expert_residual": _by_type(certificate.best_response - expert.policy),
        "return_deviation": evaluation.return_deviation,
        "mean_field_deviation": evaluation.mean_field_deviation,
        "policy_deviation": evaluation.policy_deviation,
        "policy_deviation_from_expert": evaluation.policy_deviation_from_expert,
        "policy_distance": _by_type(learned.policy - expert.policy),
        "mean_field_distance": _by_type(learned.mean_field - expert.mean_field),
        "learned_exploitability": learned.exploitability,
    }
    return _report("reward", spec, temperature, tol, verdict_on, per_type, 0.0, expert, notes)

