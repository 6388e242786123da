"""The taxi study (issue 8, item 3): surge counterfactual with learned rewards.

Small city (9 zones, 6 steps), 60 drivers per type, 20 fit iterations: the
whole study runs in a few seconds once the kernels are compiled.  Whether the
oracle beats MFIRL on the counterfactual is *not* asserted: at this size the
ordering depends on the seed (docs/results.md, "Taxi study", has the numbers
of the default run); only structural facts and exact identities are tested.
"""
import argparse
import json

import numpy as np
import pytest

from tabmfirl import envs, solve_equilibrium
from tabmfirl.apps._taxi_study import (COLUMNS, SurgeRule, add_parser, run_taxi_study,
                                  surge_games, taxi_outcomes, write_taxi_study)
from tabmfirl.envs import taxi

SURGE = SurgeRule(factor=1.5, n_zones=3, n_steps=2)
SMALL = {"n_agents": 60, "max_iter": 20, "temperature": 0.2, "backend": "numba"}


def _city():
    return taxi.synthetic_city(9, horizon=6, rng=1)


@pytest.fixture(scope="module")
def study():
    return run_taxi_study(seed=0, city=_city(), surge=SURGE, **SMALL)


def test_surge_table_marks_the_busiest_cells():
    demand = np.array([[1.0, 5.0, 2.0], [3.0, 9.0, 1.0], [0.5, 0.5, 0.5]])
    g = SurgeRule(factor=2.0, n_zones=1, n_steps=2).table(demand)
    # busiest steps: 1 (13) and 0 (8); busiest zone over them: 1 (14)
    np.testing.assert_array_equal(g, [[1, 2, 1], [1, 2, 1], [1, 1, 1]])
    with pytest.raises(ValueError, match="driver_share"):
        SurgeRule(driver_share=1.5)
    with pytest.raises(ValueError, match="n_zones"):
        SurgeRule(n_zones=0)


def test_no_surge_outcomes_match_ride_statistics():
    spec = taxi.make(types=3, data=_city(), horizon=6)
    eq = solve_equilibrium(spec, backend="numba", **envs.solver_settings("taxi"))
    stats = taxi.ride_statistics(spec, eq.mean_field, eq.policy)
    out = taxi_outcomes(spec, eq.mean_field, eq.policy)
    np.testing.assert_allclose(out["revenue"], stats["revenue"].sum(axis=1), rtol=1e-12, atol=0)
    np.testing.assert_allclose(out["rides"], stats["rides"].sum(axis=1), rtol=1e-12, atol=0)
    demand = taxi._unpack(spec.params)["demand"]
    np.testing.assert_allclose(out["served"],
                               100 * (stats["served"] * demand.sum(axis=1)).sum(axis=1)
                               / demand.sum(), rtol=1e-12, atol=0)


def test_factor_one_surge_is_the_original_game():
    spec = taxi.make(types=3, data=_city(), horizon=6)
    games = surge_games(spec, SurgeRule(factor=1.0, n_zones=3, n_steps=2))
    T, Z = spec.horizon, spec.info["n_zones"]
    settings = envs.solver_settings("taxi")
    base = solve_equilibrium(spec, backend="numba", **settings)
    for name in ("true", "fixed"):
        other = solve_equilibrium(games[name], backend="numba", **settings)
        np.testing.assert_allclose(other.mean_field, base.mean_field, rtol=0, atol=1e-12)
    assert games["g"].shape == (T, Z)


def test_surge_lowers_matching_and_adds_fare_income():
    """Hand-derived: at a surge cell, q' = q with d scaled by g^-eps, and the true
    reward gains kappa (g - 1) q' m_p fbar (w^f = 1)."""
    spec = taxi.make(types=1, data=_city(), horizon=6)
    games = surge_games(spec, SURGE)
    g = games["g"]
    t, z = np.argwhere(g != 1.0)[0]
    tables = taxi._unpack(spec.params)
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


