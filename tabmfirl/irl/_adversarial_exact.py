r"""Adversarial PEMMFIRL with exact expectations: the discriminator under occupancy measures.

The sampled adversarial loop (:mod:`tabmfirl.irl._adversarial`) estimates the
AIRL discriminator's loss on a batch of types drawn from the encoder and on
rollouts of the generator.  Both expectations are available in closed form
in a tabular game, and this module computes them; the loop uses them with
``expectation="exact"``.  Notation as in :mod:`tabmfirl.irl._adversarial`:
:math:`K` types, horizon :math:`T`, temperature :math:`\beta`, the reward
table :math:`R^m_t(s,a)`, the generator's policy :math:`\pi^m` (the exact soft
best response to :math:`R^m` with the flow frozen at :math:`\hat\mu(\cdot\mid
m)`), the frozen transitions :math:`P^m_t(s'\mid s,a)` and the potential
:math:`h`.

Discriminator logits
--------------------
With the *state* potential :math:`h(s, m)` (AIRL's) the logit of a
transition :math:`(s, a, s')` at step :math:`t` is

.. math::

    z^m_t(s, a, s') = \frac{R^m_t(s,a) + \gamma_t h(s', m) - h(s, m)}{\beta}
                      - \log\pi^m_t(a\mid s), \qquad \gamma_t = \mathbb 1[t < T-1],

and with the *expected* potential :math:`h_t(s, m)`, :math:`h_T = 0`,

.. math::

    \bar z^m_t(s, a) = \frac{R^m_t(s,a) + \sum_{s'} P^m_t(s'\mid s,a) h_{t+1}(s', m)
                       - h_t(s, m)}{\beta} - \log\pi^m_t(a\mid s)

(:func:`discriminator_logits`); :math:`D = \sigma(z)`.

Exact loss
----------
The sampled loss of :func:`~tabmfirl.irl._adversarial.discriminator_loss`
weights expert steps by :math:`1/(NT)` with types :math:`m_j \sim
q(\cdot\mid\tau_j)`, and generator steps by :math:`(n_m/N)/(n_S T)`.  Its
expectation over the types and the rollouts is

.. math::

    L_D = \sum_{m,t,s,a,s'} e^m_t(s,a,s')\,\mathrm{softplus}(-z^m_t(s,a,s'))
        + \sum_{m,t,s,a,s'} g^m_t(s,a,s')\,\mathrm{softplus}(z^m_t(s,a,s')),

    e^m_t(s,a,s') = \frac{1}{NT}\sum_j q(m\mid\tau_j)\,
        \mathbb 1[s^j_t = s, a^j_t = a, s^j_{t+1} = s'], \qquad
    g^m_t(s,a,s') = \frac{p(m)}{T}\,\rho^m_t(s,a)\,P^m_t(s'\mid s,a),

with :math:`p(m) = W_m/N` and :math:`\rho^m` the occupancy measure of
:math:`\pi^m` from :math:`\mu_0` in the frozen model
(:func:`tabmfirl.occupancy_measure`): the experts' posterior-weighted
empirical transition counts (exact over the observed trajectories) against
the generator's exact occupancy, its next state integrated out under the
known transitions (:func:`exact_discriminator_loss`).  With the expected
potential the logits do not read :math:`s'` and both weights are summed over
it.  Its gradient is :math:`\partial L_D/\partial z = e(\sigma(z) - 1) +
g\,\sigma(z)`, pushed to :math:`R` (:math:`\times 1/\beta`, summed over
:math:`s'`) and to :math:`h`.  The occupancy :math:`\rho` is data in this step
(the generator is the best response, not a function the discriminator
differentiates), as in the sampled loop.

Encoder through the discriminator
---------------------------------
As a function of the posterior :math:`q_{jm} = q_\psi(m\mid\tau_j)` with the
tables held fixed (flows, rewards and policies are data),

.. math::

    L_D(q) = \sum_{j,m} q_{jm}\Big(\frac{\ell^E_{jm}}{NT} + \frac{g_m}{N}\Big),
    \qquad \ell^E_{jm} = \sum_t \mathrm{softplus}(-z^m_t(s^j_t, a^j_t, s^j_{t+1})),
    \qquad g_m = \sum_{t,s,a,s'} \frac{\rho^m_t(s,a) P^m_t(s'\mid s,a)}{T}
                 \mathrm{softplus}(z^m_t(s,a,s'))

(:func:`expert_type_losses`, :func:`generator_type_losses`): the expert part
asks which type's discriminator finds :math:`\tau_j` most expert-like, the
generator part enters through :math:`p(m) = \frac1N\sum_j q_{jm}`.  The
gradient w.r.t. the encoder's logits is the softmax VJP
(:func:`posterior_logits_vjp`).  PEMIRL (Yu et al. 2019) trains its encoder
through this loss (its context is reparameterised, ours is categorical and
the sum over :math:`m` is exact).

Why the exact loss can recover the reward
-----------------------------------------
With :math:`h_t = V^R_t`, the soft value of the current reward,
:math:`\bar f = R + Ph_{t+1} - h_t = \beta\log\pi`, so :math:`\bar z = 0`,
:math:`D = 1/2` and :math:`\partial L_D/\partial R = -(e - g)/(2\beta)`: half
the maximum causal entropy gradient (expert minus model occupancy).  Where the
generator reproduces the experts (:math:`\rho = \rho^E`), :math:`R = r^*`,
:math:`h_t = V^*_t` make every gradient vanish, since :math:`\bar f =
\beta\log\pi^E` and :math:`D \equiv 1/2`.  Reward and potential are
identified only up to potential-based shaping: :math:`R + P\phi_{t+1} -
\phi_t` has the same soft-optimal policy for any :math:`\phi` with
:math:`\phi_T = 0`.  With a state-only reward and deterministic dynamics
(AIRL's disentanglement condition, Fu, Luo & Levine 2018, Theorem 5.1) the
shaping term cannot depend on the action, which fixes :math:`\phi_{t+1}` on
the states reachable in one step up to a constant, so the reward is recovered
up to a constant per step there.  The state potential :math:`h(s, m)`, being
time-independent, cannot hold :math:`V^*_t` in a finite horizon, so with it
:math:`r^*` is in general not a stationary point
(:mod:`tabmfirl.irl._adversarial`, *Expected shaping*).
"""
from __future__ import annotations

