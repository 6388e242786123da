"""Every shipped game converges with the default solver (issue 13).

Each game at 1 and 3 types (3 is every game's default), both dynamics, and
temperatures 0.05, 0.1, 1 and 10, with nothing but the temperature given.
The crowd grid is 10^4 states: its full size runs at temperatures 1 and 10
(``slow``; about 15 and 5 iterations of about 1 s each on 2 cores) and the
low temperatures run on the same game at side 30 (900 states; 50-150
iterations of about 0.1 s); ``benchmarks/bench_solvers.py`` measures the full
size at low temperature (docs/theory.md).
"""
import numpy as np
import pytest

import tabmfirl
from tabmfirl import envs

TEMPERATURES = (0.05, 0.1, 1.0, 10.0)
SMALL_GAMES = sorted(set(envs.GAMES) - {"crowd_grid"})


def _assert_equilibrium(spec, result, backend):
    """Converged, and a fresh forward/backward pass (not the solver's) agrees."""
    assert result.converged, result.message
    assert result.method == "auto" and result.residual < 1e-10
    best = tabmfirl.best_response(spec, result.policy, temperature=result.temperature,
                                  backend=backend)
    np.testing.assert_allclose(result.policy, best.policy, rtol=0, atol=1e-8)
    expl = tabmfirl.exploitability(spec, result.policy, temperature=result.temperature,
                                   backend=backend)
    assert np.all(expl >= -1e-12) and np.all(expl <= 1e-8), expl


@pytest.mark.parametrize("temperature", TEMPERATURES)
@pytest.mark.parametrize("dynamics", ["original", "variant"])
@pytest.mark.parametrize("types", [1, 3])
@pytest.mark.parametrize("name", SMALL_GAMES)
def test_small_games_converge_with_defaults(name, types, dynamics, temperature):
    spec = envs.make(name, types=types, dynamics=dynamics)
    result = tabmfirl.solve_equilibrium(spec, temperature=temperature)
    _assert_equilibrium(spec, result, "numpy")


@pytest.mark.slow
@pytest.mark.parametrize("temperature", TEMPERATURES)
@pytest.mark.parametrize("dynamics", ["original", "variant"])
@pytest.mark.parametrize("types", [1, 3])
def test_crowd_grid_side_30_converges_with_defaults(types, dynamics, temperature):
    spec = envs.make("crowd_grid", types=types, dynamics=dynamics, side=30)
    result = tabmfirl.solve_equilibrium(spec, temperature=temperature)
    _assert_equilibrium(spec, result, "numba")


@pytest.mark.slow
@pytest.mark.parametrize("temperature", [1.0, 10.0])
@pytest.mark.parametrize("dynamics", ["original", "variant"])
@pytest.mark.parametrize("types", [1, 3])
def test_full_crowd_grid_converges_with_defaults(types, dynamics, temperature):
    spec = envs.make("crowd_grid", types=types, dynamics=dynamics)
    result = tabmfirl.solve_equilibrium(spec, temperature=temperature)
    _assert_equilibrium(spec, result, "numba")
