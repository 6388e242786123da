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

from tabmfirl import RewardHead, envs
from tabmfirl.apps._errors import CommandError
from tabmfirl.apps._taxi_study import (
    COLUMNS,
    STUDY_METHODS,
    add_parser,
    learned_surge_game,
    run_taxi_study,
    write_taxi_study,
)
from tabmfirl.envs import taxi
from tabmfirl.envs.taxi import SurgeRule, surge_games
from tabmfirl.evaluation._learned_game import learned_game

SURGE = SurgeRule(factor=1.5, n_zones=3, n_steps=2)
SMALL = {"n_agents": 60, "max_iter": 20, "temperature": 0.2, "backend": "numba"}


def _city():
    return taxi.synthetic_city(9, horizon=6, rng=1)


@pytest.fixture(scope="module")
def study():
    return run_taxi_study(seed=0, city=_city(), surge=SURGE, **SMALL)


def test_study_table_is_complete_and_consistent(study):
    names = ["truth", "true-fixed", "pemmfirl_em", "mfirl", "oracle"]
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
    assert args.handler is not None and ",".join(STUDY_METHODS) == parser.parse_args(
        ["taxi-study"]).methods
    args = parser.parse_args(["taxi-study", "--methods", "nope"])
    with pytest.raises(CommandError, match="methods"):
        args.handler(args)


@pytest.mark.parametrize("kind", ["linear", "mlp"])
def test_learned_surge_reward_adds_the_same_fare_income(kind):
    """f(s, a, mu) + Delta: the learned game's surge reward minus the plain learned
    reward equals the true surge reward minus the true reward at q' (w^f = 1)."""
    spec = taxi.make(types=3, data=_city(), horizon=6)
    games = surge_games(spec, SURGE)
    head = RewardHead(spec.n_states, spec.n_actions, spec.mean_field_dim, n_contexts=2,
                      kind=kind, hidden_sizes=(4,), seed=np.random.default_rng(0))
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
