r"""``tabmfirl.interop`` against the peers: every conversion, checked by the peer's own numbers.

* MFGLib -> tabmfirl -> MFGLib on every game MFGLib ships: the round-tripped
  environment's tables equal the original's along random flows (every step),
  and so do flows and exploitability scored by MFGLib on both;
* MFGLib -> tabmfirl: tabmfirl's flow and exploitability of the converted spec
  equal MFGLib's, and its tables equal those of the spec rebuilt by hand from
  the game's published definition (``test_mfglib.BUILDERS``: an independent
  derivation);
* tabmfirl -> MFGLib on random games (several types, coupled types, sparse,
  state-action coupling): MFGLib's flows of the product game are tabmfirl's,
  and tabmfirl -> MFGLib -> tabmfirl gives back the tables;
* OpenSpiel: :func:`~tabmfirl.interop.from_openspiel` on the crowd modelling
  games at sizes other than the defaults: distributions and ``nash_conv``.

Run: ``python -m pytest validation/test_interop_peers.py -q -s``.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from peers import require_peer

torch = require_peer("torch", "torch (MFGLib needs it)")
require_peer("mfglib.alg", "MFGLib")  # before mfglib.scoring: circular import
pyspiel = require_peer("pyspiel", "OpenSpiel")

from mfglib.env import Environment  # noqa: E402
from mfglib.scoring import exploitability_score  # noqa: E402
from mfglib.utils import mean_field_from_policy  # noqa: E402
from open_spiel.python.mfg.algorithms import nash_conv  # noqa: E402
from open_spiel.python.mfg.games import crowd_modelling  # noqa: E402,F401 (registers)
from test_mfglib import BUILDERS  # noqa: E402

from tabmfirl import exploitability, forward_mean_field, population_coupling  # noqa: E402
from tabmfirl.interop import (  # noqa: E402
    array_from_mfglib,
    from_mfglib,
    from_openspiel,
    openspiel_mean_field,
    openspiel_policy,
    policy_to_mfglib,
    to_mfglib,
)
from tabmfirl.testing import dense_tables, random_game, random_policy  # noqa: E402
from tabmfirl.testing.strategies import games  # noqa: E402

torch.set_default_dtype(torch.float64)
ATOL = 1e-10
GAMES = list(BUILDERS)
#: Exploitability is >= 0 by theory: anything below this is a bug, not rounding.
EXPL_FLOOR = -1e-12


def mfglib_tables(env, L):
    """``P[t, s, a, s']`` and ``r[t, s, a]`` of ``env`` along MFGLib's ``L`` (all slices)."""
    S, A = env.n_states, env.n_actions
    P = np.stack([env.prob(t, L[t]).reshape(S, S, A).permute(1, 2, 0).numpy()
                  for t in range(env.T + 1)])
    R = np.stack([env.reward(t, L[t]).reshape(S, A).numpy() for t in range(env.T + 1)])
    return P, R


@pytest.fixture(scope="module")
def converted():
    cache = {}

    def get(name):
        if name not in cache:
            env, by_hand = BUILDERS[name]()   # MFGLib's environment, and the spec built by hand
            cache[name] = env, from_mfglib(env, name=name), by_hand
        return cache[name]

    return get


@pytest.mark.parametrize("name", GAMES)
def test_mfglib_round_trip(name, converted):
    """MFGLib -> tabmfirl -> MFGLib: same sizes, mu0, tables at every step, flows, scores."""
    env, spec, _ = converted(name)
    back = to_mfglib(spec)
    assert (back.T, back.n_states, back.n_actions) == (env.T, env.n_states, env.n_actions)
    np.testing.assert_array_equal(back.mu0.numpy(), env.mu0.reshape(-1).numpy())
    rng = np.random.default_rng(0)
    worst = 0.0
    for _ in range(2):
        policy = random_policy(spec, rng)
        pi, pi_back = policy_to_mfglib(policy, env), policy_to_mfglib(policy, back)
        L = mean_field_from_policy(pi, env=env)
        L_back = mean_field_from_policy(pi_back, env=back)
        P, R = mfglib_tables(env, L)
        P_back, R_back = mfglib_tables(back, L.reshape(back.T + 1, back.n_states, -1))
        np.testing.assert_allclose(L_back.numpy(), L.reshape(L_back.shape).numpy(), rtol=0,
                                   atol=ATOL)
        np.testing.assert_allclose(P_back, P, rtol=0, atol=ATOL)
        np.testing.assert_allclose(R_back, R, rtol=0, atol=ATOL)
        e, e_back = exploitability_score(env, pi), exploitability_score(back, pi_back)
        np.testing.assert_allclose(e_back, e, rtol=0, atol=1e-9)
        worst = max(worst, np.abs(P_back - P).max(), np.abs(R_back - R).max())
    print(f"\n[interop round trip] {name}: max |d table| = {worst:.1e}, expl {e:.6g}")


@pytest.mark.parametrize("name", GAMES)
def test_from_mfglib_matches_mfglib_and_the_published_definition(name, converted):
    """tabmfirl on the converted spec: MFGLib's flow and exploitability; the hand-built tables."""
    env, spec, by_hand = converted(name)
    policy = random_policy(spec, np.random.default_rng(1))
    flow = forward_mean_field(spec, policy, backend="numpy")
    L = mean_field_from_policy(policy_to_mfglib(policy, env), env=env)
    np.testing.assert_allclose(flow.state_action[0],
                               L.reshape(env.T + 1, env.n_states, -1).numpy(), rtol=0, atol=ATOL)
    mine = float(exploitability(spec, policy, temperature=0.0, backend="numpy")[0])
    theirs = exploitability_score(env, policy_to_mfglib(policy, env))
    assert mine >= EXPL_FLOOR
    np.testing.assert_allclose(mine, theirs, rtol=0, atol=1e-9)
    P, R = dense_tables(spec, flow.mean_field, flow.state_action)
    P_hand, R_hand = dense_tables(by_hand, flow.mean_field, flow.state_action)
    print(f"\n[interop from_mfglib] {name}: expl {mine:.6g} (MFGLib {theirs:.6g}); vs the "
          f"published definition max|dP| {np.abs(P - P_hand).max():.1e}, "
          f"max|dr| {np.abs(R - R_hand).max():.1e}")
    np.testing.assert_allclose(P, P_hand, rtol=0, atol=1e-8)
    np.testing.assert_allclose(R, R_hand, rtol=0, atol=1e-8)


def test_from_mfglib_on_the_numba_backend(converted):
    """The Numba kernels call the environment back (objmode): same flow as the NumPy twin."""
    env, spec, _ = converted("linear_quadratic")
    policy = random_policy(spec, np.random.default_rng(2))
    numpy_flow = forward_mean_field(spec, policy, backend="numpy")
    numba_flow = forward_mean_field(spec, policy, backend="numba")
    np.testing.assert_allclose(numba_flow.state_action, numpy_flow.state_action, rtol=0,
                               atol=1e-13)
    np.testing.assert_allclose(numba_flow.model.reward, numpy_flow.model.reward, rtol=0,
                               atol=1e-13)


def test_from_mfglib_refuses_float32():
    """An environment built in float32 is refused with the fix in the message."""
    torch.set_default_dtype(torch.float32)
    try:
        env = Environment.left_right()
    finally:
        torch.set_default_dtype(torch.float64)
    with pytest.raises(ValueError, match="set_default_dtype"):
        from_mfglib(env)


def check_to_mfglib(spec):
    """MFGLib's flow of the product game is tabmfirl's; one type: back to tabmfirl's tables."""
    K = spec.n_contexts
    shares = np.random.default_rng(K).dirichlet(np.ones(K))
    env = to_mfglib(spec, shares=shares)
    policy = random_policy(spec, np.random.default_rng(3))
    flow = forward_mean_field(spec, policy, backend="numpy")
    L = mean_field_from_policy(policy_to_mfglib(policy), env=env)
    np.testing.assert_allclose(array_from_mfglib(L, K) / shares[:, None, None, None],
                               flow.state_action, rtol=0, atol=ATOL)
    if K == 1:
        back = from_mfglib(env)
        P, R = dense_tables(spec, flow.mean_field, flow.state_action)
        P_back, R_back = dense_tables(back, flow.mean_field, flow.state_action)
        np.testing.assert_allclose(P_back, P, rtol=0, atol=ATOL)
        np.testing.assert_allclose(R_back, R, rtol=0, atol=ATOL)


@settings(max_examples=15, deadline=None)
@given(games(max_states=5, max_actions=3, max_horizon=4, max_contexts=3, coupling="strong"))
def test_to_mfglib_flows_and_round_trip(spec):
    """Random games: MFGLib's flow of the product game is tabmfirl's; and back to tabmfirl."""
    check_to_mfglib(spec)


COUPLINGS = {"population": population_coupling([0.2, 0.3, 0.5]),
             "asymmetric": np.array([[0.6, 0.3, 0.1], [0.0, 0.5, 0.5], [0.2, 0.0, 0.8]])}


@pytest.mark.parametrize("coupling", list(COUPLINGS))
@pytest.mark.parametrize("kind, width", [("state", None), ("state_action", 2)])
def test_to_mfglib_with_coupled_types(coupling, kind, width):
    """Three coupled types, strong mean field dependence, dense or sparse rows."""
    spec = random_game(4, 3, 4, 3, transition_strength=2.0, reward_strength=1.0, width=width,
                       mean_field_kind=kind, rng=5)
    check_to_mfglib(spec.replace(context_coupling=COUPLINGS[coupling]))


@pytest.mark.parametrize("game_name, parameters", [
    ("python_mfg_crowd_modelling", {"size": 6, "horizon": 5}),
    ("mfg_crowd_modelling", {"size": 7, "horizon": 4}),
    ("mfg_crowd_modelling_2d", {"size": 4, "horizon": 3, "only_distribution_reward": True}),
])
def test_from_openspiel(game_name, parameters):
    """Distributions of a random policy and nash_conv == tabmfirl exploitability (beta = 0)."""
    game = pyspiel.load_game(game_name, parameters)
    spec = from_openspiel(game)
    probs = random_policy(spec, np.random.default_rng(4))
    pol = openspiel_policy(game, probs)
    flow = forward_mean_field(spec, probs, backend="numpy")
    nc = nash_conv.NashConv(game, pol).nash_conv()
    mine = float(exploitability(spec, probs, temperature=0.0, backend="numpy")[0])
    print(f"\n[interop openspiel] {game_name} {parameters}: nash_conv {nc:.10f}, "
          f"tabmfirl {mine:.10f}")
    np.testing.assert_allclose(flow.mean_field[0], openspiel_mean_field(game, pol), rtol=0,
                               atol=1e-8)
    np.testing.assert_allclose(mine, nc, rtol=0, atol=1e-8)
    assert mine >= EXPL_FLOOR


def test_from_openspiel_refuses_what_it_cannot_convert():
    with pytest.raises(ValueError, match="only_distribution_reward"):
        from_openspiel(pyspiel.load_game("mfg_crowd_modelling_2d"))
    with pytest.raises(ValueError, match="cannot convert the OpenSpiel game 'mfg_garnet'"):
        from_openspiel(pyspiel.load_game("mfg_garnet"))
