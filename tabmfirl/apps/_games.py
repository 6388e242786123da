"""The ``--game`` of every command: a built-in name, ``module:function``, or a game file.

Three forms, tried in this order:

``NAME``
    A built-in game (:data:`tabmfirl.envs.GAMES`), built with
    :func:`tabmfirl.envs.make`.
``PATH.npz``
    A game of arrays written by :func:`tabmfirl.save_spec` (read with
    :func:`tabmfirl.load_spec`).  It has one horizon, one set of types and no
    variant dynamics: asking for others is an error.
``module:function`` or ``path/to/file.py:function``
    A function returning an :class:`~tabmfirl.MFGSpec`, imported from a module
    on ``sys.path`` (the working directory first) or from a Python file.  It
    is called with those of the keyword arguments ``types``, ``horizon`` and
    ``dynamics`` the command was given that it accepts (one it accepts but
    the command was not given is left to the function's default); the game
    it returns must have the types and horizon asked for, and a ``dynamics``
    other than ``"original"`` needs a function that takes it.

The default temperature of a game (``--beta`` left out) is the built-in game's
``TEMPERATURE``, the ``TEMPERATURE`` of a function's module if it has one, and
1.0 otherwise.  Every failure is a :class:`CommandError` with one line.
"""
from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import os
import sys

import numpy as np

from tabmfirl import Demonstrations, MFGSpec, envs, load_spec
from tabmfirl._io import NPZ_READ_ERRORS, read_npz

from ._errors import CommandError

__all__ = ["load_game", "game_reference", "default_temperature", "is_builtin",
           "takes_dynamics", "game_of", "read_demos", "GAME_HELP"]

#: Help text of every command's ``--game``.
GAME_HELP = ("a built-in game (see `tabmfirl games`), module:function or file.py:function "
             "returning an MFGSpec, or a game file .npz (tabmfirl.save_spec)")

_DEFAULT_TEMPERATURE = 1.0


def is_builtin(game: str) -> bool:
    """True when ``game`` names a built-in game."""
    return game in envs.GAMES


def _is_spec_file(game: str) -> bool:
    return game.endswith(".npz")


def _split_function(game: str):
    module, _, function = game.rpartition(":")
    if not module or not function.isidentifier():
        raise CommandError(
            f"unknown game {game!r}: not a built-in game ({', '.join(sorted(envs.GAMES))}), "
            f"not a game file (.npz) and not module:function")
    return module, function


def _import_module(module: str):
    if module.endswith(".py"):
        if not os.path.isfile(module):
            raise CommandError(f"no Python file {module!r} for the game")
        path = os.path.abspath(module)
        # one module per file and process, so Numba compiles its functions once
        name = "_tabmfirl_game_" + hashlib.sha256(path.encode()).hexdigest()[:16]
        if name in sys.modules:
            return sys.modules[name]
        loader_spec = importlib.util.spec_from_file_location(name, path)
        loaded = importlib.util.module_from_spec(loader_spec)
        try:
            loader_spec.loader.exec_module(loaded)
        except Exception as error:
            raise CommandError(f"importing {module!r} failed: {type(error).__name__}: "
                               f"{error}") from None
        sys.modules[name] = loaded
        return loaded
    cwd_added = os.getcwd() not in sys.path
    if cwd_added:
        sys.path.insert(0, os.getcwd())
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise CommandError(f"cannot import the game module {module!r}: {error}") from None
    except Exception as error:
        raise CommandError(f"importing {module!r} failed: {type(error).__name__}: "
                           f"{error}") from None
    finally:
        if cwd_added:
            sys.path.remove(os.getcwd())


def _function(game: str):
    module_name, name = _split_function(game)
    module = _import_module(module_name)
    function = getattr(module, name, None)
    if not callable(function):
        raise CommandError(f"{module_name!r} has no function {name!r}")
    return module, function


def _accepted(function, kwargs: dict) -> dict:
    """The keyword arguments of ``kwargs`` that ``function`` takes."""
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):
        return kwargs
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return kwargs
    return {key: value for key, value in kwargs.items() if key in parameters}


