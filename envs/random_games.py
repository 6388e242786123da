r"""Random multi-type congestion games on graphs: instances no choice was tuned on.

A generator (issue 15, item 4), not a game from the literature: each seed
draws a graph, the types' constants and the initial distribution, so that
claims about the IRL methods can be measured on many instances.  The
congestion part follows the crowd games of Laurière et al. (2022, "Scalable
deep reinforcement learning algorithms for mean field games", ICML) and
issue 13's congestion ring; the neighbourhood (aversion / attraction) term
and the per-type constants are ours.

Graph.  ``topology="ring"`` (a cycle on :math:`S` nodes), ``"grid"`` (the
most square ``rows x cols`` grid with ``rows * cols = S``, 4-neighbourhood;
a prime :math:`S` gives a path) or ``"random"`` (a random spanning tree, each
node :math:`s \ge 1` joining a uniformly drawn earlier node, plus every other
edge independently with probability ``edge_probability``).  :math:`N(s)` are
the neighbours of node :math:`s`, :math:`D = \max_s |N(s)|` the largest degree.

Actions and dynamics (independent of the mean field).  :math:`A = 1 + D`
actions: :math:`a = 0` stays, :math:`a = j \ge 1` moves to the :math:`j`-th
neighbour :math:`n_j(s)` (sorted), and :math:`a > |N(s)|` stays (padding, no
move cost).  With :math:`d(s, a)` the intended node, the agent lands there
with probability :math:`1 - \varepsilon`, and with probability
:math:`\varepsilon` (the slip) on a uniformly drawn node of the closed
neighbourhood :math:`\bar N(s) = \{s\} \cup N(s)`:

.. math::

    P(s' \mid s, a) = (1 - \varepsilon)\, \mathbb{1}[s' = d(s, a)]
                      + \frac{\varepsilon}{|\bar N(s)|}\, \mathbb{1}[s' \in \bar N(s)].

Reward of type :math:`m` (each type observes its own flow :math:`\mu`):

.. math::

    r(s, a, \mu, m) = g_m(s) - \kappa_m \mathbb{1}[a \text{ moves}]
                      - c\, \mu(s) + \frac{\alpha_m}{D} \sum_{s' \in N(s)} \mu(s'),

a location preference :math:`g_m`, a move cost :math:`\kappa_m > 0`,
congestion :math:`c > 0` at the agent's own node (shared), and attraction
(:math:`\alpha_m > 0`) to or aversion (:math:`\alpha_m < 0`) from the crowd
on the neighbouring nodes.

Types and separation :math:`\sigma \ge 0` (``separation``).  Shared draws
:math:`\bar g(s) \sim U(0, 1)`, :math:`\bar\kappa \sim U(0.05, 0.3)`,
:math:`\bar a \sim N(0, 0.5^2)` and per-type deviations
:math:`\delta_m(s), \eta_m, \zeta_m \sim N(0, 1)` give

.. math::

    g_m(s) = \bar g(s) + \sigma\, \delta_m(s), \qquad
    \kappa_m = \bar\kappa\, e^{\sigma \eta_m}, \qquad
    \alpha_m = 0.9\, c \tanh(\bar a + \sigma \zeta_m),

so :math:`\sigma = 0` gives identical types and a larger :math:`\sigma` moves
the types apart along the same (seeded) directions: the draws do not depend
on :math:`\sigma`.  Congestion :math:`c \sim U(1, 3)` unless given.

Uniqueness.  :math:`|\alpha_m| \le 0.9\, c` and the symmetric operator
:math:`\nu \mapsto (1/D) \sum_{s' \in N(s)} \nu(s')` has spectral radius at
most 1, so :math:`\sum_s (r(s, \cdot, \nu) - r(s, \cdot, \nu'))(\nu - \nu')(s)
\le -0.1\, c\, \|\nu - \nu'\|^2`: every type's game is monotone in the sense
of Lasry & Lions (2007, "Mean field games", Jpn. J. Math. 2, 229-260) and,
with entropy regularisation, has a unique equilibrium.

Initial distribution :math:`\mu_0 \sim \mathrm{Dirichlet}(2, \dots, 2)`
(shared by the types), horizon :math:`T = 30`.  ``dynamics="variant"`` (the
transfer test) raises the slip to :math:`\min(1, \varepsilon + 0.2)`.
Everything random comes from ``numpy.random.default_rng(seed)``, drawn in a
fixed order, so a seed gives the same game on every machine.
"""
import numpy as np
from numba import njit

from tabmfirl import MFGSpec
from tabmfirl.testing import graph_neighbours