import numpy as np

from .._checks import check_temperature
from ..solvers._mean_field import occupancy_measure
from ._nn import softmax_vjp

__all__ = ["discriminator_logits", "exact_discriminator_loss", "transition_counts",
           "generator_weights", "expert_type_losses", "generator_type_losses",
           "posterior_logits_vjp", "shaping_table", "step_logits", "SHAPINGS"]

#: Potentials of the discriminator: AIRL's ``h(s, m)`` or the time-dependent,
#: next-state-integrated ``h_t(s, m)``.
SHAPINGS = ("state", "expected")


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))                 # stable


def shaping_table(h_params, K: int, T: int, S: int):
    """The expected potential ``(K, T+1, S)`` from its free part ``h_0..h_{T-1}``, ``h_T = 0``."""
    table = np.zeros((K, T + 1, S))
    table[:, :T] = np.asarray(h_params, dtype=np.float64).reshape(K, T, S)
    return table


def _check_tables(reward, shaping, log_policy, transition):
    reward = np.asarray(reward, dtype=np.float64)
    shaping = np.asarray(shaping, dtype=np.float64)
    log_policy = np.asarray(log_policy, dtype=np.float64)
    if reward.ndim != 4 or log_policy.shape != reward.shape:
        raise ValueError(f"reward and log_policy must have the same shape (K, T, S, A), got "
                         f"{reward.shape} and {log_policy.shape}")
    K, T, S, A = reward.shape
    if shaping.shape == (K, S):
        return reward, shaping, log_policy, None
    if shaping.shape != (K, T, S):
        raise ValueError(f"shaping must have shape ({K}, {S}) (state potential) or "
                         f"({K}, {T}, {S}) (expected potential h_0..h_{{T-1}}), got "
                         f"{shaping.shape}")
    if transition is None:
        raise ValueError("the expected potential needs the transition (K, T, S, A, S)")
    transition = np.asarray(transition, dtype=np.float64)
    if transition.shape != (K, T, S, A, S):
        raise ValueError(f"transition must have shape {(K, T, S, A, S)}, got "
                         f"{transition.shape}")
    return reward, shaping, log_policy, transition


