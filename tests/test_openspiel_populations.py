"""OpenSpiel's predator-prey and crowd avoidance as specs, without OpenSpiel.

Shapes and initial distributions read off the OpenSpiel sources' grids,
transitions and rewards by hand, closed forms (populations that do not
interact are independent games; one population is a one-type game; the two
conventions differ by a constant), the equilibrium solver, bad parameters.
The agreement with OpenSpiel itself is ``validation/test_openspiel_populations.py``.
"""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tabmfirl import (
    MFGSpec,
    evaluate_step,
    exploitability,
    forward_mean_field,
    regularised_return,
    solve_equilibrium,
)
from tabmfirl.interop import (
    PREDATOR_PREY_EPSILON,
    crowd_avoidance,
    openspiel_population_mean_field,
    openspiel_population_policy,
    populations_from_openspiel,
    predator_prey,
)

#: Exploitability is >= 0 by theory: anything below this is a bug, not rounding.
EXPL_FLOOR = -1e-12


def state(x, y, size):
    """tabmfirl state of grid cell (x, y): ``x * size + y`` (module docstring)."""
    return x * size + y


def random_policy(spec, seed):
    rng = np.random.default_rng(seed)
    return rng.dirichlet(np.ones(spec.n_actions),
                         size=(spec.n_contexts, spec.horizon, spec.n_states))


class FakeGame:
    """Duck-typed stand-in for a pyspiel game: short name, parameters, players."""

    def __init__(self, name, **parameters):
        self.name, self.parameters = name, parameters

    def get_type(self):
        return type("GameType", (), {"short_name": self.name})()

    def get_parameters(self):
        return dict(self.parameters)

    def num_players(self):
        return int(self.parameters.get("players", 2))


# ------------------------------------------------------------------ shapes, mu0
def test_predator_prey_defaults_put_each_population_in_its_corner():
    spec = predator_prey()
    assert (spec.n_states, spec.n_actions, spec.horizon, spec.n_contexts) == (25, 5, 10, 3)
    assert spec.observed_dim == 3 * 25 and spec.mean_field_dim == 25
    mu0 = spec.initial_distribution
    assert mu0.shape == (3, 25)
    # DEFAULT_INIT_DISTRIB_THREE_POPULATIONS: the 1.0 of each 5 x 5 block sits at
    # (row, column) = (0, 0), (0, 4), (4, 0), i.e. (x, y) = (0, 0), (4, 0), (0, 4).
    for p, (x, y) in enumerate([(0, 0), (4, 0), (0, 4)]):
        expected = np.zeros(25)
        expected[state(x, y, 5)] = 1.0
        np.testing.assert_array_equal(mu0[p], expected)
    four = predator_prey(reward_matrix=np.eye(4), init_distrib="corners")
    # DEFAULT_INIT_DISTRIB_FOUR_POPULATIONS: (row, column) (0,0), (4,0), (4,4), (0,4)
    corners = [state(0, 0, 5), state(0, 4, 5), state(4, 4, 5), state(4, 0, 5)]
    np.testing.assert_array_equal(np.argmax(four.initial_distribution, axis=1), corners)


def test_crowd_avoidance_defaults():
    spec = crowd_avoidance()
    assert (spec.n_states, spec.n_actions, spec.horizon, spec.n_contexts) == (49, 5, 10, 2)
    mu0 = spec.initial_distribution
    # _DEFAULT_INIT_DISTRIB: population 0 has 0.4 at (row 2, columns 1 and 2) and 0.2 at
    # (row 4, column 1); population 1 has 0.2 at (2, 5) and 0.4 at (4, 4) and (4, 5).
    # Rows are y, columns x.
    expected = np.zeros((2, 49))
    for p, cells in enumerate([[(1, 2, 0.4), (2, 2, 0.4), (1, 4, 0.2)],
                               [(5, 2, 0.2), (4, 4, 0.4), (5, 4, 0.4)]]):
        for x, y, prob in cells:
            expected[p, state(x, y, 7)] = prob
    np.testing.assert_array_equal(mu0, expected)


def test_an_initial_distribution_array_is_read_in_openspiels_layout():
    grid = np.zeros((2, 3, 3))          # [population, row y, column x]
    grid[0, 2, 1] = 1.0                 # population 0 at x = 1, y = 2
    grid[1, 0, 2] = 1.0                 # population 1 at x = 2, y = 0
    spec = predator_prey(3, 2, reward_matrix=np.zeros((2, 2)), init_distrib=grid)
    assert np.argmax(spec.initial_distribution[0]) == state(1, 2, 3)
    assert np.argmax(spec.initial_distribution[1]) == state(2, 0, 3)
    flat = predator_prey(3, 2, reward_matrix=np.zeros((2, 2)), init_distrib=grid.ravel())
    np.testing.assert_array_equal(flat.initial_distribution, spec.initial_distribution)


