r"""Numba CPU kernels: forward (mean field flow) and backward (soft Bellman).

Pure functions on contiguous float64/int64 arrays.  The caller validates,
allocates every output and passes it in; nothing here compiles at import
(``@njit`` without a signature compiles lazily, ``cache=True`` keeps the
machine code between sessions).  Kernels that call a game's mean field
functions receive them as first-class function pointers of one fixed
signature (:mod:`tabmfirl.kernels._functions`), so every game has the same
argument types: they too compile once per machine and are cached, and a
later process only loads them.  The backward pass comes as a serial
and a ``prange`` variant sharing the same per-row body; the Python wrappers
choose by problem size and available cores (:func:`tabmfirl.kernels._backend.use_parallel`).  The forward
pass is serial.  The plain-NumPy twins in
:mod:`tabmfirl.kernels._reference` compute the same quantities and are the test oracle.

Model arrays (see :class:`tabmfirl.EvaluatedModel`)
---------------------------------------------------
``P[n_slices, S, A, W]`` transition slices, ``slice_index[K, T]`` the slice
used by context ``k`` at step ``t``, ``next_states[S, A, W]`` the sparsity
pattern (a dummy ``(1, 1, 1)`` array when ``dense``), ``R[K, T, S, A]``.

Equations
---------
Forward:  :math:`L_t(s,a) = \mu_t(s)\pi_t(a|s)`,
:math:`\mu_{t+1}(s') = \sum_{s,a} L_t(s,a) P_t(s'|s,a)`.

Backward (temperature :math:`\beta`, :math:`V_T = 0`):
:math:`Q_t = R_t + P_t V_{t+1}`; optimal mode
:math:`V_t = \beta \log\sum_a e^{Q_t/\beta}`, :math:`\pi_t = e^{(Q_t - V_t)/\beta}` (computed as normalised :math:`e^{(Q_t - \max_a Q_t)/\beta}`)
(hard max and first-argmax one-hot policy when :math:`\beta = 0`);
evaluation mode :math:`V_t = \sum_a \pi_t (Q_t - \beta \log \pi_t)`.
"""
import numpy as np
from numba import njit, prange

# Error codes written into ``error[0]``; ``error[1:5]`` = (k, t, s, a).
ERROR_NONE = 0
ERROR_TRANSITION = 1  # a transition row is not a probability vector
ERROR_REWARD = 2  # a reward entry is not finite


def raise_kernel_error(error: np.ndarray) -> None:
    """Turn a kernel's error record ``(code, k, t, s, a)`` into a ValueError."""
    code, k, t, s, a = (int(x) for x in error)
    if code == ERROR_NONE:
        return
    if code == ERROR_TRANSITION:
        raise ValueError(
            f"transition function produced a row that is not a probability vector "
            f"(negative, NaN, or not summing to 1) for context {k}, step {t}, state {s}, "
            f"action {a}")
    raise ValueError(
        f"reward function produced a non-finite value for context {k}, step {t}, "
        f"state {s}, action {a}")

MODE_OPTIMAL = 0
MODE_EVALUATE = 1


# --------------------------------------------------------------------- backward
@njit(cache=True, inline="always")
def _backup_row(k, s, t, mode, P, slice_index, next_states, dense, R, temperature,
                Q, V, policy):
    """One backward step for context ``k``, state ``s`` at step ``t``.

    Plain indexing (no array views) in the inner loops keeps this as fast as a
    hand-fused loop (views cost about 4x here).
    """
    A = R.shape[3]
    W = P.shape[3]
    slice_t = slice_index[k, t]
    for a in range(A):
        acc = 0.0
        if dense:
            for j in range(W):
                acc += P[slice_t, s, a, j] * V[k, t + 1, j]
        else:
            for j in range(W):
                acc += P[slice_t, s, a, j] * V[k, t + 1, next_states[s, a, j]]
        Q[k, t, s, a] = R[k, t, s, a] + acc
    if mode == MODE_EVALUATE:
        total = 0.0
        for a in range(A):
            p = policy[k, t, s, a]
            if p > 0.0:
                total += p * Q[k, t, s, a]
                if temperature > 0.0:
                    total -= temperature * p * np.log(p)
        V[k, t, s] = total
        return
    best = Q[k, t, s, 0]
    best_a = 0
    for a in range(1, A):
        if Q[k, t, s, a] > best:
            best = Q[k, t, s, a]
            best_a = a
    if temperature == 0.0:
        V[k, t, s] = best
        for a in range(A):
            policy[k, t, s, a] = 1.0 if a == best_a else 0.0
        return
    total = 0.0
    for a in range(A):
        weight = np.exp((Q[k, t, s, a] - best) / temperature)
        policy[k, t, s, a] = weight
        total += weight
    V[k, t, s] = best + temperature * np.log(total)
    for a in range(A):
        policy[k, t, s, a] /= total


