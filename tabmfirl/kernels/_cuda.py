"""Host side of the CUDA backend: transfers, launches, copies back.

Imported only when ``backend="cuda"`` is used.  The backward pass and the
forward pass of a frozen model run on the device; the forward pass of a
mean-field-dependent game runs on the CPU (its mean field functions are CPU
code), see :func:`tabmfirl.forward_mean_field`.
"""
import numpy as np
from numba import cuda

from .. import config
from ._cuda_kernels import (
    MODE_OPTIMAL,
    _backward_step,
    _joint_step,
    _propagate_dense_step,
    _propagate_sparse_step,
)


def _blocks(n_threads: int) -> int:
    return max(1, (n_threads + config.CUDA_THREADS_PER_BLOCK - 1)
               // config.CUDA_THREADS_PER_BLOCK)


def backward(mode, model, temperature, q, value, policy):
    """Backward pass (soft/hard optimum or policy evaluation) on the device.

    Fills the host arrays ``q``, ``value`` and (optimal mode) ``policy``.
    """
    K, T, S, A = model.shape
    threads = config.CUDA_THREADS_PER_BLOCK
    P = cuda.to_device(model.transition)
    index = cuda.to_device(model.slice_index)
    next_states = cuda.to_device(model.kernel_next_states)
    R = cuda.to_device(model.reward)
    Q = cuda.device_array_like(q)
    V = cuda.to_device(np.zeros_like(value))
    pi = cuda.to_device(policy)
    for t in range(T - 1, -1, -1):
        _backward_step[_blocks(K * S), threads](t, mode, P, index, next_states, model.dense, R,
                                                temperature, Q, V, pi)
    Q.copy_to_host(q)
    V.copy_to_host(value)
    if mode == MODE_OPTIMAL:
        pi.copy_to_host(policy)


def forward_frozen(model, mu0, policy, mean_field, state_action):
    """Forward pass of ``policy`` through the frozen ``model`` on the device."""
    K, T, S, A = model.shape
    threads = config.CUDA_THREADS_PER_BLOCK
    mean_field[:] = 0.0
    mean_field[:, 0] = mu0
    P = cuda.to_device(model.transition)
    index = cuda.to_device(model.slice_index)
    next_states = cuda.to_device(model.kernel_next_states)
    pi = cuda.to_device(policy)
    mf = cuda.to_device(mean_field)
    L = cuda.to_device(state_action)
    for t in range(T):
        _joint_step[_blocks(K * S), threads](t, mf, pi, L)
        if model.dense:
            _propagate_dense_step[_blocks(K * S), threads](t, P, index, L, mf)
        else:
            _propagate_sparse_step[_blocks(K * S * A), threads](t, P, index, next_states, L, mf)
    mf.copy_to_host(mean_field)
    L.copy_to_host(state_action)