# ------------------------------------------------------------------ transitions by hand
def test_transition_by_hand_square_and_torus():
    size = 5
    square = predator_prey(size, 2).transition
    torus = predator_prey(size, 2, geometry="torus").transition
    corner = state(0, 0, size)
    # Stay at the corner (action 0), noise 0.8: no noise 0.2, noise (0,-1) and (-1,0) clip
    # back to the corner (0.2 each), (1,0) and (0,1) move (0.2 each).
    assert square[corner, 0, corner] == pytest.approx(0.6, abs=1e-15)
    assert square[corner, 0, state(1, 0, size)] == pytest.approx(0.2, abs=1e-15)
    assert square[corner, 0, state(0, 1, size)] == pytest.approx(0.2, abs=1e-15)
    # On the torus (-1, 0) wraps to x = 4.
    assert torus[corner, 0, state(4, 0, size)] == pytest.approx(0.2, abs=1e-15)
    assert torus[corner, 0, corner] == pytest.approx(0.2, abs=1e-15)
    # Action 1 = (1, 0) then noise: centred on (1, 0).
    assert square[corner, 1, state(1, 0, size)] == pytest.approx(0.2 + 0.2, abs=1e-15)
    np.testing.assert_allclose(square.sum(-1), 1.0, rtol=0, atol=1e-14)


def test_crowd_avoidance_walls_stop_moves():
    spec = crowd_avoidance(proba_noise=0.0)
    P = spec.transition
    # (x, y) = (1, 1); action 4 = (-1, 0) aims at (0, 1), a wall ('#' at row 1, column 0).
    assert P[state(1, 1, 7), 4, state(1, 1, 7)] == 1.0
    # action 1 = (1, 0) reaches (2, 1), free (row 1 is "#  #  #").
    assert P[state(1, 1, 7), 1, state(2, 1, 7)] == 1.0
    # (2, 1) -> (3, 1) is the wall in the middle of row 1.
    assert P[state(2, 1, 7), 1, state(2, 1, 7)] == 1.0
    open_spec = crowd_avoidance(proba_noise=0.0, forbidden_states=[])
    assert open_spec.transition[state(1, 1, 7), 4, state(0, 1, 7)] == 1.0
    strings = crowd_avoidance(proba_noise=0.0, forbidden_states="[0|1;3|1]")
    assert strings.transition[state(1, 1, 7), 4, state(1, 1, 7)] == 1.0
    assert strings.transition[state(1, 2, 7), 4, state(0, 2, 7)] == 1.0


# ------------------------------------------------------------------ rewards by hand
def test_predator_prey_reward_by_hand():
    spec = predator_prey(4, 3, reward_matrix=[[0.5, -1.0], [2.0, 0.0]], init_distrib="uniform",
                         congestion_coeff=0.7)
    rng = np.random.default_rng(0)
    mu = rng.dirichlet(np.ones(16), size=2)
    mu[0, 3] = 0.0                                   # an empty cell: the epsilon matters
    mu[0] /= mu[0].sum()
    _, reward = evaluate_step(spec, 1, mu)
    R = np.array([[0.5, -1.0], [2.0, 0.0]])
    expected = -0.7 * np.log(mu + PREDATOR_PREY_EPSILON) + R @ mu     # (K, S)
    np.testing.assert_allclose(reward, np.repeat(expected[..., None], 5, axis=2),
                               rtol=0, atol=1e-12)
    assert reward[0, 3, 0] == pytest.approx(-0.7 * np.log(1e-25) - 1.0 * mu[1, 3], abs=1e-12)


def test_crowd_avoidance_reward_by_hand():
    C = np.array([[0.2, 1.0], [1.0, 0.5]])
    spec = crowd_avoidance(congestion_matrix=C, coef_congestion=1.5, coef_target=0.25,
                           init_distrib="uniform")
    rng = np.random.default_rng(1)
    mu = rng.dirichlet(np.ones(49), size=2)
    _, reward = evaluate_step(spec, 2, mu)
    expected = -1.5 * (C @ mu)
    expected[0, state(5, 3, 7)] += 0.25               # targets (5, 3) and (1, 3)
    expected[1, state(1, 3, 7)] += 0.25
    np.testing.assert_allclose(reward[..., 0], expected, rtol=0, atol=1e-14)
    np.testing.assert_array_equal(reward, np.repeat(reward[..., :1], 5, axis=2))


