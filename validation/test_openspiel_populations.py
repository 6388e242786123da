r"""tabmfirl against OpenSpiel's multi-population games (open-spiel 2.0.2).

Games: ``python_mfg_predator_prey`` (Perolat et al. 2022, section 5.4) and
``python_mfg_crowd_avoidance``, rebuilt from their sources as specs by
:func:`tabmfirl.interop.predator_prey` and :func:`~tabmfirl.interop.crowd_avoidance`
(one type per population, ``mu0`` of shape ``(K, S)``,
``observation="all_types"``); the module docstring of
:mod:`tabmfirl.interop._openspiel_populations` gives the game tree, the
moves, the rewards and the one convention of OpenSpiel's (the reward at
``t = 0`` reads the initial distribution in another layout).

Checked, for several sizes, horizons, geometries, population counts (1 to 4
for predator-prey; crowd avoidance has exactly 2) and both a uniform and a
random fixed policy:

* the tables themselves: every transition row from OpenSpiel's chance
  outcomes, every reward from ``state.rewards()`` at ``t = 0`` (both
  conventions) and at a mean field node with a random distribution of every
  population (with empty cells, where the ``1e-25`` matters);
* the distribution of each population at each step
  (``DistributionPolicy``), on the NumPy twin and on Numba;
* ``NashConv`` = the sum over populations of tabmfirl's per-type
  exploitability at temperature 0 (``nash_conv.py`` sums
  ``BR value - policy value`` over the root state of every population,
  unweighted); and, per population, the best-response value
  (``br_values()``) and the policy's value (``PolicyValue``) against
  tabmfirl's returns.

Tolerance: 1e-8 absolute (what is reached is printed with ``-s``: about
1e-14 on values of tens).  ``convention="faithful"`` has the same flows and
``NashConv`` (asserted) but another reward at ``t = 0`` where the initial
distribution is not uniform and the reward reads it (asserted in the reward
test, so that the convention is not a no-op), hence other returns (printed).

Run: ``python -m pytest validation/test_openspiel_populations.py -q -s``.
"""
from __future__ import annotations

import functools

import numpy as np
import pytest
from peers import require_peer

pyspiel = require_peer("pyspiel", "OpenSpiel")

from open_spiel.python.mfg.algorithms import nash_conv, policy_value  # noqa: E402
from open_spiel.python.mfg.games import crowd_avoidance as _ca  # noqa: E402,F401 (registers)
from open_spiel.python.mfg.games import predator_prey as _pp  # noqa: E402,F401 (registers)

from tabmfirl import (  # noqa: E402
    evaluate_step,
    exploitability,
    forward_mean_field,
    regularised_return,
)
from tabmfirl.interop import (  # noqa: E402
    openspiel_population_mean_field,
    openspiel_population_policy,
    populations_from_openspiel,
)

ATOL = 1e-8
#: Exploitability is >= 0 by theory: anything below this is a bug, not rounding.
EXPL_FLOOR = -1e-12


def _flat(values) -> str:
    """OpenSpiel's space-separated parameter string (exact float round trip)."""
    return " ".join(repr(float(v)) for v in np.ravel(values))


def _random_init(K, size, seed):
    """A random initial distribution per population with empty cells (OpenSpiel's layout)."""
    rng = np.random.default_rng(seed)
    mu = rng.dirichlet(np.ones(size * size), size=K)
    mu[mu < 0.5 / size ** 2] = 0.0
    return mu / mu.sum(axis=1, keepdims=True)


