r"""Virus spread (SIS) with social distancing: a two-state mean field game.

The susceptible-infected-susceptible game of Cui & Koeppl (2021, "Approximately
solving mean field games via entropy-regularized deep reinforcement learning",
AISTATS, section 5), used by MFGLib as ``susceptible_infected`` and by the
mean field IRL papers (Chen et al. 2022, "Individual-level inverse
reinforcement learning for mean field games"; Chen et al. 2023, PEMMFIRL).

States :math:`s \in \{S=0, I=1\}`, actions :math:`a \in \{\text{out}=0,
\text{distance}=1\}`, :math:`\mu_0 = (0.4, 0.6)`, horizon :math:`T = 50`.

Dynamics (original), with :math:`\mu(I)` the infected share of the agent's type:

.. math::

    P(I \mid S, \text{out}, \mu) = 0.81\, \mu(I), \qquad
    P(I \mid S, \text{distance}) = 0, \qquad
    P(S \mid I, a) = 0.3 .

Variant dynamics (the transfer test): infection :math:`0.64\,\mu(I)`,
recovery :math:`0.2`.

Reward of type :math:`m`:

.. math:: r(s, a, m) = -\mathbb{1}[s = I] - c_m \mathbb{1}[a = \text{distance}],

with distancing costs :math:`c = (0.1, 0.5, 1.5)` for the three types (ours;
the source has one type with :math:`c = 0.5`; see ``envs/__init__.py`` for
how the types' constants were chosen).

The transition reads the type's own infected share; the reward is
mean-field independent.
"""
import numpy as np
from numba import njit

from tabmfirl import MFGSpec

from . import check_builder_args

SUSCEPTIBLE, INFECTED = 0, 1
OUT, DISTANCE = 0, 1
HORIZON = 50
MU0 = (0.4, 0.6)
#: Distancing cost of each type (ours); the source game is type 1 (0.5).
DISTANCING_COSTS = (0.1, 0.5, 1.5)
#: Distancing cost when ``types=1`` (src).
SOURCE_DISTANCING_COST = 0.5
#: Temperature used in the docs and tests (the package default).
TEMPERATURE = 1.0
#: (infection rate, recovery probability) of each dynamics.
DYNAMICS = {"original": (0.81, 0.3), "variant": (0.64, 0.2)}


@njit(cache=True)
def transition(t, observed, params, out):
    """Fill ``out[s, a, s_next]`` from the infected share ``observed[1]``."""
    infection = params[0] * observed[INFECTED]
    recovery = params[1]
    out[SUSCEPTIBLE, OUT, SUSCEPTIBLE] = 1.0 - infection
    out[SUSCEPTIBLE, OUT, INFECTED] = infection
    out[SUSCEPTIBLE, DISTANCE, SUSCEPTIBLE] = 1.0
    out[SUSCEPTIBLE, DISTANCE, INFECTED] = 0.0
    for a in range(2):
        out[INFECTED, a, SUSCEPTIBLE] = recovery
        out[INFECTED, a, INFECTED] = 1.0 - recovery


def reward_table(costs) -> np.ndarray:
    """Reward ``r[m, s, a]`` for distancing costs ``costs``."""
    costs = np.asarray(costs, dtype=float)
    reward = np.zeros((costs.size, 2, 2))
    reward[:, INFECTED, :] -= 1.0
    reward[:, :, DISTANCE] -= costs[:, None]
    return reward


def make(types: int = 3, *, dynamics: str = "original", horizon: int = HORIZON,
         costs=None) -> MFGSpec:
    """The virus game with ``types`` agent types.

    Parameters
    ----------
    types : int, default 3
        Number of types: the first ``types`` of ``DISTANCING_COSTS``
        (``types=1`` is the source game, :math:`c = 0.5`), unless ``costs`` is
        given.
    dynamics : {"original", "variant"}
        Infection rate and recovery probability (0.81, 0.3) or (0.64, 0.2).
    horizon : int, default 50
    costs : sequence of float, optional
        Distancing cost of each type (overrides ``types``).

    Returns
    -------
    MFGSpec
    """
    given = costs
    costs = check_builder_args(types, dynamics, DYNAMICS, DISTANCING_COSTS, costs, "costs")
    if given is None and len(costs) == 1:
        costs = (SOURCE_DISTANCING_COST,)
    infection, recovery = DYNAMICS[dynamics]
    return MFGSpec(
        n_states=2, n_actions=2, horizon=horizon, mu0=MU0, transition=transition,
        reward=reward_table(costs), params=[infection, recovery], name="virus",
        info={"dynamics": dynamics, "distancing_costs": list(map(float, costs)),
              "infection_rate": infection, "recovery": recovery,
              "states": ["susceptible", "infected"], "actions": ["out", "distance"]})
