"""tabmfirl.check_policy / check_mean_field / check_reward: exact verdicts on outside arrays.

The verdicts are compared with the package's own definitions computed independently
here (exploitability at beta and at 0, the sup-norm distances), exact inputs must pass
and planted-wrong ones must be flagged on the type where the error was planted.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tabmfirl
from tabmfirl import (
    check_mean_field,
    check_policy,
    check_reward,
    exploitability,
    forward_mean_field,
    solve_equilibrium,
)
from tabmfirl.envs import virus
from tabmfirl.testing.strategies import games

BETA = 0.5


@pytest.fixture(scope="module")
def game():
    spec = virus.make(types=3, horizon=6)
    return spec, solve_equilibrium(spec, temperature=BETA, backend="numpy")


def _planted_policy(expert, m=1, t=2):
    """The exact policy with type ``m``'s rows at step ``t`` replaced by (0.9, 0.1)."""
    policy = expert.policy.copy()
    policy[m, t] = [0.9, 0.1]
    return policy


def test_exact_policy_passes_with_zero_distances(game):
    spec, expert = game
    report = check_policy(spec, expert.policy, temperature=BETA, expert=expert,
                          mean_field=expert.mean_field, backend="numpy")
    assert report.passed and report.kind == "policy"
    per = report.per_type
    assert np.all(np.abs(per["exploitability"]) < 1e-10)          # >= 0 by theory: two-sided
    assert np.all(per["residual"] < 1e-8)
    # rows are renormalised by their sums (module docstring): equal up to rounding
    assert np.all(per["policy_distance"] < 1e-14) and np.all(per["mean_field_distance"] < 1e-14)
    assert np.all(np.abs(per["policy_deviation"]) < 1e-13)
    assert np.all(per["flow_error"] < 1e-14)
    # the regularised equilibrium is not a Nash equilibrium of the unregularised game
    assert np.all(per["unregularised_exploitability"] > 1e-3)


def test_planted_wrong_policy_is_flagged_on_its_type(game):
    spec, expert = game
    policy = _planted_policy(expert, m=1)
    report = check_policy(spec, policy, temperature=BETA, expert=expert, backend="numpy")
    assert not report.passed
    per = report.per_type
    assert per["exploitability"][1] > 1e-3 and per["residual"][1] > 0.1
    assert per["policy_distance"][1] == pytest.approx(np.abs(policy - expert.policy)[1].max())
    others = [0, 2]                            # untouched types: still exact (no coupling)
    assert np.all(np.abs(per["exploitability"][others]) < 1e-10)
    assert np.all(per["policy_distance"][others] < 1e-14)


def test_policy_numbers_match_their_definitions(game):
    """Each reported number recomputed from the public functions it is defined by."""
    spec, expert = game
    rng = np.random.default_rng(3)
    policy = rng.dirichlet(np.ones(2), size=(3, 6, 2))
    report = check_policy(spec, policy, temperature=BETA, expert=expert, backend="numpy")
    np.testing.assert_allclose(report.per_type["exploitability"],
                               exploitability(spec, policy, temperature=BETA, backend="numpy"),
                               rtol=0, atol=1e-13)
    np.testing.assert_allclose(report.per_type["unregularised_exploitability"],
                               exploitability(spec, policy, temperature=0.0, backend="numpy"),
                               rtol=0, atol=1e-13)
    best = tabmfirl.best_response(spec, policy, temperature=BETA, backend="numpy").policy
    np.testing.assert_allclose(report.per_type["residual"],
                               np.abs(best - policy).max(axis=(1, 2, 3)), rtol=0, atol=1e-15)
    flow = forward_mean_field(spec, policy, backend="numpy").mean_field
    np.testing.assert_allclose(report.per_type["mean_field_distance"],
                               np.abs(flow - expert.mean_field).max(axis=(1, 2)), rtol=0,
                               atol=1e-15)


def test_shared_policy_and_mean_field(game):
    spec, expert = game
    shared = np.full((6, 2, 2), 0.5)           # (T, S, A): every type's policy
    report = check_policy(spec, shared, temperature=BETA, expert=expert, backend="numpy")
    assert report.per_type["exploitability"].shape == (3,) and not report.passed


