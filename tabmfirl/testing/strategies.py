"""Hypothesis strategies for random mean field games (shared by the test suite).

Needs Hypothesis, a test dependency of tabmfirl (``pip install "tabmfirl[test]"``
or ``pip install hypothesis``); ``import tabmfirl`` and ``import
tabmfirl.testing`` never import it.

Examples
--------
>>> from hypothesis import given, settings
>>> from tabmfirl import solve_equilibrium
>>> from tabmfirl.testing import assert_equilibrium
>>> @settings(max_examples=3, deadline=None)
... @given(games(max_states=4, max_horizon=3, coupling="weak"), temperatures)
... def test_solver(spec, beta):
...     result = solve_equilibrium(spec, temperature=beta, backend="numpy")
...     assert_equilibrium(spec, result.policy, beta, atol=1e-8)
>>> test_solver()
"""
from __future__ import annotations

import numpy as np

try:
    from hypothesis import strategies as st
except ImportError as error:  # pragma: no cover (hypothesis is installed with the tests)
    raise ImportError(
        "tabmfirl.testing.strategies needs hypothesis, a test dependency of tabmfirl: "
        "pip install 'tabmfirl[test]' (or pip install hypothesis)") from error

from ..game._spec import population_coupling
from .games import congestion_game, graph_neighbours, random_game, random_policy


@st.composite
def games(draw, *, max_states: int = 30, max_actions: int = 5, max_horizon: int = 20,
          max_contexts: int = 3, coupling: str = "weak", kinds=("state", "state_action"),
          sparse: bool = True, coupled_contexts: bool = True, min_actions: int = 1,
          per_type_dynamics: bool = False, observations=("mixture",)):
    """Random games of :func:`tabmfirl.testing.games.random_game`.

    Parameters
    ----------
    max_states, max_actions, max_horizon, max_contexts : int
        Upper bounds of the sizes drawn (lower bounds are 1, ``min_actions``
        for the actions).
    coupling : {"weak", "strong", "none"}
        ``"weak"``: mean field strengths at most ``0.5 / horizon`` (a unique
        equilibrium that damped iteration finds); ``"strong"``: up to 5;
        ``"none"``: the game ignores the mean field.
    kinds : tuple of str
        Mean field kinds to draw from.
    sparse : bool
        Whether sparse transitions may be drawn.
    coupled_contexts : bool
        Whether a population coupling between contexts may be drawn.
    min_actions : int, default 1
        Fewest actions (2: every state has a choice).
    per_type_dynamics : bool, default False
        Whether games whose types move differently (and start from different
        distributions) may be drawn.
    observations : tuple of str
        What the types observe, drawn from ``"mixture"`` (own flow or
        coupled mixture) and ``"all_types"`` (the stack of every type's flow).
    """
    S = draw(st.integers(1, max_states))
    A = draw(st.integers(min_actions, max_actions))
    T = draw(st.integers(1, max_horizon))
    K = draw(st.integers(1, max_contexts))
    seed = draw(st.integers(0, 2**32 - 1))
    kind = draw(st.sampled_from(kinds))
    width = draw(st.one_of(st.none(), st.integers(1, S))) if sparse else None
    limit = {"weak": 0.5 / T, "strong": 5.0, "none": 0.0}[coupling]
    strength_p = draw(st.floats(0.0, limit)) if limit else 0.0
    strength_r = draw(st.floats(0.0, limit)) if limit else 0.0
    by_type = per_type_dynamics and draw(st.booleans())
    observation = draw(st.sampled_from(observations))
    if observation == "all_types":   # the observed vector is K times longer: keep the
        strength_p, strength_r = strength_p / K, strength_r / K   # Lipschitz constant
    spec = random_game(S, A, T, K, transition_strength=strength_p, reward_strength=strength_r,
                       width=width, mean_field_kind=kind, dynamic=coupling != "none",
                       per_type_dynamics=by_type, observation=observation, rng=seed)
    if coupled_contexts and K > 1 and observation == "mixture" and draw(st.booleans()):
        weights = np.random.default_rng(seed).dirichlet(np.ones(K))
        spec = spec.replace(context_coupling=population_coupling(weights))
    return spec


temperatures = st.floats(0.2, 3.0)
"""Temperatures at which the tests solve games."""


@st.composite
def congestion_games(draw, *, max_states: int = 12, max_horizon: int = 20, max_contexts: int = 3,
                     max_congestion: float = 5.0, graphs=("ring", "grid", "random"),
                     coupled_contexts: bool = True):
    """Random strongly coupled monotone games of :func:`tabmfirl.testing.games.congestion_game`.

    Parameters
    ----------
    max_states, max_horizon, max_contexts : int
        Upper bounds of the sizes drawn (states from 2, others from 1).
    max_congestion : float
        Congestion :math:`c` is drawn from ``[0, max_congestion]``, with
        ``max_congestion`` itself and ``0`` (uncoupled) drawn often.
    graphs : tuple of str
        Graph kinds to draw from (``"ring"``, ``"grid"``, ``"random"``).
    coupled_contexts : bool
        Whether the types may observe the population flow (random shares)
        instead of their own.
    """
    S = draw(st.integers(2, max_states))
    T = draw(st.integers(1, max_horizon))
    K = draw(st.integers(1, max_contexts))
    kind = draw(st.sampled_from(graphs))
    congestion = draw(st.one_of(st.just(float(max_congestion)), st.just(0.0),
                                st.floats(0.0, max_congestion)))
    slip = draw(st.sampled_from([0.0, 0.1, 0.3]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    weights = None
    if coupled_contexts and K > 1 and draw(st.booleans()):
        weights = rng.dirichlet(np.ones(K))
    return congestion_game(graph_neighbours(kind, S, rng), T, K, congestion=congestion, slip=slip,
                           population_weights=weights, rng=rng)


low_temperatures = st.sampled_from([0.05, 0.1, 0.2, 0.5, 1.0, 3.0])
"""Temperatures down to 0.05 (the default solver must converge there)."""


@st.composite
def policies(draw, spec, *, concentration: float = 1.0):
    """Random policies ``(K, T, S, A)`` of ``spec`` with Dirichlet rows (full support).

    Parameters
    ----------
    spec : MFGSpec
    concentration : float, default 1.0
        Dirichlet concentration of each row (small: nearly deterministic rows).
    """
    return random_policy(spec, rng=draw(st.integers(0, 2**32 - 1)), concentration=concentration)
