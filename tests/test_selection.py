"""Tests of ``tabmfirl.select_settings``: settings chosen by cross-validated held-out
likelihood of held-out training agents (issue 15).

Planted case: demonstrations of two different types (rock-paper-scissors, switching
costs 0 and 0.5, horizon 8, 30 agents per type); one context (``n_contexts=1``) cannot
explain both, two can, so two must win by more than three paired standard errors
(measured: 1.05 nats per agent, paired s.e. 0.19).  The one-standard-error rule is
checked on constructed score tables; the folds on their own.
"""
import numpy as np
import pytest

from tabmfirl import (
    IRLResult,
    agent_folds,
    envs,
    fit_mfirl,
    fit_pemmfirl_em,
    generate_demonstrations,
    held_out_log_likelihood,
    select_settings,
    solve_equilibrium,
)
from tabmfirl.irl._selection import _one_se_choice, marginal_log_likelihood, subset

BETA = 0.1
FIT = {"temperature": BETA, "max_iter": 40, "n_warmup": 10, "learning_rate": 0.05,
       "warn": False, "init": "mixture"}


@pytest.fixture(scope="module")
def game():
    spec = envs.make("rock_paper_scissors", types=2, horizon=8)
    eq = solve_equilibrium(spec, temperature=BETA, backend="numpy")
    demos = generate_demonstrations(spec, eq.policy, 30, seed=4)
    return spec, demos


# ---------------------------------------------------------------------------
# Folds.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("n_agents,n_folds", [(10, 3), (60, 5), (7, 7), (2, 2)])
def test_folds_are_disjoint_cover_the_agents_and_balance(n_agents, n_folds):
    folds = agent_folds(n_agents, n_folds, seed=1)
    assert folds.shape == (n_agents,) and folds.dtype == np.int64
    # every agent in exactly one fold (a label per agent), every fold used
    assert set(folds.tolist()) == set(range(n_folds))
    sizes = np.bincount(folds, minlength=n_folds)
    assert sizes.sum() == n_agents
    assert sizes.max() - sizes.min() <= 1


def test_folds_are_seeded():
    np.testing.assert_array_equal(agent_folds(50, 5, seed=3), agent_folds(50, 5, seed=3))
    np.testing.assert_array_equal(agent_folds(50, 5, seed=np.random.default_rng(3)),
                                  agent_folds(50, 5, seed=3))
    assert not np.array_equal(agent_folds(50, 5, seed=3), agent_folds(50, 5, seed=4))


@pytest.mark.parametrize("n_agents,n_folds,match", [
    (10, 1, "n_folds"), (3, 4, "must not exceed"), (0, 2, "n_agents"), (10, 2.5, "n_folds")])
def test_folds_bad_input(n_agents, n_folds, match):
    with pytest.raises(ValueError, match=match):
        agent_folds(n_agents, n_folds, seed=0)


# ---------------------------------------------------------------------------
# The one-standard-error rule, on constructed scores.
# ---------------------------------------------------------------------------


def test_one_se_rule_prefers_the_first_of_the_ties():
    rng = np.random.default_rng(0)
    base = rng.normal(-20.0, 5.0, size=400)
    noise = rng.normal(0.0, 1.0, size=400)
    noise -= noise.mean()                       # exactly 0.01 better on average
    # candidate 1 is better on average by 0.01, far below its paired s.e. (~0.05)
    scores = np.stack([base, base + 0.01 + noise, base - 3.0])
    mean, best, diff, diff_se, chosen = _one_se_choice(scores)
    assert best == 1 and chosen == 0
    assert diff[1] == 0.0 and diff_se[1] == 0.0
    assert 0.0 < diff[0] < diff_se[0]
    # candidate 2 is worse by 3: never a tie
    assert diff[2] > 2.9 and diff[2] > 10 * diff_se[2]


def test_one_se_rule_picks_the_best_when_it_is_clearly_better():
    rng = np.random.default_rng(1)
    base = rng.normal(-20.0, 5.0, size=400)
    scores = np.stack([base, base + 1.0 + rng.normal(0.0, 1.0, size=400)])
    _, best, diff, diff_se, chosen = _one_se_choice(scores)
    assert best == 1 and chosen == 1 and diff[0] > 5 * diff_se[0]


# ---------------------------------------------------------------------------
# Scores and the selection on a planted case.
# ---------------------------------------------------------------------------


