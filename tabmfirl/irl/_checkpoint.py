r"""Resumable fits and result files: atomic, pickle-free ``.npz`` and JSON.

Three kinds of file, all written **atomically** (a temporary file in the
same directory, flushed and ``fsync``-ed, then ``os.replace``-d over the
target, so a reader sees either the old file or the new one, never half of
one; a process killed mid-write leaves at most a stray ``.*.tmp`` file that
every reader here ignores):

* **checkpoints** (:func:`save_checkpoint`, :func:`load_checkpoint`): the
  complete state of an iterative fit's loop, to resume it bit-identically.
  Arrays are stored as they are; the JSON string ``meta`` holds the format
  tag, the run's *configuration* (every setting that changes the iterates,
  plus SHA-256 digests of the data) and its digest, scalars, and the state of
  the random generator (``rng.bit_generator.state``, a dict of Python ints,
  serialised to JSON).  Loading a checkpoint whose configuration differs from
  the current run's raises a ``ValueError`` naming the differing keys:
  resuming someone else's run silently would be wrong.
* **fit results** (:func:`save_result`, :func:`load_result`): an
  :class:`~tabmfirl.IRLResult` with the reward head's constructor arguments,
  so the head is rebuilt exactly.
* **JSON records** (:func:`atomic_write_json`, :func:`read_json`).

Which settings belong to the configuration is the caller's choice; the fits
of :mod:`tabmfirl.irl._irl` leave ``n_iter`` out, so that a run stopped after
``k`` iterations resumes and continues to any larger ``n_iter``.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from ._nn import NPZ_READ_ERRORS, pickle_free, read_npz

__all__ = ["CHECKPOINT_FORMAT", "RESULT_FORMAT", "atomic_write_bytes", "atomic_write_json",
           "read_json", "config_digest", "array_digest", "save_checkpoint", "load_checkpoint",
           "optimizer_state", "restore_optimizer", "save_result", "load_result"]

#: Format tag of checkpoint files.
CHECKPOINT_FORMAT = "tabmfirl.checkpoint/1"
#: Format tag of fit result files.
RESULT_FORMAT = "tabmfirl.irl_result/1"


# ---------------------------------------------------------------------------
# Atomic writes.
# ---------------------------------------------------------------------------


def _atomic_write(path, write):
    """Call ``write(handle)`` on a temporary file next to ``path``, then replace ``path``."""
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


def atomic_write_bytes(path, data: bytes):
    """Write ``data`` to ``path`` atomically (temporary file, ``fsync``, ``os.replace``).

    Parameters
    ----------
    path : str or os.PathLike
    data : bytes

    Returns
    -------
    pathlib.Path
    """
    return _atomic_write(path, lambda handle: handle.write(data))


def atomic_write_json(path, obj):
    """Write ``obj`` as indented JSON to ``path`` atomically.

    Parameters
    ----------
    path : str or os.PathLike
    obj : JSON-serialisable object
        ``NaN`` and infinities are written as Python's ``json`` writes them
        (``NaN``, ``Infinity``), which :func:`read_json` reads back.

    Returns
    -------
    pathlib.Path
    """
    text = json.dumps(obj, indent=2, sort_keys=True) + "\n"
    return atomic_write_bytes(path, text.encode("utf-8"))


def read_json(path):
    """Read a JSON file, or ``None`` if it is missing, truncated or not JSON.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    object or None
    """
    try:
        with open(path, "r", encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError, UnicodeDecodeError):
        return None


# ---------------------------------------------------------------------------
# Digests.
# ---------------------------------------------------------------------------


def array_digest(*arrays) -> str:
    """SHA-256 of the dtypes, shapes and bytes of ``arrays`` (hex).

    Parameters
    ----------
    *arrays : array_like

    Returns
    -------
    str
    """
    digest = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def _canonical(config) -> str:
    return json.dumps(config, sort_keys=True, separators=(",", ":"))


def config_digest(config: dict) -> str:
    """SHA-256 (hex) of the canonical JSON of ``config`` (sorted keys).

    Parameters
    ----------
    config : dict
        JSON-serialisable.

    Returns
    -------
    str
    """
    return hashlib.sha256(_canonical(config).encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------------
# Checkpoints.
# ---------------------------------------------------------------------------


def save_checkpoint(path, arrays: dict, *, config: dict, scalars: dict, rng=None):
    """Write a loop state atomically to ``path`` (``.npz``, no pickle).

    Parameters
    ----------
    path : str or os.PathLike
    arrays : dict of str to ndarray
        Numeric arrays (e.g. head parameters, optimiser moments, posterior,
        histories).  The name ``meta`` is reserved.
    config : dict
        JSON-serialisable configuration of the run (checked on load).
    scalars : dict
        JSON-serialisable scalars (iteration counter, flags).
    rng : numpy.random.Generator, optional
        Its ``bit_generator.state`` is stored as JSON.

    Returns
    -------
    pathlib.Path
    """
    if "meta" in arrays:
        raise ValueError("the array name 'meta' is reserved")
    clean = pickle_free(arrays)
    meta = {"format": CHECKPOINT_FORMAT, "config": config, "config_digest": config_digest(config),
            "scalars": scalars,
            "rng_state": None if rng is None else rng.bit_generator.state}
    clean["meta"] = np.array(json.dumps(meta))
    return _atomic_write(path, lambda handle: np.savez(handle, **clean))


def _differences(a, b, prefix=""):
    keys = []
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                keys.append(prefix + key)
            else:
                keys.extend(_differences(a[key], b[key], prefix + key + "."))
    elif _canonical(a) != _canonical(b):
        keys.append(prefix.rstrip("."))
    return keys


def load_checkpoint(path, config: dict):
    """Read a checkpoint written by :func:`save_checkpoint` for this configuration.

    Parameters
    ----------
    path : str or os.PathLike
    config : dict
        The configuration of the run that wants to resume.

    Returns
    -------
    dict or None
        ``None`` when no file exists at ``path``; otherwise a dict with the
        arrays, plus ``"scalars"`` (dict) and ``"rng_state"`` (dict or None).

    Raises
    ------
    ValueError
        The file is not a readable checkpoint, or it was written by a run with
        a different configuration (the message names the differing keys).
    """
    path = Path(path)
    if not path.exists():
        return None
    where = f"checkpoint {str(path)!r}"
    try:
        loaded = read_npz(path)
    except NPZ_READ_ERRORS as error:
        raise ValueError(f"{where} cannot be read (truncated or not a checkpoint?): "
                         f"{type(error).__name__}: {error}") from None
    if "meta" not in loaded:
        raise ValueError(f"{where} has no metadata; not a tabmfirl checkpoint")
    try:
        meta = json.loads(str(loaded.pop("meta")))
    except ValueError as error:
        raise ValueError(f"{where}: metadata is not JSON: {error}") from None
    if not isinstance(meta, dict) or meta.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{where}: unknown format "
                         f"{meta.get('format') if isinstance(meta, dict) else meta!r} "
                         f"(expected {CHECKPOINT_FORMAT!r})")
    if meta.get("config_digest") != config_digest(config):
        keys = _differences(meta.get("config"), config) or ["(digest)"]
        raise ValueError(f"{where} belongs to a run with a different configuration "
                         f"(differs in: {', '.join(keys)}); delete it or use another path")
    loaded["scalars"] = meta.get("scalars", {})
    loaded["rng_state"] = meta.get("rng_state")
    return loaded


def optimizer_state(optimizer) -> dict:
    """The state of an :class:`~tabmfirl.Adam` or :class:`~tabmfirl.SGD` on one flat vector.

    Parameters
    ----------
    optimizer : Adam or SGD

    Returns
    -------
    dict of str to ndarray
        ``opt_n_steps`` and the moment vectors (``opt_m``, ``opt_v`` or
        ``opt_velocity``; absent before the first step).
    """
    state = {"opt_n_steps": np.array(int(optimizer.n_steps), dtype=np.int64)}
    if optimizer.n_steps > 0:
        for name in ("_m", "_v", "_velocity"):
            if hasattr(optimizer, name):
                moments = getattr(optimizer, name)
                if len(moments) != 1:
                    raise ValueError("only single-vector optimiser states are supported")
                state["opt" + name] = np.array(moments[0])
    return state


def restore_optimizer(optimizer, state: dict):
    """Load :func:`optimizer_state`'s output into a fresh ``optimizer`` (in place).

    Parameters
    ----------
    optimizer : Adam or SGD
    state : dict of str to ndarray
    """
    n_steps = int(state["opt_n_steps"])
    optimizer.reset()
    if n_steps == 0:
        return
    moments = {name: state["opt" + name] for name in ("_m", "_v", "_velocity")
               if "opt" + name in state}
    shape = next(iter(moments.values())).shape
    optimizer._shapes = [shape]
    for name, value in moments.items():
        setattr(optimizer, name, [np.array(value, dtype=np.float64)])
    optimizer.n_steps = n_steps


# ---------------------------------------------------------------------------
# Fit results.
# ---------------------------------------------------------------------------

_RESULT_ARRAYS = ("reward_params", "posterior", "assignments", "prior", "mean_field",
                  "state_action", "reward", "policy", "objective_history",
                  "log_likelihood_history", "grad_norm_history")


def _head_config(head) -> dict:
    config = {"n_states": head.n_states, "n_actions": head.n_actions,
              "mean_field_dim": head.mean_field_dim, "n_contexts": head.n_contexts,
              "kind": head.kind}
    if head.kind == "mlp":
        config["hidden_sizes"] = list(head.hidden_sizes)
        config["activation"] = head.mlp.activation
    return config


def save_result(path, result, extra: dict = None):
    """Write an :class:`~tabmfirl.IRLResult` to ``path`` (``.npz``, atomic, no pickle).

    Parameters
    ----------
    path : str or os.PathLike
    result : IRLResult
    extra : dict, optional
        JSON-serialisable metadata stored alongside (returned by
        :func:`load_result`).

    Returns
    -------
    pathlib.Path
    """
    arrays = {}
    for name in _RESULT_ARRAYS:
        value = getattr(result, name)
        if value is not None:
            arrays[name] = np.asarray(value)
    meta = {"format": RESULT_FORMAT, "method": result.method, "converged": bool(result.converged),
            "num_iter": int(result.num_iter), "temperature": float(result.temperature),
            "seconds": float(result.seconds), "head": _head_config(result.head),
            "extra": extra or {}}
    arrays["meta"] = np.array(json.dumps(meta))
    return _atomic_write(path, lambda handle: np.savez(handle, **arrays))


def load_result(path):
    """Read a file written by :func:`save_result`.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    result : IRLResult
    extra : dict

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    ValueError
        Not a readable result file, or arrays inconsistent with the head.
    """
    from ._heads import RewardHead
    from ._irl import IRLResult

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no result file at {str(path)!r}")
    where = f"result file {str(path)!r}"
    try:
        loaded = read_npz(path)
        meta = json.loads(str(loaded.pop("meta")))
    except NPZ_READ_ERRORS as error:
        raise ValueError(f"{where} cannot be read (truncated or not a result file?): "
                         f"{type(error).__name__}: {error}") from None
    if not isinstance(meta, dict) or meta.get("format") != RESULT_FORMAT:
        raise ValueError(f"{where}: unknown format (expected {RESULT_FORMAT!r})")
    required = [n for n in _RESULT_ARRAYS if n not in ("posterior", "assignments")]
    missing = [n for n in required if n not in loaded]
    if missing:
        raise ValueError(f"{where} lacks the array(s) {', '.join(missing)}")
    head_cfg = dict(meta["head"])
    try:
        head = RewardHead(head_cfg.pop("n_states"), head_cfg.pop("n_actions"),
                          head_cfg.pop("mean_field_dim"), n_contexts=head_cfg.pop("n_contexts"),
                          **{k: tuple(v) if k == "hidden_sizes" else v
                             for k, v in head_cfg.items()})
        head.set_flat(loaded["reward_params"])
    except (ValueError, TypeError, KeyError) as error:
        raise ValueError(f"{where}: the reward head cannot be rebuilt: {error}") from None
    result = IRLResult(
        method=meta["method"], head=head, reward_params=loaded["reward_params"],
        posterior=loaded.get("posterior"), assignments=loaded.get("assignments"),
        prior=loaded["prior"], mean_field=loaded["mean_field"],
        state_action=loaded["state_action"], reward=loaded["reward"], policy=loaded["policy"],
        objective_history=loaded["objective_history"],
        log_likelihood_history=loaded["log_likelihood_history"],
        grad_norm_history=loaded["grad_norm_history"], converged=bool(meta["converged"]),
        num_iter=int(meta["num_iter"]), temperature=float(meta["temperature"]),
        seconds=float(meta["seconds"]))
    return result, meta.get("extra", {})
