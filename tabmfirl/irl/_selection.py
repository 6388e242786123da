r"""Choosing a fit's settings by cross-validated held-out likelihood of training agents.

A fit's hyperparameters (weight decay :math:`\kappa`, head kind, learning
rate, ...) must be chosen on the training demonstrations only, never on a
metric that needs the true reward (issue 15).  :func:`select_settings` does
it by :math:`F`-fold cross-validation over *agents*:

1. the :math:`N` training agents are split at random (``seed``) into
   :math:`F` folds of sizes differing by at most one (:func:`agent_folds`);
   an agent's whole trajectory is in one fold, never split between folds;
2. for each candidate setting :math:`c` and each fold :math:`f`, the fit is
   run on the agents of the other folds, giving rewards :math:`R^m_c`, a
   prior :math:`w_m` and per-type flows :math:`\hat\mu^m` (the fit's own
   flows: held-out agents of the same population face the same mean field);
3. each held-out agent :math:`j \in f` is scored by its marginal causal
   log-likelihood under that fit,

   .. math::

       s_{cj} = \log \sum_{m=1}^{K} w_m \exp(\ell_{jm}), \qquad
       \ell_{jm} = \sum_{t<T} \log \pi^m_t(a^j_t \mid s^j_t),

   with :math:`\pi^m = \exp((Q^m - V^m)/\beta)` the soft-optimal policy of
   :math:`R^m_c` at :math:`\hat\mu^m`
   (:func:`~tabmfirl.irl._likelihood.trajectory_log_likelihood`).

Every agent is held out exactly once, so each candidate gets :math:`N`
scores; its criterion is their mean :math:`\bar s_c` with the standard error
:math:`\mathrm{se}_c = \mathrm{sd}(s_{c\cdot}) / \sqrt N`.

**The choice.**  Let :math:`b = \arg\max_c \bar s_c`.  Trajectory
log-likelihoods vary across agents far more than across settings, and that
variation is shared by every candidate, so ties are judged on the *paired*
differences :math:`d_{cj} = s_{bj} - s_{cj}`: candidate :math:`c` ties with
:math:`b` when :math:`\bar d_c \le \mathrm{sd}(d_{c\cdot})/\sqrt N` (one
standard error of the difference).  Among the candidates that tie with
:math:`b` (:math:`b` included), the **first in the order given** is chosen:
list the candidates from the simplest / most regularised to the least (the
one-standard-error rule of Breiman et al. 1984, Hastie, Tibshirani &
Friedman 2009, section 7.10).

References
----------
Breiman, Friedman, Olshen & Stone (1984), *Classification and Regression
Trees*, section 3.4.3.  Hastie, Tibshirani & Friedman (2009), *The Elements
of Statistical Learning*, 2nd ed., section 7.10.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .._checks import check_positive_int
from ..game._spec import MFGSpec
from ..kernels._backend import resolve_backend
from ..solvers._model import evaluate_model
from ..solvers._soft_bellman import soft_bellman_backward
from ._learner import learner_spec, trajectories
from ._likelihood import trajectory_log_likelihood
from ._nn import logsumexp
from ._results import IRLResult

__all__ = ["SelectionResult", "agent_folds", "select_settings", "marginal_log_likelihood"]


@dataclass(frozen=True, eq=False)
class SelectionResult:
    r"""Cross-validated held-out log-likelihood of each candidate setting.

    Attributes
    ----------
    candidates : tuple of dict
        The settings, in the order given (simplest first).
    scores : ndarray, shape (C, N)
        :math:`s_{cj}`, held-out marginal log-likelihood of agent :math:`j`
        under the fit of candidate :math:`c` that did not see it.
    mean : ndarray, shape (C,)
        :math:`\bar s_c`.
    std_error : ndarray, shape (C,)
        :math:`\mathrm{sd}(s_{c\cdot})/\sqrt N`.
    difference : ndarray, shape (C,)
        :math:`\bar d_c = \bar s_b - \bar s_c \ge 0`.
    difference_std_error : ndarray, shape (C,)
        :math:`\mathrm{sd}(d_{c\cdot})/\sqrt N` (0 for :math:`b`).
    folds : ndarray of int64, shape (N,)
        Fold of each agent.
    best : int
        :math:`b`, the highest mean.
    chosen : int
        The first candidate within one paired standard error of :math:`b`.
    converged : ndarray of bool, shape (C, F)
        Whether each fold's fit met its convergence test.
    """

    candidates: tuple
    scores: np.ndarray
    mean: np.ndarray
    std_error: np.ndarray
    difference: np.ndarray
    difference_std_error: np.ndarray
    folds: np.ndarray
    best: int
    chosen: int
    converged: np.ndarray

    @property
    def choice(self) -> dict:
        """The chosen setting, ``candidates[chosen]``."""
        return dict(self.candidates[self.chosen])


def agent_folds(n_agents: int, n_folds: int, *, seed) -> np.ndarray:
    r"""Random split of ``n_agents`` agents into ``n_folds`` folds of near-equal size.

    Agent :math:`j` gets fold :math:`\mathrm{rank}_\sigma(j) \bmod F` for a
    uniform random permutation :math:`\sigma`, so fold sizes are
    :math:`\lfloor N/F\rfloor` or :math:`\lceil N/F\rceil`.

    Parameters
    ----------
    n_agents : int
        :math:`N \ge F`.
    n_folds : int
        :math:`F \ge 2`.
    seed : int or numpy.random.Generator

    Returns
    -------
    ndarray of int64, shape (N,)
        Values in ``[0, F)``, every fold non-empty.

    Raises
    ------
    ValueError
        If ``n_folds < 2`` or ``n_agents < n_folds``.

    Examples
    --------
    >>> np.bincount(agent_folds(10, 3, seed=0)).tolist()
    [4, 3, 3]
    """
    n_agents = check_positive_int(n_agents, "n_agents")
    n_folds = check_positive_int(n_folds, "n_folds", minimum=2)
    if n_agents < n_folds:
        raise ValueError(f"n_folds ({n_folds}) must not exceed the number of agents ({n_agents})")
    rng = np.random.default_rng(seed)
    folds = np.empty(n_agents, dtype=np.int64)
    folds[rng.permutation(n_agents)] = np.arange(n_agents) % n_folds
    return folds


def marginal_log_likelihood(spec: MFGSpec, result: IRLResult, demos, *,
                            backend: str = "auto") -> np.ndarray:
    r"""Per-trajectory marginal causal log-likelihood under a fitted model.

    .. math:: s_j = \log \sum_m w_m \exp\Big(\sum_t \log\pi^m_t(a^j_t\mid s^j_t)\Big),

    with the fit's prior :math:`w`, reward tables and flows (the held-out
    agents face the fit's mean field).  The mean over :math:`j` is
    :func:`tabmfirl.held_out_log_likelihood`.

    Parameters
    ----------
    spec : MFGSpec
        The dynamics the fit used.
    result : IRLResult
        An exact-likelihood fit (:func:`tabmfirl.fit_pemmfirl_em`,
        :func:`tabmfirl.fit_mfirl`, :func:`tabmfirl.fit_oracle`,
        :func:`tabmfirl.fit_two_stage`).
    demos : Demonstrations
        ``states (N, T+1)``, ``actions (N, T)``.
    backend : {"auto", "numpy", "numba", "cuda"}

    Returns
    -------
    ndarray, shape (N,)
        Each value :math:`\le 0`.
    """
    if not isinstance(result, IRLResult):
        raise ValueError(f"result must be an IRLResult, got {type(result).__name__}")
    backend = resolve_backend(backend)
    states, actions = trajectories(spec, demos)
    K = result.prior.shape[0]
    model = evaluate_model(learner_spec(spec, K), result.mean_field,
                           result.state_action if spec.mean_field_kind == "state_action"
                           else None, backend=backend)
    backward = soft_bellman_backward(model.with_reward(result.reward), result.temperature,
                                     backend=backend)
    log_lik = trajectory_log_likelihood(backward, states, actions, result.temperature)
    with np.errstate(divide="ignore"):
        log_prior = np.log(result.prior)
    return logsumexp(log_prior[None, :] + log_lik, axis=1)


def subset(demos, index):
    """The agents ``index`` of ``demos`` (same metadata)."""
    return dataclasses.replace(demos, states=np.ascontiguousarray(demos.states[index]),
                               actions=np.ascontiguousarray(demos.actions[index]),
                               types=np.ascontiguousarray(demos.types[index]))


def _check_candidates(candidates) -> tuple:
    if isinstance(candidates, dict) or not hasattr(candidates, "__len__"):
        raise ValueError("candidates must be a sequence of dicts of fit keyword arguments")
    candidates = tuple(candidates)
    if len(candidates) < 1:
        raise ValueError("candidates must hold at least one setting")
    for c in candidates:
        if not isinstance(c, dict):
            raise ValueError(f"every candidate must be a dict of fit keyword arguments, "
                             f"got {type(c).__name__}")
    return candidates


def _one_se_choice(scores: np.ndarray):
    """Best mean, paired differences to it and the first candidate that ties with it."""
    N = scores.shape[1]
    mean = scores.mean(axis=1)
    best = int(np.argmax(mean))
    d = scores[best][None, :] - scores
    diff = d.mean(axis=1)
    diff_se = d.std(axis=1, ddof=1) / np.sqrt(N) if N > 1 else np.zeros(len(scores))
    ties = np.flatnonzero(diff <= diff_se)
    return mean, best, diff, diff_se, int(ties[0])


def select_settings(spec: MFGSpec, demos, candidates, *, fit: Callable, n_folds: int = 5,
                    seed=0, backend: str = "auto", cache: dict | None = None,
                    **common) -> SelectionResult:
    r"""Choose among fit settings by :math:`F`-fold cross-validated held-out likelihood.

    See the module docstring for the folds, the score
    :math:`s_{cj} = \log\sum_m w_m \exp(\ell_{jm})` and the one-standard-error
    rule.  Only ``demos`` (training agents) are used; ``demos.types`` is read
    only if ``fit`` reads it (e.g. :func:`tabmfirl.fit_oracle`).

    Parameters
    ----------
    spec : MFGSpec
        The game's dynamics (its reward is ignored by the fits).
    demos : Demonstrations
        The training agents, :math:`N \ge F`.
    candidates : sequence of dict
        Keyword arguments of ``fit`` per candidate, **simplest / most
        regularised first** (ties go to the earliest).
    fit : callable
        ``fit(spec, demos, seed=seed, backend=backend, **common, **candidate)
        -> IRLResult``, e.g.
        :func:`tabmfirl.fit_pemmfirl_em` (with ``n_contexts`` in ``common``).
    n_folds : int, default 5
        :math:`F \ge 2`.
    seed : int, default 0
        Of the split (:func:`agent_folds`) and of every fit (``fit(...,
        seed=seed)``).
    backend : {"auto", "numpy", "numba", "cuda"}
        Of the fits and the scoring.
    cache : dict, optional
        ``(candidate index, fold) -> (scores of the fold's agents, converged)``;
        entries present are reused and new ones added (to resume a run).
    **common
        Keyword arguments passed to every fit (``n_contexts``,
        ``temperature``, ``max_iter``, ...).

    Returns
    -------
    SelectionResult

    Raises
    ------
    ValueError
        Empty or malformed ``candidates``, ``n_folds < 2`` or more folds than
        agents, a ``fit`` that is not callable or does not return an
        :class:`~tabmfirl.IRLResult`, or a non-finite held-out score.
    """
    candidates = _check_candidates(candidates)
    if not callable(fit):
        raise ValueError(f"fit must be callable, got {type(fit).__name__}")
    states, _ = trajectories(spec, demos)
    N = states.shape[0]
    folds = agent_folds(N, n_folds, seed=seed)
    cache = {} if cache is None else cache
    scores = np.empty((len(candidates), N))
    converged = np.zeros((len(candidates), n_folds), dtype=bool)
    for c, setting in enumerate(candidates):
        for f in range(n_folds):
            held = folds == f
            if (c, f) not in cache:
                result = fit(spec, subset(demos, np.flatnonzero(~held)), seed=seed,
                             backend=backend, **common, **setting)
                if not isinstance(result, IRLResult):
                    raise ValueError(f"fit must return an IRLResult, got {type(result).__name__}")
                cache[(c, f)] = (marginal_log_likelihood(spec, result,
                                                         subset(demos, np.flatnonzero(held)),
                                                         backend=backend),
                                 bool(result.converged))
            scores[c, held], converged[c, f] = cache[(c, f)]
    if not np.all(np.isfinite(scores)):
        bad = sorted({candidates[c].__repr__() for c in np.flatnonzero(
            ~np.all(np.isfinite(scores), axis=1))})
        raise ValueError(f"non-finite held-out log-likelihood for candidate(s) {', '.join(bad)}")
    mean, best, diff, diff_se, chosen = _one_se_choice(scores)
    std_error = scores.std(axis=1, ddof=1) / np.sqrt(N) if N > 1 else np.zeros(len(candidates))
    return SelectionResult(candidates=candidates, scores=scores, mean=mean, std_error=std_error,
                           difference=diff, difference_std_error=diff_se, folds=folds,
                           best=best, chosen=chosen, converged=converged)