PP = "python_mfg_predator_prey"
CA = "python_mfg_crowd_avoidance"
#: (id, game, parameters): OpenSpiel's defaults first, then other sizes / horizons /
#: population counts / geometries / noise / coefficients.
CASES = [
    ("pp-default-3pop-5x5-H10", PP, {}),
    ("pp-4pop-5x5-H8", PP, {**_pp.FOUR_POPULATIONS, "horizon": 8}),
    ("pp-2pop-4x4-H6-torus-uniform", PP,
     {"size": 4, "horizon": 6, "players": 2, "reward_matrix": "0 1.5 -1 0.25",
      "init_distrib": "", "geometry": 1, "noise_probability": 0.3, "congestion_coeff": 0.7}),
    ("pp-1pop-3x3-H5-random-init", PP,
     {"size": 3, "horizon": 5, "players": 1, "reward_matrix": "0.5",
      "init_distrib": _flat(_random_init(1, 3, 7)), "noise_probability": 0.5}),
    ("pp-2pop-4x4-H7-random-init", PP,
     {"size": 4, "horizon": 7, "players": 2, "reward_matrix": "0.3 -2 2 0",
      "init_distrib": _flat(_random_init(2, 4, 8)), "congestion_coeff": 1.3}),
    ("ca-default-7x7-H10", CA, {}),
    ("ca-congestion-7x7-H8", CA,
     {"horizon": 8, "coef_congestion": 1.5, "congestion_matrix": "0.2 1 1 0.5"}),
    ("ca-5x5-H6-torus-walls-uniform", CA,
     {"size": 5, "horizon": 6, "geometry": 1, "init_distrib": "", "coef_congestion": 2.0,
      "forbidden_states": "[2|2;0|4;4|1]", "proba_noise": 0.3, "coef_target": 0.5}),
]
IDS = [case[0] for case in CASES]


@functools.lru_cache(maxsize=None)
def game_of(index):
    _, name, params = CASES[index]
    return pyspiel.load_game(name, params)


def policy_of(spec, trial):
    """Trial 0: uniform; trial 1: a random fixed policy (seeded)."""
    shape = (spec.n_contexts, spec.horizon, spec.n_states, spec.n_actions)
    if trial == 0:
        return np.full(shape, 1.0 / spec.n_actions)
    rng = np.random.default_rng(100 + trial)
    return rng.dirichlet(np.ones(spec.n_actions), size=shape[:3])


@functools.lru_cache(maxsize=None)
def openspiel_numbers(index, trial):
    """OpenSpiel's flows ``(K, H+1, S)``, NashConv, BR values and policy values per population."""
    game = game_of(index)
    spec = populations_from_openspiel(game)
    pol = openspiel_population_policy(game, policy_of(spec, trial))
    mu = openspiel_population_mean_field(game, pol)
    root = single_root(game)
    conv = nash_conv.NashConv(game, pol, root_state=root)
    values = policy_value.PolicyValue(game, conv.distribution, pol, root_state=root)
    roots = game.new_initial_states() if root is None else [root]
    own = np.array([values.eval_state(state) for state in roots])
    return mu, conv.nash_conv(), np.array(conv.br_values()), own


# --------------------------------------------------------------------------- tables
def _start(game, population, position):
    """Decision node ``t = 0`` of ``population`` at merged position ``x + y * size``."""
    return game.new_initial_state_for_population(population).child(position)


@pytest.mark.parametrize("index", range(len(CASES)), ids=IDS)
def test_transition_rows_are_openspiels_chance_outcomes(index):
    """Every (s, a) row from OpenSpiel's decision then noise node (game with uniform start)."""
    _, name, params = CASES[index]
    game = pyspiel.load_game(name, {**params, "init_distrib": ""})
    spec = populations_from_openspiel(game)
    size = game.size
    P = np.zeros((spec.n_states, spec.n_actions, spec.n_states))
    for x in range(size):
        for y in range(size):
            state = _start(game, 0, x + y * size)
            for a in range(spec.n_actions):
                moved = state.child(a)
                for n, prob in moved.chance_outcomes():
                    end = moved.child(n).pos
                    P[x * size + y, a, end[0] * size + end[1]] += prob
    np.testing.assert_allclose(spec.transition, P, rtol=0, atol=1e-15)


def _reward_table(spec, t, mean_field, p):
    """``r_t(., ., mu_t)`` of population ``p`` ``(S, A)``, every population at ``mean_field``."""
    return evaluate_step(spec, t, mean_field)[1][p]


def single_root(game):
    """One population: OpenSpiel's ``new_initial_states()`` is the unplayable blank state."""
    return game.new_initial_state_for_population(0) if game.num_players() == 1 else None


