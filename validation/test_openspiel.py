r"""tabmfirl against OpenSpiel's mean field games (open-spiel 2.0.2).

Games: the 1-D crowd modelling game of Perrin et al. (2020), section 4.2
(``python_mfg_crowd_modelling`` and its C++ twin ``mfg_crowd_modelling``), and
the C++ ``mfg_crowd_modelling_2d`` (10 x 10 torus).

OpenSpiel semantics, read from the game sources:

* a game is: initial chance node ``x_0 ~ mu0`` (uniform), then for
  ``t = 0..H-1``: decision node ``(x, t)``, chance node (noise), mean field node
  ``(x, t+1)_a`` where the distribution ``mu_{t+1}`` is registered; terminal at
  ``t = H`` with reward 0.  So the tabmfirl horizon is ``H``.
* moves and noise add on a torus: 1-D ``x' = x + m(a) + m(n) mod S`` with
  ``m = (-1, 0, +1)`` and uniform noise; 2-D actions ``0..4`` are
  ``(0,-1), (-1,0), (0,0), (+1,0), (0,+1)`` on ``(x, y)``, uniform noise,
  state index ``x * size + y``.
* the reward is paid at decision nodes:
  1-D ``r = 1 - |x - S//2| / (S//2) - |m(a_{t-1})| / S - log(mu_t(x) + 1e-25)``;
  2-D with ``only_distribution_reward=True``: ``r = -log(mu_t(x, y) + 1e-25)``.

The 1-D action cost is paid one step *late* and OpenSpiel's cached values see
the cost of the first history its traversal reaches at each ``(x, t)``: the
spec "as OpenSpiel scores it" and the "faithful" one are
:func:`tabmfirl.interop.crowd_modelling_1d` (its module docstring explains
the conventions; both numbers are printed).  The specs, the OpenSpiel policy
reading tabmfirl's arrays and OpenSpiel's distribution as a flow are
:mod:`tabmfirl.interop`.

Run: ``python -m pytest validation/test_openspiel.py -q -s``.
"""
from __future__ import annotations

import numpy as np
import pytest
from peers import require_peer

pyspiel = require_peer("pyspiel", "OpenSpiel")

from open_spiel.python.mfg.algorithms import nash_conv  # noqa: E402
from open_spiel.python.mfg.games import crowd_modelling  # noqa: E402,F401 (registers)

from tabmfirl import exploitability, forward_mean_field  # noqa: E402
from tabmfirl.interop import (  # noqa: E402
    EPSILON,
    EPSILON_FLOAT32,
    crowd_modelling_1d,
    crowd_modelling_2d,
    first_visit_last_action,
    openspiel_mean_field,
    openspiel_policy,
)

ATOL = 1e-8
#: Exploitability is >= 0 by theory: anything below this is a bug, not rounding.
EXPL_FLOOR = -1e-12
MOVES_1D = (-1, 0, 1)


def random_policy(spec, rng):
    return rng.dirichlet(np.ones(spec.n_actions), size=(spec.horizon, spec.n_states))


# --------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------
def test_reward_reads_previous_action():
    """OpenSpiel pays -|m(a_{t-1})|/S at decision node (x, t): the formula used above."""
    game = pyspiel.load_game("python_mfg_crowd_modelling")
    size, horizon = game.size, game.horizon
    last = first_visit_last_action(size, horizon)
    # Walk one path per (x, t) the way the traversal first reaches it and read rewards().
    uniform = np.full(size, 1.0 / size)
    for t in range(1, horizon):
        for x in range(size):
            a = int(last[t, x])
            state = game.new_initial_state().child((x - MOVES_1D[a] - 0) % size)
            for _ in range(t - 1):   # stay in place until t-1 with no move and no noise
                state = state.child(1).child(1)
                state.update_distribution(list(uniform))
            state = state.child(a).child(1)
            state.update_distribution(list(uniform))
            assert state.observation_string(0) == f"({x}, {t})"
            r_x = 1 - abs(x - size // 2) / (size // 2)
            expected = r_x - abs(MOVES_1D[a]) / size - np.log(0.1 + EPSILON)
            np.testing.assert_allclose(state.rewards()[0], expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("game_name", ["python_mfg_crowd_modelling", "mfg_crowd_modelling"])
def test_crowd_modelling_1d(game_name, backend):
    """Distribution of random policies and nash_conv == tabmfirl exploitability (beta=0)."""
    game = pyspiel.load_game(game_name)
    size, horizon = 10, 10
    eps = EPSILON if game_name.startswith("python") else EPSILON_FLOAT32
    spec = crowd_modelling_1d(size, horizon, convention="openspiel", eps=eps)
    faithful = crowd_modelling_1d(size, horizon, convention="faithful", eps=eps)
    rng = np.random.default_rng(0)
    for trial in range(2):
        probs = random_policy(spec, rng) if trial else np.full((horizon, size, 3), 1 / 3)
        pol = openspiel_policy(game, probs)
        mu_os = openspiel_mean_field(game, pol)
        flow = forward_mean_field(spec, probs[None].copy(), backend=backend)
        nc = nash_conv.NashConv(game, pol).nash_conv()
        mine = float(exploitability(spec, probs[None].copy(), temperature=0.0,
                                    backend=backend)[0])
        other = float(exploitability(faithful, probs[None].copy(), temperature=0.0,
                                     backend=backend)[0])
        print(f"\n[openspiel 1d] {game_name} ({backend}) {'random' if trial else 'uniform'}: "
              f"max|dmu| = {np.max(np.abs(flow.mean_field[0] - mu_os)):.1e}, nash_conv "
              f"{nc:.10f} vs tabmfirl {mine:.10f} (|d| = {abs(nc - mine):.1e}); "
              f"faithful-cost game: {other:.6f}")
        np.testing.assert_allclose(flow.mean_field[0], mu_os, rtol=0, atol=ATOL)
        np.testing.assert_allclose(mine, nc, rtol=0, atol=ATOL)
        assert mine >= EXPL_FLOOR and other >= EXPL_FLOOR


def test_crowd_modelling_2d():
    """C++ mfg_crowd_modelling_2d (only_distribution_reward): distribution and nash_conv."""
    game = pyspiel.load_game("mfg_crowd_modelling_2d", {"only_distribution_reward": True})
    size, horizon = 10, 10
    spec = crowd_modelling_2d(size, horizon)
    rng = np.random.default_rng(1)
    probs = random_policy(spec, rng)
    pol = openspiel_policy(game, probs)
    mu_os = openspiel_mean_field(game, pol)
    flow = forward_mean_field(spec, probs[None].copy(), backend="numba")
    nc = nash_conv.NashConv(game, pol).nash_conv()
    mine = float(exploitability(spec, probs[None].copy(), temperature=0.0, backend="numba")[0])
    print(f"\n[openspiel 2d] random policy: max|dmu| = "
          f"{np.max(np.abs(flow.mean_field[0] - mu_os)):.1e}, nash_conv {nc:.10f} vs tabmfirl "
          f"{mine:.10f} (|d| = {abs(nc - mine):.1e})")
    np.testing.assert_allclose(flow.mean_field[0], mu_os, rtol=0, atol=ATOL)
    np.testing.assert_allclose(mine, nc, rtol=0, atol=ATOL)
    assert mine >= EXPL_FLOOR
