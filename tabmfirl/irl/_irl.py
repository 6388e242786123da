r"""PEMMFIRL (``exact`` reward update, discrete types) and the MFIRL baseline.

Inputs are unlabelled trajectories :math:`\tau_j = (s^j_0, a^j_0, \dots,
s^j_T)`, :math:`j = 1..N` (:class:`~tabmfirl.irl._demos.Demonstrations`; the
learner never reads ``demos.types``), and the game's *dynamics*
:math:`P(s' \mid s, a, \mu)` and :math:`\mu_0` (an :class:`~tabmfirl.MFGSpec`
whose reward is ignored).  Outputs: a reward head
:math:`f_\omega(s, a, \mu, m)` (:class:`~tabmfirl.RewardHead`), a posterior
:math:`q(m \mid \tau_j)` over :math:`K` discrete types, and per-type tables.

Notation: ``posterior[j, m]`` :math:`= q_{jm}`, ``counts[m, t, s, a]``,
``mean_field[m, t, s]`` (:math:`T+1` rows), ``reward[m, t, s, a]``,
``policy[m, t, s, a]``; temperature :math:`\beta > 0`.

One iteration
-------------
1. **Posterior-weighted statistics** (design notes, section 3, step 2; ours)

   .. math::

       W_m = \sum_j q_{jm}, \qquad
       C^m_t(s, a) = \sum_j q_{jm}\, \mathbb 1[s^j_t = s, a^j_t = a], \qquad
       \hat\mu_t(s \mid m) = \frac{1}{W_m} \sum_j q_{jm}\, \mathbb 1[s^j_t = s],

   and :math:`\hat L_t(s, a \mid m) = C^m_t(s, a) / W_m` for games that observe
   the state-action distribution.  A type whose weight :math:`W_m` falls
   below ``1e-12 N`` is given the pooled flow instead (its counts stay ~0).
2. **Model at the empirical flow**: :func:`tabmfirl.evaluate_model` gives
   :math:`P(\cdot \mid s, a, \hat\mu_t(\cdot\mid m))`; the head gives
   :math:`R^m_t(s, a) = f_\omega(s, a, \hat\mu_t(\cdot \mid m), m)`.
3. **Exact sampler**: the soft backward pass
   (:func:`tabmfirl.soft_bellman_backward`) gives :math:`Q^m, V^m` and the model
   policy :math:`\pi^m_t(a\mid s) = \exp((Q^m_t(s,a) - V^m_t(s))/\beta)` with the
   flow frozen at :math:`\hat\mu(\cdot\mid m)` (no RL: this is what makes the
   package a reference).
4. **Exact reward update** (the ``exact`` mode of the design notes).  The
   objective is the maximum causal entropy log-likelihood of the weighted
   demonstrations, per trajectory,

   .. math::

       \ell(\omega) = \frac1N \sum_j \sum_m q_{jm} \sum_{t=0}^{T-1}
       \log \pi^m_t(a^j_t \mid s^j_t)
       = \frac1N \sum_{m,t,s,a} C^m_t(s,a) \log\pi^m_t(a\mid s),

   whose gradient with respect to the reward table is computed exactly by
   :func:`mce_log_likelihood`:
   :math:`\frac{1}{N\beta}(C^m_t(s,a) - \rho^m_t(s,a))`, with :math:`\rho^m`
   the occupancy of :math:`\pi^m` under the frozen model started from the
   counts' own state marginals.  For counts consistent with the model
   (exact expected counts) this is the textbook MCE IRL gradient, expert
   counts minus :math:`W_m` times the model occupancy from :math:`\mu_0`
   (:func:`tabmfirl.occupancy_measure`); with samples it also carries their
   transition noise, which keeps :math:`\ell` the exact (bounded) likelihood
   instead of the MCE dual (unbounded when a type's weighted initial states
   differ from :math:`\mu_0`).  The gradient is pushed to the head
   parameters with its VJP (:meth:`~tabmfirl.RewardHead.reward_tables_vjp`)
   and one :class:`~tabmfirl.Adam` ascent step is taken on
   :math:`\ell(\omega) - \frac\kappa2\|M\omega\|^2`, :math:`\kappa` =
   ``weight_decay`` (default 1.0), :math:`M` the head's
   :meth:`~tabmfirl.RewardHead.decay_mask`: a Gaussian prior on the
   *mean-field weights* of a linear head (every weight of an MLP).  Why: the
   linear head has a mean-field coefficient per (state, action, state), seen
   along one noisy empirical flow only; unpenalised, a learned reward can
   extrapolate off that flow into an equilibrium far from the expert's
   (malware, T = 50, true labels: policy deviation 5-13 on two of four
   seeds; 0.05-0.06 on all four with :math:`\kappa = 1`, which also beat
   0.01-0.3; decaying the biases as well biased the action costs,
   ``docs/results.md``).  ``fit_reward`` has none (exact counts).  The flow
   :math:`\hat\mu` is data, not a function of :math:`\omega`, so no gradient
   flows through it.
5. **Posterior (encoder) update** - for the exact mode the encoder is the
   exact, tempered Bayes posterior (an EM E-step), not a neural network:

   .. math::

       \ell_{jm} = \sum_{t=0}^{T-1} \log \pi^m_t(a^j_t \mid s^j_t), \qquad
       q(m \mid \tau_j) \propto p(m)\, \exp(\lambda\, \ell_{jm}), \qquad
       p(m) = \frac{1}{N} \sum_j q_{jm},

   with :math:`\lambda` = ``mi_weight``.  :math:`\ell_{jm}` is the causal
   likelihood of the actions (the transition factors
   :math:`P(s^j_{t+1} \mid s^j_t, a^j_t, \hat\mu_t(\cdot\mid m))` are left out:
   they depend on the type only through the estimated flow, which would let
   the posterior cluster agents on where they are rather than on what they
   choose; types change rewards only).  For fixed rewards this posterior
   maximises :math:`\sum_j \big(\mathbb E_{q_j}[\lambda \ell_{jm} + \log p(m)]
   + H(q_j)\big)`; :math:`\lambda = 1` is EM's E-step, the exact posterior of
   the mixture, for which the variational bound
   :math:`I(m;\tau) \ge H(m) + \mathbb E \log q(m\mid\tau)` (Barber & Agakov
   2003) is tight; :math:`\lambda > 1` sharpens it.  **This is the exact
   mode's stand-in for the mutual-information term** (design notes, step 5):
   it is what separates the types.  ``mi_weight=0`` is the ablation: the
   posterior stays the uniform prior, every type sees the same pooled data,
   and with the zero-initialised linear head all types learn the same reward
   (the MFIRL solution).  No signal from :math:`I(m;\tau)` is passed to the
   reward here (its exact expectation over trajectories is intractable; the
   ``adversarial`` mode, :mod:`tabmfirl.irl._airl`, passes a sampled one).

Initialisation (ours): EM needs asymmetric starting posteriors, and its
result depends on them.  ``init="screened"`` (default) runs a short fit
(``n_warmup`` + 50 iterations, :data:`SCREEN_ITERATIONS`) from each of the
starts :data:`SCREENED_STARTS` (``"mixture"``, ``"kmeans"`` and two
``"random"``, each with its own seed drawn from ``seed``) and starts from the
posterior of the one whose demonstrations' marginal log-likelihood is
highest: EM with restarts, the usual remedy for its local optima
(investment, T = 50, additive head: the mixture start alone ends at ARI
0.57 and 0.44 on two of four seeds, where the k-means and random starts
reach 0.96-0.97 with a higher likelihood; the screened start gives 0.96 on
both; Bayes reference 0.97; ``docs/results.md``).  It costs about
``4 * (n_warmup + 50)`` extra iterations.  The single starts:
``init="mixture"`` clusters the trajectories by a cheap behavioural model,
a mixture of :math:`K` stationary policies :math:`p(\tau \mid c) = \prod_t
\pi_c(a_t \mid s_t)` fitted by EM (ten seeded restarts from Dirichlet
responsibilities, the best marginal likelihood wins, add-one-half smoothing
of the action counts); ``init="kmeans"`` clusters them by k-means++ (seeded)
on their state-action frequency vectors :math:`\frac1T\sum_t e_{(s^j_t,
a^j_t)}`.  Either way :math:`q^{(0)}_{jm} = (1-\varepsilon)\mathbb 1[m = c_j]
+ \varepsilon/K` with :math:`c_j` the cluster of trajectory :math:`j` and
:math:`\varepsilon` = ``init_smoothing``; ``init="random"`` draws
:math:`q^{(0)}_j \sim \mathrm{Dirichlet}(1)`.  The posterior is held at
:math:`q^{(0)}` for the first ``n_warmup`` iterations (reward steps only), so
the E-step starts from rewards that already reflect the initial split.

MFIRL baseline (:func:`fit_mfirl`): one shared reward (:math:`K = 1`), the
pooled empirical flow :math:`\hat\mu_t(s) = \frac1N\sum_j \mathbb 1[s^j_t =
s]`, the same exact MCE objective and update (Chen et al. 2022, with the
exact backward pass in place of their sampler).  Oracle baseline
(:func:`fit_oracle`): the same loop with the posterior fixed at the true
labels.

Everything is deterministic given ``seed`` (k-means++, Dirichlet draws and
the MLP initialisation use ``numpy.random.default_rng(seed)``).
"""
from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..kernels._backend import resolve_backend
from ..solvers._equilibrium import ConvergenceWarning
from ._heads import RewardHead
from ..solvers._model import EvaluatedModel, evaluate_model
from ._nn import Adam, logsumexp
from ..solvers._soft_bellman import BackwardResult, _check_temperature, soft_bellman_backward
from ..game._spec import MFGSpec

