r"""Predators and prey on a ring: types that move differently and read each other's flows.

A two-population game in the spirit of OpenSpiel's ``predator_prey`` mean
field game (Perolat et al. 2022, "Scaling mean field games by online mirror
descent", multi-population example), reduced to a small ring so that every
quantity is exact (ours: the ring, the constants, the third type).  It is the
anchor of issue 18: the hidden types differ in their dynamics *and* their
rewards read the other types' flows (``observation="all_types"``).

States: the cells :math:`s \in \{0, \dots, S-1\}` of a ring (``N_CELLS`` = 8).
Actions :math:`a \in \{0 = \text{left}, 1 = \text{stay}, 2 = \text{right}\}`.
Types: :math:`m = 0` is the predator, :math:`m = 1` (and :math:`m = 2` with
``types=3``, the default) prey; ``types=1`` is the predator alone (no prey:
its hunting term is 0).  Every type starts uniformly on the ring (:math:`\mu_0`
shared, so only the dynamics tell the types apart beyond their rewards).

Dynamics (per type, ``transition_by_context=True``, sparse: the successors of
:math:`s` are :math:`s-2, \dots, s+2` modulo :math:`S`), with noise
:math:`\varepsilon` (0.2 original, 0.3 variant):

* stay: :math:`s` w.p. :math:`1-\varepsilon`, :math:`s \pm 1` w.p.
  :math:`\varepsilon/2` each (every type);
* prey (slow) move in direction :math:`d = \pm 1`: :math:`s+d` w.p.
  :math:`1-\varepsilon`, :math:`s` w.p. :math:`\varepsilon`;
* predator (fast) move: :math:`s+2d` w.p. :math:`(1-\varepsilon)\,j`,
  :math:`s+d` w.p. :math:`(1-\varepsilon)(1-j)`, :math:`s` w.p.
  :math:`\varepsilon`, with :math:`j` = ``FAST_JUMP`` = 0.5.

``same_dynamics=True`` gives every type the slow dynamics (everything else
equal): the control of ``benchmarks/dynamics_recovery.py``.

Reward of type :math:`m` (every type observes the stack of every type's flow,
:math:`\mu_t(\cdot\mid m')` for all :math:`m'`):

.. math::

    r(s, a, \mu, 0) &= h\,\bar\mu^{\text{prey}}_t(s) + g_0(s) - c_0\,\mathbb 1[a \ne 1],
    \qquad \bar\mu^{\text{prey}}_t = \frac{1}{K-1}\sum_{m' \ge 1} \mu_t(\cdot\mid m'),

    r(s, a, \mu, m) &= -f\,\mu_t(s \mid 0) + g_m(s) - c_m\,\mathbb 1[a \ne 1],
    \qquad m \ge 1,

with the location preference :math:`g_m(s) = p\cos(2\pi(s - \text{home}_m)/S)`,
hunting gain :math:`h` = ``HUNT`` = 4, fear :math:`f` = ``FEAR`` = 4,
preference :math:`p` = ``PREFERENCE`` = 0.5, homes ``HOMES`` = (0, 4, 2) and
move costs ``MOVE_COSTS`` = (0.1, 0.3, 0.05).

Constants, horizon and temperature (ours, chosen once on tuning seeds 0-4,
``docs/results.md``, "Types that move differently"): horizon ``HORIZON`` =
10 and temperature ``TEMPERATURE`` = 0.5, the temperature of the grid
(0.25, 0.5, 1.0) at which the Bayes classifier that knows the true
equilibrium, with *shared* dynamics (``same_dynamics=True``), has a mean ARI
closest to 0.5 on seeds 0-4 (200 agents per type): types neither trivially
separable nor indistinguishable from their actions alone, so that what the
dynamics add can be measured.  The other constants were set before that
measurement and not changed.
"""
import numpy as np
from numba import njit

from tabmfirl import MFGSpec

from . import check_builder_args

LEFT, STAY, RIGHT = 0, 1, 2
N_CELLS = 8
HORIZON = 10
#: Temperature of the docs, tests and ``benchmarks/dynamics_recovery.py`` (module docstring).
TEMPERATURE = 0.5
HUNT = 4.0
FEAR = 4.0
PREFERENCE = 0.5
#: Home cell of each type (predator, prey, second prey).
HOMES = (0.0, 4.0, 2.0)
#: Cost of moving of each type (predator, prey, second prey).
MOVE_COSTS = (0.1, 0.3, 0.05)
#: Probability that a fast (predator) move covers two cells rather than one.
FAST_JUMP = 0.5
#: Noise :math:`\varepsilon` of each dynamics.
DYNAMICS = {"original": 0.2, "variant": 0.3}
#: Successor offsets of the sparse layout.
OFFSETS = (-2, -1, 0, 1, 2)


