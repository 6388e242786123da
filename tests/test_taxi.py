"""The taxi pricing game: hand-derived tables, equilibria, city generator, trip loader.

Hand-derived values follow the equations of the ``tabmfirl.envs.taxi`` module
docstring; the arithmetic is in the comments.  Tables are read through
:func:`tabmfirl.evaluate_step`, i.e. what the solvers see.
"""
import csv
import time

import numba
import numpy as np
import pytest

import tabmfirl
from tabmfirl import envs
from tabmfirl.envs import taxi, taxi_data


# ------------------------------------------------------------ a tiny 3-zone city
def tiny_city():
    """Zones 0 - 1 - 2 on a line; two steps of demand."""
    return taxi.City(
        # mean demand per step Dbar = (3 + 3) / 2 = 3, so d_0 = (2/3, 1/3, 0), d_1 = (1/3,) * 3
        demand=[[2.0, 1.0, 0.0], [1.0, 1.0, 1.0]],
        # with k = 2: zone 0 keeps 0, 1 -> (0.5, 0.3) / 0.8 = (0.625, 0.375);
        # zone 1 keeps 0, 2 -> (0.6, 0.4); zone 2 keeps 0 -> 1, padded with itself (prob 0)
        od=[[0.5, 0.3, 0.2], [0.6, 0.0, 0.4], [1.0, 0.0, 0.0]],
        fare=[[10.0, 20.0, 30.0], [20.0, 10.0, 30.0], [40.0, 30.0, 10.0]],
        distance_km=[[1.0, 2.0, 3.0], [2.0, 1.0, 2.0], [3.0, 2.0, 1.0]],
        travel_minutes=[[10.0, 40.0, 70.0], [40.0, 10.0, 40.0], [70.0, 40.0, 10.0]],
        neighbours=[[1, 0], [0, 2], [1, 2]], zone_ids=[0, 1, 2])


def tiny_game(**kwargs):
    # R = 2 busy statuses: S = 3 * 3 = 9; moves (stay + 2) x prices (1, 2): A = 6; W = k + 2 = 4
    options = dict(data=tiny_city(), horizon=2, max_trip_steps=2, top_destinations=2,
                   prices=(1.0, 2.0), elasticity=1.0, supply_ratio=2.0, max_match=0.8,
                   weights=[[1.0, 0.5, 0.1]])
    options.update(kwargs)
    return taxi.make(**options)


def dense_rows(spec, P):
    """Dense ``(S, A, S)`` transition of context 0 from the sparse evaluated rows."""
    model = tabmfirl.EvaluatedModel(P[:1], np.zeros((1, 1), dtype=int),
                                    np.zeros((1, 1, spec.n_states, spec.n_actions)),
                                    spec.next_states)
    return model.dense_transition()[0, 0]


# idle shares nu = (0.2, 0.1, 0.3) in zones 0..2, the rest busy
MEAN_FIELD = np.array([[0.2, 0.1, 0.3, 0.1, 0.1, 0.0, 0.0, 0.2, 0.0]])


def test_tiny_city_shapes_and_mu0():
    spec = tiny_game()
    assert (spec.n_states, spec.n_actions, spec.transition_width) == (9, 6, 4)
    # mu0: idle, spread like d_0 = (2/3, 1/3, 0)
    np.testing.assert_allclose(spec.mu0, [2 / 3, 1 / 3, 0, 0, 0, 0, 0, 0, 0], rtol=0,
                               atol=1e-15)
    assert taxi.state_index(1, 2, 3) == 7 and taxi.action_index(1, 0, 2) == 2