__all__ = ["IRLResult", "fit_pemmfirl", "fit_mfirl", "fit_oracle", "fit_reward",
           "predict_types", "held_out_log_likelihood", "mce_log_likelihood",
           "trajectory_log_likelihood", "weighted_statistics"]

_MIN_WEIGHT = 1e-12


# ---------------------------------------------------------------------------
# Pure functions.
# ---------------------------------------------------------------------------


def weighted_statistics(states, actions, posterior, n_states: int, n_actions: int):
    r"""Posterior-weighted counts and empirical flows of each type (step 1).

    Parameters
    ----------
    states : ndarray of int, shape (N, T+1)
    actions : ndarray of int, shape (N, T)
    posterior : ndarray, shape (N, K)
        :math:`q_{jm} \ge 0` (rows need not sum to 1).
    n_states, n_actions : int

    Returns
    -------
    counts : ndarray, shape (K, T, S, A)
        :math:`C^m_t(s, a)`.
    totals : ndarray, shape (K,)
        :math:`W_m`.
    mean_field : ndarray, shape (K, T+1, S)
        :math:`\hat\mu_t(s \mid m)` (the pooled flow for a type of weight
        below ``1e-12 N``).
    state_action : ndarray, shape (K, T, S, A)
        :math:`\hat L_t(s, a \mid m) = C^m_t(s, a) / W_m` (pooled likewise).

    Examples
    --------
    >>> states = np.array([[0, 1], [1, 1]]); actions = np.array([[1], [0]])
    >>> counts, totals, mf, _ = weighted_statistics(states, actions,
    ...                                             np.array([[1.0], [1.0]]), 2, 2)
    >>> counts[0, 0], totals, mf[0]
    (array([[0., 1.],
           [1., 0.]]), array([2.]), array([[0.5, 0.5],
           [0. , 1. ]]))
    """
    N, T = actions.shape
    S, A = n_states, n_actions
    q = np.asarray(posterior, dtype=np.float64)
    K = q.shape[1]
    sa = states[:, :T] * A + actions                                   # (N, T)
    onehot_sa = np.zeros((N, T, S * A))
    np.put_along_axis(onehot_sa, sa[..., None], 1.0, axis=-1)
    onehot_s = np.zeros((N, T + 1, S))
    np.put_along_axis(onehot_s, states[..., None], 1.0, axis=-1)
    counts = np.einsum("nm,ntx->mtx", q, onehot_sa).reshape(K, T, S, A)
    state_counts = np.einsum("nm,nts->mts", q, onehot_s)
    totals = q.sum(axis=0)
    pooled_s = onehot_s.mean(axis=0)
    pooled_sa = onehot_sa.mean(axis=0).reshape(T, S, A)
    small = totals < _MIN_WEIGHT * N
    safe = np.where(small, 1.0, totals)
    mean_field = state_counts / safe[:, None, None]
    state_action = counts / safe[:, None, None, None]
    mean_field[small] = pooled_s
    state_action[small] = pooled_sa
    # exact normalisation (the kernels check rows to 1e-8)
    mean_field /= mean_field.sum(axis=-1, keepdims=True)
    state_action /= state_action.sum(axis=(-2, -1), keepdims=True)
    return counts, totals, mean_field, state_action


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
    from ..kernels._reference import propagate

    temperature = _check_temperature(temperature, allow_zero=False)
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
    temperature = _check_temperature(temperature, allow_zero=False)
    N, T = actions.shape
    t = np.arange(T)[None, :]
    s = states[:, :T]
    log_pi = (backward.q - backward.value[:, :T, :, None]) / temperature   # (K, T, S, A)
    return log_pi[:, t, s, actions].sum(axis=-1).T                          # (N, K)