def test_openspiel_convention_reads_the_flat_init_with_the_support_index_at_t0():
    # Default corners: population 1 starts at (x, y) = (4, 0); at t = 0 OpenSpiel reads
    # flat[q + 3 * (y + 5 x)] = flat[60 + q], inside population 2's block at position
    # 10 + q, which is empty: it sees no-one, -log(1e-25) (module docstring).
    spec = predator_prey()
    faithful = predator_prey(convention="faithful")
    mu0 = spec.initial_distribution
    _, reward = evaluate_step(spec, 0, mu0)
    _, honest = evaluate_step(faithful, 0, mu0)
    s1 = state(4, 0, 5)
    assert reward[1, s1, 0] == pytest.approx(-np.log(1e-25), abs=1e-12)
    assert honest[1, s1, 0] == pytest.approx(-np.log(1.0 + 1e-25) + 0.0, abs=1e-12)
    # Population 0 at (0, 0) reads flat[0..2] = (1, 0, 0): right by coincidence.
    assert reward[0, 0, 0] == pytest.approx(honest[0, 0, 0], abs=1e-12)
    # From t = 1 on both read the flow.
    mu = np.random.default_rng(2).dirichlet(np.ones(25), size=3)
    np.testing.assert_array_equal(evaluate_step(spec, 1, mu)[1], evaluate_step(faithful, 1, mu)[1])


# ------------------------------------------------------------------ closed forms
@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_conventions_differ_by_a_constant_return(backend):
    """The t = 0 reward is action-independent: same flows and exploitability, returns shifted."""
    init = np.random.default_rng(3).dirichlet(np.ones(9), size=2)
    spec = predator_prey(3, 4, reward_matrix=np.eye(2) - 0.5, init_distrib=init)
    faithful = predator_prey(3, 4, reward_matrix=np.eye(2) - 0.5, init_distrib=init,
                             convention="faithful")
    mu0 = spec.initial_distribution
    shift = np.sum(mu0 * (evaluate_step(spec, 0, mu0)[1] - evaluate_step(faithful, 0, mu0)[1])
                   [..., 0], axis=1)
    assert np.max(np.abs(shift)) > 1e-3
    for seed in (0, 1):
        pi = random_policy(spec, seed)
        np.testing.assert_allclose(
            regularised_return(spec, pi, temperature=0.0, backend=backend)
            - regularised_return(faithful, pi, temperature=0.0, backend=backend),
            shift, rtol=0, atol=1e-10)
        np.testing.assert_allclose(exploitability(spec, pi, temperature=0.0, backend=backend),
                                   exploitability(faithful, pi, temperature=0.0, backend=backend),
                                   rtol=0, atol=1e-10)


def test_populations_that_do_not_interact_are_independent_games():
    R = np.diag([0.5, -1.0])
    init = np.random.default_rng(4).dirichlet(np.ones(9), size=2)
    both = predator_prey(3, 4, reward_matrix=R, init_distrib=init, convention="faithful")
    singles = [predator_prey(3, 4, reward_matrix=R[p:p + 1, p:p + 1], init_distrib=init[p:p + 1],
                             convention="faithful") for p in range(2)]
    pi = random_policy(both, 5)
    flow = forward_mean_field(both, pi, backend="numpy").mean_field
    expl = exploitability(both, pi, temperature=0.5, backend="numpy")
    for p, single in enumerate(singles):
        alone = forward_mean_field(single, pi[p:p + 1], backend="numpy").mean_field
        np.testing.assert_allclose(flow[p], alone[0], rtol=0, atol=1e-14)
        np.testing.assert_allclose(
            expl[p], exploitability(single, pi[p:p + 1], temperature=0.5, backend="numpy")[0],
            rtol=0, atol=1e-12)
    result = solve_equilibrium(both, temperature=0.5)
    assert result.converged
    for p, single in enumerate(singles):
        own = exploitability(single, result.policy[p:p + 1], temperature=0.5)[0]
        assert EXPL_FLOOR <= own <= 1e-8


def own_flow_reward(t, observed, context, params, out):
    """-c log(mu(s) + eps) + R00 mu(s): one population, default observation (its own flow)."""
    for s in range(out.shape[0]):
        value = -params[0] * np.log(observed[s] + params[1]) + params[2] * observed[s]
        for a in range(out.shape[1]):
            out[s, a] = value


