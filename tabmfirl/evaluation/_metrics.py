r"""Metrics of a learned reward: equilibrium deviations and type recovery.

These are the metrics of the design notes (section 5), computed **per type and
then averaged** over the true types.  Notation: the expert equilibrium
:math:`(\pi^E, \mu^E)` solves the game with the true reward; the learned
equilibrium :math:`(\pi^L, \mu^L)` solves the same dynamics with the learned
reward (each true type :math:`m` using the learned type matched to it, see
:func:`match_types`).  Flows have :math:`T+1` rows, policies :math:`T`.

Return deviation (per type :math:`m`)
    .. math:: \Delta J_m = \big|J^{\mathrm{true}}_m(\pi^L, \mu^L)
              - J^{\mathrm{true}}_m(\pi^E, \mu^E)\big|,

    where :math:`J^{\mathrm{true}}_m(\pi, \mu) = \sum_s \mu_0(s) V^{\pi}_0(s)`
    is the return of :math:`\pi` under the **true** reward with the model
    frozen at :math:`\mu = \Phi(\pi)`, the flow of :math:`\pi` itself
    (:func:`tabmfirl.regularised_return`).  By default the plain expected
    return (``temperature=0``: no entropy bonus); pass the game's temperature
    for the entropy-regularised return.

Mean field deviation
    .. math:: D^\mu_m = \sum_{t=0}^{T} \mathrm{KL}\big(\mu^E_t(\cdot\mid m)
              \,\|\, \mu^L_t(\cdot\mid m)\big), \qquad
              \mathrm{KL}(p\|q) = \sum_s p(s) \log\frac{p(s)}{q(s)}

    (terms with :math:`p(s) = 0` are 0; :math:`q(s) = 0 < p(s)` gives
    ``inf``).  The :math:`t = 0` term is 0 since both flows start at
    :math:`\mu_0`.

Policy deviation
    .. math:: D^\pi_m = \sum_{t=0}^{T-1} \sum_s \mu^E_t(s\mid m)\,
              \mathrm{KL}\big(\pi^E_t(\cdot\mid s, m) \,\|\, \pi^L_t(\cdot\mid s, m)\big),

    the expected per-step KL along the expert's flow (states the expert never
    visits do not count).

Type recovery
    The adjusted Rand index (Hubert & Arabie 1985) and the normalised mutual
    information between the true types and the assignments
    :math:`\hat m_j = \arg\max_m q(m\mid\tau_j)`; see
    :func:`adjusted_rand_index` and :func:`normalized_mutual_information`.

The learned equilibrium is solved by :func:`tabmfirl.solve_equilibrium` (the
core solver) on the true dynamics with the learned reward: see
:func:`evaluate_reward`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..game._spec import MFGSpec
from ..irl._learner import trajectories
from ..irl._likelihood import type_log_likelihood
from ..solvers._equilibrium import EquilibriumResult, solve_equilibrium
from ..solvers._exploitability import exploitability, regularised_return
from ..solvers._model import evaluate_model
from ..solvers._soft_bellman import soft_bellman_backward
from ._learned_game import learned_game
from ._shaping import reward_error_up_to_shaping

__all__ = ["kl_divergence", "return_deviation", "mean_field_deviation", "policy_deviation",
           "adjusted_rand_index", "normalized_mutual_information", "contingency_table",
           "match_types", "RewardEvaluation", "evaluate_reward", "bayes_log_likelihood"]


# ---------------------------------------------------------------------------
# Pure metrics.
# ---------------------------------------------------------------------------


def kl_divergence(p, q, *, axis=-1):
    r"""Kullback-Leibler divergence :math:`\sum_i p_i \log(p_i / q_i)` along ``axis``.

    Terms with :math:`p_i = 0` are 0; :math:`q_i = 0 < p_i` gives ``inf``.

    Parameters
    ----------
    p, q : array_like, same shape
        Probability vectors along ``axis``.
    axis : int, default -1

    Returns
    -------
    ndarray
        ``p.shape`` without ``axis``.

    Examples
    --------
    >>> float(kl_divergence([0.5, 0.5], [0.25, 0.75]))  # 0.5 log 2 + 0.5 log(2/3)
    0.14384103622589045
    """
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    if p.shape != q.shape:
        raise ValueError(f"p and q must have the same shape, got {p.shape} and {q.shape}")
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * (np.log(np.where(p > 0, p, 1.0)) - np.log(q)), 0.0)
    return terms.sum(axis=axis)


def _check_flows(a, b, name_a, name_b, ndim):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.ndim != ndim or a.shape != b.shape:
        axes = "(K, T+1, S)" if ndim == 3 else "(K, T, S, A)"
        raise ValueError(f"{name_a} and {name_b} must both have shape {axes} (one row per "
                         f"type; add a leading axis for one type), got {a.shape} and {b.shape}")
    return a, b


def mean_field_deviation(expert_mean_field, learned_mean_field):
    r"""Per-type :math:`\sum_t \mathrm{KL}(\mu^E_t \| \mu^L_t)` (module docstring).

    Parameters
    ----------
    expert_mean_field, learned_mean_field : ndarray, shape (K, T+1, S)

    Returns
    -------
    ndarray, shape (K,)

    Examples
    --------
    >>> mu_e = np.array([[[1.0, 0.0], [0.5, 0.5]]])
    >>> mu_l = np.array([[[1.0, 0.0], [0.25, 0.75]]])
    >>> mean_field_deviation(mu_e, mu_l)
    array([0.14384104])
    """
    mu_e, mu_l = _check_flows(expert_mean_field, learned_mean_field, "expert_mean_field",
                              "learned_mean_field", 3)
    return kl_divergence(mu_e, mu_l).sum(axis=1)


def policy_deviation(expert_mean_field, expert_policy, learned_policy):
    r"""Per-type :math:`\sum_t\sum_s \mu^E_t(s)\,\mathrm{KL}(\pi^E_t(\cdot|s)\|\pi^L_t(\cdot|s))`.

    Parameters
    ----------
    expert_mean_field : ndarray, shape (K, T+1, S) or (K, T, S)
        :math:`\mu^E`; only the first ``T`` rows are read.
    expert_policy, learned_policy : ndarray, shape (K, T, S, A)

    Returns
    -------
    ndarray, shape (K,)

    Examples
    --------
    >>> mu = np.array([[[0.5, 0.5], [1.0, 0.0]]])         # K=1, T+1=2, S=2
    >>> pi_e = np.array([[[[0.5, 0.5], [1.0, 0.0]]]])     # K=1, T=1, S=2, A=2
    >>> pi_l = np.array([[[[0.25, 0.75], [0.5, 0.5]]]])
    >>> policy_deviation(mu, pi_e, pi_l)                   # 0.5 * 0.1438 + 0.5 * log 2
    array([0.41849411])
    """
    pi_e, pi_l = _check_flows(expert_policy, learned_policy, "expert_policy",
                              "learned_policy", 4)
    K, T, S, _ = pi_e.shape
    mu = np.asarray(expert_mean_field, dtype=np.float64)
    if mu.ndim != 3 or mu.shape[0] != K or mu.shape[2] != S or mu.shape[1] not in (T, T + 1):
        raise ValueError(f"expert_mean_field must have shape ({K}, {T + 1}, {S}) or "
                         f"({K}, {T}, {S}), got {mu.shape}")
    kl = kl_divergence(pi_e, pi_l)                                   # (K, T, S)
    with np.errstate(invalid="ignore"):
        terms = np.where(mu[:, :T] > 0, mu[:, :T] * kl, 0.0)
    return terms.sum(axis=(1, 2))


def return_deviation(spec: MFGSpec, expert_policy, learned_policy, *,
                     temperature: float = 0.0, backend: str = "auto"):
    r"""Per-type :math:`|J^{\mathrm{true}}(\pi^L, \mu^L) - J^{\mathrm{true}}(\pi^E, \mu^E)|`.

    Each policy is scored with the reward of ``spec`` (the true one) along its
    own flow in the dynamics of ``spec`` (:func:`tabmfirl.regularised_return`
    with ``mean_field=None``).

    Parameters
    ----------
    spec : MFGSpec
        The game with the true reward.
    expert_policy, learned_policy : ndarray, shape (K, T, S, A)
    temperature : float, default 0.0
        0: plain expected return; :math:`\beta > 0`: entropy-regularised.
    backend : {"auto", "numpy", "numba", "cuda"}

    Returns
    -------
    ndarray, shape (K,)
    """
    expert = regularised_return(spec, expert_policy, temperature=temperature, backend=backend)
    learned = regularised_return(spec, learned_policy, temperature=temperature,
                                 backend=backend)
    return np.abs(learned - expert)


def _labels(x, name):
    x = np.asarray(x)
    if x.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of labels, got shape {x.shape}")
    if x.size and (x.dtype == np.bool_ or not np.issubdtype(x.dtype, np.integer)):
        raise ValueError(f"{name} must hold integer labels, got dtype {x.dtype}")
    return x


def contingency_table(labels_true, labels_pred):
    """Counts ``n[i, j]`` of items with the ``i``-th true and ``j``-th predicted label.

    Rows and columns follow the sorted distinct labels (``np.unique``).

    Parameters
    ----------
    labels_true, labels_pred : array_like of int, shape (N,)

    Returns
    -------
    ndarray of int64, shape (n_true_labels, n_pred_labels)

    Examples
    --------
    >>> contingency_table([0, 0, 1, 1], [1, 1, 1, 0])
    array([[0, 2],
           [1, 1]])
    """
    a = _labels(labels_true, "labels_true")
    b = _labels(labels_pred, "labels_pred")
    if a.shape != b.shape:
        raise ValueError(f"labels_true and labels_pred must have the same length, "
                         f"got {a.size} and {b.size}")
    _, ia = np.unique(a, return_inverse=True)
    _, ib = np.unique(b, return_inverse=True)
    n_a = int(ia.max()) + 1 if ia.size else 0
    n_b = int(ib.max()) + 1 if ib.size else 0
    table = np.zeros((n_a, n_b), dtype=np.int64)
    np.add.at(table, (ia, ib), 1)
    return table


def _pairs(n):
    n = np.asarray(n, dtype=np.float64)
    return n * (n - 1.0) / 2.0


def adjusted_rand_index(labels_true, labels_pred) -> float:
    r"""Adjusted Rand index of two partitions (Hubert & Arabie 1985).

    From the contingency table :math:`n_{ij}` with row sums :math:`a_i`,
    column sums :math:`b_j` and :math:`n` items:

    .. math::

        \mathrm{ARI} = \frac{\sum_{ij}\binom{n_{ij}}{2} - E}
                            {\tfrac12\big[\sum_i\binom{a_i}{2} + \sum_j\binom{b_j}{2}\big] - E},
        \qquad E = \frac{\sum_i\binom{a_i}{2}\sum_j\binom{b_j}{2}}{\binom{n}{2}}.

    1 for identical partitions (up to relabelling), about 0 for independent
    ones, negative when worse than chance.  When the denominator is 0 (e.g.
    both partitions put everything in one cluster, or fewer than 2 items) the
    partitions agree on every pair and 1.0 is returned (the convention of
    scikit-learn's ``adjusted_rand_score``).

    Parameters
    ----------
    labels_true, labels_pred : array_like of int, shape (N,)

    Returns
    -------
    float

    Examples
    --------
    >>> adjusted_rand_index([0, 0, 1, 1], [1, 1, 0, 0])
    1.0
    >>> round(adjusted_rand_index([0, 0, 1, 1], [0, 0, 1, 2]), 12)  # (1 - 1/3) / (3/2 - 1/3)
    0.571428571429
    """
    table = contingency_table(labels_true, labels_pred)
    n = table.sum()
    sum_cells = _pairs(table).sum()
    sum_rows = _pairs(table.sum(axis=1)).sum()
    sum_cols = _pairs(table.sum(axis=0)).sum()
    total = _pairs(n)
    if total == 0:
        return 1.0
    expected = sum_rows * sum_cols / total
    maximum = 0.5 * (sum_rows + sum_cols)
    if maximum == expected:
        return 1.0
    return float((sum_cells - expected) / (maximum - expected))


def normalized_mutual_information(labels_true, labels_pred) -> float:
    r"""Normalised mutual information of two partitions (arithmetic normalisation).

    From the contingency table :math:`n_{ij}` (:math:`n` items, marginals
    :math:`a_i, b_j`):

    .. math::

        I = \sum_{ij} \frac{n_{ij}}{n} \log\frac{n\, n_{ij}}{a_i b_j}, \qquad
        H_U = -\sum_i \frac{a_i}{n}\log\frac{a_i}{n}, \qquad
        \mathrm{NMI} = \frac{I}{(H_U + H_V)/2},

    in :math:`[0, 1]`, 1 for identical partitions up to relabelling.  Two
    partitions with one cluster each give 1.0; otherwise :math:`I = 0` gives
    0.0 (the conventions of scikit-learn's ``normalized_mutual_info_score``).

    Parameters
    ----------
    labels_true, labels_pred : array_like of int, shape (N,)

    Returns
    -------
    float

    Examples
    --------
    >>> normalized_mutual_information([0, 0, 1, 1], [1, 1, 0, 0])
    1.0
    >>> round(normalized_mutual_information([0, 0, 1, 1], [0, 0, 0, 1]), 12)
    0.343711018485
    """
    table = contingency_table(labels_true, labels_pred).astype(np.float64)
    n = table.sum()
    if n == 0 or (table.shape[0] == 1 and table.shape[1] == 1):
        return 1.0
    p = table / n
    pa = p.sum(axis=1)
    pb = p.sum(axis=0)
    nz = p > 0
    mutual = float(np.sum(p[nz] * np.log(p[nz] / np.outer(pa, pb)[nz])))
    if mutual <= 0.0:
        return 0.0
    entropy_a = -float(np.sum(pa * np.log(pa)))
    entropy_b = -float(np.sum(pb * np.log(pb)))
    return float(min(1.0, mutual / (0.5 * (entropy_a + entropy_b))))


def match_types(true_types, assignments, n_contexts: int, n_types: Optional[int] = None):
    r"""Learned context matched to each true type (for scoring only).

    Maximises the number of agents whose assignment agrees with the matched
    true type (the Hungarian algorithm on the contingency table,
    ``scipy.optimize.linear_sum_assignment``).  With fewer learned contexts
    than true types (e.g. MFIRL's single shared reward), the unmatched true
    types take the learned context most of their agents were assigned to.

    Parameters
    ----------
    true_types : ndarray of int, shape (N,)
        In ``[0, n_types)``.
    assignments : ndarray of int, shape (N,)
        Learned contexts in ``[0, n_contexts)``.
    n_contexts : int
        :math:`K_L`, number of learned contexts.
    n_types : int, optional
        Number of true types; default ``max(true_types) + 1``.

    Returns
    -------
    type_map : ndarray of int64, shape (n_types,)
        ``type_map[k]`` is the learned context used for true type ``k``.

    Examples
    --------
    >>> match_types([0, 0, 1, 1, 2], [2, 2, 0, 0, 1], 3)
    array([2, 0, 1])
    >>> match_types([0, 1, 2], [0, 0, 0], 1)
    array([0, 0, 0])
    """
    from scipy.optimize import linear_sum_assignment

    a = _labels(true_types, "true_types").astype(np.int64)
    b = _labels(assignments, "assignments").astype(np.int64)
    if a.shape != b.shape:
        raise ValueError("true_types and assignments must have the same length")
    n_types = int(a.max()) + 1 if n_types is None else int(n_types)
    if a.size and (a.min() < 0 or a.max() >= n_types):
        raise ValueError(f"true_types must lie in [0, {n_types})")
    if b.size and (b.min() < 0 or b.max() >= n_contexts):
        raise ValueError(f"assignments must lie in [0, {n_contexts})")
    table = np.zeros((n_types, n_contexts), dtype=np.int64)
    np.add.at(table, (a, b), 1)
    type_map = table.argmax(axis=1)
    rows, cols = linear_sum_assignment(-table)
    type_map[rows] = cols
    return type_map.astype(np.int64)


def bayes_log_likelihood(spec: MFGSpec, expert: EquilibriumResult, demos, *,
                         temperature: float, backend: str = "auto"):
    r"""Scores of the Bayes classifier of types: each trajectory's log-likelihood per type.

    .. math::

        \log p(\tau_j \mid m) = \sum_{t} \log\pi^{E,m}_t(a^j_t \mid s^j_t)
        + \mathbb 1[\text{types move differently}]\Big(\log\mu_0(s^j_0 \mid m)
        + \sum_t \log P^m_t(s^j_{t+1} \mid s^j_t, a^j_t, \nu^{E,m}_t)\Big),

    under the *true* equilibrium (its policies :math:`\pi^E` and the dynamics
    evaluated along its flow, ``expert.model``); the dynamics term enters only
    when ``spec`` gives its types their own transition or initial
    distribution (it cancels otherwise,
    :func:`~tabmfirl.irl._likelihood.type_log_likelihood`).  The Bayes
    classifier with a uniform prior is ``argmax`` over types: the reference
    of type recovery from these trajectories.

    Parameters
    ----------
    spec : MFGSpec
        The game (true reward) the expert equilibrium solves.
    expert : EquilibriumResult
        :func:`tabmfirl.solve_equilibrium` of ``spec`` at ``temperature``.
    demos : Demonstrations
        ``states (N, T+1)``, ``actions (N, T)``.
    temperature : float
        :math:`\beta > 0` of the expert equilibrium.
    backend : {"auto", "numpy", "numba", "cuda"}

    Returns
    -------
    ndarray, shape (N, K)

    Examples
    --------
    >>> import tabmfirl
    >>> from tabmfirl.envs import virus
    >>> spec = virus.make(types=2, horizon=5)
    >>> expert = tabmfirl.solve_equilibrium(spec, temperature=0.5, backend="numpy")
    >>> demos = tabmfirl.generate_demonstrations(spec, expert.policy, 5, seed=0)
    >>> bayes_log_likelihood(spec, expert, demos, temperature=0.5, backend="numpy").shape
    (10, 2)
    """
    states, actions = trajectories(spec, demos)
    backward = soft_bellman_backward(expert.model, temperature, backend=backend)
    return type_log_likelihood(spec, expert.model, backward, states, actions, temperature)


# ---------------------------------------------------------------------------
# Scoring a learned reward.
# ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class RewardEvaluation:
    r"""Scores of a learned reward against the expert equilibrium.

    Attributes
    ----------
    return_deviation, mean_field_deviation, policy_deviation : ndarray, shape (K,)
        Per true type (module docstring).
    mean_return_deviation, mean_mean_field_deviation, mean_policy_deviation : float
        Their averages over the types.
    type_map : ndarray of int, shape (K,)
        Learned context used for each true type.
    expert, learned : EquilibriumResult
        The two equilibria (true reward; learned reward, same dynamics).
    expert_exploitability : ndarray, shape (K,)
        Regularised exploitability (at the experts' temperature) of the
        experts' policy :math:`\pi^E` in the learned game: does the learned
        reward rationalise the data, along the experts' own flow?  Needs no
        solve of the learned game (``docs/theory.md``, what one flow
        identifies).
    policy_deviation_from_expert : ndarray, shape (K,)
        Policy deviation of the learned game's equilibrium reached by the same
        solver started from :math:`\pi^E` instead of the uniform policy; it
        differs from ``policy_deviation`` only when the learned game has
        several equilibria (or a solve did not converge).
    learned_from_expert : EquilibriumResult
        That equilibrium.
    reward_error : ndarray, shape (K,)
        Relative error of the learned reward at the experts' flow, up to
        potential-based shaping (:func:`tabmfirl.reward_error_up_to_shaping`):
        0 when the learned reward gives the true soft-optimal policies wherever
        the experts go along :math:`\mu^E`, 1 as far as the zero reward.  What
        one flow identifies of the reward itself (``docs/theory.md``, section 8).
    """

    return_deviation: np.ndarray
    mean_field_deviation: np.ndarray
    policy_deviation: np.ndarray
    mean_return_deviation: float
    mean_mean_field_deviation: float
    mean_policy_deviation: float
    type_map: np.ndarray
    expert: EquilibriumResult
    learned: EquilibriumResult
    expert_exploitability: np.ndarray
    policy_deviation_from_expert: np.ndarray
    learned_from_expert: EquilibriumResult
    reward_error: np.ndarray


def evaluate_reward(spec: MFGSpec, learned, *, type_map=None, temperature: float = 1.0,
                    expert: Optional[EquilibriumResult] = None, solver_kwargs=None,
                    return_temperature: float = 0.0, backend: str = "auto"
                    ) -> RewardEvaluation:
    r"""Solve the learned game and score it against the expert equilibrium.

    The learned equilibrium :math:`(\pi^L, \mu^L)` is computed by
    :func:`tabmfirl.solve_equilibrium` on the dynamics of ``spec`` with the
    learned reward (:func:`learned_game`), at the same ``temperature`` as the
    expert's, once from the solver's uniform start and once from the
    experts' policy; the experts' exploitability in the learned game and the
    reward error at the experts' flow up to shaping are reported next to the
    deviations (:class:`RewardEvaluation`).

    Parameters
    ----------
    spec : MFGSpec
        The game with the true reward (e.g. ``tabmfirl.envs.make(...)``); use
        the variant dynamics here for the transfer test.
    learned : RewardHead or ndarray
        See :func:`learned_game`.
    type_map : array_like of int, shape (K,), optional
        Learned context of each true type (:func:`match_types`).
    temperature : float, default 1.0
        :math:`\beta` of both equilibria.
    expert : EquilibriumResult, optional
        The expert equilibrium, if already solved (same ``spec`` and
        ``temperature``).
    solver_kwargs : dict, optional
        More keyword arguments of :func:`~tabmfirl.solve_equilibrium` (e.g.
        ``method``, ``damping``, ``max_iter``, ``tol``) for both solves.
    return_temperature : float, default 0.0
        Temperature of the return in the return deviation (0: plain return).
    backend : {"auto", "numpy", "numba", "cuda"}

    Returns
    -------
    RewardEvaluation

    Examples
    --------
    The true reward scores 0 on every metric:

    >>> from tabmfirl.envs import virus
    >>> spec = virus.make(types=2, horizon=5)
    >>> ev = evaluate_reward(spec, spec.reward, backend="numpy")
    >>> float(ev.mean_policy_deviation), float(ev.mean_return_deviation)
    (0.0, 0.0)
    """
    kwargs = dict(solver_kwargs or {})
    kwargs.pop("temperature", None)
    if expert is None:
        expert = solve_equilibrium(spec, temperature=temperature, backend=backend, **kwargs)
    game = learned_game(spec, learned, type_map)
    result = solve_equilibrium(game, temperature=temperature, backend=backend, **kwargs)
    from_expert = solve_equilibrium(game, temperature=temperature, backend=backend,
                                    **{**kwargs, "initial_policy": expert.policy})
    gap = exploitability(game, expert.policy, temperature=temperature, backend=backend)
    reward_error = reward_error_up_to_shaping(
        evaluate_model(spec, expert.mean_field, expert.state_action, backend=backend),
        evaluate_model(game, expert.mean_field, expert.state_action, backend=backend),
        expert.mean_field, expert.policy)
    ret = return_deviation(spec, expert.policy, result.policy, temperature=return_temperature,
                           backend=backend)
    mf = mean_field_deviation(expert.mean_field, result.mean_field)
    pol = policy_deviation(expert.mean_field, expert.policy, result.policy)
    used_map = np.arange(spec.n_contexts) if type_map is None else np.asarray(type_map)
    if type_map is None and np.shape(getattr(learned, "bias", learned))[0] == 1:
        used_map = np.zeros(spec.n_contexts, dtype=np.int64)
    return RewardEvaluation(
        return_deviation=ret, mean_field_deviation=mf, policy_deviation=pol,
        mean_return_deviation=float(ret.mean()), mean_mean_field_deviation=float(mf.mean()),
        mean_policy_deviation=float(pol.mean()), type_map=used_map.astype(np.int64),
        expert=expert, learned=result, expert_exploitability=np.asarray(gap, dtype=float),
        policy_deviation_from_expert=policy_deviation(expert.mean_field, expert.policy,
                                                      from_expert.policy),
        learned_from_expert=from_expert, reward_error=reward_error)