@pytest.mark.parametrize("index", range(len(CASES)), ids=IDS)
def test_rewards_are_openspiels(index):
    """``state.rewards()``: at t = 0 (the layout quirk) and at t = 1 with random flows."""
    game = game_of(index)
    spec = populations_from_openspiel(game)
    faithful = populations_from_openspiel(game, convention="faithful")
    size, K, S = game.size, spec.n_contexts, spec.n_states
    mu0 = spec.initial_distribution
    quirk = 0.0
    for p in range(K):
        root = game.new_initial_state_for_population(p)
        for position, _ in root.chance_outcomes():
            state = root.child(position)
            s = state.pos[0] * size + state.pos[1]
            expected = state.rewards()[p]
            np.testing.assert_allclose(_reward_table(spec, 0, mu0, p)[s], expected,
                                       rtol=0, atol=1e-12)
            quirk = max(quirk, abs(_reward_table(faithful, 0, mu0, p)[s, 0] - expected))
    params = CASES[index][2]
    uniform = params.get("init_distrib") == ""
    # crowd avoidance with OpenSpiel's default coef_congestion = 0 reads no density
    reads_flows = params.get("coef_congestion", 0.0) != 0.0 or CASES[index][1] == PP
    print(f"\n[openspiel populations] {IDS[index]}: |faithful - OpenSpiel| reward at t=0 "
          f"up to {quirk:.3g}")
    assert (quirk == 0.0) if uniform or not reads_flows else (quirk > 1e-3)
    rng = np.random.default_rng(index)
    for _ in range(2):
        mu = _random_init(K, size, int(rng.integers(1 << 30)))
        support = [mu[q, x * size + y] for x in range(size) for y in range(size)
                   for q in range(K)]
        for p in range(K):
            start = _start(game, p, game.new_initial_state_for_population(p)
                           .chance_outcomes()[0][0]).child(int(rng.integers(5)))
            for n, _ in start.chance_outcomes():
                node = start.child(n)
                node.update_distribution(support)
                s = node.pos[0] * size + node.pos[1]
                table = _reward_table(spec, 1, mu, p)
                np.testing.assert_allclose(table[s], node.rewards()[p], rtol=0, atol=1e-12)
    assert S == size * size


# --------------------------------------------------------------------------- flows, NashConv
@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("index", range(len(CASES)), ids=IDS)
def test_flows_and_nash_conv(index, backend):
    """Distributions, NashConv and per-population values of a uniform and a random policy."""
    game = game_of(index)
    spec = populations_from_openspiel(game)
    faithful = populations_from_openspiel(game, convention="faithful")
    for trial in range(2):
        probs = policy_of(spec, trial)
        mu_os, nc, br_os, own_os = openspiel_numbers(index, trial)
        flow = forward_mean_field(spec, probs, backend=backend).mean_field
        expl = exploitability(spec, probs, temperature=0.0, backend=backend)
        own = regularised_return(spec, probs, temperature=0.0, backend=backend)
        expl_f = exploitability(faithful, probs, temperature=0.0, backend=backend)
        own_f = regularised_return(faithful, probs, temperature=0.0, backend=backend)
        print(f"\n[openspiel populations] {IDS[index]} ({backend}) "
              f"{'random' if trial else 'uniform'}: max|dmu| = {np.max(np.abs(flow - mu_os)):.1e}, "
              f"NashConv {nc:.10f} vs sum of exploitability {expl.sum():.10f} "
              f"(|d| = {abs(nc - expl.sum()):.1e}), max|d value| = "
              f"{np.max(np.abs(own - own_os)):.1e}, max|d BR value| = "
              f"{np.max(np.abs(own + expl - br_os)):.1e}; faithful returns differ by "
              f"{np.max(np.abs(own_f - own)):.3g}")
        np.testing.assert_allclose(flow, mu_os, rtol=0, atol=ATOL)
        np.testing.assert_allclose(expl.sum(), nc, rtol=0, atol=ATOL)
        np.testing.assert_allclose(own, own_os, rtol=0, atol=ATOL)
        np.testing.assert_allclose(own + expl, br_os, rtol=0, atol=ATOL)
        assert np.all(expl >= EXPL_FLOOR)
        # "faithful" changes only the action-independent reward at t = 0
        np.testing.assert_allclose(expl_f, expl, rtol=0, atol=ATOL)
