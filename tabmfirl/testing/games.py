r"""Random mean field games for tests and benchmarks.

:func:`random_game` draws a game whose transition and reward depend smoothly on
the observed mean field :math:`\nu` (length :math:`M`):

.. math::

    P(s_j \mid s, a, \nu) &\propto \exp\Big(B_{saj} + \lambda_P \sum_i C_{ji} \nu_i\Big),
    \qquad j = 0..W-1,\\
    r(s, a, \nu, m) &= G_{msa} + \lambda_r \sum_i D_{si} \nu_i,

with standard normal :math:`B, G` and uniform :math:`C, D \in [-1, 1]`.  The
strengths :math:`\lambda_P, \lambda_r` are the Lipschitz constants (up to a
factor) of the game in the mean field: small values give a unique equilibrium
that damped fixed-point iteration finds; large ones may not.  Dense games have
``W = S`` successors ``s_j = j``; sparse ones ``W`` random successors per row.
Strong random couplings need not be monotone, so their equilibrium need not
be unique or attracting.

:func:`congestion_game` builds the opposite: games on a graph (ring, grid or
random, :func:`graph_neighbours`) with a congestion reward :math:`-c\,\nu(s)`
as strong as wanted, which are monotone and have a unique equilibrium at every
temperature, the test bed of the default solver.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from ..game._spec import MFGSpec, population_coupling, python_body

__all__ = ["random_game", "random_policy", "congestion_game", "graph_neighbours"]

_HEADER = 3  # params = [W, strength_P, strength_R, B..., C..., G..., D...]


@njit(cache=True)
def _softmax_rows(base, coupling, strength, observed, out):
    """``out[s, a] = softmax_j(B[s, a, j] + strength * sum_i C[j, i] observed[i])``."""
    S, A, W = out.shape
    M = observed.shape[0]
    shift = np.zeros(W)
    if strength != 0.0:
        for j in range(W):
            for i in range(M):
                shift[j] += coupling[j * M + i] * observed[i]
    for s in range(S):
        for a in range(A):
            row = out[s, a]
            for j in range(W):
                row[j] = base[(s * A + a) * W + j] + strength * shift[j]
            largest = row.max()
            total = 0.0
            for j in range(W):
                row[j] = np.exp(row[j] - largest)
                total += row[j]
            for j in range(W):
                row[j] /= total


@njit(cache=True)
def random_transition(t, observed, params, out):
    """Softmax transition with logits linear in the observed mean field."""
    S, A, W = out.shape
    M = observed.shape[0]
    strength = params[1]
    base = params[_HEADER:_HEADER + S * A * W]
    coupling = params[_HEADER + S * A * W:_HEADER + S * A * W + W * M]
    _softmax_rows(base, coupling, strength, observed, out)


@njit(cache=True)
def random_reward(t, observed, context, params, out):
    """Reward with a per-context base table plus a term linear in the mean field."""
    S, A = out.shape
    M = observed.shape[0]
    W = int(params[0])
    strength = params[2]
    start = _HEADER + S * A * W + W * M
    base = params[start:start + (context + 1) * S * A]
    coupling = params[-S * M:]
    for s in range(S):
        shift = 0.0
        for i in range(M):
            shift += coupling[s * M + i] * observed[i]
        for a in range(A):
            out[s, a] = base[context * S * A + s * A + a] + strength * shift


@njit(cache=True)
def random_transition_by_context(t, observed, context, params, out):
    """:func:`random_transition` with the base logits of type ``context``.

    Parameter layout: ``[W, lambda_P, lambda_r]``, the base logits of every
    type (``K * S * A * W``), the mean field coupling (``W * M``), then the
    reward's parameters (see :func:`random_reward_by_context`), ``K`` last.
    """
    S, A, W = out.shape
    M = observed.shape[0]
    K = int(params[params.shape[0] - 1])
    strength = params[1]
    base = params[_HEADER + context * S * A * W:_HEADER + (context + 1) * S * A * W]
    coupling = params[_HEADER + K * S * A * W:_HEADER + K * S * A * W + W * M]
    _softmax_rows(base, coupling, strength, observed, out)


@njit(cache=True)
def random_reward_by_context(t, observed, context, params, out):
    """Reward with a base table and a mean field coupling of its own per type.

    The parameters end with the base tables (``K * S * A``), each type's
    coupling (``K * S * M``) and ``K``, so that with
    ``observation="all_types"`` a type may be drawn to one population and
    repelled by another.
    """
    S, A = out.shape
    M = observed.shape[0]
    end = params.shape[0] - 1
    K = int(params[end])
    strength = params[2]
    coupling = params[end - K * S * M:end]
    base = params[end - K * S * M - K * S * A:end - K * S * M]
    for s in range(S):
        shift = 0.0
        for i in range(M):
            shift += coupling[(context * S + s) * M + i] * observed[i]
        for a in range(A):
            out[s, a] = base[(context * S + s) * A + a] + strength * shift


def random_game(n_states: int, n_actions: int, horizon: int, n_contexts: int = 1, *,
                transition_strength: float = 0.0, reward_strength: float = 0.0,
                width: int = None, mean_field_kind: str = "state",
                dynamic: bool = True, per_type_dynamics: bool = False,
                observation: str = "mixture", rng=None) -> MFGSpec:
    """A random game (see the module docstring).

    Parameters
    ----------
    n_states, n_actions, horizon, n_contexts : int
    transition_strength, reward_strength : float
        :math:`\\lambda_P`, :math:`\\lambda_r`.
    width : int, optional
        Successors per row for a sparse game; ``None`` for a dense one.
    mean_field_kind : {"state", "state_action"}
    dynamic : bool
        If False, return arrays evaluated at the uniform mean field (a game
        that ignores the mean field: a single-agent MDP per context).
    per_type_dynamics : bool, default False
        Give each type its own base logits :math:`B^m` and its own initial
        distribution (``transition_by_context=True``, ``mu0`` of shape
        ``(K, S)``).
    observation : {"mixture", "all_types"}
        ``"all_types"``: the functions read the stack of every type's flow
        (length :math:`M = K D`) and each type's reward has its own coupling
        :math:`D^m` (a multi-population game).
    rng : numpy.random.Generator or int, optional

    Returns
    -------
    MFGSpec
    """
    rng = np.random.default_rng(rng)
    S, A, K = n_states, n_actions, n_contexts
    W = S if width is None else int(width)
    D = S if mean_field_kind == "state" else S * A
    if not per_type_dynamics and observation == "mixture":
        M = D
        params = np.concatenate([
            [W, transition_strength, reward_strength],
            rng.standard_normal(S * A * W), rng.uniform(-1, 1, W * M),
            rng.standard_normal(K * S * A), rng.uniform(-1, 1, S * M)])
        mu0 = rng.dirichlet(np.ones(S))
        functions = (random_transition, random_reward)
    else:
        M = K * D if observation == "all_types" else D
        params = np.concatenate([
            [W, transition_strength, reward_strength],
            rng.standard_normal((K if per_type_dynamics else 1) * S * A * W),
            rng.uniform(-1, 1, W * M), rng.standard_normal(K * S * A),
            rng.uniform(-1, 1, K * S * M), [K]])
        mu0 = rng.dirichlet(np.ones(S), size=K) if per_type_dynamics else rng.dirichlet(np.ones(S))
        functions = (random_transition_by_context if per_type_dynamics else random_transition,
                     random_reward_by_context)
    next_states = None if width is None else rng.integers(0, S, size=(S, A, W))
    by_context = functions[0] is random_transition_by_context
    if dynamic:
        transition, reward = functions
    else:
        transition, reward = _static_tables(functions, by_context, params, S, A, W, K, M)
    return MFGSpec(n_states=S, n_actions=A, horizon=horizon, mu0=mu0, transition=transition,
                   reward=reward, n_contexts=K, next_states=next_states, params=params,
                   mean_field_kind=mean_field_kind, transition_by_context=by_context,
                   observation=observation, name="random")


def _static_tables(functions, by_context, params, S, A, W, K, M):
    """A random game's tables at the uniform mean field (a game that ignores it)."""
    observed = np.full(M, 1.0 / M)
    transition_fn, reward_fn = (python_body(f) for f in functions)
    reward = np.zeros((K, S, A))
    for m in range(K):
        reward_fn(0, observed, m, params, reward[m])
    if not by_context:
        transition = np.zeros((S, A, W))
        transition_fn(0, observed, params, transition)
        return transition, reward
    transition = np.zeros((K, S, A, W))
    for m in range(K):
        transition_fn(0, observed, m, params, transition[m])
    return transition, reward