def discriminator_logits(reward, shaping, log_policy, temperature: float, *, transition=None):
    r"""Logit tables :math:`z` of the AIRL discriminator (module docstring).

    Parameters
    ----------
    reward : ndarray, shape (K, T, S, A)
        :math:`R^m_t(s, a)`.
    shaping : ndarray, shape (K, S) or (K, T, S)
        The state potential :math:`h(s, m)`, or the expected potential's
        :math:`h_0..h_{T-1}` (:math:`h_T = 0`).
    log_policy : ndarray, shape (K, T, S, A)
        :math:`\log\pi^m_t(a\mid s)` of the generator.
    temperature : float
        :math:`\beta > 0`.
    transition : ndarray, shape (K, T, S, A, S), optional
        :math:`P^m_t(s'\mid s, a)`; required by the expected potential.

    Returns
    -------
    ndarray, shape (K, T, S, A, S) or (K, T, S, A)
        :math:`z^m_t(s, a, s')` (state potential) or :math:`\bar z^m_t(s, a)`.

    Examples
    --------
    Zero reward and potential and a uniform policy over two actions:
    :math:`z = \log 2` everywhere.

    >>> z = discriminator_logits(np.zeros((1, 2, 3, 2)), np.zeros((1, 3)),
    ...                          np.full((1, 2, 3, 2), np.log(0.5)), 1.0)
    >>> z.shape, bool(np.allclose(z, np.log(2.0)))
    ((1, 2, 3, 2, 3), True)
    """
    beta = check_temperature(temperature, allow_zero=False)
    reward, shaping, log_policy, transition = _check_tables(reward, shaping, log_policy,
                                                            transition)
    K, T, S, A = reward.shape
    if transition is None:
        gamma = (np.arange(T) < T - 1).astype(np.float64)
        f = (reward[..., None] + gamma[None, :, None, None, None] * shaping[:, None, None, None, :]
             - shaping[:, None, :, None, None])
        return f / beta - log_policy[..., None]
    H = np.concatenate([shaping, np.zeros((K, 1, S))], axis=1)
    f = reward + np.einsum("ktsaj,ktj->ktsa", transition, H[:, 1:]) - H[:, :T, :, None]
    return f / beta - log_policy


