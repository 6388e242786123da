r"""Taxi pricing on a zone graph: drivers choose where to search and what to charge.

A game of ours (design notes, section 4, "Taxi pricing"; the PEMMFIRL paper's
taxi data is not available to us).  A city is a set of :math:`Z` zones with a
neighbour graph, travel times, an origin-destination (OD) table, fares and a
demand table per zone and step of the day; :func:`synthetic_city` draws one
(the default) and :mod:`tabmfirl.envs.taxi_data` estimates one from public
trip-record tables (``make(data=path)``).

States and actions
------------------
A driver's state is ``(zone z, status b)`` with ``b = 0`` idle and
``b = r in 1..R`` busy, ``r`` steps of the ride left (``R = max_trip_steps``);
the state index is ``s = b * Z + z``.  Steps last ``step_minutes`` (default
30) from ``start_hour`` (default 15:00); ``horizon`` 12 steps cover
15:00-21:00, the evening peak.  An action is a relocation move and a price
level, ``a = move * n_prices + price``: ``move = 0`` stays, ``move = i``
(``1 <= i <= max_degree``) drives to the ``i``-th neighbour of the zone
(missing neighbours are padded with "stay"); the price multipliers are
:math:`m = (0.8, 1.0, 1.3)`.  Default size: 25 zones x 3 statuses = 75
states, 5 moves x 3 prices = 15 actions, 12 steps.

Matching (the mean field)
-------------------------
An idle driver searches its zone during the step.  With :math:`\nu(z)` the
share of the type's drivers that are idle in ``z`` (state ``s = z``), the
normalised demand :math:`d_t(z) = D_t(z) / \bar D` (``D`` the demand table in
requests per step, :math:`\bar D = \frac1T \sum_{t,z} D_t(z)`) and the supply
ratio :math:`\rho` (drivers per average request per step), the driver is
matched with probability

.. math::

    q_t(z, p, \nu) = q_{\max} \frac{e_p\, d_t(z)}{e_p\, d_t(z) + \rho\, \nu(z)},
    \qquad e_p = m_p^{-\varepsilon},

(:math:`q = 0` where :math:`d_t(z) = 0`): it falls with the idle drivers per
unit demand :math:`x = \rho \nu(z) / d_t(z)` and with the price through the
share :math:`e_p` of requests that accept it (constant elasticity
:math:`\varepsilon = 1.5`).  :math:`q_{\max} = 0.9`, :math:`\rho = 1`.

Dynamics (sparse, width ``W = k + 2``)
--------------------------------------
Each zone keeps its ``k = top_destinations`` (default 5) most likely
destinations :math:`d_1..d_k`, with OD probabilities renormalised over them
(:math:`\tilde o(z, d_j)`; the cut tail is dropped, a documented
approximation).  From idle state ``z`` with action ``(i, p)``:

.. math::

    (z, 0) &\to (d_j, D(z, d_j)) &&\text{w.p. } q\, \tilde o(z, d_j),
    \qquad j = 1..k \quad\text{(matched: busy, ride to } d_j),\\
    (z, 0) &\to (n_i(z), 0) &&\text{w.p. } (1 - q)\, \sigma
    \quad\text{(not matched: relocate)},\\
    (z, 0) &\to (z, 0) &&\text{w.p. } (1 - q)(1 - \sigma)
    \quad\text{(relocation fails)},

with ride length :math:`D(z, d) = \min(R, \max(1, \lceil \gamma\,\tau(z, d) /
\Delta \rceil))` steps (:math:`\tau` the travel time in minutes,
:math:`\Delta` = ``step_minutes``).  A busy driver ``(z, r)`` moves to
``(z, r - 1)`` (idle at its destination when ``r = 1``) whatever it does.
``dynamics="original"``: :math:`\sigma = 1, \gamma = 1`; ``"variant"``
(congestion, the transfer test): :math:`\sigma = 0.7` and travel times
:math:`\gamma = 1.5` times longer.  All drivers start idle, spread like the
demand of the first step: :math:`\mu_0(z, 0) = d_0(z) / \sum_z d_0(z)`.

Reward of type ``m``
--------------------
With weights :math:`(w^f_m, w^i_m, w^d_m)` on fares, idle time and driving,
:math:`\bar f(z) = \sum_j \tilde o(z, d_j) f(z, d_j)` the expected fare of a
ride from ``z`` at price multiplier 1, :math:`\bar\ell(z)` its expected length
in km, and :math:`\ell(z, n_i(z))` the relocation distance (0 for "stay"):

.. math::

    r_m((z, 0), (i, p), \nu) = q\, \big(w^f_m m_p \bar f(z) - w^d_m \bar\ell(z)\big)
      - (1 - q)\, \big(w^i_m + w^d_m\, \ell(z, n_i(z))\big),

and 0 in busy states.  Money is counted in units of ``MONEY_UNIT`` = 10
dollars; ``w^d`` is per km.  Types (ours):

====  ========================  =====  ============  ===============
m     driver                    fare   idle / step   driving / km
====  ========================  =====  ============  ===============
0     balanced                  1.0    0.3           0.05
1     hates idling              1.0    1.0           0.02
2     hates driving empty       1.0    0.1           0.3
====  ========================  =====  ============  ===============

Surge pricing (:class:`SurgeRule`, :func:`surge_games`)
-------------------------------------------------------
A counterfactual of the game, used by the taxi study
(:mod:`tabmfirl.apps._taxi_study`).  In the ``n_zones`` busiest zones (total
demand over the surge steps) during the ``n_steps`` busiest steps (total
demand over the zones), every price level is multiplied by ``factor``
:math:`g > 1`: a passenger offered level ``p`` pays :math:`g\, m_p` times the
base fare.  ``g_t(z)`` is :math:`g` in the surge cells and 1 elsewhere.  The
surge changes two things of the game:

1. **Matching (the dynamics).**  With constant elasticity the share of
   requests that accept a price is :math:`(g m_p)^{-\varepsilon} = g^{-\varepsilon}
   e_p`, so the matching probability becomes

   .. math::

       q'_t(z, p, \nu) = q_{\max}\frac{e_p\, d'_t(z)}{e_p\, d'_t(z) + \rho\,\nu(z)},
       \qquad d'_t(z) = g_t(z)^{-\varepsilon}\, d_t(z),

   i.e. exactly the game with the demand table :math:`d'` (:math:`\mu_0` and
   :math:`\bar D` are unchanged): it moves *where drivers go*, through
   :math:`P(s' \mid s, a, \mu)`.
2. **Fares (the reward).**  A fraction :math:`\kappa` = ``driver_share`` of
   the surcharge goes to the driver (:math:`\kappa = 1`: a classic surge;
   :math:`\kappa = 0`: a platform booking fee, the driver's fare unchanged).
   The true counterfactual reward of type ``m`` in an idle state is

   .. math::

       r'_m(t, (z, 0), (i, p), \nu) = r_m\big|_{q = q'} +
       \underbrace{\kappa\,(g_t(z) - 1)\; q'\; w^f_m\, m_p\, \bar f(z)}_{\Delta_m},

   where :math:`r_m|_{q=q'}` is the game's reward with the new matching
   probability; :func:`surge_income` adds :math:`\Delta` to any reward table.

The surge games carry the rule in their ``params``: the game's own blocks with
the demand scaled to :math:`d'`, then :math:`\kappa`, the table
:math:`g_t(z)` and a copy of the pre-surge blocks (the extras), so the reward
functions of the game keep reading their leading entries.

Each type observes its own flow (the package default); pass
``population_shares`` to make every type compete with the whole fleet.

Solver: the default :func:`tabmfirl.solve_equilibrium` converges at the
game's ``TEMPERATURE`` = 0.2 in about 30 iterations, well under a second on
the Numba backend once compiled (``docs/games.md``).

Examples
--------
>>> spec = make(types=2, horizon=4)
>>> spec.n_states, spec.n_actions, spec.transition_width, spec.n_contexts
(75, 15, 7, 2)
>>> state_index(zone=3, status=IDLE, n_zones=25), action_index(move=1, price=2)
(3, 5)
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass

import numpy as np
from numba import njit

from tabmfirl import MFGSpec, population_coupling

from . import check_builder_args, taxi_data
from .taxi_city import (
    BASE_FARE,
    DETOUR,
    FARE_PER_KM,
    HORIZON,
    JITTER,
    MAX_DEGREE,
    MEAN_DEMAND,
    N_ZONES,
    PICKUP_MINUTES,
    SPEED_KMH,
    START_HOUR,
    STEP_MINUTES,
    ZONE_SPACING_KM,
    City,
    synthetic_city,
)

__all__ = [
    # the city (defined in tabmfirl.envs.taxi_city)
    "City", "synthetic_city", "N_ZONES", "HORIZON", "STEP_MINUTES", "START_HOUR",
    "MAX_DEGREE", "ZONE_SPACING_KM", "JITTER", "DETOUR", "SPEED_KMH", "PICKUP_MINUTES",
    "BASE_FARE", "FARE_PER_KM", "MEAN_DEMAND",
    # the game
    "IDLE", "STAY", "MAX_TRIP_STEPS", "TOP_DESTINATIONS", "PRICE_MULTIPLIERS", "ELASTICITY",
    "MAX_MATCH", "SUPPLY_RATIO", "MONEY_UNIT", "TYPE_WEIGHTS", "DYNAMICS", "SEED",
    "TEMPERATURE", "state_index", "action_index", "transition", "reward",
    "game_tables", "next_state_table", "make", "unpack_params", "ride_statistics",
    # surge pricing
    "SurgeRule", "surge_games", "surge_income", "surge_outcomes",
]

IDLE = 0
STAY = 0
#: Longest ride in steps (busy statuses 1..R).
MAX_TRIP_STEPS = 2
#: Destinations kept per zone (``k``); the transition width is ``k + 2``.
TOP_DESTINATIONS = 5
PRICE_MULTIPLIERS = (0.8, 1.0, 1.3)
#: Price elasticity of demand :math:`\varepsilon`.
ELASTICITY = 1.5
#: Matching probability with no competing driver, :math:`q_{\max}`.
MAX_MATCH = 0.9
#: Drivers per average request per step, :math:`\rho`.
SUPPLY_RATIO = 1.0
#: Dollars per unit of reward.
MONEY_UNIT = 10.0
#: (fare, idle cost per step, driving cost per km) of each type (ours).
TYPE_WEIGHTS = ((1.0, 0.3, 0.05), (1.0, 1.0, 0.02), (1.0, 0.1, 0.3))
#: (relocation success sigma, travel time factor gamma) of each dynamics.
DYNAMICS = {"original": (1.0, 1.0), "variant": (0.7, 1.5)}
#: Seed of the default synthetic city.
SEED = 0
#: Temperature used in the docs and tests.
TEMPERATURE = 0.2

_HEADER = 11  # [Z, R, n_moves, n_prices, k, q_max, elasticity, rho, sigma, K, T]


# --------------------------------------------------------------- index helpers
def state_index(zone: int, status: int, n_zones: int) -> int:
    """State ``s = status * Z + zone`` (status 0 idle, ``r`` busy with ``r`` steps left)."""
    return int(status) * int(n_zones) + int(zone)


def action_index(move: int, price: int, n_prices: int = len(PRICE_MULTIPLIERS)) -> int:
    """Action ``a = move * n_prices + price`` (move 0 stays, ``i`` goes to neighbour ``i``)."""
    return int(move) * int(n_prices) + int(price)


# ------------------------------------------------------------- game functions
@njit(cache=True)
def _offsets(params):
    Z, k, n_moves, n_prices = int(params[0]), int(params[4]), int(params[2]), int(params[3])
    T = int(params[10])
    demand = _HEADER
    od = demand + T * Z
    prices = od + Z * k
    fare = prices + n_prices
    trip_km = fare + Z
    move_km = trip_km + Z
    weights = move_km + Z * n_moves
    return demand, od, prices, fare, trip_km, move_km, weights


@njit(cache=True)
def _match(t, z, price, observed, params):
    """Matching probability :math:`q_t(z, p, \\nu)`."""
    Z = int(params[0])
    q_max, elasticity, rho = params[5], params[6], params[7]
    demand, _, prices, _, _, _, _ = _offsets(params)
    d = params[demand + t * Z + z]
    if d <= 0.0:
        return 0.0
    accept = params[prices + price] ** (-elasticity) * d
    return q_max * accept / (accept + rho * observed[z])


@njit(cache=True)
def transition(t, observed, params, out):
    """Fill ``out[s, a, j]`` (see the module docstring for the pattern)."""
    Z, R, n_moves, n_prices, k = (int(params[0]), int(params[1]), int(params[2]),
                                  int(params[3]), int(params[4]))
    sigma = params[8]
    _, od, _, _, _, _, _ = _offsets(params)
    W = out.shape[2]
    for z in range(Z):
        for move in range(n_moves):
            for price in range(n_prices):
                a = move * n_prices + price
                q = _match(t, z, price, observed, params)
                for j in range(k):
                    out[z, a, j] = q * params[od + z * k + j]
                out[z, a, k] = (1.0 - q) * sigma
                out[z, a, k + 1] = (1.0 - q) * (1.0 - sigma)
    for s in range(Z, Z * (R + 1)):
        for a in range(n_moves * n_prices):
            out[s, a, 0] = 1.0
            for j in range(1, W):
                out[s, a, j] = 0.0


@njit(cache=True)
def reward(t, observed, context, params, out):
    """Fill ``out[s, a]`` with type ``context``'s expected reward (0 when busy)."""
    Z, R, n_moves, n_prices = int(params[0]), int(params[1]), int(params[2]), int(params[3])
    _, _, prices, fare, trip_km, move_km, weights = _offsets(params)
    w_fare = params[weights + 3 * context]
    w_idle = params[weights + 3 * context + 1]
    w_drive = params[weights + 3 * context + 2]
    for z in range(Z):
        ride = params[fare + z]
        ride_km = params[trip_km + z]
        for move in range(n_moves):
            empty_km = params[move_km + z * n_moves + move]
            for price in range(n_prices):
                q = _match(t, z, price, observed, params)
                out[z, move * n_prices + price] = (
                    q * (w_fare * params[prices + price] * ride - w_drive * ride_km)
                    - (1.0 - q) * (w_idle + w_drive * empty_km))
    for s in range(Z, Z * (R + 1)):
        for a in range(n_moves * n_prices):
            out[s, a] = 0.0