HORIZON = 30
#: Temperature used in the docs and tests (the benchmarks' :math:`\beta`).
TEMPERATURE = 0.1
N_STATES = 8
TOPOLOGIES = ("ring", "grid", "random")
#: Slip probability :math:`\varepsilon` of the original dynamics.
SLIP = 0.1
#: What the variant adds to the slip probability (capped at 1).
VARIANT_EXTRA_SLIP = 0.2
DYNAMICS = ("original", "variant")
#: Default separation :math:`\sigma` of the types' constants.
SEPARATION = 0.5
#: Probability of each edge beyond the spanning tree (``topology="random"``).
EDGE_PROBABILITY = 0.2
#: :math:`|\alpha_m| \le` this times :math:`c` (keeps every type's game monotone).
ATTRACTION_BOUND = 0.9
MAX_TYPES = 20
MAX_STATES = 400

# params = [S, A, K, c, D, g (K*S), kappa (K), alpha (K), moves (S*A), adjacency (S*S)]
_HEADER = 5


@njit(cache=True)
def reward(t, observed, context, params, out):
    """Fill ``out[s, a]`` (module docstring); ``params`` laid out as in ``_HEADER``'s comment."""
    S, A = out.shape
    K = int(params[2])
    c, degree = params[3], params[4]
    start = _HEADER + context * S
    preference = params[start:start + S]
    start = _HEADER + K * S
    move_cost = params[start + context]
    attraction = params[start + K + context]
    moves = params[start + 2 * K:start + 2 * K + S * A]
    adjacency = params[start + 2 * K + S * A:start + 2 * K + S * A + S * S]
    for s in range(S):
        near = 0.0
        for j in range(S):
            near += adjacency[s * S + j] * observed[j]
        base = preference[s] - c * observed[s] + attraction * near / degree
        for a in range(A):
            out[s, a] = base - move_cost * moves[s * A + a]


def neighbours(topology: str, n_states: int, rng, edge_probability: float = EDGE_PROBABILITY):
    """Sorted neighbour lists of the graph (module docstring), a list of ``n_states`` lists.

    ``rng``: a ``numpy.random.Generator`` or seed (only ``"random"`` draws).

    Examples
    --------
    >>> neighbours("ring", 4, None)
    [[1, 3], [0, 2], [1, 3], [0, 2]]
    >>> neighbours("grid", 6, None)
    [[1, 3], [0, 2, 4], [1, 5], [0, 4], [1, 3, 5], [2, 4]]
    """
    if topology not in TOPOLOGIES:
        raise ValueError(f"topology must be one of {TOPOLOGIES}, got {topology!r}")
    return graph_neighbours(topology, n_states, rng, edge_probability)


def transition_table(graph, slip: float):
    r"""Sparse dynamics of the module docstring: ``(next_states, transition, moves)``.

    ``next_states[s, a, j]`` is the ``j``-th node of :math:`\bar N(s)` (padded
    with ``s`` at probability 0), ``transition[s, a, j]`` its probability and
    ``moves[s, a]`` 1 where action ``a`` moves (pays :math:`\kappa_m`).

    Examples
    --------
    >>> nxt, p, moves = transition_table([[1], [0]], 0.5)
    >>> nxt[0].tolist(), p[0].tolist(), moves.tolist()
    ([[0, 1], [0, 1]], [[0.75, 0.25], [0.25, 0.75]], [[0.0, 1.0], [0.0, 1.0]])
    """
    S = len(graph)
    A = 1 + max(len(x) for x in graph)
    next_states = np.zeros((S, A, A), dtype=np.int64)
    transition = np.zeros((S, A, A))
    moves = np.zeros((S, A))
    for s, near in enumerate(graph):
        closed = [s] + list(near)
        next_states[s, :, :] = s
        next_states[s, :, :len(closed)] = closed
        for a in range(A):
            target = a if a < len(closed) else 0     # padding actions stay
            transition[s, a, :len(closed)] = slip / len(closed)
            transition[s, a, target] += 1.0 - slip
            moves[s, a] = float(0 < a < len(closed))
    return next_states, transition, moves


