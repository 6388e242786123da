r"""Exact-likelihood IRL with continuous Gaussian types (wake-sleep encoder).

The continuous option of the design notes (section 3, step 6): instead of
:math:`K` discrete types, each agent has a latent type :math:`z \in \mathbb
R^d` with prior :math:`p(z) = \mathcal N(0, I)`.  Inputs and outputs are
those of :mod:`tabmfirl.irl._em` (unlabelled trajectories :math:`\tau_j`,
:math:`j = 1..N`, the game's dynamics and :math:`\mu_0`; temperature
:math:`\beta > 0`).  The model has two learnable parts:

* an **encoder** :math:`q_\psi(z \mid \tau) = \mathcal N\big(\nu_\psi(\tau),
  \mathrm{diag}\, \sigma_\psi(\tau)^2\big)`, the Gaussian
  :class:`~tabmfirl.ContextEncoder` (mean-pooled per-step MLP embedding,
  outputs :math:`\nu` and :math:`\log\sigma`);
* a **reward head** :math:`f_\omega(s, a, \mu_t, z)`, the
  :class:`~tabmfirl.RewardHead` with ``latent_dim = d`` (linear: affine in
  :math:`c(z) = (1, z)`; MLP: :math:`z` is an input).

Notation: ``posterior_mean[j]`` :math:`= \nu_j = \nu_\psi(\tau_j)`,
``posterior_std[j]`` :math:`= \sigma_j`, flows ``mean_field[k, t, s]``
(:math:`T+1` rows) at a query latent :math:`z_k`, tables ``reward[k, t, s,
a]``, ``policy[k, t, s, a]``.

One iteration
-------------
1. **Encode** the demonstrations: :math:`\nu_j, \sigma_j`, and take
   :math:`z_j = \nu_j` (the posterior mean: deterministic).
2. **Per-latent empirical mean field** (ours; the kernel generalisation of the
   discrete posterior-weighted estimator of :func:`tabmfirl.irl._learner.weighted_statistics`):

   .. math::

       w_j(z) = q_\psi(z \mid \tau_j), \qquad
       \hat\mu_t(s \mid z) = \frac{\sum_j w_j(z)\, \mathbb 1[s^j_t = s]}
                                  {\sum_j w_j(z)}, \qquad
       \hat L_t(s, a \mid z) = \frac{\sum_j w_j(z)\,
       \mathbb 1[s^j_t = s, a^j_t = a]}{\sum_j w_j(z)}.

   With one-hot "densities" (:math:`w_j(z_m) = q_{jm}`) this is exactly the
   discrete estimator.  The densities are computed in the log domain and
   rescaled per :math:`z` so that :math:`\max_j w_j(z) = 1` (the estimator is
   invariant to that scale; :func:`latent_weights`).  It is evaluated at
   every demonstration's :math:`z_j` and at the prior samples of step 5.
   The flow is data: no gradient flows through it.
3. **Exact sampler**: with the dynamics and the reward read at the frozen
   flow, :math:`R^{z}_t(s, a) = f_\omega(s, a, \hat\mu_t(\cdot\mid z), z)`,
   the soft backward pass gives :math:`\pi^z = \exp((Q^z - V^z)/\beta)`.
   All the demonstrations' latents and the prior samples are the contexts of
   one :class:`~tabmfirl.EvaluatedModel`: one model evaluation and one
   backward pass per iteration.
4. **Exact reward update** (the MCE likelihood of each demonstration at its
   own latent):

   .. math::

       \ell(\omega) = \frac1N \sum_j \sum_{t=0}^{T-1}
       \log \pi^{z_j}_t(a^j_t \mid s^j_t), \qquad
       \nabla_\omega \ell = \frac{1}{N\beta} \sum_j \Big[\sum_t
       \nabla_\omega f_\omega(s^j_t, a^j_t, \hat\mu_t(\cdot\mid z_j), z_j)
       - \mathbb E_{\pi^{z_j}}\Big[\sum_t \nabla_\omega f_\omega(s_t, a_t,
       \hat\mu_t(\cdot\mid z_j), z_j)\Big]\Big],

   i.e. for the linear head :math:`\frac{1}{N\beta}\sum_j [\phi(\tau_j; z_j)
   - \mathbb E_{\pi^{z_j}}\phi(\cdot; z_j)]`, expert minus model feature
   counts, the expectation taken exactly by the forward occupancy pass.
   Each demonstration is one context whose counts are its own one-hot
   state-action indicators, so this is :func:`tabmfirl.irl._likelihood.mce_log_likelihood`
   (and the head's VJP) applied to the batch: the same code as the discrete
   EM method (``_learner.reward_step``), not a copy.  One
   :class:`~tabmfirl.Adam` ascent step on :math:`\omega`, on
   :math:`\ell(\omega) - \frac\kappa2\|\omega\|^2` with :math:`\kappa` =
   ``weight_decay`` (the discrete mode's prior).
5. **Mutual-information term** (design notes, step 5): the encoder ascends the
   Barber-Agakov bound's variational part

   .. math::

       J(\psi) = \mathbb E_{z \sim \mathcal N(0, I),\; \tau \sim \pi^z}
       \log q_\psi(z \mid \tau)
       \approx \frac{1}{n_z n_r} \sum_{i=1}^{n_z} \sum_{r=1}^{n_r}
       \log q_\psi(z_i \mid \tau_{ir}),

   :math:`I(z; \tau) \ge h(z) + J(\psi)` (Barber & Agakov 2003), with
   :math:`n_z` = ``n_prior_samples`` latents from the prior, each solved
   exactly (step 3, flow frozen at :math:`\hat\mu(\cdot\mid z_i)`) and rolled
   out :math:`n_r` = ``n_rollouts`` times in that frozen model
   (:func:`tabmfirl.irl._adversarial.rollout_sampler`, seeded).  The gradient of the
   Gaussian log-density

   .. math::

       \log q = \sum_i -\tfrac12 \big((z_i - \nu_i) e^{-\lambda_i}\big)^2
       - \lambda_i - \tfrac12 \log 2\pi, \quad
       \frac{\partial \log q}{\partial \nu} = (z - \nu) e^{-2\lambda}, \quad
       \frac{\partial \log q}{\partial \lambda} = (z - \nu)^2 e^{-2\lambda} - 1,

   (:math:`\lambda = \log\sigma`) is pushed through the encoder by hand
   (:meth:`~tabmfirl.ContextEncoder.log_prob_grad`) and one Adam ascent step
   of size ``mi_weight * encoder_learning_rate`` is taken (Adam is invariant
   to the scale of the gradient, so the weight of the term acts on the step
   size).  This is the wake-sleep scheme (Hinton et al. 1995): the reward is
   fitted to the data at the encoder's latents (wake), the encoder to the
   model's own trajectories at prior latents (sleep).  No MI signal is
   passed to the reward (the exact expectation over trajectories is
   intractable; see the adversarial mode).

Initialisation (ours): the linear head starts at 0 (every :math:`\pi^z`
uniform), so the model's trajectories carry no information on :math:`z`
yet; the encoder is therefore held at its random initialisation for the first
``n_warmup`` iterations (reward steps only), during which the reward learns
the direction of :math:`z` along which the random encoder's means already
vary with the behaviour (mean-pooled state-action features differ between
types); the sleep phase then calibrates the encoder to that reward.

Ablation ``mi_weight=0``: the encoder is neither trained nor used; every
demonstration gets :math:`z_j = 0` and the pooled flow
(:math:`w_j \equiv 1`), so all share one reward, :math:`f_\omega(\cdot, 0)`.
For the linear head this *is* :func:`tabmfirl.fit_mfirl` (the blocks of
:math:`z` get zero gradient and stay 0; the reported posterior is the prior
:math:`\mathcal N(0, I)`).

Discretisation (for the metrics of :mod:`tabmfirl.evaluation._metrics`, which score
discrete heads): :meth:`GaussianTypesResult.discretise` picks :math:`K`
latent points :math:`c_k` (given, or k-means++ centres of the posterior means,
seeded), assigns each demonstration to its nearest centre and returns an
:class:`~tabmfirl.IRLResult` whose *discrete* head reproduces
:math:`f_\omega(\cdot, c_k)` exactly: for the linear head
:math:`b_k = \sum_i c(c_k)_i b_i`, :math:`W_k = \sum_i c(c_k)_i W_i`; for the
MLP head the one-hot type input :math:`e_k` of the first layer gets the
weights :math:`c_k^\top W_0^{(z)}`.  Its flows are :math:`\hat\mu(\cdot\mid
c_k)` (step 2), so :func:`~tabmfirl.apps._experiment.evaluate_fit`,
:func:`~tabmfirl.evaluate_reward` and :func:`~tabmfirl.predict_types` apply.

Measured (numba backend, virus with distancing costs (0.05, 2.0), :math:`T =
10`, :math:`\beta = 0.1`, 100 agents per type, :math:`d = 1`, 60
iterations, 4 demonstration seeds x 3 fit seeds, ``tests/test_gaussian_types.py``):
the posterior means of the two true types end 5.1-6.3 pooled within-type
standard deviations apart (0.15-2.45 when the encoder is never trained,
``n_warmup = max_iter``; 0 for ``mi_weight=0``), the 2-means discretisation
has ARI 0.85-0.96 (the discrete EM method: 1.0) and a mean policy deviation
of 0.04-0.24 against 2.9-3.0 for the ablation (= MFIRL); about 10 ms per
iteration (:math:`N + n_z = 232` contexts).

Everything is deterministic given ``seed``: one
``numpy.random.default_rng(seed)`` initialises the heads and the encoder
and draws the prior latents and the rollouts.  With ``checkpoint=`` the whole
loop state (the reward-head and encoder parameters and their Adam moments,
the histories, the iteration counter and that generator's state) is written
every ``checkpoint_every`` iterations, so a stopped or killed run resumes
bit-identically (:mod:`tabmfirl.irl._checkpoint`).

References
----------
Barber, D. & Agakov, F. (2003). The IM algorithm: a variational approach to
information maximization. NeurIPS.

Hinton, G. E., Dayan, P., Frey, B. J. & Neal, R. M. (1995). The wake-sleep
algorithm for unsupervised neural networks. Science 268.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._checks import check_positive_float, check_positive_int, check_temperature
from ..game._spec import MFGSpec
from ..kernels._backend import resolve_backend
from ..solvers._model import EvaluatedModel, evaluate_model
from ._adversarial import rollout_sampler
from ._checkpoint import LoopState
from ._driver import FitMethod, FitOptions, l2_penalty, run_fit
from ._heads import ContextEncoder, RewardHead
from ._init import kmeans_labels
from ._learner import game_config, learner_spec, reward_step, trajectories, weighted_statistics
from ._nn import Adam
from ._results import IRLResult

__all__ = ["GaussianTypesResult", "GaussianTypesFit", "fit_gaussian_types", "latent_weights",
           "latent_flows", "latent_log_likelihood", "encoder_mi_objective"]


# ---------------------------------------------------------------------------
# Pure functions.
# ---------------------------------------------------------------------------


def latent_weights(latents, posterior_mean, posterior_log_std):
    r"""Kernel weights :math:`w_j(z_k) \propto q(z_k \mid \tau_j)`, rescaled per query.

    .. math::

        \log q(z \mid \tau_j) = \sum_i -\tfrac12
        \Big(\frac{z_i - \nu_{ji}}{\sigma_{ji}}\Big)^2 - \log\sigma_{ji}
        - \tfrac12\log 2\pi,

    then divided by :math:`\max_j q(z_k\mid\tau_j)` (log domain), so each
    column's largest weight is 1.

    Parameters
    ----------
    latents : ndarray, shape (Q, d)
        Query points :math:`z_k`.
    posterior_mean, posterior_log_std : ndarray, shape (N, d)
        :math:`\nu_j`, :math:`\log\sigma_j`.

    Returns
    -------
    ndarray, shape (N, Q)
        ``w[j, k]``, the ``posterior`` argument of
        :func:`tabmfirl.irl._learner.weighted_statistics`.

    Examples
    --------
    >>> w = latent_weights(np.array([[0.0]]), np.array([[0.0], [1.0]]), np.zeros((2, 1)))
    >>> np.round(w.ravel(), 4)   # exp(-1/2) for the trajectory one std away
    array([1.    , 0.6065])
    """
    z = np.asarray(latents, dtype=np.float64)
    nu = np.asarray(posterior_mean, dtype=np.float64)
    log_std = np.asarray(posterior_log_std, dtype=np.float64)
    r = (z[None, :, :] - nu[:, None, :]) * np.exp(-log_std)[:, None, :]   # (N, Q, d)
    log_q = np.sum(-0.5 * r * r - log_std[:, None, :], axis=-1)          # (N, Q)
    return np.exp(log_q - log_q.max(axis=0, keepdims=True))


def latent_flows(states, actions, latents, posterior_mean, posterior_log_std,
                 n_states: int, n_actions: int):
    r"""Per-latent empirical flows :math:`\hat\mu(\cdot\mid z_k)`, :math:`\hat L(\cdot\mid z_k)`.

    Step 2 of the module docstring: :func:`tabmfirl.irl._learner.weighted_statistics`
    with the kernel weights of :func:`latent_weights`.

    Parameters
    ----------
    states : ndarray of int, shape (N, T+1)
    actions : ndarray of int, shape (N, T)
    latents : ndarray, shape (Q, d)
    posterior_mean, posterior_log_std : ndarray, shape (N, d)
    n_states, n_actions : int

    Returns
    -------
    mean_field : ndarray, shape (Q, T+1, S)
    state_action : ndarray, shape (Q, T, S, A)
    """
    weights = latent_weights(latents, posterior_mean, posterior_log_std)
    _, _, mean_field, state_action = weighted_statistics(states, actions, weights,
                                                         n_states, n_actions)
    return mean_field, state_action


class _BoundLatentHead:
    """A latent :class:`RewardHead` with its contexts bound, as ``reward_step`` calls it."""

    def __init__(self, head, latents):
        self.head, self.latents = head, latents

    def reward_tables(self, observed):
        return self.head.reward_tables(observed, contexts=self.latents)

    def reward_tables_vjp(self, observed, grad_tables):
        return self.head.reward_tables_vjp(observed, grad_tables, contexts=self.latents)[0]


def _demo_counts(states, actions, n_states, n_actions):
    """One-hot counts ``(N, T, S, A)`` of each trajectory."""
    N, T = actions.shape
    counts = np.zeros((N, T, n_states, n_actions))
    counts[np.arange(N)[:, None], np.arange(T)[None, :], states[:, :T], actions] = 1.0
    return counts


def _batch_step(dyn_spec, head, latents, mean_field, state_action, counts, temperature,
                n_total, backend):
    """Model at the flows, one backward pass, the objective and its parameter gradient."""
    state_action_game = dyn_spec.mean_field_kind == "state_action"
    model = evaluate_model(dyn_spec, mean_field, state_action if state_action_game else None,
                           backend=backend)
    value, grad, reward, backward = reward_step(
        dyn_spec, _BoundLatentHead(head, latents), model, mean_field, state_action, counts,
        temperature, n_total, backend)
    return model, value, grad, reward, backward


def latent_log_likelihood(spec: MFGSpec, head: RewardHead, demos, latents, mean_field,
                          state_action=None, *, temperature: float, backend: str = "auto"):
    r"""Causal log-likelihood of each trajectory at its own latent, and its exact gradient.

    .. math::

        \ell(\omega) = \frac1N \sum_j \sum_{t=0}^{T-1}
        \log\pi^{z_j}_t(a^j_t \mid s^j_t),

    with :math:`\pi^{z_j}` soft-optimal for :math:`f_\omega(\cdot, \hat\mu_t, z_j)`
    under the dynamics frozen at ``mean_field[j]`` (step 4 of the module
    docstring).  The gradient with respect to the head's parameters is that of
    :func:`tabmfirl.irl._likelihood.mce_log_likelihood` (one context per trajectory,
    one-hot counts) pushed through the head's VJP.

    Parameters
    ----------
    spec : MFGSpec
        Dynamics and :math:`\mu_0` (the reward is ignored).
    head : RewardHead
        A latent head (``latent_dim = d``).
    demos : Demonstrations
        ``states (N, T+1)``, ``actions (N, T)``.
    latents : ndarray, shape (N, d)
        :math:`z_j`.
    mean_field : ndarray, shape (N, T+1, S)
        The flow each trajectory's model is frozen at.
    state_action : ndarray, shape (N, T, S, A), optional
        Required for games that observe the state-action distribution.
    temperature : float
        :math:`\beta > 0`.
    backend : {"auto", "numpy", "numba", "cuda"}

    Returns
    -------
    value : float
        :math:`\ell` (per trajectory).
    grad : ndarray, shape (head.n_params,)
        :math:`\nabla_\omega \ell`.
    """
    backend = resolve_backend(backend)
    temperature = check_temperature(temperature, allow_zero=False)
    if not isinstance(head, RewardHead) or head.discrete:
        raise ValueError("head must be a RewardHead with a latent_dim")
    states, actions = trajectories(spec, demos)
    N = states.shape[0]
    S, A, T = spec.n_states, spec.n_actions, spec.horizon
    latents = _finite(latents, "latents", (N, head.latent_dim))
    mean_field = _finite(mean_field, "mean_field", (N, T + 1, S))
    if state_action is None:
        if spec.mean_field_kind == "state_action":
            raise ValueError("this game observes the state-action distribution: "
                             "pass state_action")
        state_action = np.full((N, T, S, A), 1.0 / (S * A))
    state_action = _finite(state_action, "state_action", (N, T, S, A))
    counts = _demo_counts(states, actions, S, A)
    _, value, grad, _, _ = _batch_step(learner_spec(spec, N), head, latents, mean_field,
                                       state_action, counts, temperature, float(N), backend)
    return value, grad


def encoder_mi_objective(encoder: ContextEncoder, states, actions, latents):
    r"""The MI term :math:`J(\psi) = \frac1n\sum_i \log q_\psi(z_i\mid\tau_i)` and its gradient.

    Step 5 of the module docstring, on given pairs of latents and trajectories
    (rolled out at those latents).

    Parameters
    ----------
    encoder : ContextEncoder
        ``kind="gaussian"``.
    states : ndarray of int, shape (n, T+1)
    actions : ndarray of int, shape (n, T)
    latents : ndarray, shape (n, d)

    Returns
    -------
    value : float
    grad : ndarray, shape (encoder.n_params,)
        :math:`\nabla_\psi J` (to ascend).
    """
    if not isinstance(encoder, ContextEncoder) or encoder.kind != "gaussian":
        raise ValueError("encoder must be a ContextEncoder of kind 'gaussian'")
    n = np.shape(actions)[0]
    weights = np.full(n, 1.0 / n)
    log_q, grad = encoder.log_prob_grad(states, actions, latents, weights=weights)
    return float(np.sum(weights * log_q)), grad


# ---------------------------------------------------------------------------
# Result.
# ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class GaussianTypesResult:
    r"""Result of :func:`fit_gaussian_types`.

    Attributes
    ----------
    method : str
        ``"gaussian-types"``.
    head : RewardHead
        The learned latent reward head :math:`f_\omega(s, a, \mu, z)` (a copy).
    reward_params : ndarray, shape (n_params,)
        ``head.get_flat()``.
    encoder : ContextEncoder
        The encoder :math:`q_\psi(z\mid\tau)` (a copy; untrained for
        ``mi_weight=0``).
    encoder_params : ndarray, shape (n_encoder_params,)
        ``encoder.get_flat()``.
    posterior_mean, posterior_std : ndarray, shape (N, d)
        :math:`\nu_j`, :math:`\sigma_j` of each demonstration (0 and 1, the
        prior, for ``mi_weight=0``).
    objective_history : ndarray, shape (num_iter,)
        :math:`\ell` of step 4 (per trajectory, at each iterate).
    grad_norm_history : ndarray, shape (num_iter,)
        :math:`\|\nabla_\omega \ell\|`.
    mi_history : ndarray, shape (num_iter,)
        :math:`J(\psi)` of step 5 on each iteration's rollouts (``nan`` for
        ``mi_weight=0``); :math:`J + \frac d2\log(2\pi e)` lower-bounds
        :math:`I(z;\tau)`.
    posterior_change_history : ndarray, shape (num_iter,)
        :math:`\max_j |\nu_j^{new} - \nu_j|` of each iteration's encoder step.
    converged : bool
        Final gradient norm and posterior change both below ``tol``.
    num_iter : int
    temperature : float
    seconds : float
    """

    method: str
    head: RewardHead
    reward_params: np.ndarray
    encoder: ContextEncoder
    encoder_params: np.ndarray
    posterior_mean: np.ndarray
    posterior_std: np.ndarray
    objective_history: np.ndarray
    grad_norm_history: np.ndarray
    mi_history: np.ndarray
    posterior_change_history: np.ndarray
    converged: bool
    num_iter: int
    temperature: float
    seconds: float

    @property
    def latent_dim(self) -> int:
        """:math:`d`."""
        return self.head.latent_dim

    def kmeans_centres(self, n_contexts: int, *, seed: int = 0):
        r"""k-means++ centres of the posterior means (seeded), shape (K, d).

        Parameters
        ----------
        n_contexts : int
            :math:`K`.
        seed : int, default 0

        Returns
        -------
        ndarray, shape (K, d)
        """
        K = check_positive_int(n_contexts, "n_contexts")
        nu = self.posterior_mean
        if K > nu.shape[0]:
            raise ValueError(f"n_contexts={K} exceeds the number of demonstrations")
        labels = kmeans_labels(nu, K, np.random.default_rng(seed))
        # an empty cluster keeps a demonstration's mean (k-means++ picks distinct points)
        return np.array([nu[labels == k].mean(axis=0) if np.any(labels == k) else nu[k]
                         for k in range(K)])

    def discretise(self, spec: MFGSpec, demos, centres, *, seed: int = 0,
                   backend: str = "auto") -> IRLResult:
        r"""The fit at :math:`K` latent points, as a discrete-type :class:`~tabmfirl.IRLResult`.

        Module docstring, "Discretisation".  The returned head is a discrete
        :class:`~tabmfirl.RewardHead` with :math:`f^{disc}(s, a, \mu, k) =
        f_\omega(s, a, \mu, c_k)` exactly; ``assignments`` are the nearest
        centres of the posterior means, ``posterior`` their one-hot rows,
        ``prior`` the assignment shares, ``mean_field`` :math:`\hat\mu(\cdot\mid
        c_k)`, ``reward``/``policy`` the tables there.  The histories are the
        fit's (``log_likelihood_history`` is its ``objective_history``: the
        causal log-likelihood of each demonstration at its own latent).

        Parameters
        ----------
        spec : MFGSpec
            The dynamics the fit used.
        demos : Demonstrations
            The training demonstrations.
        centres : int or ndarray, shape (K, d)
            Latent points, or :math:`K` for :meth:`kmeans_centres`.
        seed : int, default 0
            Of the k-means++ seeding.
        backend : {"auto", "numpy", "numba", "cuda"}

        Returns
        -------
        IRLResult
            ``method="gaussian-types"``.
        """
        backend = resolve_backend(backend)
        states, actions = trajectories(spec, demos)
        if states.shape[0] != self.posterior_mean.shape[0]:
            raise ValueError(f"demos have {states.shape[0]} trajectories, the fit "
                             f"{self.posterior_mean.shape[0]}")
        if isinstance(centres, (int, np.integer)) and not isinstance(centres, bool):
            centres = self.kmeans_centres(centres, seed=seed)
        d = self.latent_dim
        centres = _finite(centres, "centres", None)
        if centres.ndim != 2 or centres.shape[1] != d or centres.shape[0] < 1:
            raise ValueError(f"centres must have shape (K, {d}), got {centres.shape}")
        K, N = centres.shape[0], states.shape[0]
        S, A = spec.n_states, spec.n_actions
        d2 = ((self.posterior_mean[:, None, :] - centres[None]) ** 2).sum(axis=-1)
        assignments = d2.argmin(axis=1).astype(np.int64)
        posterior = np.eye(K)[assignments]
        mean_field, state_action = latent_flows(states, actions, centres, self.posterior_mean,
                                                np.log(self.posterior_std), S, A)
        dyn_spec = learner_spec(spec, K)
        disc = _discrete_head(self.head, centres)
        model = evaluate_model(dyn_spec, mean_field,
                               state_action if spec.mean_field_kind == "state_action" else None,
                               backend=backend)
        counts = weighted_statistics(states, actions, posterior, S, A)[0]
        _, _, reward, backward = reward_step(dyn_spec, disc, model, mean_field, state_action,
                                              counts, self.temperature, float(N), backend)
        return IRLResult(
            method=self.method, head=disc, reward_params=disc.get_flat(), posterior=posterior,
            assignments=assignments, prior=posterior.sum(axis=0) / N, mean_field=mean_field,
            state_action=state_action, reward=reward, policy=backward.policy,
            objective_history=self.objective_history.copy(),
            log_likelihood_history=self.objective_history.copy(),
            grad_norm_history=self.grad_norm_history.copy(), converged=self.converged,
            num_iter=self.num_iter, temperature=self.temperature, seconds=self.seconds)


# ---------------------------------------------------------------------------
# Helpers.
# ---------------------------------------------------------------------------


def _finite(x, name, shape):
    try:
        x = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a float array: {exc}") from exc
    if shape is not None and x.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} contains non-finite values (NaN or inf)")
    return np.ascontiguousarray(x)


def _head_kwargs(head):
    if head.kind == "mlp":
        return {"kind": "mlp", "hidden_sizes": head.hidden_sizes,
                "activation": head.mlp.activation}
    return {"kind": "linear"}


def _copy_latent_head(head: RewardHead) -> RewardHead:
    copy = RewardHead(head.n_states, head.n_actions, head.mean_field_dim,
                      latent_dim=head.latent_dim, **_head_kwargs(head))
    copy.set_flat(head.get_flat())
    return copy


def _discrete_head(head: RewardHead, centres) -> RewardHead:
    """Discrete head with ``K = len(centres)`` types equal to the latent head at the centres."""
    K = centres.shape[0]
    disc = RewardHead(head.n_states, head.n_actions, head.mean_field_dim, n_contexts=K,
                      **_head_kwargs(head))
    if head.kind == "linear":
        c = np.concatenate([np.ones((K, 1)), centres], axis=1)            # c(c_k), (K, d+1)
        disc.bias = np.einsum("kj,jsa->ksa", c, head.bias)
        disc.coef = np.einsum("kj,jsad->ksad", c, head.coef)
        return disc
    params = [p.copy() for p in head.mlp.params]
    W0 = params[0]                                   # rows: e_s, e_a, mu, z
    n_fixed = W0.shape[0] - head.latent_dim
    params[0] = np.concatenate([W0[:n_fixed], centres @ W0[n_fixed:]], axis=0)
    disc.mlp.params = params
    return disc


def _copy_encoder(encoder: ContextEncoder) -> ContextEncoder:
    copy = ContextEncoder(encoder.n_states, encoder.n_actions, kind="gaussian",
                          latent_dim=encoder.latent_dim, embed_dim=encoder.embed_dim,
                          hidden_sizes=encoder.hidden_sizes,
                          activation=encoder.step_net.activation)
    copy.set_flat(encoder.get_flat())
    return copy


# ---------------------------------------------------------------------------
# The method.
# ---------------------------------------------------------------------------


class GaussianTypesFit(FitMethod):
    """Steps 1-5 of the module docstring: one reward step and one encoder step an iteration.

    The encoder's step (after the warm-up) belongs to :meth:`evaluate`, like
    the E-step of the discrete fit: the change of the posterior means it causes
    is a convergence measure.  Parameters are those of
    :func:`fit_gaussian_types` (validated here).
    """

    name = "gaussian-types"

    def __init__(self, spec, demos, latent_dim, *, reward_kind, hidden_sizes, temperature,
                 learning_rate, encoder_learning_rate, n_warmup, mi_weight, weight_decay,
                 n_prior_samples, n_rollouts, backend):
        self.spec = spec
        self.d = check_positive_int(latent_dim, "latent_dim")
        self.temperature = check_temperature(temperature, allow_zero=False)
        self.learning_rate = check_positive_float(learning_rate, "learning_rate")
        self.encoder_learning_rate = check_positive_float(encoder_learning_rate,
                                                          "encoder_learning_rate")
        self.n_warmup = check_positive_int(n_warmup, "n_warmup", minimum=0)
        self.mi_weight = check_positive_float(mi_weight, "mi_weight", allow_zero=True)
        self.weight_decay = check_positive_float(weight_decay, "weight_decay", allow_zero=True)
        self.n_z = check_positive_int(n_prior_samples, "n_prior_samples")
        self.n_r = check_positive_int(n_rollouts, "n_rollouts")
        self.reward_kind, self.hidden_sizes = reward_kind, hidden_sizes
        self.backend = resolve_backend(backend)
        if np.shape(getattr(demos, "actions", None))[:1] == (0,):
            raise ValueError("demos must hold at least one trajectory")
        self.states, self.actions = trajectories(spec, demos)
        learner_spec(spec, 1)                                   # spec checks
        self.use_mi = self.mi_weight > 0.0
        N, T = self.actions.shape
        self.counts = np.concatenate([
            _demo_counts(self.states, self.actions, spec.n_states, spec.n_actions),
            np.zeros((self.n_z if self.use_mi else 0, T, spec.n_states, spec.n_actions))])
        self.dyn_spec = learner_spec(spec, self.counts.shape[0])

    def config(self, options):
        return {"method": self.name, **game_config(self.spec, self.states, self.actions),
                "latent_dim": self.d, "mi_weight": self.mi_weight,
                "reward_kind": self.reward_kind,
                "hidden_sizes": ([int(h) for h in self.hidden_sizes]
                                 if self.reward_kind == "mlp" else None),
                "temperature": self.temperature, "learning_rate": self.learning_rate,
                "encoder_learning_rate": self.encoder_learning_rate, "n_warmup": self.n_warmup,
                "weight_decay": self.weight_decay, "n_prior_samples": self.n_z,
                "n_rollouts": self.n_r, "tol": options.tol, "seed": options.seed_config()}

    def start(self, rng, resuming):
        S, A = self.spec.n_states, self.spec.n_actions
        self.head = RewardHead(S, A, self.spec.mean_field_dim, latent_dim=self.d,
                               kind=self.reward_kind, hidden_sizes=self.hidden_sizes, seed=rng)
        self.encoder = ContextEncoder(S, A, kind="gaussian", latent_dim=self.d, seed=rng)
        self.decay_mask = self.head.decay_mask()
        self.nu = self.log_std = None           # the posterior of the encoder's parameters
        optimisers = {"reward": Adam(lr=self.learning_rate)}
        if self.use_mi:
            optimisers["encoder"] = Adam(lr=self.mi_weight * self.encoder_learning_rate)
        histories = {name: [] for name in ("objective_history", "grad_norm_history",
                                           "mi_history", "posterior_change_history")}
        return LoopState(arrays={"reward_params": self.head.get_flat(),
                                 "encoder_params": self.encoder.get_flat()},
                         optimisers=optimisers, histories=histories, rng=rng)

    def _posterior(self, state):
        """Posterior means and log standard deviations ``(N, d)`` (zeros without the MI term)."""
        if not self.use_mi:
            N = self.states.shape[0]
            return np.zeros((N, self.d)), np.zeros((N, self.d))
        self.encoder.set_flat(state.arrays["encoder_params"])
        return self.encoder.mean_log_std(self.states, self.actions)

    def _reward_step(self, state):
        """Steps 1-4: latents, kernel flows, model, backward pass, objective and gradient."""
        N = self.states.shape[0]
        S, A = self.spec.n_states, self.spec.n_actions
        params = state.arrays["reward_params"]
        self.head.set_flat(params)
        prior_z = None
        if self.use_mi:
            prior_z = state.rng.standard_normal((self.n_z, self.d))
            latents = np.concatenate([self.nu, prior_z])
            weights = latent_weights(latents, self.nu, self.log_std)
        else:
            latents, weights = self.nu, np.ones((N, N))
        mean_field, state_action = weighted_statistics(self.states, self.actions, weights,
                                                       S, A)[2:]
        model, value, grad, _, backward = _batch_step(
            self.dyn_spec, self.head, latents, mean_field, state_action, self.counts,
            self.temperature, float(N), self.backend)
        penalty, penalty_grad = l2_penalty(params, self.decay_mask, self.weight_decay)
        return value - penalty, grad - penalty_grad, model, backward, prior_z

    def _encoder_step(self, state, model, backward, prior_z):
        """Step 5: MI objective on prior rollouts; after the warm-up, one encoder step."""
        N, T = self.actions.shape
        S, A = self.spec.n_states, self.spec.n_actions
        sub = EvaluatedModel(model.transition, np.ascontiguousarray(model.slice_index[N:]),
                             np.zeros((self.n_z, T, S, A)), model.next_states)
        idx, r_states, r_actions = rollout_sampler(sub, backward.policy[N:], self.spec.mu0,
                                                   self.n_r, state.rng)
        enc_params = state.arrays["encoder_params"]
        self.encoder.set_flat(enc_params)
        mi, g_enc = encoder_mi_objective(self.encoder, r_states, r_actions, prior_z[idx])
        change = 0.0
        if state.iteration >= self.n_warmup:
            state.optimisers["encoder"].step(enc_params, -g_enc)
            new_nu, self.log_std = self._posterior(state)
            change = float(np.max(np.abs(new_nu - self.nu)))
            self.nu = new_nu
        return mi, change

    def evaluate(self, state):
        if self.nu is None:
            self.nu, self.log_std = self._posterior(state)
        value, grad, model, backward, prior_z = self._reward_step(state)
        grad_norm = float(np.linalg.norm(grad))
        mi, change = np.nan, 0.0
        if self.use_mi:
            mi, change = self._encoder_step(state, model, backward, prior_z)
        for name, record in (("objective_history", value), ("grad_norm_history", grad_norm),
                             ("mi_history", mi), ("posterior_change_history", change)):
            state.histories[name].append(record)
        info = {"objective": value, "grad_norm": grad_norm, "mi": mi, "posterior_mean": self.nu}
        return info, grad

    def update(self, state, grad):
        state.optimisers["reward"].step(state.arrays["reward_params"], -grad)

    def measures(self, state):
        return {"gradient norm": state.histories["grad_norm_history"][-1],
                "posterior change": state.histories["posterior_change_history"][-1]}

    def result(self, state, *, converged, seconds):
        params, enc_params = state.arrays["reward_params"], state.arrays["encoder_params"]
        self.head.set_flat(params)
        self.encoder.set_flat(enc_params)
        nu, log_std = self._posterior(state)
        histories = {name: np.array(values) for name, values in state.histories.items()}
        return GaussianTypesResult(
            method=self.name, head=_copy_latent_head(self.head), reward_params=params.copy(),
            encoder=_copy_encoder(self.encoder), encoder_params=enc_params.copy(),
            posterior_mean=nu.copy(), posterior_std=np.exp(log_std), **histories,
            converged=converged, num_iter=len(histories["objective_history"]),
            temperature=self.temperature, seconds=seconds)


# ---------------------------------------------------------------------------
# The fit.
# ---------------------------------------------------------------------------


def fit_gaussian_types(spec: MFGSpec, demos, latent_dim: int, *,
                          reward_kind: str = "linear", hidden_sizes=(32, 32),
                          temperature: float = 1.0, max_iter: int = 200,
                          learning_rate: float = 0.02, encoder_learning_rate: float = 0.01,
                          n_warmup: int = 20, mi_weight: float = 1.0,
                          weight_decay: float = 1.0,
                          n_prior_samples: int = 32, n_rollouts: int = 4, tol: float = 1e-6,
                          seed: int = 0, backend: str = "auto", warn: bool = True,
                          checkpoint=None, checkpoint_every: int = 10,
                          callback=None) -> GaussianTypesResult:
    r"""Exact-likelihood IRL with continuous Gaussian types (wake-sleep encoder).

    See the module docstring for the iteration (encode, per-latent kernel
    flows, exact backward pass, per-demonstration MCE reward step, MI step
    of the encoder on prior samples and their rollouts).

    Parameters
    ----------
    spec : MFGSpec
        The game's dynamics and :math:`\mu_0`; its reward and number of types
        are ignored.
    demos : Demonstrations
        Anything with ``states (N, T+1)`` and ``actions (N, T)``; ``types``
        is never read.
    latent_dim : int
        :math:`d \ge 1`.
    reward_kind : {"linear", "mlp"}
        :class:`~tabmfirl.RewardHead` kind (the linear head starts at 0).
    hidden_sizes : tuple of int
        MLP head only.
    temperature : float, default 1.0
        :math:`\beta`, the experts' temperature.
    max_iter : int, default 200
        Iterations at most (one reward step and, after the warm-up, one encoder
        step).  Fewer than the discrete fits' 300: each iteration runs one
        backward pass per demonstration and prior latent.
    learning_rate : float, default 0.02
        Adam step size of the reward head.
    encoder_learning_rate : float, default 0.01
        Adam step size of the encoder (times ``mi_weight``).
    n_warmup : int, default 20
        Iterations with the encoder held at its initialisation.
    mi_weight : float, default 1.0
        :math:`\ge 0`, scales the encoder's step size; 0 is the ablation
        (encoder unused, :math:`z_j = 0`, pooled flow, one reward).
    weight_decay : float, default 1.0
        :math:`\kappa \ge 0`: the reward step maximises the mean causal
        log-likelihood minus :math:`\frac\kappa2\|M\omega\|^2`, with
        :math:`M` the head's :meth:`~tabmfirl.RewardHead.decay_mask` (the
        mean-field weights of a linear head; module docstring of
        :mod:`tabmfirl.irl._em`).
    n_prior_samples : int, default 32
        :math:`n_z` latents drawn from :math:`\mathcal N(0, I)` per iteration.
    n_rollouts : int, default 4
        :math:`n_r` trajectories rolled out per prior latent.
    tol : float, default 1e-6
        Converged when the reward gradient norm and the last change of the
        posterior means are both below ``tol``.
    seed : int, default 0
    backend : {"auto", "numpy", "numba", "cuda"}
    warn : bool, default True
        Warn (:class:`~tabmfirl.ConvergenceWarning`) when not converged.
    checkpoint : str or os.PathLike, optional
        Resumable checkpoint, as in :func:`~tabmfirl.fit_pemmfirl_em` (the fit
        driver's loop state: both heads' parameters, their Adam states, the
        histories, the counters and the generator; bit-identical resume).
    checkpoint_every : int, default 10
        Write the checkpoint every this many iterations, and after the last.
    callback : callable, optional
        ``callback(iteration, info)`` after each iteration, with ``info`` a
        dict of ``objective``, ``grad_norm``, ``mi`` and ``posterior_mean``
        (of that iterate; do not modify).  A resumed run calls it only for
        the iterations it computes.

    Returns
    -------
    GaussianTypesResult

    Raises
    ------
    ValueError
        On a bad argument (``latent_dim < 1``, non-finite or out-of-range
        numbers), demonstrations of the wrong shape, dtype or range, or a
        ``checkpoint`` of another configuration, damaged or unreadable.

    Notes
    -----
    Each iteration evaluates the model and runs one backward pass over
    :math:`N + n_z` contexts (one per demonstration, one per prior latent),
    and the kernel flows cost :math:`O(N (N + n_z) T S A)`.  The ``numpy``
    backend evaluates the model context by context in Python (10-20 times
    slower than ``numba`` on the virus game with :math:`N = 200`).

    Examples
    --------
    >>> from tabmfirl import envs, solve_equilibrium, generate_demonstrations
    >>> spec = envs.make("virus", types=2, horizon=3)
    >>> demos = generate_demonstrations(spec, solve_equilibrium(spec, backend="numpy").policy,
    ...                                 5, seed=0)
    >>> fit = fit_gaussian_types(spec, demos, 2, max_iter=3, n_warmup=1, n_prior_samples=4,
    ...                             n_rollouts=2, backend="numpy", warn=False)
    >>> fit.posterior_mean.shape, fit.num_iter
    ((10, 2), 3)
    >>> fit.discretise(spec, demos, 2, backend="numpy").reward.shape   # K = 2 centres
    (2, 3, 2, 2)
    """
    options = FitOptions(max_iter=max_iter, tol=tol, seed=seed, backend=backend, warn=warn,
                         checkpoint=checkpoint, checkpoint_every=checkpoint_every,
                         callback=callback)
    method = GaussianTypesFit(spec, demos, latent_dim, reward_kind=reward_kind,
                              hidden_sizes=hidden_sizes, temperature=temperature,
                              learning_rate=learning_rate,
                              encoder_learning_rate=encoder_learning_rate, n_warmup=n_warmup,
                              mi_weight=mi_weight, weight_decay=weight_decay,
                              n_prior_samples=n_prior_samples, n_rollouts=n_rollouts,
                              backend=backend)
    return run_fit(method, options)