# --------------------------------------------------------------------- builder
def game_tables(city: City, *, top_destinations: int = TOP_DESTINATIONS,
                max_trip_steps: int = MAX_TRIP_STEPS, step_minutes: float = STEP_MINUTES,
                travel_factor: float = 1.0) -> dict:
    r"""The per-zone tables the game reads, derived from ``city``.

    Returns a dict with ``destinations (Z, k)`` (zone indices, padded with the
    zone itself), ``od (Z, k)`` (renormalised :math:`\tilde o`, 0 on padding),
    ``ride_steps (Z, k)`` (:math:`D(z, d_j)`), ``fare (Z,)`` (:math:`\bar f`
    in dollars), ``trip_km (Z,)`` (:math:`\bar\ell`) and ``move_km (Z,
    1 + max_degree)`` (0 for "stay").
    """
    Z, k = city.n_zones, int(top_destinations)
    if k < 1:
        raise ValueError(f"top_destinations must be >= 1, got {top_destinations}")
    if max_trip_steps < 1:
        raise ValueError(f"max_trip_steps must be >= 1, got {max_trip_steps}")
    destinations = np.tile(np.arange(Z)[:, None], (1, k))
    od = np.zeros((Z, k))
    for z in range(Z):
        order = np.argsort(-city.od[z], kind="stable")[:k]
        order = order[city.od[z, order] > 0]
        destinations[z, :order.size] = order
        od[z, :order.size] = city.od[z, order]
    totals = od.sum(axis=1)
    od[totals > 0] /= totals[totals > 0, None]
    rows = np.arange(Z)[:, None]
    used = od > 0
    fare = np.where(used, city.fare[rows, destinations], 0.0)
    km = np.where(used, city.distance_km[rows, destinations], 0.0)
    minutes = np.where(used, city.travel_minutes[rows, destinations], 0.0)
    ride_steps = np.clip(np.ceil(travel_factor * minutes / step_minutes - 1e-9), 1,
                         max_trip_steps).astype(np.int64)
    moves = np.concatenate([np.arange(Z)[:, None], city.neighbours], axis=1)
    move_km = np.where(moves == rows, 0.0, city.distance_km[rows, moves])
    return {"destinations": destinations, "od": od, "ride_steps": ride_steps,
            "fare": (od * fare).sum(axis=1), "trip_km": (od * km).sum(axis=1),
            "move_km": move_km, "moves": moves}