# ---------------------------------------------------------------------------
# Result.
# ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class IRLResult:
    r"""Result of :func:`fit_pemmfirl`, :func:`fit_mfirl`, :func:`fit_oracle` or :func:`fit_reward`.

    Attributes
    ----------
    method : str
        ``"pemmfirl-exact"``, ``"mfirl"``, ``"oracle"`` or ``"reward"``.
    head : RewardHead
        The learned reward head (a copy; discrete, ``n_contexts = K``).
    reward_params : ndarray, shape (n_params,)
        ``head.get_flat()``.
    posterior : ndarray, shape (N, K) or None
        Final :math:`q(m \mid \tau_j)` (``None`` for :func:`fit_reward`).
    assignments : ndarray of int, shape (N,) or None
        :math:`\arg\max_m q(m\mid\tau_j)`.
    prior : ndarray, shape (K,)
        :math:`p(m)` (type shares :math:`W_m/N`).
    mean_field : ndarray, shape (K, T+1, S)
        :math:`\hat\mu(\cdot\mid m)` at the final posterior.
    state_action : ndarray, shape (K, T, S, A)
        :math:`\hat L(\cdot\mid m)`.
    reward, policy : ndarray, shape (K, T, S, A)
        Reward table of the returned head at the returned :math:`\hat\mu`
        and its soft-optimal policy with the flow frozen there.
    objective_history : ndarray, shape (num_iter,)
        :math:`\ell` of step 4 per trajectory (posterior-weighted causal
        log-likelihood), at each iterate, with that iterate's posterior.
    log_likelihood_history : ndarray, shape (num_iter,)
        Marginal causal log-likelihood per trajectory,
        :math:`\frac1N\sum_j \log\sum_m p(m) e^{\ell_{jm}}` (PEMMFIRL, MFIRL;
        equal to ``objective_history`` for :math:`K = 1`), or the objective
        (:func:`fit_reward`).
    grad_norm_history : ndarray, shape (num_iter,)
        Euclidean norm of :math:`\nabla_\omega \ell`.
    converged : bool
        Final gradient norm below ``tol`` (and, with a posterior, its last
        change below ``tol``).
    num_iter : int
    temperature : float
    seconds : float
    """

    method: str
    head: RewardHead
    reward_params: np.ndarray
    posterior: Optional[np.ndarray]
    assignments: Optional[np.ndarray]
    prior: np.ndarray
    mean_field: np.ndarray
    state_action: np.ndarray
    reward: np.ndarray
    policy: np.ndarray
    objective_history: np.ndarray
    log_likelihood_history: np.ndarray
    grad_norm_history: np.ndarray
    converged: bool
    num_iter: int
    temperature: float
    seconds: float


# ---------------------------------------------------------------------------
# Helpers.
# ---------------------------------------------------------------------------


def _check_positive_int(value, name, minimum=1):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) \
            or value < minimum:
        kind = "a positive" if minimum == 1 else "a non-negative"
        raise ValueError(f"{name} must be {kind} integer, got {value!r}")
    return int(value)


def _check_fraction(value, name):
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must lie in [0, 1], got {value}")
    return value


def _check_positive_float(value, name, allow_zero=False):
    value = float(value)
    if not np.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name} must be finite and {'>= 0' if allow_zero else '> 0'}, "
                         f"got {value}")
    return value


def _learner_spec(spec: MFGSpec, n_contexts: int) -> MFGSpec:
    """The dynamics of ``spec`` with ``n_contexts`` zero-reward types."""
    if not isinstance(spec, MFGSpec):
        raise ValueError(f"spec must be an MFGSpec, got {type(spec).__name__}")
    if spec.context_coupling is not None:
        raise ValueError("games with a context_coupling are not supported by the IRL fits "
                         "(types would observe each other's flows)")
    return spec.replace(reward=np.zeros((n_contexts, spec.n_states, spec.n_actions)),
                        n_contexts=n_contexts)


def _trajectories(spec: MFGSpec, demos):
    states = np.asarray(demos.states)
    actions = np.asarray(demos.actions)
    if actions.ndim != 2 or states.shape != (actions.shape[0], actions.shape[1] + 1):
        raise ValueError(f"demos must have states (N, T+1) and actions (N, T), got "
                         f"{states.shape} and {actions.shape}")
    if actions.shape[1] != spec.horizon:
        raise ValueError(f"demos have horizon {actions.shape[1]}, the game {spec.horizon}")
    for name, x, bound in (("states", states, spec.n_states),
                           ("actions", actions, spec.n_actions)):
        if not np.issubdtype(x.dtype, np.integer) or x.min() < 0 or x.max() >= bound:
            raise ValueError(f"demos.{name} must be ints in [0, {bound})")
    return states.astype(np.int64), actions.astype(np.int64)


def _observed(spec: MFGSpec, mean_field, state_action):
    """What the reward head reads: ``(K, T, D)``."""
    K, T = state_action.shape[:2]
    if spec.mean_field_kind == "state_action":
        return state_action.reshape(K, T, -1)
    return mean_field[:, :T]


