r"""The taxi study: a surge-pricing counterfactual predicted with learned rewards.

Issue 8, item 3.  Drivers of three types play the taxi pricing game
(:mod:`tabmfirl.envs.taxi`; design notes, section 4, "Taxi pricing"); we roll
out their equilibrium, learn rewards from the unlabelled trajectories
(PEMMFIRL, MFIRL, and the oracle given the true types), and ask each learned
model what a **surge rule** will do to the drivers' fare income and to the
passengers served.  The answer is compared with the truth: the equilibrium of
the true rewards under the surge.

The surge rule (:class:`tabmfirl.envs.taxi.SurgeRule`) and its
counterfactual games (:func:`tabmfirl.envs.taxi.surge_games`: the true surge
game with reward :math:`r'_m = r_m|_{q=q'} + \Delta_m`, the surge dynamics
:math:`P'`, and the extra fare income :math:`\Delta_m`) belong to the game
and are defined in :mod:`tabmfirl.envs.taxi` (module docstring, "Surge
pricing").  This module is the application: the driver
(:func:`run_taxi_study`), its result and figures, and the ``taxi-study``
subcommand, which only :mod:`tabmfirl.apps.cli` imports.

What is predicted, and the assumption it rests on
-------------------------------------------------
A learned reward is a function :math:`f_\omega(s, a, \mu, m)` of the
state, action and mean field only (the linear head has no time input and no
fare input).  Each method's prediction re-solves the equilibrium under the
new dynamics :math:`P'` (through :func:`tabmfirl.evaluation._learned_game.learned_game`) with
the reward

.. math::

    \hat r'_m(t, s, a, \mu) = f_\omega(s, a, \mu, \hat m) + \Delta_m
    \quad\text{with } w^f_m = 1,

i.e. two assumptions, stated here because they are the content of the
prediction:

* **Invariance**: the learned reward, as a function of :math:`(s, a, \mu)`,
  does not change under the intervention.  This is the standard IRL
  transfer assumption (design notes, section 5, "Transfer"), but it does
  **not** hold exactly in this game: the true reward is an *expected* income
  :math:`q\,(\text{fare}) - (1 - q)\,(\text{idle cost})` and moves with the
  matching probability :math:`q \to q'` at the same :math:`\mu`.  A learned
  reward cannot know that part of its value came from :math:`q`.
* **Known fare income**: the extra fare :math:`\Delta` is added in reward
  units with weight :math:`w^f = 1` for every type, i.e. the analyst knows
  that rewards are measured in money (``MONEY_UNIT`` = $10) and that drivers
  value a dollar of fare at one dollar.  This is true of the built-in types
  (``TYPE_WEIGHTS`` all have :math:`w^f = 1`); the scale of a reward learned
  at the experts' temperature is identified (up to potential shaping), so
  the addition is in the right units.  With ``driver_share = 0`` this
  assumption is not needed: the counterfactual is a pure change of dynamics.

To separate the error of the invariance assumption from the error of
learning, the study also reports the reference ``"true-fixed"``: the same
prediction rule with the **true** pre-surge reward function held fixed
(:math:`r_m(t, s, a, \mu)` with the pre-surge :math:`q`, plus :math:`\Delta`).
It is what a perfect reward learner would predict under these assumptions;
its error is the bias of the prediction rule, and each method's error beyond
it is the cost of learning.

Outcomes (per true type; each type is its own population of mass 1)
--------------------------------------------------------------------
``revenue`` (fare income per driver over the horizon, dollars), ``rides``
(per driver) and ``served`` (passengers served, percent of the requests at
the base price), as :func:`tabmfirl.envs.taxi.surge_outcomes` defines them:
at the truth's equilibria before and after the surge, and at each method's
predicted equilibria (learned rewards, matched to the true types by
:func:`tabmfirl.evaluation._metrics.match_types`) before and after.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
from numba import njit

from tabmfirl import (
    ConvergenceWarning,
    adjusted_rand_index,
    fit_mfirl,
    fit_oracle,
    fit_pemmfirl_em,
    generate_demonstrations,
    solve_equilibrium,
)
from tabmfirl.envs import taxi
from tabmfirl.envs.taxi import SurgeRule, surge_games, surge_income, surge_outcomes
from tabmfirl.evaluation._learned_game import learned_game, linear_head_reward, mlp_head_reward
from tabmfirl.evaluation._metrics import match_types

from ._defaults import DEFAULTS
from ._errors import CommandError
from ._runs import check_output_folder

__all__ = ["STUDY_METHODS", "COLUMNS", "TaxiStudyResult", "run_taxi_study",
           "write_taxi_study", "learned_surge_game", "add_parser"]

#: Fit methods the study can compare (the first is the paper's method).
STUDY_METHODS = ("pemmfirl_em", "mfirl", "oracle")
#: Columns of the study table, in order.
COLUMNS = ("method", "type", "context", "revenue_before", "revenue_after", "revenue_change",
           "revenue_error", "revenue_change_error", "rides_after", "served_before",
           "served_after", "served_change", "served_error", "converged")
_TYPE_NAMES = ("balanced", "hates idling", "hates driving empty")


# ------------------------------------------------- learned counterfactual game
@njit(cache=True)
def _learned_surge_reward(t, observed, context, params, out):
    """A linear head's reward (packed at the end of ``params``) plus the surge income, w^f = 1."""
    linear_head_reward(t, observed, context, params, out)
    surge_income(t, observed, params, 1.0, out)