def exact_discriminator_loss(reward, shaping, log_policy, expert, generator,
                             temperature: float, *, transition=None):
    r"""AIRL discriminator loss under occupancy weights, and its gradients.

    .. math::

        L_D = \sum e\,\mathrm{softplus}(-z) + \sum g\,\mathrm{softplus}(z),
        \qquad \frac{\partial L_D}{\partial z} = e(\sigma(z) - 1) + g\sigma(z),

    with :math:`z` from :func:`discriminator_logits` (module docstring).

    Parameters
    ----------
    reward, shaping, log_policy, temperature, transition
        As in :func:`discriminator_logits`.
    expert, generator : ndarray, shape of the logits
        Non-negative weights :math:`e` and :math:`g`: ``(K, T, S, A, S)`` for
        the state potential, ``(K, T, S, A)`` for the expected one
        (:func:`transition_counts`, :func:`generator_weights`).

    Returns
    -------
    loss : float
    grad_reward : ndarray, shape (K, T, S, A)
    grad_shaping : ndarray, shape of ``shaping``

    Examples
    --------
    Indistinguishable classes (equal weights, :math:`z = 0`) score
    :math:`\log 4` and have no gradient:

    >>> w = np.full((1, 1, 1, 2), 0.5)
    >>> loss, g_r, g_h = exact_discriminator_loss(np.log(np.full((1, 1, 1, 2), 0.5)),
    ...     np.zeros((1, 1, 1)), np.log(np.full((1, 1, 1, 2), 0.5)), w, w, 1.0,
    ...     transition=np.ones((1, 1, 1, 2, 1)))
    >>> bool(np.isclose(loss, np.log(4.0))), bool(np.allclose(g_r, 0.0))
    (True, True)
    """
    beta = check_temperature(temperature, allow_zero=False)
    reward, shaping, log_policy, transition = _check_tables(reward, shaping, log_policy,
                                                            transition)
    z = discriminator_logits(reward, shaping, log_policy, beta, transition=transition)
    e, g = (_check_weights(x, z.shape, name) for x, name in ((expert, "expert"),
                                                           (generator, "generator")))
    loss = float(np.sum(e * np.logaddexp(0.0, -z)) + np.sum(g * np.logaddexp(0.0, z)))
    sigma = _sigmoid(z)
    G = (e * (sigma - 1.0) + g * sigma) / beta                 # dL/df
    K, T, S, A = reward.shape
    if transition is None:
        gamma = (np.arange(T) < T - 1).astype(np.float64)
        grad_h = np.einsum("ktsaj,t->kj", G, gamma) - G.sum(axis=(1, 3, 4))
        return loss, G.sum(axis=-1), grad_h
    grad_h = -G.sum(axis=-1)                                   # -h_t(s)
    grad_h[:, 1:] += np.einsum("ktsaj,ktsa->ktj", transition[:, :-1], G[:, :-1])
    return loss, G, grad_h


def _check_weights(x, shape, name):
    x = np.asarray(x, dtype=np.float64)
    if x.shape != shape:
        raise ValueError(f"{name} weights must have shape {shape}, got {x.shape}")
    if not np.all(np.isfinite(x)) or np.any(x < 0):
        raise ValueError(f"{name} weights must be finite and non-negative")
    return x


def transition_counts(states, actions, posterior, n_states: int, n_actions: int):
    r"""Posterior-weighted transition counts of trajectories.

    .. math:: C^m_t(s, a, s') = \sum_j q_{jm}\,
              \mathbb 1[s^j_t = s,\ a^j_t = a,\ s^j_{t+1} = s'].

    Parameters
    ----------
    states : ndarray of int, shape (N, T+1)
    actions : ndarray of int, shape (N, T)
    posterior : ndarray, shape (N, K)
    n_states, n_actions : int

    Returns
    -------
    ndarray, shape (K, T, S, A, S)

    Examples
    --------
    >>> c = transition_counts(np.array([[0, 1]]), np.array([[1]]), np.array([[0.25, 0.75]]),
    ...                       2, 2)
    >>> c.shape, float(c[1, 0, 0, 1, 1])
    ((2, 1, 2, 2, 2), 0.75)
    """
    states, actions = np.asarray(states), np.asarray(actions)
    q = np.asarray(posterior, dtype=np.float64)
    N, T = actions.shape
    S, A, K = n_states, n_actions, q.shape[1]
    cells = T * S * A * S
    index = ((np.arange(T)[None, :] * S + states[:, :T]) * A + actions) * S + states[:, 1:]
    out = np.empty((K, cells))
    for m in range(K):
        out[m] = np.bincount(index.ravel(), weights=np.repeat(q[:, m], T), minlength=cells)
    return out.reshape(K, T, S, A, S)


