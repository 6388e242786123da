r"""Adversarial reward fit with exact expectations on fixed, labelled counts (infinite data).

:func:`fit_reward_adversarial` (:class:`AdversarialRewardFit`) runs the exact
discriminator loss of :mod:`tabmfirl.irl._adversarial_exact` on fixed
sufficient statistics: per-type counts :math:`C^m_t(s,a)` (e.g. an expert
equilibrium's expected counts :math:`W_m L^E_t(s,a\mid m)`) and the flow
:math:`\hat\mu` at which the dynamics and the reward are read.  The experts'
transition weights are :math:`e^m_t(s,a,s') = C^m_t(s,a)\,P^m_t(s'\mid s,a) /
(NT)` (their next states integrated out under the known transitions: infinite
data), the generator's :math:`g^m_t(s,a,s') = p(m)\rho^m_t(s,a) P^m_t(s'\mid
s,a)/T` with :math:`\rho^m` the exact occupancy of the soft best response to
the current reward, :math:`p(m) = W_m/N`; reward head and potential take one
Adam step on :math:`L_D + \frac\kappa2\|\omega\|^2` per iteration.  The
adversarial counterpart of :func:`tabmfirl.fit_reward` (the exact maximum
causal entropy step on the same statistics): it tests whether the adversarial
objective recovers a reward when data are not the problem (module docstring
of :mod:`tabmfirl.irl._adversarial_exact`, *Why the exact loss can recover the
reward*).  Deterministic; the only random draw is an MLP head's
initialisation (``seed``).
"""
from __future__ import annotations

import numpy as np

from .._checks import check_choice, check_positive_float, check_temperature
from .._io import array_digest
from ..game._spec import MFGSpec
from ..kernels._backend import resolve_backend
from ..solvers._model import evaluate_model
from ..solvers._soft_bellman import soft_bellman_backward
from ._adversarial import AdversarialResult
from ._adversarial_exact import SHAPINGS, exact_discriminator_loss, generator_weights, shaping_table
from ._checkpoint import LoopState
from ._driver import FitMethod, FitOptions, l2_penalty, run_fit
from ._heads import ShapingHead
from ._learner import copy_head, dynamics_digest, learner_spec, make_head, observed_mean_field
from ._nn import Adam

__all__ = ["AdversarialRewardFit", "fit_reward_adversarial", "copy_shaping"]


def _check_counts(spec, counts, mean_field, state_action):
    counts = np.ascontiguousarray(counts, dtype=np.float64)
    T, S, A = spec.horizon, spec.n_states, spec.n_actions
    if counts.ndim != 4 or counts.shape[1:] != (T, S, A):
        raise ValueError(f"counts must have shape (K, {T}, {S}, {A}), got {counts.shape}")
    if np.any(counts < 0) or not np.all(np.isfinite(counts)):
        raise ValueError("counts must be finite and non-negative")
    K = counts.shape[0]
    totals = counts[:, 0].sum(axis=(-2, -1))
    if np.any(totals <= 0):
        raise ValueError("every type needs positive counts")
    mean_field = np.ascontiguousarray(mean_field, dtype=np.float64)
    if mean_field.shape != (K, T + 1, S):
        raise ValueError(f"mean_field must have shape {(K, T + 1, S)}, got {mean_field.shape}")
    if state_action is None:
        state_action = counts / totals[:, None, None, None]
    state_action = np.ascontiguousarray(state_action, dtype=np.float64)
    if state_action.shape != counts.shape:
        raise ValueError(f"state_action must have shape {counts.shape}, got "
                         f"{state_action.shape}")
    return counts, totals, mean_field, state_action