def next_state_table(tables: dict, max_trip_steps: int, n_prices: int) -> np.ndarray:
    """``next_states[s, a, j]`` of the game (see the module docstring)."""
    moves, destinations = tables["moves"], tables["destinations"]
    Z, n_moves = moves.shape
    k = destinations.shape[1]
    S, A, W = Z * (max_trip_steps + 1), n_moves * n_prices, k + 2
    table = np.zeros((S, A, W), dtype=np.int64)
    for z in range(Z):
        busy = tables["ride_steps"][z] * Z + destinations[z]
        for move in range(n_moves):
            for price in range(n_prices):
                a = move * n_prices + price
                table[z, a, :k] = busy
                table[z, a, k] = moves[z, move]
                table[z, a, k + 1] = z
    for r in range(1, max_trip_steps + 1):
        for z in range(Z):
            table[r * Z + z] = (r - 1) * Z + z
    return table


def make(types: int = 3, *, dynamics: str = "original", horizon: int = HORIZON,
         weights=None, data=None, seed: int = SEED, n_zones: int = N_ZONES,
         step_minutes: float = STEP_MINUTES, start_hour: float = START_HOUR,
         max_trip_steps: int = MAX_TRIP_STEPS, top_destinations: int = TOP_DESTINATIONS,
         prices=PRICE_MULTIPLIERS, elasticity: float = ELASTICITY,
         supply_ratio: float = SUPPLY_RATIO, max_match: float = MAX_MATCH,
         population_shares=None) -> MFGSpec:
    """The taxi pricing game (see the module docstring).

    Parameters
    ----------
    types : int, default 3
        The first ``types`` rows of ``TYPE_WEIGHTS`` (unless ``weights``).
    dynamics : {"original", "variant"}
        ``"variant"``: relocations fail w.p. 0.3 and rides take 1.5 times longer.
    horizon : int, default 12
        Steps of ``step_minutes`` from ``start_hour``.
    weights : array_like, shape (K, 3), optional
        (fare, idle, driving) weights of each type (overrides ``types``).
    data : str, os.PathLike, TripData or City, optional
        A trip-record file (CSV, or Parquet with pyarrow), tables loaded by
        :func:`tabmfirl.envs.taxi_data.load_trips`, or a ready :class:`City`.
        Default: ``synthetic_city(n_zones, rng=seed)``.
    seed : int, default 0
        Seed of the synthetic city.
    n_zones : int, default 25
        Zones of the synthetic city.
    step_minutes, start_hour : float
        Length of a step and clock time of step 0.
    max_trip_steps : int, default 2
        ``R``, the longest ride in steps.
    top_destinations : int, default 5
        ``k``, destinations kept per zone.
    prices : sequence of float, default (0.8, 1.0, 1.3)
        Price multipliers.
    elasticity, supply_ratio, max_match : float
        :math:`\\varepsilon`, :math:`\\rho`, :math:`q_{\\max}`.
    population_shares : array_like, shape (K,), optional
        If given, every type observes the whole fleet with these type shares
        (:func:`tabmfirl.population_coupling`) instead of its own flow.

    Returns
    -------
    MFGSpec
    """
    if weights is not None:
        weights = np.asarray(weights, dtype=float)
        if weights.ndim != 2 or weights.shape[1] != 3:
            raise ValueError(f"weights must have shape (K, 3), got {weights.shape}")
        weights = check_builder_args(types, dynamics, DYNAMICS, TYPE_WEIGHTS, weights,
                                     "weights")
        weights = np.asarray(weights).reshape(-1, 3)
    else:
        weights = np.asarray(check_builder_args(types, dynamics, DYNAMICS, TYPE_WEIGHTS,
                                                None, "weights"), dtype=float)
    sigma, travel_factor = DYNAMICS[dynamics]
    prices = np.asarray(prices, dtype=float).reshape(-1)
    if prices.size == 0 or np.any(~np.isfinite(prices)) or np.any(prices <= 0):
        raise ValueError("prices must be a non-empty sequence of positive numbers")
    if not 0 < max_match <= 1:
        raise ValueError(f"max_match must lie in (0, 1], got {max_match}")
    if not (supply_ratio > 0 and elasticity >= 0):
        raise ValueError("supply_ratio must be > 0 and elasticity >= 0")
    if not isinstance(horizon, (int, np.integer)) or horizon < 1:
        raise ValueError(f"horizon must be >= 1, got {horizon!r}")

    city, source = _city(data, seed=seed, n_zones=n_zones, horizon=horizon,
                         step_minutes=step_minutes, start_hour=start_hour)
    if city.horizon != horizon:
        raise ValueError(f"the demand table has {city.horizon} steps but horizon={horizon}")
    tables = game_tables(city, top_destinations=top_destinations,
                         max_trip_steps=max_trip_steps, step_minutes=step_minutes,
                         travel_factor=travel_factor)
    Z, R, n_prices = city.n_zones, int(max_trip_steps), prices.size
    n_moves = tables["moves"].shape[1]
    mean_demand = city.demand.sum() / horizon
    demand = city.demand / mean_demand
    K = weights.shape[0]
    params = np.concatenate([
        [Z, R, n_moves, n_prices, top_destinations, max_match, elasticity, supply_ratio,
         sigma, K, horizon],
        demand.ravel(), tables["od"].ravel(), prices, tables["fare"] / MONEY_UNIT,
        tables["trip_km"], tables["move_km"].ravel(), weights.ravel()])
    S = Z * (R + 1)
    mu0 = np.zeros(S)
    first = demand[0] if demand[0].sum() > 0 else demand.sum(axis=0)
    mu0[:Z] = first / first.sum()
    coupling = None if population_shares is None else population_coupling(population_shares)
    info = {"dynamics": dynamics, "weights": weights.tolist(), "n_zones": Z,
            "zone_ids": city.zone_ids.tolist(), "source": source,
            "statuses": ["idle"] + [f"busy{r}" for r in range(1, R + 1)],
            "prices": prices.tolist(), "elasticity": float(elasticity),
            "supply_ratio": float(supply_ratio), "max_match": float(max_match),
            "relocation_success": sigma, "travel_factor": travel_factor,
            "step_minutes": float(step_minutes), "start_hour": float(start_hour),
            "top_destinations": int(top_destinations), "money_unit": MONEY_UNIT}
    return MFGSpec(n_states=S, n_actions=n_moves * n_prices, horizon=horizon, mu0=mu0,
                   transition=transition, reward=reward, n_contexts=K,
                   next_states=next_state_table(tables, R, n_prices), params=params,
                   context_coupling=coupling, name="taxi", info=info)