def _make_head(spec, n_contexts, reward_kind, hidden_sizes, rng):
    return RewardHead(spec.n_states, spec.n_actions, spec.mean_field_dim,
                      n_contexts=n_contexts, kind=reward_kind, hidden_sizes=hidden_sizes,
                      seed=rng)


def _copy_head(head: RewardHead) -> RewardHead:
    kwargs = {}
    if head.kind == "mlp":
        kwargs = {"hidden_sizes": head.hidden_sizes, "activation": head.mlp.activation}
    copy = RewardHead(head.n_states, head.n_actions, head.mean_field_dim,
                      n_contexts=head.n_contexts, kind=head.kind, **kwargs)
    copy.set_flat(head.get_flat())
    return copy


def _kmeans_labels(features, k, rng, n_iter=50):
    """k-means++ seeding then Lloyd iterations; labels of shape (N,)."""
    N = features.shape[0]
    centres = [features[rng.integers(N)]]
    for _ in range(1, k):
        d2 = np.min([np.sum((features - c) ** 2, axis=1) for c in centres], axis=0)
        total = d2.sum()
        p = d2 / total if total > 0 else np.full(N, 1.0 / N)
        centres.append(features[rng.choice(N, p=p)])
    centres = np.array(centres)
    labels = np.zeros(N, dtype=np.int64)
    for _ in range(n_iter):
        d2 = ((features[:, None, :] - centres[None]) ** 2).sum(axis=-1)
        new = d2.argmin(axis=1)
        for m in range(k):
            if np.any(new == m):
                centres[m] = features[new == m].mean(axis=0)
        if np.array_equal(new, labels):
            break
        labels = new
    return labels


def _policy_mixture_labels(counts, K, rng, n_restarts=10, n_iter=200, pseudo_count=0.5):
    """Hard labels of the best of ``n_restarts`` EM fits of a mixture of K stationary policies.

    ``counts[j, s, a]`` are trajectory j's state-action counts.  The model:
    type ``m`` with weight ``w_m`` acts with ``pi_m(a|s)`` at every step, so
    ``log p(tau_j | m) = sum_{s,a} counts[j, s, a] log pi_m(a|s)``; the M-step
    is ``pi_m(a|s) ∝ sum_j r_jm counts[j, s, a] + pseudo_count``.  Each restart
    starts from Dirichlet(1) responsibilities; the one with the highest
    marginal log-likelihood wins.
    """
    N, S, A = counts.shape
    flat = counts.reshape(N, S * A)
    best_ll, best_labels = -np.inf, None
    for _ in range(n_restarts):
        resp = rng.dirichlet(np.ones(K), size=N)
        previous = -np.inf
        for _ in range(n_iter):
            weights = resp.mean(axis=0)
            action_counts = np.einsum("jm,jsa->msa", resp, counts) + pseudo_count
            log_policy = np.log(action_counts / action_counts.sum(axis=2, keepdims=True))
            with np.errstate(divide="ignore"):
                joint = np.log(weights)[None, :] + flat @ log_policy.reshape(K, S * A).T
            norm = logsumexp(joint, axis=1, keepdims=True)
            resp = np.exp(joint - norm)
            ll = float(norm.sum())
            if ll - previous < 1e-10 * abs(ll):
                break
            previous = ll
        if ll > best_ll:
            best_ll, best_labels = ll, resp.argmax(axis=1)
    return best_labels


def _initial_posterior(states, actions, K, S, A, init, smoothing, rng):
    N, T = actions.shape
    if K == 1:
        return np.ones((N, 1))
    if init not in INITIALISATIONS[1:]:
        raise ValueError(f"init must be one of {INITIALISATIONS}, got {init!r}")
    if init == "random":
        return rng.dirichlet(np.ones(K), size=N)
    counts = np.zeros((N, S, A))
    np.add.at(counts, (np.repeat(np.arange(N), T), states[:, :T].ravel(), actions.ravel()),
              1.0)
    if init == "mixture":
        labels = _policy_mixture_labels(counts, K, rng)
    else:
        labels = _kmeans_labels(counts.reshape(N, S * A) / T, K, rng)
    return (1.0 - smoothing) * np.eye(K)[labels] + smoothing / K


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
    return float(max(_entropy(q.mean(axis=0)) - _entropy(q).mean(), 0.0))


def _entropy(p):
    """Entropy (nats) along the last axis, with 0 log 0 = 0."""
    return -np.sum(p * np.log(np.where(p > 0, p, 1.0)), axis=-1)


#: Initial posteriors of the EM loop (module docstring).
INITIALISATIONS = ("screened", "mixture", "kmeans", "random")
#: Starts tried by ``init="screened"``, and the iterations each runs past its warm-up.
SCREENED_STARTS = ("mixture", "kmeans", "random", "random")
SCREEN_ITERATIONS = 50


def _screened_posterior(method, spec, demos, K, rng, options):
    """Posterior of the best short fit from :data:`SCREENED_STARTS` (module docstring).

    Each start runs ``n_warmup + SCREEN_ITERATIONS`` iterations of the same
    fit (own seed drawn from ``rng``); the one with the highest marginal
    log-likelihood of the demonstrations wins (ties: the earlier start).
    """
    best_ll, best = -np.inf, None
    for start in SCREENED_STARTS:
        seed = int(rng.integers(2 ** 32))
        fit = _fit(method, spec, demos, K, init=start, seed=seed, warn=False,
                   n_iter=options["n_warmup"] + SCREEN_ITERATIONS, **options)
        if fit.log_likelihood_history[-1] > best_ll:
            best_ll, best = fit.log_likelihood_history[-1], fit.posterior
    return best


def _e_step(log_lik, prior, mi_weight):
    """Tempered posterior ``q ∝ p(m) exp(mi_weight * ell)`` and the marginal LL."""
    with np.errstate(divide="ignore"):
        log_prior = np.log(prior)
    joint = log_prior[None, :] + mi_weight * log_lik
    log_q = joint - logsumexp(joint, axis=1, keepdims=True)
    marginal = float(np.mean(logsumexp(log_prior[None, :] + log_lik, axis=1)))
    return np.exp(log_q), marginal


