r"""Trip-record tables for the taxi game: load, validate, aggregate.

Reads a table of taxi trips, one row a trip, in the common public layout (the
NYC TLC trip records and their simple-named equivalents) and aggregates it into
the tables :mod:`tabmfirl.envs.taxi` needs.  Only the standard library's
:mod:`csv` and :mod:`datetime` and NumPy are used; Parquet files are read only
when ``pyarrow`` is importable (it is not a dependency).

Columns (header names; the first column found of each row wins)
---------------------------------------------------------------
===============  ===========================================  ==================
field            accepted names                               required
===============  ===========================================  ==================
pickup time      ``tpep_pickup_datetime``,                    yes
                 ``lpep_pickup_datetime``, ``pickup_datetime``,
                 ``pickup_time``
pickup zone      ``PULocationID``, ``pickup_zone``            yes
dropoff zone     ``DOLocationID``, ``dropoff_zone``           yes
fare             ``fare_amount``, ``fare``                    yes
distance         ``trip_distance``, ``distance``              yes
dropoff time     ``tpep_dropoff_datetime``, ...,              no
                 ``dropoff_time``
===============  ===========================================  ==================

Names match case-insensitively.  Times are ISO (``2024-01-15 08:30:00``,
``2024-01-15T08:30``) or US style (``01/15/2024 08:30:00 AM``).  Zones are
integer ids.  Distances are in miles for the TLC layout (``trip_distance``)
and in km for the simple one, unless ``distance_unit`` says otherwise.

Bad rows are skipped, never fatal, and counted by reason in
:attr:`TripData.report`: ``wrong_field_count``, ``bad_time`` (unparseable
pickup or dropoff time), ``unknown_zone`` (not an integer, or not in
``zones``), ``not_a_number`` (empty, unparseable, NaN or infinite fare or
distance), ``negative`` (negative fare, distance or duration), ``too_long``
(a ride longer than ``max_minutes``, 240 by default: clock errors).  A file with no
header, a missing column or no valid row raises :class:`ValueError`.

Aggregates
----------
* ``demand[t, z]``: pickups in zone ``z`` during step ``t`` (steps of
  ``step_minutes`` from ``start_hour``), averaged over the days present.
  Observed pickups are served rides, a lower bound on requests.  Rows outside
  the window are valid but do not count in the demand (``report.outside_window``).
* ``od[z, z']``: share of rides from ``z`` that end in ``z'`` (all valid rows).
* ``fare``, ``distance_km``: mean per OD pair (NaN where no ride).
* ``travel_minutes``: mean ride duration per OD pair from the dropoff times
  when present, else ``4 + 60 * distance / speed_kmh`` (NaN where no ride).

:func:`city_from_trips` turns these into a :class:`tabmfirl.envs.taxi.City`;
``taxi.make(data=path)`` does both.
"""
from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from .taxi_city import (
    HORIZON,
    MAX_DEGREE,
    PICKUP_MINUTES,
    SPEED_KMH,
    START_HOUR,
    STEP_MINUTES,
    City,
)

KM_PER_MILE = 1.609344

#: Accepted column names of each field (lower case).
COLUMNS = {
    "pickup_time": ("tpep_pickup_datetime", "lpep_pickup_datetime", "pickup_datetime",
                    "pickup_time"),
    "pickup_zone": ("pulocationid", "pickup_zone"),
    "dropoff_zone": ("dolocationid", "dropoff_zone"),
    "fare": ("fare_amount", "fare"),
    "distance": ("trip_distance", "distance"),
}
OPTIONAL_COLUMNS = {
    "dropoff_time": ("tpep_dropoff_datetime", "lpep_dropoff_datetime", "dropoff_datetime",
                     "dropoff_time"),
}
#: Reasons a row is skipped.
REASONS = ("wrong_field_count", "bad_time", "unknown_zone", "not_a_number", "negative",
           "too_long")
_TIME_FORMATS = ("%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M")