def unpack_params(params) -> dict:
    """The tables packed into a taxi game's ``params`` (see :func:`make`).

    Parameters
    ----------
    params : array_like
        ``spec.params`` of a taxi game (entries after the game's own blocks,
        such as the extras of :func:`surge_games`, are ignored).

    Returns
    -------
    dict
        ``demand (T, Z)`` (normalised, :math:`d_t(z)`), ``od (Z k,)``,
        ``prices (P,)``, ``fare (Z,)`` (:math:`\\bar f` in ``MONEY_UNIT``),
        ``trip_km (Z,)``, ``move_km (Z n_moves,)``, ``weights (K, 3)``, and the
        scalars ``n_zones``, ``n_moves``, ``n_prices``, ``max_match``,
        ``elasticity``, ``supply_ratio``.
    """
    params = np.asarray(params, dtype=float)
    Z, R, n_moves, n_prices, k = (int(v) for v in params[:5])
    K, T = int(params[9]), int(params[10])
    sizes = {"demand": T * Z, "od": Z * k, "prices": n_prices, "fare": Z, "trip_km": Z,
             "move_km": Z * n_moves, "weights": K * 3}
    out, start = {}, _HEADER
    for name, size in sizes.items():
        out[name] = params[start:start + size]
        start += size
    out["demand"] = out["demand"].reshape(T, Z)
    out["weights"] = out["weights"].reshape(K, 3)
    out.update(n_zones=Z, n_moves=n_moves, n_prices=n_prices, max_match=params[5],
               elasticity=params[6], supply_ratio=params[7])
    return out


