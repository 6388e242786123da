r"""Backward pass: soft Bellman recursion and policy evaluation on a frozen model.

With temperature :math:`\beta > 0` and terminal value :math:`V_T = 0`
(finite horizon, no discounting), for every context :math:`m`:

.. math::

    Q_t(s, a) &= r(s, a, \nu_t, m) + \sum_{s'} P(s' \mid s, a, \nu_t)\, V_{t+1}(s'),\\
    V_t(s) &= \beta \log \sum_a \exp\big(Q_t(s, a) / \beta\big),\\
    \pi_t(a \mid s) &= \exp\big((Q_t(s, a) - V_t(s)) / \beta\big),

the soft best response (Ziebart 2010, eqs. 6.3-6.5; the finite-horizon form
of imitation's ``mce_partition_fh``).  Computed in the log domain (max
subtracted before exponentiating), so it is stable for small :math:`\beta` and
large rewards.  :math:`\beta = 0` gives the hard Bellman backup and a greedy
policy (ties to the lowest action index).

Policy evaluation of a given :math:`\pi` uses the same :math:`Q_t` with

.. math:: V^\pi_t(s) = \sum_a \pi_t(a \mid s)\big(Q^\pi_t(s,a) - \beta \log \pi_t(a \mid s)\big),

so :math:`\sum_s \mu_0(s) V^\pi_0(s)` is the entropy-regularised return
:math:`J_\beta(\pi, \mu)`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from ..kernels._backend import parallel_threads, resolve_backend
from ..kernels._kernels import MODE_EVALUATE, MODE_OPTIMAL
from ._model import EvaluatedModel

__all__ = ["BackwardResult", "soft_bellman_backward", "policy_evaluation"]


@dataclass(frozen=True, eq=False)
class BackwardResult:
    r"""Output of a backward pass.

    Attributes
    ----------
    q : ndarray, shape (K, T, S, A)
        :math:`Q_t(s, a)`.
    value : ndarray, shape (K, T+1, S)
        :math:`V_t(s)`, with ``value[:, T] = 0``.
    policy : ndarray, shape (K, T, S, A)
        The soft best response (or, from :func:`policy_evaluation`, the
        evaluated policy).
    """

    q: np.ndarray
    value: np.ndarray
    policy: np.ndarray


def check_temperature(temperature, allow_zero: bool) -> float:
    """``temperature`` as a float; ValueError unless finite and > 0 (>= 0 with ``allow_zero``)."""
    temperature = float(temperature)
    if not np.isfinite(temperature) or temperature < 0 or (temperature == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"temperature must be finite and {bound}, got {temperature}")
    return temperature


_check_temperature = check_temperature


def backward_unchecked(model: EvaluatedModel, temperature: float, policy, backend: str):
    """Backward pass without input checks (solvers call this in their loop).

    ``policy=None``: the soft best response; otherwise the evaluation of
    ``policy``.  Returns ``(q, value, policy)``.
    """
    K, T, S, A = model.shape
    if backend == "numpy":
        from ..kernels._reference import backward

        return backward(model.transition, model.slice_index, model.next_states, model.dense,
                        model.reward, temperature, policy)
    q = np.zeros((K, T, S, A))
    value = np.zeros((K, T + 1, S))
    mode = MODE_OPTIMAL if policy is None else MODE_EVALUATE
    policy_out = np.zeros((K, T, S, A)) if policy is None else policy
    if backend == "cuda":
        from ..kernels._cuda import backward as cuda_backward

        cuda_backward(mode, model, temperature, q, value, policy_out)
        return q, value, policy_out
    from ..kernels._kernels import _backward_parallel, _backward_serial

    threads = parallel_threads(K * S * A * model.transition.shape[3])
    kernel = _backward_serial
    if threads > 1:
        kernel = _backward_parallel
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    kernel(mode, model.transition, model.slice_index, model.kernel_next_states, model.dense,
           model.reward, temperature, q, value, policy_out)
    return q, value, policy_out


_run_backward = backward_unchecked


def soft_bellman_backward(model: EvaluatedModel, temperature: float = 1.0, *,
                          backend: str = "auto") -> BackwardResult:
    r"""Soft best response to a frozen model (see the module docstring).

    Parameters
    ----------
    model : EvaluatedModel
        Transitions and rewards, e.g. ``forward_mean_field(spec, pi).model``.
    temperature : float, default 1.0
        :math:`\beta \ge 0`; 0 gives the hard (unregularised) best response.
    backend : {"auto", "numpy", "numba", "cuda"}

    Returns
    -------
    BackwardResult

    Examples
    --------
    One step, one state, rewards 0 and log 3 (:math:`\beta = 1`): the policy is
    softmax(r) = (1/4, 3/4) and the value log(1 + 3).

    >>> import numpy as np
    >>> from tabmfirl import EvaluatedModel, soft_bellman_backward
    >>> model = EvaluatedModel(np.ones((1, 1, 2, 1)), np.zeros((1, 1), dtype=int),
    ...                        np.array([[[[0.0, np.log(3.0)]]]]))
    >>> result = soft_bellman_backward(model, 1.0, backend="numpy")
    >>> result.policy[0, 0, 0], float(result.value[0, 0, 0]) == float(np.log(4.0))
    (array([0.25, 0.75]), True)
    """
    temperature = _check_temperature(temperature, allow_zero=True)
    q, value, policy = _run_backward(model, temperature, None, resolve_backend(backend))
    return BackwardResult(q, value, policy)


def policy_evaluation(model: EvaluatedModel, policy, temperature: float = 1.0, *,
                      backend: str = "auto") -> BackwardResult:
    r"""Entropy-regularised values :math:`Q^\pi, V^\pi` of ``policy`` on a frozen model.

    Parameters
    ----------
    model : EvaluatedModel
    policy : ndarray, shape (K, T, S, A) or (T, S, A)
    temperature : float, default 1.0
        :math:`\beta \ge 0` (0: plain expected return).
    backend : {"auto", "numpy", "numba", "cuda"}

    Returns
    -------
    BackwardResult
        ``q`` and ``value`` of the policy; ``policy`` is the input.
    """
    from ._mean_field import check_policy

    temperature = _check_temperature(temperature, allow_zero=True)
    policy = check_policy(policy, *model.shape)
    q, value, _ = _run_backward(model, temperature, policy, resolve_backend(backend))
    return BackwardResult(q, value, policy)
