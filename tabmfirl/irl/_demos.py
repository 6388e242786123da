r"""Demonstrations: rollouts of a finite population of agents with hidden types.

The mean field is the limit of infinitely many agents; demonstrations come from
``N`` of them, so what they see is the *empirical* distribution of their
sub-population, which fluctuates around the mean field flow like
:math:`1/\sqrt{N}`.  :func:`generate_demonstrations` simulates exactly that:
``n_agents`` agents of each type :math:`m`, agent :math:`i` of type
:math:`m_i` in state :math:`s^i_t`, and at each step :math:`t`

.. math::

    \hat\mu_t(s \mid m) = \frac{1}{N_m} \sum_{i: m_i = m} \mathbb{1}[s^i_t = s],
    \qquad
    a^i_t \sim \pi_t(\cdot \mid s^i_t, m_i),
    \qquad
    s^i_{t+1} \sim P_{m_i}(\cdot \mid s^i_t, a^i_t, \hat\nu^{m_i}_t),

with :math:`s^i_0 \sim \mu_0(\cdot \mid m_i)` independently (the initial
distribution of the agent's type, ``spec.initial_distribution``: the same for
every type unless the game gives one per type), :math:`P_m` the transition of
type :math:`m` (the same for every type unless ``transition_by_context``),
and :math:`\hat\nu^m_t` what type :math:`m` observes of the empirical
distributions (its own :math:`\hat\mu_t`, the empirical state-action
distribution :math:`\hat L_t(s, a \mid m) = \frac{1}{N_m} \sum_{i: m_i = m}
\mathbb{1}[s^i_t = s, a^i_t = a]` for ``mean_field_kind="state_action"``
games, a mix of types under a ``context_coupling``, or the stack of every
type's empirical distribution with ``observation="all_types"``), computed by :func:`tabmfirl.evaluate_step`.  These are
real rollouts, not independent draws :math:`s_t \sim \mu_t` (a quirk of the
lineage code that we do not copy).

Files
-----
:meth:`Demonstrations.save` writes a NumPy ``.npz`` archive (no pickles) with
the int64 arrays ``states (N, T+1)``, ``actions (N, T)``, ``types (N,)`` and a
JSON string ``meta`` (format tag, game name, construction parameters, seed,
the sizes ``n_states``, ``n_actions``, ``n_types``, ``horizon``, the experts'
``temperature`` and the ``version`` of the package that wrote the file).
:meth:`Demonstrations.load` checks all of it and raises a ``ValueError`` that
names the problem.  Files of the first format (``tabmfirl.demonstrations/1``,
no temperature, horizon or version) still load, with ``temperature`` and
``version`` ``None``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

import numpy as np

from .._io import DEMOS_FORMAT, DEMOS_FORMATS_READ, NPZ_READ_ERRORS, read_npz
from .._version import __version__
from ..game._spec import MFGSpec
from ..solvers._mean_field import check_policy
from ..solvers._model import evaluate_step

__all__ = ["Demonstrations", "generate_demonstrations", "sample_rows"]

_ARRAY_KEYS = ("states", "actions", "types")
_FILE_KEYS = _ARRAY_KEYS + ("meta",)
_META_INTS = ("n_states", "n_actions", "n_types")


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


@dataclass(frozen=True, eq=False)
class Demonstrations:
    r"""Trajectories of ``N`` agents in a finite population, with hidden types.

    Attributes
    ----------
    states : ndarray of int64, shape (N, T+1)
        ``states[i, t]`` :math:`= s^i_t`.
    actions : ndarray of int64, shape (N, T)
        ``actions[i, t]`` :math:`= a^i_t`.
    types : ndarray of int64, shape (N,)
        True type :math:`m_i` of each agent.  Kept for evaluation only (type
        recovery scores, oracle baselines); a learner must not read it.
    n_states, n_actions, n_types : int
        ``S``, ``A`` and ``K`` of the game.
    game : str
        Name of the game (``spec.name``).
    params : dict
        Keyword arguments that rebuild the game with
        ``tabmfirl.envs.make(game, **params)`` (JSON-serialisable; empty when
        unknown).
    seed : int or None
        Seed of the generator that produced the rollouts (``None`` when a
        ``numpy.random.Generator`` was passed in).
    temperature : float or None
        The experts' temperature :math:`\beta > 0` (``None``: unknown).
    version : str or None
        Version of the package that generated the rollouts (``None``: unknown).

    Raises
    ------
    ValueError
        Wrong dtypes or shapes, values out of range, or metadata that is not
        JSON-serialisable.
    """

    states: np.ndarray
    actions: np.ndarray
    types: np.ndarray
    n_states: int
    n_actions: int
    n_types: int
    game: str = "custom"
    params: dict = field(default_factory=dict)
    seed: Optional[int] = None
    temperature: Optional[float] = None
    version: Optional[str] = None

    def __post_init__(self):
        for name in _META_INTS:
            value = getattr(self, name)
            if not _is_int(value) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
            object.__setattr__(self, name, int(value))
        if not isinstance(self.game, str):
            raise ValueError(f"game must be a string, got {self.game!r}")
        if not isinstance(self.params, dict):
            raise ValueError(f"params must be a dict, got {type(self.params).__name__}")
        if self.seed is not None and not _is_int(self.seed):
            raise ValueError(f"seed must be an integer or None, got {self.seed!r}")
        if self.seed is not None:
            object.__setattr__(self, "seed", int(self.seed))
        if self.temperature is not None:
            if (isinstance(self.temperature, (bool, np.bool_))
                    or not isinstance(self.temperature, (int, float, np.integer, np.floating))
                    or not np.isfinite(self.temperature) or not self.temperature > 0):
                raise ValueError(f"temperature must be a finite number > 0 or None, "
                                 f"got {self.temperature!r}")
            object.__setattr__(self, "temperature", float(self.temperature))
        if self.version is not None and not isinstance(self.version, str):
            raise ValueError(f"version must be a string or None, got {self.version!r}")
        try:
            json.dumps(self.params, allow_nan=False)
        except (TypeError, ValueError) as error:
            raise ValueError(f"params must be JSON-serialisable: {error}") from None
        for name in _ARRAY_KEYS:
            array = getattr(self, name)
            if not isinstance(array, np.ndarray) or array.dtype != np.int64:
                dtype = getattr(array, "dtype", type(array).__name__)
                raise ValueError(f"{name} must be an int64 array, got dtype {dtype}")
            object.__setattr__(self, name, np.ascontiguousarray(array))
        states, actions, types = self.states, self.actions, self.types
        if states.ndim != 2 or states.shape[0] < 1 or states.shape[1] < 2:
            raise ValueError(
                f"states must have shape (n_agents, horizon+1) with n_agents >= 1 and "
                f"horizon >= 1, got {states.shape}")
        N, T = states.shape[0], states.shape[1] - 1
        if actions.shape != (N, T):
            raise ValueError(
                f"actions must have shape (n_agents, horizon) = ({N}, {T}) to match states "
                f"{states.shape}, got {actions.shape}")
        if types.shape != (N,):
            raise ValueError(
                f"types must have shape (n_agents,) = ({N},) to match states, got {types.shape}")
        for name, array, bound in (("states", states, self.n_states),
                                   ("actions", actions, self.n_actions),
                                   ("types", types, self.n_types)):
            low, high = int(array.min()), int(array.max())
            if low < 0 or high >= bound:
                raise ValueError(
                    f"{name} must lie in [0, {bound - 1}], found values in [{low}, {high}]")

    # ------------------------------------------------------------------ views
    @property
    def n_agents(self) -> int:
        """``N``, all types together."""
        return self.states.shape[0]

    @property
    def horizon(self) -> int:
        """``T``."""
        return self.actions.shape[1]

    def type_counts(self) -> np.ndarray:
        """Number of agents of each true type, shape ``(K,)``."""
        return np.bincount(self.types, minlength=self.n_types)

    def _per_type_counts(self) -> np.ndarray:
        counts = self.type_counts()
        if np.any(counts == 0):
            raise ValueError(
                f"type {int(np.argmin(counts))} has no agents: its empirical distribution "
                f"is undefined")
        return counts

    def empirical_mean_field(self) -> np.ndarray:
        r"""Empirical state distribution of each true type, shape ``(K, T+1, S)``.

        .. math:: \hat\mu_t(s \mid m) = \frac{1}{N_m} \sum_{i: m_i = m}
                  \mathbb{1}[s^i_t = s]

        Raises
        ------
        ValueError
            If a type has no agents.
        """
        counts = self._per_type_counts()
        K, S, T = self.n_types, self.n_states, self.horizon
        time = np.broadcast_to(np.arange(T + 1), self.states.shape)
        flat = (self.types[:, None] * (T + 1) + time) * S + self.states
        hist = np.bincount(flat.ravel(), minlength=K * (T + 1) * S).reshape(K, T + 1, S)
        return hist / counts[:, None, None]

    def empirical_state_action(self) -> np.ndarray:
        r"""Empirical state-action distribution of each true type, ``(K, T, S, A)``.

        .. math:: \hat L_t(s, a \mid m) = \frac{1}{N_m} \sum_{i: m_i = m}
                  \mathbb{1}[s^i_t = s,\ a^i_t = a]

        Raises
        ------
        ValueError
            If a type has no agents.
        """
        counts = self._per_type_counts()
        K, S, A, T = self.n_types, self.n_states, self.n_actions, self.horizon
        time = np.broadcast_to(np.arange(T), self.actions.shape)
        flat = ((self.types[:, None] * T + time) * S + self.states[:, :T]) * A + self.actions
        hist = np.bincount(flat.ravel(), minlength=K * T * S * A).reshape(K, T, S, A)
        return hist / counts[:, None, None, None]

    def make_game(self) -> MFGSpec:
        """Rebuild the game with ``tabmfirl.envs.make(game, **params)``."""
        from tabmfirl import envs

        return envs.make(self.game, **self.params)

    # ------------------------------------------------------------------ files
    def _meta(self) -> dict:
        return {"format": DEMOS_FORMAT, "game": self.game, "params": self.params,
                "seed": self.seed, "n_states": self.n_states, "n_actions": self.n_actions,
                "n_types": self.n_types, "horizon": self.horizon,
                "temperature": self.temperature, "version": self.version}

    def save(self, path: Union[str, Path]) -> Path:
        """Write the demonstrations to ``path`` (an ``.npz`` archive, no pickles).

        The file is written at exactly ``path`` (no suffix is added).

        Returns
        -------
        pathlib.Path
        """
        path = Path(path)
        with open(path, "wb") as handle:
            np.savez_compressed(handle, states=self.states, actions=self.actions,
                                types=self.types, meta=np.array(json.dumps(self._meta())))
        return path

    @classmethod
    def load(cls, path: Union[str, Path]) -> "Demonstrations":
        """Read demonstrations written by :meth:`save`, checking everything.

        Raises
        ------
        ValueError
            Not an ``.npz`` archive, truncated or corrupted, missing or
            unexpected keys, wrong dtypes, inconsistent shapes, values out of
            range, or bad metadata; the message names the file and the problem.
        FileNotFoundError
            No file at ``path``.
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no demonstrations file at {str(path)!r}")
        where = f"demonstrations file {str(path)!r}"
        try:
            arrays = read_npz(path)
        except NPZ_READ_ERRORS as error:
            raise ValueError(f"{where} cannot be read as an .npz archive (truncated or "
                             f"corrupted?): {type(error).__name__}: {error}") from None
        keys = set(arrays)
        missing = [k for k in _FILE_KEYS if k not in keys]
        if missing:
            raise ValueError(f"{where} lacks the key(s) {', '.join(missing)} "
                             f"(found {', '.join(sorted(keys)) or 'none'})")
        extra = sorted(keys - set(_FILE_KEYS))
        if extra:
            raise ValueError(f"{where} has unexpected key(s) {', '.join(extra)}")
        meta = _parse_meta(arrays.pop("meta"), where)
        for key in _ARRAY_KEYS:
            if arrays[key].dtype != np.int64:
                raise ValueError(f"{where}: {key} must have dtype int64, got {arrays[key].dtype}")
        try:
            demos = cls(states=arrays["states"], actions=arrays["actions"],
                        types=arrays["types"], n_states=meta["n_states"],
                        n_actions=meta["n_actions"], n_types=meta["n_types"],
                        game=meta["game"], params=meta["params"], seed=meta["seed"],
                        temperature=meta.get("temperature"), version=meta.get("version"))
        except ValueError as error:
            raise ValueError(f"{where}: {error}") from None
        if "horizon" in meta and meta["horizon"] != demos.horizon:
            raise ValueError(f"{where}: meta records horizon {meta['horizon']!r} but the "
                             f"trajectories have {demos.horizon} steps")
        return demos


