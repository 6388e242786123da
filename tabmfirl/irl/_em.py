r"""EM multiple-intention MCE-IRL with a mean field, and the two-stage, MFIRL and oracle baselines.

:func:`fit_pemmfirl_em` is **EM multiple-intention IRL** (Babeş-Vroman,
Marivate, Subramanian & Littman, "Apprenticeship learning about multiple
intentions", ICML 2011: an EM mixture of maximum-likelihood IRL models, one
reward per intention) with maximum causal entropy likelihoods (Ziebart et
al. 2010) and the per-type empirical mean field: the E-step is the
posterior over types of step 5, the M-step one gradient step of step 4.  It
is *not* the paper's algorithm (PEMMFIRL, :func:`tabmfirl.fit_pemmfirl`,
:mod:`tabmfirl.irl._adversarial`).  What it shares with it: per-type
rewards :math:`r(s, a, \mu, m)`, posterior-weighted empirical flows, the
exact soft-Bellman generator.  What it replaces: the adversarial
discriminator by the exact causal likelihood, and the neural context encoder
with its mutual-information regulariser by the exact (tempered) Bayes
posterior, whose EM E-step maximises the Barber-Agakov bound on
:math:`I(m; \tau)` for fixed rewards (step 5).  No mutual-information
signal reaches the reward.  Until 0.2.0 this method was called
``fit_pemmfirl``.

:func:`fit_two_stage` is the two-stage baseline: cluster the trajectories
once (a mixture of stationary policies, *Initialisation* below), then fit
one MCE-IRL reward per cluster on its own empirical flow (the oracle's loop
with the clusters in place of the true labels).  The clusters never change.

Each method here is a :class:`~tabmfirl.irl._driver.FitMethod` run by
:func:`~tabmfirl.irl._driver.run_fit`, which owns the loop, checkpoints,
callback, convergence test and warning.

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
   :func:`~tabmfirl.irl._likelihood.mce_log_likelihood`:
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
5. **Posterior (encoder) update** - for the EM method the encoder is the
   exact, tempered Bayes posterior (an EM E-step), not a neural network:

   .. math::

       \ell_{jm} = \sum_{t=0}^{T-1} \log \pi^m_t(a^j_t \mid s^j_t), \qquad
       q(m \mid \tau_j) \propto p(m)\, \exp(\lambda\, \ell_{jm}), \qquad
       p(m) = \frac{1}{N} \sum_j q_{jm},

   with :math:`\lambda` = ``mi_weight``.  :math:`\ell_{jm}` is the causal
   likelihood of the actions.  When the types share the transition and the
   initial distribution the transition factors
   :math:`P(s^j_{t+1} \mid s^j_t, a^j_t, \hat\mu_t(\cdot\mid m))` are left out:
   they depend on the type only through the estimated flow, which would let
   the posterior cluster agents on where they are rather than on what they
   choose.  When the types move or start differently
   (``transition_by_context``, ``mu0`` per type: the learned type :math:`m`
   is then the game's type :math:`m`, with its known dynamics) they are the
   evidence and enter: :math:`\ell_{jm}` gains
   :math:`\log\mu_0(s^j_0\mid m) + \sum_t \log P^m_t(s^j_{t+1} \mid s^j_t, a^j_t,
   \hat\nu^m_t)`, read along the posterior-weighted flow of step 2
   (:func:`~tabmfirl.irl._likelihood.type_log_likelihood`).  With
   ``observation="all_types"`` the head of every type reads the stack of
   every type's weighted flow (:func:`~tabmfirl.irl._learner.observed_mean_field`).  For fixed rewards this posterior
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
   ``adversarial`` mode, :mod:`tabmfirl.irl._adversarial`, passes a sampled one).

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

import numpy as np

from .._checks import (
    check_choice,
    check_fraction,
    check_positive_float,
    check_positive_int,
    check_temperature,
)
from .._io import array_digest
from ..game._spec import MFGSpec
from ..kernels._backend import resolve_backend
from ..solvers._model import evaluate_model
from ..solvers._soft_bellman import soft_bellman_backward
from ._checkpoint import LoopState
from ._driver import FitMethod, FitOptions, l2_penalty, run_fit
from ._init import INITIALISATIONS as SINGLE_STARTS
from ._init import initial_posterior, policy_mixture_clusters
from ._learner import (
    copy_head,
    dynamics_digest,
    game_config,
    learner_spec,
    make_head,
    reward_step,
    trajectories,
    weighted_statistics,
)
from ._likelihood import posterior_information, tempered_posterior, type_log_likelihood
from ._nn import Adam
from ._results import IRLResult

__all__ = ["fit_pemmfirl_em", "fit_two_stage", "fit_mfirl", "fit_oracle", "fit_reward", "predict_types",
           "held_out_log_likelihood", "ExactLikelihoodFit", "RewardFit",
           "INITIALISATIONS", "SCREENED_STARTS", "SCREEN_ITERATIONS"]

#: Initial posteriors of the EM loop (module docstring).
INITIALISATIONS = ("screened",) + SINGLE_STARTS
#: Starts tried by ``init="screened"``, and the iterations each runs past its warm-up.
SCREENED_STARTS = ("mixture", "kmeans", "random", "random")
SCREEN_ITERATIONS = 50


# ---------------------------------------------------------------------------
# The exact-likelihood (EM) method, the two-stage baseline, MFIRL, oracle.
# ---------------------------------------------------------------------------


class ExactLikelihoodFit(FitMethod):
    """Steps 1-5 of the module docstring: one MCE reward step and one E-step an iteration.

    Parameters are those of :func:`fit_pemmfirl_em` (validated there), plus
    ``name`` (``"pemmfirl-em"``, ``"two-stage"``, ``"mfirl"``, ``"oracle"``) and
    ``fixed_posterior`` (the oracle's true labels, ``(N, K)``, or ``None``).
    """

    def __init__(self, name, spec, demos, n_contexts, *, mi_weight, reward_kind, hidden_sizes,
                 temperature, learning_rate, init, init_smoothing, n_warmup, weight_decay,
                 backend, fixed_posterior=None):
        self.name = name
        self.spec, self.demos = spec, demos
        self.K = check_positive_int(n_contexts, "n_contexts")
        self.temperature = check_temperature(temperature, allow_zero=False)
        self.learning_rate = check_positive_float(learning_rate, "learning_rate")
        self.mi_weight = 0.0 if fixed_posterior is not None else check_positive_float(
            mi_weight, "mi_weight", allow_zero=True)
        self.smoothing = check_fraction(init_smoothing, "init_smoothing")
        self.n_warmup = check_positive_int(n_warmup, "n_warmup", minimum=0)
        self.weight_decay = check_positive_float(weight_decay, "weight_decay", allow_zero=True)
        self.init = check_choice(init, "init", INITIALISATIONS)
        self.reward_kind, self.hidden_sizes = reward_kind, hidden_sizes
        self.backend = resolve_backend(backend)
        self.fixed_posterior = fixed_posterior
        self.states, self.actions = trajectories(spec, demos)
        self.dyn_spec = learner_spec(spec, self.K)
        self.head = None

    @property
    def n_demos(self) -> int:
        return self.states.shape[0]

    def config(self, options: FitOptions) -> dict:
        fixed = self.fixed_posterior
        return {"method": self.name, **game_config(self.spec, self.states, self.actions),
                "n_contexts": self.K, "mi_weight": self.mi_weight,
                "reward_kind": self.reward_kind,
                "hidden_sizes": ([int(h) for h in self.hidden_sizes]
                                 if self.reward_kind == "mlp" else None),
                "temperature": self.temperature, "learning_rate": self.learning_rate,
                "init": self.init, "init_smoothing": self.smoothing, "n_warmup": self.n_warmup,
                "tol": options.tol, "seed": options.seed_config(),
                "fixed_posterior_digest": None if fixed is None else array_digest(fixed),
                "weight_decay": self.weight_decay}

    def _initial_posterior(self, rng, resuming):
        N, K = self.n_demos, self.K
        if resuming:                    # the (screened) start is in the checkpoint
            return np.zeros((N, K))
        if self.fixed_posterior is not None:
            return self.fixed_posterior
        if self.mi_weight == 0.0 or K == 1:
            return np.full((N, K), 1.0 / K)
        if self.init == "screened":
            return self.screened_posterior(rng)
        return initial_posterior(self.states, self.actions, K, self.spec.n_states,
                                 self.spec.n_actions, self.init, self.smoothing, rng)

    def screened_posterior(self, rng):
        """Posterior of the best short fit from :data:`SCREENED_STARTS` (module docstring).

        Each start runs ``n_warmup + SCREEN_ITERATIONS`` iterations of the same
        fit (own seed drawn from ``rng``); the one with the highest marginal
        log-likelihood of the demonstrations wins (ties: the earlier start).
        """
        best_ll, best = -np.inf, None
        for start in SCREENED_STARTS:
            seed = int(rng.integers(2 ** 32))
            short = self.with_init(start)
            fit = run_fit(short, FitOptions(max_iter=self.n_warmup + SCREEN_ITERATIONS,
                                            tol=self.screen_tol, seed=seed,
                                            backend=self.backend, warn=False))
            if fit.log_likelihood_history[-1] > best_ll:
                best_ll, best = fit.log_likelihood_history[-1], fit.posterior
        return best

    #: ``tol`` of the screening fits (set by :func:`fit_pemmfirl_em` to the fit's own).
    screen_tol = 1e-6

    def with_init(self, init):
        """A copy of this method with another ``init``."""
        copy = object.__new__(type(self))
        copy.__dict__.update(self.__dict__)
        copy.init = init
        copy.head = None
        return copy

    def start(self, rng, resuming):
        posterior = self._initial_posterior(rng, resuming)
        self.head = make_head(self.spec, self.K, self.reward_kind, self.hidden_sizes, rng)
        self.decay_mask = self.head.decay_mask()
        return LoopState(arrays={"reward_params": self.head.get_flat(), "posterior": posterior},
                         optimisers={"reward": Adam(lr=self.learning_rate)},
                         histories={"objective_history": [], "log_likelihood_history": [],
                                    "grad_norm_history": []},
                         rng=rng, scalars={"change": float("inf")})

    def _tables(self, params, posterior):
        """Steps 1-4 at ``params`` and ``posterior``."""
        S, A = self.spec.n_states, self.spec.n_actions
        self.head.set_flat(params)
        counts, totals, mean_field, state_action = weighted_statistics(
            self.states, self.actions, posterior, S, A)
        model = evaluate_model(self.dyn_spec, mean_field,
                               state_action if self.spec.mean_field_kind == "state_action"
                               else None, backend=self.backend)
        value, grad, reward, backward = reward_step(
            self.dyn_spec, self.head, model, mean_field, state_action, counts, self.temperature,
            float(self.n_demos), self.backend)
        return totals, mean_field, state_action, value, grad, reward, model, backward

    def evaluate(self, state):
        params, posterior = state.arrays["reward_params"], state.arrays["posterior"]
        totals, _, _, value, grad, _, model, backward = self._tables(params, posterior)
        penalty, penalty_grad = l2_penalty(params, self.decay_mask, self.weight_decay)
        value, grad = value - penalty, grad - penalty_grad
        # actions, plus each type's dynamics at the weighted flow when the types move differently
        log_lik = type_log_likelihood(self.dyn_spec, model, backward, self.states, self.actions,
                                      self.temperature)
        new_posterior, marginal = tempered_posterior(log_lik, totals / self.n_demos,
                                                     self.mi_weight)
        if self.mi_weight > 0.0 and self.K > 1 and state.iteration >= self.n_warmup:
            state.scalars["change"] = float(np.max(np.abs(new_posterior - posterior)))
            posterior = state.arrays["posterior"] = new_posterior
        elif self.mi_weight == 0.0 or self.K == 1:
            state.scalars["change"] = 0.0
        grad_norm = float(np.linalg.norm(grad))
        for name, record in (("objective_history", value), ("log_likelihood_history", marginal),
                             ("grad_norm_history", grad_norm)):
            state.histories[name].append(record)
        info = {"objective": value, "log_likelihood": marginal, "grad_norm": grad_norm,
                "posterior": posterior, "mi": posterior_information(posterior)}
        return info, grad

    def update(self, state, grad):
        state.optimisers["reward"].step(state.arrays["reward_params"], -grad)

    def measures(self, state):
        return {"gradient norm": state.histories["grad_norm_history"][-1],
                "posterior change": state.scalars["change"]}

    def result(self, state, *, converged, seconds):
        # statistics of the returned posterior, tables of the returned parameters
        params, posterior = state.arrays["reward_params"], state.arrays["posterior"]
        totals, mean_field, state_action, _, _, reward, _, backward = self._tables(params,
                                                                                   posterior)
        histories = {name: np.array(values) for name, values in state.histories.items()}
        return IRLResult(
            method=self.name, head=copy_head(self.head), reward_params=self.head.get_flat(),
            posterior=posterior, assignments=posterior.argmax(axis=1).astype(np.int64),
            prior=totals / self.n_demos, mean_field=mean_field, state_action=state_action,
            reward=reward, policy=backward.policy, **histories, converged=converged,
            num_iter=len(histories["objective_history"]), temperature=self.temperature,
            seconds=seconds)


# ---------------------------------------------------------------------------
# The reward step alone, on fixed counts.
# ---------------------------------------------------------------------------


class RewardFit(FitMethod):
    """Step 4 of the module docstring on fixed counts (:func:`fit_reward`)."""

    name = "reward"

    def __init__(self, spec, counts, mean_field, state_action, *, reward_kind, hidden_sizes,
                 temperature, learning_rate, weight_decay, backend):
        self.spec = spec
        self.temperature = check_temperature(temperature, allow_zero=False)
        self.learning_rate = check_positive_float(learning_rate, "learning_rate")
        self.weight_decay = check_positive_float(weight_decay, "weight_decay", allow_zero=True)
        self.backend = resolve_backend(backend)
        self.reward_kind, self.hidden_sizes = reward_kind, hidden_sizes
        counts = np.ascontiguousarray(counts, dtype=np.float64)
        if counts.ndim != 4 or counts.shape[1:] != (spec.horizon, spec.n_states, spec.n_actions):
            raise ValueError(f"counts must have shape (K, {spec.horizon}, {spec.n_states}, "
                             f"{spec.n_actions}), got {counts.shape}")
        if np.any(counts < 0) or not np.all(np.isfinite(counts)):
            raise ValueError("counts must be finite and non-negative")
        self.K = counts.shape[0]
        self.totals = counts[:, 0].sum(axis=(-2, -1))
        if np.any(self.totals <= 0):
            raise ValueError("every type needs positive counts")
        if state_action is None:
            state_action = counts / self.totals[:, None, None, None]
        self.counts = counts
        self.dyn_spec = learner_spec(spec, self.K)
        self.model = evaluate_model(self.dyn_spec, mean_field,
                                    state_action if spec.mean_field_kind == "state_action"
                                    else None, backend=self.backend)
        self.mean_field = np.asarray(mean_field, dtype=np.float64)
        self.state_action = np.asarray(state_action, dtype=np.float64)
        self.n_total = float(self.totals.sum())
        self.head = None

    def config(self, options):
        return {"method": self.name, "game": self.spec.name,
                "counts_digest": array_digest(self.counts, self.mean_field, self.state_action),
                "dynamics_digest": dynamics_digest(self.spec),
                "reward_kind": self.reward_kind,
                "hidden_sizes": ([int(h) for h in self.hidden_sizes]
                                 if self.reward_kind == "mlp" else None),
                "temperature": self.temperature, "learning_rate": self.learning_rate,
                "weight_decay": self.weight_decay, "tol": options.tol,
                "seed": options.seed_config()}

    def start(self, rng, resuming):
        self.head = make_head(self.spec, self.K, self.reward_kind, self.hidden_sizes, rng)
        self.decay_mask = self.head.decay_mask()
        return LoopState(arrays={"reward_params": self.head.get_flat()},
                         optimisers={"reward": Adam(lr=self.learning_rate)},
                         histories={"objective_history": [], "grad_norm_history": []}, rng=rng)

    def _step(self, params):
        self.head.set_flat(params)
        return reward_step(self.dyn_spec, self.head, self.model, self.mean_field,
                           self.state_action, self.counts, self.temperature, self.n_total,
                           self.backend)

    def evaluate(self, state):
        params = state.arrays["reward_params"]
        value, grad, _, _ = self._step(params)
        if self.weight_decay > 0.0:
            penalty, penalty_grad = l2_penalty(params, self.decay_mask, self.weight_decay)
            value, grad = value - penalty, grad - penalty_grad
        grad_norm = float(np.linalg.norm(grad))
        state.histories["objective_history"].append(value)
        state.histories["grad_norm_history"].append(grad_norm)
        return {"objective": value, "log_likelihood": value, "grad_norm": grad_norm}, grad

    def update(self, state, grad):
        state.optimisers["reward"].step(state.arrays["reward_params"], -grad)

    def measures(self, state):
        return {"gradient norm": state.histories["grad_norm_history"][-1]}

    def result(self, state, *, converged, seconds):
        _, _, reward, backward = self._step(state.arrays["reward_params"])
        objectives = np.array(state.histories["objective_history"])
        return IRLResult(
            method=self.name, head=copy_head(self.head), reward_params=self.head.get_flat(),
            posterior=None, assignments=None, prior=self.totals / self.n_total,
            mean_field=self.mean_field, state_action=self.state_action, reward=reward,
            policy=backward.policy, objective_history=objectives,
            log_likelihood_history=objectives.copy(),
            grad_norm_history=np.array(state.histories["grad_norm_history"]),
            converged=converged, num_iter=len(objectives), temperature=self.temperature,
            seconds=seconds)


# ---------------------------------------------------------------------------
# Fits.
# ---------------------------------------------------------------------------


def fit_reward(spec: MFGSpec, counts, mean_field, *, state_action=None,
               reward_kind: str = "linear", hidden_sizes=(32, 32), temperature: float = 1.0,
               max_iter: int = 500, learning_rate: float = 0.05, weight_decay: float = 0.0,
               tol: float = 1e-6, seed: int = 0, backend: str = "auto", warn: bool = True,
               checkpoint=None, checkpoint_every: int = 10, callback=None) -> IRLResult:
    r"""Exact MCE reward fit on fixed, labelled sufficient statistics.

    The reward update of the EM method (step 4 of the module docstring, the M-step) with the
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
    max_iter : int, default 500
        Iterations at most.
    learning_rate : float, default 0.05
        Adam step size (larger than the fits' 0.02: the objective is exact
        and smooth, with no posterior that moves under it).
    weight_decay : float, default 0.0
        :math:`\kappa \ge 0` of the prior :math:`\frac\kappa2\|M\omega\|^2`
        (as in :func:`fit_pemmfirl_em`).  0 by default, unlike the fits: exact
        counts carry no sampling noise for the mean-field weights to fit.
    tol : float, default 1e-6
        Convergence threshold on the gradient norm.
    seed : int, default 0
        MLP initialisation.
    backend : {"auto", "numpy", "numba", "cuda"}
    warn : bool, default True
        Warn (:class:`~tabmfirl.ConvergenceWarning`) when not converged.
    checkpoint : str or os.PathLike, optional
        Resumable checkpoint, as in :func:`fit_pemmfirl_em`.
    checkpoint_every : int, default 10
    callback : callable, optional
        ``callback(iteration, info)``, ``info`` with ``objective``,
        ``log_likelihood`` (the same) and ``grad_norm``.

    Returns
    -------
    IRLResult
    """
    method = RewardFit(spec, counts, mean_field, state_action, reward_kind=reward_kind,
                       hidden_sizes=hidden_sizes, temperature=temperature,
                       learning_rate=learning_rate, weight_decay=weight_decay, backend=backend)
    return run_fit(method, FitOptions(max_iter=max_iter, tol=tol, seed=seed, backend=backend,
                                      warn=warn, checkpoint=checkpoint,
                                      checkpoint_every=checkpoint_every, callback=callback))


def _run_exact(name, spec, demos, n_contexts, *, tol, seed, backend, warn, checkpoint,
               checkpoint_every, callback, max_iter, **settings):
    options = FitOptions(max_iter=max_iter, tol=tol, seed=seed, backend=backend, warn=warn,
                         checkpoint=checkpoint, checkpoint_every=checkpoint_every,
                         callback=callback)
    method = ExactLikelihoodFit(name, spec, demos, n_contexts, backend=backend, **settings)
    method.screen_tol = options.tol
    return run_fit(method, options)


def fit_pemmfirl_em(spec: MFGSpec, demos, n_contexts: int, *, reward_kind: str = "linear",
                 hidden_sizes=(32, 32), temperature: float = 1.0, max_iter: int = 300,
                 learning_rate: float = 0.02, mi_weight: float = 1.0, init: str = "screened",
                 init_smoothing: float = 0.2, n_warmup: int = 50,
                 weight_decay: float = 1.0, tol: float = 1e-6,
                 seed: int = 0, backend: str = "auto", warn: bool = True,
                 checkpoint=None, checkpoint_every: int = 10, callback=None) -> IRLResult:
    r"""EM multiple-intention MCE-IRL with a mean field and :math:`K` discrete types.

    Babeş-Vroman et al. (2011)'s EM mixture of IRL models with maximum causal
    entropy likelihoods and per-type empirical flows; not the paper's
    adversarial PEMMFIRL (:func:`tabmfirl.fit_pemmfirl`).  See the module
    docstring for the iteration (weighted statistics, model at the empirical
    flow, exact backward pass, MCE reward step as the M-step, tempered Bayes
    posterior as the E-step) and for what it shares with the paper.

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
    max_iter : int, default 300
        Iterations at most (one reward step and one posterior update each).
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
        :mod:`tabmfirl.irl._em`).
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
        configuration (every argument above except ``max_iter``, ``backend``
        and ``warn``, with digests of the game and of the trajectories).  If
        the file exists, the fit resumes from it, and the result is
        bit-identical to an uninterrupted run with the same backend; a
        checkpoint of a different configuration raises ``ValueError``.  A
        checkpoint that already holds ``max_iter`` or more iterations (or a
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
    return _run_exact("pemmfirl-em", spec, demos, n_contexts, mi_weight=mi_weight,
                      reward_kind=reward_kind, hidden_sizes=hidden_sizes,
                      temperature=temperature, max_iter=max_iter, learning_rate=learning_rate,
                      init=init, init_smoothing=init_smoothing, n_warmup=n_warmup,
                      weight_decay=weight_decay, tol=tol, seed=seed, backend=backend,
                      warn=warn, checkpoint=checkpoint, checkpoint_every=checkpoint_every,
                      callback=callback)


def fit_mfirl(spec: MFGSpec, demos, *, reward_kind: str = "linear", hidden_sizes=(32, 32),
              temperature: float = 1.0, max_iter: int = 300, learning_rate: float = 0.02,
              weight_decay: float = 1.0, tol: float = 1e-6, seed: int = 0, backend: str = "auto",
              warn: bool = True, checkpoint=None, checkpoint_every: int = 10,
              callback=None) -> IRLResult:
    r"""MFIRL baseline: one shared reward fitted on the pooled empirical flow.

    The same exact MCE update as :func:`fit_pemmfirl_em` with :math:`K = 1` and
    every trajectory of weight 1 (module docstring).  Parameters as in
    :func:`fit_pemmfirl_em`.

    Returns
    -------
    IRLResult
        With ``K = 1``: ``posterior`` is all ones.
    """
    return _run_exact("mfirl", spec, demos, 1, mi_weight=0.0, reward_kind=reward_kind,
                      hidden_sizes=hidden_sizes, temperature=temperature, max_iter=max_iter,
                      learning_rate=learning_rate, init="kmeans", init_smoothing=0.0,
                      n_warmup=0, weight_decay=weight_decay, tol=tol, seed=seed,
                      backend=backend, warn=warn, checkpoint=checkpoint,
                      checkpoint_every=checkpoint_every, callback=callback)


def fit_oracle(spec: MFGSpec, demos, *, reward_kind: str = "linear", hidden_sizes=(32, 32),
               temperature: float = 1.0, max_iter: int = 300, learning_rate: float = 0.02,
               weight_decay: float = 1.0, tol: float = 1e-6, seed: int = 0, backend: str = "auto",
               warn: bool = True, checkpoint=None, checkpoint_every: int = 10,
               callback=None) -> IRLResult:
    r"""Oracle baseline: the exact reward update given the true types.

    :func:`fit_pemmfirl_em`'s loop with the posterior fixed at the true labels,
    :math:`q_{jm} = \mathbb 1[m = m_j]` (``demos.types``), so each type is fitted
    on its own empirical flow and counts.  An upper reference for type
    inference, not a learner.  Parameters as in :func:`fit_pemmfirl_em`.

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
    return _run_exact("oracle", spec, demos, K, mi_weight=0.0, reward_kind=reward_kind,
                      hidden_sizes=hidden_sizes, temperature=temperature, max_iter=max_iter,
                      learning_rate=learning_rate, init="kmeans", init_smoothing=0.0,
                      n_warmup=0, weight_decay=weight_decay, tol=tol, seed=seed,
                      backend=backend, warn=warn, checkpoint=checkpoint,
                      checkpoint_every=checkpoint_every, callback=callback,
                      fixed_posterior=np.eye(K)[types])


def fit_two_stage(spec: MFGSpec, demos, n_contexts: int, *, reward_kind: str = "linear",
                  hidden_sizes=(32, 32), temperature: float = 1.0, max_iter: int = 300,
                  learning_rate: float = 0.02, weight_decay: float = 1.0, tol: float = 1e-6,
                  seed: int = 0, backend: str = "auto", warn: bool = True, checkpoint=None,
                  checkpoint_every: int = 10, callback=None) -> IRLResult:
    r"""Two-stage baseline: cluster the trajectories, then one MCE-IRL reward per cluster.

    Stage 1 labels each trajectory :math:`c_j` by the best of ten seeded EM
    fits of a mixture of :math:`K` stationary policies,
    :math:`p(\tau \mid c) = \prod_t \pi_c(a_t \mid s_t)` (the EM method's
    ``init="mixture"`` start, module docstring).  Stage 2 is
    :func:`fit_oracle`'s loop with the posterior fixed at those clusters,
    :math:`q_{jm} = \mathbb 1[m = c_j]`: each cluster's reward is fitted by the
    exact MCE step on the cluster's own counts and empirical flow.  The
    clusters are never revised (that is what the EM method adds).  A cluster
    left empty by stage 1 gets the pooled flow and no counts (its reward stays
    at the head's start).  Parameters as in :func:`fit_pemmfirl_em`.

    Returns
    -------
    IRLResult
        ``method="two-stage"``; ``assignments`` are the stage-1 clusters.
    """
    check_positive_int(n_contexts, "n_contexts")
    states, actions = trajectories(spec, demos)
    labels = policy_mixture_clusters(states, actions, n_contexts, spec.n_states, spec.n_actions,
                                     np.random.default_rng(seed))
    return _run_exact("two-stage", spec, demos, n_contexts, mi_weight=0.0,
                      reward_kind=reward_kind, hidden_sizes=hidden_sizes,
                      temperature=temperature, max_iter=max_iter, learning_rate=learning_rate,
                      init="kmeans", init_smoothing=0.0, n_warmup=0, weight_decay=weight_decay,
                      tol=tol, seed=seed, backend=backend, warn=warn, checkpoint=checkpoint,
                      checkpoint_every=checkpoint_every, callback=callback,
                      fixed_posterior=np.eye(n_contexts)[labels])


def _result_log_likelihood(spec: MFGSpec, result: IRLResult, demos, backend):
    r""":math:`\ell_{jm}` of ``demos`` under ``result``'s model, shape (N, K)."""
    if not isinstance(result, IRLResult):
        raise ValueError(f"result must be an IRLResult, got {type(result).__name__}")
    states, actions = trajectories(spec, demos)
    K = result.prior.shape[0]
    dyn_spec = learner_spec(spec, K)
    model = evaluate_model(dyn_spec, result.mean_field,
                           result.state_action if spec.mean_field_kind == "state_action"
                           else None, backend=backend)
    backward = soft_bellman_backward(model.with_reward(result.reward), result.temperature,
                                     backend=backend)
    return type_log_likelihood(dyn_spec, model, backward, states, actions, result.temperature)


def predict_types(spec: MFGSpec, result: IRLResult, demos, *, backend: str = "auto"):
    r"""Posterior :math:`q(m\mid\tau) \propto p(m)\exp(\ell_m(\tau))` of new trajectories.

    :math:`\ell_m` is the actions' causal log-likelihood, plus the dynamics'
    and initial state's when the game's types move or start differently
    (:func:`~tabmfirl.irl._likelihood.type_log_likelihood`).

    The EM method's encoder (its E-step) applied to trajectories not used in the fit, under
    the fitted model: the learned reward tables and the dynamics both frozen
    at the training flows ``result.mean_field`` (new agents of the same
    population face the same mean field).

    Parameters
    ----------
    spec : MFGSpec
        The dynamics the fit used.
    result : IRLResult
        From :func:`fit_pemmfirl_em`, :func:`fit_two_stage`, :func:`fit_mfirl` or :func:`fit_oracle`.
    demos : Demonstrations
        ``states (N, T+1)``, ``actions (N, T)``.
    backend : {"auto", "numpy", "numba", "cuda"}

    Returns
    -------
    ndarray, shape (N, K)
    """
    log_lik = _result_log_likelihood(spec, result, demos, resolve_backend(backend))
    return tempered_posterior(log_lik, result.prior, 1.0)[0]


def held_out_log_likelihood(spec: MFGSpec, result: IRLResult, demos, *,
                            backend: str = "auto") -> float:
    r"""Marginal causal log-likelihood per trajectory of held-out demonstrations.

    .. math:: \frac{1}{N}\sum_j \log \sum_m p(m)\, \exp\Big(\sum_t
              \log\pi^m_t(a^j_t\mid s^j_t) + d_{jm}\Big),

    with :math:`d_{jm}` the dynamics' and initial state's log-likelihood when
    the types move or start differently (0 otherwise; as in :func:`predict_types`),

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
    return tempered_posterior(log_lik, result.prior, 1.0)[1]