def _check_number(value, name, low, high, *, integer=False):
    """``value`` as int/float after checking ``low <= value <= high`` (one-line error)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(
            value, (int, np.integer) if integer else (int, float, np.integer, np.floating)):
        kind = "an integer" if integer else "a number"
        raise ValueError(f"{name} must be {kind} in [{low}, {high}], got {value!r}")
    if not (low <= value <= high):        # also rejects NaN
        raise ValueError(f"{name} must be in [{low}, {high}], got {value!r}")
    return int(value) if integer else float(value)


def _check_args(types, dynamics, horizon, seed, topology, n_states, separation, congestion,
                slip, edge_probability):
    if dynamics not in DYNAMICS:
        raise ValueError(f"dynamics must be one of {DYNAMICS}, got {dynamics!r}")
    if topology not in TOPOLOGIES:
        raise ValueError(f"topology must be one of {TOPOLOGIES}, got {topology!r}")
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    _check_number(types, "types", 1, MAX_TYPES, integer=True)
    _check_number(horizon, "horizon", 1, 10**6, integer=True)
    _check_number(n_states, "n_states", 3, MAX_STATES, integer=True)
    _check_number(separation, "separation", 0.0, 100.0)
    _check_number(slip, "slip", 0.0, 1.0)
    _check_number(edge_probability, "edge_probability", 0.0, 1.0)
    if congestion is not None:
        _check_number(congestion, "congestion", 1e-6, 1e6)


def _draw_constants(rng, K, S, separation, congestion):
    """The types' constants of the module docstring, drawn in a fixed order (independent of
    ``separation``)."""
    base_preference = rng.uniform(0.0, 1.0, S)
    base_cost = rng.uniform(0.05, 0.3)
    base_attraction = rng.normal(0.0, 0.5)
    drawn_congestion = rng.uniform(1.0, 3.0)
    delta = rng.standard_normal((K, S))
    eta = rng.standard_normal(K)
    zeta = rng.standard_normal(K)
    c = drawn_congestion if congestion is None else float(congestion)
    preference = base_preference + separation * delta
    cost = base_cost * np.exp(separation * eta)
    attraction = ATTRACTION_BOUND * c * np.tanh(base_attraction + separation * zeta)
    return c, preference, cost, attraction


def make(types: int = 3, *, dynamics: str = "original", horizon: int = HORIZON, seed: int = 0,
         topology: str = "ring", n_states: int = N_STATES, separation: float = SEPARATION,
         congestion=None, slip: float = SLIP,
         edge_probability: float = EDGE_PROBABILITY) -> MFGSpec:
    r"""A random congestion game on a graph with ``types`` agent types (module docstring).

    .. math::

        r(s, a, \mu, m) = g_m(s) - \kappa_m \mathbb{1}[a \text{ moves}] - c\, \mu(s)
                          + \frac{\alpha_m}{D} \sum_{s' \in N(s)} \mu(s')

    Parameters
    ----------
    types : int, default 3
        Number of types :math:`K` (1 to ``MAX_TYPES``).
    dynamics : {"original", "variant"}
        Slip :math:`\varepsilon` or :math:`\min(1, \varepsilon + 0.2)`.
    horizon : int, default 30
    seed : int, default 0
        Seed of ``numpy.random.default_rng``: the graph (``"random"``), the
        constants and :math:`\mu_0`.
    topology : {"ring", "grid", "random"}
    n_states : int, default 8
        Number of nodes :math:`S` (3 to ``MAX_STATES``).
    separation : float, default 0.5
        :math:`\sigma \ge 0`; 0 gives identical types.
    congestion : float, optional
        :math:`c > 0`; drawn from :math:`U(1, 3)` when omitted.
    slip : float, default 0.1
        :math:`\varepsilon \in [0, 1]`.
    edge_probability : float, default 0.2
        Extra edges of the random graph.

    Returns
    -------
    MFGSpec
        ``info`` holds the graph and every drawn constant.

    Raises
    ------
    ValueError
        An argument out of range, with its name.

    Examples
    --------
    >>> spec = make(seed=3, topology="grid", n_states=9, separation=0.0)
    >>> spec.n_states, spec.n_actions, spec.n_contexts, spec.info["topology"]
    (9, 5, 3, 'grid')
    """
    _check_args(types, dynamics, horizon, seed, topology, n_states, separation, congestion,
                slip, edge_probability)
    rng = np.random.default_rng(int(seed))
    graph = neighbours(topology, int(n_states), rng, float(edge_probability))
    K, S = int(types), int(n_states)
    c, preference, cost, attraction = _draw_constants(rng, K, S, float(separation), congestion)
    mu0 = rng.dirichlet(np.full(S, 2.0))
    used_slip = float(slip) if dynamics == "original" else min(1.0, slip + VARIANT_EXTRA_SLIP)
    next_states, transition, moves = transition_table(graph, used_slip)
    A = next_states.shape[1]
    adjacency = np.zeros((S, S))
    for s, near in enumerate(graph):
        adjacency[s, near] = 1.0
    degree = float(A - 1)
    params = np.concatenate([[S, A, K, c, degree], preference.ravel(), cost, attraction,
                             moves.ravel(), adjacency.ravel()])
    return MFGSpec(
        n_states=S, n_actions=A, horizon=horizon, mu0=mu0, transition=transition,
        reward=reward, n_contexts=K, next_states=next_states, params=params,
        name="random_game",
        info={"dynamics": dynamics, "seed": int(seed), "topology": topology,
              "separation": float(separation), "congestion": c, "slip": used_slip,
              "neighbours": graph, "preferences": preference.tolist(),
              "move_costs": cost.tolist(), "attractions": attraction.tolist(),
              "states": "graph nodes", "actions": "stay, move to the j-th neighbour"})
