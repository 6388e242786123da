r"""A game of arrays to and from an ``.npz`` file, without pickle.

A :class:`~tabmfirl.MFGSpec` whose transition and reward are arrays (not mean
field functions) is fully described by its arrays and a few sizes, so it can
be written to a NumPy ``.npz`` archive and read back exactly:

==================== ======================================== =========
array                shape                                    when
==================== ======================================== =========
``mu0``              ``(S,)`` or ``(K, S)``                   always
``transition``       ``(S, A, W)`` or ``(T, S, A, W)``;       always
                     with a leading ``K`` axis when the types
                     move differently
``reward``           ``(K, S, A)`` or ``(K, T, S, A)``        always
``params``           ``(n,)``                                 always
``next_states``      ``(S, A, W)``, int64                     sparse games
``context_coupling`` ``(K, K)``                               coupled types
``meta``             0-d string: JSON                         always
==================== ======================================== =========

``meta`` holds the format tag :data:`tabmfirl._io.SPEC_FORMAT`, ``name``,
``n_states``, ``n_actions``, ``horizon``, ``mean_field_kind``,
``transition_by_context`` (absent in older files: ``false``) and ``info``
(the JSON-serialisable part of ``spec.info``; arrays as nested lists).  A game
whose transition or reward is a *mean field function* cannot be written: a
function is code, not an array (evaluate it along a flow with
:func:`tabmfirl.evaluate_model` if fixed tables are what you need).
"""
from __future__ import annotations

import json
import os

import numpy as np

from .._io import NPZ_READ_ERRORS, SPEC_FORMAT, atomic_write, pickle_free, read_npz
from ._spec import MFGSpec

__all__ = ["save_spec", "load_spec"]

_REQUIRED = ("mu0", "transition", "reward", "params", "meta")
_OPTIONAL = ("next_states", "context_coupling")
_META = ("name", "n_states", "n_actions", "horizon", "mean_field_kind")


def _json_info(info: dict) -> dict:
    """The JSON-serialisable part of ``info`` (arrays as lists; other objects left out)."""
    kept = {}
    for key, value in info.items():
        if isinstance(value, np.ndarray):
            value = value.tolist()
        elif isinstance(value, np.generic):
            value = value.item()
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            continue
        kept[str(key)] = value
    return kept


def save_spec(spec: MFGSpec, path) -> str:
    r"""Write a game of arrays to ``path`` (an ``.npz`` archive, no pickle, atomic).

    The archive holds the arrays of the table in the module docstring; read
    it back with :func:`load_spec`, which rebuilds (and re-validates) the
    same :class:`~tabmfirl.MFGSpec`.

    Parameters
    ----------
    spec : MFGSpec
        A game whose ``transition`` and ``reward`` are arrays.
    path : str or os.PathLike
        Written exactly there (no suffix added).

    Returns
    -------
    str
        ``path``.

    Raises
    ------
    ValueError
        If the transition or the reward is a mean field function.

    Examples
    --------
    >>> import numpy as np, os, tempfile
    >>> from tabmfirl import MFGSpec, load_spec, save_spec
    >>> spec = MFGSpec(n_states=1, n_actions=2, horizon=2, mu0=[1.0],
    ...                transition=np.ones((1, 2, 1)), reward=np.array([[[0.0, 1.0]]]))
    >>> path = os.path.join(tempfile.mkdtemp(), "game.npz")
    >>> np.array_equal(load_spec(save_spec(spec, path)).reward, spec.reward)
    True
    """
    functions = [name for name, dynamic in (("transition", spec.transition_is_dynamic),
                                            ("reward", spec.reward_is_dynamic)) if dynamic]
    if functions:
        raise ValueError(
            f"game {spec.name!r} has a mean field function as its {' and '.join(functions)}: "
            f"only a game of arrays can be saved to .npz (a function is code, not an array)")
    arrays = {"mu0": spec.mu0, "transition": spec.transition, "reward": spec.reward,
              "params": spec.params}
    if spec.next_states is not None:
        arrays["next_states"] = spec.next_states
    if spec.context_coupling is not None:
        arrays["context_coupling"] = spec.context_coupling
    meta = {"format": SPEC_FORMAT, "name": spec.name, "n_states": spec.n_states,
            "n_actions": spec.n_actions, "horizon": spec.horizon,
            "mean_field_kind": spec.mean_field_kind,
            "transition_by_context": spec.transition_by_context, "info": _json_info(spec.info)}
    arrays["meta"] = np.array(json.dumps(meta))
    arrays = pickle_free(arrays)
    atomic_write(path, lambda handle: np.savez(handle, **arrays))
    return os.fspath(path)


def _read_meta(value, where: str) -> dict:
    if value.shape != () or value.dtype.kind != "U":
        raise ValueError(f"{where}: meta must be a single JSON string")
    try:
        meta = json.loads(str(value))
    except json.JSONDecodeError as error:
        raise ValueError(f"{where}: meta is not valid JSON: {error}") from None
    if not isinstance(meta, dict) or meta.get("format") != SPEC_FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise ValueError(f"{where}: unknown format {found!r} (expected {SPEC_FORMAT!r})")
    missing = [key for key in _META if key not in meta]
    if missing:
        raise ValueError(f"{where}: meta lacks {', '.join(missing)}")
    return meta


def load_spec(path) -> MFGSpec:
    r"""Read a game written by :func:`save_spec` (checked like any new :class:`~tabmfirl.MFGSpec`).

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    MFGSpec

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    ValueError
        Not an ``.npz`` archive of a game (damaged, missing or unexpected
        arrays, another format), or arrays that do not make a valid game; the
        message names the file and the problem.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no game file at {path!r}")
    where = f"game file {path!r}"
    try:
        arrays = read_npz(path)
    except NPZ_READ_ERRORS as error:
        raise ValueError(f"{where} cannot be read as an .npz archive: "
                         f"{type(error).__name__}: {error}") from None
    missing = [key for key in _REQUIRED if key not in arrays]
    if missing:
        raise ValueError(f"{where} lacks the array(s) {', '.join(missing)} (found "
                         f"{', '.join(sorted(arrays)) or 'none'}); write it with "
                         f"tabmfirl.save_spec")
    extra = sorted(set(arrays) - set(_REQUIRED) - set(_OPTIONAL))
    if extra:
        raise ValueError(f"{where} has unexpected array(s) {', '.join(extra)}")
    meta = _read_meta(arrays.pop("meta"), where)
    try:
        return MFGSpec(n_states=meta["n_states"], n_actions=meta["n_actions"],
                       horizon=meta["horizon"], mu0=arrays["mu0"],
                       transition=arrays["transition"], reward=arrays["reward"],
                       next_states=arrays.get("next_states"), params=arrays["params"],
                       mean_field_kind=meta["mean_field_kind"],
                       context_coupling=arrays.get("context_coupling"),
                       transition_by_context=meta.get("transition_by_context", False),
                       name=str(meta["name"]), info=dict(meta.get("info") or {}))
    except (ValueError, TypeError) as error:
        raise ValueError(f"{where}: {error}") from None