def _check_sizes(spec: MFGSpec, game: str, kwargs: dict) -> MFGSpec:
    """``spec`` if it has the ``types`` and ``horizon`` asked for (CommandError otherwise)."""
    for key, have in (("types", spec.n_contexts), ("horizon", spec.horizon)):
        if kwargs.get(key) is not None and kwargs[key] != have:
            raise CommandError(f"the game {game!r} has {key} {have}, not {kwargs[key]} (it "
                               f"cannot be built with another {key})")
    return spec


def _from_file(game: str, kwargs: dict) -> MFGSpec:
    try:
        spec = load_spec(game)
    except (FileNotFoundError, ValueError) as error:
        raise CommandError(str(error)) from None
    dynamics = kwargs.get("dynamics")
    if dynamics not in (None, "original"):
        raise CommandError(f"the game file {game!r} has no {dynamics!r} dynamics")
    return _check_sizes(spec, game, kwargs)


def load_game(game: str, **kwargs) -> MFGSpec:
    """The game ``game`` (module docstring) built with the given keyword arguments.

    Parameters
    ----------
    game : str
    **kwargs
        ``types``, ``horizon``, ``dynamics`` (``None`` values are left out),
        or any builder argument of a built-in game.  A function that does not
        take ``types`` or ``horizon`` is called without it, and its game must
        then have the sizes asked for; ``dynamics`` other than
        ``"original"`` needs a function that takes it.

    Returns
    -------
    MFGSpec

    Raises
    ------
    CommandError
        Unknown game, a module or file that cannot be read, a function that
        does not return an :class:`~tabmfirl.MFGSpec` or rejects the
        arguments, or sizes the game does not have.
    """
    if not isinstance(game, str) or not game:
        raise CommandError(f"--game must be a non-empty string, got {game!r}")
    kwargs = {key: value for key, value in kwargs.items() if value is not None}
    if is_builtin(game):
        try:
            return envs.make(game, **kwargs)
        except (ValueError, TypeError) as error:
            raise CommandError(str(error)) from None
    if _is_spec_file(game):
        return _from_file(game, kwargs)
    _, function = _function(game)
    accepted = _accepted(function, kwargs)
    dynamics = kwargs.get("dynamics")
    if dynamics not in (None, "original") and "dynamics" not in accepted:
        raise CommandError(f"the game function {game!r} takes no dynamics argument, so it has "
                           f"no {dynamics!r} dynamics")
    try:
        spec = function(**accepted)
    except Exception as error:
        raise CommandError(f"the game function {game!r} failed: {type(error).__name__}: "
                           f"{error}") from None
    if not isinstance(spec, MFGSpec):
        raise CommandError(f"the game function {game!r} returned a "
                           f"{type(spec).__name__}, not an MFGSpec")
    return _check_sizes(spec, game, kwargs)


def takes_dynamics(game: str) -> bool:
    """True when ``game`` can be built with ``dynamics="variant"`` (built-in games, and
    functions with a ``dynamics`` argument)."""
    if is_builtin(game):
        return True
    if _is_spec_file(game):
        return False
    _, function = _function(game)
    return bool(_accepted(function, {"dynamics": "variant"}))


def game_reference(game: str) -> str:
    """What to record in a file so that :func:`load_game` finds ``game`` again from another
    working directory: built-in names and module names as given, file paths absolute."""
    if is_builtin(game):
        return game
    if _is_spec_file(game):
        return os.path.abspath(game)
    module, function = _split_function(game)
    if module.endswith(".py"):
        return f"{os.path.abspath(module)}:{function}"
    return game


def default_temperature(game: str) -> float:
    """The temperature of ``game`` when ``--beta`` is left out (module docstring)."""
    if is_builtin(game):
        return float(envs.solver_settings(game)["temperature"])
    if _is_spec_file(game):
        return _DEFAULT_TEMPERATURE
    module, _ = _function(game)
    return float(getattr(module, "TEMPERATURE", _DEFAULT_TEMPERATURE))