def test_one_population_is_a_one_type_game():
    init = np.random.default_rng(6).dirichlet(np.ones(16), size=1)
    spec = predator_prey(4, 5, reward_matrix=[[0.75]], init_distrib=init, congestion_coeff=0.6,
                         convention="faithful")
    plain = MFGSpec(n_states=16, n_actions=5, horizon=5, mu0=spec.initial_distribution[0],
                    transition=spec.transition, reward=own_flow_reward, n_contexts=1,
                    params=[0.6, PREDATOR_PREY_EPSILON, 0.75])
    for seed in (0, 1):
        pi = random_policy(spec, seed)
        for backend in ("numpy", "numba"):
            np.testing.assert_allclose(
                forward_mean_field(spec, pi, backend=backend).mean_field,
                forward_mean_field(plain, pi, backend=backend).mean_field, rtol=0, atol=1e-14)
            np.testing.assert_allclose(
                exploitability(spec, pi, temperature=0.0, backend=backend),
                exploitability(plain, pi, temperature=0.0, backend=backend), rtol=0, atol=1e-12)


def test_numpy_and_numba_agree_on_crowd_avoidance():
    spec = crowd_avoidance(5, 6, coef_congestion=2.0, init_distrib="uniform", geometry="torus",
                           forbidden_states=[(2, 2)])
    pi = random_policy(spec, 7)
    flows = [forward_mean_field(spec, pi, backend=b).mean_field for b in ("numpy", "numba")]
    np.testing.assert_allclose(flows[0], flows[1], rtol=0, atol=1e-14)
    values = [exploitability(spec, pi, temperature=0.3, backend=b) for b in ("numpy", "numba")]
    np.testing.assert_allclose(values[0], values[1], rtol=0, atol=1e-12)
    np.testing.assert_allclose(flows[0].sum(-1), 1.0, rtol=0, atol=1e-14)
    assert np.all(values[0] >= EXPL_FLOOR)


def test_cuda_simulator_agrees_with_the_numpy_twin():
    """The CUDA path on Numba's simulator, in its own process (the flag is read at import)."""
    code = textwrap.dedent("""
        import numpy as np
        from tabmfirl import exploitability, forward_mean_field
        from tabmfirl.interop import crowd_avoidance, predator_prey
        worst = 0.0
        for spec in (predator_prey(3, 3, reward_matrix=[[0, 1], [-1, 0.5]],
                                   init_distrib=np.eye(2, 9)),
                     crowd_avoidance(4, 3, coef_congestion=1.0, init_distrib="uniform")):
            pi = np.random.default_rng(0).dirichlet(
                np.ones(5), size=(spec.n_contexts, spec.horizon, spec.n_states))
            flows = [forward_mean_field(spec, pi, backend=b).mean_field for b in ("numpy", "cuda")]
            values = [exploitability(spec, pi, temperature=0.5, backend=b)
                      for b in ("numpy", "cuda")]
            worst = max(worst, np.abs(flows[0] - flows[1]).max(),
                        np.abs(values[0] - values[1]).max())
        print(worst)
    """)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=600, env={**os.environ, "NUMBA_ENABLE_CUDASIM": "1"})
    assert run.returncode == 0, run.stderr
    assert 0.0 <= float(run.stdout.strip().splitlines()[-1]) <= 1e-12


# ------------------------------------------------------------------ equilibrium
@pytest.mark.parametrize("build", [
    lambda: predator_prey(),
    lambda: predator_prey(4, 6, reward_matrix=[[0, 2], [-2, 0]], init_distrib="uniform",
                          geometry="torus"),
    lambda: crowd_avoidance(5, 5, coef_congestion=1.0, init_distrib="uniform"),
    lambda: crowd_avoidance(horizon=6, coef_congestion=1.0),
], ids=["pp-default", "pp-2pop-torus", "ca-5x5", "ca-default-congestion"])
def test_equilibrium_solver_converges(build):
    spec = build()
    result = solve_equilibrium(spec, temperature=1.0)
    assert result.converged
    assert np.all(result.exploitability >= EXPL_FLOOR)
    assert np.all(result.exploitability <= 1e-8)
    # a fresh check of the fixed point: the returned policy's exploitability, recomputed
    fresh = exploitability(spec, result.policy, temperature=1.0)
    assert np.all((fresh >= EXPL_FLOOR) & (fresh <= 1e-8))


