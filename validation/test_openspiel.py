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

The 1-D action cost is paid one step *late* (it reads the previous action),
and OpenSpiel's value functions cache decision nodes by their observation
string ``"(x, t)"``, which does not contain that previous action.  So
``nash_conv`` uses, at each ``(x, t)``, the action cost of whichever history
its depth-first traversal reached first.  :func:`first_visit_last_action`
replays that traversal (it does not depend on the policy as long as every
action has positive probability), and the tabmfirl game "as OpenSpiel scores
it" has the action-independent reward ``-|m(a_first(x, t))| / S``.  The faithful
game (each agent pays ``-|m(a_t)|/S`` for its own move, nothing for the move
at ``t = H-1``) gives a different number; both are printed.

Run: ``python -m pytest validation/test_openspiel.py -q -s``.
"""
from __future__ import annotations

import numpy as np
import pytest
from peers import require_peer

pyspiel = require_peer("pyspiel", "OpenSpiel")

from open_spiel.python import policy as policy_std  # noqa: E402
from open_spiel.python.mfg.algorithms import distribution, nash_conv  # noqa: E402
from open_spiel.python.mfg.games import crowd_modelling  # noqa: E402,F401 (registers)

from tabmfirl import MFGSpec, exploitability, forward_mean_field  # noqa: E402

ATOL = 1e-8
#: Exploitability is >= 0 by theory: anything below this is a bug, not rounding.
EXPL_FLOOR = -1e-12
EPSILON = 1e-25          # crowd_modelling._EPSILON (Python)
EPSILON_CPP = float(np.float32(1e-25))  # C++ uses `constexpr float kEpsilon = 1e-25`
MOVES_1D = (-1, 0, 1)
MOVES_2D = ((0, -1), (-1, 0), (0, 0), (1, 0), (0, 1))


def log_crowd_reward(t, observed, context, params, out):
    """``base[t, s, a] - log(mu_t(s) + eps)``; ``params = [S, A, eps, base...]``."""
    S = int(params[0])
    A = int(params[1])
    eps = params[2]
    offset = 3 + t * S * A
    for s in range(S):
        penalty = np.log(observed[s] + eps)
        for a in range(A):
            out[s, a] = params[offset + s * A + a] - penalty


# --------------------------------------------------------------------------
# 1-D crowd modelling
# --------------------------------------------------------------------------
def first_visit_last_action(size, horizon):
    """Previous action seen by OpenSpiel's cached value at each decision node ``(x, t)``.

    Replays the depth-first order of ``BestResponse.eval_state`` /
    ``PolicyValue.eval_state`` (initial states ``0..S-1``, actions ``0, 1, 2``,
    noise ``0, 1, 2``), with their caches keyed by observation strings.
    Returns an int array ``(H, S)``; row 0 is the neutral action 1.
    """
    import sys

    last = np.full((horizon, size), -1)
    last[0] = 1
    seen_decision, seen_chance = set(), set()
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * horizon + 100))

    def visit(x, t):
        if (x, t) in seen_decision:
            return
        seen_decision.add((x, t))
        for a in range(3):
            y = (x + MOVES_1D[a]) % size
            if (y, t) in seen_chance:
                continue
            seen_chance.add((y, t))
            for n in range(3):
                z = (y + MOVES_1D[n]) % size
                if t + 1 < horizon and (z, t + 1) not in seen_decision:
                    last[t + 1, z] = a
                    visit(z, t + 1)

    for x0 in range(size):
        visit(x0, 0)
    assert np.all(last >= 0)
    return last


def crowd_1d_spec(size=10, horizon=10, *, convention="openspiel", eps=EPSILON):
    """The 1-D crowd modelling game as a state-observing tabmfirl spec.

    ``convention="openspiel"``: the action cost as OpenSpiel's cached values
    see it; ``"faithful"``: each agent pays for its own move.
    """
    S, A, H = size, 3, horizon
    P = np.zeros((S, A, S))
    for x in range(S):
        for a in range(A):
            for n in range(3):
                P[x, a, (x + MOVES_1D[a] + MOVES_1D[n]) % S] += 1.0 / 3.0
    x = np.arange(S)
    r_x = 1.0 - np.abs(x - S // 2) / (S // 2)
    base = np.repeat(np.repeat(r_x[None, :, None], H, axis=0), A, axis=2)
    if convention == "openspiel":
        last = first_visit_last_action(S, H)
        base += -np.abs(np.array(MOVES_1D)[last])[:, :, None] / S
    elif convention == "faithful":
        base[:H - 1] += -np.abs(np.array(MOVES_1D, dtype=float))[None, None, :] / S
    else:
        raise ValueError(convention)
    params = np.concatenate([[S, A, eps], base.ravel()])
    return MFGSpec(n_states=S, n_actions=A, horizon=H, mu0=np.full(S, 1.0 / S), transition=P,
                   reward=log_crowd_reward, n_contexts=1, params=params,
                   name=f"openspiel_crowd_modelling_{convention}")


# --------------------------------------------------------------------------
# 2-D crowd modelling (only_distribution_reward=True)
# --------------------------------------------------------------------------
def crowd_2d_spec(size=10, horizon=10):
    S, A, H = size * size, 5, horizon
    P = np.zeros((S, A, S))
    for x in range(size):
        for y in range(size):
            for a, (dx, dy) in enumerate(MOVES_2D):
                for nx, ny in MOVES_2D:
                    x2, y2 = (x + dx + nx) % size, (y + dy + ny) % size
                    P[x * size + y, a, x2 * size + y2] += 1.0 / 5.0
    base = np.zeros((H, S, A))
    params = np.concatenate([[S, A, EPSILON_CPP], base.ravel()])
    return MFGSpec(n_states=S, n_actions=A, horizon=H, mu0=np.full(S, 1.0 / S), transition=P,
                   reward=log_crowd_reward, n_contexts=1, params=params,
                   name="openspiel_crowd_modelling_2d")


# --------------------------------------------------------------------------
# OpenSpiel side
# --------------------------------------------------------------------------
class ArrayPolicy(policy_std.Policy):
    """An OpenSpiel policy reading ``probs[t, s, a]`` from the decision node's position."""

    def __init__(self, game, probs, size, two_d=False):
        super().__init__(game, [0])
        self.probs, self.size, self.two_d = probs, size, two_d

    def action_probabilities(self, state, player_id=None):
        numbers = [int(v) for v in state.observation_string(0).strip("()").split(",")]
        if self.two_d:
            x, y, t = numbers
            s = x * self.size + y
        else:
            s, t = numbers
        return {a: float(self.probs[t, s, a]) for a in state.legal_actions()}