def _reward_step(dyn_spec, head, model, mean_field, state_action, counts, temperature,
                 n_total, backend):
    """Steps 2-4: reward table, backward pass, objective and parameter gradient."""
    observed = _observed(dyn_spec, mean_field, state_action)
    reward = head.reward_tables(observed)
    model_r = model.with_reward(reward)
    value, grad_table, backward = mce_log_likelihood(model_r, counts, temperature,
                                                     backend=backend)
    grad = head.reward_tables_vjp(observed, grad_table / n_total)
    return value / n_total, grad, reward, backward


def _warn(method, grad_norm, tol, n_iter):
    warnings.warn(
        f"{method} did not converge: gradient norm {grad_norm:.3e} > tol={tol:.1e} after "
        f"n_iter={n_iter} iterations; increase `n_iter` or `learning_rate`",
        ConvergenceWarning, stacklevel=3)


# ---------------------------------------------------------------------------
# Fits.
# ---------------------------------------------------------------------------


def fit_reward(spec: MFGSpec, counts, mean_field, *, state_action=None,
               reward_kind: str = "linear", hidden_sizes=(32, 32), temperature: float = 1.0,
               n_iter: int = 500, learning_rate: float = 0.05, tol: float = 1e-6,
               seed: int = 0, backend: str = "auto", warn: bool = True) -> IRLResult:
    r"""Exact MCE reward fit on fixed, labelled sufficient statistics.

    The reward update of PEMMFIRL (step 4 of the module docstring) with the
    type weights held fixed: given per-type counts :math:`C^m_t(s, a)` (e.g.
    the exact expected counts :math:`N_m L^E_t(s, a \mid m)` of an expert
    equilibrium, or the empirical counts of labelled demonstrations, which
    makes it the oracle baseline) and the flow :math:`\hat\mu` at which the
    dynamics and the reward are read.

    Parameters
    ----------
    spec : MFGSpec
        Dynamics and :math:`\mu_0` (the reward is ignored).
    counts : ndarray, shape (K, T, S, A)
        Non-negative; :math:`W_m = \sum_{s,a} C^m_0(s,a)`.
    mean_field : ndarray, shape (K, T+1, S)
    state_action : ndarray, shape (K, T, S, A), optional
        Default ``counts / W_m``.
    reward_kind : {"linear", "additive", "mlp"}
    hidden_sizes : tuple of int
        MLP head only.
    temperature : float, default 1.0
    n_iter : int, default 500
    learning_rate : float, default 0.05
        Adam step size.
    tol : float, default 1e-6
        Convergence threshold on the gradient norm.
    seed : int, default 0
        MLP initialisation.
    backend : {"auto", "numpy", "numba", "cuda"}
    warn : bool, default True
        Warn (:class:`~tabmfirl.ConvergenceWarning`) when not converged.

    Returns
    -------
    IRLResult
    """
    start = time.perf_counter()
    backend = resolve_backend(backend)
    temperature = _check_temperature(temperature, allow_zero=False)
    n_iter = _check_positive_int(n_iter, "n_iter")
    learning_rate = _check_positive_float(learning_rate, "learning_rate")
    counts = np.ascontiguousarray(counts, dtype=np.float64)
    if counts.ndim != 4 or counts.shape[1:] != (spec.horizon, spec.n_states, spec.n_actions):
        raise ValueError(f"counts must have shape (K, {spec.horizon}, {spec.n_states}, "
                         f"{spec.n_actions}), got {counts.shape}")
    if np.any(counts < 0) or not np.all(np.isfinite(counts)):
        raise ValueError("counts must be finite and non-negative")
    K = counts.shape[0]
    totals = counts[:, 0].sum(axis=(-2, -1))
    if np.any(totals <= 0):
        raise ValueError("every type needs positive counts")
    if state_action is None:
        state_action = counts / totals[:, None, None, None]
    dyn_spec = _learner_spec(spec, K)
    model = evaluate_model(dyn_spec, mean_field,
                           state_action if spec.mean_field_kind == "state_action" else None,
                           backend=backend)
    mean_field = np.asarray(mean_field, dtype=np.float64)
    state_action = np.asarray(state_action, dtype=np.float64)
    rng = np.random.default_rng(seed)
    head = _make_head(spec, K, reward_kind, hidden_sizes, rng)
    params = head.get_flat()
    optimiser = Adam(lr=learning_rate)
    n_total = float(totals.sum())
    objectives, log_liks, grad_norms = [], [], []
    for _ in range(n_iter):
        head.set_flat(params)
        value, grad, reward, backward = _reward_step(dyn_spec, head, model, mean_field,
                                                     state_action, counts, temperature,
                                                     n_total, backend)
        objectives.append(value)
        log_liks.append(value)
        grad_norms.append(float(np.linalg.norm(grad)))
        if grad_norms[-1] < tol:
            break
        optimiser.step(params, -grad)
    converged = grad_norms[-1] < tol
    if not converged and warn:
        _warn("fit_reward", grad_norms[-1], tol, n_iter)
    # tables of the returned parameters
    head.set_flat(params)
    _, _, reward, backward = _reward_step(dyn_spec, head, model, mean_field, state_action,
                                          counts, temperature, n_total, backend)
    return IRLResult(
        method="reward", head=_copy_head(head), reward_params=head.get_flat(),
        posterior=None, assignments=None, prior=totals / n_total, mean_field=mean_field,
        state_action=state_action, reward=reward, policy=backward.policy,
        objective_history=np.array(objectives), log_likelihood_history=np.array(log_liks),
        grad_norm_history=np.array(grad_norms), converged=converged, num_iter=len(objectives),
        temperature=temperature, seconds=time.perf_counter() - start)