# ------------------------------------------------------------------ parameters
def test_from_openspiel_parameters_builds_the_same_game():
    game = FakeGame("python_mfg_predator_prey", size=4, horizon=3, players=2,
                    reward_matrix="0 1.5 -1 0.25", init_distrib="", geometry=1,
                    noise_probability=0.3, congestion_coeff=0.7)
    spec = populations_from_openspiel(game)
    direct = predator_prey(4, 3, reward_matrix=[[0, 1.5], [-1, 0.25]], init_distrib="uniform",
                           geometry="torus", noise_probability=0.3, congestion_coeff=0.7)
    np.testing.assert_array_equal(spec.params, direct.params)
    np.testing.assert_array_equal(spec.transition, direct.transition)
    np.testing.assert_array_equal(spec.initial_distribution, direct.initial_distribution)
    walls = FakeGame("python_mfg_crowd_avoidance", size=5, horizon=2, geometry=0,
                     congestion_matrix="0 1 1 0", init_distrib="", proba_noise=0.5,
                     coef_congestion=1.0, forbidden_states="[1|1]", coef_target=1.0)
    spec = populations_from_openspiel(walls, convention="faithful")
    direct = crowd_avoidance(5, 2, init_distrib="uniform", coef_congestion=1.0,
                             forbidden_states=[(1, 1)], convention="faithful")
    np.testing.assert_array_equal(spec.transition, direct.transition)
    np.testing.assert_array_equal(spec.params, direct.params)


@pytest.mark.parametrize("call, message", [
    (lambda: predator_prey(0), "size must be an integer >= 1"),
    (lambda: predator_prey(5, 0), "horizon must be an integer >= 1"),
    (lambda: predator_prey(noise_probability=1.5), r"noise_probability must lie in \[0, 1\]"),
    (lambda: predator_prey(geometry="hexagon"), "geometry must be 'square'"),
    (lambda: predator_prey(convention="other"), "convention must be 'openspiel' or 'faithful'"),
    (lambda: predator_prey(reward_matrix=np.ones((2, 3))), "reward_matrix must be a square"),
    (lambda: predator_prey(reward_matrix=[[np.nan]]), "reward_matrix must be finite"),
    (lambda: predator_prey(size=4), "init_distrib='corners' is OpenSpiel's 5 x 5 default"),
    (lambda: predator_prey(reward_matrix=np.eye(2)), "init_distrib='corners' is OpenSpiel's"),
    (lambda: predator_prey(init_distrib="everywhere"), "init_distrib must be 'corners'"),
    (lambda: predator_prey(init_distrib=np.ones(5)), "init_distrib must have 3 populations"),
    (lambda: predator_prey(init_distrib=np.ones(75)), "one probability vector per population"),
    (lambda: predator_prey(eps=0.0), "eps must be finite and > 0"),
    (lambda: predator_prey(congestion_coeff=np.inf), "congestion_coeff must be finite"),
    (lambda: crowd_avoidance(congestion_matrix=np.eye(3)), "congestion_matrix must be 2 x 2"),
    (lambda: crowd_avoidance(size=5), "init_distrib='default' is OpenSpiel's 7 x 7 grid"),
    (lambda: crowd_avoidance(proba_noise=-0.1), r"proba_noise must lie in \[0, 1\]"),
    (lambda: crowd_avoidance(forbidden_states="1|1"), "forbidden_states must be 'default'"),
    (lambda: crowd_avoidance(forbidden_states=[(1, 2, 3)]), r"forbidden_states must be \(x, y\)"),
    (lambda: crowd_avoidance(coef_target=np.nan), "coef_target must be finite"),
    (lambda: populations_from_openspiel(FakeGame("mfg_garnet", size=3, horizon=2, geometry=0)),
     "cannot convert the OpenSpiel game 'mfg_garnet'"),
])
def test_bad_parameters_are_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize("call, missing", [
    (lambda: openspiel_population_policy(FakeGame("python_mfg_predator_prey", size=5), None),
     "open_spiel.python.policy"),
    (lambda: openspiel_population_mean_field(FakeGame("python_mfg_predator_prey", size=5), None),
     "open_spiel.python.mfg.algorithms.distribution"),
])
def test_a_missing_openspiel_is_an_import_error_naming_the_extra(monkeypatch, call, missing):
    monkeypatch.setitem(sys.modules, missing, None)       # as if it were not installed
    with pytest.raises(ImportError, match=r'pip install "tabmfirl\[openspiel\]"'):
        call()
