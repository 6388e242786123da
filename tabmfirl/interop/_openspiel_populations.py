r"""OpenSpiel's multi-population games ``predator_prey`` and ``crowd_avoidance`` as specs.

Read from the game sources of open-spiel 2.0.2
(``open_spiel/python/mfg/games/predator_prey.py``, Scaling up Mean Field Games
with Online Mirror Descent, Perolat et al. 2022, section 5.4; and
``crowd_avoidance.py``).  Each population :math:`p \in \{0..K-1\}` is a
tabmfirl type (context).

Game tree (both games)
----------------------
Per population, an initial chance node draws the position from the
population's initial distribution; then for :math:`t = 0..H-1`: a decision
node ``(pop=p, t=t, pos=[x y])`` pays the reward and the agent moves, a chance
node moves it again (noise), :math:`t` becomes :math:`t+1` at a mean field
node where :math:`\mu_{t+1}` of every population is registered.  The game is
terminal at :math:`t = H`, with reward 0.  So the tabmfirl horizon is
:math:`H`, the reward is paid at :math:`t = 0..H-1` and reads the current
position only (it does not depend on the action).

States and moves
----------------
A ``size x size`` grid, position :math:`(x, y)`, tabmfirl state
:math:`s = x \cdot \mathrm{size} + y` (the order of OpenSpiel's
``distribution_support``).  Actions and noise outcomes ``0..4`` move by
``(0,0), (1,0), (0,1), (0,-1), (-1,0)``.  A move first tests the candidate
position against the forbidden states (``crowd_avoidance``; if forbidden, the
agent stays), then clips it to the square or wraps it on the torus.  Noise:
outcome 0 with probability :math:`q_0 = 1 - p_n`, each other outcome
:math:`q_n = p_n/4`.  So

.. math:: P(s' \mid s, a) = \sum_{n=0}^{4} q_n\,
          \mathbb{1}[\mathrm{move}(\mathrm{move}(s, a), n) = s'],

the same for every population (no ``transition_by_context``).  OpenSpiel's
``init_distrib`` lists, population after population, the probabilities of the
positions :math:`i = x + y \cdot \mathrm{size}` (rows :math:`y`, columns
:math:`x`, as its grids are written); ``mu0`` has shape ``(K, S)``.

Rewards (``observation="all_types"``: population :math:`p` reads every
population's distribution :math:`\mu_t^q`)
---------------------------------------------------------------------------
* predator-prey, reward matrix :math:`R` and congestion coefficient :math:`c`:

  .. math:: r_p(t, s, \mu_t) = -c \log\big(\mu_t^p(s) + \epsilon\big)
            + \sum_q R_{pq}\, \mu_t^q(s), \qquad \epsilon = 10^{-25};

* crowd avoidance, congestion matrix :math:`C`, coefficients
  :math:`c_C` (``coef_congestion``) and :math:`c_T` (``coef_target``), targets
  :math:`(5, 3)` for population 0 and :math:`(1, 3)` for population 1 (fixed
  in the source):

  .. math:: r_p(t, s, \mu_t) = -c_C \sum_q C_{pq}\, \mu_t^q(s)
            + c_T\, \mathbb{1}[s = \mathrm{target}_p].

One convention of OpenSpiel's: the reward at :math:`t = 0`
---------------------------------------------------------
At :math:`t = 0` no mean field node has run yet, so the decision node still
holds the game's flat ``init_distrib`` (population-major, position
:math:`x + y\,\mathrm{size}`) and reads it with the index of the support
(``q + K (y + size x)``): population :math:`p`'s reward at :math:`t = 0`
sees garbled densities (with the default predator-prey corners, population
1 at its own corner sees no-one, :math:`-\log 10^{-25} = 57.6`, instead of
its whole population).  ``convention="openspiel"`` reproduces that reading
(a fixed table at :math:`t = 0`, then the observed flow);
``"faithful"`` reads the flow at every step.  Both conventions share the
flows and ``NashConv``: the :math:`t = 0` reward does not depend on the
action and both values start from :math:`\mu_0`, so it cancels in
:math:`J(\mathrm{BR}) - J(\pi)`; the returns differ (by the same constant for
every policy).  With a uniform initial distribution both readings agree.

``NashConv`` of OpenSpiel (``nash_conv.NashConv``) is the *sum over
populations*, unweighted, of :math:`J_p(\mathrm{BR}, \mu^\pi) -
J_p(\pi, \mu^\pi)`, each from population :math:`p`'s initial distribution:
the sum of tabmfirl's per-type :func:`~tabmfirl.exploitability` at
temperature 0.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from ..game._spec import MFGSpec
from ._optional import require

__all__ = ["predator_prey", "crowd_avoidance", "populations_from_openspiel",
           "openspiel_population_policy", "openspiel_population_mean_field",
           "PREDATOR_PREY_EPSILON"]

#: ``eps`` in ``MFGPredatorPreyState.rewards`` (Python float64).
PREDATOR_PREY_EPSILON = 1e-25
#: ``_ACTION_TO_MOVE`` of both games (actions and noise outcomes).
MOVES = ((0, 0), (1, 0), (0, 1), (0, -1), (-1, 0))
GEOMETRIES = {"square": 0, "torus": 1}
CONVENTIONS = ("openspiel", "faithful")

# OpenSpiel's defaults, copied from predator_prey.py (DEFAULT_REWARD_MATRIX_*,
# DEFAULT_INIT_DISTRIB_*: each population starts in a corner of the 5 x 5 grid).
PREDATOR_PREY_REWARD_MATRIX = {
    3: np.array([[0, -1, 1], [1, 0, -1], [-1, 1, 0]], dtype=float),
    4: np.array([[0, 1, 0, -1], [-1, 0, 1, 0], [0, -1, 0, 1], [1, 0, -1, 0]], dtype=float),
}
#: Corner of each population as (x, y) in OpenSpiel's 5 x 5 default grids.
PREDATOR_PREY_CORNERS = {3: ((0, 0), (4, 0), (0, 4)), 4: ((0, 0), (0, 4), (4, 4), (4, 0))}

# From crowd_avoidance.py: the 7 x 7 walls grid ('#' forbidden; row y, column x),
# the initial distribution as (x, y, probability) per population, the targets.
CROWD_AVOIDANCE_GRID = ("#######", "#  #  #", "#     #", "#  #  #", "#     #", "#  #  #",
                        "#######")
CROWD_AVOIDANCE_INIT = (((1, 2, 0.4), (2, 2, 0.4), (1, 4, 0.2)),
                        ((5, 2, 0.2), (4, 4, 0.4), (5, 4, 0.4)))
CROWD_AVOIDANCE_TARGETS = ((5, 3), (1, 3))
CROWD_AVOIDANCE_CONGESTION = np.array([[0.0, 1.0], [1.0, 0.0]])


@njit(cache=True)
def population_reward(t, observed, context, params, out):
    r"""Reward of population ``context`` reading every population's distribution.

    .. math:: r_p(t, s) = b_p(s) - c \log(d_p(s) + \epsilon) + \lambda \sum_q M_{pq} d_q(s)

    with :math:`d_q(s)` = ``observed[q * S + s]`` (or, at :math:`t = 0` when
    the flag is set, the fixed table of OpenSpiel's first reading), the same
    for every action.  ``params = [S, K, eps, c, lambda, flag, M (K*K),
    b (K*S), table (K*S)]``; the log term is skipped when :math:`c = 0`.
    """
    S = int(params[0])
    K = int(params[1])
    eps = params[2]
    c_log = params[3]
    c_lin = params[4]
    matrix = 6
    base = matrix + K * K
    table = base + K * S
    p = context
    for s in range(S):
        value = params[base + p * S + s]
        if t == 0 and params[5] != 0.0:
            own = params[table + p * S + s]
        else:
            own = observed[p * S + s]
        if c_log != 0.0:
            value -= c_log * np.log(own + eps)
        linear = 0.0
        for q in range(K):
            if t == 0 and params[5] != 0.0:
                density = params[table + q * S + s]
            else:
                density = observed[q * S + s]
            linear += params[matrix + p * K + q] * density
        value += c_lin * linear
        for a in range(out.shape[1]):
            out[s, a] = value


# ----------------------------------------------------------------- building blocks
def _move(x: int, y: int, move, size: int, torus: bool, forbidden: frozenset):
    """OpenSpiel's ``update_pos``: forbidden test on the candidate, then clip or wrap."""
    cx, cy = x + move[0], y + move[1]
    if (cx, cy) in forbidden:
        return x, y
    if torus:
        return cx % size, cy % size
    return min(max(cx, 0), size - 1), min(max(cy, 0), size - 1)


def grid_transition(size: int, noise: float, torus: bool, forbidden=()) -> np.ndarray:
    r"""Dense transition ``(S, A, S)`` of both games' grid (module docstring).

    .. math:: P(s' \mid s, a) = \sum_n q_n\, \mathbb{1}[\mathrm{move}(\mathrm{move}(s, a), n) = s']

    Parameters
    ----------
    size : int
    noise : float
        :math:`p_n`: outcome 0 has probability :math:`1 - p_n`, the others :math:`p_n / 4`.
    torus : bool
    forbidden : iterable of (x, y)

    Returns
    -------
    ndarray, shape (size**2, 5, size**2)
    """
    forbidden = frozenset((int(x), int(y)) for x, y in forbidden)
    weights = (1.0 - noise,) + (noise / 4.0,) * 4
    S = size * size
    P = np.zeros((S, len(MOVES), S))
    for x in range(size):
        for y in range(size):
            for a, move in enumerate(MOVES):
                mx, my = _move(x, y, move, size, torus, forbidden)
                for weight, shake in zip(weights, MOVES):
                    nx, ny = _move(mx, my, shake, size, torus, forbidden)
                    P[x * size + y, a, nx * size + ny] += weight
    return P


def _flat_init(init, K: int, size: int) -> np.ndarray:
    """OpenSpiel's flat ``init_distrib`` (K*S, position ``x + y*size``), checked."""
    S = size * size
    flat = np.asarray(init, dtype=float).reshape(-1)
    if flat.size != K * S:
        raise ValueError(
            f"init_distrib must have {K} populations x {size} x {size} = {K * S} entries "
            f"(population-major, rows y, columns x), got {flat.size}")
    blocks = flat.reshape(K, S)
    if not np.all(np.isfinite(blocks)) or np.any(blocks < 0) or np.any(
            np.abs(blocks.sum(axis=1) - 1.0) > 1e-8):
        raise ValueError(
            f"init_distrib must be one probability vector per population (non-negative, "
            f"summing to 1); sums are {np.round(blocks.sum(axis=1), 12).tolist()}")
    return flat


def initial_distributions(flat: np.ndarray, K: int, size: int) -> np.ndarray:
    """``mu0[p, x * size + y]`` from OpenSpiel's flat layout ``flat[p * S + x + y * size]``.

    Parameters
    ----------
    flat : ndarray, shape (K * size**2,)
    K, size : int

    Returns
    -------
    ndarray, shape (K, size**2)
    """
    # (K, y, x) -> (K, x, y)
    return np.ascontiguousarray(flat.reshape(K, size, size).transpose(0, 2, 1).reshape(K, -1))


def first_reward_densities(flat: np.ndarray, K: int, size: int) -> np.ndarray:
    """Densities OpenSpiel's reward reads at ``t = 0`` (module docstring).

    ``table[q, x * size + y] = flat[q + K * (y + size * x)]``: the flat initial
    distribution read with the index of ``get_pos_proba``.

    Parameters
    ----------
    flat : ndarray, shape (K * size**2,)
    K, size : int

    Returns
    -------
    ndarray, shape (K, size**2)
    """
    table = np.zeros((K, size * size))
    for x in range(size):
        for y in range(size):
            for q in range(K):
                table[q, x * size + y] = flat[q + K * (y + size * x)]
    return table


def _check_common(size, horizon, noise, noise_name, geometry, convention):
    """Shared parameter checks; returns ``(size, horizon, torus)``."""
    if not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"size must be an integer >= 1, got {size!r}")
    if not isinstance(horizon, (int, np.integer)) or horizon < 1:
        raise ValueError(f"horizon must be an integer >= 1, got {horizon!r}")
    if not 0.0 <= float(noise) <= 1.0:
        raise ValueError(f"{noise_name} must lie in [0, 1], got {noise!r}")
    if geometry not in GEOMETRIES and geometry not in GEOMETRIES.values():
        raise ValueError(f"geometry must be 'square' (0) or 'torus' (1), got {geometry!r}")
    if convention not in CONVENTIONS:
        raise ValueError(f"convention must be 'openspiel' or 'faithful', got {convention!r}")
    return int(size), int(horizon), GEOMETRIES.get(geometry, geometry) == 1