class AdversarialRewardFit(FitMethod):
    """The exact discriminator step on fixed counts (:func:`fit_reward_adversarial`)."""

    name = "reward-adversarial"

    def __init__(self, spec, counts, mean_field, state_action, *, shaping, reward_kind,
                 hidden_sizes, temperature, learning_rate, weight_decay, backend):
        self.spec = spec
        self.temperature = check_temperature(temperature, allow_zero=False)
        self.learning_rate = check_positive_float(learning_rate, "learning_rate")
        self.weight_decay = check_positive_float(weight_decay, "weight_decay", allow_zero=True)
        self.shaping_kind = check_choice(shaping, "shaping", SHAPINGS)
        self.backend = resolve_backend(backend)
        self.reward_kind, self.hidden_sizes = reward_kind, hidden_sizes
        self.counts, totals, self.mean_field, self.state_action = _check_counts(
            spec, counts, mean_field, state_action)
        self.K = self.counts.shape[0]
        self.n_total = float(totals.sum())
        self.prior = totals / self.n_total
        self.dyn_spec = learner_spec(spec, self.K)
        self.model = evaluate_model(self.dyn_spec, self.mean_field,
                                    self.state_action if spec.mean_field_kind == "state_action"
                                    else None, backend=self.backend)
        self.observed = observed_mean_field(self.dyn_spec, self.mean_field, self.state_action)
        self.transition = self.model.dense_transition()
        T = spec.horizon
        expert = self.counts / (self.n_total * T)              # (K, T, S, A), sums to 1
        self.state_potential = self.shaping_kind == "state"
        self.expert = expert[..., None] * self.transition if self.state_potential else expert
        self.head = None

    def config(self, options):
        return {"method": self.name, "game": self.spec.name,
                "counts_digest": array_digest(self.counts, self.mean_field, self.state_action),
                "dynamics_digest": dynamics_digest(self.spec),
                "shaping": self.shaping_kind, "reward_kind": self.reward_kind,
                "hidden_sizes": ([int(h) for h in self.hidden_sizes]
                                 if self.reward_kind == "mlp" else None),
                "temperature": self.temperature, "learning_rate": self.learning_rate,
                "weight_decay": self.weight_decay, "tol": options.tol,
                "seed": options.seed_config()}

    def start(self, rng, resuming):
        K, T, S = self.K, self.spec.horizon, self.spec.n_states
        self.head = make_head(self.spec, K, self.reward_kind, self.hidden_sizes, rng)
        self.potential = ShapingHead(S, n_contexts=K)
        n_shaping = K * S if self.state_potential else K * T * S
        return LoopState(arrays={"reward_params": self.head.get_flat(),
                                 "shaping_params": np.zeros(n_shaping)},
                         optimisers={"reward": Adam(lr=self.learning_rate),
                                     "shaping": Adam(lr=self.learning_rate)},
                         histories={name: [] for name in (
                             "objective_history", "log_likelihood_history",
                             "grad_norm_history")}, rng=rng)

    def _shaping(self, h_params):
        K, T, S = self.K, self.spec.horizon, self.spec.n_states
        return h_params.reshape((K, S) if self.state_potential else (K, T, S))

    def _step(self, params, h_params):
        """Reward tables, generator, exact loss and the parameter gradients."""
        T = self.spec.horizon
        self.head.set_flat(params)
        reward = self.head.reward_tables(self.observed)
        model_r = self.model.with_reward(reward)
        backward = soft_bellman_backward(model_r, self.temperature, backend=self.backend)
        log_pi = (backward.q - backward.value[:, :T, :, None]) / self.temperature
        generator, _ = generator_weights(model_r, backward.policy,
                                         self.dyn_spec.initial_distribution, self.prior,
                                         state_potential=self.state_potential,
                                         backend=self.backend)
        loss, g_r, g_h = exact_discriminator_loss(
            reward, self._shaping(h_params), log_pi, self.expert, generator, self.temperature,
            transition=None if self.state_potential else self.transition)
        grad = self.head.reward_tables_vjp(self.observed, g_r)
        log_lik = float(np.sum(self.counts * log_pi)) / self.n_total
        return loss, grad, g_h.ravel(), log_lik, reward, backward

    def evaluate(self, state):
        params = state.arrays["reward_params"]
        loss, grad, grad_h, log_lik, _, _ = self._step(params, state.arrays["shaping_params"])
        penalty, penalty_grad = l2_penalty(params, 1.0, self.weight_decay)
        loss, grad = loss + penalty, grad + penalty_grad
        grad_norm = float(np.sqrt(grad @ grad + grad_h @ grad_h))
        for name, record in (("objective_history", loss), ("log_likelihood_history", log_lik),
                             ("grad_norm_history", grad_norm)):
            state.histories[name].append(record)
        return ({"objective": loss, "loss": loss, "log_likelihood": log_lik,
                 "grad_norm": grad_norm}, (grad, grad_h))

    def update(self, state, pending):
        grad, grad_h = pending
        state.optimisers["reward"].step(state.arrays["reward_params"], grad)
        state.optimisers["shaping"].step(state.arrays["shaping_params"], grad_h)

    def measures(self, state):
        return {"gradient norm": state.histories["grad_norm_history"][-1]}

    def result(self, state, *, converged, seconds):
        K, T, S = self.K, self.spec.horizon, self.spec.n_states
        h_params = state.arrays["shaping_params"]
        *_, reward, backward = self._step(state.arrays["reward_params"], h_params)
        if self.state_potential:
            self.potential.set_flat(h_params)
            shaping = copy_shaping(self.potential)
        else:
            shaping = shaping_table(h_params, K, T, S)
        histories = {name: np.array(values) for name, values in state.histories.items()}
        return AdversarialResult(
            method=self.name, head=copy_head(self.head), reward_params=self.head.get_flat(),
            posterior=None, assignments=None, prior=self.prior, mean_field=self.mean_field,
            state_action=self.state_action, reward=reward, policy=backward.policy,
            **histories, converged=converged, num_iter=len(histories["objective_history"]),
            temperature=self.temperature, seconds=seconds, shaping=shaping, encoder=None,
            mi_history=np.zeros(len(histories["objective_history"])), expectation="exact")