def test_tiny_city_transitions_by_hand():
    spec = tiny_game()
    P, _ = tabmfirl.evaluate_step(spec, 0, MEAN_FIELD)
    dense = dense_rows(spec, P)
    # zone 0, price 1 (e = 1): q = 0.8 * (2/3) / (2/3 + 2 * 0.2) = 0.8 * 10/16 = 0.5.
    # move 1 goes to neighbour zone 1 (action 1 * 2 + 0 = 2).  Matched: ride to 0 (10 min ->
    # 1 busy step, state 1*3 + 0 = 3) w.p. 0.5 * 0.625 = 0.3125, to 1 (40 min -> 2 steps,
    # state 2*3 + 1 = 7) w.p. 0.5 * 0.375 = 0.1875; not matched: idle in zone 1 w.p. 0.5.
    np.testing.assert_allclose(dense[0, 2], [0, 0.5, 0, 0.3125, 0, 0, 0, 0.1875, 0],
                               rtol=0, atol=1e-15)
    # zone 0, stay, price 2 (e = 1/2): accept = (2/3)/2 = 1/3, q = 0.8 * (1/3) / (1/3 + 0.4)
    # = 0.8 * 5/11 = 4/11; stays idle in 0 w.p. 7/11.
    q = 4 / 11
    np.testing.assert_allclose(dense[0, 1], [1 - q, 0, 0, 0.625 * q, 0, 0, 0, 0.375 * q, 0],
                               rtol=0, atol=1e-15)
    # zone 2 has no demand at t = 0: q = 0, the move always happens (move 1 -> zone 1).
    np.testing.assert_allclose(dense[2, 2], np.eye(9)[1], rtol=0, atol=1e-15)
    # busy: (zone 1, 2 left) = 7 -> (zone 1, 1 left) = 4 -> idle zone 1 = 1, whatever the action
    np.testing.assert_allclose(dense[7], np.tile(np.eye(9)[4], (6, 1)), rtol=0, atol=1e-15)
    np.testing.assert_allclose(dense[4], np.tile(np.eye(9)[1], (6, 1)), rtol=0, atol=1e-15)
    # t = 1: zone 2 has demand d = 1/3 and idle share 0.3: q = 0.8 * (1/3) / (1/3 + 0.6)
    # = 0.8 * 5/14 = 2/7; its only destination is zone 0 (70 min -> 3 steps, capped at
    # R = 2: state 2*3 + 0 = 6).
    P1, _ = tabmfirl.evaluate_step(spec, 1, MEAN_FIELD)
    row = dense_rows(spec, P1)[2, 0]
    np.testing.assert_allclose(row, 2 / 7 * np.eye(9)[6] + 5 / 7 * np.eye(9)[2], rtol=0,
                               atol=1e-15)


def test_tiny_city_variant_dynamics():
    # sigma = 0.7: the unmatched driver of zone 0 (q = 0.5) reaches zone 1 w.p.
    # 0.5 * 0.7 = 0.35 and stays w.p. 0.5 * 0.3 = 0.15; rides 1.5 x longer: 10 -> 15 min
    # (1 step), 40 -> 60 min (2 steps): the same busy states.
    spec = tiny_game(dynamics="variant")
    P, _ = tabmfirl.evaluate_step(spec, 0, MEAN_FIELD)
    np.testing.assert_allclose(dense_rows(spec, P)[0, 2],
                               [0.15, 0.35, 0, 0.3125, 0, 0, 0, 0.1875, 0], rtol=0, atol=1e-15)


def test_tiny_city_rewards_by_hand():
    spec = tiny_game(weights=[[1.0, 0.5, 0.1], [2.0, 0.0, 0.0]])
    _, R = tabmfirl.evaluate_step(spec, 0, np.tile(MEAN_FIELD, (2, 1)))
    # expected fare from zone 0: 0.625 * $10 + 0.375 * $20 = $13.75 = 1.375 units of $10;
    # expected ride length 0.625 * 1 + 0.375 * 2 = 1.375 km; zone 0 -> 1 is 2 km.
    # type 0, move 1, price 1 (q = 0.5):
    #   0.5 * (1 * 1 * 1.375 - 0.1 * 1.375) - 0.5 * (0.5 + 0.1 * 2) = 0.61875 - 0.35
    assert R[0, 0, 2] == pytest.approx(0.26875, abs=1e-14)
    # type 0, stay, price 2 (q = 4/11): (4/11)(2 * 1.375 - 0.1375) - (7/11)(0.5 + 0) = 6.95/11
    assert R[0, 0, 1] == pytest.approx(6.95 / 11, abs=1e-14)
    # type 1 (fare weight 2, no costs), same action: (4/11) * 2 * 2 * 1.375 = 22/11 = 2
    assert R[1, 0, 1] == pytest.approx(2.0, abs=1e-14)
    # zone 2 at t = 0 (no demand), move 1 to zone 1 (2 km): -(0.5 + 0.1 * 2) = -0.7
    assert R[0, 2, 2] == pytest.approx(-0.7, abs=1e-14)
    # busy states earn nothing
    np.testing.assert_allclose(R[:, 3:], 0.0, rtol=0, atol=0)