def test_study_table_is_complete_and_consistent(study):
    names = ["truth", "true-fixed", "pemmfirl", "mfirl", "oracle"]
    assert [r["method"] for r in study.rows] == [n for n in names for _ in range(3)]
    assert all(set(r) == set(COLUMNS) for r in study.rows)
    truth = [r for r in study.rows if r["method"] == "truth"]
    assert all(r["revenue_error"] == 0 and r["served_error"] == 0 for r in truth)
    # a 1.5x surge paid to drivers raises the truth's fare income, and fewer
    # passengers accept the higher prices
    assert all(r["revenue_change"] > 0 for r in truth)
    assert all(r["served_change"] < 0 for r in truth)
    for r in study.rows:
        assert np.isfinite([r[c] for c in COLUMNS[3:-1]]).all()
    assert study.summary["mfirl"]["type_map"] == [0, 0, 0]
    assert study.summary["oracle"]["ari"] == pytest.approx(1.0)
    assert study.density["truth"].shape == (3, 9)
    np.testing.assert_allclose(study.density["truth"].sum(axis=1), 1.0, rtol=0, atol=1e-9)
    # the oracle and true-fixed rows start from the true equilibrium's "before"
    fixed = [r for r in study.rows if r["method"] == "true-fixed"]
    np.testing.assert_allclose([r["revenue_before"] for r in fixed],
                               [r["revenue_before"] for r in truth], rtol=0, atol=0)


def test_study_is_deterministic_by_seed(study):
    again = run_taxi_study(seed=0, city=_city(), surge=SURGE, methods=("mfirl",), **SMALL)
    mine = [r for r in study.rows if r["method"] in ("truth", "true-fixed", "mfirl")]
    assert [dict(r) for r in again.rows] == [dict(r) for r in mine]


def test_outputs_written(study, tmp_path):
    paths = write_taxi_study(study, tmp_path / "out")
    for key in ("csv", "markdown", "json", "density", "profit"):
        assert paths[key].exists() and paths[key].stat().st_size > 100
    lines = paths["csv"].read_text().splitlines()
    assert lines[0].split(",") == list(COLUMNS) and len(lines) == 1 + len(study.rows)
    assert json.loads(paths["json"].read_text())["surge"]["factor"] == 1.5
    assert paths["markdown"].read_text().startswith("| method | type |")


def test_bad_arguments():
    with pytest.raises(ValueError, match="methods"):
        run_taxi_study(methods=("airl",), city=_city(), **SMALL)
    with pytest.raises(ValueError, match="temperature"):
        run_taxi_study(city=_city(), **dict(SMALL, temperature=0.0))
    with pytest.raises(ValueError, match="taxi game"):
        surge_games(envs.make("virus"), SURGE)


def test_cli_parser(capsys):
    parser = argparse.ArgumentParser(prog="tabmfirl")
    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["taxi-study", "--agents", "10", "--methods", "mfirl",
                              "--out", "x", "--json"])
    assert (args.agents, args.methods, args.out, args.json) == (10, "mfirl", "x", True)
    with pytest.raises(SystemExit):
        parser.parse_args(["taxi-study", "--help"])
    assert "examples:" in capsys.readouterr().out
    from tabmfirl.apps.cli import CommandError

    args = parser.parse_args(["taxi-study", "--methods", "nope"])
    with pytest.raises(CommandError, match="methods"):
        args.handler(args)


@pytest.mark.parametrize("kind", ["linear", "mlp"])
def test_learned_surge_reward_adds_the_same_fare_income(kind):
    """f(s, a, mu) + Delta: the learned game's surge reward minus the plain learned
    reward equals the true surge reward minus the true reward at q' (w^f = 1)."""
    from tabmfirl.irl._learner import make_head
    from tabmfirl.evaluation._metrics import learned_game
    from tabmfirl.apps._taxi_study import learned_surge_game

    spec = taxi.make(types=3, data=_city(), horizon=6)
    games = surge_games(spec, SURGE)
    head = make_head(spec, 2, kind, (4,), np.random.default_rng(0))
    head.set_flat(np.random.default_rng(1).normal(size=head.get_flat().size))
    type_map = np.array([1, 0, 1])
    plain = learned_game(games["dynamics"], head, type_map)
    surged = learned_surge_game(games["dynamics"], head, type_map)
    mu = np.random.default_rng(2).dirichlet(np.ones(spec.n_states))
    shape = (spec.n_states, spec.n_actions)
    for t in range(spec.horizon):
        for m in range(3):
            got, base, true, at_q = (np.zeros(shape) for _ in range(4))
            surged.reward(t, mu, m, surged.params, got)
            plain.reward(t, mu, m, plain.params, base)
            games["true"].reward(t, mu, m, games["true"].params, true)
            games["dynamics"].reward(t, mu, m, games["dynamics"].params, at_q)
            np.testing.assert_allclose(got - base, true - at_q, rtol=1e-12, atol=1e-12)
            if not (games["g"][t] != 1).any():
                np.testing.assert_allclose(got, base, rtol=0, atol=0)


def test_fixed_reference_is_the_pre_surge_reward_plus_the_income():
    spec = taxi.make(types=3, data=_city(), horizon=6)
    games = surge_games(spec, SURGE)
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
