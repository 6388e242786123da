r"""Likelihoods of demonstrations under the soft-optimal policies of a reward, and the
posterior over types they give (the E-step), in closed form.

Notation as in :mod:`tabmfirl.irl._em`.
"""
from __future__ import annotations

import numpy as np

from .._checks import check_temperature
from ..kernels._reference import propagate
from ..solvers._model import EvaluatedModel
from ..solvers._soft_bellman import BackwardResult, soft_bellman_backward
from ._nn import logsumexp

__all__ = ["mce_log_likelihood", "trajectory_log_likelihood", "dynamics_log_likelihood",
           "type_log_likelihood", "tempered_posterior", "posterior_information", "entropy",
           "LOG_PROBABILITY_FLOOR"]

#: A transition or initial state of probability 0 under a type counts as this log-probability
#: (``log(1e-300)``): the trajectory is then practically impossible under that type, and a
#: trajectory impossible under every type (a model evaluated at an estimated flow) still
#: gets a finite posterior instead of ``0/0``.
LOG_PROBABILITY_FLOOR = float(np.log(1e-300))


def mce_log_likelihood(model: EvaluatedModel, counts, temperature: float, *,
                       backend: str = "auto"):
    r"""Causal log-likelihood of weighted state-action counts and its exact gradient.

    With the soft-optimal policy :math:`\pi = \exp((Q - V)/\beta)` of
    ``model`` (whose reward is :math:`R`) and counts :math:`C^m_t(s, a)`:

    .. math::

        \ell(R) = \sum_{m,t,s,a} C^m_t(s,a) \log\pi^m_t(a\mid s)
                = \frac{1}{\beta}\Big[\sum_{m,t,s,a} C^m_t(s,a) R^m_t(s,a)
                  - \sum_{m,t,s} x^m_t(s)\, V^m_t(s)\Big],

    with the *injections* :math:`x_0(s) = N_0(s)` and, for :math:`t \ge 1`,
    :math:`x_t(s) = N_t(s) - \sum_{s',a} C_{t-1}(s',a) P_{t-1}(s\mid s',a)`,
    where :math:`N_t(s) = \sum_a C_t(s, a)` (expand :math:`Q = R + PV` and
    regroup).  Since :math:`\partial V_t(s)/\partial R` is the occupancy of
    :math:`\pi` started in :math:`s` at :math:`t`,

    .. math::

        \frac{\partial \ell}{\partial R^m_t(s,a)} = \frac{1}{\beta}
        \big(C^m_t(s,a) - \rho^m_t(s,a)\big), \qquad
        \rho_t = m_t\,\pi_t,\quad m_0 = N_0,\quad
        m_{t+1} = N_{t+1} + \textstyle\sum_{s,a} (\rho_t - C_t)(s,a)\, P_t(\cdot\mid s,a).

    When the counts are consistent with the model and :math:`\mu_0` (e.g. exact
    expected counts :math:`W_m L_t(s,a\mid m)` of a flow of these dynamics),
    every :math:`x_t` with :math:`t \ge 1` is 0, :math:`x_0 = W_m\mu_0`, and
    this is the familiar MCE IRL gradient :math:`C - W_m\rho^{\mu_0}`
    (expert minus model occupancy, :func:`tabmfirl.occupancy_measure`), and
    :math:`\ell` equals the MCE dual :math:`\frac1\beta[\sum CR - W_m\mu_0
    \cdot V_0]`.  With sampled counts the injections carry the sampling noise
    of the transitions and of the initial states; keeping them makes
    :math:`\ell` the exact likelihood of the sample (bounded above by 0)
    rather than the dual, which is unbounded when the counts' state marginals
    cannot be reached from :math:`\mu_0` (e.g. the posterior-weighted
    initial states of one type differ from :math:`\mu_0`).

    Parameters
    ----------
    model : EvaluatedModel
        Frozen dynamics with the reward :math:`R` ``(K, T, S, A)`` to score.
    counts : ndarray, shape (K, T, S, A)
        Non-negative weighted counts.
    temperature : float
        :math:`\beta > 0`.
    backend : {"auto", "numpy", "numba", "cuda"}
        Of the backward pass.

    Returns
    -------
    value : float
        :math:`\ell` (not normalised by the number of trajectories).
    grad : ndarray, shape (K, T, S, A)
    backward : BackwardResult
        ``q``, ``value`` and the model ``policy``.

    Examples
    --------
    One state, one step, rewards (0, log 3), :math:`\beta = 1`: the model
    policy is (1/4, 3/4); one demonstration of action 1 gives
    :math:`\ell = \log(3/4)` and the gradient (0 - 1/4, 1 - 3/4).

    >>> from tabmfirl import EvaluatedModel
    >>> model = EvaluatedModel(np.ones((1, 1, 2, 1)), np.zeros((1, 1), dtype=int),
    ...                        np.array([[[[0.0, np.log(3.0)]]]]))
    >>> value, grad, _ = mce_log_likelihood(model, np.array([[[[0.0, 1.0]]]]), 1.0,
    ...                                     backend="numpy")
    >>> round(value, 12), round(float(np.log(0.75)), 12), grad.ravel()
    (-0.287682072452, -0.287682072452, array([-0.25,  0.25]))
    """
    temperature = check_temperature(temperature, allow_zero=False)
    counts = np.asarray(counts, dtype=np.float64)
    if counts.shape != model.shape:
        raise ValueError(f"counts must have shape {model.shape}, got {counts.shape}")
    if np.any(counts < 0) or not np.all(np.isfinite(counts)):
        raise ValueError("counts must be finite and non-negative")
    K, T, S, A = model.shape
    backward = soft_bellman_backward(model, temperature, backend=backend)
    log_pi = (backward.q - backward.value[:, :T, :, None]) / temperature
    value = float(np.sum(np.where(counts > 0, counts * log_pi, 0.0)))
    policy = backward.policy
    state_counts = counts.sum(axis=-1)                                  # N_t(s)
    grad = np.empty((K, T, S, A))
    mass = state_counts[:, 0]
    for t in range(T):
        occupancy = mass[..., None] * policy[:, t]
        grad[:, t] = counts[:, t] - occupancy
        if t + 1 < T:
            P_t = model.transition[model.slice_index[:, t]]
            mass = state_counts[:, t + 1] + propagate(P_t, model.next_states, model.dense,
                                                      occupancy - counts[:, t])
    return value, grad / temperature, backward


