r"""Checkpoints of a fit's loop state, and fit result files.

* **checkpoints** (:func:`save_checkpoint`, :func:`load_checkpoint`): the
  complete state of an iterative fit's loop (:class:`LoopState`), to resume it
  bit-identically.  One layout for every fit: the flat parameter vectors and
  other state arrays as they are, each Adam/SGD optimiser ``name``'s state as
  ``name_opt_*`` arrays, each history as a float64 array; the JSON string
  ``meta`` holds the format tag (:data:`tabmfirl._io.CHECKPOINT_FORMAT`), the
  run's *configuration* (every setting that changes the iterates, plus
  SHA-256 digests of the game and the data) and its digest, the scalars (the
  iteration counter, whether the run stopped on convergence, and the
  method's own), and the state of the random generator
  (``rng.bit_generator.state``, a dict of Python ints).  Loading a checkpoint
  whose configuration differs from the current run's raises a ``ValueError``
  naming the differing keys: resuming someone else's run silently would be
  wrong.
* **fit results** (:func:`save_result`, :func:`load_result`): an
  :class:`~tabmfirl.IRLResult` with the reward head's constructor arguments,
  so the head is rebuilt exactly.

Every file is written atomically and read without pickle (:mod:`tabmfirl._io`).
The fits leave ``max_iter`` out of the configuration, so that a run stopped
after ``k`` iterations resumes and continues to any larger ``max_iter``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._io import (
    CHECKPOINT_FORMAT,
    NPZ_READ_ERRORS,
    RESULT_FORMAT,
    atomic_write,
    canonical_json,
    config_digest,
    pickle_free,
    read_npz,
)
from ._heads import RewardHead
from ._results import IRLResult

__all__ = ["LoopState", "save_checkpoint", "load_checkpoint", "optimizer_state",
           "restore_optimizer", "save_result", "load_result"]


# ---------------------------------------------------------------------------
# Loop state.
# ---------------------------------------------------------------------------


@dataclass
class LoopState:
    """The complete, mutable state of a fit's loop: what a checkpoint holds.

    Everything else a fit computes is a function of this state (and of the
    data and configuration), so saving it and restoring it resumes a run
    bit-identically.

    Attributes
    ----------
    arrays : dict of str to ndarray
        Flat parameter vectors (updated in place by the optimisers) and other
        state arrays (e.g. the exact mode's posterior), by name.
    optimisers : dict of str to Adam or SGD
        One per parameter vector that is optimised.
    histories : dict of str to list of float
        Per-iteration records (``objective_history``, ...).
    rng : numpy.random.Generator
        The fit's generator.
    iteration : int
        Iterations completed.
    stopped : bool
        Whether the run stopped on its convergence test.
    scalars : dict
        The method's own JSON-serialisable scalars.
    """

    arrays: dict
    optimisers: dict
    histories: dict
    rng: np.random.Generator
    iteration: int = 0
    stopped: bool = False
    scalars: dict = field(default_factory=dict)

    def save(self, path, config: dict):
        """Write this state to ``path`` (:func:`save_checkpoint`)."""
        arrays = dict(self.arrays)
        for name, optimiser in self.optimisers.items():
            arrays.update({f"{name}_{key}": value
                           for key, value in optimizer_state(optimiser).items()})
        arrays.update({name: np.array(values, dtype=np.float64)
                       for name, values in self.histories.items()})
        scalars = {"iteration": int(self.iteration), "stopped": bool(self.stopped),
                   **self.scalars}
        return save_checkpoint(path, arrays, config=config, scalars=scalars, rng=self.rng)

    def restore(self, path, loaded: dict):
        """Copy a checkpoint read by :func:`load_checkpoint` into this state (in place).

        Raises
        ------
        ValueError
            The checkpoint lacks an array of this state, or has one of another shape.
        """
        for name, array in self.arrays.items():
            if name not in loaded or loaded[name].shape != array.shape:
                raise ValueError(f"checkpoint {str(path)!r} has no array {name!r} of shape "
                                 f"{array.shape}")
        for name in self.histories:
            if name not in loaded:
                raise ValueError(f"checkpoint {str(path)!r} has no array {name!r}")
        for name, array in self.arrays.items():
            array[...] = loaded[name]
        for name, optimiser in self.optimisers.items():
            prefix = f"{name}_"
            restore_optimizer(optimiser, {key[len(prefix):]: value
                                          for key, value in loaded.items()
                                          if key.startswith(prefix + "opt_")})
        for name, values in self.histories.items():
            values[:] = loaded[name].tolist()
        if loaded["rng_state"] is not None:
            self.rng.bit_generator.state = loaded["rng_state"]
        scalars = dict(loaded["scalars"])
        self.iteration = int(scalars.pop("iteration"))
        self.stopped = bool(scalars.pop("stopped"))
        self.scalars.update(scalars)


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
    return atomic_write(path, lambda handle: np.savez(handle, **clean))


def _differences(a, b, prefix=""):
    keys = []
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                keys.append(prefix + key)
            else:
                keys.extend(_differences(a[key], b[key], prefix + key + "."))
    elif canonical_json(a) != canonical_json(b):
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
                         f"(expected {CHECKPOINT_FORMAT!r}; a checkpoint of an older version "
                         f"cannot be resumed: delete it)")
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
        :meth:`~tabmfirl.Adam.state_arrays`: ``opt_n_steps`` and the moment
        vectors (``opt_m``, ``opt_v`` or ``opt_velocity``; absent before the
        first step).
    """
    return optimizer.state_arrays()


def restore_optimizer(optimizer, state: dict):
    """Load :func:`optimizer_state`'s output into ``optimizer`` (in place).

    Parameters
    ----------
    optimizer : Adam or SGD
    state : dict of str to ndarray
    """
    optimizer.load_state_arrays(state)


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
    return atomic_write(path, lambda handle: np.savez(handle, **arrays))


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