def generator_weights(model, policy, mu0, prior, *, state_potential: bool, backend="auto"):
    r"""The generator's weights :math:`g` (module docstring) and per-unit-mass weights.

    Parameters
    ----------
    model : EvaluatedModel
        The frozen dynamics (``K`` contexts).
    policy : ndarray, shape (K, T, S, A)
    mu0 : ndarray, shape (S,)
    prior : ndarray, shape (K,)
        :math:`p(m)`.
    state_potential : bool
        Weights over :math:`(s, a, s')` (state potential) or over
        :math:`(s, a)` (expected potential).
    backend : {"auto", "numpy", "numba", "cuda"}

    Returns
    -------
    weights : ndarray, shape (K, T, S, A, S) or (K, T, S, A)
        :math:`g = p(m)\rho^m_t(s,a)[P^m_t(s'\mid s,a)]/T`.
    unit : ndarray, same shape
        The same without :math:`p(m)` (each type's sums to 1).
    """
    _, rho = occupancy_measure(model, policy, mu0, backend=backend)
    T = rho.shape[1]
    unit = rho / T
    if state_potential:
        unit = unit[..., None] * model.dense_transition()
    prior = np.asarray(prior, dtype=np.float64)
    return prior.reshape((-1,) + (1,) * (unit.ndim - 1)) * unit, unit


def expert_type_losses(z, states, actions):
    r""":math:`\ell^E_{jm} = \sum_t \mathrm{softplus}(-z^m_t(s^j_t, a^j_t[, s^j_{t+1}]))`.

    Parameters
    ----------
    z : ndarray, shape (K, T, S, A, S) or (K, T, S, A)
        From :func:`discriminator_logits`.
    states : ndarray of int, shape (N, T+1)
    actions : ndarray of int, shape (N, T)

    Returns
    -------
    ndarray, shape (N, K)
        Minus the log-probability, summed over the steps, that the
        discriminator of type :math:`m` calls trajectory :math:`j` an
        expert's.
    """
    N = np.shape(actions)[0]
    return np.stack([np.logaddexp(0.0, -step_logits(z, np.full(N, m), states, actions)).sum(1)
                     for m in range(z.shape[0])], axis=1)


def generator_type_losses(z, unit):
    r""":math:`g_m = \sum \bar g^m\,\mathrm{softplus}(z^m)` per type, ``unit`` the weights of
    :func:`generator_weights` without the prior (module docstring).

    Parameters
    ----------
    z : ndarray, shape (K, ...)
    unit : ndarray, shape of ``z``

    Returns
    -------
    ndarray, shape (K,)
    """
    return np.sum(unit * np.logaddexp(0.0, z), axis=tuple(range(1, z.ndim)))


def posterior_logits_vjp(posterior, grad_posterior):
    r"""Gradient w.r.t. the encoder's logits of :math:`\sum_{jm} G_{jm} q_{jm}`.

    With :math:`q_j = \mathrm{softmax}(o_j)`: :math:`\partial/\partial o_{jk} =
    q_{jk}(G_{jk} - \sum_m q_{jm} G_{jm})`.

    Parameters
    ----------
    posterior : ndarray, shape (N, K)
    grad_posterior : ndarray, shape (N, K)
        :math:`G = \partial L/\partial q`.

    Returns
    -------
    ndarray, shape (N, K)

    Examples
    --------
    >>> posterior_logits_vjp(np.array([[0.5, 0.5]]), np.array([[1.0, 0.0]]))
    array([[ 0.25, -0.25]])
    """
    return softmax_vjp(np.asarray(posterior, dtype=np.float64),
                       np.asarray(grad_posterior, dtype=np.float64))


def step_logits(z, contexts, states, actions):
    r"""The logits at every step of trajectories of given types.

    Parameters
    ----------
    z : ndarray, shape (K, T, S, A, S) or (K, T, S, A)
        From :func:`discriminator_logits`.
    contexts : ndarray of int, shape (n,)
    states : ndarray of int, shape (n, T+1)
    actions : ndarray of int, shape (n, T)

    Returns
    -------
    ndarray, shape (n, T)
        :math:`z^{m_n}_t(s^n_t, a^n_t[, s^n_{t+1}])`.
    """
    states, actions = np.asarray(states), np.asarray(actions)
    T = actions.shape[1]
    m = np.asarray(contexts)[:, None]
    t = np.arange(T)[None, :]
    if z.ndim == 5:
        return z[m, t, states[:, :T], actions, states[:, 1:]]
    return z[m, t, states[:, :T], actions]