def _square_matrix(matrix, name: str) -> np.ndarray:
    M = np.asarray(matrix, dtype=float)
    if M.ndim == 1 and round(np.sqrt(M.size)) ** 2 == M.size and M.size > 0:
        M = M.reshape(round(np.sqrt(M.size)), -1)
    if M.ndim != 2 or M.shape[0] != M.shape[1] or M.shape[0] < 1:
        raise ValueError(f"{name} must be a square K x K matrix, got shape {M.shape}")
    if not np.all(np.isfinite(M)):
        raise ValueError(f"{name} must be finite")
    return M


def reward_params(flat, K: int, size: int, *, base, matrix, c_log: float, c_lin: float,
                  eps: float, convention: str) -> np.ndarray:
    """``params`` of :func:`population_reward` (its docstring gives the layout).

    Parameters
    ----------
    flat : ndarray, shape (K * size**2,)
        OpenSpiel's flat initial distribution.
    K, size : int
    base : ndarray, shape (K, size**2)
    matrix : ndarray, shape (K, K)
    c_log, c_lin, eps : float
    convention : {"openspiel", "faithful"}

    Returns
    -------
    ndarray
    """
    table = first_reward_densities(flat, K, size)
    flag = 1.0 if convention == "openspiel" else 0.0
    return np.concatenate([[size * size, K, eps, c_log, c_lin, flag], np.ravel(matrix),
                           np.ravel(base), table.ravel()])