@njit(cache=True)
def _backward_serial(mode, P, slice_index, next_states, dense, R, temperature, Q, V, policy):
    """Backward pass over all contexts (serial).  ``V[:, T]`` must be 0."""
    K, T, S, _ = R.shape
    for t in range(T - 1, -1, -1):
        for ks in range(K * S):
            _backup_row(ks // S, ks % S, t, mode, P, slice_index, next_states, dense, R,
                        temperature, Q, V, policy)


@njit(cache=True, parallel=True)
def _backward_parallel(mode, P, slice_index, next_states, dense, R, temperature, Q, V, policy):
    """Backward pass over all contexts, rows of each step split across threads."""
    K, T, S, _ = R.shape
    for t in range(T - 1, -1, -1):
        for ks in prange(K * S):
            _backup_row(ks // S, ks % S, t, mode, P, slice_index, next_states, dense, R,
                        temperature, Q, V, policy)


# ---------------------------------------------------------------------- forward
@njit(cache=True)
def _record_error(error, code, k, t, s, a):
    """Write ``(code, k, t, s, a)`` into ``error`` and return False."""
    error[0] = code
    error[1] = k
    error[2] = t
    error[3] = s
    error[4] = a
    return False


@njit(cache=True)
def _check_transition_slice(P_slice, tol, k, t, error):
    """Check each row of ``P_slice`` (S, A, W) is a probability vector."""
    S, A, W = P_slice.shape
    for s in range(S):
        for a in range(A):
            total = 0.0
            for j in range(W):
                p = P_slice[s, a, j]
                if not (p >= 0.0) or not np.isfinite(p):
                    return _record_error(error, ERROR_TRANSITION, k, t, s, a)
                total += p
            if abs(total - 1.0) > tol:
                return _record_error(error, ERROR_TRANSITION, k, t, s, a)
    return True


@njit(cache=True)
def _check_reward_slice(R_slice, k, t, error):
    """Check each entry of ``R_slice`` (S, A) is finite."""
    S, A = R_slice.shape
    for s in range(S):
        for a in range(A):
            if not np.isfinite(R_slice[s, a]):
                return _record_error(error, ERROR_REWARD, k, t, s, a)
    return True


@njit(cache=True)
def _observe(t, state_action_kind, coupling, use_coupling, observe_all, mean_field,
             state_action, observed):
    r"""Fill ``observed`` with what the types observe at step ``t``.

    ``observe_all``: row 0 is the stack of every type's distribution, type-major
    (length ``K * D``).  Otherwise row ``k`` is type ``k``'s own distribution,
    or the coupled mixture :math:`\sum_j C_{kj} x^j`.
    """
    K, _, S, A = state_action.shape
    D = S * A if state_action_kind else S
    if observe_all:
        for j in range(K):
            if state_action_kind:
                source = state_action[j, t].reshape(S * A)
            else:
                source = mean_field[j, t]
            for i in range(D):
                observed[0, j * D + i] = source[i]
        return
    for k in range(K):
        if state_action_kind:
            source = state_action[k, t].reshape(S * A)
        else:
            source = mean_field[k, t]
        if not use_coupling:
            observed[k, :] = source
    if use_coupling:
        observed[:, :] = 0.0
        for k in range(K):
            for j in range(K):
                c = coupling[k, j]
                if c != 0.0:
                    if state_action_kind:
                        source = state_action[j, t].reshape(S * A)
                    else:
                        source = mean_field[j, t]
                    for i in range(D):
                        observed[k, i] += c * source[i]


