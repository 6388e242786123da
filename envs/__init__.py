"""Benchmark mean field games, importable as ``tabmfirl.envs``.

Each game lives in its own module with a ``make(types, *, dynamics, horizon,
...)`` builder that returns an :class:`tabmfirl.MFGSpec`, module-level
constants for its defaults (``HORIZON``, ``DYNAMICS``, the per-type weights,
and ``TEMPERATURE``, the temperature the docs and tests use) and a docstring
with its equations and source.  :func:`make` looks games up by name;
``docs/games.md`` describes every game.  No game needs solver settings: the
default :func:`tabmfirl.solve_equilibrium` converges on every one of them at
every temperature the tests use (0.05 to 10).

==========================  ======  =======  ==================================
name                        states  actions  types differ by
==========================  ======  =======  ==================================
``malware``                 10      2        repair cost (0.1, 0.5, 1.2)
``investment``              10      2        investment cost (0.05, 0.2, 1.0)
``virus``                   2       2        distancing cost (0.1, 0.5, 1.5)
``rock_paper_scissors``     4       3        switching cost (0, 0.5, 1)
``left_right``              3       2        crowd aversion on the right (1, 2, 4)
``crowd_grid``              10^4    5        weight on reaching the target (1, 0.5, 2)
``taxi``                    75      15       weights on fare / idle time / driving
``random_game``             8       3        drawn preferences, move costs, attraction
``predator_prey``           8       3        dynamics (fast predator) and who hunts whom
==========================  ======  =======  ==================================

Every game has ``dynamics="original"`` (the source) and ``dynamics="variant"``
(changed dynamics, same rewards: the transfer test).  ``random_game`` is a
generator (``envs/random_games.py``, :func:`random_game`): each ``seed``
draws a graph (ring, grid or random), the types' constants and
the initial distribution; the table shows its defaults.

How the types' constants of malware, investment and virus were chosen (ours):
the source game's constant is the middle type, and the other two are spread
until single trajectories identify their type, i.e. until the Bayes
classifier that knows the *true* equilibrium policies,
``argmax_m sum_t log pi^m_t(a_t | s_t)``, reaches an adjusted Rand index of at
least 0.95 on 200 agents per type at temperature 0.1 and horizon 50
(``benchmarks/type_identifiability.py`` measures it).  Type recovery cannot be
tested on types that the data cannot tell apart: the first constants we used
(malware 0.2/0.5/0.8, investment 0.1/0.2/0.4, virus 0.2/0.5/1.0) capped that
reference at 0.67-0.89 (0.48-0.74 at horizon 20); pass them explicitly
(``repair_costs=``, ``invest_costs=``, ``costs=``) to reproduce the old games.
"""
from importlib import import_module

import numpy as np

#: Registered game names and the modules that build them.
GAMES = {
    "malware": "malware",
    "investment": "investment",
    "virus": "virus",
    "rock_paper_scissors": "rock_paper_scissors",
    "left_right": "left_right",
    "crowd_grid": "crowd_grid",
    "taxi": "taxi",
    "random_game": "random_games",
    "predator_prey": "predator_prey",
}


def _module(name: str):
    if not isinstance(name, str) or name not in GAMES:
        raise ValueError(f"unknown game {name!r}; known games: {', '.join(sorted(GAMES))}")
    return import_module(f"{__name__}.{GAMES[name]}")


def make(name: str, **kwargs):
    """Build the game ``name`` (see ``GAMES``) with the builder's keyword arguments.

    Raises
    ------
    ValueError
        Unknown game, or arguments the builder rejects (bad ``types``,
        ``dynamics``, ...).
    TypeError
        A keyword the builder does not take.

    Examples
    --------
    >>> spec = make("malware", types=2, dynamics="variant")
    >>> spec.name, spec.n_contexts, spec.n_states
    ('malware', 2, 10)
    """
    return _module(name).make(**kwargs)


def random_game(seed: int, **kwargs):
    r"""The random congestion game number ``seed``: ``make("random_game", seed=seed, ...)``.

    Keyword arguments as in ``envs/random_games.py``'s ``make`` (``types``,
    ``topology``, ``n_states``, ``separation``, ...).  Type :math:`m` earns

    .. math::

        r(s, a, \mu, m) = g_m(s) - \kappa_m \mathbb{1}[a \text{ moves}] - c\, \mu(s)
                          + \frac{\alpha_m}{D} \sum_{s' \in N(s)} \mu(s')

    on a graph whose moves succeed with probability :math:`1 - \varepsilon`.

    Examples
    --------
    >>> spec = random_game(7, topology="random", n_states=10, types=2)
    >>> spec.name, spec.n_states, spec.n_contexts
    ('random_game', 10, 2)
    """
    return make("random_game", seed=seed, **kwargs)


def solver_settings(name: str) -> dict:
    """Keyword arguments of :func:`tabmfirl.solve_equilibrium` for game ``name``.

    Only the temperature the docs and tests use (the module's
    ``TEMPERATURE``): the default solver needs no per-game damping or step
    (there used to be one, ``DAMPING``, tuned by hand for each game).

    Examples
    --------
    >>> solver_settings("rock_paper_scissors")
    {'temperature': 1.0}
    """
    return {"temperature": float(_module(name).TEMPERATURE)}


def check_builder_args(types, dynamics, known_dynamics, defaults, weights, weights_name):
    """Validate a builder's ``dynamics`` and return the per-type weights (every game uses it).

    ``weights`` (explicit per-type values) wins over ``types`` (the first
    ``types`` entries of ``defaults``).
    """
    if dynamics not in known_dynamics:
        raise ValueError(f"dynamics must be one of {tuple(known_dynamics)}, got {dynamics!r}")
    if weights is not None:
        weights = np.asarray(weights, dtype=float).reshape(-1)
        if weights.size == 0 or not np.all(np.isfinite(weights)):
            raise ValueError(f"{weights_name} must be a non-empty sequence of finite numbers")
        return tuple(float(w) for w in weights)
    if isinstance(types, (bool, np.bool_)) or not isinstance(types, (int, np.integer)) \
            or not 1 <= types <= len(defaults):
        raise ValueError(
            f"types must be an integer in [1, {len(defaults)}] (or pass {weights_name}), "
            f"got {types!r}")
    return tuple(defaults[:types])


__all__ = ["GAMES", "make", "random_game", "solver_settings"]
