"""The sparse crowd grid game: hand-derived tables, and it solves at a small size."""
import numpy as np
import pytest

import tabmfirl
from tabmfirl.envs import crowd_grid


def test_transitions_and_rewards_by_hand():
    # side 3: cells numbered row * 3 + col; the target is the centre cell 4.
    spec = crowd_grid.make(types=2, side=3, horizon=2)
    uniform = np.full((2, 9), 1 / 9)
    P, R = tabmfirl.evaluate_step(spec, 0, uniform)
    dense = tabmfirl.EvaluatedModel(P[:1], np.zeros((1, 1), dtype=int), R[:1, None],
                                    spec.next_states).dense_transition()[0, 0]
    # corner 0 choosing "up" (a wall): stays w.p. 0.9 (the move) + 0.025 (slip to stay)
    # + 0.025 (slip left, also a wall) = 0.95; down to 3 and right to 1: 0.025 each.
    np.testing.assert_allclose(dense[0, crowd_grid.UP], [0.95, 0.025, 0, 0.025, 0, 0, 0, 0, 0],
                               rtol=0, atol=1e-15)
    # centre 4 choosing "right": 5 w.p. 0.9; 4 (stay), 1 (up), 7 (down), 3 (left): 0.025 each.
    expected = np.zeros(9)
    expected[[4, 1, 7, 3]] = 0.025
    expected[5] = 0.9
    np.testing.assert_allclose(dense[4, crowd_grid.RIGHT], expected, rtol=0, atol=1e-15)
    # reward at corner 0, type 0 (weight 1), uniform crowd S mu(s) = 1:
    # -1 * d(0, 4)/3 - 0.003 * 1 = -2/3 - 0.003 (stay); minus 0.01 for a move.
    assert R[0, 0, crowd_grid.STAY] == pytest.approx(-2 / 3 - 0.003, abs=1e-15)
    assert R[0, 0, crowd_grid.UP] == pytest.approx(-2 / 3 - 0.003 - 0.01, abs=1e-15)
    # type 1 (weight 0.5) at the target: only the crowding term.
    assert R[1, 4, crowd_grid.STAY] == pytest.approx(-0.003, abs=1e-15)


def test_small_grid_solves_and_types_differ():
    spec = crowd_grid.make(side=10, horizon=20)
    result = tabmfirl.solve_equilibrium(spec, tol=1e-9, **crowd_grid_settings())
    assert result.converged and result.exploitability.max() < 1e-8
    # types that care more about the target end closer to it (mean distance at T)
    side = 10
    cells = np.arange(side * side)
    distance = np.abs(cells // side - side // 2) + np.abs(cells % side - side // 2)
    final = result.mean_field[:, -1] @ distance
    assert final[2] < final[0] < final[1]


def crowd_grid_settings():
    """The solver settings the game registers."""
    return tabmfirl.envs.solver_settings("crowd_grid")
