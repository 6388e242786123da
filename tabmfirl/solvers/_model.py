r"""A game's transition and reward tables evaluated along a mean field flow.

Solvers never call mean field functions themselves: the forward pass (or
:func:`evaluate_model` for a frozen flow) turns an :class:`~tabmfirl.MFGSpec`
into an :class:`EvaluatedModel` of plain arrays, which the backward pass reads.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..game._spec import ROW_SUM_TOL, MFGSpec, check_finite, check_stochastic
from ..kernels._backend import resolve_backend
from ..kernels._functions import function_pointer, no_function
from ..kernels._kernels import _evaluate_model, raise_kernel_error
from ..kernels._reference import evaluate_step as reference_evaluate_step

__all__ = ["EvaluatedModel", "MeanFieldFlow", "evaluate_model", "evaluate_step"]

_DUMMY_NEXT_STATES = np.zeros((1, 1, 1), dtype=np.int64)


@dataclass(frozen=True, eq=False)
class EvaluatedModel:
    r"""Transition and reward tables of every context at every step.

    Attributes
    ----------
    transition : ndarray, shape (n_slices, S, A, W)
        Distinct transition slices.  A stationary game stores one slice; a
        mean-field-dependent one stores ``K * T``.
    slice_index : ndarray of int, shape (K, T)
        ``transition[slice_index[m, t]]`` is :math:`P_t(\cdot \mid \cdot, \cdot)`
        for context ``m`` at step ``t``.
    reward : ndarray, shape (K, T, S, A)
        :math:`r(s, a, \nu_t, m)`.
    next_states : ndarray of int, shape (S, A, W), or None
        Sparsity pattern; ``None`` for a dense transition (``W = S``).
    """

    transition: np.ndarray
    slice_index: np.ndarray
    reward: np.ndarray
    next_states: Optional[np.ndarray] = None

    def __post_init__(self):
        # The Numba kernels hand slices of these to a game's functions, whose
        # pointer type takes writable arrays: a read-only view (a broadcast)
        # is copied once here.
        object.__setattr__(self, "transition", writable_array(self.transition))
        object.__setattr__(self, "reward", writable_array(self.reward))
        P, idx, R = self.transition, self.slice_index, self.reward
        if R.ndim != 4:
            raise ValueError(f"reward must have shape (K, T, S, A), got {R.shape}")
        K, T, S, A = R.shape
        if P.ndim != 4 or P.shape[1:3] != (S, A):
            raise ValueError(
                f"transition must have shape (n_slices, {S}, {A}, W), got {P.shape}")
        if idx.shape != (K, T):
            raise ValueError(f"slice_index must have shape ({K}, {T}), got {idx.shape}")
        if idx.min() < 0 or idx.max() >= P.shape[0]:
            raise ValueError(f"slice_index must lie in [0, {P.shape[0] - 1}]")
        if self.next_states is None and P.shape[3] != S:
            raise ValueError(f"a dense transition must have width {S}, got {P.shape[3]}")
        if self.next_states is not None and self.next_states.shape != P.shape[1:]:
            raise ValueError(
                f"next_states must have shape {P.shape[1:]}, got {self.next_states.shape}")

    @property
    def shape(self):
        """``(K, T, S, A)``."""
        return self.reward.shape

    @property
    def dense(self) -> bool:
        """True when the transition is dense."""
        return self.next_states is None

    @property
    def kernel_next_states(self) -> np.ndarray:
        """``next_states`` or a ``(1, 1, 1)`` dummy, as the kernels expect."""
        return _DUMMY_NEXT_STATES if self.next_states is None else self.next_states

    def transition_at(self, context: int, t: int) -> np.ndarray:
        """Transition slice ``(S, A, W)`` of ``context`` at step ``t``."""
        return self.transition[self.slice_index[context, t]]

    def dense_transition(self) -> np.ndarray:
        r"""All transitions as a dense array ``(K, T, S, A, S)`` (small games only)."""
        K, T, S, A = self.shape
        P = self.transition[self.slice_index]
        if self.dense:
            return P
        out = np.zeros((K, T, S, A, S))
        s_idx, a_idx, _ = np.indices(self.next_states.shape)
        for k in range(K):
            for t in range(T):
                np.add.at(out[k, t], (s_idx, a_idx, self.next_states), P[k, t])
        return out

    @classmethod
    def stack(cls, models) -> "EvaluatedModel":
        """Stack models of several games (same ``T, S, A`` and sparsity) along contexts.

        One backward pass over the stacked model solves every game at once
        (the CUDA backend runs them in one launch per step).  Context ``k`` of
        the result is context ``k - offset`` of the game it came from, in order.

        Examples
        --------
        >>> import numpy as np
        >>> one = EvaluatedModel(np.ones((1, 1, 1, 1)), np.zeros((1, 2), dtype=int),
        ...                      np.zeros((1, 2, 1, 1)))
        >>> EvaluatedModel.stack([one, one, one]).shape
        (3, 2, 1, 1)
        """
        models = list(models)
        if not models:
            raise ValueError("stack needs at least one model")
        first = models[0]
        for i, model in enumerate(models[1:], start=1):
            if model.shape[1:] != first.shape[1:] or \
                    model.transition.shape[1:] != first.transition.shape[1:]:
                raise ValueError(
                    f"model {i} has shape {model.shape} and transition width "
                    f"{model.transition.shape[3]}; model 0 has {first.shape} and "
                    f"{first.transition.shape[3]}: only (T, S, A, W) alike can be stacked")
            same_pattern = (model.next_states is None and first.next_states is None) or (
                model.next_states is not None and first.next_states is not None
                and np.array_equal(model.next_states, first.next_states))
            if not same_pattern:
                raise ValueError(f"model {i} has another sparsity pattern than model 0")
        offsets = np.cumsum([0] + [m.transition.shape[0] for m in models[:-1]])
        return cls(np.concatenate([m.transition for m in models]),
                   np.concatenate([m.slice_index + o for m, o in zip(models, offsets)]),
                   np.concatenate([m.reward for m in models]), first.next_states)

    def with_reward(self, reward) -> "EvaluatedModel":
        """The same dynamics with another reward table ``(K, T, S, A)``.

        Raises ValueError on a wrong shape or non-finite entries (e.g. a
        learned reward that diverged).
        """
        reward = np.ascontiguousarray(reward, dtype=np.float64)
        if reward.shape[1:] != self.reward.shape[1:] or reward.ndim != 4:
            raise ValueError(
                f"reward must have shape (K, {', '.join(map(str, self.reward.shape[1:]))}), "
                f"got {reward.shape}")
        check_finite(reward, "reward")
        index = self.slice_index
        if reward.shape[0] != index.shape[0]:
            if index.shape[0] != 1 and not np.all(index == index[:1]):
                raise ValueError(
                    f"reward has {reward.shape[0]} contexts but the model has "
                    f"{index.shape[0]} with different dynamics")
            index = np.ascontiguousarray(np.broadcast_to(index[:1], (reward.shape[0],
                                                                     index.shape[1])))
        return EvaluatedModel(self.transition, index, reward, self.next_states)


@dataclass(frozen=True, eq=False)
class MeanFieldFlow:
    r"""The flow of a policy and the model evaluated along it.

    Attributes
    ----------
    mean_field : ndarray, shape (K, T+1, S)
        :math:`\mu_t(s \mid m)`, ``mean_field[:, 0] = mu0``.
    state_action : ndarray, shape (K, T, S, A)
        :math:`L_t(s, a \mid m) = \mu_t(s \mid m) \pi_t(a \mid s, m)`, the
        occupancy measure of the policy.
    model : EvaluatedModel
        Transition and reward evaluated at this flow.
    """

    mean_field: np.ndarray
    state_action: np.ndarray
    model: EvaluatedModel


def allocate_model(spec: MFGSpec) -> EvaluatedModel:
    """Arrays for the model of ``spec``; static parts filled, dynamic parts zero."""
    K, T, S, A, W = (spec.n_contexts, spec.horizon, spec.n_states, spec.n_actions,
                     spec.transition_width)
    steps = np.arange(T, dtype=np.int64)
    contexts = np.arange(K, dtype=np.int64)[:, None]
    if spec.transition_is_dynamic:
        P = np.zeros((K * T, S, A, W))
        slice_index = contexts * T + steps
    elif spec.transition_by_context:
        # (K, S, A, W): slice k; (K, T, S, A, W): slice k * T + t
        stationary = spec.transition.ndim == 4
        P = spec.transition if stationary else spec.transition.reshape(K * T, S, A, W)
        slice_index = contexts + 0 * steps if stationary else contexts * T + steps
    elif spec.transition.ndim == 3:
        P = spec.transition[None]
        slice_index = np.zeros((K, T), dtype=np.int64)
    else:
        P = spec.transition
        slice_index = 0 * contexts + steps
    if spec.reward_is_dynamic:
        R = np.zeros((K, T, S, A))
    elif spec.reward.ndim == 3:
        R = np.ascontiguousarray(np.broadcast_to(spec.reward[:, None], (K, T, S, A)))
    else:
        R = spec.reward.copy()
    return EvaluatedModel(np.ascontiguousarray(P), np.ascontiguousarray(slice_index), R,
                          spec.next_states)


def writable_array(array: np.ndarray) -> np.ndarray:
    """``array`` as a C-contiguous array Numba types as writable (a copy if need be)."""
    array = np.ascontiguousarray(array)
    return array if array.flags.writeable else array.copy()


def kernel_functions(spec: MFGSpec):
    """The mean field functions (or placeholders) and observation arguments the kernels take.

    Returns ``(transition_fn, transition_context_fn, reward_fn, coupling,
    use_coupling, observe_all)``.  The functions come as first-class function
    pointers (one type per signature for every game), so the kernels that call
    them are compiled once and cached.
    """
    dynamic = spec.transition_is_dynamic
    by_context = spec.transition_by_context
    transition_fn = function_pointer(spec.transition, "transition") \
        if dynamic and not by_context else no_function("transition")
    transition_context_fn = function_pointer(spec.transition, "transition_by_context") \
        if dynamic and by_context else no_function("transition_by_context")
    reward_fn = function_pointer(spec.reward, "reward") if spec.reward_is_dynamic \
        else no_function("reward")
    use_coupling = spec.context_coupling is not None
    coupling = spec.context_coupling if use_coupling else np.zeros((1, 1))
    return (transition_fn, transition_context_fn, reward_fn, coupling, use_coupling,
            spec.observation == "all_types")


def observed_buffer(spec: MFGSpec) -> np.ndarray:
    """Work array the kernels fill with what the types observe (one row per type, or one)."""
    if spec.observation == "all_types":
        return np.zeros((1, spec.observed_dim))
    return np.zeros((spec.n_contexts, spec.observed_dim))


def check_flow(spec: MFGSpec, mean_field, state_action=None):
    """Validate a given flow ``(K, T+1, S)`` (and ``(K, T, S, A)``) for ``spec``."""
    K, T, S, A = spec.n_contexts, spec.horizon, spec.n_states, spec.n_actions
    mean_field = np.ascontiguousarray(mean_field, dtype=np.float64)
    if mean_field.shape != (K, T + 1, S):
        raise ValueError(
            f"mean_field must have shape (n_contexts, horizon+1, n_states) = "
            f"({K}, {T + 1}, {S}), got {mean_field.shape}")
    check_stochastic(mean_field, "mean_field")
    if state_action is None:
        if spec.mean_field_kind == "state_action":
            raise ValueError(
                f"game {spec.name!r} observes the state-action distribution: pass "
                f"state_action of shape ({K}, {T}, {S}, {A})")
        state_action = np.zeros((K, T, S, A))
    else:
        state_action = np.ascontiguousarray(state_action, dtype=np.float64)
        if state_action.shape != (K, T, S, A):
            raise ValueError(
                f"state_action must have shape (n_contexts, horizon, n_states, n_actions) = "
                f"({K}, {T}, {S}, {A}), got {state_action.shape}")
        check_stochastic(state_action.reshape(K, T, S * A), "state_action")
    return mean_field, state_action


def evaluate_model(spec: MFGSpec, mean_field, state_action=None, *,
                   backend: str = "auto") -> EvaluatedModel:
    r"""Evaluate the transition and reward of ``spec`` along a frozen flow.

    For every context :math:`m` and step :math:`t`, computes
    :math:`P(\cdot \mid s, a, \nu^m_t)` and :math:`r(s, a, \nu^m_t, m)` where
    :math:`\nu^m_t` is what context :math:`m` observes of the given flow (see
    :class:`~tabmfirl.MFGSpec`).  This is what a best response to a fixed
    mean field (e.g. an empirical one) needs.

    Parameters
    ----------
    spec : MFGSpec
    mean_field : ndarray, shape (K, T+1, S)
    state_action : ndarray, shape (K, T, S, A), optional
        Required when ``spec.mean_field_kind == "state_action"``.
    backend : {"auto", "numpy", "numba", "cuda"}
        ``"cuda"`` evaluates on the CPU with Numba (the functions are CPU code).

    Returns
    -------
    EvaluatedModel

    Raises
    ------
    ValueError
        Wrong shapes, flows off the simplex, or a mean field function that
        produced a bad table.
    """

    backend = resolve_backend(backend)
    mean_field, state_action = check_flow(spec, mean_field, state_action)
    return evaluate_unchecked(spec, mean_field, state_action, backend)


def evaluate_unchecked(spec: MFGSpec, mean_field: np.ndarray, state_action: np.ndarray,
                       backend: str, model: Optional[EvaluatedModel] = None) -> EvaluatedModel:
    """:func:`evaluate_model` without input checks (solvers call this in their loop).

    ``mean_field`` ``(K, T+1, S)`` and ``state_action`` ``(K, T, S, A)`` must be
    valid flows (zeros for the latter when the game observes states only);
    ``backend`` resolved.  ``model``, from :func:`allocate_model` for this
    spec, is filled in place and returned (its dynamic tables are overwritten).
    """
    if model is None:
        model = allocate_model(spec)
    if not (spec.transition_is_dynamic or spec.reward_is_dynamic):
        return model
    if backend == "numpy":
        for t in range(spec.horizon):
            reference_evaluate_step(t, spec, mean_field[:, t], state_action[:, t],
                                    model.transition, model.slice_index[:, t], model.reward[:, t])
        return model
    transition_fn, transition_context_fn, reward_fn, coupling, use_coupling, observe_all = \
        kernel_functions(spec)
    error = np.zeros(5, dtype=np.int64)
    _evaluate_model(transition_fn, transition_context_fn, reward_fn, spec.params,
                    spec.transition_is_dynamic, spec.transition_by_context,
                    spec.reward_is_dynamic, spec.mean_field_kind == "state_action", coupling,
                    use_coupling, observe_all, mean_field, state_action, model.transition,
                    model.slice_index, model.reward, observed_buffer(spec), ROW_SUM_TOL, error)
    raise_kernel_error(error)
    return model


def evaluate_step(spec: MFGSpec, t: int, mean_field_t, state_action_t=None):
    r"""Transition and reward of every context at one step, for given distributions.

    What a finite population needs to move one step: context :math:`m` sees
    :math:`\nu^m_t` built from ``mean_field_t`` (or ``state_action_t``) as in
    :class:`~tabmfirl.MFGSpec`, e.g. the empirical distribution of its agents.

    Parameters
    ----------
    spec : MFGSpec
    t : int
        Step, ``0 <= t < horizon``.
    mean_field_t : ndarray, shape (K, S)
    state_action_t : ndarray, shape (K, S, A), optional
        Required when the game observes the state-action distribution.

    Returns
    -------
    transition : ndarray, shape (K, S, A, W)
        Row ``[m, s, a]`` holds probabilities over ``spec.next_states[s, a]``
        (sparse) or over all states (dense).
    reward : ndarray, shape (K, S, A)
    """
    K, T, S, A = spec.n_contexts, spec.horizon, spec.n_states, spec.n_actions
    if isinstance(t, (bool, np.bool_)) or not isinstance(t, (int, np.integer)) \
            or not 0 <= t < T:
        raise ValueError(f"t must be an integer step in [0, {T - 1}], got {t!r}")
    mean_field_t = np.asarray(mean_field_t, dtype=np.float64)
    if mean_field_t.shape != (K, S):
        raise ValueError(f"mean_field_t must have shape ({K}, {S}), got {mean_field_t.shape}")
    check_stochastic(mean_field_t, "mean_field_t")
    if state_action_t is not None:
        state_action_t = np.asarray(state_action_t, dtype=np.float64)
        if state_action_t.shape != (K, S, A):
            raise ValueError(
                f"state_action_t must have shape ({K}, {S}, {A}), got {state_action_t.shape}")
        check_stochastic(state_action_t.reshape(K, S * A), "state_action_t")
    elif spec.mean_field_kind == "state_action":
        raise ValueError(f"game {spec.name!r} observes the state-action distribution: "
                         f"pass state_action_t of shape ({K}, {S}, {A})")
    else:
        state_action_t = np.zeros((K, S, A))
    # Only this step's tables: one slice per context, never the whole horizon.
    if spec.transition_is_dynamic:
        transition = np.zeros((K, S, A, spec.transition_width))
    elif spec.transition_by_context:
        transition = (spec.transition if spec.transition.ndim == 4
                      else spec.transition[:, t]).copy()
    elif spec.transition.ndim == 3:
        transition = np.ascontiguousarray(np.broadcast_to(spec.transition, (K,) +
                                                          spec.transition.shape))
    else:
        transition = np.ascontiguousarray(np.broadcast_to(spec.transition[t], (K,) +
                                                          spec.transition.shape[1:]))
    if spec.reward_is_dynamic:
        reward = np.zeros((K, S, A))
    elif spec.reward.ndim == 3:
        reward = spec.reward.copy()
    else:
        reward = spec.reward[:, t].copy()
    reference_evaluate_step(t, spec, mean_field_t, state_action_t, transition, np.arange(K),
                            reward)
    return transition, reward