def trajectory_log_likelihood(backward: BackwardResult, states, actions,
                              temperature: float):
    r"""Causal log-likelihood :math:`\ell_{jm} = \sum_t \log\pi^m_t(a^j_t \mid s^j_t)`.

    Computed in the log domain as :math:`(Q^m_t(s,a) - V^m_t(s))/\beta`.

    Parameters
    ----------
    backward : BackwardResult
        From :func:`tabmfirl.soft_bellman_backward` (soft-optimal policy).
    states : ndarray of int, shape (N, T+1)
    actions : ndarray of int, shape (N, T)
    temperature : float
        The :math:`\beta > 0` of the backward pass.

    Returns
    -------
    ndarray, shape (N, K)
    """
    temperature = check_temperature(temperature, allow_zero=False)
    N, T = actions.shape
    t = np.arange(T)[None, :]
    s = states[:, :T]
    log_pi = (backward.q - backward.value[:, :T, :, None]) / temperature   # (K, T, S, A)
    return log_pi[:, t, s, actions].sum(axis=-1).T                          # (N, K)


def dynamics_log_likelihood(model: EvaluatedModel, initial_distribution, states, actions):
    r"""Log-probability of each trajectory's moves under each type's dynamics.

    .. math::

        d_{jm} = \log \mu_0(s^j_0 \mid m)
                 + \sum_{t=0}^{T-1} \log P^m_t(s^j_{t+1} \mid s^j_t, a^j_t),

    with :math:`P^m_t` the transitions of ``model`` (context :math:`m`, step
    :math:`t`: ``model.transition_at(m, t)``, evaluated at whatever flow the
    caller froze, e.g. the posterior-weighted empirical flow) and
    :math:`\mu_0(\cdot\mid m)` row :math:`m` of ``initial_distribution``.  A
    probability of 0 counts as :data:`LOG_PROBABILITY_FLOOR`.  Together with
    :func:`trajectory_log_likelihood` it is the full log-likelihood of a
    trajectory, :math:`\log p(\tau_j \mid m) = d_{jm} + \ell_{jm}`.

    Parameters
    ----------
    model : EvaluatedModel
        ``K`` contexts, horizon ``T`` (dense or sparse transitions).
    initial_distribution : ndarray, shape (K, S) or (S,)
    states : ndarray of int, shape (N, T+1)
    actions : ndarray of int, shape (N, T)

    Returns
    -------
    ndarray, shape (N, K)

    Examples
    --------
    Two types on two states, type 0 always moves to state 1, type 1 stays;
    the trajectory 0 -> 1 has probability 1/2 (initial state) under both types
    and then 1 under type 0, 0 under type 1 (floored):

    >>> from tabmfirl import EvaluatedModel
    >>> P = np.array([[[[0.0, 1.0]], [[0.0, 1.0]]], [[[1.0, 0.0]], [[0.0, 1.0]]]])
    >>> model = EvaluatedModel(P, np.array([[0], [1]]), np.zeros((2, 1, 2, 1)))
    >>> d = dynamics_log_likelihood(model, np.full(2, 0.5), np.array([[0, 1]]),
    ...                             np.array([[0]]))
    >>> bool(np.isclose(d[0, 0], np.log(0.5))), bool(d[0, 1] < -690)
    (True, True)
    """
    K, T, S, A = model.shape
    states = np.asarray(states)
    actions = np.asarray(actions)
    N = states.shape[0]
    if states.shape != (N, T + 1) or actions.shape != (N, T):
        raise ValueError(f"states and actions must have shapes (N, {T + 1}) and (N, {T}), got "
                         f"{states.shape} and {actions.shape}")
    mu0 = np.broadcast_to(np.asarray(initial_distribution, dtype=np.float64), (K, S))
    probability = np.empty((T + 1, K, N))
    probability[0] = mu0[:, states[:, 0]]
    for t in range(T):
        s, a, s_next = states[:, t], actions[:, t], states[:, t + 1]
        rows = model.transition[model.slice_index[:, t]][:, s, a]           # (K, N, W)
        if model.dense:
            probability[t + 1] = np.take_along_axis(
                rows, np.broadcast_to(s_next[None, :, None], (K, N, 1)), axis=-1)[..., 0]
        else:                                   # a sparse row may hold s' more than once
            hits = model.next_states[s, a] == s_next[:, None]                 # (N, W)
            probability[t + 1] = np.where(hits[None], rows, 0.0).sum(axis=-1)
    with np.errstate(divide="ignore"):
        logs = np.maximum(np.log(probability), LOG_PROBABILITY_FLOOR)
    return logs.sum(axis=0).T


