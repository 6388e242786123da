r"""Initial posteriors of the discrete-type fits: hard clusterings of the trajectories
(a mixture of stationary policies fitted by EM, or k-means++ on state-action
frequencies), smoothed, or Dirichlet draws (module docstring of :mod:`tabmfirl.irl._em`).
"""
from __future__ import annotations

import numpy as np

from ._nn import logsumexp

__all__ = ["INITIALISATIONS", "kmeans_labels", "policy_mixture_labels", "trajectory_counts",
           "policy_mixture_clusters", "initial_posterior"]

#: Single starts of the discrete-type fits.
INITIALISATIONS = ("mixture", "kmeans", "random")


def kmeans_labels(features, k, rng, n_iter=50):
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


def policy_mixture_labels(counts, K, rng, n_restarts=10, n_iter=200, pseudo_count=0.5):
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


def trajectory_counts(states, actions, n_states: int, n_actions: int):
    """Each trajectory's state-action counts ``counts[j, s, a]``, shape (N, S, A)."""
    N, T = actions.shape
    counts = np.zeros((N, n_states, n_actions))
    np.add.at(counts, (np.repeat(np.arange(N), T), states[:, :T].ravel(), actions.ravel()),
              1.0)
    return counts


def policy_mixture_clusters(states, actions, K, n_states, n_actions, rng):
    """Hard clusters ``(N,)`` of the trajectories by a mixture of ``K`` stationary policies.

    :func:`policy_mixture_labels` on :func:`trajectory_counts`; all zeros for
    ``K = 1``.
    """
    if K == 1:
        return np.zeros(actions.shape[0], dtype=np.int64)
    return policy_mixture_labels(trajectory_counts(states, actions, n_states, n_actions), K, rng)


def initial_posterior(states, actions, K, S, A, init, smoothing, rng):
    r"""Initial posterior ``(N, K)`` of the start ``init`` (module docstring).

    :math:`q^{(0)}_{jm} = (1-\varepsilon)\mathbb 1[m = c_j] + \varepsilon/K` with
    :math:`c_j` the cluster of trajectory :math:`j` (``"mixture"``,
    ``"kmeans"``) and :math:`\varepsilon` = ``smoothing``; Dirichlet(1) draws
    for ``"random"``; all ones for :math:`K = 1`.
    """
    N, T = actions.shape
    if K == 1:
        return np.ones((N, 1))
    if init not in INITIALISATIONS:
        raise ValueError(f"init must be one of {INITIALISATIONS}, got {init!r}")
    if init == "random":
        return rng.dirichlet(np.ones(K), size=N)
    counts = trajectory_counts(states, actions, S, A)
    if init == "mixture":
        labels = policy_mixture_labels(counts, K, rng)
    else:
        labels = kmeans_labels(counts.reshape(N, S * A) / T, K, rng)
    return (1.0 - smoothing) * np.eye(K)[labels] + smoothing / K