def test_ride_statistics_by_hand():
    spec = tiny_game()
    mu = np.tile(spec.mu0, (1, 3, 1))                  # idle (2/3, 1/3, 0) at every step
    policy = np.full((1, 2, 9, 6), 1 / 6)
    policy[:, :, :3] = np.eye(6)[0]                     # idle drivers: stay, price 1
    stats = taxi.ride_statistics(spec, mu, policy)
    # t = 0: zone 0: q = 0.8 (2/3) / (2/3 + 2 * 2/3) = 4/15; zone 1: 0.8 (1/3) / (1/3 + 2/3)
    # = 4/15.  rides = (2/3 + 1/3) 4/15; revenue = 4/15 (2/3 * $13.75 + 1/3 * $24), with
    # zone 1's expected fare 0.6 * $20 + 0.4 * $30 = $24; served = rho * rides / sum d_0
    # = 2 * 4/15 / 1.
    assert stats["rides"][0, 0] == pytest.approx(4 / 15, abs=1e-14)
    assert stats["revenue"][0, 0] == pytest.approx(4 / 15 * (2 / 3 * 13.75 + 8), abs=1e-12)
    assert stats["served"][0, 0] == pytest.approx(8 / 15, abs=1e-14)
    np.testing.assert_allclose(stats["idle"], 1.0, rtol=0, atol=1e-15)
    np.testing.assert_allclose(stats["mean_price"], 1.0, rtol=0, atol=1e-15)
    with pytest.raises(ValueError, match="needs a taxi game"):
        taxi.ride_statistics(envs.make("virus"), mu, policy)


# ------------------------------------------------------------------ default game
@pytest.fixture(scope="module")
def equilibrium():
    spec = envs.make("taxi")
    return spec, tabmfirl.solve_equilibrium(spec, backend="numba", tol=1e-10,
                                            **envs.solver_settings("taxi"))


def test_default_game_size():
    spec = taxi.make(types=1)
    # 25 zones x (idle + 2 busy statuses), (stay + 4 moves) x 3 prices, 12 steps
    assert (spec.n_states, spec.n_actions, spec.horizon, spec.transition_width) == (75, 15, 12, 7)
    assert spec.info["dynamics"] == "original" and spec.n_contexts == 1


def test_default_game_solves(equilibrium):
    spec, result = equilibrium
    assert result.converged and result.num_iter < 200
    np.testing.assert_allclose(result.exploitability, 0.0, rtol=0, atol=1e-8)
    if numba.config.DISABLE_JIT:
        return  # pure-Python coverage run: the solve takes minutes, not timed
    # once compiled, a solve takes about 0.2-0.5 s here (measured; see docs/games.md)
    start = time.perf_counter()
    tabmfirl.solve_equilibrium(spec, backend="numba", **envs.solver_settings("taxi"))
    assert time.perf_counter() - start < 5.0  # generous: the machine is shared


