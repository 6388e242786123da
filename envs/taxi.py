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

import math
import os
from dataclasses import dataclass
from typing import Optional

import numpy as np
from numba import njit

from tabmfirl import MFGSpec, population_coupling

IDLE = 0
STAY = 0
N_ZONES = 25
HORIZON = 12
STEP_MINUTES = 30.0
START_HOUR = 15.0
#: Longest ride in steps (busy statuses 1..R).
MAX_TRIP_STEPS = 2
#: Relocation moves per zone besides "stay" (missing neighbours padded with "stay").
MAX_DEGREE = 4
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

# synthetic city constants (ours; NYC-like orders of magnitude)
ZONE_SPACING_KM = 2.0
JITTER = 0.3
DETOUR = 1.3
SPEED_KMH = 18.0
PICKUP_MINUTES = 4.0
BASE_FARE = 3.0
FARE_PER_KM = 1.75
MEAN_DEMAND = 1000.0

_HEADER = 11  # [Z, R, n_moves, n_prices, k, q_max, elasticity, rho, sigma, K, T]


# ------------------------------------------------------------------- the city
@dataclass(frozen=True, eq=False)
class City:
    r"""A city's zones and trip statistics (the input of :func:`make`).

    Attributes
    ----------
    demand : ndarray, shape (T, Z)
        Expected ride requests per step and zone (any unit: the game uses
        :math:`D / \bar D`).
    od : ndarray, shape (Z, Z)
        ``od[z, z']``: probability that a ride from ``z`` goes to ``z'`` (rows
        sum to 1, or to 0 for a zone with no rides).
    fare : ndarray, shape (Z, Z)
        Mean fare in dollars at price multiplier 1 (NaN where ``od`` is 0).
    distance_km : ndarray, shape (Z, Z)
        Ride or relocation distance in km (NaN where unknown).
    travel_minutes : ndarray, shape (Z, Z)
        Travel time in minutes (NaN where unknown).
    neighbours : ndarray of int, shape (Z, max_degree)
        Zones reachable by one relocation move, padded with the zone itself.
    zone_ids : ndarray of int, shape (Z,)
        External zone labels (e.g. TLC LocationIDs); ``arange(Z)`` if synthetic.
    coords : ndarray, shape (Z, 2), optional
        Zone centres in km (synthetic cities).
    source : str
        Where the tables came from.
    """

    demand: np.ndarray
    od: np.ndarray
    fare: np.ndarray
    distance_km: np.ndarray
    travel_minutes: np.ndarray
    neighbours: np.ndarray
    zone_ids: np.ndarray
    coords: Optional[np.ndarray] = None
    source: str = "custom"

    def __post_init__(self):
        set_ = object.__setattr__
        demand = np.ascontiguousarray(self.demand, dtype=np.float64)
        if demand.ndim != 2 or demand.shape[1] < 1:
            raise ValueError(f"demand must have shape (T, Z), got {demand.shape}")
        Z = demand.shape[1]
        if not np.all(np.isfinite(demand)) or np.any(demand < 0):
            raise ValueError("demand must be finite and non-negative")
        if demand.sum() <= 0:
            raise ValueError("demand is zero everywhere")
        set_(self, "demand", demand)
        for name in ("od", "fare", "distance_km", "travel_minutes"):
            table = np.ascontiguousarray(getattr(self, name), dtype=np.float64)
            if table.shape != (Z, Z):
                raise ValueError(f"{name} must have shape (Z, Z) = ({Z}, {Z}), got {table.shape}")
            set_(self, name, table)
        od = self.od
        if not np.all(np.isfinite(od)) or np.any(od < 0):
            raise ValueError("od must be finite and non-negative")
        sums = od.sum(axis=1)
        if np.any((np.abs(sums - 1) > 1e-8) & (sums != 0)):
            raise ValueError("od rows must sum to 1 (or 0 for zones without rides)")
        used = od > 0
        for name in ("fare", "distance_km", "travel_minutes"):
            table = getattr(self, name)
            if not np.all(np.isfinite(table[used])) or np.any(table[used] < 0):
                raise ValueError(f"{name} must be finite and non-negative where od > 0")
        if np.any((demand.sum(axis=0) > 0) & (sums == 0)):
            raise ValueError("a zone with demand has no destinations in od")
        neighbours = np.asarray(self.neighbours)
        if neighbours.ndim != 2 or neighbours.shape[0] != Z \
                or not np.issubdtype(neighbours.dtype, np.integer):
            raise ValueError(f"neighbours must be an int array of shape (Z, degree), "
                             f"got {neighbours.shape} {neighbours.dtype}")
        if neighbours.size and (neighbours.min() < 0 or neighbours.max() >= Z):
            raise ValueError(f"neighbours must lie in [0, {Z - 1}]")
        rows = np.arange(Z)[:, None]
        moved = neighbours != rows
        if not np.all(np.isfinite(self.distance_km[rows, neighbours][moved])):
            raise ValueError("distance_km must be finite between neighbours")
        set_(self, "neighbours", np.ascontiguousarray(neighbours, dtype=np.int64))
        zone_ids = np.asarray(self.zone_ids).reshape(-1)
        if zone_ids.shape != (Z,):
            raise ValueError(f"zone_ids must have {Z} entries, got {zone_ids.shape}")
        set_(self, "zone_ids", zone_ids.astype(np.int64))

    @property
    def n_zones(self) -> int:
        """``Z``."""
        return self.demand.shape[1]

    @property
    def horizon(self) -> int:
        """``T``, the rows of the demand table."""
        return self.demand.shape[0]