def test_exact_flow_passes_and_a_wrong_flow_is_flagged(game):
    spec, expert = game
    exact = check_mean_field(spec, expert.mean_field, temperature=BETA, expert=expert,
                             backend="numpy")
    assert exact.passed
    assert np.all(exact.per_type["residual"] < 1e-8)
    assert np.all(np.abs(exact.per_type["exploitability"]) < 1e-10)
    wrong = expert.mean_field.copy()
    wrong[2, 3] = [0.5, 0.5]
    report = check_mean_field(spec, wrong, temperature=BETA, expert=expert, backend="numpy")
    assert not report.passed
    assert report.per_type["residual"][2] > 1e-2
    assert report.per_type["mean_field_distance"][2] == pytest.approx(
        np.abs(wrong - expert.mean_field)[2].max())
    assert np.all(report.per_type["residual"][:2] < 1e-8)


def test_true_reward_passes_and_a_planted_wrong_reward_is_flagged(game):
    spec, expert = game
    true_tables = expert.model.reward                  # the true reward along the exact flow
    exact = check_reward(spec, true_tables, temperature=BETA, expert=expert, backend="numpy")
    assert exact.passed
    assert np.all(np.abs(exact.per_type["expert_exploitability"]) < 1e-10)
    assert np.all(exact.per_type["policy_deviation"] < 1e-12)
    wrong = true_tables.copy()
    wrong[0, :, :, 1] += 1.0                           # type 0 now likes action 1 much more
    report = check_reward(spec, wrong, temperature=BETA, expert=expert, backend="numpy")
    assert not report.passed
    per = report.per_type
    assert per["expert_exploitability"][0] > 1e-2 and per["policy_deviation"][0] > 1e-2
    assert np.all(np.abs(per["expert_exploitability"][1:]) < 1e-10)
    # the experts' exploitability in the learned game, recomputed from its definition
    learned = spec.replace(reward=wrong)
    np.testing.assert_allclose(per["expert_exploitability"],
                               exploitability(learned, expert.policy, temperature=BETA,
                                              backend="numpy"), rtol=0, atol=1e-13)


def test_one_shared_reward_and_type_map(game):
    spec, expert = game
    tables = expert.model.reward
    shared = check_reward(spec, tables[:1], temperature=BETA, expert=expert, backend="numpy")
    assert shared.per_type["expert_exploitability"][0] < 1e-10       # type 0's own reward
    assert shared.per_type["expert_exploitability"][2] > 1e-3
    mapped = check_reward(spec, tables[[2, 0, 1]], type_map=[1, 2, 0], temperature=BETA,
                          expert=expert, backend="numpy")
    assert mapped.passed


@pytest.mark.parametrize("mutate, message", [
    (lambda p: p[:2], "has 2 types but the game has 3"),
    (lambda p: p[..., :1], "must have shape"),
    (lambda p: np.where(np.arange(p.size).reshape(p.shape) == 5, np.nan, p),
     "non-finite entry"),
    (lambda p: p * 1.01, "rows must sum to 1"),
    (lambda p: np.concatenate([p[..., :1] + 0.5, p[..., 1:] - 0.5], axis=-1),
     "negative probability"),
    (lambda p: p.astype(str), "numeric array"),
])
def test_bad_policy_is_one_line_error(game, mutate, message):
    spec, expert = game
    with pytest.raises(ValueError, match=message) as info:
        check_policy(spec, mutate(expert.policy), temperature=BETA, expert=expert,
                     backend="numpy")
    assert "\n" not in str(info.value)


def test_float32_rows_are_accepted_and_renormalised(game):
    """Another library's float32 policy: rows sum to 1 only to ~1e-7."""
    spec, expert = game
    report = check_policy(spec, expert.policy.astype(np.float32), temperature=BETA,
                          expert=expert, backend="numpy")
    assert report.passed and 0 <= report.row_error < 1e-6
    with pytest.raises(ValueError, match="rows must sum to 1"):
        check_policy(spec, expert.policy.astype(np.float32), temperature=BETA, expert=expert,
                     row_tol=1e-12, backend="numpy")


@pytest.mark.parametrize("mutate, message", [
    (lambda r: r[:2], "has 2 types but the game has 3"),
    (lambda r: r[:, :3], r"must have shape \(K, T, S, A\)"),
    (lambda r: np.full_like(r, np.inf), "non-finite entry"),
])
def test_bad_reward_is_one_line_error(game, mutate, message):
    spec, expert = game
    with pytest.raises(ValueError, match=message):
        check_reward(spec, mutate(expert.model.reward), temperature=BETA, expert=expert,
                     backend="numpy")