def _parse_meta(meta: np.ndarray, where: str) -> dict:
    """Decode and check the JSON metadata of a demonstrations file."""
    if meta.shape != () or meta.dtype.kind != "U":
        raise ValueError(f"{where}: meta must be a single string, got dtype {meta.dtype} "
                         f"and shape {meta.shape}")
    try:
        meta = json.loads(str(meta))
    except json.JSONDecodeError as error:
        raise ValueError(f"{where}: meta is not valid JSON: {error}") from None
    if not isinstance(meta, dict):
        raise ValueError(f"{where}: meta must be a JSON object")
    if meta.get("format") not in DEMOS_FORMATS_READ:
        raise ValueError(f"{where}: unknown format {meta.get('format')!r} "
                         f"(expected one of {', '.join(DEMOS_FORMATS_READ)})")
    required = ("game", "params", "seed") + _META_INTS
    if meta["format"] == DEMOS_FORMAT:
        required += ("horizon", "temperature", "version")
    missing = [k for k in required if k not in meta]
    if missing:
        raise ValueError(f"{where}: meta lacks {', '.join(missing)}")
    return meta


def _default_params(spec: MFGSpec) -> dict:
    """Builder kwargs that rebuild ``spec`` from the registry, or ``{}`` if none do."""
    from tabmfirl import envs

    if spec.name not in envs.GAMES:
        return {}
    params = {"types": spec.n_contexts, "horizon": spec.horizon,
              "dynamics": spec.info.get("dynamics", "original")}
    if "same_dynamics" in spec.info:            # predator_prey's control variant
        params["same_dynamics"] = bool(spec.info["same_dynamics"])
    try:
        rebuilt = envs.make(spec.name, **params)
    except (TypeError, ValueError):
        return {}
    same = (rebuilt.params.shape == spec.params.shape
            and np.array_equal(rebuilt.params, spec.params)
            and np.array_equal(rebuilt.mu0, spec.mu0)
            and rebuilt.n_contexts == spec.n_contexts
            and rebuilt.info == spec.info)
    return params if same else {}