def _checkpoint_config(method, spec, states, actions, K, mi_weight, reward_kind, hidden_sizes,
                       temperature, learning_rate, init, smoothing, n_warmup, tol, seed,
                       fixed_posterior, weight_decay):
    """Everything that changes the iterates of :func:`_fit`, except ``n_iter`` (JSON)."""
    from ._checkpoint import array_digest

    return {"method": method, "game": spec.name, "n_states": spec.n_states,
            "n_actions": spec.n_actions, "horizon": spec.horizon,
            "mean_field_kind": spec.mean_field_kind,
            "dynamics_digest": array_digest(spec.mu0, spec.params),
            "data_digest": array_digest(states, actions), "n_contexts": K,
            "mi_weight": mi_weight, "reward_kind": reward_kind,
            "hidden_sizes": [int(h) for h in hidden_sizes] if reward_kind == "mlp" else None,
            "temperature": temperature, "learning_rate": learning_rate, "init": init,
            "init_smoothing": smoothing, "n_warmup": int(n_warmup), "tol": float(tol),
            "seed": int(seed) if isinstance(seed, (int, np.integer)) else repr(seed),
            "fixed_posterior_digest": None if fixed_posterior is None
            else array_digest(fixed_posterior), "weight_decay": weight_decay}


def _decay(value, grad, params, mask, weight_decay):
    """Objective and gradient with the prior ``-weight_decay/2 |mask * params|^2`` added."""
    if weight_decay == 0.0:
        return value, grad
    decayed = mask * params
    return (value - 0.5 * weight_decay * float(decayed @ params),
            grad - weight_decay * decayed)


def _fit(method, spec, demos, n_contexts, *, mi_weight, reward_kind, hidden_sizes,
         temperature, n_iter, learning_rate, init, init_smoothing, n_warmup, tol, seed,
         backend, warn, fixed_posterior=None, checkpoint=None, checkpoint_every=10,
         callback=None, weight_decay=0.0):
    start = time.perf_counter()
    backend = resolve_backend(backend)
    temperature = _check_temperature(temperature, allow_zero=False)
    K = _check_positive_int(n_contexts, "n_contexts")
    n_iter = _check_positive_int(n_iter, "n_iter")
    learning_rate = _check_positive_float(learning_rate, "learning_rate")
    mi_weight = _check_positive_float(mi_weight, "mi_weight", allow_zero=True)
    smoothing = _check_fraction(init_smoothing, "init_smoothing")
    n_warmup = _check_positive_int(n_warmup, "n_warmup", minimum=0)
    weight_decay = _check_positive_float(weight_decay, "weight_decay", allow_zero=True)
    states, actions = _trajectories(spec, demos)
    N = states.shape[0]
    S, A = spec.n_states, spec.n_actions
    rng = np.random.default_rng(seed)
    dyn_spec = _learner_spec(spec, K)
    if fixed_posterior is not None:
        mi_weight = 0.0
    state = None
    if checkpoint is not None:
        from . import _checkpoint as ckpt

        checkpoint_every = _check_positive_int(checkpoint_every, "checkpoint_every")
        config = _checkpoint_config(method, spec, states, actions, K, mi_weight, reward_kind,
                                    hidden_sizes, temperature, learning_rate, init, smoothing,
                                    n_warmup, tol, seed, fixed_posterior, weight_decay)
        state = ckpt.load_checkpoint(checkpoint, config)
    if state is not None:               # resuming: the (screened) start is in the checkpoint
        posterior = state["posterior"]
    elif fixed_posterior is not None:
        posterior = fixed_posterior
    elif mi_weight == 0.0 or K == 1:
        posterior = np.full((N, K), 1.0 / K)
    elif init == "screened":
        screen = {"mi_weight": mi_weight, "reward_kind": reward_kind,
                  "hidden_sizes": hidden_sizes, "temperature": temperature,
                  "learning_rate": learning_rate, "init_smoothing": smoothing,
                  "n_warmup": n_warmup, "tol": tol, "backend": backend,
                  "weight_decay": weight_decay}
        posterior = _screened_posterior(method, spec, demos, K, rng, screen)
    else:
        posterior = _initial_posterior(states, actions, K, S, A, init, smoothing, rng)
    head = _make_head(spec, K, reward_kind, hidden_sizes, rng)
    params = head.get_flat()
    decay_mask = head.decay_mask()
    optimiser = Adam(lr=learning_rate)
    state_action_game = spec.mean_field_kind == "state_action"
    objectives, log_liks, grad_norms = [], [], []
    change = np.inf
    start_iter, stopped, saver = 0, False, None
    if state is not None:
        if state["params"].shape != params.shape or posterior.shape != (N, K):
            raise ValueError(f"checkpoint {str(checkpoint)!r} has arrays of the wrong shape")
        params[...] = state["params"]
        ckpt.restore_optimizer(optimiser, state)
        objectives = list(state["objective_history"])
        log_liks = list(state["log_likelihood_history"])
        grad_norms = list(state["grad_norm_history"])
        scalars = state["scalars"]
        start_iter, stopped = int(scalars["iteration"]), bool(scalars["stopped"])
        change = float(scalars["change"])
        if state["rng_state"] is not None:
            rng.bit_generator.state = state["rng_state"]
    if checkpoint is not None:

        def saver(iteration, stopped):
            ckpt.save_checkpoint(
                checkpoint,
                {"params": params, "posterior": posterior,
                 "prior": posterior.sum(axis=0) / N,
                 "objective_history": np.array(objectives, dtype=np.float64),
                 "log_likelihood_history": np.array(log_liks, dtype=np.float64),
                 "grad_norm_history": np.array(grad_norms, dtype=np.float64),
                 **ckpt.optimizer_state(optimiser)},
                config=config, scalars={"iteration": iteration, "stopped": stopped,
                                        "change": change}, rng=rng)

    for iteration in range(start_iter, n_iter if not stopped else start_iter):
        head.set_flat(params)
        counts, totals, mean_field, state_action = weighted_statistics(
            states, actions, posterior, S, A)
        model = evaluate_model(dyn_spec, mean_field, state_action if state_action_game else None,
                               backend=backend)
        value, grad, reward, backward = _reward_step(dyn_spec, head, model, mean_field,
                                                     state_action, counts, temperature,
                                                     float(N), backend)
        value, grad = _decay(value, grad, params, decay_mask, weight_decay)
        log_lik = trajectory_log_likelihood(backward, states, actions, temperature)
        prior = totals / N
        new_posterior, marginal = _e_step(log_lik, prior, mi_weight)
        objectives.append(value)
        log_liks.append(marginal)
        grad_norms.append(float(np.linalg.norm(grad)))
        if mi_weight > 0.0 and K > 1 and iteration >= n_warmup:
            change = float(np.max(np.abs(new_posterior - posterior)))
            posterior = new_posterior
        elif mi_weight == 0.0 or K == 1:
            change = 0.0
        if callback is not None:
            callback(iteration, {"objective": value, "log_likelihood": marginal,
                                 "grad_norm": grad_norms[-1], "posterior": posterior,
                                 "mi": posterior_information(posterior)})
        if grad_norms[-1] < tol and change < tol:
            if saver is not None:
                saver(iteration + 1, True)
            break
        optimiser.step(params, -grad)
        if saver is not None and ((iteration + 1) % checkpoint_every == 0
                                  or iteration + 1 == n_iter):
            saver(iteration + 1, False)
    converged = grad_norms[-1] < tol and change < tol
    if not converged and warn:
        _warn(method, grad_norms[-1], tol, n_iter)
    # statistics of the returned posterior, tables of the returned parameters
    head.set_flat(params)
    counts, totals, mean_field, state_action = weighted_statistics(states, actions, posterior,
                                                                   S, A)
    model = evaluate_model(dyn_spec, mean_field, state_action if state_action_game else None,
                           backend=backend)
    _, _, reward, backward = _reward_step(dyn_spec, head, model, mean_field, state_action,
                                          counts, temperature, float(N), backend)
    return IRLResult(
        method=method, head=_copy_head(head), reward_params=head.get_flat(),
        posterior=posterior, assignments=posterior.argmax(axis=1).astype(np.int64),
        prior=totals / N, mean_field=mean_field, state_action=state_action, reward=reward,
        policy=backward.policy, objective_history=np.array(objectives),
        log_likelihood_history=np.array(log_liks), grad_norm_history=np.array(grad_norms),
        converged=converged, num_iter=len(objectives), temperature=temperature,
        seconds=time.perf_counter() - start)