def ride_statistics(spec: MFGSpec, mean_field, policy) -> dict:
    r"""Rides, revenue and served demand of each type along a flow.

    With :math:`L_t(z, a) = \mu_t(z, 0)\, \pi_t(a \mid z)` the idle drivers
    choosing ``a`` and :math:`q` the matching probability at the observed mean
    field (the type's own flow, or the coupled one):

    * ``rides[m, t]`` :math:`= \sum_{z, a} L_t(z, a)\, q_t(z, p_a)`, rides
      started per driver;
    * ``revenue[m, t]`` :math:`= \sum_{z, a} L_t(z, a)\, q\, m_{p_a} \bar f(z)`,
      dollars per driver (fares only, before the types' costs);
    * ``served[m, t]`` :math:`= \rho\, \text{rides}_t / \sum_z d_t(z)`, the
      share of the step's requests (at price 1) this fleet serves;
    * ``idle[m, t]`` :math:`= \sum_z \mu_t(z, 0)`;
    * ``mean_price[m]``: the ride-weighted mean price multiplier.

    Parameters
    ----------
    spec : MFGSpec
        A taxi game (:func:`make`).
    mean_field : ndarray, shape (K, T+1, S) or (K, T, S)
    policy : ndarray, shape (K, T, S, A)

    Returns
    -------
    dict of ndarray
    """
    if spec.name != "taxi":
        raise ValueError(f"ride_statistics needs a taxi game, got {spec.name!r}")
    tables = unpack_params(spec.params)
    K, T = spec.n_contexts, spec.horizon
    Z, n_prices = tables["n_zones"], tables["n_prices"]
    mu = np.asarray(mean_field, dtype=float)[:, :T]
    pi = np.asarray(policy, dtype=float)
    if mu.shape != (K, T, spec.n_states) or pi.shape != (K, T, spec.n_states, spec.n_actions):
        raise ValueError(f"mean_field must have shape (K, T(+1), S) and policy (K, T, S, A); "
                         f"got {np.shape(mean_field)} and {pi.shape}")
    observed = mu if spec.context_coupling is None else \
        np.einsum("mn,nts->mts", spec.context_coupling, mu)
    demand = tables["demand"]                                   # (T, Z)
    accept = tables["prices"] ** -tables["elasticity"]          # (P,)
    wanted = accept[None, None, None, :] * demand[None, :, :, None]   # (1, T, Z, P)
    crowd = tables["supply_ratio"] * observed[:, :, :Z, None]        # (K, T, Z, 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        q = np.where(wanted > 0, tables["max_match"] * wanted / (wanted + crowd), 0.0)
    choice = (mu[:, :, :Z, None] * pi[:, :, :Z]).reshape(K, T, Z, -1, n_prices).sum(axis=3)
    rides_zp = choice * q                                       # (K, T, Z, P)
    rides = rides_zp.sum(axis=(2, 3))
    fare = tables["fare"] * MONEY_UNIT
    revenue = np.einsum("ktzp,p,z->kt", rides_zp, tables["prices"], fare)
    with np.errstate(invalid="ignore", divide="ignore"):
        served = tables["supply_ratio"] * rides / demand.sum(axis=1)[None]
        mean_price = np.einsum("ktzp,p->k", rides_zp, tables["prices"]) / rides.sum(axis=1)
    return {"rides": rides, "revenue": revenue, "served": served,
            "idle": mu[:, :, :Z].sum(axis=2), "mean_price": mean_price}