def random_policy(spec: MFGSpec, rng=None, concentration: float = 1.0) -> np.ndarray:
    """A random policy ``(K, T, S, A)`` with Dirichlet rows.

    Parameters
    ----------
    spec : MFGSpec
    rng : numpy.random.Generator or int, optional
    concentration : float, default 1.0
        Dirichlet concentration of each row (small: nearly deterministic rows).

    Returns
    -------
    ndarray, shape (K, T, S, A)
        Every row has full support (almost surely).
    """
    rng = np.random.default_rng(rng)
    shape = (spec.n_contexts, spec.horizon, spec.n_states)
    return rng.dirichlet(np.full(spec.n_actions, concentration), size=shape)


# --------------------------------------------------------------------------
# Congestion games on graphs: strongly coupled, monotone.
# --------------------------------------------------------------------------
_CONGESTION_HEADER = 3  # params = [S, A, c, preference (K*S), move cost (K), moves (S*A)]


@njit(cache=True)
def congestion_reward(t, observed, context, params, out):
    r"""``out[s, a] = g_m(s) - k_m [a moves] - c * observed[s]`` (see :func:`congestion_game`)."""
    S, A = out.shape
    K = (params.shape[0] - _CONGESTION_HEADER - S * A) // (S + 1)
    c = params[2]
    preference = params[_CONGESTION_HEADER + context * S:_CONGESTION_HEADER + (context + 1) * S]
    move_cost = params[_CONGESTION_HEADER + K * S + context]
    moves = params[_CONGESTION_HEADER + K * S + K:]
    for s in range(S):
        for a in range(A):
            out[s, a] = preference[s] - move_cost * moves[s * A + a] - c * observed[s]


