r"""The taxi study: a surge-pricing counterfactual predicted with learned rewards.

Issue 8, item 3.  Drivers of three types play the taxi pricing game
(:mod:`tabmfirl.envs.taxi`; design notes, section 4, "Taxi pricing"); we roll
out their equilibrium, learn rewards from the unlabelled trajectories
(PEMMFIRL, MFIRL, and the oracle given the true types), and ask each learned
model what a **surge rule** will do to the drivers' fare income and to the
passengers served.  The answer is compared with the truth: the equilibrium of
the true rewards under the surge.

The surge rule (:class:`SurgeRule`)
-----------------------------------
In the ``n_zones`` busiest zones (total demand over the surge steps) during
the ``n_steps`` busiest steps (total demand over the zones), every price level
is multiplied by ``factor`` :math:`g > 1`: a passenger offered level ``p``
pays :math:`g\, m_p` times the base fare.  ``g_t(z)`` is :math:`g` in the
surge cells and 1 elsewhere.  The surge changes two things of the game:

1. **Matching (the dynamics).**  With constant elasticity the share of
   requests that accept a price is :math:`(g m_p)^{-\varepsilon} = g^{-\varepsilon}
   e_p`, so the matching probability becomes

   .. math::

       q'_t(z, p, \nu) = q_{\max}\frac{e_p\, d'_t(z)}{e_p\, d'_t(z) + \rho\,\nu(z)},
       \qquad d'_t(z) = g_t(z)^{-\varepsilon}\, d_t(z),

   i.e. exactly the game with the demand table :math:`d'` (built by editing
   the demand block of the game's ``params``; :math:`\mu_0` and
   :math:`\bar D` are unchanged).  This part moves *where drivers go*: it is
   expressed in :math:`P(s' \mid s, a, \mu)`.
2. **Fares (the reward).**  A fraction :math:`\kappa` = ``driver_share`` of
   the surcharge goes to the driver (:math:`\kappa = 1`: a classic surge;
   :math:`\kappa = 0`: a platform booking fee, the driver's fare unchanged).
   The true counterfactual reward of type ``m`` in an idle state is

   .. math::

       r'_m(t, (z, 0), (i, p), \nu) = r_m\big|_{q = q'} +
       \underbrace{\kappa\,(g_t(z) - 1)\; q'\; w^f_m\, m_p\, \bar f(z)}_{\Delta_m},

   where :math:`r_m|_{q=q'}` is the game's reward with the new matching
   probability.

What is predicted, and the assumption it rests on
-------------------------------------------------
A learned reward is a function :math:`f_\omega(s, a, \mu, m)` of the
state, action and mean field only (the linear head has no time input and no
fare input).  Each method's prediction re-solves the equilibrium under the
new dynamics :math:`P'` (item 1, through :func:`tabmfirl.learned_game`) with
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
From a flow and policy, with :math:`L_t(z, a) = \mu_t(z, 0)\pi_t(a\mid z)`
and :math:`q'` at the type's own flow (as :func:`taxi.ride_statistics`, with
the surge):

* ``revenue``: fare income of a driver over the horizon, dollars,
  :math:`\sum_{t,z,a} L_t(z, a)\, q'\, m_{p_a} \bar f(z)\,(1 + \kappa(g_t(z) - 1))`
  (the true reward's income term; the types' idle and driving costs are
  not included);
* ``rides``: rides per driver over the horizon;
* ``served``: passengers served as a share of the requests at the base
  price, :math:`\rho \sum_t \text{rides}_t / \sum_{t,z} d_t(z)`, in percent.

Each is computed at the truth's equilibria before and after the surge, and
at each method's predicted equilibria (learned rewards, matched to the true
types by :func:`tabmfirl.evaluation._metrics.match_types`) before and after.
"""
from __future__ import annotations

import argparse
import csv
import json
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
from numba import njit

from tabmfirl.evaluation._metrics import _linear_head_reward, _mlp_head_reward
from tabmfirl.envs.taxi import _match, _offsets
from tabmfirl.envs.taxi import reward as _taxi_reward

__all__ = ["SurgeRule", "TaxiStudyResult", "run_taxi_study", "write_taxi_study",
           "taxi_outcomes", "surge_games", "learned_surge_game", "add_parser"]

METHODS = ("pemmfirl", "mfirl", "oracle")
#: Columns of the study table, in order.
COLUMNS = ("method", "type", "context", "revenue_before", "revenue_after", "revenue_change",
           "revenue_error", "revenue_change_error", "rides_after", "served_before",
           "served_after", "served_change", "served_error", "converged")
_TYPE_NAMES = ("balanced", "hates idling", "hates driving empty")