def _city(data, *, seed, n_zones, horizon, step_minutes, start_hour):
    """``(City, source description)`` from ``make``'s ``data`` argument."""
    if data is None:
        return (synthetic_city(n_zones, horizon=horizon, step_minutes=step_minutes,
                               start_hour=start_hour, rng=seed),
                f"synthetic(n_zones={n_zones}, seed={seed})")
    if isinstance(data, City):
        return data, data.source
    if isinstance(data, (str, os.PathLike)):
        data = taxi_data.load_trips(data, horizon=horizon, step_minutes=step_minutes,
                                    start_hour=start_hour)
    if isinstance(data, taxi_data.TripData):
        if (data.step_minutes, data.start_hour) != (float(step_minutes), float(start_hour)):
            raise ValueError(
                f"the trip tables have steps of {data.step_minutes:g} minutes from "
                f"{data.start_hour:g} h, but make() got step_minutes={step_minutes}, "
                f"start_hour={start_hour}")
        return taxi_data.city_from_trips(data, max_degree=MAX_DEGREE), data.report.source
    raise ValueError(f"data must be a path, a TripData or a City, got {type(data).__name__}")


# --------------------------------------------------------------- surge pricing
@dataclass(frozen=True)
class SurgeRule:
    r"""Per-zone surge pricing at peak steps (module docstring, "Surge pricing").

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


def _layout(params):
    """Length of the taxi game's own block of ``params`` (where the surge extras start)."""
    return int(_extras_start(np.asarray(params, dtype=np.float64)))