def fit_pemmfirl(spec: MFGSpec, demos, n_contexts: int, *, reward_kind: str = "linear",
                 hidden_sizes=(32, 32), temperature: float = 1.0, n_iter: int = 300,
                 learning_rate: float = 0.02, mi_weight: float = 1.0, init: str = "screened",
                 init_smoothing: float = 0.2, n_warmup: int = 50,
                 weight_decay: float = 1.0, tol: float = 1e-6,
                 seed: int = 0, backend: str = "auto", warn: bool = True,
                 checkpoint=None, checkpoint_every: int = 10, callback=None) -> IRLResult:
    r"""PEMMFIRL with the ``exact`` reward update and :math:`K` discrete types.

    See the module docstring for the iteration (weighted statistics, model at
    the empirical flow, exact backward pass, MCE reward step, tempered Bayes
    posterior).

    Parameters
    ----------
    spec : MFGSpec
        The game's dynamics and :math:`\mu_0`; its reward and number of types
        are ignored.
    demos : Demonstrations
        Anything with ``states (N, T+1)`` and ``actions (N, T)``; ``types``
        is never read.
    n_contexts : int
        :math:`K`, number of types to learn.
    reward_kind : {"linear", "additive", "mlp"}
        :class:`~tabmfirl.RewardHead` kind (linear and additive heads start
        at 0; ``"additive"``: types differ in state utilities and action
        costs, ``docs/heads.md``).
    hidden_sizes : tuple of int
        MLP head only.
    temperature : float, default 1.0
        :math:`\beta`, the experts' temperature.
    n_iter : int, default 300
        Iterations (one reward step and one posterior update each).
    learning_rate : float, default 0.02
        Adam step size of the reward head.
    mi_weight : float, default 1.0
        :math:`\lambda \ge 0` of the posterior update; 0 is the ablation
        (uniform posterior, no type separation).
    init : {"screened", "mixture", "kmeans", "random"}
        Initial posterior (module docstring); ``"screened"`` tries the
        others in short fits and keeps the most likely.
    init_smoothing : float, default 0.2
        :math:`\varepsilon` of the ``mixture`` and ``kmeans`` initialisations.
    n_warmup : int, default 50
        Iterations with the posterior held at its initial value.
    weight_decay : float, default 1.0
        :math:`\kappa \ge 0`: the reward step maximises the mean causal
        log-likelihood minus :math:`\frac\kappa2\|M\omega\|^2`, with
        :math:`M` the head's :meth:`~tabmfirl.RewardHead.decay_mask` (the
        mean-field weights of a linear head; module docstring of
        :mod:`tabmfirl.irl._irl`).
    tol : float, default 1e-6
        Converged when the gradient norm and the last posterior change are
        both below ``tol``.
    seed : int, default 0
    backend : {"auto", "numpy", "numba", "cuda"}
    warn : bool, default True
        Warn (:class:`~tabmfirl.ConvergenceWarning`) when not converged.
    checkpoint : str or os.PathLike, optional
        Path of a resumable checkpoint (``.npz``, written atomically, no
        pickle; :mod:`tabmfirl.irl._checkpoint`).  It holds the complete loop
        state (head parameters, Adam moments, posterior, prior, histories,
        iteration counter, the generator's state) and the run's
        configuration (every argument above except ``n_iter``, ``backend``
        and ``warn``, with digests of the game and of the trajectories).  If
        the file exists, the fit resumes from it, and the result is
        bit-identical to an uninterrupted run with the same backend; a
        checkpoint of a different configuration raises ``ValueError``.  A
        checkpoint that already holds ``n_iter`` or more iterations (or a
        converged run) is returned as it is.
    checkpoint_every : int, default 10
        Write the checkpoint every this many iterations, and after the last.
    callback : callable, optional
        ``callback(iteration, info)`` after each iteration's statistics, with
        ``info`` a dict of ``objective``, ``log_likelihood``, ``grad_norm``
        (of that iterate), ``posterior`` (after the update; do not modify)
        and ``mi`` (:func:`posterior_information` of it, nats).

    Returns
    -------
    IRLResult
    """
    return _fit("pemmfirl-exact", spec, demos, n_contexts, mi_weight=mi_weight,
                reward_kind=reward_kind, hidden_sizes=hidden_sizes, temperature=temperature,
                n_iter=n_iter, learning_rate=learning_rate, init=init,
                init_smoothing=init_smoothing, n_warmup=n_warmup, tol=tol, seed=seed,
                backend=backend, warn=warn, checkpoint=checkpoint,
                checkpoint_every=checkpoint_every, callback=callback,
                weight_decay=weight_decay)