def test_bad_flow_is_one_line_error(game):
    spec, expert = game
    with pytest.raises(ValueError, match="rows must sum to 1"):
        check_mean_field(spec, expert.mean_field * 2, temperature=BETA, expert=expert,
                         backend="numpy")
    with pytest.raises(ValueError, match="has 1 types but the game has 3"):
        check_mean_field(spec, expert.mean_field[:1], temperature=BETA, expert=expert,
                         backend="numpy")


def test_report_to_dict_is_json():
    import json

    spec = virus.make(types=2, horizon=3)
    report = check_policy(spec, np.full((3, 2, 2), 0.5), temperature=1.0, backend="numpy")
    summary = json.loads(json.dumps(report.to_dict()))
    assert summary["passed"] is False and summary["types"] == 2
    assert summary["max"]["exploitability"] == max(summary["per_type"]["exploitability"])


def test_report_prints_a_table_and_the_verdict(game):
    spec, expert = game
    failed = str(check_policy(spec, _planted_policy(expert, m=1), temperature=BETA,
                              expert=expert, backend="numpy"))
    lines = failed.splitlines()
    assert lines[0].startswith("check policy of virus (3 types")
    assert lines[1].split() == ["type", "0", "type", "1", "type", "2"]
    assert lines[-1].startswith("FAIL: type 1 has exploitability")
    passed = str(check_policy(spec, expert.policy, temperature=BETA, expert=expert,
                              backend="numpy"))
    assert passed.splitlines()[-1] == "PASS: every type's exploitability <= 1e-06"
    assert len(failed) < 2000     # not the dataclass repr with every array


@given(spec=games(max_states=5, max_actions=3, max_horizon=5, coupling="weak",
                  per_type_dynamics=True, observations=("mixture", "all_types")),
       seed=st.integers(0, 2**31 - 1))
def test_property_exact_passes_and_any_other_policy_is_scored_exactly(spec, seed):
    """On random games: the certified equilibrium passes; a random policy's reported
    exploitabilities are >= 0 (two-sided bounds against the definition) and its residual
    is the sup distance to its own best response."""
    expert = solve_equilibrium(spec, temperature=1.0, backend="numpy")
    assert expert.converged
    exact = check_policy(spec, expert.policy, temperature=1.0, expert=expert, backend="numpy")
    assert exact.passed and np.all(np.abs(exact.per_type["exploitability"]) < 1e-9)
    rng = np.random.default_rng(seed)
    K, T, S, A = spec.n_contexts, spec.horizon, spec.n_states, spec.n_actions
    policy = rng.dirichlet(np.ones(A), size=(K, T, S))
    report = check_policy(spec, policy, temperature=1.0, expert=expert, backend="numpy")
    reference = exploitability(spec, policy, temperature=1.0, backend="numpy")
    assert np.all(report.per_type["exploitability"] >= -1e-12)
    np.testing.assert_allclose(report.per_type["exploitability"], reference, rtol=0,
                               atol=1e-12)
    assert np.all(report.per_type["unregularised_exploitability"] >= -1e-12)
    assert np.all((report.per_type["residual"] >= 0) & (report.per_type["residual"] <= 1))
    assert report.passed == bool(np.all(reference <= 1e-6))


def test_unregularised_verdict_reads_the_unregularised_exploitability(game):
    """The regularised equilibrium is no Nash equilibrium of the unregularised game: it
    passes the default verdict and fails the unregularised one."""
    spec, expert = game
    report = check_policy(spec, expert.policy, temperature=BETA, expert=expert,
                          verdict="unregularised", backend="numpy")
    assert report.verdict_on == "unregularised_exploitability" and not report.passed
    assert report.passed == bool(np.all(report.per_type["unregularised_exploitability"] <= 1e-6))
    loose = check_policy(spec, expert.policy, temperature=BETA, expert=expert, tol=10.0,
                         verdict="unregularised", backend="numpy")
    assert loose.passed
    with pytest.raises(ValueError, match="verdict must be one of"):
        check_policy(spec, expert.policy, temperature=BETA, verdict="hard", backend="numpy")