def game_of(game: str, params: dict, dynamics=None) -> MFGSpec:
    """The game recorded in a demonstrations file or run folder: ``game`` (a built-in name or
    a :func:`game_reference`) rebuilt with ``params`` (and ``dynamics`` if given)."""
    params = dict(params)
    if dynamics is not None:
        params["dynamics"] = dynamics
    if is_builtin(game):
        try:
            return envs.make(game, **params)
        except (ValueError, TypeError) as error:
            raise CommandError(f"cannot rebuild game {game!r} with {params}: {error}") from None
    if ":" not in game and not _is_spec_file(game):
        raise CommandError(f"the demonstrations are of game {game!r}, not a built-in game "
                           f"(see `tabmfirl games`): give --game")
    return load_game(game, **params)


def _raw_demos(arrays: dict, spec: MFGSpec, path: str):
    """Demonstrations of ``spec`` from the raw arrays of a file without metadata."""
    missing = [key for key in ("states", "actions") if key not in arrays]
    if missing:
        raise CommandError(f"{path!r} is not a demonstrations file: it lacks "
                           f"{', '.join(missing)} (found {', '.join(sorted(arrays)) or 'none'})")
    extra = sorted(set(arrays) - {"states", "actions", "types"})
    if extra:
        raise CommandError(f"{path!r} has unexpected array(s) {', '.join(extra)} (expected "
                           f"states, actions and optionally types)")
    for key, value in arrays.items():
        if value.dtype.kind not in "iu":
            raise CommandError(f"{path!r}: {key} must hold integers, got dtype {value.dtype}")
    labelled = "types" in arrays
    states = arrays["states"].astype(np.int64)
    types = arrays["types"].astype(np.int64) if labelled else \
        np.zeros(states.shape[:1], dtype=np.int64)
    try:
        demos = Demonstrations(states=states, actions=arrays["actions"].astype(np.int64),
                               types=types, n_states=spec.n_states, n_actions=spec.n_actions,
                               n_types=spec.n_contexts if labelled else 1)
    except ValueError as error:
        raise CommandError(f"{path!r} does not fit the game: {error}") from None
    return demos, labelled


def _spec_for(game, params, horizon):
    if params is not None:
        return game_of(game, params)
    return load_game(game, horizon=horizon)


def read_demos(path: str, game=None, params=None):
    """``(demos, spec, game_reference, params, labelled)`` of a demonstrations file.

    A file written by ``tabmfirl demos`` (:class:`~tabmfirl.Demonstrations`)
    carries its game, rebuilt from the file unless ``game`` is given (built
    with ``params`` if given, as a run folder records them, else with the
    file's horizon).  A plain
    ``.npz`` of int arrays ``states (N, T+1)``, ``actions (N, T)`` and
    optionally ``types (N,)`` (another implementation's rollouts) needs
    ``game``; without ``types`` the demonstrations are *unlabelled* (all
    agents carry type 0, ``n_types = 1``, and ``labelled`` is False).
    """
    if not os.path.isfile(path):
        raise CommandError(f"no demonstrations file at {path!r}")
    try:
        arrays = read_npz(path)
    except NPZ_READ_ERRORS as error:
        raise CommandError(f"demonstrations file {path!r} cannot be read as an .npz archive: "
                           f"{type(error).__name__}: {error}") from None
    if "meta" in arrays:
        try:
            demos = Demonstrations.load(path)
        except (FileNotFoundError, ValueError) as error:
            raise CommandError(str(error)) from None
        if game is None:
            return demos, game_of(demos.game, demos.params), demos.game, dict(demos.params), \
                True
        spec = _spec_for(game, params, demos.horizon)
        return demos, spec, game_reference(game), \
            {"horizon": spec.horizon} if params is None else dict(params), True
    if game is None:
        raise CommandError(f"{path!r} has no metadata (not written by tabmfirl demos): give "
                           f"its game with --game")
    horizon = arrays["actions"].shape[-1] if "actions" in arrays else None
    spec = _spec_for(game, params, horizon)
    demos, labelled = _raw_demos(arrays, spec, path)
    return demos, spec, game_reference(game), \
        {"horizon": spec.horizon} if params is None else dict(params), labelled