def graph_neighbours(kind: str, n_states: int, rng=None, edge_probability: float = 0.2) -> list:
    """Neighbour lists of a connected graph on ``n_states`` nodes.

    ``"ring"``: a cycle; ``"grid"``: the most square ``rows x cols`` grid with
    ``rows * cols == n_states`` (4-neighbourhood); ``"random"``: a random
    spanning tree (each node joins an earlier one) plus each other edge with
    probability ``edge_probability``.  (Also the graphs of
    ``envs.random_game``.)

    Parameters
    ----------
    kind : {"ring", "grid", "random"}
    n_states : int
    rng : numpy.random.Generator or int, optional
        Used by ``"random"`` only.
    edge_probability : float, default 0.2
        ``"random"`` only.

    Returns
    -------
    list of list of int
        Sorted neighbours of each node.
    """
    rng = np.random.default_rng(rng)
    n = int(n_states)
    edges = set()
    if kind == "ring":
        edges = {(s, (s + 1) % n) for s in range(n)} if n > 1 else set()
    elif kind == "grid":
        rows = max(r for r in range(1, int(np.sqrt(n)) + 1) if n % r == 0)
        cols = n // rows
        for s in range(n):
            r, c = divmod(s, cols)
            if c + 1 < cols:
                edges.add((s, s + 1))
            if r + 1 < rows:
                edges.add((s, s + cols))
    elif kind == "random":
        edges = {(int(rng.integers(0, s)), s) for s in range(1, n)}
        extra = rng.random((n, n)) < edge_probability
        edges |= {(i, j) for i in range(n) for j in range(i + 1, n) if extra[i, j]}
    else:
        raise ValueError(f"kind must be 'ring', 'grid' or 'random', got {kind!r}")
    neighbours = [set() for _ in range(n)]
    for i, j in edges:
        if i != j:
            neighbours[i].add(j)
            neighbours[j].add(i)
    return [sorted(x) for x in neighbours]