@njit(cache=True)
def _extras_start(params):
    """Index after the taxi game's blocks (``_HEADER`` = 11, then as ``_offsets``)."""
    Z, k, n_moves, n_prices = int(params[0]), int(params[4]), int(params[2]), int(params[3])
    K, T = int(params[9]), int(params[10])
    return _HEADER + T * Z + Z * k + n_prices + Z + Z + Z * n_moves + 3 * K


@njit(cache=True)
def surge_income(t, observed, params, w_fare, out):
    r"""Add the surge's extra fare income :math:`\Delta` to a reward table ``out[s, a]``.

    ``out[z, a] += kappa (g_t(z) - 1) q'_t(z, p_a, observed) w_fare m_p fbar(z)``
    on the idle states (module docstring, "Surge pricing"); a Numba function
    that a surge game's reward function calls after filling ``out``.

    Parameters
    ----------
    t : int
        Time step.
    observed : ndarray, shape (S,)
        The mean field the type observes at ``t``.
    params : ndarray
        ``params`` of a game of :func:`surge_games` (with the extras after the
        game's own blocks; anything a learned reward packs may follow them).
    w_fare : float
        :math:`w^f`, the type's weight on fares.
    out : ndarray, shape (S, A)
        Reward table, updated in place.
    """
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
    reward(t, observed, context, params, out)
    weights = _offsets(params)[6]
    surge_income(t, observed, params, params[weights + 3 * context], out)


@njit(cache=True)
def _fixed_true_reward(t, observed, context, params, out):
    """Pre-surge true reward (the copy stored after the extras) plus the surge income."""
    T, Z = int(params[10]), int(params[0])
    base = _extras_start(params) + 1 + T * Z
    reward(t, observed, context, params[base:], out)
    weights = _offsets(params)[6]
    surge_income(t, observed, params, params[weights + 3 * context], out)


