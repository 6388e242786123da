r"""Plain-NumPy twins of the kernels: the ``backend="numpy"`` path and the test oracle.

Same arrays, same equations as :mod:`tabmfirl.kernels._kernels` (see there), written
for clarity: one vectorised NumPy expression per step.  A game's mean field
functions are the game's own code, not part of the kernels: both backends call
the same compiled function (under ``NUMBA_DISABLE_JIT=1``, its Python body).  These functions raise
``ValueError`` themselves on a bad table produced by a mean field function.
"""
import numpy as np

from ..game._spec import ROW_SUM_TOL
from ._kernels import ERROR_REWARD, ERROR_TRANSITION, raise_kernel_error


def expected_next_value(P_t, next_states, dense, V_next):
    r""":math:`\sum_{s'} P_t(s'|s,a) V_{t+1}(s')` for every context, state, action.

    Parameters
    ----------
    P_t : ndarray, shape (K, S, A, W)
        Transition slice used by each context at this step.
    next_states : ndarray of int, shape (S, A, W) or None (dense)
    V_next : ndarray, shape (K, S)

    Returns
    -------
    ndarray, shape (K, S, A)
    """
    if dense:
        return np.einsum("ksaj,kj->ksa", P_t, V_next)
    return np.einsum("ksaj,ksaj->ksa", P_t, V_next[:, next_states])


def backward(P, slice_index, next_states, dense, R, temperature, policy=None):
    r"""Soft Bellman backward pass (``policy=None``) or policy evaluation.

    Returns ``(Q, V, policy)`` with shapes ``(K, T, S, A)``, ``(K, T+1, S)``,
    ``(K, T, S, A)``.  With ``temperature == 0`` the optimal mode is the hard
    Bellman backup and the policy is one-hot on the first maximiser.
    """
    K, T, S, A = R.shape
    Q = np.zeros((K, T, S, A))
    V = np.zeros((K, T + 1, S))
    evaluate = policy is not None
    policy_out = policy if evaluate else np.zeros((K, T, S, A))
    for t in range(T - 1, -1, -1):
        Q[:, t] = R[:, t] + expected_next_value(P[slice_index[:, t]], next_states, dense,
                                                V[:, t + 1])
        if evaluate:
            pi = policy[:, t]
            with np.errstate(divide="ignore", invalid="ignore"):
                entropy_term = np.where(pi > 0, pi * np.log(np.where(pi > 0, pi, 1.0)), 0.0)
            V[:, t] = np.sum(pi * Q[:, t], axis=-1) - temperature * entropy_term.sum(-1)
        elif temperature == 0.0:
            V[:, t] = Q[:, t].max(axis=-1)
            best = Q[:, t].argmax(axis=-1)
            policy_out[:, t] = np.eye(A)[best]
        else:
            # log-domain: subtract the max before exponentiating
            Q_max = Q[:, t].max(axis=-1, keepdims=True)
            weights = np.exp((Q[:, t] - Q_max) / temperature)
            total = weights.sum(axis=-1, keepdims=True)
            V[:, t] = (Q_max + temperature * np.log(total))[..., 0]
            policy_out[:, t] = weights / total
    return Q, V, policy_out


def observed_mean_field(mean_field_t, state_action_t, state_action_kind, coupling,
                        observe_all=False):
    r"""What each context observes at one step: shape ``(K, D)``, or ``(1, K * D)``.

    :math:`\nu^m = \sum_{m'} C_{mm'} x^{m'}` with ``x`` the state
    distribution ``mean_field_t`` (K, S) or the flattened state-action
    distribution ``state_action_t`` (K, S, A); ``coupling=None`` means ``C = I``.
    With ``observe_all`` every context observes the stack
    :math:`(x^0, \dots, x^{K-1})` (one row, type-major).
    """
    K = mean_field_t.shape[0]
    source = state_action_t.reshape(K, -1) if state_action_kind else mean_field_t
    if observe_all:
        return source.reshape(1, -1).copy()
    if coupling is None:
        return source.copy()
    return coupling @ source


def evaluate_step(t, spec, mean_field_t, state_action_t, P, slices, R_t):
    """Fill ``P[slices[k]]`` and ``R_t[k]`` from the spec's mean field functions at step ``t``.

    ``mean_field_t`` (K, S) and ``state_action_t`` (K, S, A) are the
    distributions at step ``t``.  Raises the same ValueError as the Numba
    kernels on a bad table.
    """
    observe_all = spec.observation == "all_types"
    observed = observed_mean_field(mean_field_t, state_action_t,
                                   spec.mean_field_kind == "state_action",
                                   spec.context_coupling, observe_all)
    for k in range(spec.n_contexts):
        seen = observed[0 if observe_all else k]
        if spec.transition_is_dynamic:
            P_slice = P[slices[k]]
            if spec.transition_by_context:
                spec.transition(t, seen, k, spec.params, P_slice)
            else:
                spec.transition(t, seen, spec.params, P_slice)
            with np.errstate(invalid="ignore"):
                bad = (~np.all(P_slice >= 0, axis=-1)
                       | (np.abs(P_slice.sum(axis=-1) - 1.0) > ROW_SUM_TOL)
                       | ~np.all(np.isfinite(P_slice), axis=-1))
            if bad.any():
                raise_kernel_error(np.array([ERROR_TRANSITION, k, t, *np.argwhere(bad)[0]]))
        if spec.reward_is_dynamic:
            spec.reward(t, seen, k, spec.params, R_t[k])
            bad = ~np.isfinite(R_t[k])
            if bad.any():
                raise_kernel_error(np.array([ERROR_REWARD, k, t, *np.argwhere(bad)[0]]))


def propagate(P_t, next_states, dense, state_action_t):
    r""":math:`\mu_{t+1}(s') = \sum_{s,a} L_t(s,a) P_t(s'|s,a)` for every context.

    ``P_t`` has shape ``(K, S, A, W)``, ``state_action_t`` ``(K, S, A)``;
    returns ``(K, S)``.
    """
    if dense:
        return np.einsum("ksa,ksaj->kj", state_action_t, P_t)
    K, S = state_action_t.shape[0], state_action_t.shape[1]
    mass = state_action_t[..., None] * P_t
    out = np.zeros((K, S))
    for k in range(K):
        out[k] = np.bincount(next_states.ravel(), weights=mass[k].ravel(), minlength=S)
    return out


def forward(spec, policy, P, slice_index, next_states, dense, R, mean_field, state_action):
    """Forward pass of ``policy`` (in place on ``mean_field``, ``state_action``, ``P``, ``R``)."""
    T = policy.shape[1]
    mean_field[:, 0] = spec.initial_distribution
    dynamic = spec.transition_is_dynamic or spec.reward_is_dynamic
    for t in range(T):
        state_action[:, t] = mean_field[:, t, :, None] * policy[:, t]
        if dynamic:
            evaluate_step(t, spec, mean_field[:, t], state_action[:, t], P,
                          slice_index[:, t], R[:, t])
        mean_field[:, t + 1] = propagate(P[slice_index[:, t]], next_states, dense,
                                         state_action[:, t])