def _spec(name, size, horizon, P, flat, K, *, base, matrix, c_log, c_lin, eps, convention,
          info) -> MFGSpec:
    """The spec of either game from its pieces (``population_reward``'s parameters)."""
    S = size * size
    mu0 = initial_distributions(flat, K, size)
    params = reward_params(flat, K, size, base=base, matrix=matrix, c_log=c_log, c_lin=c_lin,
                           eps=eps, convention=convention)
    return MFGSpec(n_states=S, n_actions=len(MOVES), horizon=horizon, mu0=mu0, transition=P,
                   reward=population_reward, n_contexts=K, params=params,
                   observation="all_types", name=f"{name}_{convention}", info=info)


# ----------------------------------------------------------------- the games
def _predator_prey_init(init_distrib, K: int, size: int) -> np.ndarray:
    S = size * size
    if isinstance(init_distrib, str) and init_distrib == "corners":
        if size != 5 or K not in PREDATOR_PREY_CORNERS:
            raise ValueError(
                f"init_distrib='corners' is OpenSpiel's 5 x 5 default for 3 or 4 populations; "
                f"with size={size} and {K} populations pass 'uniform' or an array")
        flat = np.zeros(K * S)
        for p, (x, y) in enumerate(PREDATOR_PREY_CORNERS[K]):
            flat[p * S + x + y * size] = 1.0
        return flat
    if isinstance(init_distrib, str) and init_distrib == "uniform":
        return np.full(K * S, 1.0 / S)
    if isinstance(init_distrib, str):
        raise ValueError(
            f"init_distrib must be 'corners', 'uniform' or an array, got {init_distrib!r}")
    return _flat_init(init_distrib, K, size)