def transition_table(n_cells: int, noise: float, fast: bool) -> np.ndarray:
    r"""``P[s, a, w]`` over the successors ``(s + OFFSETS[w]) % n_cells``: fast or slow moves."""
    P = np.zeros((n_cells, 3, len(OFFSETS)))
    at = {offset: i for i, offset in enumerate(OFFSETS)}
    P[:, STAY, at[0]] = 1.0 - noise
    P[:, STAY, at[-1]] += noise / 2
    P[:, STAY, at[1]] += noise / 2
    for action, d in ((LEFT, -1), (RIGHT, 1)):
        P[:, action, at[0]] = noise
        if fast:
            P[:, action, at[2 * d]] = (1.0 - noise) * FAST_JUMP
            P[:, action, at[d]] = (1.0 - noise) * (1.0 - FAST_JUMP)
        else:
            P[:, action, at[d]] = 1.0 - noise
    return P


def next_states(n_cells: int) -> np.ndarray:
    """``next_states[s, a, w] = (s + OFFSETS[w]) % n_cells``, shape ``(S, 3, 5)``."""
    cells = (np.arange(n_cells)[:, None] + np.array(OFFSETS)[None, :]) % n_cells
    return np.ascontiguousarray(np.broadcast_to(cells[:, None, :], (n_cells, 3, len(OFFSETS))),
                                dtype=np.int64)


@njit(cache=True)
def reward(t, observed, context, params, out):
    """Fill ``out[s, a]``; ``params = (K, hunt, fear, preference, homes[K], move_costs[K])``.

    ``observed[m * S + s]`` is :math:`\\mu_t(s \\mid m)` (``observation="all_types"``).
    """
    S = out.shape[0]
    K = int(params[0])
    hunt, fear, preference = params[1], params[2], params[3]
    home = params[4 + context]
    cost = params[4 + K + context]
    for s in range(S):
        if context == 0:
            prey = 0.0
            for m in range(1, K):
                prey += observed[m * S + s]
            interaction = hunt * prey / (K - 1) if K > 1 else 0.0
        else:
            interaction = -fear * observed[s]
        base = interaction + preference * np.cos(2.0 * np.pi * (s - home) / S)
        for a in range(3):
            out[s, a] = base - (0.0 if a == STAY else cost)


def make(types: int = 3, *, dynamics: str = "original", horizon: int = HORIZON,
         same_dynamics: bool = False, move_costs=None) -> MFGSpec:
    """The predator-prey ring with ``types`` hidden types (a predator and 1 or 2 prey).

    Parameters
    ----------
    types : {1, 2, 3}, default 3
        Predator and prey, or predator and two prey (homes and move costs
        ``HOMES``, ``MOVE_COSTS``); ``types=1`` is the predator alone (no prey
        to hunt: a one-population ring game, for the checks every game takes).
    dynamics : {"original", "variant"}
        Noise 0.2 or 0.3.
    horizon : int, default 10
    same_dynamics : bool, default False
        Every type moves slowly (the predator loses its two-cell moves);
        everything else equal.
    move_costs : sequence of float, optional
        :math:`c_m` of each type (overrides ``types``; 1 to 3 entries).

    Returns
    -------
    MFGSpec
        ``transition_by_context=True``, ``observation="all_types"``, sparse.

    Raises
    ------
    ValueError
        ``types`` not 1, 2 or 3, unknown ``dynamics``, bad ``move_costs``.

    Examples
    --------
    >>> spec = make()
    >>> spec.n_states, spec.n_actions, spec.n_contexts, spec.observed_dim
    (8, 3, 3, 24)
    """
    costs = check_builder_args(types, dynamics, DYNAMICS, MOVE_COSTS, move_costs, "move_costs")
    K = len(costs)
    if K > 3:
        raise ValueError(f"predator_prey has at most 3 types (a predator and up to 2 prey), "
                         f"got {K}")
    if not isinstance(same_dynamics, (bool, np.bool_)):
        raise ValueError(f"same_dynamics must be True or False, got {same_dynamics!r}")
    noise = DYNAMICS[dynamics]
    slow = transition_table(N_CELLS, noise, fast=False)
    fast = slow if same_dynamics else transition_table(N_CELLS, noise, fast=True)
    transition = np.stack([fast] + [slow] * (K - 1))
    params = np.concatenate([[K, HUNT, FEAR, PREFERENCE], HOMES[:K], costs])
    return MFGSpec(
        n_states=N_CELLS, n_actions=3, horizon=horizon, mu0=np.full(N_CELLS, 1.0 / N_CELLS),
        transition=transition, next_states=next_states(N_CELLS), reward=reward, n_contexts=K,
        params=params, transition_by_context=True, observation="all_types",
        name="predator_prey",
        info={"dynamics": dynamics, "noise": noise, "same_dynamics": bool(same_dynamics),
              "fast_jump": FAST_JUMP, "hunt": HUNT, "fear": FEAR, "preference": PREFERENCE,
              "homes": list(HOMES[:K]), "move_costs": list(costs),
              "types": ["predator", "prey", "prey 2"][:K],
              "actions": ["left", "stay", "right"]})
