r"""Validated description of a finite-horizon mean field game with agent types.

Notation (used throughout the package)
--------------------------------------
* states :math:`s \in \{0, \dots, S-1\}`, actions :math:`a \in \{0, \dots, A-1\}`,
  steps :math:`t = 0, \dots, T-1` (``horizon`` :math:`= T`), contexts (agent
  types) :math:`m \in \{0, \dots, K-1\}`;
* ``mean_field[m, t, s]`` :math:`= \mu_t(s \mid m)`, with :math:`T+1` rows
  (``mean_field[m, 0] = mu0``);
* ``state_action[m, t, s, a]`` :math:`= L_t(s, a \mid m) = \mu_t(s \mid m)\,
  \pi_t(a \mid s, m)`;
* ``transition[t, s, a, s_next]`` :math:`= P(s' \mid s, a, \nu_t)` and
  ``reward[m, t, s, a]`` :math:`= r(s, a, \nu_t, m)`, where :math:`\nu_t` is the
  *observed* mean field (see below).

The observed mean field
-----------------------
``mean_field_kind="state"`` (the paper's case): the dynamics and reward read the
state distribution, a vector of length ``S``.  ``mean_field_kind="state_action"``
(MFGLib's convention, for games with action coupling): they read the joint
distribution :math:`L_t`, flattened to a vector of length ``S * A`` (index
``s * A + a``).

Types
-----
``S`` and ``A`` are shared; each type is a sub-population with its own flow
and its own reward.  By default the types also share ``P`` and ``mu0``;
``mu0`` of shape ``(K, S)`` gives each type its own initial distribution
(:attr:`MFGSpec.initial_distribution` is always ``(K, S)``), and
``transition_by_context=True`` its own dynamics :math:`P(s' \mid s, a, \nu_t, m)`.

What a type observes (``observation``):

* ``"mixture"`` (default): type ``m`` observes its own flow
  :math:`\nu_t^m = \mu_t(\cdot \mid m)`, or, with a ``context_coupling``
  matrix :math:`C` (``K x K``, rows on the simplex),
  :math:`\nu_t^m = \sum_{m'} C_{m m'} \mu_t(\cdot \mid m')`; e.g.
  :func:`population_coupling` makes every type observe the whole population.
* ``"all_types"`` (multi-population games, e.g. predator and prey): every
  type observes the stack of every type's flow,
  :math:`\nu_t = (\mu_t(\cdot \mid 0), \dots, \mu_t(\cdot \mid K-1))`,
  flattened type-major into a vector of length ``K * D`` (``observed[m * D + i]``
  is entry ``i`` of type ``m``'s distribution, ``D`` = :attr:`MFGSpec.mean_field_dim`),
  so that a type's reward or dynamics may read each population in its own way.

Mean-field dependence
---------------------
A transition or reward is either an array (independent of the mean field) or a
*mean field function*: a Numba-compilable function that fills a pre-allocated
table from the observed mean field::

    transition(t, observed, params, out)          # out: (S, A, W)
    transition(t, observed, context, params, out) # with transition_by_context=True
    reward(t, observed, context, params, out)     # out: (S, A)

``observed`` is a float64 vector (length :attr:`MFGSpec.observed_dim`: ``S`` or
``S * A``, times ``K`` with ``observation="all_types"``), ``params`` is the
spec's float64 parameter vector and ``t`` the step.  The function must only
write into ``out`` and must compile in Numba's nopython mode (plain loops and
NumPy array expressions).  Plain Python functions are compiled with
``numba.njit`` on first use.  Construction checks them at ``mu0`` through their
pure-Python body (no compilation); every backend then calls the compiled
function (the Numba kernels through a pointer of the signature above,
compiled once and cached on disk when the function lives in a file, so that
they need no recompiling per game or per process).

Sparse transitions
------------------
With ``next_states`` (int array ``(S, A, W)``), row ``(s, a)`` of the
transition is stored as ``W`` probabilities ``transition[..., s, a, j]`` of
moving to ``next_states[s, a, j]`` (padding entries have probability 0).  The
sparsity pattern is fixed; the values may depend on the mean field.  Without it
the transition is dense and ``W = S``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Union

import numpy as np

__all__ = ["MFGSpec", "population_coupling", "ROW_SUM_TOL"]

#: Absolute tolerance on ``|sum(row) - 1|`` for probability vectors.
ROW_SUM_TOL = 1e-8

MEAN_FIELD_KINDS = ("state", "state_action")
OBSERVATIONS = ("mixture", "all_types")

ArrayOrFunction = Union[np.ndarray, Callable[..., Any]]


def population_coupling(weights) -> np.ndarray:
    r"""Coupling matrix under which every type observes the whole population.

    .. math:: C_{m m'} = w_{m'}, \qquad
              \nu_t = \sum_{m'} w_{m'} \mu_t(\cdot \mid m')

    Parameters
    ----------
    weights : array_like, shape (K,)
        Share of each type in the population (non-negative, sums to 1).

    Returns
    -------
    ndarray, shape (K, K)

    Examples
    --------
    >>> population_coupling([0.25, 0.75])
    array([[0.25, 0.75],
           [0.25, 0.75]])
    """
    w = check_distribution(np.asarray(weights, dtype=float), "weights")
    return np.tile(w, (w.size, 1))


def check_distribution(vector, name: str) -> np.ndarray:
    """Return ``vector`` as float64 after checking it is a probability vector."""
    vector = np.ascontiguousarray(vector, dtype=np.float64)
    if vector.ndim != 1 or vector.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array, got shape {vector.shape}")
    check_stochastic(vector[None, :], name)
    return vector


def check_stochastic(array: np.ndarray, name: str, axis: int = -1) -> None:
    """Raise ValueError unless every slice along ``axis`` is a probability vector.

    The message names the first offending index, the bad value and the problem
    (NaN, negative entry, or sum different from 1).
    """
    if not np.all(np.isfinite(array)):
        index = tuple(int(i) for i in np.argwhere(~np.isfinite(array))[0])
        raise ValueError(f"{name} has a non-finite entry at index {index}")
    if np.any(array < 0):
        index = tuple(int(i) for i in np.argwhere(array < 0)[0])
        raise ValueError(
            f"{name} has a negative probability {array[index]:.3g} at index {index}")
    sums = array.sum(axis=axis)
    bad = np.abs(sums - 1.0) > ROW_SUM_TOL
    if np.any(bad):
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{name} is not stochastic: entries along axis {axis} at index {index} "
            f"sum to {sums[index]!r}, not 1 (tolerance {ROW_SUM_TOL})")


def check_finite(array: np.ndarray, name: str) -> None:
    """Raise ValueError naming the first non-finite entry of ``array``."""
    if not np.all(np.isfinite(array)):
        index = tuple(int(i) for i in np.argwhere(~np.isfinite(array))[0])
        raise ValueError(f"{name} has a non-finite entry {float(array[index])} at index {index}")


def _positive_int(value, name: str, minimum: int = 1) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def _as_mean_field_function(function, name: str):
    """Return a Numba dispatcher for ``function`` (compiling lazily if needed)."""
    if not callable(function):
        raise ValueError(f"{name} must be an array or a callable, got {type(function).__name__}")
    if hasattr(function, "py_func"):
        return function
    import numba

    return numba.njit(cache=False)(function)


def python_body(function):
    """Pure-Python body of a mean field function (used to check it at construction)."""
    return getattr(function, "py_func", function)


@dataclass(frozen=True, eq=False)
class MFGSpec:
    r"""A finite-horizon mean field game with ``n_contexts`` agent types.

    See the module docstring for the notation and for the signature of mean
    field functions.  Everything is validated once, here; the kernels trust
    their inputs (except for tables produced by mean field functions, which the
    kernels check as they read them).

    Parameters
    ----------
    n_states, n_actions, horizon : int
        ``S >= 1``, ``A >= 1``, ``T >= 1``.
    mu0 : array_like, shape (S,) or (K, S)
        Initial state distribution, shared by all types or one row per type.
    transition : ndarray or callable
        Dense: shape ``(S, A, S)`` (stationary) or ``(T, S, A, S)``.  Sparse
        (with ``next_states``): shape ``(S, A, W)`` or ``(T, S, A, W)``.  Or a
        mean field function ``transition(t, observed, params, out)`` filling
        ``out`` of shape ``(S, A, W)``.  With ``transition_by_context=True``:
        shape ``(K, S, A, W)`` or ``(K, T, S, A, W)``, or a function
        ``transition(t, observed, context, params, out)``.
    reward : ndarray or callable
        Shape ``(K, S, A)`` (stationary) or ``(K, T, S, A)``, or a mean field
        function ``reward(t, observed, context, params, out)`` filling ``out``
        of shape ``(S, A)``.
    n_contexts : int, optional
        ``K``.  Required when ``reward`` is a function; inferred from an array.
    next_states : array_like of int, shape (S, A, W), optional
        Sparsity pattern of the transition (see module docstring).
    params : array_like, optional
        Float parameters passed to the mean field functions.
    mean_field_kind : {"state", "state_action"}
        What the dynamics and reward observe.
    context_coupling : array_like, shape (K, K), optional
        Row-stochastic matrix: type ``m`` observes ``sum_m' C[m, m'] mu(.|m')``.
        ``None`` (default): each type observes its own flow.
    transition_by_context : bool, default False
        True when the types move differently: the transition has a leading
        type axis (or its function takes the type, see above).
    observation : {"mixture", "all_types"}
        What the mean field functions receive: the type's own flow or its
        coupled mixture (default), or the stack of every type's flow (see the
        module docstring).
    name : str
        Name of the game (used in messages and files).
    info : dict
        Free-form description of the game's constants (not used by solvers).

    Raises
    ------
    ValueError
        On wrong shapes, rows that do not sum to 1, negative or NaN
        probabilities, ``mu0`` not on the simplex, non-finite rewards,
        out-of-range ``next_states``, a type count that differs between
        ``mu0``, ``transition`` and ``reward``, ``context_coupling`` with
        ``observation="all_types"``, or a mean field function that produces
        such tables at ``mu0``.

    Examples
    --------
    A two-state game whose reward punishes crowding:

    >>> import numpy as np
    >>> P = np.array([[[1.0, 0.0], [0.0, 1.0]], [[1.0, 0.0], [0.0, 1.0]]])
    >>> def crowd(t, observed, context, params, out):
    ...     for s in range(2):
    ...         for a in range(2):
    ...             out[s, a] = -observed[s]
    >>> spec = MFGSpec(n_states=2, n_actions=2, horizon=3, mu0=[0.5, 0.5],
    ...                transition=P, reward=crowd, n_contexts=1)
    >>> spec.transition_width, spec.is_dense
    (2, True)
    """

    n_states: int
    n_actions: int
    horizon: int
    mu0: Any
    transition: ArrayOrFunction
    reward: ArrayOrFunction
    n_contexts: Optional[int] = None
    next_states: Optional[Any] = None
    params: Any = field(default_factory=lambda: np.zeros(0))
    mean_field_kind: str = "state"
    context_coupling: Optional[Any] = None
    transition_by_context: bool = False
    observation: str = "mixture"
    name: str = "custom"
    info: dict = field(default_factory=dict)

    def __post_init__(self):
        setattr_ = object.__setattr__
        S = _positive_int(self.n_states, "n_states")
        A = _positive_int(self.n_actions, "n_actions")
        T = _positive_int(self.horizon, "horizon")
        setattr_(self, "n_states", S)
        setattr_(self, "n_actions", A)
        setattr_(self, "horizon", T)
        if self.mean_field_kind not in MEAN_FIELD_KINDS:
            raise ValueError(
                f"mean_field_kind must be one of {MEAN_FIELD_KINDS}, got {self.mean_field_kind!r}")

        if self.observation not in OBSERVATIONS:
            raise ValueError(
                f"observation must be one of {OBSERVATIONS}, got {self.observation!r}")
        if not isinstance(self.transition_by_context, (bool, np.bool_)):
            raise ValueError(
                f"transition_by_context must be True or False, got {self.transition_by_context!r}")
        setattr_(self, "transition_by_context", bool(self.transition_by_context))

        mu0 = np.ascontiguousarray(self.mu0, dtype=np.float64)
        if mu0.ndim not in (1, 2) or mu0.shape[-1] != S or mu0.shape[0] == 0:
            raise ValueError(
                f"mu0 must have shape (n_states,) = ({S},) or (n_contexts, n_states) = "
                f"(K, {S}), got {mu0.shape}")
        check_stochastic(mu0 if mu0.ndim == 2 else mu0[None], "mu0")
        setattr_(self, "mu0", mu0)

        # a copy: writable, as the kernels' function pointers take it
        params = np.array(self.params, dtype=np.float64).reshape(-1)
        check_finite(params, "params")
        setattr_(self, "params", params)

        # --- sparsity pattern
        if self.next_states is not None:
            ns = np.asarray(self.next_states)
            if ns.ndim != 3 or ns.shape[:2] != (S, A) or ns.shape[2] < 1:
                raise ValueError(
                    f"next_states must have shape (n_states, n_actions, width) = ({S}, {A}, W), "
                    f"got {ns.shape}")
            if not np.issubdtype(ns.dtype, np.integer):
                raise ValueError(f"next_states must be integers, got dtype {ns.dtype}")
            if ns.min() < 0 or ns.max() >= S:
                raise ValueError(
                    f"next_states entries must lie in [0, {S - 1}], found range "
                    f"[{ns.min()}, {ns.max()}]")
            setattr_(self, "next_states", np.ascontiguousarray(ns, dtype=np.int64))

        # --- transition
        if isinstance(self.transition, (np.ndarray, list, tuple)):
            P = np.ascontiguousarray(self.transition, dtype=np.float64)
            self._check_transition_shape(P.shape)
            check_stochastic(P, "transition")
            setattr_(self, "transition", P)
        else:
            setattr_(self, "transition", _as_mean_field_function(self.transition, "transition"))

        # --- reward
        if isinstance(self.reward, (np.ndarray, list, tuple)):
            R = np.ascontiguousarray(self.reward, dtype=np.float64)
            if R.ndim not in (3, 4) or R.shape[-2:] != (S, A) or (R.ndim == 4 and R.shape[1] != T):
                raise ValueError(
                    f"reward must have shape (n_contexts, n_states, n_actions) = (K, {S}, {A}) "
                    f"or (n_contexts, horizon, n_states, n_actions) = (K, {T}, {S}, {A}), "
                    f"got {R.shape}")
            if self.n_contexts is not None and R.shape[0] != self.n_contexts:
                raise ValueError(
                    f"reward has {R.shape[0]} contexts but n_contexts={self.n_contexts}")
            check_finite(R, "reward")
            setattr_(self, "reward", R)
            setattr_(self, "n_contexts", R.shape[0])
        else:
            setattr_(self, "reward", _as_mean_field_function(self.reward, "reward"))
            if self.n_contexts is None:
                raise ValueError("n_contexts must be given when reward is a function")
        setattr_(self, "n_contexts", _positive_int(self.n_contexts, "n_contexts"))
        K = self.n_contexts
        if mu0.ndim == 2 and mu0.shape[0] != K:
            raise ValueError(
                f"mu0 has {mu0.shape[0]} rows (one per type) but the game has n_contexts={K}")
        if self.transition_by_context and not self.transition_is_dynamic \
                and self.transition.shape[0] != K:
            raise ValueError(
                f"transition has {self.transition.shape[0]} types on its first axis "
                f"(transition_by_context=True) but the game has n_contexts={K}")

        # --- coupling between types
        if self.context_coupling is not None:
            if self.observation == "all_types":
                raise ValueError(
                    "context_coupling cannot be combined with observation='all_types' (every "
                    "type already observes every type's flow: mix them in the functions)")
            C = np.ascontiguousarray(self.context_coupling, dtype=np.float64)
            if C.shape != (K, K):
                raise ValueError(
                    f"context_coupling must have shape (n_contexts, n_contexts) = ({K}, {K}), "
                    f"got {C.shape}")
            check_stochastic(C, "context_coupling")
            setattr_(self, "context_coupling", C)

        self._check_functions_at_mu0()

    # ------------------------------------------------------------------ views
    @property
    def initial_distribution(self) -> np.ndarray:
        """Initial distribution of every type, shape ``(K, S)`` (``mu0`` broadcast)."""
        if self.mu0.ndim == 2:
            return self.mu0
        return np.ascontiguousarray(np.broadcast_to(self.mu0, (self.n_contexts, self.n_states)))

    @property
    def shares_dynamics(self) -> bool:
        """True when every type has the same transition and initial distribution.

        Decided from the spec's structure: ``False`` whenever
        ``transition_by_context`` is set or ``mu0`` has a row per type (even if
        the rows happen to be equal).
        """
        return not self.transition_by_context and self.mu0.ndim == 1

    @property
    def transition_width(self) -> int:
        """``W``: entries stored per transition row (``S`` when dense)."""
        return self.n_states if self.next_states is None else int(self.next_states.shape[2])

    @property
    def is_dense(self) -> bool:
        """True when the transition is stored densely (no ``next_states``)."""
        return self.next_states is None

    @property
    def transition_is_dynamic(self) -> bool:
        """True when the transition is a mean field function."""
        return not isinstance(self.transition, np.ndarray)

    @property
    def reward_is_dynamic(self) -> bool:
        """True when the reward is a mean field function."""
        return not isinstance(self.reward, np.ndarray)

    @property
    def mean_field_dim(self) -> int:
        """``D``: length of one type's observed distribution (``S`` or ``S * A``)."""
        if self.mean_field_kind == "state":
            return self.n_states
        return self.n_states * self.n_actions

    @property
    def observed_dim(self) -> int:
        """Length of the vector the mean field functions receive (``D``, or ``K * D``)."""
        if self.observation == "all_types":
            return self.n_contexts * self.mean_field_dim
        return self.mean_field_dim

    def _check_transition_shape(self, shape) -> None:
        """Raise ValueError unless ``shape`` is a valid transition array shape."""
        S, A, T, W = self.n_states, self.n_actions, self.horizon, self.transition_width
        kind = "sparse (next_states given)" if self.next_states is not None else "dense"
        if self.transition_by_context:
            if len(shape) in (4, 5) and shape[0] >= 1 and \
                    shape[1:] in ((S, A, W), (T, S, A, W)):
                return
            raise ValueError(
                f"{kind} transition with transition_by_context=True must have shape "
                f"(n_contexts, n_states, n_actions, {W}) = (K, {S}, {A}, {W}) or "
                f"(n_contexts, horizon, n_states, n_actions, {W}) = (K, {T}, {S}, {A}, {W}), "
                f"got {shape}")
        if shape not in ((S, A, W), (T, S, A, W)):
            raise ValueError(
                f"{kind} transition must have shape (n_states, n_actions, {W}) = "
                f"({S}, {A}, {W}) or (horizon, n_states, n_actions, {W}) = "
                f"({T}, {S}, {A}, {W}), got {shape} (a transition per type needs "
                f"transition_by_context=True)")

    def check_context(self, context: int) -> int:
        """Return ``context`` as int, raising ValueError if out of range."""
        if isinstance(context, (bool, np.bool_)) or not isinstance(context, (int, np.integer)):
            raise ValueError(f"context must be an integer, got {context!r}")
        if not 0 <= context < self.n_contexts:
            raise ValueError(
                f"context {context} out of range: this game has n_contexts={self.n_contexts}")
        return int(context)

    def replace(self, **changes) -> "MFGSpec":
        """Return a copy with some fields changed (validated again)."""
        from dataclasses import fields

        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        return MFGSpec(**values)

    def to_sparse(self, max_fill: float = 0.5) -> "MFGSpec":
        r"""The same game with its dense transition array stored sparsely.

        Row :math:`(s, a)` keeps the states :math:`s'` with
        :math:`P_t(s' \mid s, a) > 0` at some step :math:`t`, padded with
        zero-probability repeats to the widest row ``W``; every probability
        is kept exactly, so the passes compute the same flows and values
        (summed in another order).  A pass then reads :math:`S A W` entries
        per step instead of :math:`S A S`: MFGLib's crowd motion (400 states,
        at most 5 successors) reads 80 times fewer.

        Parameters
        ----------
        max_fill : float, default 0.5
            Keep the dense layout (return ``self``) when ``W / S`` exceeds
            this: the sparse layout also reads an index per entry.

        Returns
        -------
        MFGSpec
            ``self`` when already sparse or too full, else a new spec with
            ``next_states``.

        Raises
        ------
        ValueError
            When the transition is a mean field function (its zeros are not
            known in advance: give ``next_states`` when building the spec).

        Examples
        --------
        >>> import numpy as np
        >>> P = np.zeros((4, 1, 4))
        >>> P[np.arange(4), 0, (np.arange(4) + 1) % 4] = 1.0   # a cycle
        >>> spec = MFGSpec(n_states=4, n_actions=1, horizon=2, mu0=np.full(4, 0.25),
        ...                transition=P, reward=np.zeros((1, 4, 1)))
        >>> sparse = spec.to_sparse()
        >>> sparse.transition_width, sparse.next_states[:, 0, 0]
        (1, array([1, 2, 3, 0]))
        """
        if not self.is_dense:
            return self
        if self.transition_is_dynamic:
            raise ValueError(
                f"game {self.name!r} has a transition function: its sparsity is not known "
                f"in advance; pass next_states when building the spec")
        S, A = self.n_states, self.n_actions
        leading = self.transition.shape[:-3]   # (), (T,), (K,) or (K, T)
        P = self.transition.reshape((-1, S, A, S))
        support = np.any(P > 0.0, axis=0)  # (S, A, S): one pattern for every type and step
        width = int(max(1, support.sum(axis=-1).max()))
        if width > max_fill * S:
            return self
        # Successors first (stable order), then zero-probability padding.
        order = np.argsort(~support, axis=-1, kind="stable")[..., :width]
        count = support.sum(axis=-1, keepdims=True)
        padded = np.where(np.arange(width) < count, order, order[..., :1])
        values = np.take_along_axis(P, np.broadcast_to(padded, P.shape[:-1] + (width,)),
                                    axis=-1)
        values = np.where(np.arange(width) < count, values, 0.0)
        return self.replace(transition=values.reshape(leading + (S, A, width)),
                            next_states=padded)

    # ------------------------------------------------------------ validation
    def _check_functions_at_mu0(self) -> None:
        """Evaluate mean field functions at ``mu0`` (uniform policy) and check them."""
        if not (self.transition_is_dynamic or self.reward_is_dynamic):
            return
        S, A, T, K = self.n_states, self.n_actions, self.horizon, self.n_contexts
        flows = self.initial_distribution                         # (K, S)
        if self.mean_field_kind == "state_action":
            flows = np.repeat(flows / A, A, axis=1)               # (K, S*A), uniform policy
        for t in sorted({0, T - 1}):
            checked = []   # what the (type-blind) transition was checked at
            for m in range(K):
                if self.observation == "all_types":
                    observed = np.ascontiguousarray(flows.reshape(-1))
                else:
                    weights = (self.context_coupling[m] if self.context_coupling is not None
                               else np.eye(K)[m])
                    observed = np.ascontiguousarray(weights @ flows)
                where = f"t={t}, context {m}, mean field mu0"
                if self.transition_is_dynamic and (self.transition_by_context or not any(
                        np.array_equal(observed, seen) for seen in checked)):
                    checked.append(observed)
                    out = np.zeros((S, A, self.transition_width))
                    if self.transition_by_context:
                        python_body(self.transition)(t, observed, m, self.params, out)
                    else:
                        python_body(self.transition)(t, observed, self.params, out)
                    check_stochastic(out, f"transition function at {where}")
                if self.reward_is_dynamic:
                    out = np.zeros((S, A))
                    python_body(self.reward)(t, observed, m, self.params, out)
                    check_finite(out, f"reward function at {where}")