def sample_rows(cdf: np.ndarray, uniform: np.ndarray) -> np.ndarray:
    """Index ``j`` with ``cdf[i, j-1] <= u_i < cdf[i, j]``, for ``u`` scaled to each row's total.

    Scaling by the row total ``cdf[i, -1]`` keeps the result in range despite
    rounding, and never returns an entry of probability 0.
    """
    scaled = (uniform * cdf[:, -1])[:, None]
    return (cdf <= scaled).sum(axis=1)


def generate_demonstrations(spec: MFGSpec, policy, n_agents: int = 100, *,
                            seed: Union[int, np.random.Generator, None] = None,
                            params: Optional[dict] = None,
                            temperature: Optional[float] = None) -> Demonstrations:
    r"""Roll out ``policy`` with ``n_agents`` agents of each type.

    See the module docstring for the process: every step, the empirical
    distribution of each type's agents drives that type's dynamics (through
    :func:`tabmfirl.evaluate_step`, one transition per type), then each agent
    samples an action from its type's policy and a next state from its type's
    transition; initial states come from each type's initial distribution.
    Vectorised over agents.

    Parameters
    ----------
    spec : MFGSpec
    policy : ndarray, shape (K, T, S, A) or (T, S, A)
        :math:`\pi_t(a \mid s, m)` of each type, e.g. an equilibrium policy.
    n_agents : int, default 100
        Agents *per type*; ``N = K * n_agents`` in all.
    seed : int, numpy.random.Generator or None
        Seed of a fresh ``numpy.random.default_rng`` (recorded in the result),
        or a generator to draw from (then ``seed`` is recorded as ``None``).
        ``None`` draws a fresh seed from the OS and records it.
    params : dict, optional
        JSON-serialisable builder kwargs recorded in the result.  Default: for a
        registered game built with only ``types``, ``horizon`` and ``dynamics``,
        those (checked by rebuilding it); otherwise ``{}``.
    temperature : float, optional
        The temperature :math:`\beta` at which ``policy`` was computed, recorded
        in the result (and its file) so that a fit uses the experts' own
        temperature; ``None``: not recorded.

    Returns
    -------
    Demonstrations
        Agents in random order (the index reveals nothing about the type).

    Raises
    ------
    ValueError
        Bad policy shape or rows, ``n_agents < 1``.

    Examples
    --------
    >>> from tabmfirl import solve_equilibrium
    >>> from tabmfirl.envs import virus
    >>> spec = virus.make(types=2, horizon=5)
    >>> policy = solve_equilibrium(spec, backend="numpy").policy
    >>> demos = generate_demonstrations(spec, policy, n_agents=10, seed=0)
    >>> demos.states.shape, demos.actions.shape, demos.type_counts().tolist()
    ((20, 6), (20, 5), [10, 10])
    """
    K, T, S, A = spec.n_contexts, spec.horizon, spec.n_states, spec.n_actions
    policy = check_policy(policy, K, T, S, A)
    if not _is_int(n_agents) or n_agents < 1:
        raise ValueError(f"n_agents must be a positive integer (agents per type), "
                         f"got {n_agents!r}")
    if isinstance(seed, np.random.Generator):
        rng, recorded_seed = seed, None
    elif seed is None or _is_int(seed):
        recorded_seed = int(np.random.SeedSequence().entropy) if seed is None else int(seed)
        if recorded_seed < 0:
            raise ValueError(f"seed must be non-negative, got {seed}")
        rng = np.random.default_rng(recorded_seed)
    else:
        raise ValueError(f"seed must be an int, a numpy Generator or None, got {seed!r}")
    params = _default_params(spec) if params is None else dict(params)

    n = int(n_agents)
    N = K * n
    types = rng.permutation(np.repeat(np.arange(K, dtype=np.int64), n))
    states = np.empty((N, T + 1), dtype=np.int64)
    actions = np.empty((N, T), dtype=np.int64)
    # each agent's initial state from its type's row of the (K, S) initial distribution
    states[:, 0] = sample_rows(np.cumsum(spec.initial_distribution, axis=1)[types],
                               rng.random(N))
    policy_cdf = np.cumsum(policy, axis=-1)
    state_action_game = spec.mean_field_kind == "state_action"
    next_states = spec.next_states
    for t in range(T):
        s = states[:, t]
        a = sample_rows(policy_cdf[types, t, s], rng.random(N))
        actions[:, t] = a
        mean_field_t = np.bincount(types * S + s, minlength=K * S).reshape(K, S) / n
        state_action_t = None
        if state_action_game:
            state_action_t = np.bincount((types * S + s) * A + a,
                                         minlength=K * S * A).reshape(K, S, A) / n
        transition_t, _ = evaluate_step(spec, t, mean_field_t, state_action_t)
        column = sample_rows(np.cumsum(transition_t[types, s, a], axis=1), rng.random(N))
        states[:, t + 1] = column if next_states is None else next_states[s, a, column]
    return Demonstrations(states=states, actions=actions, types=types, n_states=S,
                          n_actions=A, n_types=K, game=spec.name, params=params,
                          seed=recorded_seed, temperature=temperature, version=__version__)