def predator_prey(size: int = 5, horizon: int = 10, *, reward_matrix=None,
                  init_distrib="corners", geometry="square", noise_probability: float = 0.8,
                  congestion_coeff: float = 1.0, eps: float = PREDATOR_PREY_EPSILON,
                  convention: str = "openspiel") -> MFGSpec:
    r"""OpenSpiel's ``python_mfg_predator_prey`` as a spec (module docstring).

    .. math:: r_p(t, s, \mu_t) = -c \log\big(\mu_t^p(s) + \epsilon\big)
              + \sum_q R_{pq}\, \mu_t^q(s)

    on a ``size x size`` grid, five moves, noise of probability
    ``noise_probability``; population :math:`p` is type :math:`p`.

    Parameters
    ----------
    size, horizon : int
        OpenSpiel's defaults: 5 and 10.
    reward_matrix : array_like, shape (K, K) or (K*K,), optional
        :math:`R`; default OpenSpiel's three-population matrix
        ``[[0, -1, 1], [1, 0, -1], [-1, 1, 0]]``.  Its size is the number of
        populations :math:`K`.
    init_distrib : {"corners", "uniform"} or array_like
        ``"corners"``: OpenSpiel's defaults (5 x 5, 3 or 4 populations, one
        corner each); ``"uniform"``: OpenSpiel's empty ``init_distrib``; an
        array: OpenSpiel's layout, shape ``(K, size, size)`` indexed
        ``[p, y, x]`` or flat.
    geometry : {"square", "torus"} or {0, 1}
    noise_probability : float
        In ``[0, 1]``; default 0.8.
    congestion_coeff : float
        :math:`c`; default 1.
    eps : float
        :math:`\epsilon`, default ``1e-25`` (the game's constant); must be
        positive when ``congestion_coeff`` is not 0.
    convention : {"openspiel", "faithful"}
        How the reward reads the densities at :math:`t = 0` (module docstring).

    Returns
    -------
    MFGSpec
        ``S = size**2``, ``A = 5``, ``K`` types, ``mu0`` of shape ``(K, S)``.

    Raises
    ------
    ValueError
        A parameter out of its range, named.

    Examples
    --------
    >>> spec = predator_prey()
    >>> spec.n_states, spec.n_actions, spec.horizon, spec.n_contexts
    (25, 5, 10, 3)
    """
    size, horizon, torus = _check_common(size, horizon, noise_probability, "noise_probability",
                                         geometry, convention)
    R = _square_matrix(PREDATOR_PREY_REWARD_MATRIX[3] if reward_matrix is None
                       else reward_matrix, "reward_matrix")
    K = R.shape[0]
    if not np.isfinite(congestion_coeff):
        raise ValueError(f"congestion_coeff must be finite, got {congestion_coeff!r}")
    if not (np.isfinite(eps) and eps >= 0) or (eps == 0 and congestion_coeff != 0):
        raise ValueError(f"eps must be finite and > 0 (the log of an empty cell), got {eps!r}")
    flat = _predator_prey_init(init_distrib, K, size)
    P = grid_transition(size, float(noise_probability), torus)
    info = {"source": "open_spiel/python/mfg/games/predator_prey.py (open-spiel 2.0.2)",
            "size": size, "reward_matrix": R.tolist(), "geometry": "torus" if torus else "square",
            "noise_probability": float(noise_probability),
            "congestion_coeff": float(congestion_coeff), "eps": float(eps),
            "state": "x * size + y"}
    return _spec("openspiel_predator_prey", size, horizon, P, flat, K,
                 base=np.zeros((K, size * size)), matrix=R, c_log=float(congestion_coeff),
                 c_lin=1.0, eps=float(eps), convention=convention, info=info)


