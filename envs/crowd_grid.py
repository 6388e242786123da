r"""Crowd-averse walk to a target on a square grid: a large sparse mean field game.

A benchmark in the spirit of the crowd-motion games of MFGLib and OpenSpiel
(Laurière et al. 2022, "Scalable deep reinforcement learning algorithms for mean
field games", crowd modelling), sized to test sparse transitions: ``side x side``
cells (default 100 x 100 = 10^4 states), actions stay / up / down / left /
right, horizon 100.

Dynamics (sparse, 5 successors per row): the chosen move succeeds with
probability :math:`1 - \epsilon` and each of the other four moves happens with
probability :math:`\epsilon / 4`; a move into a wall stays in place.

Reward of type :math:`m` (the mean field enters through the crowding at the
agent's own cell):

.. math::

    r(s, a, \mu, m) = -w_m \frac{d(s, g)}{\text{side}} - c\, S\, \mu(s)
                      - \kappa\, \mathbb{1}[a \ne \text{stay}],

with :math:`d` the Manhattan distance to the target cell :math:`g` (the grid's
centre), :math:`S\mu(s)` the crowding relative to a uniform crowd, crowd
aversion :math:`c = 0.003`, move cost :math:`\kappa = 0.01`, and target weights
:math:`w = (1, 0.5, 2)` for the three types (ours).  Agents start uniformly
over the grid.
"""
import numpy as np
from numba import njit

from tabmfirl import MFGSpec

from . import check_builder_args

STAY, UP, DOWN, LEFT, RIGHT = range(5)
SIDE = 100
HORIZON = 100
SLIP = 0.1
CROWD_AVERSION = 0.003
MOVE_COST = 0.01
TARGET_WEIGHTS = (1.0, 0.5, 2.0)
#: Temperature used in the docs and tests.
TEMPERATURE = 1.0

_MOVES = ((0, 0), (-1, 0), (1, 0), (0, -1), (0, 1))


def next_state_table(side: int) -> np.ndarray:
    """``next_states[s, a, j]``: the cell that move ``j`` leads to (walls: stay)."""
    n = side * side
    rows, cols = np.divmod(np.arange(n), side)
    table = np.zeros((n, 5, 5), dtype=np.int64)
    for j, (dr, dc) in enumerate(_MOVES):
        r = np.clip(rows + dr, 0, side - 1)
        c = np.clip(cols + dc, 0, side - 1)
        table[:, :, j] = (r * side + c)[:, None]
    return table


def transition_values(slip: float) -> np.ndarray:
    """``values[a, j]``: probability that move ``j`` happens when ``a`` is chosen."""
    values = np.full((5, 5), slip / 4)
    np.fill_diagonal(values, 1.0 - slip)
    return values


@njit(cache=True)
def reward(t, observed, context, params, out):
    """Fill ``out[s, a]``; params = [side, crowd aversion, move cost, weights...]."""
    side = int(params[0])
    crowd, move_cost, weight = params[1], params[2], params[3 + context]
    n = side * side
    centre = side // 2
    for s in range(n):
        distance = abs(s // side - centre) + abs(s % side - centre)
        base = -weight * distance / side - crowd * n * observed[s]
        out[s, 0] = base
        for a in range(1, 5):
            out[s, a] = base - move_cost


def make(types: int = 3, *, dynamics: str = "original", horizon: int = HORIZON,
         side: int = SIDE) -> MFGSpec:
    """The crowd grid game with ``types`` target weights.

    ``dynamics="variant"`` doubles the slip probability (0.2).
    """
    slips = {"original": SLIP, "variant": 2 * SLIP}
    weights = check_builder_args(types, dynamics, slips, TARGET_WEIGHTS, None,
                                 "target_weights")
    n = side * side
    values = np.broadcast_to(transition_values(slips[dynamics]), (n, 5, 5))
    params = [side, CROWD_AVERSION, MOVE_COST, *weights]
    return MFGSpec(n_states=n, n_actions=5, horizon=horizon, mu0=np.full(n, 1.0 / n),
                   transition=np.ascontiguousarray(values), reward=reward, n_contexts=len(weights),
                   next_states=next_state_table(side), params=params, name="crowd_grid",
                   info={"side": side, "slip": slips[dynamics],
                         "target_weights": list(weights)})