def openspiel_flow(game, pol, size, horizon, two_d=False):
    """``mu_t(s)`` ``(H+1, S)`` from ``DistributionPolicy`` (decision and final nodes)."""
    dist = distribution.DistributionPolicy(game, pol)
    n_states = size * size if two_d else size
    mu = np.zeros((horizon + 1, n_states))
    for t in range(horizon + 1):
        suffix = "" if t < horizon else "_a"
        for s in range(n_states):
            pos = f"{s // size}, {s % size}" if two_d else f"{s}"
            mu[t, s] = dist.value_str(f"({pos}, {t}){suffix}", 0.0)
    return mu


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
    eps = EPSILON if game_name.startswith("python") else EPSILON_CPP
    spec = crowd_1d_spec(size, horizon, convention="openspiel", eps=eps)
    faithful = crowd_1d_spec(size, horizon, convention="faithful", eps=eps)
    rng = np.random.default_rng(0)
    for trial in range(2):
        probs = random_policy(spec, rng) if trial else np.full((horizon, size, 3), 1 / 3)
        pol = ArrayPolicy(game, probs, size)
        mu_os = openspiel_flow(game, pol, size, horizon)
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
    spec = crowd_2d_spec(size, horizon)
    rng = np.random.default_rng(1)
    probs = random_policy(spec, rng)
    pol = ArrayPolicy(game, probs, size, two_d=True)
    mu_os = openspiel_flow(game, pol, size, horizon, two_d=True)
    flow = forward_mean_field(spec, probs[None].copy(), backend="numba")
    nc = nash_conv.NashConv(game, pol).nash_conv()
    mine = float(exploitability(spec, probs[None].copy(), temperature=0.0, backend="numba")[0])
    print(f"\n[openspiel 2d] random policy: max|dmu| = "
          f"{np.max(np.abs(flow.mean_field[0] - mu_os)):.1e}, nash_conv {nc:.10f} vs tabmfirl "
          f"{mine:.10f} (|d| = {abs(nc - mine):.1e})")
    np.testing.assert_allclose(flow.mean_field[0], mu_os, rtol=0, atol=ATOL)
    np.testing.assert_allclose(mine, nc, rtol=0, atol=ATOL)
    assert mine >= EXPL_FLOOR
