r"""Generalised rock-paper-scissors: a cyclic mean field game.

The rock-paper-scissors game of Cui & Koeppl (2021, "Approximately solving
mean field games via entropy-regularized deep reinforcement learning",
AISTATS, section 5), also in MFGLib (``rock_paper_scissors``; Guo et al. 2023,
"MFGLib: a library for mean field games").

States :math:`s \in \{\varnothing=0, R=1, P=2, S=3\}` (the hand played last;
:math:`\varnothing` the null start), actions :math:`a \in \{R=0, P=1, S=2\}`,
:math:`\mu_0 = \delta_\varnothing`.  The state is the hand just played, so the
payoff of a hand is collected one step after choosing it.

Dynamics.  Original: the next state is the chosen hand,
:math:`P(s' \mid s, a) = \mathbb{1}[s' = h(a)]` with :math:`h(a) = a + 1`.
Variant (ours, the transfer test): the hand slips with probability
:math:`\varepsilon = 0.1` to a uniformly drawn hand,

.. math:: P(s' \mid s, a) = (1 - \varepsilon)\, \mathbb{1}[s' = h(a)]
          + \frac{\varepsilon}{3}\, \mathbb{1}[s' \ne \varnothing].

Reward of type :math:`m` (payoffs src, switching cost ours):

.. math::

    r(s, a, \mu, m) = u(s, \mu) - c_m\, \mathbb{1}[s \ne \varnothing,\ h(a) \ne s],

    u(R, \mu) = 2\mu(S) - \mu(P), \quad
    u(P, \mu) = 4\mu(R) - 2\mu(S), \quad
    u(S, \mu) = 6\mu(P) - 3\mu(R), \quad
    u(\varnothing, \mu) = 0,

with switching costs :math:`c = (0, 0.5, 1)` for the three types (ours; the
source game is type 0, :math:`c = 0`): types differ in how reluctant they are
to change hands.  Horizon :math:`T = 10` (ours; MFGLib's default is 2).
"""
import numpy as np
from numba import njit

from tabmfirl import MFGSpec

from . import check_builder_args

NULL, ROCK, PAPER, SCISSORS = 0, 1, 2, 3
HORIZON = 10
MU0 = (1.0, 0.0, 0.0, 0.0)
#: Switching cost of each type (ours); the source game is type 0 (no cost).
SWITCHING_COSTS = (0.0, 0.5, 1.0)
#: Temperature used in the docs and tests (the package default).
TEMPERATURE = 1.0
#: Slip probability :math:`\varepsilon` of each dynamics.
DYNAMICS = {"original": 0.0, "variant": 0.1}


def transition_table(slip: float) -> np.ndarray:
    """``P[s, a, s_next]``: the chosen hand, or a uniform hand w.p. ``slip``."""
    P = np.zeros((4, 3, 4))
    for a in range(3):
        P[:, a, 1:] = slip / 3.0
        P[:, a, a + 1] += 1.0 - slip
    return P


@njit(cache=True)
def reward(t, observed, context, params, out):
    """Fill ``out[s, a]``; ``params = (c_0, ..., c_{K-1})`` switching costs."""
    rock, paper, scissors = observed[ROCK], observed[PAPER], observed[SCISSORS]
    cost = params[context]
    for a in range(3):
        out[NULL, a] = 0.0
        out[ROCK, a] = 2.0 * scissors - paper
        out[PAPER, a] = 4.0 * rock - 2.0 * scissors
        out[SCISSORS, a] = 6.0 * paper - 3.0 * rock
    for s in range(1, 4):
        for a in range(3):
            if a + 1 != s:
                out[s, a] -= cost


def make(types: int = 3, *, dynamics: str = "original", horizon: int = HORIZON,
         switching_costs=None) -> MFGSpec:
    """The rock-paper-scissors game with ``types`` agent types.

    Parameters
    ----------
    types : int, default 3
        Number of types: the first ``types`` of ``SWITCHING_COSTS`` (``types=1``
        is the source game, no switching cost), unless ``switching_costs`` is
        given.
    dynamics : {"original", "variant"}
        No slip, or slip probability 0.1.
    horizon : int, default 10
    switching_costs : sequence of float, optional
        :math:`c_m` of each type (overrides ``types``).

    Returns
    -------
    MFGSpec
    """
    costs = check_builder_args(types, dynamics, DYNAMICS, SWITCHING_COSTS, switching_costs,
                               "switching_costs")
    slip = DYNAMICS[dynamics]
    return MFGSpec(
        n_states=4, n_actions=3, horizon=horizon, mu0=MU0, transition=transition_table(slip),
        reward=reward, n_contexts=len(costs), params=costs, name="rock_paper_scissors",
        info={"dynamics": dynamics, "slip": slip, "switching_costs": list(costs),
              "states": ["null", "rock", "paper", "scissors"],
              "actions": ["rock", "paper", "scissors"]})
