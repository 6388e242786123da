r"""CUDA kernels (``numba.cuda``): one launch per step, one thread per row.

Same arrays and equations as the CPU kernels in :mod:`tabmfirl.kernels._kernels`;
batched over contexts (and so over games stacked along the context axis).
Compiled lazily on first launch; importing this module needs ``numba.cuda``
but touches no GPU.  The row body of ``_backward_step`` repeats the CPU
``_backup_row`` on purpose: device code here uses only ``math`` and plain
indexing, and whether the CPU dispatcher compiles for the CUDA target could
not be checked without a GPU (the simulator runs Python).  Both are tested
against the NumPy twin, so they cannot drift apart unnoticed.
"""
import math

from numba import cuda

MODE_OPTIMAL = 0
MODE_EVALUATE = 1


@cuda.jit
def _backward_step(t, mode, P, slice_index, next_states, dense, R, temperature, Q, V, policy):
    """Backup of step ``t`` for row ``(k, s)`` = thread index ``k * S + s``."""
    K, T, S, A = R.shape
    row = cuda.grid(1)
    if row >= K * S:
        return
    k = row // S
    s = row % S
    P_t = P[slice_index[k, t]]
    width = P_t.shape[2]
    for a in range(A):
        acc = 0.0
        for j in range(width):
            target = j if dense else next_states[s, a, j]
            acc += P_t[s, a, j] * V[k, t + 1, target]
        Q[k, t, s, a] = R[k, t, s, a] + acc
    if mode == MODE_EVALUATE:
        total = 0.0
        for a in range(A):
            p = policy[k, t, s, a]
            if p > 0.0:
                total += p * Q[k, t, s, a]
                if temperature > 0.0:
                    total -= temperature * p * math.log(p)
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
        weight = math.exp((Q[k, t, s, a] - best) / temperature)
        policy[k, t, s, a] = weight
        total += weight
    V[k, t, s] = best + temperature * math.log(total)
    for a in range(A):
        policy[k, t, s, a] /= total


@cuda.jit
def _joint_step(t, mean_field, policy, state_action):
    """``state_action[k, t, s, a] = mean_field[k, t, s] * policy[k, t, s, a]``."""
    K, T, S, A = policy.shape
    row = cuda.grid(1)
    if row >= K * S:
        return
    k = row // S
    s = row % S
    for a in range(A):
        state_action[k, t, s, a] = mean_field[k, t, s] * policy[k, t, s, a]


@cuda.jit
def _propagate_dense_step(t, P, slice_index, state_action, mean_field):
    """Gather: thread ``k * S + j`` computes ``mean_field[k, t+1, j]``."""
    K, T, S, A = state_action.shape
    row = cuda.grid(1)
    if row >= K * S:
        return
    k = row // S
    j = row % S
    P_t = P[slice_index[k, t]]
    acc = 0.0
    for s in range(S):
        for a in range(A):
            acc += state_action[k, t, s, a] * P_t[s, a, j]
    mean_field[k, t + 1, j] = acc


@cuda.jit
def _propagate_sparse_step(t, P, slice_index, next_states, state_action, mean_field):
    """Scatter with atomics: thread ``(k * S + s) * A + a`` spreads row ``(s, a)``.

    ``mean_field[:, t + 1]`` must be zero before the launch.
    """
    K, T, S, A = state_action.shape
    row = cuda.grid(1)
    if row >= K * S * A:
        return
    k = row // (S * A)
    s = (row // A) % S
    a = row % A
    weight = state_action[k, t, s, a]
    if weight == 0.0:
        return
    P_t = P[slice_index[k, t]]
    for j in range(P_t.shape[2]):
        cuda.atomic.add(mean_field, (k, t + 1, next_states[s, a, j]), weight * P_t[s, a, j])
