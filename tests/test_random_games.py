"""The random congestion games of ``envs/random_games.py`` (issue 15, item 4).

Hand-derived tables follow the equations of the module docstring (arithmetic
in the comments); a NumPy twin of the reward (written here from the docstring,
reading the constants the builder records in ``spec.info``) is compared with
the Numba reward the solvers call, through :func:`tabmfirl.evaluate_step`.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tabmfirl
from tabmfirl import envs, evaluate_step
from tabmfirl.envs import random_games

TOPOLOGY = st.sampled_from(random_games.TOPOLOGIES)


def reward_twin(spec, observed):
    """``r[m, s, a]`` of the module docstring in NumPy, from ``spec.info``; ``observed[m, s]``."""
    info = spec.info
    S, A = spec.n_states, spec.n_actions
    adjacency = np.zeros((S, S))
    for s, near in enumerate(info["neighbours"]):
        adjacency[s, near] = 1.0
    degree = max(len(near) for near in info["neighbours"])
    moves = np.zeros((S, A))
    for s, near in enumerate(info["neighbours"]):
        moves[s, 1:1 + len(near)] = 1.0
    g = np.asarray(info["preferences"])
    kappa, alpha = np.asarray(info["move_costs"]), np.asarray(info["attractions"])
    base = (g - info["congestion"] * observed
            + alpha[:, None] * (observed @ adjacency.T) / degree)
    return base[:, :, None] - kappa[:, None, None] * moves[None]


def dense_transition(spec):
    """``P[s, a, s']`` (the game's dynamics ignore the mean field)."""
    P, _ = evaluate_step(spec, 0, np.tile(spec.mu0, (spec.n_contexts, 1)))
    dense = np.zeros((spec.n_states, spec.n_actions, spec.n_states))
    s, a, _ = np.indices(spec.next_states.shape)
    np.add.at(dense, (s, a, spec.next_states), P[0])
    return dense


# ------------------------------------------------------------ hand-derived
def test_ring_hand_derived_transitions():
    # ring of 4: N(0) = {1, 3}; closed neighbourhood {0, 1, 3} (3 nodes); slip 0.3
    spec = envs.random_game(0, topology="ring", n_states=4, slip=0.3)
    assert spec.n_actions == 3                    # stay + 2 neighbours
    P = dense_transition(spec)
    # a = 1 (to node 1): 0.7 + 0.3/3 = 0.8 on 1, 0.1 on 0 and on 3
    np.testing.assert_allclose(P[0, 1], [0.1, 0.8, 0.0, 0.1], rtol=0, atol=1e-12)
    # a = 2 (to node 3): 0.8 on 3
    np.testing.assert_allclose(P[0, 2], [0.1, 0.1, 0.0, 0.8], rtol=0, atol=1e-12)
    # a = 0 (stay): 0.8 on 0
    np.testing.assert_allclose(P[0, 0], [0.8, 0.1, 0.0, 0.1], rtol=0, atol=1e-12)
    # variant: slip 0.3 + 0.2 = 0.5; node 2, a = 1 (to node 1, N(2) = {1, 3}):
    # 0.5 + 0.5/3 on 1, 0.5/3 on 2 and on 3
    P = dense_transition(envs.random_game(0, topology="ring", n_states=4, slip=0.3,
                                          dynamics="variant"))
    np.testing.assert_allclose(P[2, 1], [0.0, 0.5 + 0.5 / 3, 0.5 / 3, 0.5 / 3],
                               rtol=0, atol=1e-12)


def test_path_padding_actions_stay_for_free():
    # grid of 3 nodes is a path 0 - 1 - 2: D = 2, node 0 has one neighbour, so
    # its action 2 is padding: it stays (like action 0) and pays no move cost.
    spec = envs.random_game(1, topology="grid", n_states=3, slip=0.0, separation=1.0)
    assert spec.info["neighbours"] == [[1], [0, 2], [1]]
    P = dense_transition(spec)
    np.testing.assert_allclose(P[0, 2], [1.0, 0.0, 0.0], rtol=0, atol=0)
    np.testing.assert_allclose(P[0, 1], [0.0, 1.0, 0.0], rtol=0, atol=0)
    _, r = evaluate_step(spec, 0, np.tile([0.5, 0.25, 0.25], (3, 1)))
    np.testing.assert_allclose(r[:, 0, 2], r[:, 0, 0], rtol=0, atol=0)
    np.testing.assert_allclose(r[:, 0, 0] - r[:, 0, 1], spec.info["move_costs"],
                               rtol=0, atol=1e-12)


def test_hand_derived_reward():
    # ring of 4, everyone of every type at node 1: mu = (0, 1, 0, 0), D = 2.
    spec = envs.random_game(5, topology="ring", n_states=4)
    info = spec.info
    c, g = info["congestion"], np.asarray(info["preferences"])
    kappa, alpha = info["move_costs"], info["attractions"]
    _, r = evaluate_step(spec, 0, np.tile([0.0, 1.0, 0.0, 0.0], (3, 1)))
    for m in range(3):
        # node 1, stay: g_m(1) - c * 1 (its neighbours 0 and 2 are empty)
        assert r[m, 1, 0] == pytest.approx(g[m, 1] - c, abs=1e-12)
        # node 0, move to 1: g_m(0) - kappa_m + alpha_m / 2 * mu(1) (neighbours 1, 3)
        assert r[m, 0, 1] == pytest.approx(g[m, 0] - kappa[m] + alpha[m] / 2, abs=1e-12)
        # node 2: neighbours 1 and 3, same attraction; node 3's neighbours are empty
        assert r[m, 2, 0] == pytest.approx(g[m, 2] + alpha[m] / 2, abs=1e-12)
        assert r[m, 3, 0] == pytest.approx(g[m, 3], abs=1e-12)


# ----------------------------------------------------- hypothesis properties
@given(seed=st.integers(0, 2**31), topology=TOPOLOGY, n_states=st.integers(3, 12),
       types=st.integers(1, 4), separation=st.floats(0.0, 2.0), slip=st.floats(0.0, 1.0),
       data=st.data())
def test_reward_matches_numpy_twin_and_rows_are_stochastic(seed, topology, n_states, types,
                                                           separation, slip, data):
    spec = envs.random_game(seed, topology=topology, n_states=n_states, types=types,
                            separation=separation, slip=slip, horizon=3)
    assert isinstance(spec, tabmfirl.MFGSpec)
    rng = np.random.default_rng(data.draw(st.integers(0, 2**31)))
    observed = rng.dirichlet(np.ones(n_states), size=types)
    P, r = evaluate_step(spec, 1, observed)
    np.testing.assert_allclose(r, reward_twin(spec, observed), rtol=0, atol=1e-12)
    np.testing.assert_allclose(P.sum(-1), 1.0, rtol=0, atol=1e-12)
    assert np.all(P >= 0.0)
    # moves go to neighbours (or stay): the support of every row is the closed neighbourhood
    dense = dense_transition(spec)
    for s, near in enumerate(spec.info["neighbours"]):
        outside = np.setdiff1d(np.arange(n_states), [s] + near)
        assert np.all(dense[s][:, outside] == 0.0)
    # the graph is connected (every node reachable from node 0)
    reached, frontier = {0}, [0]
    while frontier:
        frontier = [j for i in frontier for j in spec.info["neighbours"][i] if j not in reached]
        reached |= set(frontier)
    assert reached == set(range(n_states))


@given(seed=st.integers(0, 2**31), topology=TOPOLOGY, n_states=st.integers(3, 12),
       types=st.integers(1, 3), separation=st.floats(0.0, 3.0), data=st.data())
def test_every_type_game_is_strictly_monotone(seed, topology, n_states, types, separation,
                                              data):
    r"""Lasry-Lions: sum_s (r(s,a,nu) - r(s,a,nu'))(nu - nu')(s) <= -0.1 c |nu - nu'|^2."""
    spec = envs.random_game(seed, topology=topology, n_states=n_states, types=types,
                            separation=separation, horizon=2)
    rng = np.random.default_rng(data.draw(st.integers(0, 2**31)))
    nu, nu2 = (rng.dirichlet(np.full(n_states, 0.5), size=types) for _ in range(2))
    _, r = evaluate_step(spec, 0, nu)
    _, r2 = evaluate_step(spec, 0, nu2)
    diff = nu - nu2
    product = np.einsum("msa,ms->ma", r - r2, diff)
    bound = -(1 - random_games.ATTRACTION_BOUND) * spec.info["congestion"] \
        * (diff ** 2).sum(-1)
    assert np.all(product <= bound[:, None] + 1e-12), (product, bound)


@given(seed=st.integers(0, 2**31), topology=TOPOLOGY, n_states=st.integers(3, 10),
       types=st.integers(1, 3), separation=st.floats(0.0, 2.0),
       horizon=st.integers(1, 15), temperature=st.sampled_from([0.05, 0.1, 1.0]),
       dynamics=st.sampled_from(random_games.DYNAMICS))
def test_every_generated_game_solves(seed, topology, n_states, types, separation, horizon,
                                     temperature, dynamics):
    """The default solver converges and certifies the equilibrium (exploitability ~ 0)."""
    spec = envs.random_game(seed, topology=topology, n_states=n_states, types=types,
                            separation=separation, horizon=horizon, dynamics=dynamics)
    result = tabmfirl.solve_equilibrium(spec, temperature=temperature)
    assert result.converged, result.message
    expl = tabmfirl.exploitability(spec, result.policy, temperature=temperature)
    assert np.all(expl >= -1e-12) and np.all(expl <= 1e-8), expl


@given(seed=st.integers(0, 2**31), topology=TOPOLOGY, n_states=st.integers(3, 10))
def test_separation_zero_gives_identical_types(seed, topology, n_states):
    spec = envs.random_game(seed, topology=topology, n_states=n_states, types=3,
                            separation=0.0, horizon=6)
    for key in ("preferences", "move_costs", "attractions"):
        values = np.asarray(spec.info[key])
        np.testing.assert_array_equal(values, np.broadcast_to(values[0], values.shape))
    result = tabmfirl.solve_equilibrium(spec, temperature=0.1)
    np.testing.assert_allclose(result.policy, result.policy[:1].repeat(3, 0), rtol=0, atol=1e-10)
    # and a positive separation does separate them
    spread = envs.random_game(seed, topology=topology, n_states=n_states, types=3,
                              separation=0.5, horizon=6)
    assert np.ptp(np.asarray(spread.info["preferences"]), axis=0).max() > 0


@given(seed=st.integers(0, 2**31), topology=TOPOLOGY, n_states=st.integers(3, 10))
def test_separation_scales_the_same_draws(seed, topology, n_states):
    """The draws do not depend on sigma: g_m - g_bar is linear in sigma, the graph and mu0 fixed."""
    games = [envs.random_game(seed, topology=topology, n_states=n_states, separation=x)
             for x in (0.0, 0.5, 1.0)]
    g = [np.asarray(game.info["preferences"]) for game in games]
    np.testing.assert_allclose(g[2] - g[0], 2 * (g[1] - g[0]), rtol=0, atol=1e-12)
    for game in games[1:]:
        assert game.info["neighbours"] == games[0].info["neighbours"]
        np.testing.assert_array_equal(game.mu0, games[0].mu0)


def bayes_ari(spec, temperature, agents, seed):
    """ARI of argmax_m sum_t log pi^m_t(a_t | s_t) under the true equilibrium policies."""
    expert = tabmfirl.solve_equilibrium(spec, temperature=temperature)
    demos = tabmfirl.generate_demonstrations(spec, expert.policy, agents, seed=seed)
    steps = np.arange(spec.horizon)
    log_pi = np.log(expert.policy[:, steps, demos.states[:, steps], demos.actions]).sum(-1)
    return tabmfirl.adjusted_rand_index(demos.types, log_pi.argmax(0))


def test_larger_separation_gives_more_identifiable_types():
    """Bayes ARI of the true policies, mean over 6 games (seeds 100-105, each topology
    twice), 60 agents per type, T = 30, temperature 0.1.

    Measured when written (100 agents, seeds 0-3, ring 8 / grid 9 / random 10):
    mean ARI about 0.18 at sigma = 0.1, 0.62 at 0.25, 0.88 at 0.5, 0.93 at 1.0.
    Asserted: each step of sigma raises the mean, 0.1 -> 0.5 by more than 0.4.
    """
    sizes = {"ring": 8, "grid": 9, "random": 10}
    means = []
    for separation in (0.1, 0.25, 0.5, 1.0):
        aris = [bayes_ari(envs.random_game(100 + i, topology=topology, n_states=sizes[topology],
                                           separation=separation), 0.1, 60, seed=i)
                for i, topology in enumerate(list(sizes) * 2)]
        means.append(float(np.mean(aris)))
    assert all(-1.0 <= m <= 1.0 for m in means)
    assert means[2] - means[0] > 0.4, means
    assert np.all(np.diff(means) > 0.0), means


# ------------------------------------------------------------------ errors
def test_seeded():
    first, again = envs.random_game(3, topology="random"), envs.random_game(3, topology="random")
    np.testing.assert_array_equal(first.params, again.params)
    np.testing.assert_array_equal(first.mu0, again.mu0)
    assert not np.array_equal(first.params, envs.random_game(4, topology="random").params)


@pytest.mark.parametrize("kwargs, match", [
    ({"topology": "torus"}, r"topology must be one of \('ring', 'grid', 'random'\)"),
    ({"seed": -1}, "seed must be a non-negative integer"),
    ({"seed": 1.5}, "seed must be a non-negative integer"),
    ({"n_states": 2}, r"n_states must be in \[3, 400\]"),
    ({"n_states": 5.0}, "n_states must be an integer"),
    ({"types": 0}, r"types must be in \[1, 20\]"),
    ({"separation": -0.1}, r"separation must be in \[0.0, 100.0\]"),
    ({"separation": float("nan")}, "separation must be in"),
    ({"slip": 1.5}, r"slip must be in \[0.0, 1.0\]"),
    ({"congestion": 0.0}, "congestion must be in"),
    ({"edge_probability": "a"}, "edge_probability must be a number"),
    ({"dynamics": "nope"}, "dynamics must be one of"),
    ({"horizon": 0}, r"horizon must be in \[1, "),
])
def test_bad_arguments_give_one_line_errors(kwargs, match):
    kwargs = {"seed": 0, **kwargs}
    with pytest.raises(ValueError, match=match) as error:
        envs.make("random_game", **kwargs)
    assert "\n" not in str(error.value)