@njit(cache=True)
def _evaluate_step(t, transition_fn, transition_context_fn, reward_fn, params,
                   dynamic_transition, transition_by_context, dynamic_reward, state_action_kind,
                   coupling, use_coupling, observe_all, mean_field, state_action, P, slice_index,
                   R, observed, tol, error):
    """Evaluate the mean field functions at step ``t`` for every context.

    ``observed`` is filled by :func:`_observe` (one row, or one per context),
    then the functions fill ``P[slice_index[k, t]]`` (``transition_context_fn``
    also receives ``k``) and ``R[k, t]``.  Returns False on a bad table.
    """
    K = state_action.shape[0]
    _observe(t, state_action_kind, coupling, use_coupling, observe_all, mean_field,
             state_action, observed)
    for k in range(K):
        row = 0 if observe_all else k
        if dynamic_transition:
            P_slice = P[slice_index[k, t]]
            if transition_by_context:
                transition_context_fn(t, observed[row], k, params, P_slice)
            else:
                transition_fn(t, observed[row], params, P_slice)
            if not _check_transition_slice(P_slice, tol, k, t, error):
                return False
        if dynamic_reward:
            reward_fn(t, observed[row], k, params, R[k, t])
            if not _check_reward_slice(R[k, t], k, t, error):
                return False
    return True


@njit(cache=True)
def _evaluate_model(transition_fn, transition_context_fn, reward_fn, params,
                    dynamic_transition, transition_by_context, dynamic_reward,
                    state_action_kind, coupling, use_coupling, observe_all, mean_field,
                    state_action, P, slice_index, R, observed, tol, error):
    """Evaluate ``P`` and ``R`` along a given (frozen) flow, every step."""
    T = state_action.shape[1]
    for t in range(T):
        if not _evaluate_step(t, transition_fn, transition_context_fn, reward_fn, params,
                              dynamic_transition, transition_by_context, dynamic_reward,
                              state_action_kind, coupling, use_coupling, observe_all,
                              mean_field, state_action, P, slice_index, R, observed, tol,
                              error):
            return


@njit(cache=True)
def _joint_distribution(t, mean_field, policy, state_action):
    """``state_action[k, t, s, a] = mean_field[k, t, s] * policy[k, t, s, a]``."""
    K, _, S, A = policy.shape
    for k in range(K):
        for s in range(S):
            m = mean_field[k, t, s]
            for a in range(A):
                state_action[k, t, s, a] = m * policy[k, t, s, a]


@njit(cache=True)
def _propagate_rows(k, t, row_start, row_stop, P, slice_index, next_states, dense,
                    state_action, out):
    """Accumulate ``L_t(s,a) P_t(.|s,a)`` for rows ``s*A+a`` in [start, stop) into ``out``."""
    A = state_action.shape[3]
    W = P.shape[3]
    slice_t = slice_index[k, t]
    for row in range(row_start, row_stop):
        s = row // A
        a = row % A
        weight = state_action[k, t, s, a]
        if weight == 0.0:
            continue
        if dense:
            for j in range(W):
                out[j] += weight * P[slice_t, s, a, j]
        else:
            for j in range(W):
                out[next_states[s, a, j]] += weight * P[slice_t, s, a, j]


@njit(cache=True)
def _forward(transition_fn, transition_context_fn, reward_fn, params, dynamic_transition,
             transition_by_context, dynamic_reward, state_action_kind, coupling, use_coupling,
             observe_all, mu0, policy, P, slice_index, next_states, dense, R, mean_field,
             state_action, observed, tol, error):
    """Forward pass: flow of ``policy`` from ``mu0`` ``(K, S)``, evaluating the model on the way.

    Serial only: a ``prange`` variant (private accumulators per thread, then a
    reduction) measured no faster on 2 cores and far slower when the cores are
    shared (the scatter is memory-bound).
    """
    K, T, S, A = policy.shape
    for k in range(K):
        mean_field[k, 0, :] = mu0[k]
    for t in range(T):
        _joint_distribution(t, mean_field, policy, state_action)
        if dynamic_transition or dynamic_reward:
            if not _evaluate_step(t, transition_fn, transition_context_fn, reward_fn, params,
                                  dynamic_transition, transition_by_context, dynamic_reward,
                                  state_action_kind, coupling, use_coupling, observe_all,
                                  mean_field, state_action, P, slice_index, R, observed, tol,
                                  error):
                return
        for k in range(K):
            out = mean_field[k, t + 1]
            out[:] = 0.0
            _propagate_rows(k, t, 0, S * A, P, slice_index, next_states, dense,
                            state_action, out)
