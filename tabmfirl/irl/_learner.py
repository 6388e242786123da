r"""What every learner shares: the learner's view of the game (its dynamics with
zero-reward types), of the demonstrations, and of the posterior-weighted empirical flows.

Notation as in :mod:`tabmfirl.irl._em`: trajectories ``states (N, T+1)``,
``actions (N, T)``; a posterior ``q[j, m]`` over ``K`` types; tables
``counts[m, t, s, a]``, ``mean_field[m, t, s]`` (``T+1`` rows).
"""
from __future__ import annotations

import numpy as np

from .._io import array_digest
from ..game._spec import MFGSpec
from ._heads import RewardHead
from ._likelihood import mce_log_likelihood

__all__ = ["game_config", "weighted_statistics", "learner_spec", "trajectories", "observed_mean_field",
           "make_head", "copy_head", "reward_step", "MIN_WEIGHT", "types_are_anchored",
           "head_input_dim", "dynamics_digest"]

#: A type whose posterior weight falls below ``MIN_WEIGHT * N`` gets the pooled flow.
MIN_WEIGHT = 1e-12


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
    small = totals < MIN_WEIGHT * N
    safe = np.where(small, 1.0, totals)
    mean_field = state_counts / safe[:, None, None]
    state_action = counts / safe[:, None, None, None]
    mean_field[small] = pooled_s
    state_action[small] = pooled_sa
    # exact normalisation (the kernels check rows to 1e-8)
    mean_field /= mean_field.sum(axis=-1, keepdims=True)
    state_action /= state_action.sum(axis=(-2, -1), keepdims=True)
    return counts, totals, mean_field, state_action



def types_are_anchored(spec: MFGSpec) -> bool:
    """True when the learner's types must be the game's: they move differently, start
    differently, or the transition reads every type's flow.

    Learned type ``m`` then has the known dynamics (and initial distribution) of
    the game's type ``m``, so a fit learns exactly ``spec.n_contexts`` types.
    """
    return not spec.shares_dynamics or (spec.observation == "all_types"
                                        and spec.transition_is_dynamic)


def learner_spec(spec: MFGSpec, n_contexts: int) -> MFGSpec:
    """The dynamics of ``spec`` with ``n_contexts`` zero-reward types.

    Raises ValueError for a ``context_coupling`` game, and for ``n_contexts``
    other than ``spec.n_contexts`` when :func:`types_are_anchored`.
    """
    if not isinstance(spec, MFGSpec):
        raise ValueError(f"spec must be an MFGSpec, got {type(spec).__name__}")
    if spec.context_coupling is not None:
        raise ValueError("games with a context_coupling are not supported by the IRL fits "
                         "(types would observe each other's flows)")
    if types_are_anchored(spec) and n_contexts != spec.n_contexts:
        raise ValueError(
            f"game {spec.name!r} gives each of its {spec.n_contexts} types its own dynamics or "
            f"initial distribution (or a transition that reads every type's flow): a fit must "
            f"learn n_contexts={spec.n_contexts} types, got {n_contexts}")
    return spec.replace(reward=np.zeros((n_contexts, spec.n_states, spec.n_actions)),
                        n_contexts=n_contexts)


def trajectories(spec: MFGSpec, demos):
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


def observed_mean_field(spec: MFGSpec, mean_field, state_action):
    r"""What the reward head reads: ``(K, T, D)``, or ``(K, T, K * D)`` for ``"all_types"``.

    Type :math:`m` reads its own (posterior-weighted empirical) flow
    :math:`\hat\mu_t(\cdot\mid m)` (or :math:`\hat L_t`), ``D`` entries; with
    ``spec.observation == "all_types"`` every type reads the stack of every
    type's flow, type-major (entry ``m' * D + i`` is entry ``i`` of type
    :math:`m'`'s), as the game's own functions do.
    """
    K, T = state_action.shape[:2]
    if spec.mean_field_kind == "state_action":
        own = state_action.reshape(K, T, -1)
    else:
        own = mean_field[:, :T]
    if spec.observation != "all_types":
        return own
    stacked = own.transpose(1, 0, 2).reshape(T, -1)                     # (T, K * D)
    return np.ascontiguousarray(np.broadcast_to(stacked, (K,) + stacked.shape))


def head_input_dim(spec: MFGSpec, n_contexts: int) -> int:
    """Length of the mean field vector a reward head of ``n_contexts`` types reads."""
    if spec.observation == "all_types":
        return n_contexts * spec.mean_field_dim
    return spec.mean_field_dim


def make_head(spec, n_contexts, reward_kind, hidden_sizes, rng):
    return RewardHead(spec.n_states, spec.n_actions, head_input_dim(spec, n_contexts),
                      n_contexts=n_contexts, kind=reward_kind, hidden_sizes=hidden_sizes,
                      seed=rng)


def copy_head(head: RewardHead) -> RewardHead:
    kwargs = {}
    if head.kind == "mlp":
        kwargs = {"hidden_sizes": head.hidden_sizes, "activation": head.mlp.activation}
    copy = RewardHead(head.n_states, head.n_actions, head.mean_field_dim,
                      n_contexts=head.n_contexts, kind=head.kind, **kwargs)
    copy.set_flat(head.get_flat())
    return copy



def reward_step(dyn_spec, head, model, mean_field, state_action, counts, temperature,
                 n_total, backend):
    """Steps 2-4: reward table, backward pass, objective and parameter gradient."""
    observed = observed_mean_field(dyn_spec, mean_field, state_action)
    reward = head.reward_tables(observed)
    model_r = model.with_reward(reward)
    value, grad_table, backward = mce_log_likelihood(model_r, counts, temperature,
                                                     backend=backend)
    grad = head.reward_tables_vjp(observed, grad_table / n_total)
    return value / n_total, grad, reward, backward


def game_config(spec: MFGSpec, states, actions) -> dict:
    """The game and data part of a checkpoint configuration (names, sizes, digests)."""
    return {"game": spec.name, "n_states": spec.n_states, "n_actions": spec.n_actions,
            "horizon": spec.horizon, "mean_field_kind": spec.mean_field_kind,
            "dynamics_digest": dynamics_digest(spec),
            "data_digest": array_digest(states, actions)}


def dynamics_digest(spec: MFGSpec) -> str:
    """Digest of a game's dynamics for checkpoint configurations.

    ``mu0`` and ``params`` as before, plus, for a game whose types move
    differently or read every type's flow, the transition array (if any) and
    those two settings (so that ``same_dynamics`` variants differ).
    """
    if spec.shares_dynamics and spec.observation != "all_types":
        return array_digest(spec.mu0, spec.params)
    extra = [np.array([float(spec.transition_by_context), float(spec.observation == "all_types")])]
    if not spec.transition_is_dynamic:
        extra.append(spec.transition)
    return array_digest(spec.mu0, spec.params, *extra)