def type_log_likelihood(spec, model: EvaluatedModel, backward: BackwardResult, states, actions,
                        temperature: float):
    r"""The log-likelihood of each trajectory under each type that a type posterior uses.

    .. math::

        \log p(\tau_j \mid m) = \ell_{jm} + \mathbb 1[\text{types move differently}]\,
        d_{jm},

    :math:`\ell_{jm}` the actions' causal log-likelihood
    (:func:`trajectory_log_likelihood`) and :math:`d_{jm}` the dynamics' and
    the initial state's (:func:`dynamics_log_likelihood`).  When every type
    shares the transition and the initial distribution
    (``spec.shares_dynamics``), :math:`d_{jm}` does not depend on :math:`m`
    and cancels from every posterior: it is left out, so the result is
    exactly :math:`\ell_{jm}`, as before per-type dynamics existed (and the
    posterior cannot cluster agents on where a mean-field-dependent
    transition, read at each type's estimated flow, happens to send them).

    Parameters
    ----------
    spec : MFGSpec
        The learner's game (its ``K`` contexts are those of ``model``).
    model : EvaluatedModel
        The dynamics at the flow the method uses (the reward is ignored here).
    backward : BackwardResult
        Soft-optimal policies of the model's reward.
    states : ndarray of int, shape (N, T+1)
    actions : ndarray of int, shape (N, T)
    temperature : float
        :math:`\beta > 0` of the backward pass.

    Returns
    -------
    ndarray, shape (N, K)
    """
    log_lik = trajectory_log_likelihood(backward, states, actions, temperature)
    if spec.shares_dynamics:
        return log_lik
    return log_lik + dynamics_log_likelihood(model, spec.initial_distribution, states, actions)


def tempered_posterior(log_lik, prior, mi_weight):
    """Tempered posterior ``q ∝ p(m) exp(mi_weight * ell)`` and the marginal LL."""
    with np.errstate(divide="ignore"):
        log_prior = np.log(prior)
    joint = log_prior[None, :] + mi_weight * log_lik
    log_q = joint - logsumexp(joint, axis=1, keepdims=True)
    marginal = float(np.mean(logsumexp(log_prior[None, :] + log_lik, axis=1)))
    return np.exp(log_q), marginal



def posterior_information(posterior) -> float:
    r"""Mutual information between type and trajectory under a posterior, in nats.

    .. math::

        \hat I = H(\bar q) - \frac1N \sum_j H(q_j), \qquad
        \bar q = \frac1N \sum_j q_j,

    the information that the posteriors :math:`q_j = q(\cdot\mid\tau_j)` carry
    about the type when the trajectories are drawn uniformly; it is the
    Barber-Agakov bound :math:`H(m) + \mathbb E\log q(m\mid\tau)` with the
    posterior as its own variational distribution.  0 for a uniform (or any
    shared) posterior, :math:`\log K` for confident, balanced types.

    Parameters
    ----------
    posterior : ndarray, shape (N, K)

    Returns
    -------
    float

    Examples
    --------
    >>> round(posterior_information(np.eye(3)[[0, 1, 2, 0]]), 4)   # H(1/2, 1/4, 1/4)
    1.0397
    >>> posterior_information(np.full((5, 2), 0.5))
    0.0
    """
    q = np.asarray(posterior, dtype=np.float64)
    return float(max(entropy(q.mean(axis=0)) - entropy(q).mean(), 0.0))


def entropy(p):
    """Entropy (nats) along the last axis, with 0 log 0 = 0."""
    return -np.sum(p * np.log(np.where(p > 0, p, 1.0)), axis=-1)


#: Initial posteriors of the EM loop (module docstring).