def _crowd_avoidance_init(init_distrib, size: int) -> np.ndarray:
    S = size * size
    if isinstance(init_distrib, str) and init_distrib == "default":
        if size != 7:
            raise ValueError(
                f"init_distrib='default' is OpenSpiel's 7 x 7 grid; with size={size} pass "
                f"'uniform' or an array")
        flat = np.zeros(2 * S)
        for p, cells in enumerate(CROWD_AVOIDANCE_INIT):
            for x, y, prob in cells:
                flat[p * S + x + y * size] = prob
        return flat
    if isinstance(init_distrib, str) and init_distrib == "uniform":
        return np.full(2 * S, 1.0 / S)
    if isinstance(init_distrib, str):
        raise ValueError(
            f"init_distrib must be 'default', 'uniform' or an array, got {init_distrib!r}")
    return _flat_init(init_distrib, 2, size)


def _forbidden(forbidden_states):
    """Forbidden (x, y) cells: ``"default"`` (the 7 x 7 walls), a list of pairs or OpenSpiel's string."""
    if isinstance(forbidden_states, str) and forbidden_states == "default":
        return [(x, y) for y, row in enumerate(CROWD_AVOIDANCE_GRID)
                for x, cell in enumerate(row) if cell == "#"]
    if isinstance(forbidden_states, str):
        body = forbidden_states.strip()
        if not (body.startswith("[") and body.endswith("]")):
            raise ValueError(
                f"forbidden_states must be 'default', a list of (x, y) or OpenSpiel's "
                f"'[x|y;x|y]' string, got {forbidden_states!r}")
        body = body[1:-1]
        return [tuple(int(v) for v in pair.split("|")) for pair in body.split(";")] if body else []
    cells = [tuple(int(v) for v in pair) for pair in forbidden_states]
    if any(len(cell) != 2 for cell in cells):
        raise ValueError("forbidden_states must be (x, y) pairs")
    return cells