@njit(cache=True)
def _learned_surge_reward_mlp(t, observed, context, params, out):
    """An MLP head's reward (packed at the end of ``params``) plus the surge income, w^f = 1."""
    mlp_head_reward(t, observed, context, params, out)
    surge_income(t, observed, params, 1.0, out)


def learned_surge_game(dynamics, head, type_map):
    r"""The surge dynamics with a learned head's reward plus the surge income (:math:`w^f = 1`).

    Parameters
    ----------
    dynamics : MFGSpec
        ``tabmfirl.envs.taxi.surge_games(spec, surge)["dynamics"]``.
    head : RewardHead
        A discrete-type head (linear or MLP).
    type_map : array_like of int, shape (K,)
        Learned context of each true type (:func:`tabmfirl.evaluation._metrics.match_types`).

    Returns
    -------
    MFGSpec
        Reward :math:`f_\omega(s, a, \mu, \hat m) + \Delta` (module docstring).
    """
    game = learned_game(dynamics, head, type_map)
    function = _learned_surge_reward_mlp if head.kind == "mlp" else _learned_surge_reward
    return game.replace(reward=function)


def _zone_density(mean_field, n_zones, steps):
    """Share of each type's drivers (idle or busy) in each zone, averaged over ``steps``."""
    mu = np.asarray(mean_field)[:, steps]
    K = mu.shape[0]
    return mu.reshape(K, len(steps), -1, n_zones).sum(axis=2).mean(axis=1)


# -------------------------------------------------------------------- result
@dataclass(frozen=True, eq=False)
class TaxiStudyResult:
    r"""Result of :func:`run_taxi_study`.

    Attributes
    ----------
    rows : tuple of dict
        The table, one row per (method, true type), keys :data:`COLUMNS`.
        ``method`` is ``"truth"`` (true rewards), ``"true-fixed"`` (the
        prediction rule with the true pre-surge reward; module docstring) or
        a fitted method; ``context`` is the learned context used for the
        type; errors are absolute differences from the truth after the surge
        (``*_change_error``: of the change before -> after).
    summary : dict
        Per method: mean absolute errors over types, fit seconds, type
        recovery (ARI, PEMMFIRL), whether the fit and the solves converged.
    surge : tabmfirl.envs.taxi.SurgeRule
    surge_table : ndarray, shape (T, Z)
    coords : ndarray, shape (Z, 2) or None
        Zone centres (km) of a synthetic city.
    density : dict of str to ndarray, shape (K, Z)
        Driver share per zone after the surge, averaged over the surge steps,
        for ``"truth"``, ``"truth-before"`` and each method.
    settings : dict
        The arguments of the run.
    seconds : float
        Wall time of the whole study.
    """

    rows: tuple
    summary: dict
    surge: SurgeRule
    surge_table: np.ndarray
    coords: Optional[np.ndarray]
    density: dict
    settings: dict
    seconds: float

    def markdown(self) -> str:
        """The table as GitHub Markdown (money in dollars, served in percent)."""
        head = ("| method | type | ctx | revenue before | revenue after | change | "
                "error | change error | served before | served after | error |")
        lines = [head, "|" + "---|" * 11]
        for r in self.rows:
            lines.append(
                f"| {r['method']} | {r['type']} | {r['context']} | {r['revenue_before']:.2f} "
                f"| {r['revenue_after']:.2f} | {r['revenue_change']:+.2f} "
                f"| {r['revenue_error']:.2f} | {r['revenue_change_error']:.2f} "
                f"| {r['served_before']:.2f} | {r['served_after']:.2f} "
                f"| {r['served_error']:.2f} |")
        return "\n".join(lines) + "\n"

    def to_json(self) -> dict:
        """A JSON-serialisable dict (rows, summary, surge, settings, seconds)."""
        return {"rows": [dict(r) for r in self.rows], "summary": self.summary,
                "surge": asdict(self.surge), "surge_cells": np.argwhere(
                    self.surge_table != 1.0).tolist(),
                "settings": self.settings, "seconds": self.seconds}



