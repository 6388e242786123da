r"""Left or right: a congestion game with a fork.

The left-right game of Cui & Koeppl (2021, "Approximately solving mean field
games via entropy-regularized deep reinforcement learning", AISTATS,
section 5), also in MFGLib (``left_right``; Guo et al. 2023, "MFGLib: a
library for mean field games").

States :math:`s \in \{C=0, L=1, R=2\}` (centre, left, right), actions
:math:`a \in \{L=0, R=1\}`, :math:`\mu_0 = \delta_C`.  Everyone starts in the
centre and, each step, picks a side; crowded sides are penalised.

Dynamics.  Original: the next state is the chosen side,
:math:`P(s' \mid s, a) = \mathbb{1}[s' = a + 1]`.  Variant (ours, the transfer
test): with probability :math:`\varepsilon = 0.1` the agent lands on the other
side,

.. math:: P(a + 1 \mid s, a) = 1 - \varepsilon, \qquad
          P(2 - a \mid s, a) = \varepsilon .

Reward of type :math:`m` (src with :math:`w_m = 2`):

.. math::

    r(C, a, \mu, m) = 0, \qquad r(L, a, \mu, m) = -\mu(L), \qquad
    r(R, a, \mu, m) = -w_m\, \mu(R),

with crowd aversions on the right :math:`w = (1, 2, 4)` for the three types
(ours; the source game is type 1, :math:`w = 2`).  Without entropy a type
balances the sides where :math:`\mu(L) = w_m \mu(R)`.  Horizon :math:`T = 10`
(ours; MFGLib's default is 1).
"""
import numpy as np
from numba import njit

from tabmfirl import MFGSpec

from . import check_builder_args

CENTRE, LEFT, RIGHT = 0, 1, 2
GO_LEFT, GO_RIGHT = 0, 1
HORIZON = 10
MU0 = (1.0, 0.0, 0.0)
#: Crowd aversion on the right of each type (ours); the source game is type 1 (2).
RIGHT_AVERSIONS = (1.0, 2.0, 4.0)
#: Right aversion when ``types=1`` (src).
SOURCE_RIGHT_AVERSION = 2.0
#: Temperature used in the docs and tests (the package default).
TEMPERATURE = 1.0
#: Slip probability :math:`\varepsilon` of each dynamics.
DYNAMICS = {"original": 0.0, "variant": 0.1}


def transition_table(slip: float) -> np.ndarray:
    """``P[s, a, s_next]``: the chosen side, or the other one w.p. ``slip``."""
    P = np.zeros((3, 2, 3))
    P[:, GO_LEFT, LEFT] = 1.0 - slip
    P[:, GO_LEFT, RIGHT] = slip
    P[:, GO_RIGHT, RIGHT] = 1.0 - slip
    P[:, GO_RIGHT, LEFT] = slip
    return P


@njit(cache=True)
def reward(t, observed, context, params, out):
    """Fill ``out[s, a]``; ``params = (w_0, ..., w_{K-1})`` right aversions."""
    for a in range(2):
        out[CENTRE, a] = 0.0
        out[LEFT, a] = -observed[LEFT]
        out[RIGHT, a] = -params[context] * observed[RIGHT]


def make(types: int = 3, *, dynamics: str = "original", horizon: int = HORIZON,
         right_aversions=None) -> MFGSpec:
    """The left-right game with ``types`` agent types.

    Parameters
    ----------
    types : int, default 3
        Number of types: the first ``types`` of ``RIGHT_AVERSIONS`` (``types=1``
        is the source game, :math:`w = 2`), unless ``right_aversions`` is given.
    dynamics : {"original", "variant"}
        No slip, or slip probability 0.1.
    horizon : int, default 10
    right_aversions : sequence of float, optional
        :math:`w_m` of each type (overrides ``types``).

    Returns
    -------
    MFGSpec
    """
    weights = check_builder_args(types, dynamics, DYNAMICS, RIGHT_AVERSIONS, right_aversions,
                                 "right_aversions")
    if right_aversions is None and len(weights) == 1:
        weights = (SOURCE_RIGHT_AVERSION,)
    slip = DYNAMICS[dynamics]
    return MFGSpec(
        n_states=3, n_actions=2, horizon=horizon, mu0=MU0, transition=transition_table(slip),
        reward=reward, n_contexts=len(weights), params=weights, name="left_right",
        info={"dynamics": dynamics, "slip": slip, "right_aversions": list(weights),
              "states": ["centre", "left", "right"], "actions": ["left", "right"]})