def fit_mfirl(spec: MFGSpec, demos, *, reward_kind: str = "linear", hidden_sizes=(32, 32),
              temperature: float = 1.0, n_iter: int = 300, learning_rate: float = 0.02,
              weight_decay: float = 1.0, tol: float = 1e-6, seed: int = 0, backend: str = "auto",
              warn: bool = True, checkpoint=None, checkpoint_every: int = 10,
              callback=None) -> IRLResult:
    r"""MFIRL baseline: one shared reward fitted on the pooled empirical flow.

    The same exact MCE update as :func:`fit_pemmfirl` with :math:`K = 1` and
    every trajectory of weight 1 (module docstring).  Parameters as in
    :func:`fit_pemmfirl`.

    Returns
    -------
    IRLResult
        With ``K = 1``: ``posterior`` is all ones.
    """
    return _fit("mfirl", spec, demos, 1, mi_weight=0.0, reward_kind=reward_kind,
                hidden_sizes=hidden_sizes, temperature=temperature, n_iter=n_iter,
                learning_rate=learning_rate, init="kmeans", init_smoothing=0.0, n_warmup=0,
                tol=tol, seed=seed, backend=backend, warn=warn, checkpoint=checkpoint,
                checkpoint_every=checkpoint_every, callback=callback,
                weight_decay=weight_decay)


def fit_oracle(spec: MFGSpec, demos, *, reward_kind: str = "linear", hidden_sizes=(32, 32),
               temperature: float = 1.0, n_iter: int = 300, learning_rate: float = 0.02,
               weight_decay: float = 1.0, tol: float = 1e-6, seed: int = 0, backend: str = "auto",
               warn: bool = True, checkpoint=None, checkpoint_every: int = 10,
               callback=None) -> IRLResult:
    r"""Oracle baseline: the exact reward update given the true types.

    :func:`fit_pemmfirl`'s loop with the posterior fixed at the true labels,
    :math:`q_{jm} = \mathbb 1[m = m_j]` (``demos.types``), so each type is fitted
    on its own empirical flow and counts.  An upper reference for type
    inference, not a learner.  Parameters as in :func:`fit_pemmfirl`.

    Raises
    ------
    ValueError
        If a type has no trajectories.

    Returns
    -------
    IRLResult
        With ``K = demos.n_types``; ``assignments`` are the true types.
    """
    types = np.asarray(demos.types)
    K = int(demos.n_types)
    if types.shape != (np.shape(demos.actions)[0],) or types.min() < 0 or types.max() >= K:
        raise ValueError(f"demos.types must hold one type in [0, {K}) per trajectory")
    if np.any(np.bincount(types, minlength=K) == 0):
        raise ValueError("every type needs at least one trajectory")
    return _fit("oracle", spec, demos, K, mi_weight=0.0, reward_kind=reward_kind,
                hidden_sizes=hidden_sizes, temperature=temperature, n_iter=n_iter,
                learning_rate=learning_rate, init="kmeans", init_smoothing=0.0, n_warmup=0,
                tol=tol, seed=seed, backend=backend, warn=warn,
                fixed_posterior=np.eye(K)[types], checkpoint=checkpoint,
                checkpoint_every=checkpoint_every, callback=callback,
                weight_decay=weight_decay)


def _result_log_likelihood(spec: MFGSpec, result: IRLResult, demos, backend):
    r""":math:`\ell_{jm}` of ``demos`` under ``result``'s model, shape (N, K)."""
    if not isinstance(result, IRLResult):
        raise ValueError(f"result must be an IRLResult, got {type(result).__name__}")
    states, actions = _trajectories(spec, demos)
    K = result.prior.shape[0]
    dyn_spec = _learner_spec(spec, K)
    model = evaluate_model(dyn_spec, result.mean_field,
                           result.state_action if spec.mean_field_kind == "state_action"
                           else None, backend=backend)
    backward = soft_bellman_backward(model.with_reward(result.reward), result.temperature,
                                     backend=backend)
    return trajectory_log_likelihood(backward, states, actions, result.temperature)


def predict_types(spec: MFGSpec, result: IRLResult, demos, *, backend: str = "auto"):
    r"""Posterior :math:`q(m\mid\tau) \propto p(m)\exp(\ell_m(\tau))` of new trajectories.

    The exact-mode encoder applied to trajectories not used in the fit, under
    the fitted model: the learned reward tables and the dynamics both frozen
    at the training flows ``result.mean_field`` (new agents of the same
    population face the same mean field).

    Parameters
    ----------
    spec : MFGSpec
        The dynamics the fit used.
    result : IRLResult
        From :func:`fit_pemmfirl`, :func:`fit_mfirl` or :func:`fit_oracle`.
    demos : Demonstrations
        ``states (N, T+1)``, ``actions (N, T)``.
    backend : {"auto", "numpy", "numba", "cuda"}

    Returns
    -------
    ndarray, shape (N, K)
    """
    log_lik = _result_log_likelihood(spec, result, demos, resolve_backend(backend))
    return _e_step(log_lik, result.prior, 1.0)[0]


def held_out_log_likelihood(spec: MFGSpec, result: IRLResult, demos, *,
                            backend: str = "auto") -> float:
    r"""Marginal causal log-likelihood per trajectory of held-out demonstrations.

    .. math:: \frac{1}{N}\sum_j \log \sum_m p(m)\, \exp\Big(\sum_t
              \log\pi^m_t(a^j_t\mid s^j_t)\Big),

    with the fitted prior, rewards and flows (as in :func:`predict_types`).
    Compare fits with different ``n_contexts`` on the same held-out set to
    choose :math:`K` (higher is better).

    Parameters
    ----------
    spec, result, demos, backend
        As in :func:`predict_types`.

    Returns
    -------
    float
    """
    log_lik = _result_log_likelihood(spec, result, demos, resolve_backend(backend))
    return _e_step(log_lik, result.prior, 1.0)[1]