# --------------------------------------------------------------------- study
def _solve(spec, temperature, solver, backend):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return solve_equilibrium(spec, temperature=temperature, backend=backend, **solver)


def _check_study_args(methods, n_agents, max_iter, temperature, surge) -> tuple:
    """``methods`` as a tuple; ValueError naming the first bad argument."""
    methods = tuple(methods)
    unknown = [m for m in methods if m not in STUDY_METHODS]
    if unknown or not methods:
        raise ValueError(f"methods must be a non-empty subset of {STUDY_METHODS}, got {methods}")
    if len(set(methods)) != len(methods):
        raise ValueError(f"methods repeat: {methods}")
    for name, value in (("n_agents", n_agents), ("max_iter", max_iter)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if not (np.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if not isinstance(surge, SurgeRule):
        raise ValueError(f"surge must be a SurgeRule, got {type(surge).__name__}")
    return methods


def _study_game(city, n_types):
    """The taxi game with ``n_types`` built-in driver types on ``city``, and its zone centres."""
    if city is None:
        return (taxi.make(types=n_types),
                taxi.synthetic_city(taxi.N_ZONES, rng=taxi.SEED).coords)
    return taxi.make(types=n_types, data=city, horizon=city.horizon), city.coords


class _StudyTable:
    """The rows and per-method summary of the study, scored against the truth after the surge."""

    def __init__(self, n_types, true_before, true_after):
        self.n_types, self.true_before, self.true_after = n_types, true_before, true_after
        self.rows, self.summary = [], {}

    def _row(self, name, m, before, after, type_map, converged):
        truth_change = self.true_after["revenue"][m] - self.true_before["revenue"][m]
        return {
            "method": name, "type": m, "context": int(type_map[m]),
            "revenue_before": float(before["revenue"][m]),
            "revenue_after": float(after["revenue"][m]),
            "revenue_change": float(after["revenue"][m] - before["revenue"][m]),
            "revenue_error": float(abs(after["revenue"][m] - self.true_after["revenue"][m])),
            "revenue_change_error": float(abs(
                (after["revenue"][m] - before["revenue"][m]) - truth_change)),
            "rides_after": float(after["rides"][m]),
            "served_before": float(before["served"][m]),
            "served_after": float(after["served"][m]),
            "served_change": float(after["served"][m] - before["served"][m]),
            "served_error": float(abs(after["served"][m] - self.true_after["served"][m])),
            "converged": bool(converged)}

    def add(self, name, before, after, type_map, converged):
        """One row per true type for method ``name``, and its mean absolute errors."""
        mine = [self._row(name, m, before, after, type_map, converged)
                for m in range(self.n_types)]
        self.rows.extend(mine)
        self.summary[name] = {key: float(np.mean([r[key] for r in mine]))
                              for key in ("revenue_error", "revenue_change_error",
                                          "served_error")}
        self.summary[name]["converged"] = bool(converged)


def _fit(name, spec, demos, n_types, n_warmup, fit_kwargs):
    """Fit one of :data:`STUDY_METHODS` (PEMMFIRL learns ``n_types`` types after a warm-up)."""
    if name == "pemmfirl_em":
        return fit_pemmfirl_em(spec, demos, n_types, n_warmup=n_warmup, **fit_kwargs)
    if name == "mfirl":
        return fit_mfirl(spec, demos, **fit_kwargs)
    return fit_oracle(spec, demos, **fit_kwargs)


def run_taxi_study(*, n_agents: int = 200, seed: int = 0, temperature: float = 0.2,
                   max_iter: int = 150, methods: Sequence[str] = STUDY_METHODS, city=None,
                   surge: SurgeRule = SurgeRule(), n_warmup: Optional[int] = None,
                   learning_rate: float = 0.02, backend: str = "auto",
                   log=None) -> TaxiStudyResult:
    r"""Fit the taxi drivers' rewards and predict a surge counterfactual.

    Steps: build the taxi game with the three built-in driver types on
    ``city`` (default: the synthetic city :func:`tabmfirl.envs.taxi.make`
    builds); solve the true equilibrium at ``temperature``; roll out
    ``n_agents`` drivers per type (``seed``); fit each method; solve the
    true game and each learned game before and after the surge; tabulate the
    outcomes (module docstring).

    Parameters
    ----------
    n_agents : int, default 200
        Demonstrating drivers per type.
    seed : int, default 0
        Seed of the demonstrations and of the fits.
    temperature : float, default 0.2
        :math:`\beta` of the experts, the fits and every solve (the taxi
        game's ``TEMPERATURE``).
    max_iter : int, default 150
        Fit iterations of every method.
    methods : sequence of str
        Among :data:`STUDY_METHODS`: ``"pemmfirl_em"``, ``"mfirl"``, ``"oracle"``.
    city : tabmfirl.envs.taxi.City, optional
        The city (``make(data=city, horizon=city.horizon)``).
    surge : tabmfirl.envs.taxi.SurgeRule
    n_warmup : int, optional
        PEMMFIRL warm-up iterations; default ``min(30, max_iter // 5)``.
    learning_rate : float, default 0.02
    backend : {"auto", "numpy", "numba", "cuda"}
    log : callable, optional
        ``log(line)`` receives progress lines.

    Returns
    -------
    TaxiStudyResult
    """
    start = time.perf_counter()
    say = log or (lambda line: None)
    methods = _check_study_args(methods, n_agents, max_iter, temperature, surge)
    n_warmup = min(30, max_iter // 5) if n_warmup is None else int(n_warmup)
    K = len(taxi.TYPE_WEIGHTS)
    spec, coords = _study_game(city, K)
    solver = {}  # the default solver: no per-game settings
    Z, T = spec.info["n_zones"], spec.horizon
    games = surge_games(spec, surge)
    g = games["g"]
    steps = np.flatnonzero((g != 1.0).any(axis=1))
    steps = steps if steps.size else np.arange(T)

    def outcomes(equilibrium, after):
        return surge_outcomes(spec, equilibrium.mean_field, equilibrium.policy,
                              surge_table=g if after else None,
                              driver_share=surge.driver_share)

    def solve(game):
        return _solve(game, temperature, solver, backend)

    say(f"solving the true equilibria (beta={temperature})")
    expert, truth_after, fixed_after = solve(spec), solve(games["true"]), solve(games["fixed"])
    true_before = outcomes(expert, False)
    table = _StudyTable(K, true_before, outcomes(truth_after, True))
    demos = generate_demonstrations(spec, expert.policy, n_agents, seed=seed)
    density = {"truth-before": _zone_density(expert.mean_field, Z, steps),
               "truth": _zone_density(truth_after.mean_field, Z, steps)}
    identity = np.arange(K)
    table.add("truth", true_before, table.true_after, identity,
              expert.converged and truth_after.converged)
    table.add("true-fixed", true_before, outcomes(fixed_after, True), identity,
              fixed_after.converged)
    density["true-fixed"] = _zone_density(fixed_after.mean_field, Z, steps)

    fit_kwargs = {"temperature": temperature, "max_iter": max_iter, "learning_rate": learning_rate,
                  "seed": seed, "backend": backend, "warn": False}
    for name in methods:
        say(f"fitting {name} ({max_iter} iterations)")
        fit = _fit(name, spec, demos, K, n_warmup, fit_kwargs)
        n_learned = fit.head.n_contexts
        type_map = match_types(demos.types, fit.assignments, n_learned, K)
        say(f"solving {name}'s learned game before and after the surge")
        before = solve(learned_game(spec, fit.head, type_map))
        after = solve(learned_surge_game(games["dynamics"], fit.head, type_map))
        table.add(name, outcomes(before, False), outcomes(after, True), type_map,
                  before.converged and after.converged)
        density[name] = _zone_density(after.mean_field, Z, steps)
        table.summary[name].update(
            fit_seconds=float(fit.seconds), fit_converged=bool(fit.converged),
            ari=float(adjusted_rand_index(demos.types, fit.assignments)) if n_learned > 1
            else None, type_map=[int(c) for c in type_map])
    run_settings = {"n_agents": int(n_agents), "seed": int(seed),
                    "temperature": float(temperature), "max_iter": int(max_iter),
                    "n_warmup": int(n_warmup), "learning_rate": float(learning_rate),
                    "methods": list(methods), "city": spec.info["source"], "n_zones": int(Z),
                    "horizon": int(T), "solver": solver}
    return TaxiStudyResult(rows=tuple(table.rows), summary=table.summary, surge=surge,
                           surge_table=g,
                           coords=None if coords is None else np.asarray(coords, dtype=float),
                           density=density, settings=run_settings,
                           seconds=time.perf_counter() - start)


# ------------------------------------------------------------------- outputs
# matplotlib is an optional dependency (the extra ``plot``), imported only to draw.
def _density_figure(result: TaxiStudyResult):
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure

    names = [n for n in ("truth-before", "truth", "true-fixed") if n in result.density] + \
        [n for n in result.density if n not in ("truth-before", "truth", "true-fixed")]
    K = result.density["truth"].shape[0]
    Z = result.surge_table.shape[1]
    coords = result.coords
    if coords is None:      # no geometry (a loaded city): zones on a line
        coords = np.stack([np.arange(Z), np.zeros(Z)], axis=1)
    surging = (result.surge_table != 1.0).any(axis=0)
    fig = Figure(figsize=(3.2 * K + 1.0, 2.8 * len(names)), layout="constrained")
    axes = fig.subplots(len(names), K, squeeze=False)
    norm = Normalize(0.0, max(float(d.max()) for d in result.density.values()))
    image = None
    for i, name in enumerate(names):
        for m in range(K):
            ax = axes[i, m]
            image = ax.scatter(coords[:, 0], coords[:, 1], c=result.density[name][m], s=90,
                               cmap="viridis", norm=norm, edgecolors="none")
            ax.scatter(coords[surging, 0], coords[surging, 1], s=170, facecolors="none",
                       edgecolors="red", linewidths=1.2)
            ax.set_aspect("equal")
            ax.set_xticks([])
            ax.set_yticks([])
            label = _TYPE_NAMES[m] if m < len(_TYPE_NAMES) else f"type {m}"
            ax.set_title(f"{name}: {label}", fontsize=9)
    fig.colorbar(image, ax=axes, shrink=0.6, label="share of the type's drivers in the zone")
    fig.suptitle("Driver density during the surge steps (red rings: surge zones)")
    return fig


def _profit_figure(result: TaxiStudyResult):
    from matplotlib.figure import Figure

    methods = []
    for r in result.rows:
        if r["method"] not in methods:
            methods.append(r["method"])
    K = result.density["truth"].shape[0]
    fig = Figure(figsize=(11.0, 3.8), layout="constrained")
    left, right = fig.subplots(1, 2)
    width = 0.8 / (len(methods) + 1)
    x = np.arange(K)
    labels = [_TYPE_NAMES[m] if m < len(_TYPE_NAMES) else f"type {m}" for m in range(K)]
    before = [r["revenue_before"] for r in result.rows if r["method"] == "truth"]
    left.bar(x - 0.4 + width / 2, before, width, color="0.75", label="truth, no surge")
    values = list(before)
    for j, name in enumerate(methods):
        after = [r["revenue_after"] for r in result.rows if r["method"] == name]
        change = [r["revenue_change"] for r in result.rows if r["method"] == name]
        values += after
        left.bar(x - 0.4 + width * (j + 1.5), after, width, color=f"C{j}",
                 label=f"{name}, surge")
        right.bar(x - 0.4 + width * (j + 1.5), change, width, color=f"C{j}", label=name)
    low, high = min(values), max(values)
    pad = 0.15 * (high - low) + 1e-9
    left.set_ylim(low - pad, high + pad)
    left.set_xticks(x, labels)
    left.set_ylabel("fare income per driver ($ over the horizon)")
    left.set_title("Fare income (axis zoomed)")
    left.legend(fontsize=7, ncol=2)
    right.axhline(0.0, color="black", linewidth=0.8)
    right.set_xticks(x, labels)
    right.set_ylabel("change with the surge ($ per driver)")
    right.set_title("Predicted vs true change of fare income")
    return fig


def write_taxi_study(result: TaxiStudyResult, out) -> dict:
    """Write ``taxi_study.csv``, ``.md``, ``.json`` and two figures (PNG) into ``out``.

    Parameters
    ----------
    result : TaxiStudyResult
    out : str or os.PathLike
        Output folder (created).

    Returns
    -------
    dict of str to pathlib.Path
        ``csv``, ``markdown``, ``json``, ``density``, ``profit``.
    """
    import matplotlib  # optional dependency (see _density_figure)

    matplotlib.use("Agg", force=False)
    from tabmfirl import plot  # imports matplotlib

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"csv": out / "taxi_study.csv", "markdown": out / "taxi_study.md",
             "json": out / "taxi_study.json"}
    with open(paths["csv"], "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(result.rows)
    paths["markdown"].write_text(result.markdown())
    paths["json"].write_text(json.dumps(result.to_json(), indent=1))
    paths["density"] = plot.save(_density_figure(result), out / "taxi_density.png")
    paths["profit"] = plot.save(_profit_figure(result), out / "taxi_profit.png")
    return paths


# ----------------------------------------------------------------------- CLI
def add_parser(subparsers):
    """Register the ``taxi-study`` subcommand on an argparse ``subparsers`` object.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        From ``ArgumentParser.add_subparsers``.

    Returns
    -------
    argparse.ArgumentParser
        The subcommand's parser (its handler is set with ``set_defaults``).
    """
    parser = subparsers.add_parser(
        "taxi-study", help="taxi drivers: learn rewards, predict a surge counterfactual",
        description="Solve the taxi pricing game with 3 driver types, roll out demonstrations,\n"
                    "fit each method, and predict a surge rule (prices x FACTOR in the 5\n"
                    "busiest zones at the 4 busiest steps) with the learned rewards vs the\n"
                    "truth. Writes OUT/taxi_study.{csv,md,json} and two PNG figures.",
        epilog="examples:\n"
               "  tabmfirl taxi-study --out results_taxi/\n"
               "  tabmfirl taxi-study --agents 100 --iters 50 --methods mfirl,oracle "
               "--out /tmp/taxi --json",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agents", type=int, default=200, help="drivers per type (default 200)")
    parser.add_argument("--seed", type=int, default=0, help="seed of demos and fits (default 0)")
    parser.add_argument("--beta", type=float, default=DEFAULTS["temperature"],
                        help=f"temperature (default: the game's, {taxi.TEMPERATURE:g})")
    parser.add_argument("--iters", type=int, default=DEFAULTS["max_iter"],
                        help=f"fit iterations (default {DEFAULTS['max_iter']})")
    parser.add_argument("--methods", default=",".join(STUDY_METHODS),
                        help="comma-separated subset of pemmfirl_em,mfirl,oracle (default all)")
    parser.add_argument("--surge", type=float, default=1.5,
                        help="surge price factor (default 1.5)")
    parser.add_argument("--driver-share", type=float, default=1.0,
                        help="share of the surcharge paid to drivers, in [0, 1] (default 1)")
    parser.add_argument("--backend", default=DEFAULTS["backend"],
                        help=f"auto, numpy, numba or cuda (default {DEFAULTS['backend']})")
    parser.add_argument("--out", default="results_taxi",
                        help="output folder (default results_taxi/)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=_cmd_taxi_study)
    return parser


def _cmd_taxi_study(args) -> int:
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    if args.agents < 1 or args.iters < 1:
        raise CommandError("--agents and --iters must be >= 1")
    try:
        check_output_folder(args.out)       # before the long computation
    except ValueError as error:
        raise CommandError(str(error)) from None
    try:
        surge = SurgeRule(factor=args.surge, driver_share=args.driver_share)
        beta = taxi.TEMPERATURE if args.beta is None else args.beta
        result = run_taxi_study(n_agents=args.agents, seed=args.seed, temperature=beta,
                                max_iter=args.iters, methods=methods, surge=surge,
                                backend=args.backend,
                                log=lambda line: print(line, file=sys.stderr, flush=True))
        paths = write_taxi_study(result, args.out)
    except (ValueError, RuntimeError, OSError) as error:
        raise CommandError(str(error).splitlines()[0] if str(error) else repr(error)) from None
    if args.json:
        print(json.dumps(dict(result.to_json(), files={k: str(v) for k, v in paths.items()})))
    else:
        print(result.markdown(), end="")
        print(f"{result.seconds:.1f} s; wrote {', '.join(str(p) for p in paths.values())}")
    return 0