@dataclass
class TripReport:
    """What :func:`load_trips` read, used and skipped.

    Attributes
    ----------
    source : str
    n_rows : int
        Data rows read (header excluded).
    n_used : int
        Valid rows (aggregated into ``od``, ``fare``, ...).
    outside_window : int
        Valid rows whose pickup falls outside the game's steps (not in ``demand``).
    skipped : dict
        Rows skipped per reason (see :data:`REASONS`).
    examples : list of (int, str, str)
        The first few skipped rows: (line number, reason, detail).
    n_days : int
        Distinct pickup dates in the window (the demand is averaged over them).
    """

    source: str
    n_rows: int = 0
    n_used: int = 0
    outside_window: int = 0
    skipped: dict = field(default_factory=lambda: {reason: 0 for reason in REASONS})
    examples: list = field(default_factory=list)
    n_days: int = 0

    @property
    def n_skipped(self) -> int:
        """Rows skipped for any reason."""
        return sum(self.skipped.values())

    def summary(self) -> str:
        """One line: rows read, used, skipped by reason."""
        reasons = ", ".join(f"{k} {v}" for k, v in self.skipped.items() if v)
        return (f"{self.source}: {self.n_rows} rows, {self.n_used} used "
                f"({self.outside_window} outside the time window), {self.n_skipped} skipped"
                + (f" ({reasons})" if reasons else ""))


@dataclass(frozen=True, eq=False)
class TripData:
    """Tables aggregated from trip records (see the module docstring).

    Attributes
    ----------
    zone_ids : ndarray of int, shape (Z,)
        Zone id of each index.
    demand : ndarray, shape (T, Z)
    od : ndarray, shape (Z, Z)
    counts : ndarray of int, shape (Z, Z)
        Rides per OD pair.
    fare, distance_km, travel_minutes : ndarray, shape (Z, Z)
    step_minutes, start_hour : float
    report : TripReport
    """

    zone_ids: np.ndarray
    demand: np.ndarray
    od: np.ndarray
    counts: np.ndarray
    fare: np.ndarray
    distance_km: np.ndarray
    travel_minutes: np.ndarray
    step_minutes: float
    start_hour: float
    report: TripReport

    @property
    def horizon(self) -> int:
        """``T``."""
        return self.demand.shape[0]


def _find_columns(header, source):
    """Map each field to its column index; ValueError naming what is missing."""
    names = [h.strip().lower().lstrip("\ufeff") for h in header]
    found, missing = {}, []
    for key, aliases in list(COLUMNS.items()) + list(OPTIONAL_COLUMNS.items()):
        index = next((names.index(a) for a in aliases if a in names), None)
        if index is None:
            if key in COLUMNS:
                missing.append(f"{key} (one of {', '.join(aliases)})")
        else:
            found[key] = index
    if missing:
        raise ValueError(f"{source}: missing column(s): {'; '.join(missing)}; "
                         f"header is {header!r}")
    return found


def _parse_time(value):
    if isinstance(value, datetime):
        return value
    text = str(value).strip()
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    for fmt in _TIME_FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None


def _parse_zone(value):
    try:
        number = float(str(value).strip())
    except ValueError:
        return None
    if not math.isfinite(number) or number != int(number):
        return None
    return int(number)


def _parse_number(value):
    if value is None:
        return None
    try:
        number = float(str(value).strip())
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _rows(path, source):
    """(header, iterator of (line number, fields)) of a CSV or Parquet file."""
    if str(path).lower().endswith(".parquet"):
        try:
            import pyarrow.parquet as pq  # optional: only Parquet files need it
        except ImportError:
            raise ValueError(f"{source}: reading Parquet needs pyarrow, which is not installed; "
                             "convert the file to CSV") from None
        table = pq.read_table(path)
        header = list(table.column_names)
        columns = [table.column(i).to_pylist() for i in range(len(header))]
        return header, ((i + 2, list(row)) for i, row in enumerate(zip(*columns)))
    handle = open(path, newline="", encoding="utf-8")
    reader = csv.reader(handle)
    try:
        header = next(reader)
    except StopIteration:
        handle.close()
        raise ValueError(f"{source}: the file is empty (no header row)") from None
    if not any(h.strip() for h in header):
        handle.close()
        raise ValueError(f"{source}: the header row is blank")

    def lines():
        with handle:
            for fields in reader:
                if fields and any(f.strip() for f in fields):
                    yield reader.line_num, fields
    return header, lines()


