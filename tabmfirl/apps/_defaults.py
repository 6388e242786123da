"""The defaults of every command, in one place (the table in ``docs/index.md``).

Every verb of the CLI that takes one of these settings (``solve``, ``demos``,
``fit``, ``evaluate``, ``experiment``, ``taxi-study``) reads its default here,
so the same command line means the same thing whichever verb runs it.

========================  =================================================================
setting                   default
========================  =================================================================
temperature (``--beta``)  the game's own ``TEMPERATURE`` (``tabmfirl games``); ``fit`` and
                          ``evaluate``: the temperature recorded in the demonstrations file
horizon (``--horizon``)   the game's own horizon; ``fit``: the demonstrations' horizon
iterations (``--iters``)  300 fit iterations
warm-up (``--warmup``)    50 iterations (methods with a warm-up only)
step (``--lr``)           0.02 (Adam)
reward head               ``linear``
backend (``--backend``)   ``auto`` (CUDA on a real GPU, else Numba)
seed (fits)               0
agents (``--agents``)     100 per type
========================  =================================================================
"""
from __future__ import annotations

from ._games import default_temperature as game_temperature

__all__ = ["DEFAULTS", "default_temperature", "defaults_table"]

#: The defaults of every verb.  ``None`` for ``temperature`` and ``horizon``: the game's own.
DEFAULTS = {
    "temperature": None,
    "horizon": None,
    "max_iter": 300,
    "n_warmup": 50,
    "learning_rate": 0.02,
    "reward_kind": "linear",
    "backend": "auto",
    "seed": 0,
    "checkpoint_every": 10,
    "agents": 100,
}


def default_temperature(game: str, demos_temperature=None) -> float:
    """The temperature a verb uses when ``--beta`` is not given.

    Parameters
    ----------
    game : str
        A built-in game (:data:`tabmfirl.envs.GAMES`), ``module:function`` or a
        game file (:mod:`tabmfirl.apps._games`).
    demos_temperature : float, optional
        The temperature recorded in a demonstrations file; wins over the game's.

    Returns
    -------
    float
        ``demos_temperature``, else the game's ``TEMPERATURE``.
    """
    if demos_temperature is not None:
        return float(demos_temperature)
    return game_temperature(game)


def defaults_table() -> str:
    """The defaults as a Markdown table (``docs/index.md`` shows it; a test compares).

    Returns
    -------
    str
    """
    rows = [("temperature (`--beta`)", "the game's own `TEMPERATURE` (`tabmfirl games`); "
             "`fit`, `evaluate`: the demonstrations file's"),
            ("horizon (`--horizon`)", "the game's own; `fit`: the demonstrations'"),
            ("iterations (`--iters`)", str(DEFAULTS["max_iter"])),
            ("warm-up (`--warmup`)", str(DEFAULTS["n_warmup"])),
            ("Adam step (`--lr`)", str(DEFAULTS["learning_rate"])),
            ("reward head (`--reward-kind`)", f"`{DEFAULTS['reward_kind']}`"),
            ("backend (`--backend`)", f"`{DEFAULTS['backend']}` (CUDA on a real GPU, "
             "else Numba)"),
            ("fit seed (`--seed`)", str(DEFAULTS["seed"])),
            ("checkpoint period (`--checkpoint-every`)", str(DEFAULTS["checkpoint_every"])),
            ("agents per type (`--agents`)", str(DEFAULTS["agents"]))]
    lines = ["| setting | default (every verb) |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in rows]
    return "\n".join(lines) + "\n"