def copy_shaping(potential: ShapingHead) -> ShapingHead:
    """A copy of a discrete-type :class:`~tabmfirl.ShapingHead`."""
    copy = ShapingHead(potential.n_states, n_contexts=potential.n_contexts)
    copy.set_flat(potential.get_flat())
    return copy


def fit_reward_adversarial(spec: MFGSpec, counts, mean_field, *, state_action=None,
                           shaping: str = "expected", reward_kind: str = "linear",
                           hidden_sizes=(32, 32), temperature: float = 1.0,
                           max_iter: int = 2000, learning_rate: float = 0.05,
                           weight_decay: float = 0.0, tol: float = 1e-6, seed: int = 0,
                           backend: str = "auto", warn: bool = True, checkpoint=None,
                           checkpoint_every: int = 10, callback=None):
    r"""Adversarial (AIRL) reward fit with exact expectations on fixed, labelled counts.

    The discriminator step of adversarial PEMMFIRL with ``expectation="exact"``
    (:mod:`tabmfirl.irl._adversarial_reward`) on given
    per-type counts :math:`C^m_t(s,a)` and the flow :math:`\hat\mu` at which
    the dynamics and the reward are read: the experts' transitions are
    :math:`C^m_t(s,a) P^m_t(s'\mid s,a)` (infinite data), the generator is the
    exact soft best response, and reward and potential descend the exact
    loss with Adam.  The adversarial counterpart of
    :func:`tabmfirl.fit_reward`; with the experts' exact expected counts it
    tests whether the adversarial objective recovers the reward.

    Parameters
    ----------
    spec : MFGSpec
        Dynamics and :math:`\mu_0` (the reward is ignored).
    counts : ndarray, shape (K, T, S, A)
        Non-negative; :math:`W_m = \sum_{s,a} C^m_0(s,a)`, :math:`p(m) = W_m /
        \sum_k W_k`.
    mean_field : ndarray, shape (K, T+1, S)
    state_action : ndarray, shape (K, T, S, A), optional
        Default ``counts / W_m``.
    shaping : {"expected", "state"}
        The expected potential :math:`h_t(s, m)` (default: with it the true
        reward and :math:`h = V^*` are an optimum of the discriminator), or
        AIRL's state potential :math:`h(s, m)`.
    reward_kind : {"linear", "additive", "mlp"}
    hidden_sizes : tuple of int
        MLP head only.
    temperature : float, default 1.0
    max_iter : int, default 2000
    learning_rate : float, default 0.05
        Adam step size of the reward head and of the potential.
    weight_decay : float, default 0.0
        :math:`\kappa \ge 0` of :math:`\frac\kappa2\|\omega\|^2` on every weight.
    tol : float, default 1e-6
        Converged (and stopped) when the norm of the gradient w.r.t. the
        reward head's and the potential's parameters is below ``tol``.
    seed : int, default 0
        MLP initialisation.
    backend : {"auto", "numpy", "numba", "cuda"}
    warn : bool, default True
        Warn (:class:`~tabmfirl.ConvergenceWarning`) when not converged.
    checkpoint : str or os.PathLike, optional
        Resumable checkpoint, as in :func:`tabmfirl.fit_reward`.
    checkpoint_every : int, default 10
    callback : callable, optional
        ``callback(iteration, info)``, ``info`` with ``objective`` and
        ``loss`` (both :math:`L_D` plus the penalty), ``log_likelihood``
        (:math:`\frac1N\sum C\log\pi`, monitored) and ``grad_norm``.

    Returns
    -------
    AdversarialResult
        ``method="reward-adversarial"``, ``posterior=None``; ``shaping`` the
        learned potential.

    Examples
    --------
    >>> from tabmfirl import envs, solve_equilibrium
    >>> spec = envs.make("left_right", types=1, horizon=3)
    >>> eq = solve_equilibrium(spec, backend="numpy")
    >>> res = fit_reward_adversarial(spec, 10 * eq.state_action, eq.mean_field, max_iter=5,
    ...                              backend="numpy", warn=False)
    >>> res.reward.shape, res.shaping.shape
    ((1, 3, 3, 2), (1, 4, 3))
    """
    method = AdversarialRewardFit(spec, counts, mean_field, state_action, shaping=shaping,
                                  reward_kind=reward_kind, hidden_sizes=hidden_sizes,
                                  temperature=temperature, learning_rate=learning_rate,
                                  weight_decay=weight_decay, backend=backend)
    return run_fit(method, FitOptions(max_iter=max_iter, tol=tol, seed=seed, backend=backend,
                                      warn=warn, checkpoint=checkpoint,
                                      checkpoint_every=checkpoint_every, callback=callback))