def _row_parser(columns, width, known, to_km, speed_kmh, max_minutes):
    """``parse(fields)``: ``(trip, None)`` with ``trip = (pickup, origin, destination, fare,
    km, minutes)``, or ``(None, (reason, detail))`` for a row to skip (module docstring).

    ``known``: the set of valid zone ids, or None for any.  A closure over the
    column indices: it runs once per row of files of millions of rows.
    """
    pickup_at, origin_at, destination_at = (columns["pickup_time"], columns["pickup_zone"],
                                            columns["dropoff_zone"])
    fare_at, distance_at = columns["fare"], columns["distance"]
    dropoff_at = columns.get("dropoff_time")

    def parse(fields):
        if len(fields) != width:
            return None, ("wrong_field_count", f"{len(fields)} fields, header has {width}")
        pickup = _parse_time(fields[pickup_at])
        if pickup is None:
            return None, ("bad_time", f"pickup time {fields[pickup_at]!r}")
        duration = None
        if dropoff_at is not None:
            dropoff = _parse_time(fields[dropoff_at])
            if dropoff is None:
                return None, ("bad_time", f"dropoff time {fields[dropoff_at]!r}")
            duration = (dropoff - pickup).total_seconds() / 60.0
        origin = _parse_zone(fields[origin_at])
        destination = _parse_zone(fields[destination_at])
        if origin is None or destination is None or (
                known is not None and (origin not in known or destination not in known)):
            return None, ("unknown_zone", f"zones {fields[origin_at]!r} -> "
                                          f"{fields[destination_at]!r}")
        fare = _parse_number(fields[fare_at])
        distance = _parse_number(fields[distance_at])
        if fare is None or distance is None:
            return None, ("not_a_number", f"fare {fields[fare_at]!r}, "
                                          f"distance {fields[distance_at]!r}")
        if fare < 0 or distance < 0 or (duration is not None and duration < 0):
            return None, ("negative", f"fare {fare}, distance {distance}, duration {duration}")
        if duration is not None and duration > max_minutes:
            return None, ("too_long", f"duration {duration:.0f} min")
        minutes = (PICKUP_MINUTES + 60.0 * distance * to_km / speed_kmh
                   if duration is None else duration)
        return (pickup, origin, destination, fare, distance * to_km, minutes), None

    return parse


def _distance_factor(header, columns, distance_unit):
    """Kilometres per unit of the distance column (miles for TLC's ``trip_distance``)."""
    if distance_unit is None:
        tlc = header[columns["distance"]].strip().lower() == "trip_distance"
        distance_unit = "mile" if tlc else "km"
    if distance_unit not in ("mile", "km"):
        raise ValueError(f"distance_unit must be 'mile' or 'km', got {distance_unit!r}")
    return KM_PER_MILE if distance_unit == "mile" else 1.0


def _read_trips(rows, parse, report, max_examples):
    """The valid trips of ``rows`` (``parse``: :func:`_row_parser`) as six columns; skipped
    rows counted in ``report``."""
    trips = []
    for line, fields in rows:
        report.n_rows += 1
        trip, skipped = parse(fields)
        if trip is None:
            reason, detail = skipped
            report.skipped[reason] += 1
            if len(report.examples) < max_examples:
                report.examples.append((line, reason, detail))
            continue
        trips.append(trip)
    report.n_used = len(trips)
    return [list(column) for column in zip(*trips)] if trips else [[] for _ in range(6)]


def _pair_tables(origins, destinations, values, zone_ids):
    """Index arrays ``o, d``, ride counts per OD pair, ``od`` shares, and the per-pair mean
    of each of ``values`` (NaN where no ride)."""
    index = {int(z): i for i, z in enumerate(zone_ids)}
    Z = zone_ids.size
    o = np.array([index[z] for z in origins], dtype=np.int64)
    d = np.array([index[z] for z in destinations], dtype=np.int64)
    counts = np.zeros((Z, Z), dtype=np.int64)
    np.add.at(counts, (o, d), 1)
    means = []
    for value in values:
        total = np.zeros((Z, Z))
        np.add.at(total, (o, d), np.asarray(value, dtype=float))
        with np.errstate(invalid="ignore", divide="ignore"):
            means.append(np.where(counts > 0, total / np.maximum(counts, 1), np.nan))
    rides = counts.sum(axis=1, keepdims=True)
    od = np.where(rides > 0, counts / np.maximum(rides, 1), 0.0)
    return o, counts, od, means


