r"""The city of the taxi game: zones, trip statistics and a synthetic generator.

:class:`City` holds what :func:`tabmfirl.envs.taxi.make` needs to know about a
city (demand per zone and step, origin-destination shares, fares, distances,
travel times, the relocation graph); :func:`synthetic_city` draws one (the
taxi game's default) and :func:`tabmfirl.envs.taxi_data.city_from_trips`
builds one from trip records.  The time grid (``HORIZON`` steps of
``STEP_MINUTES`` from ``START_HOUR``) and the synthetic city's constants
(ours; NYC-like orders of magnitude) are defined here, once, and re-exported
by :mod:`tabmfirl.envs.taxi`.  This module imports neither the game nor the
trip-record loader, so both can import it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

__all__ = ["City", "synthetic_city", "N_ZONES", "HORIZON", "STEP_MINUTES", "START_HOUR",
           "MAX_DEGREE", "ZONE_SPACING_KM", "JITTER", "DETOUR", "SPEED_KMH", "PICKUP_MINUTES",
           "BASE_FARE", "FARE_PER_KM", "MEAN_DEMAND"]

#: Zones of the default synthetic city.
N_ZONES = 25
#: Steps of the default day window (15:00-21:00 in steps of 30 minutes).
HORIZON = 12
STEP_MINUTES = 30.0
#: Clock time of step 0 (hours).
START_HOUR = 15.0
#: Relocation moves per zone besides "stay" (missing neighbours padded with "stay").
MAX_DEGREE = 4

# synthetic city constants (ours; NYC-like orders of magnitude)
ZONE_SPACING_KM = 2.0
JITTER = 0.3
DETOUR = 1.3
SPEED_KMH = 18.0
PICKUP_MINUTES = 4.0
BASE_FARE = 3.0
FARE_PER_KM = 1.75
MEAN_DEMAND = 1000.0


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