def test_types_equilibria_differ(equilibrium):
    spec, result = equilibrium
    Z, K, T = spec.info["n_zones"], spec.n_contexts, spec.horizon
    idle = result.mean_field[:, :-1, :Z]                       # (K, T, Z)
    pi = result.policy[:, :, :Z].reshape(K, T, Z, 5, 3)        # (K, T, Z, move, price)
    weight = idle / idle.sum(axis=(1, 2), keepdims=True)
    low_price = np.einsum("ktz,ktz->k", weight, pi[..., 0].sum(-1))
    stay = np.einsum("ktz,ktz->k", weight, pi[:, :, :, 0].sum(-1))
    # type 1 (idle cost 1.0) undercuts most, type 2 (idle cost 0.1) least
    # (measured: 0.29, 0.39, 0.25)
    assert low_price[1] > low_price[0] + 0.05 and low_price[0] > low_price[2] + 0.02
    # type 2 (driving costs 0.3/km) relocates least (measured stay: 0.23, 0.19, 0.56)
    assert stay[2] > max(stay[0], stay[1]) + 0.2
    stats = taxi.ride_statistics(spec, result.mean_field, result.policy)
    assert np.all((stats["served"] > 0) & (stats["served"] < 1))
    # the type that undercuts charges the lowest mean price
    assert stats["mean_price"][1] < min(stats["mean_price"][0], stats["mean_price"][2])


def test_small_game_backends_agree():
    spec = taxi.make(n_zones=4, horizon=4, seed=3)
    settings = envs.solver_settings("taxi")
    results = [tabmfirl.solve_equilibrium(spec, backend=b, **settings)
               for b in ("numpy", "numba")]
    assert all(r.converged for r in results)
    np.testing.assert_allclose(results[0].policy, results[1].policy, rtol=0, atol=1e-9)
    np.testing.assert_allclose(results[0].mean_field, results[1].mean_field, rtol=0, atol=1e-9)


def test_population_shares_couple_the_types():
    # every type competes with the whole fleet: type m observes sum_m' w_m' mu(.|m')
    spec = taxi.make(n_zones=4, horizon=4, seed=3, population_shares=[0.5, 0.3, 0.2])
    np.testing.assert_allclose(spec.context_coupling, np.tile([0.5, 0.3, 0.2], (3, 1)),
                               rtol=0, atol=0)
    result = tabmfirl.solve_equilibrium(spec, backend="numba", **envs.solver_settings("taxi"))
    assert result.converged
    np.testing.assert_allclose(result.exploitability, 0.0, rtol=0, atol=1e-8)