def _profile(hours) -> np.ndarray:
    """Daily demand profile (ours): a base level, a morning and an evening peak."""
    hours = np.asarray(hours, dtype=float)
    return (0.5 + 0.8 * np.exp(-0.5 * ((hours - 8.5) / 1.2) ** 2)
            + 1.0 * np.exp(-0.5 * ((hours - 18.5) / 1.5) ** 2))


def synthetic_city(n_zones: int = N_ZONES, *, horizon: int = HORIZON,
                   step_minutes: float = STEP_MINUTES, start_hour: float = START_HOUR,
                   max_degree: int = MAX_DEGREE, rng=None) -> City:
    r"""A random city: jittered grid of zones, busy centre, gravity-model trips.

    Zones sit on a ``ceil(sqrt(Z))``-wide grid (row-major, the last row may be
    partial) with spacing 2 km, each centre jittered uniformly by up to 30% of
    the spacing.  Neighbours: the grid's 4-neighbourhood.  A ride of
    Euclidean length :math:`e` has length :math:`\ell = 1.3 e` (detour; a ride
    inside a zone :math:`1.3 \times 1` km), travel time :math:`4 + 60 \ell / 18`
    minutes (pickup plus 18 km/h) and fare :math:`3 + 1.75 \ell` dollars.
    Demand per step (clock hour :math:`h_t`):

    .. math::

        D_t(z) = 1000\,\frac{\text{profile}(h_t)}{\overline{\text{profile}}}\,
                 \frac{g_z \eta_{tz}}{\sum_{z'} g_{z'}},\qquad
        g_z = 0.15 + e^{-\|c_z - c_0\|^2 / (2 \cdot 3^2)},

    with the profile :math:`0.5 + 0.8 e^{-(h - 8.5)^2/(2 \cdot 1.2^2)}
    + e^{-(h - 18.5)^2 / (2 \cdot 1.5^2)}` (morning and evening peaks),
    :math:`c_0` the city centre and lognormal noise :math:`\eta` (sd 0.2).
    Destinations by a gravity model,
    :math:`o(z, z') \propto g_{z'} e^{-\ell(z, z') / 4}`.

    Parameters
    ----------
    n_zones : int, default 25
    horizon : int, default 12
    step_minutes : float, default 30
    start_hour : float, default 15.0
        Clock time of step 0 (hours).
    max_degree : int, default 4
        Relocation moves per zone (the grid gives at most 4).
    rng : numpy.random.Generator or int, optional
        Source of the jitter and the demand noise.

    Returns
    -------
    City
    """
    rng = np.random.default_rng(rng)
    Z = int(n_zones)
    if Z < 1:
        raise ValueError(f"n_zones must be >= 1, got {n_zones}")
    width = int(math.ceil(math.sqrt(Z)))
    row, col = np.divmod(np.arange(Z), width)
    coords = np.stack([col, row], axis=1) * ZONE_SPACING_KM
    coords = coords + rng.uniform(-JITTER, JITTER, size=(Z, 2)) * ZONE_SPACING_KM
    centre = coords.mean(axis=0)
    euclid = np.linalg.norm(coords[:, None] - coords[None], axis=-1)
    np.fill_diagonal(euclid, 1.0)
    distance = DETOUR * euclid
    minutes = PICKUP_MINUTES + 60.0 * distance / SPEED_KMH
    fare = BASE_FARE + FARE_PER_KM * distance

    grid = -np.ones((row.max() + 1, width), dtype=np.int64)
    grid[row, col] = np.arange(Z)
    neighbours = np.tile(np.arange(Z)[:, None], (1, max_degree))
    for z in range(Z):
        found = []
        for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1)):
            r, c = row[z] + dr, col[z] + dc
            if 0 <= r < grid.shape[0] and 0 <= c < width and grid[r, c] >= 0:
                found.append(grid[r, c])
        found = found[:max_degree]
        neighbours[z, :len(found)] = found

    attraction = 0.15 + np.exp(-np.sum((coords - centre) ** 2, axis=1) / (2 * 3.0 ** 2))
    hours = start_hour + np.arange(horizon) * step_minutes / 60.0
    profile = _profile(hours) / _profile(np.linspace(0, 24, 97)).mean()
    noise = rng.lognormal(0.0, 0.2, size=(horizon, Z))
    demand = MEAN_DEMAND * profile[:, None] * attraction[None] / attraction.sum() * noise
    od = attraction[None] * np.exp(-distance / 4.0)
    od /= od.sum(axis=1, keepdims=True)
    return City(demand=demand, od=od, fare=fare, distance_km=distance,
                travel_minutes=minutes, neighbours=neighbours, zone_ids=np.arange(Z),
                coords=coords, source="synthetic")


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
    from tabmfirl.envs import _check_builder_args

    if weights is not None:
        weights = np.asarray(weights, dtype=float)
        if weights.ndim != 2 or weights.shape[1] != 3:
            raise ValueError(f"weights must have shape (K, 3), got {weights.shape}")
        weights = _check_builder_args(types, dynamics, DYNAMICS, TYPE_WEIGHTS, weights,
                                      "weights")
        weights = np.asarray(weights).reshape(-1, 3)
    else:
        weights = np.asarray(_check_builder_args(types, dynamics, DYNAMICS, TYPE_WEIGHTS,
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


def _unpack(params) -> dict:
    """The arrays packed into a taxi game's ``params`` (see :func:`make`)."""
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
    tables = _unpack(spec.params)
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
    from tabmfirl.envs import taxi_data

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