def crowd_avoidance(size: int = 7, horizon: int = 10, *, congestion_matrix=None,
                    init_distrib="default", geometry="square", proba_noise: float = 0.5,
                    coef_congestion: float = 0.0, forbidden_states="default",
                    coef_target: float = 1.0, convention: str = "openspiel") -> MFGSpec:
    r"""OpenSpiel's ``python_mfg_crowd_avoidance`` (two populations) as a spec.

    .. math:: r_p(t, s, \mu_t) = -c_C \sum_q C_{pq}\, \mu_t^q(s)
              + c_T\, \mathbb{1}[s = \mathrm{target}_p]

    with targets :math:`(x, y) = (5, 3)` and :math:`(1, 3)` (module docstring);
    moves into a forbidden cell leave the agent in place.

    Parameters
    ----------
    size, horizon : int
        OpenSpiel's defaults: 7 and 10.
    congestion_matrix : array_like, shape (2, 2) or (4,), optional
        :math:`C`; default ``[[0, 1], [1, 0]]``.
    init_distrib : {"default", "uniform"} or array_like
        ``"default"``: OpenSpiel's 7 x 7 grids; ``"uniform"``: its empty
        ``init_distrib``; an array in OpenSpiel's layout, shape
        ``(2, size, size)`` indexed ``[p, y, x]`` or flat.
    geometry : {"square", "torus"} or {0, 1}
    proba_noise : float
        In ``[0, 1]``; default 0.5.
    coef_congestion : float
        :math:`c_C`; OpenSpiel's default 0 makes the reward independent of the flows.
    forbidden_states : "default", list of (x, y) or str
        ``"default"``: the 7 x 7 walls of the source (used at every size, as
        OpenSpiel does); OpenSpiel's ``"[x|y;x|y]"`` string is accepted.
    coef_target : float
        :math:`c_T`; default 1.
    convention : {"openspiel", "faithful"}
        How the reward reads the densities at :math:`t = 0` (module docstring).

    Returns
    -------
    MFGSpec
        ``S = size**2``, ``A = 5``, ``K = 2``, ``mu0`` of shape ``(2, S)``.

    Raises
    ------
    ValueError
        A parameter out of its range, or a congestion matrix that is not 2 x 2
        (OpenSpiel's game has exactly two populations and two targets).

    Examples
    --------
    >>> spec = crowd_avoidance()
    >>> spec.n_states, spec.n_contexts, float(spec.initial_distribution[0, 1 * 7 + 2])
    (49, 2, 0.4)
    """
    size, horizon, torus = _check_common(size, horizon, proba_noise, "proba_noise", geometry,
                                         convention)
    C = _square_matrix(CROWD_AVOIDANCE_CONGESTION if congestion_matrix is None
                       else congestion_matrix, "congestion_matrix")
    if C.shape != (2, 2):
        raise ValueError(
            f"congestion_matrix must be 2 x 2: OpenSpiel's crowd_avoidance has exactly two "
            f"populations (and two targets), got shape {C.shape}")
    for value, name in ((coef_congestion, "coef_congestion"), (coef_target, "coef_target")):
        if not np.isfinite(value):
            raise ValueError(f"{name} must be finite, got {value!r}")
    flat = _crowd_avoidance_init(init_distrib, size)
    forbidden = _forbidden(forbidden_states)
    P = grid_transition(size, float(proba_noise), torus, forbidden)
    base = np.zeros((2, size * size))
    for p, (x, y) in enumerate(CROWD_AVOIDANCE_TARGETS):
        if x < size and y < size:
            base[p, x * size + y] = float(coef_target)
    info = {"source": "open_spiel/python/mfg/games/crowd_avoidance.py (open-spiel 2.0.2)",
            "size": size, "congestion_matrix": C.tolist(),
            "geometry": "torus" if torus else "square", "proba_noise": float(proba_noise),
            "coef_congestion": float(coef_congestion), "coef_target": float(coef_target),
            "forbidden_states": forbidden, "targets": CROWD_AVOIDANCE_TARGETS,
            "state": "x * size + y"}
    return _spec("openspiel_crowd_avoidance", size, horizon, P, flat, 2, base=base, matrix=C,
                 c_log=0.0, c_lin=-float(coef_congestion), eps=0.0, convention=convention,
                 info=info)


# ----------------------------------------------------------------- OpenSpiel objects
def _numbers(text: str) -> np.ndarray:
    """OpenSpiel's space-separated list of floats."""
    return np.array([float(v) for v in text.split()])