def congestion_game(neighbours, horizon: int, n_contexts: int = 1, *, congestion: float = 1.0,
                    slip: float = 0.1, population_weights=None, rng=None) -> MFGSpec:
    r"""A congestion game on a graph: monotone, with a unique ERMFNE.

    States are the graph's nodes; actions are "stay" and "move to the
    :math:`j`-th neighbour" (padded with "stay" up to the largest degree).  A
    move succeeds with probability :math:`1 - \varepsilon` (``slip``) and
    otherwise leaves the agent in place.  Type :math:`m` earns

    .. math:: r(s, a, \nu, m) = g_m(s) - k_m \mathbb{1}[a \text{ moves}] - c\, \nu(s),

    with preferences :math:`g_m(s) \sim U(0, 1)`, move costs
    :math:`k_m \sim U(0, 0.2)` and congestion :math:`c \ge 0`.  :math:`\nu` is
    the type's own state distribution, or, with ``population_weights``
    :math:`w`, the population's :math:`\sum_{m'} w_{m'} \mu(\cdot \mid m')`.
    The reward is decreasing in the crowd at the agent's own state and the
    dynamics ignore the mean field, so the game is monotone in the sense of
    Lasry & Lions (2007, "Mean field games", Jpn. J. Math. 2, 229-260;
    weighted by the population shares :math:`w` when coupled):
    :math:`\sum_s (r(s, \cdot, \nu) - r(s, \cdot, \nu'))(\nu - \nu')(s)
    = -c \|\nu - \nu'\|^2 \le 0`,
    and with entropy regularisation its equilibrium is unique.

    Parameters
    ----------
    neighbours : list of list of int
        Neighbour lists (e.g. :func:`graph_neighbours`).
    horizon, n_contexts : int
    congestion : float, default 1.0
        :math:`c \ge 0`.
    slip : float, default 0.1
        :math:`\varepsilon \in [0, 1]`.
    population_weights : array_like, shape (K,), optional
        Couple the types through the population flow.
    rng : numpy.random.Generator or int, optional

    Returns
    -------
    MFGSpec
    """
    rng = np.random.default_rng(rng)
    S, K = len(neighbours), int(n_contexts)
    A = 1 + max((len(x) for x in neighbours), default=0)
    next_states = np.zeros((S, A, 2), dtype=np.int64)
    transition = np.zeros((S, A, 2))
    moves = np.zeros((S, A))
    for s, targets in enumerate(neighbours):
        next_states[s, :, :] = s
        transition[s, :, 0] = 1.0
        for a, target in enumerate(targets, start=1):
            next_states[s, a] = (target, s)
            transition[s, a] = (1.0 - slip, slip)
            moves[s, a] = 1.0
    params = np.concatenate([[S, A, congestion], rng.uniform(0, 1, K * S),
                             rng.uniform(0, 0.2, K), moves.ravel()])
    coupling = None if population_weights is None else population_coupling(population_weights)
    return MFGSpec(n_states=S, n_actions=A, horizon=horizon, mu0=rng.dirichlet(np.ones(S)),
                   transition=transition, reward=congestion_reward, n_contexts=K,
                   next_states=next_states, params=params, context_coupling=coupling,
                   name="congestion")
