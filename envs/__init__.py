"""Benchmark mean field games, importable as ``tabmfirl.envs``.

Each game lives in its own module with a ``make(types, *, dynamics, horizon)``
builder that returns an :class:`tabmfirl.MFGSpec`; :func:`make` looks games up
by name.
"""
from importlib import import_module

#: Registered game names and the modules that build them.
GAMES = {"virus": "virus"}


def make(name: str, **kwargs):
    """Build the game ``name`` (see ``GAMES``) with the builder's keyword arguments."""
    if name not in GAMES:
        raise ValueError(f"unknown game {name!r}; known games: {', '.join(sorted(GAMES))}")
    return import_module(f"{__name__}.{GAMES[name]}").make(**kwargs)


__all__ = ["GAMES", "make"]