def _demand_table(pickups, origin_index, n_zones, horizon, step_minutes, start_hour, report):
    """Pickups per step and zone in the window, averaged over the days present."""
    demand = np.zeros((int(horizon), n_zones))
    days = set()
    for pickup, origin in zip(pickups, origin_index):
        elapsed = (pickup.hour * 60 + pickup.minute + pickup.second / 60.0
                   - start_hour * 60.0)
        step = int(elapsed // step_minutes)
        if 0 <= step < horizon:
            demand[step, origin] += 1.0
            days.add(pickup.date())
        else:
            report.outside_window += 1
    report.n_days = len(days)
    if days:
        demand /= len(days)
    return demand


def load_trips(path, *, zones=None, horizon: int = HORIZON,
               step_minutes: float = STEP_MINUTES, start_hour: float = START_HOUR,
               distance_unit: str = None, speed_kmh: float = SPEED_KMH,
               max_minutes: float = 240.0, max_examples: int = 5) -> TripData:
    """Read a trip-record table and aggregate it (see the module docstring).

    Parameters
    ----------
    path : str or os.PathLike
        A CSV file (or ``.parquet`` when pyarrow is installed).
    zones : sequence of int, optional
        The valid zone ids, in index order; rows with other zones are skipped
        (``unknown_zone``).  Default: every integer id seen in a valid row,
        sorted.
    horizon : int, default 12
        Steps of the demand table.
    step_minutes : float, default 30
    start_hour : float, default 15.0
        Clock time of step 0 (hours since midnight).
    distance_unit : {"mile", "km"}, optional
        Default: miles for the TLC ``trip_distance`` column, km otherwise.
    speed_kmh : float, default 18
        Speed used for travel times when there is no dropoff time.
    max_minutes : float, default 240
        Longest plausible ride; longer ones are skipped (``too_long``).
    max_examples : int, default 5
        Skipped rows kept in ``report.examples``.

    Returns
    -------
    TripData

    Raises
    ------
    ValueError
        Empty file, missing column, Parquet without pyarrow, or no valid row.
    """
    source = os.fspath(path)
    header, rows = _rows(path, source)
    columns = _find_columns(header, source)
    to_km = _distance_factor(header, columns, distance_unit)
    zones = None if zones is None else [int(z) for z in zones]
    parse = _row_parser(columns, len(header), None if zones is None else set(zones), to_km,
                        speed_kmh, max_minutes)
    report = TripReport(source=source)
    pickups, origins, destinations, fares, kms, minutes = _read_trips(rows, parse, report,
                                                                      max_examples)
    if not pickups:
        raise ValueError(f"{source}: no valid trip rows; {report.summary()}")
    zone_ids = np.array(sorted(set(origins) | set(destinations)) if zones is None
                        else zones, dtype=np.int64)
    o, counts, od, (fare, distance_km, travel_minutes) = _pair_tables(
        origins, destinations, (fares, kms, minutes), zone_ids)
    demand = _demand_table(pickups, o, zone_ids.size, horizon, step_minutes, start_hour,
                           report)
    return TripData(zone_ids=zone_ids, demand=demand, od=od, counts=counts, fare=fare,
                    distance_km=distance_km, travel_minutes=travel_minutes,
                    step_minutes=float(step_minutes), start_hour=float(start_hour),
                    report=report)


def city_from_trips(trips: TripData, *, max_degree: int = MAX_DEGREE) -> City:
    """A :class:`~tabmfirl.envs.taxi.City` from aggregated trip tables.

    Trip records carry no zone geometry, so the relocation graph is built from
    the rides: the neighbours of ``z`` are the ``max_degree`` other zones with
    the shortest mean travel time between them (both directions averaged,
    pairs without rides excluded), padded with ``z`` itself; the relocation
    distance is the mean ride distance of the pair.

    Parameters
    ----------
    trips : TripData
    max_degree : int, default 4

    Returns
    -------
    City
    """
    Z = trips.zone_ids.size

    def symmetric(table):
        both = np.stack([table, table.T])
        seen = np.isfinite(both)
        total = np.where(seen, both, 0.0).sum(axis=0)
        n = seen.sum(axis=0)
        return np.where(n > 0, total / np.maximum(n, 1), np.nan)

    minutes, km = symmetric(trips.travel_minutes), symmetric(trips.distance_km)
    neighbours = np.tile(np.arange(Z)[:, None], (1, max_degree))
    for z in range(Z):
        candidates = [(minutes[z, y], y) for y in range(Z)
                      if y != z and np.isfinite(minutes[z, y]) and np.isfinite(km[z, y])]
        chosen = [y for _, y in sorted(candidates)[:max_degree]]
        neighbours[z, :len(chosen)] = chosen
    if trips.demand.sum() <= 0:
        raise ValueError(
            f"{trips.report.source}: no pickup falls in the {trips.horizon} steps of "
            f"{trips.step_minutes:g} minutes from {trips.start_hour:g} h; "
            f"{trips.report.summary()}")
    # ride distances stay as measured; a neighbour pair seen in one direction only
    # gets the other direction's distance for relocations
    distance = np.where(np.isfinite(trips.distance_km), trips.distance_km, km)
    return City(demand=trips.demand, od=trips.od, fare=trips.fare, distance_km=distance,
                travel_minutes=trips.travel_minutes, neighbours=neighbours,
                zone_ids=trips.zone_ids, source=trips.report.source)