def populations_from_openspiel(game, *, convention: str = "openspiel") -> MFGSpec:
    """The OpenSpiel game ``game`` (predator-prey or crowd avoidance) as a spec.

    Parameters
    ----------
    game : pyspiel.Game
        ``python_mfg_predator_prey`` or ``python_mfg_crowd_avoidance``, any parameters.
    convention : {"openspiel", "faithful"}

    Returns
    -------
    MFGSpec

    Raises
    ------
    ValueError
        Another game.
    """
    name = game.get_type().short_name
    params = game.get_parameters()
    common = dict(size=int(params["size"]), horizon=int(params["horizon"]),
                  geometry=int(params["geometry"]), convention=convention)
    if name == "python_mfg_predator_prey":
        K = int(params["players"])
        flat = params["init_distrib"]
        init = _numbers(flat) if flat else "uniform"
        return predator_prey(reward_matrix=_numbers(params["reward_matrix"])
                             .reshape(K, K), init_distrib=init,
                             noise_probability=float(params["noise_probability"]),
                             congestion_coeff=float(params["congestion_coeff"]), **common)
    if name == "python_mfg_crowd_avoidance":
        flat = params["init_distrib"]
        init = _numbers(flat) if flat else "uniform"
        return crowd_avoidance(congestion_matrix=_numbers(params["congestion_matrix"]),
                               init_distrib=init, proba_noise=float(params["proba_noise"]),
                               coef_congestion=float(params["coef_congestion"]),
                               forbidden_states=params["forbidden_states"],
                               coef_target=float(params["coef_target"]), **common)
    raise ValueError(f"cannot convert the OpenSpiel game {name!r}: supported are "
                     f"python_mfg_predator_prey and python_mfg_crowd_avoidance")


def openspiel_population_policy(game, policy):
    """An OpenSpiel policy playing ``policy[p, t, s, a]`` in population ``p``.

    Parameters
    ----------
    game : pyspiel.Game
        A game :func:`populations_from_openspiel` converts.
    policy : ndarray, shape (K, T, S, A)

    Returns
    -------
    open_spiel.python.policy.Policy
        Reads the population, ``t`` and ``pos = [x, y]`` of the decision node.

    Raises
    ------
    ImportError
        OpenSpiel is not installed (``pip install "tabmfirl[openspiel]"``).
    """
    policy_module = require("open_spiel.python.policy",
                            "tabmfirl.interop.openspiel_population_policy")
    probs = np.asarray(policy, dtype=float)
    size = int(game.get_parameters()["size"])

    class PopulationPolicy(policy_module.Policy):
        def action_probabilities(self, state, player_id=None):
            x, y = (int(v) for v in state.pos)
            row = probs[state.population, state.t, x * size + y]
            return {a: float(row[a]) for a in state.legal_actions()}

    return PopulationPolicy(game, list(range(game.num_players())))


def single_root(game):
    """The root of population 0 when the game has one population, else ``None``.

    With one player, pyspiel's ``new_initial_states()`` returns the
    population-less blank state, which cannot be played: OpenSpiel's
    algorithms need it as ``root_state`` instead.

    Parameters
    ----------
    game : pyspiel.Game

    Returns
    -------
    pyspiel.State or None
    """
    return game.new_initial_state_for_population(0) if game.num_players() == 1 else None


def openspiel_population_mean_field(game, policy) -> np.ndarray:
    """OpenSpiel's distribution of ``policy`` as tabmfirl flows ``(K, H+1, S)``.

    Parameters
    ----------
    game : pyspiel.Game
        A game :func:`populations_from_openspiel` converts.
    policy : open_spiel.python.policy.Policy
        E.g. :func:`openspiel_population_policy`.

    Returns
    -------
    ndarray, shape (K, H+1, S)
        ``mu_t^p(s)`` read from ``DistributionPolicy`` at the decision nodes of
        ``t = 0`` and at the mean field nodes of ``t >= 1``.
    """
    distribution = require("open_spiel.python.mfg.algorithms.distribution",
                           "tabmfirl.interop.openspiel_population_mean_field")
    dist = distribution.DistributionPolicy(game, policy, root_state=single_root(game))
    params = game.get_parameters()
    size, horizon, K = int(params["size"]), int(params["horizon"]), game.num_players()
    mu = np.zeros((K, horizon + 1, size * size))
    for p in range(K):
        for t in range(horizon + 1):
            stamp = f"{t}" if t == 0 else f"{t}_a"
            for x in range(size):
                for y in range(size):
                    mu[p, t, x * size + y] = dist.value_str(
                        f"(pop={p}, t={stamp}, pos=[{x} {y}])", 0.0)
    return mu