# ----------------------------------------------------------------- surge rule
@dataclass(frozen=True)
class SurgeRule:
    r"""Per-zone surge pricing at peak steps (module docstring).

    Attributes
    ----------
    factor : float, default 1.5
        :math:`g`, multiplier of every price level in a surge cell.
    n_zones : int, default 5
        The busiest zones (demand summed over the surge steps) that surge.
    n_steps : int, default 4
        The busiest steps (demand summed over zones) at which they surge.
    driver_share : float, default 1.0
        :math:`\kappa \in [0, 1]`, share of the surcharge paid to the driver
        (0: a platform fee, a pure change of dynamics).
    """

    factor: float = 1.5
    n_zones: int = 5
    n_steps: int = 4
    driver_share: float = 1.0

    def __post_init__(self):
        if not (np.isfinite(self.factor) and self.factor > 0):
            raise ValueError(f"surge factor must be > 0, got {self.factor}")
        for name in ("n_zones", "n_steps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"surge {name} must be a positive integer, got {value!r}")
        if not 0.0 <= self.driver_share <= 1.0:
            raise ValueError(f"driver_share must lie in [0, 1], got {self.driver_share}")

    def table(self, demand) -> np.ndarray:
        """``g[t, z]``: ``factor`` in the surge cells of ``demand (T, Z)``, 1 elsewhere."""
        demand = np.asarray(demand, dtype=float)
        T, Z = demand.shape
        steps = np.sort(np.argsort(-demand.sum(axis=1), kind="stable")[:min(self.n_steps, T)])
        zones = np.argsort(-demand[steps].sum(axis=0), kind="stable")[:min(self.n_zones, Z)]
        g = np.ones((T, Z))
        g[np.ix_(steps, np.sort(zones))] = self.factor
        return g


# ------------------------------------------------------- counterfactual games
def _layout(params):
    """Length of the taxi game's own block of ``params`` (where the surge extras start)."""
    return int(_extras_start(np.asarray(params, dtype=np.float64)))


@njit(cache=True)
def _extras_start(params):
    """Index after the taxi game's blocks (``taxi._HEADER`` = 11, then as ``taxi._offsets``)."""
    Z, k, n_moves, n_prices = int(params[0]), int(params[4]), int(params[2]), int(params[3])
    K, T = int(params[9]), int(params[10])
    return 11 + T * Z + Z * k + n_prices + Z + Z + Z * n_moves + 3 * K


@njit(cache=True)
def _add_surge_income(t, observed, params, w_fare, out):
    """``out[z, a] += kappa (g_t(z) - 1) q' w_fare m_p fbar(z)`` on idle states."""
    Z, n_moves, n_prices = int(params[0]), int(params[2]), int(params[3])
    _, _, prices, fare, _, _, _ = _offsets(params)
    e = _extras_start(params)
    kappa = params[e]
    if kappa == 0.0:
        return
    for z in range(Z):
        extra = params[e + 1 + t * Z + z] - 1.0
        if extra == 0.0:
            continue
        for move in range(n_moves):
            for price in range(n_prices):
                q = _match(t, z, price, observed, params)
                out[z, move * n_prices + price] += (kappa * extra * q * w_fare
                                                    * params[prices + price] * params[fare + z])


@njit(cache=True)
def _true_surge_reward(t, observed, context, params, out):
    """The true counterfactual reward :math:`r'_m` (module docstring)."""
    _taxi_reward(t, observed, context, params, out)
    weights = _offsets(params)[6]
    _add_surge_income(t, observed, params, params[weights + 3 * context], out)


@njit(cache=True)
def _fixed_true_reward(t, observed, context, params, out):
    """Pre-surge true reward (the copy stored after the extras) plus the surge income."""
    T, Z = int(params[10]), int(params[0])
    base = _extras_start(params) + 1 + T * Z
    _taxi_reward(t, observed, context, params[base:], out)
    weights = _offsets(params)[6]
    _add_surge_income(t, observed, params, params[weights + 3 * context], out)


@njit(cache=True)
def _learned_surge_reward(t, observed, context, params, out):
    """A linear head's reward (packed at the end of ``params``) plus the surge income, w^f = 1."""
    _linear_head_reward(t, observed, context, params, out)
    _add_surge_income(t, observed, params, 1.0, out)


@njit(cache=True)
def _learned_surge_reward_mlp(t, observed, context, params, out):
    """An MLP head's reward (packed at the end of ``params``) plus the surge income, w^f = 1."""
    _mlp_head_reward(t, observed, context, params, out)
    _add_surge_income(t, observed, params, 1.0, out)


def surge_games(spec, surge: SurgeRule):
    r"""The counterfactual taxi games of a surge rule.

    Parameters
    ----------
    spec : MFGSpec
        A taxi game (:func:`tabmfirl.envs.taxi.make`, no ``population_shares``).
    surge : SurgeRule

    Returns
    -------
    dict
        ``"true"``: the game with the surge dynamics and the true surge reward
        :math:`r'`; ``"fixed"``: the surge dynamics with the pre-surge true
        reward plus :math:`\Delta` (the ``true-fixed`` reference);
        ``"dynamics"``: the surge dynamics with the (unused) original reward
        function, whose ``params`` carry the extras that
        :func:`learned_surge_game` needs; ``"g"``: the table ``(T, Z)``.
    """
    from tabmfirl.envs import taxi

    if spec.name != "taxi":
        raise ValueError(f"surge_games needs a taxi game, got {spec.name!r}")
    if spec.context_coupling is not None:
        raise ValueError("the taxi study needs the default per-type flows (no population_shares)")
    params = np.asarray(spec.params, dtype=float)
    length = _layout(params)
    base = params[:length]
    tables = taxi._unpack(base)
    T, Z = tables["demand"].shape
    g = surge.table(tables["demand"])
    scaled = base.copy()
    scaled[taxi._HEADER:taxi._HEADER + T * Z] = (
        tables["demand"] * g ** -tables["elasticity"]).ravel()
    packed = np.concatenate([scaled, [surge.driver_share], g.ravel(), base])
    info = dict(spec.info, surge=asdict(surge))
    dynamics = spec.replace(params=packed, info=info)
    return {"true": dynamics.replace(reward=_true_surge_reward),
            "fixed": dynamics.replace(reward=_fixed_true_reward),
            "dynamics": dynamics, "g": g}


def learned_surge_game(dynamics, head, type_map):
    r"""The surge dynamics with a learned head's reward plus the surge income (:math:`w^f = 1`).

    Parameters
    ----------
    dynamics : MFGSpec
        ``surge_games(spec, surge)["dynamics"]``.
    head : RewardHead
        A discrete-type head (linear or MLP).
    type_map : array_like of int, shape (K,)
        Learned context of each true type (:func:`tabmfirl.evaluation._metrics.match_types`).

    Returns
    -------
    MFGSpec
        Reward :math:`f_\omega(s, a, \mu, \hat m) + \Delta` (module docstring).
    """
    from tabmfirl.evaluation._metrics import learned_game

    game = learned_game(dynamics, head, type_map)
    function = _learned_surge_reward_mlp if head.kind == "mlp" else _learned_surge_reward
    return game.replace(reward=function)


# ------------------------------------------------------------------ outcomes
def taxi_outcomes(spec, mean_field, policy, *, surge_table=None, driver_share: float = 1.0
                  ) -> dict:
    r"""Revenue, rides and served share of each type, with an optional surge.

    Parameters
    ----------
    spec : MFGSpec
        The **pre-surge** taxi game (its demand is the base demand).
    mean_field : ndarray, shape (K, T+1, S)
    policy : ndarray, shape (K, T, S, A)
    surge_table : ndarray, shape (T, Z), optional
        :math:`g_t(z)` (:meth:`SurgeRule.table`); default no surge.
    driver_share : float, default 1.0
        :math:`\kappa`.

    Returns
    -------
    dict of ndarray, shape (K,)
        ``revenue`` (dollars per driver over the horizon), ``rides`` (per
        driver), ``served`` (percent of the base requests); see the module
        docstring.  Without a surge they are the sums over steps of
        :func:`tabmfirl.envs.taxi.ride_statistics`.
    """
    from tabmfirl.envs import taxi

    params = np.asarray(spec.params, dtype=float)
    tables = taxi._unpack(params[:_layout(params)])
    K, T, Z = spec.n_contexts, spec.horizon, tables["n_zones"]
    n_prices = tables["n_prices"]
    mu = np.asarray(mean_field, dtype=float)[:, :T]
    pi = np.asarray(policy, dtype=float)
    if mu.shape != (K, T, spec.n_states) or pi.shape != (K, T, spec.n_states, spec.n_actions):
        raise ValueError("mean_field must have shape (K, T+1, S) and policy (K, T, S, A)")
    g = np.ones((T, Z)) if surge_table is None else np.asarray(surge_table, dtype=float)
    if g.shape != (T, Z):
        raise ValueError(f"surge_table must have shape ({T}, {Z}), got {g.shape}")
    demand = tables["demand"]
    accept = tables["prices"] ** -tables["elasticity"]
    wanted = accept[None, None, None, :] * (demand * g ** -tables["elasticity"])[None, :, :, None]
    crowd = tables["supply_ratio"] * mu[:, :, :Z, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        q = np.where(wanted > 0, tables["max_match"] * wanted / (wanted + crowd), 0.0)
    choice = (mu[:, :, :Z, None] * pi[:, :, :Z]).reshape(K, T, Z, -1, n_prices).sum(axis=3)
    rides_zp = choice * q
    fare = tables["fare"] * taxi.MONEY_UNIT
    paid = 1.0 + float(driver_share) * (g - 1.0)                  # (T, Z)
    revenue = np.einsum("ktzp,p,z,tz->k", rides_zp, tables["prices"], fare, paid)
    rides = rides_zp.sum(axis=(1, 2, 3))
    served = 100.0 * tables["supply_ratio"] * rides / demand.sum()
    return {"revenue": revenue, "rides": rides, "served": served}


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
    surge : SurgeRule
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
    from tabmfirl import ConvergenceWarning, solve_equilibrium

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return solve_equilibrium(spec, temperature=temperature, backend=backend, **solver)


def run_taxi_study(*, n_agents: int = 200, seed: int = 0, temperature: float = 0.2,
                   n_iter: int = 150, methods: Sequence[str] = METHODS, city=None,
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
    n_iter : int, default 150
        Fit iterations of every method.
    methods : sequence of str
        Among ``"pemmfirl"``, ``"mfirl"``, ``"oracle"``.
    city : tabmfirl.envs.taxi.City, optional
        The city (``make(data=city, horizon=city.horizon)``).
    surge : SurgeRule
    n_warmup : int, optional
        PEMMFIRL warm-up iterations; default ``min(30, n_iter // 5)``.
    learning_rate : float, default 0.02
    backend : {"auto", "numpy", "numba", "cuda"}
    log : callable, optional
        ``log(line)`` receives progress lines.

    Returns
    -------
    TaxiStudyResult
    """
    from tabmfirl.irl._demos import generate_demonstrations
    from tabmfirl.irl._irl import fit_mfirl, fit_oracle, fit_pemmfirl
    from tabmfirl.evaluation._metrics import adjusted_rand_index, learned_game, match_types
    from tabmfirl.envs import taxi

    start = time.perf_counter()
    say = log or (lambda line: None)
    methods = tuple(methods)
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise ValueError(f"methods must be a non-empty subset of {METHODS}, got {methods}")
    if len(set(methods)) != len(methods):
        raise ValueError(f"methods repeat: {methods}")
    for name, value in (("n_agents", n_agents), ("n_iter", n_iter)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if not (np.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if not isinstance(surge, SurgeRule):
        raise ValueError(f"surge must be a SurgeRule, got {type(surge).__name__}")
    n_warmup = min(30, n_iter // 5) if n_warmup is None else int(n_warmup)
    K = len(taxi.TYPE_WEIGHTS)
    if city is None:
        spec = taxi.make(types=K)
        coords = taxi.synthetic_city(taxi.N_ZONES, rng=taxi.SEED).coords
    else:
        spec = taxi.make(types=K, data=city, horizon=city.horizon)
        coords = city.coords
    solver = {}  # the default solver: no per-game settings
    Z, T = spec.info["n_zones"], spec.horizon
    games = surge_games(spec, surge)
    g = games["g"]
    steps = np.flatnonzero((g != 1.0).any(axis=1))
    steps = steps if steps.size else np.arange(T)

    def outcomes(mean_field, policy, after):
        return taxi_outcomes(spec, mean_field, policy, surge_table=g if after else None,
                             driver_share=surge.driver_share)

    say(f"solving the true equilibria (beta={temperature})")
    expert = _solve(spec, temperature, solver, backend)
    truth_after = _solve(games["true"], temperature, solver, backend)
    fixed_after = _solve(games["fixed"], temperature, solver, backend)
    true_before = outcomes(expert.mean_field, expert.policy, False)
    true_after = outcomes(truth_after.mean_field, truth_after.policy, True)
    demos = generate_demonstrations(spec, expert.policy, n_agents, seed=seed)

    rows, summary = [], {}
    density = {"truth-before": _zone_density(expert.mean_field, Z, steps),
               "truth": _zone_density(truth_after.mean_field, Z, steps)}

    def add_rows(name, before, after, type_map, converged):
        for m in range(K):
            rows.append({
                "method": name, "type": m, "context": int(type_map[m]),
                "revenue_before": float(before["revenue"][m]),
                "revenue_after": float(after["revenue"][m]),
                "revenue_change": float(after["revenue"][m] - before["revenue"][m]),
                "revenue_error": float(abs(after["revenue"][m] - true_after["revenue"][m])),
                "revenue_change_error": float(abs(
                    (after["revenue"][m] - before["revenue"][m])
                    - (true_after["revenue"][m] - true_before["revenue"][m]))),
                "rides_after": float(after["rides"][m]),
                "served_before": float(before["served"][m]),
                "served_after": float(after["served"][m]),
                "served_change": float(after["served"][m] - before["served"][m]),
                "served_error": float(abs(after["served"][m] - true_after["served"][m])),
                "converged": bool(converged)})
        mine = rows[-K:]
        summary[name] = {key: float(np.mean([r[key] for r in mine]))
                         for key in ("revenue_error", "revenue_change_error", "served_error")}
        summary[name]["converged"] = bool(converged)

    identity = np.arange(K)
    add_rows("truth", true_before, true_after, identity,
             expert.converged and truth_after.converged)
    add_rows("true-fixed", true_before,
             outcomes(fixed_after.mean_field, fixed_after.policy, True), identity,
             fixed_after.converged)
    density["true-fixed"] = _zone_density(fixed_after.mean_field, Z, steps)

    fit_kwargs = {"temperature": temperature, "n_iter": n_iter, "learning_rate": learning_rate,
                  "seed": seed, "backend": backend, "warn": False}
    for name in methods:
        say(f"fitting {name} ({n_iter} iterations)")
        if name == "pemmfirl":
            fit = fit_pemmfirl(spec, demos, K, n_warmup=n_warmup, **fit_kwargs)
        elif name == "mfirl":
            fit = fit_mfirl(spec, demos, **fit_kwargs)
        else:
            fit = fit_oracle(spec, demos, **fit_kwargs)
        n_learned = fit.head.n_contexts
        type_map = match_types(demos.types, fit.assignments, n_learned, K)
        say(f"solving {name}'s learned game before and after the surge")
        before = _solve(learned_game(spec, fit.head, type_map), temperature, solver, backend)
        after = _solve(learned_surge_game(games["dynamics"], fit.head, type_map), temperature,
                       solver, backend)
        add_rows(name, outcomes(before.mean_field, before.policy, False),
                 outcomes(after.mean_field, after.policy, True), type_map,
                 before.converged and after.converged)
        density[name] = _zone_density(after.mean_field, Z, steps)
        summary[name].update(
            fit_seconds=float(fit.seconds), fit_converged=bool(fit.converged),
            ari=float(adjusted_rand_index(demos.types, fit.assignments)) if n_learned > 1
            else None, type_map=[int(c) for c in type_map])
    run_settings = {"n_agents": int(n_agents), "seed": int(seed),
                    "temperature": float(temperature), "n_iter": int(n_iter),
                    "n_warmup": int(n_warmup), "learning_rate": float(learning_rate),
                    "methods": list(methods), "city": spec.info["source"], "n_zones": int(Z),
                    "horizon": int(T), "solver": solver}
    return TaxiStudyResult(rows=tuple(rows), summary=summary, surge=surge, surge_table=g,
                           coords=None if coords is None else np.asarray(coords, dtype=float),
                           density=density, settings=run_settings,
                           seconds=time.perf_counter() - start)


# ------------------------------------------------------------------- outputs
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
    import matplotlib

    matplotlib.use("Agg", force=False)
    from tabmfirl import plot

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
    parser.add_argument("--beta", type=float, default=0.2, help="temperature (default 0.2)")
    parser.add_argument("--iters", type=int, default=150, help="fit iterations (default 150)")
    parser.add_argument("--methods", default=",".join(METHODS),
                        help="comma-separated subset of pemmfirl,mfirl,oracle (default all)")
    parser.add_argument("--surge", type=float, default=1.5,
                        help="surge price factor (default 1.5)")
    parser.add_argument("--driver-share", type=float, default=1.0,
                        help="share of the surcharge paid to drivers, in [0, 1] (default 1)")
    parser.add_argument("--backend", default="auto", help="auto, numpy, numba or cuda")
    parser.add_argument("--out", default="results_taxi",
                        help="output folder (default results_taxi/)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=_cmd_taxi_study)
    return parser


def _cmd_taxi_study(args) -> int:
    import sys

    from tabmfirl.apps.cli import CommandError

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    if args.agents < 1 or args.iters < 1:
        raise CommandError("--agents and --iters must be >= 1")
    try:
        surge = SurgeRule(factor=args.surge, driver_share=args.driver_share)
        result = run_taxi_study(n_agents=args.agents, seed=args.seed, temperature=args.beta,
                                n_iter=args.iters, methods=methods, surge=surge,
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