def surge_games(spec: MFGSpec, surge: SurgeRule) -> dict:
    r"""The counterfactual taxi games of a surge rule (module docstring, "Surge pricing").

    Parameters
    ----------
    spec : MFGSpec
        A taxi game (:func:`make`, no ``population_shares``).
    surge : SurgeRule

    Returns
    -------
    dict
        ``"true"``: the game with the surge dynamics and the true surge reward
        :math:`r'`; ``"fixed"``: the surge dynamics with the pre-surge true
        reward plus :math:`\Delta` (the taxi study's ``true-fixed``
        reference); ``"dynamics"``: the surge dynamics with the original
        reward function, whose ``params`` carry the extras that
        :func:`surge_income` reads; ``"g"``: the table :math:`g_t(z)`, shape
        ``(T, Z)``.

    Raises
    ------
    ValueError
        ``spec`` is not a taxi game, or its types observe a coupled flow.
    """
    if spec.name != "taxi":
        raise ValueError(f"surge_games needs a taxi game, got {spec.name!r}")
    if spec.context_coupling is not None:
        raise ValueError("the taxi study needs the default per-type flows (no population_shares)")
    params = np.asarray(spec.params, dtype=float)
    base = params[:_layout(params)]
    tables = unpack_params(base)
    T, Z = tables["demand"].shape
    g = surge.table(tables["demand"])
    scaled = base.copy()
    scaled[_HEADER:_HEADER + T * Z] = (tables["demand"] * g ** -tables["elasticity"]).ravel()
    packed = np.concatenate([scaled, [surge.driver_share], g.ravel(), base])
    info = dict(spec.info, surge=asdict(surge))
    dynamics = spec.replace(params=packed, info=info)
    return {"true": dynamics.replace(reward=_true_surge_reward),
            "fixed": dynamics.replace(reward=_fixed_true_reward),
            "dynamics": dynamics, "g": g}


def surge_outcomes(spec: MFGSpec, mean_field, policy, *, surge_table=None,
                   driver_share: float = 1.0) -> dict:
    r"""Fare revenue, rides and served share of each type over the horizon, with a surge.

    With :math:`L_t(z, a) = \mu_t(z, 0)\pi_t(a\mid z)` and :math:`q'` at the
    type's own flow under the surge (:math:`q' = q` without one):

    * ``revenue``: fare income of a driver over the horizon, dollars,
      :math:`\sum_{t,z,a} L_t(z, a)\, q'\, m_{p_a} \bar f(z)\,(1 + \kappa(g_t(z) - 1))`
      (the true reward's income term; the types' idle and driving costs are
      not included);
    * ``rides``: rides per driver over the horizon;
    * ``served``: passengers served as a share of the requests at the base
      price, :math:`100\,\rho \sum_t \text{rides}_t / \sum_{t,z} d_t(z)`, in
      percent.

    Parameters
    ----------
    spec : MFGSpec
        The **pre-surge** taxi game (its demand is the base demand), without
        ``population_shares``.
    mean_field : ndarray, shape (K, T+1, S) or (K, T, S)
    policy : ndarray, shape (K, T, S, A)
    surge_table : ndarray, shape (T, Z), optional
        :math:`g_t(z)` (:meth:`SurgeRule.table`); default no surge.
    driver_share : float, default 1.0
        :math:`\kappa`.

    Returns
    -------
    dict of ndarray, shape (K,)
        ``revenue``, ``rides``, ``served``.  Without a surge, ``revenue`` and
        ``rides`` are the sums over steps of :func:`ride_statistics`.
    """
    if spec.name != "taxi":
        raise ValueError(f"surge_outcomes needs a taxi game, got {spec.name!r}")
    if spec.context_coupling is not None:
        raise ValueError("surge_outcomes needs the default per-type flows (no population_shares)")
    tables = unpack_params(spec.params)
    K, T = spec.n_contexts, spec.horizon
    Z, n_prices = tables["n_zones"], tables["n_prices"]
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
    fare = tables["fare"] * MONEY_UNIT
    paid = 1.0 + float(driver_share) * (g - 1.0)                  # (T, Z)
    revenue = np.einsum("ktzp,p,z,tz->k", rides_zp, tables["prices"], fare, paid)
    rides = rides_zp.sum(axis=(1, 2, 3))
    served = 100.0 * tables["supply_ratio"] * rides / demand.sum()
    return {"revenue": revenue, "rides": rides, "served": served}