# --------------------------------------------------------------- city generator
def test_synthetic_city_is_seeded_and_sane():
    a = taxi.synthetic_city(10, horizon=6, rng=1)
    b = taxi.synthetic_city(10, horizon=6, rng=np.random.default_rng(1))
    c = taxi.synthetic_city(10, horizon=6, rng=2)
    np.testing.assert_array_equal(a.demand, b.demand)
    assert not np.array_equal(a.demand, c.demand)
    assert a.demand.shape == (6, 10) and np.all(a.demand > 0)
    np.testing.assert_allclose(a.od.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    # 10 zones on a 4-wide grid: zone 0 (corner) has neighbours 4 (below) and 1 (right)
    assert sorted(set(a.neighbours[0]) - {0}) == [1, 4]
    # neighbour graph is symmetric
    for z in range(10):
        for y in a.neighbours[z]:
            assert z in a.neighbours[y] or y == z
    # the centre is busier than the corners (demand summed over the day)
    total = a.demand.sum(axis=0)
    centre = np.argmin(np.linalg.norm(a.coords - a.coords.mean(axis=0), axis=1))
    assert total[centre] > total[[0, 3]].max()


def test_builder_errors():
    with pytest.raises(ValueError, match="weights must have shape"):
        taxi.make(weights=[1.0, 0.5])
    with pytest.raises(ValueError, match="dynamics must be one of"):
        taxi.make(dynamics="rainy")
    with pytest.raises(ValueError, match="prices"):
        taxi.make(prices=[1.0, -1.0])
    with pytest.raises(ValueError, match="demand table has 2 steps"):
        taxi.make(data=tiny_city(), horizon=3)
    with pytest.raises(ValueError, match="od rows must sum to 1"):
        taxi.City(demand=[[1.0]], od=[[0.5]], fare=[[1.0]], distance_km=[[1.0]],
                  travel_minutes=[[1.0]], neighbours=[[0]], zone_ids=[0])


# ------------------------------------------------------------------ trip loader
TLC_HEADER = ["VendorID", "tpep_pickup_datetime", "tpep_dropoff_datetime", "PULocationID",
              "DOLocationID", "trip_distance", "fare_amount"]
TLC_ROWS = [
    # good rows (zones 1, 2, 3 -> indices 0, 1, 2; window 08:00-10:00, steps of 60 min)
    [1, "2024-01-01 08:10:00", "2024-01-01 08:30:00", 1, 2, 2.0, 10.0],   # step 0, 20 min
    [1, "2024-01-01 08:50:00", "2024-01-01 09:20:00", 1, 2, 3.0, 14.0],   # step 0, 30 min
    [2, "2024-01-01T09:05:00", "2024-01-01T09:15:00", 2, 1, 1.0, 8.0],    # step 1 (ISO T)
    [2, "01/02/2024 08:30:00 AM", "01/02/2024 08:40:00 AM", 1, 1, 0.5, 5.0],  # day 2, US
    [1, "2024-01-02 11:00:00", "2024-01-02 11:30:00", 2, 3, 5.0, 20.0],   # outside window
    # bad rows
    [1, "yesterday", "2024-01-01 08:30:00", 1, 2, 2.0, 10.0],             # bad_time
    [1, "2024-01-01 08:10:00", "not a time", 1, 2, 2.0, 10.0],            # bad_time
    [1, "2024-01-01 08:10:00", "2024-01-01 08:30:00", 99, 2, 2.0, 10.0],  # unknown_zone
    [1, "2024-01-01 08:10:00", "2024-01-01 08:30:00", "abc", 2, 2.0, 10.0],  # unknown_zone
    [1, "2024-01-01 08:10:00", "2024-01-01 08:30:00", 1, 2, 2.0, -5.0],   # negative
    [1, "2024-01-01 08:10:00", "2024-01-01 08:00:00", 1, 2, 2.0, 5.0],    # negative duration
    [1, "2024-01-01 08:10:00", "2024-01-01 08:30:00", 1, 2, "nan", 10.0],  # not_a_number
    [1, "2024-01-01 08:10:00", "2024-01-01 08:30:00", 1, 2, 2.0, ""],     # not_a_number
    [1, "2024-01-01 08:10:00", "2024-01-01 08:30:00", 1],                 # wrong_field_count
    [1, "2024-01-01 08:10:00", "2024-01-02 08:30:00", 1, 2, 2.0, 10.0],   # too_long (1 day)
]
WINDOW = dict(horizon=2, start_hour=8.0, step_minutes=60.0)


def write_csv(path, header, rows):
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_loader_tlc_layout(tmp_path):
    path = write_csv(tmp_path / "yellow.csv", TLC_HEADER, TLC_ROWS)
    trips = taxi_data.load_trips(path, zones=[1, 2, 3], **WINDOW)
    report = trips.report
    assert (report.n_rows, report.n_used, report.outside_window, report.n_days) == (15, 5, 1, 2)
    assert report.skipped == {"wrong_field_count": 1, "bad_time": 2, "unknown_zone": 2,
                              "not_a_number": 2, "negative": 2, "too_long": 1}
    assert report.examples[0][:2] == (7, "bad_time")  # header is line 1
    assert "10 skipped" in report.summary()
    np.testing.assert_array_equal(trips.zone_ids, [1, 2, 3])
    # step 0: zone 1 has 2 pickups on Jan 1 and 1 on Jan 2 -> 3 / 2 days = 1.5;
    # step 1: zone 2 has 1 pickup -> 0.5
    np.testing.assert_allclose(trips.demand, [[1.5, 0, 0], [0, 0.5, 0]], rtol=0, atol=1e-15)
    # OD (all valid rows, window or not): 1->2 twice, 1->1 once, 2->1 once, 2->3 once
    np.testing.assert_array_equal(trips.counts, [[1, 2, 0], [1, 0, 1], [0, 0, 0]])
    np.testing.assert_allclose(trips.od, [[1 / 3, 2 / 3, 0], [0.5, 0, 0.5], [0, 0, 0]],
                               rtol=0, atol=1e-15)
    # 1->2: fares 10, 14 -> 12; distances 2, 3 miles -> 2.5 * 1.609344 km; 20, 30 min -> 25
    assert trips.fare[0, 1] == pytest.approx(12.0)
    assert trips.distance_km[0, 1] == pytest.approx(2.5 * 1.609344)
    assert trips.travel_minutes[0, 1] == pytest.approx(25.0)
    assert np.isnan(trips.fare[2, 0])

    # the game built from the tables: zone 3 has no rides out and no demand
    spec = taxi.make(types=1, data=trips, **WINDOW)
    assert spec.n_states == 3 * 3 and spec.info["zone_ids"] == [1, 2, 3]
    result = tabmfirl.solve_equilibrium(spec, backend="numba", **envs.solver_settings("taxi"))
    assert result.converged


def test_loader_default_zones_and_city(tmp_path):
    path = write_csv(tmp_path / "yellow.csv", TLC_HEADER, TLC_ROWS)
    trips = taxi_data.load_trips(path, **WINDOW)
    # without a zone list, 99 is a valid zone: one more row used, zone ids 1, 2, 3, 99
    assert trips.report.skipped["unknown_zone"] == 1 and trips.report.n_used == 6
    np.testing.assert_array_equal(trips.zone_ids, [1, 2, 3, 99])
    city = taxi_data.city_from_trips(trips, max_degree=2)
    # mean travel times (both directions averaged): ids 1-2: (25 + 10)/2 = 17.5,
    # 99-2: 20 (one way), 2-3: 30.  Id 1 (index 0) meets only id 2, padded with itself;
    # id 2 (index 1): nearest 1 (17.5) and 99 (20), not 3 (30).
    assert city.neighbours[0].tolist() == [1, 0]
    assert city.neighbours[1].tolist() == [0, 3]
    # zone 3 (index 2) was only reached from 2: its one neighbour is 2, padded with itself
    assert city.neighbours[2].tolist() == [1, 2]
    # relocation 3 -> 2 uses the 2 -> 3 ride distance (5 miles)
    assert city.distance_km[2, 1] == pytest.approx(5 * 1.609344)
    # make(data=path) loads the file the same way (all four zones)
    spec = taxi.make(types=1, data=path, **WINDOW)
    assert spec.info["zone_ids"] == [1, 2, 3, 99] and spec.info["source"] == str(path)


def test_loader_simple_layout(tmp_path):
    rows = [
        ["2024-03-01 15:10", 0, 1, 12.5, 3.6],    # km; 4 + 60 * 3.6 / 18 = 16 min
        ["2024-03-01 15:40", 1, 0, 7.5, 1.8],     # step 1; 4 + 6 = 10 min
        ["2024-03-01 15:45", 1, 0, "NaN", 1.8],   # not_a_number
        ["2024-03-01 25:99", 1, 0, 7.5, 1.8],     # bad_time
        ["2024-03-01 15:45", 1, 0, 7.5, -1.0],    # negative
    ]
    path = write_csv(tmp_path / "trips.csv",
                     ["pickup_time", "pickup_zone", "dropoff_zone", "fare", "distance"], rows)
    trips = taxi_data.load_trips(path, horizon=4)
    assert trips.report.n_used == 2 and trips.report.n_skipped == 3
    assert trips.report.skipped["not_a_number"] == 1 and trips.report.skipped["bad_time"] == 1
    np.testing.assert_allclose(trips.demand[:2], [[1, 0], [0, 1]], rtol=0, atol=0)
    assert trips.distance_km[0, 1] == pytest.approx(3.6)
    assert trips.travel_minutes[0, 1] == pytest.approx(16.0)
    assert trips.travel_minutes[1, 0] == pytest.approx(10.0)
    spec = taxi.make(types=2, data=trips, horizon=4)
    assert spec.n_states == 2 * 3 and spec.info["source"] == str(path)


@pytest.mark.parametrize("content, match", [
    ("", "empty"),
    ("pickup_time,pickup_zone,dropoff_zone,distance\n2024-01-01 15:00,1,2,3\n",
     r"missing column\(s\): fare \(one of fare_amount, fare\)"),
    ("pickup_time,pickup_zone,dropoff_zone,fare,distance\n", "no valid trip rows"),
    ("pickup_time,pickup_zone,dropoff_zone,fare,distance\nbad,1,2,3,4\n",
     "no valid trip rows.*bad_time 1"),
])
def test_loader_bad_files(tmp_path, content, match):
    path = tmp_path / "trips.csv"
    path.write_text(content)
    with pytest.raises(ValueError, match=match):
        taxi_data.load_trips(path)


def test_loader_window_without_pickups_and_parquet(tmp_path):
    path = write_csv(tmp_path / "night.csv",
                     ["pickup_time", "pickup_zone", "dropoff_zone", "fare", "distance"],
                     [["2024-03-01 03:00", 0, 1, 10, 2]])
    with pytest.raises(ValueError, match="no pickup falls in the 12 steps"):
        taxi.make(data=path)
    parquet = tmp_path / "trips.parquet"
    parquet.write_bytes(b"PAR1")
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        with pytest.raises(ValueError, match="needs pyarrow"):
            taxi_data.load_trips(parquet)


# ------------------------------------------------------------------ surge pricing
SURGE = taxi.SurgeRule(factor=1.5, n_zones=3, n_steps=2)


def surge_city():
    """9 zones, 6 steps: the city of the taxi study's tests."""
    return taxi.synthetic_city(9, horizon=6, rng=1)


def test_surge_table_marks_the_busiest_cells():
    demand = np.array([[1.0, 5.0, 2.0], [3.0, 9.0, 1.0], [0.5, 0.5, 0.5]])
    g = taxi.SurgeRule(factor=2.0, n_zones=1, n_steps=2).table(demand)
    # busiest steps: 1 (13) and 0 (8); busiest zone over them: 1 (14)
    np.testing.assert_array_equal(g, [[1, 2, 1], [1, 2, 1], [1, 1, 1]])
    with pytest.raises(ValueError, match="driver_share"):
        taxi.SurgeRule(driver_share=1.5)
    with pytest.raises(ValueError, match="n_zones"):
        taxi.SurgeRule(n_zones=0)


def test_no_surge_outcomes_match_ride_statistics():
    spec = taxi.make(types=3, data=surge_city(), horizon=6)
    eq = tabmfirl.solve_equilibrium(spec, backend="numba", **envs.solver_settings("taxi"))
    stats = taxi.ride_statistics(spec, eq.mean_field, eq.policy)
    out = taxi.surge_outcomes(spec, eq.mean_field, eq.policy)
    np.testing.assert_allclose(out["revenue"], stats["revenue"].sum(axis=1), rtol=1e-12, atol=0)
    np.testing.assert_allclose(out["rides"], stats["rides"].sum(axis=1), rtol=1e-12, atol=0)
    demand = taxi.unpack_params(spec.params)["demand"]
    np.testing.assert_allclose(out["served"],
                               100 * (stats["served"] * demand.sum(axis=1)).sum(axis=1)
                               / demand.sum(), rtol=1e-12, atol=0)


def test_factor_one_surge_is_the_original_game():
    spec = taxi.make(types=3, data=surge_city(), horizon=6)
    games = taxi.surge_games(spec, taxi.SurgeRule(factor=1.0, n_zones=3, n_steps=2))
    T, Z = spec.horizon, spec.info["n_zones"]
    settings = envs.solver_settings("taxi")
    base = tabmfirl.solve_equilibrium(spec, backend="numba", **settings)
    for name in ("true", "fixed"):
        other = tabmfirl.solve_equilibrium(games[name], backend="numba", **settings)
        np.testing.assert_allclose(other.mean_field, base.mean_field, rtol=0, atol=1e-12)
    assert games["g"].shape == (T, Z)


def test_surge_lowers_matching_and_adds_fare_income():
    """Hand-derived: at a surge cell, q' = q with d scaled by g^-eps, and the true
    reward gains kappa (g - 1) q' m_p fbar (w^f = 1)."""
    spec = taxi.make(types=1, data=surge_city(), horizon=6)
    games = taxi.surge_games(spec, SURGE)
    g = games["g"]
    t, z = np.argwhere(g != 1.0)[0]
    tables = taxi.unpack_params(spec.params)
    nu = spec.mu0.copy()
    price = 2
    m_p = tables["prices"][price]
    e_p = m_p ** -tables["elasticity"]
    d = tables["demand"][t, z] * 1.5 ** -tables["elasticity"]
    q = tables["max_match"] * e_p * d / (e_p * d + tables["supply_ratio"] * nu[z])
    w_f, w_i, w_d = tables["weights"][0]
    expected = (q * (w_f * m_p * tables["fare"][z] - w_d * tables["trip_km"][z])
                - (1 - q) * w_i + 1.0 * 0.5 * q * w_f * m_p * tables["fare"][z])
    out = np.zeros((spec.n_states, spec.n_actions))
    games["true"].reward(int(t), nu, 0, games["true"].params, out)
    a = taxi.action_index(0, price)
    np.testing.assert_allclose(out[z, a], expected, rtol=1e-12, atol=0)


def test_fixed_reference_is_the_pre_surge_reward_plus_the_income():
    spec = taxi.make(types=3, data=surge_city(), horizon=6)
    games = taxi.surge_games(spec, SURGE)
    mu = np.random.default_rng(3).dirichlet(np.ones(spec.n_states))
    shape = (spec.n_states, spec.n_actions)
    for t in range(spec.horizon):
        for m in range(3):
            fixed, before, true, at_q = (np.zeros(shape) for _ in range(4))
            games["fixed"].reward(t, mu, m, games["fixed"].params, fixed)
            spec.reward(t, mu, m, spec.params, before)
            games["true"].reward(t, mu, m, games["true"].params, true)
            games["dynamics"].reward(t, mu, m, games["dynamics"].params, at_q)
            np.testing.assert_allclose(fixed - before, true - at_q, rtol=1e-12, atol=1e-12)


def test_surge_income_is_zero_without_a_share_and_outside_the_surge():
    """``surge_income`` adds nothing when kappa = 0, nor at steps without a surge cell."""
    spec = taxi.make(types=1, data=surge_city(), horizon=6)
    mu = np.random.default_rng(4).dirichlet(np.ones(spec.n_states))
    shape = (spec.n_states, spec.n_actions)
    for share in (0.0, 1.0):
        games = taxi.surge_games(spec, taxi.SurgeRule(factor=1.5, n_zones=3, n_steps=2,
                                                      driver_share=share))
        for t in range(spec.horizon):
            out = np.zeros(shape)
            taxi.surge_income(t, mu, games["dynamics"].params, 1.0, out)
            if share == 0.0 or not (games["g"][t] != 1).any():
                np.testing.assert_array_equal(out, 0.0)
            else:
                assert (out[:9] > 0).any() and (out[:9] >= 0).all()
                np.testing.assert_array_equal(out[9:], 0.0)      # busy states earn no fare


def test_surge_outcomes_reject_bad_input():
    spec = taxi.make(types=1, data=surge_city(), horizon=6)
    K, T, S, A = 1, spec.horizon, spec.n_states, spec.n_actions
    mu, pi = np.full((K, T + 1, S), 1 / S), np.full((K, T, S, A), 1 / A)
    with pytest.raises(ValueError, match="surge_table"):
        taxi.surge_outcomes(spec, mu, pi, surge_table=np.ones((T, 3)))
    with pytest.raises(ValueError, match="policy"):
        taxi.surge_outcomes(spec, mu, pi[:, :2])
    with pytest.raises(ValueError, match="taxi game"):
        taxi.surge_outcomes(envs.make("virus"), mu, pi)