def test_marginal_log_likelihood_is_the_per_trajectory_held_out_score(game):
    spec, demos = game
    result = fit_pemmfirl_em(spec, subset(demos, np.arange(40)), 2, backend="numpy", **FIT)
    held = subset(demos, np.arange(40, 60))
    s = marginal_log_likelihood(spec, result, held, backend="numpy")
    assert s.shape == (20,)
    assert np.all(s <= 0.0) and np.all(s > -1e6)           # log-probabilities: two-sided
    np.testing.assert_allclose(s.mean(), held_out_log_likelihood(spec, result, held,
                                                                 backend="numpy"),
                               rtol=0, atol=1e-10)


def test_planted_case_two_contexts_chosen_over_one(game):
    spec, demos = game
    sel = select_settings(spec, demos, [{"n_contexts": 1}, {"n_contexts": 2}],
                          fit=fit_pemmfirl_em, n_folds=3, seed=0, backend="numpy", **FIT)
    assert sel.scores.shape == (2, demos.n_agents)
    assert np.all(sel.scores <= 0.0) and np.all(np.isfinite(sel.scores))
    assert sel.best == 1 and sel.chosen == 1 and sel.choice == {"n_contexts": 2}
    # two types this different: one context is worse by many paired standard errors
    assert sel.difference[0] > 3 * sel.difference_std_error[0]
    np.testing.assert_allclose(sel.mean, sel.scores.mean(axis=1), rtol=0, atol=1e-12)
    assert np.all(sel.std_error > 0)
    assert sel.converged.shape == (2, 3)


def test_selection_is_deterministic_under_a_seed_and_uses_held_out_agents(game):
    spec, demos = game
    seen = []

    def fit(spec, demos, **kwargs):
        seen.append(demos.n_agents)
        return fit_mfirl(spec, demos, **kwargs)

    kw = {k: v for k, v in FIT.items() if k not in ("n_warmup", "init")}
    candidates = [{"weight_decay": 1.0}, {"weight_decay": 0.0}]
    a = select_settings(spec, demos, candidates, fit=fit, n_folds=4, seed=7, backend="numpy",
                        **kw)
    b = select_settings(spec, demos, candidates, fit=fit, n_folds=4, seed=7, backend="numpy",
                        **kw)
    np.testing.assert_array_equal(a.scores, b.scores)
    np.testing.assert_array_equal(a.folds, agent_folds(demos.n_agents, 4, seed=7))
    # every fit saw the agents of the other folds only: N minus its fold's size
    sizes = np.bincount(a.folds)
    assert seen[:8] == [demos.n_agents - sizes[f] for _ in candidates for f in range(4)]
    # each agent's score is that of the fit that did not see it
    c, f = 1, 2
    held = np.flatnonzero(a.folds == f)
    result = fit_mfirl(spec, subset(demos, np.flatnonzero(a.folds != f)), seed=7,
                       backend="numpy", **kw, **candidates[c])
    np.testing.assert_allclose(a.scores[c, held],
                               marginal_log_likelihood(spec, result, subset(demos, held),
                                                       backend="numpy"), rtol=0, atol=1e-12)


def test_cache_is_reused(game):
    spec, demos = game
    calls = []

    def fit(spec, demos, **kwargs):
        calls.append(1)
        return fit_mfirl(spec, demos, **kwargs)

    kw = {k: v for k, v in FIT.items() if k not in ("n_warmup", "init")}
    cache = {}
    first = select_settings(spec, demos, [{}], fit=fit, n_folds=2, cache=cache,
                            backend="numpy", **kw)
    second = select_settings(spec, demos, [{}], fit=fit, n_folds=2, cache=cache,
                             backend="numpy", **kw)
    assert len(calls) == 2 and len(cache) == 2
    np.testing.assert_array_equal(first.scores, second.scores)


@pytest.mark.parametrize("candidates,fit,match", [
    ([], fit_mfirl, "at least one"),
    ({"weight_decay": 1.0}, fit_mfirl, "sequence of dicts"),
    ([("weight_decay", 1.0)], fit_mfirl, "must be a dict"),
    ([{}], "fit_mfirl", "fit must be callable"),
    ([{}], lambda spec, demos, **kw: 1.0, "must return an IRLResult"),
])
def test_bad_input(game, candidates, fit, match):
    spec, demos = game
    with pytest.raises(ValueError, match=match):
        select_settings(spec, demos, candidates, fit=fit, n_folds=2)


def test_too_many_folds(game):
    spec, demos = game
    with pytest.raises(ValueError, match="must not exceed"):
        select_settings(spec, subset(demos, np.arange(3)), [{}], fit=fit_mfirl, n_folds=5)


def test_marginal_log_likelihood_rejects_other_results(game):
    spec, demos = game
    with pytest.raises(ValueError, match="IRLResult"):
        marginal_log_likelihood(spec, object(), demos)
    assert IRLResult is not None
