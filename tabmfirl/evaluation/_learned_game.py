r"""The learned game: a game's dynamics with its reward replaced by a learned reward head.

:func:`learned_game` returns an :class:`~tabmfirl.MFGSpec` whose reward is a
Numba function that evaluates the head (linear or MLP) from its weights packed
after the game's own ``params``, so that every backend of the core solver can
solve it: :func:`linear_head_reward` and :func:`mlp_head_reward` (a small
Numba interpreter of :class:`~tabmfirl.MLP`, with the activations of
``tabmfirl.irl._nn``).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from ..game._spec import MFGSpec
from ..irl._heads import RewardHead
from ..irl._nn import ACTIVATIONS, LEAKY_RELU_SLOPE

__all__ = ["learned_game", "linear_head_reward", "mlp_head_reward", "activate",
           "ACTIVATION_CODES"]


@njit(cache=True)
def linear_head_reward(t, observed, context, params, out):
    r"""Reward of a linear head packed at the end of ``params`` (see ``_pack_linear``).

    ``out[s, a] = bias[context, s, a] + sum_d coef[context, s, a, d] observed[d]``
    with ``params = (game params..., bias (K,S,A), coef (K,S,A,D), K, S, A, D,
    offset)``: the game's own functions keep reading their leading entries.
    The reward function of :func:`learned_game` for a linear head; public so
    that an application can compose it with a game's own terms in another
    Numba reward function (the taxi study adds a surge's fare income).
    """
    n = params.shape[0]
    K = int(params[n - 5])
    S = int(params[n - 4])
    A = int(params[n - 3])
    D = int(params[n - 2])
    offset = int(params[n - 1])
    coef_offset = offset + K * S * A
    for s in range(S):
        for a in range(A):
            row = (context * S + s) * A + a
            value = params[offset + row]
            for d in range(D):
                value += params[coef_offset + row * D + d] * observed[d]
            out[s, a] = value


def _pack_linear(spec_params, bias, coef):
    K, S, A, D = coef.shape
    offset = spec_params.size
    return np.concatenate([spec_params, bias.ravel(), coef.ravel(),
                           np.array([K, S, A, D, offset], dtype=np.float64)])


#: Codes of the MLP activations in :func:`activate` (the names of ``_nn.ACTIVATIONS``).
ACTIVATION_CODES = {"identity": 0, "tanh": 1, "relu": 2, "leaky_relu": 3, "softplus": 4}
if set(ACTIVATION_CODES) != set(ACTIVATIONS):       # a new activation needs its Numba twin here
    raise ImportError(f"learned_game knows the activations {sorted(ACTIVATION_CODES)}, the "
                      f"networks {sorted(ACTIVATIONS)}")


@njit(cache=True)
def activate(code, z):
    """The activation of :data:`ACTIVATION_CODES` ``code`` at the scalar ``z``.

    The scalar Numba twin of ``_nn.ACTIVATIONS`` (same definitions, the same
    ``LEAKY_RELU_SLOPE``; ``tests/test_metrics.py`` compares them).
    """
    if code == 1:
        return np.tanh(z)
    if code == 2:
        return z if z > 0.0 else 0.0
    if code == 3:
        return z if z > 0.0 else LEAKY_RELU_SLOPE * z
    if code == 4:
        return max(z, 0.0) + np.log1p(np.exp(-abs(z)))
    return z


@njit(cache=True)
def mlp_head_reward(t, observed, context, params, out):
    """Reward of a discrete-type MLP head packed at the end of ``params``.

    ``params[-1]`` is the offset of the block ``(n_layers, activation,
    output_activation, K_L, S, A, D, K, sizes[0..n_layers], type_map[0..K-1],
    W_0, b_0, W_1, b_1, ...)`` (see ``_pack_mlp``); the input of the network
    is ``[e_s, e_a, observed, e_{type_map[context]}]`` as in ``RewardHead``.
    The reward function of :func:`learned_game` for an MLP head; public for
    the same reason as :func:`linear_head_reward`.
    """
    offset = int(params[params.shape[0] - 1])
    n_layers = int(params[offset])
    act = int(params[offset + 1])
    out_act = int(params[offset + 2])
    S = int(params[offset + 4])
    A = int(params[offset + 5])
    D = int(params[offset + 6])
    K = int(params[offset + 7])
    sizes_at = offset + 8
    map_at = sizes_at + n_layers + 1
    weights_at = map_at + K
    width = 0
    for layer in range(n_layers + 1):
        width = max(width, int(params[sizes_at + layer]))
    h = np.zeros(width)
    z = np.zeros(width)
    learned_context = int(params[map_at + context])
    n_input = int(params[sizes_at])
    for s in range(S):
        for a in range(A):
            for i in range(n_input):
                h[i] = 0.0
            h[s] = 1.0
            h[S + a] = 1.0
            for d in range(D):
                h[S + A + d] = observed[d]
            h[S + A + D + learned_context] = 1.0
            pos = weights_at
            for layer in range(n_layers):
                n_in = int(params[sizes_at + layer])
                n_out = int(params[sizes_at + layer + 1])
                for j in range(n_out):
                    acc = params[pos + n_in * n_out + j]
                    for i in range(n_in):
                        acc += h[i] * params[pos + i * n_out + j]
                    z[j] = acc
                pos += n_in * n_out + n_out
                code = out_act if layer == n_layers - 1 else act
                for j in range(n_out):
                    h[j] = activate(code, z[j])
            out[s, a] = h[0]


def _pack_mlp(spec_params, head, type_map, block_order=None):
    mlp = head.mlp
    weights = [w.copy() for w in mlp.params]
    if block_order is not None:                 # the observed stack's blocks, in the game's order
        S, A, D = head.n_states, head.n_actions, head.mean_field_dim
        width = D // len(block_order)
        rows = S + A + (np.asarray(block_order)[:, None] * width + np.arange(width)).ravel()
        weights[0][S + A:S + A + D] = mlp.params[0][rows]
    header = [mlp.n_layers, ACTIVATION_CODES[mlp.activation],
              ACTIVATION_CODES[mlp.output_activation], head.n_contexts, head.n_states,
              head.n_actions, head.mean_field_dim, len(type_map)]
    block = np.concatenate([np.array(header, dtype=np.float64),
                            np.array(mlp.layer_sizes, dtype=np.float64),
                            np.asarray(type_map, dtype=np.float64),
                            np.concatenate([w.ravel() for w in weights])])
    return np.concatenate([spec_params, block, [float(spec_params.size)]])


def learned_game(spec: MFGSpec, learned, type_map=None) -> MFGSpec:
    r"""The game ``spec`` with its reward replaced by a learned one.

    Parameters
    ----------
    spec : MFGSpec
        Dynamics (and number of types :math:`K`) to keep.
    learned : RewardHead or ndarray
        A discrete-type :class:`~tabmfirl.RewardHead`, linear or MLP (its
        reward reads what each type observes, ``spec.observed_dim`` entries,
        through a Numba function that evaluates the head from weights packed
        after the game's ``params``, so every backend of the core solver can
        use it), or fixed tables of shape ``(K_L, T, S, A)`` or ``(K_L, S, A)``.
    type_map : array_like of int, shape (K,), optional
        Learned context of each type of ``spec``; default ``arange(K)`` when
        ``K_L == K`` and all zeros when ``K_L == 1``.  For a head that reads
        every type's flow (``observation="all_types"``) it must be a
        permutation: learned type ``type_map[m]`` read the flow of learned
        type ``type_map[m']`` where the game's type ``m`` reads that of
        ``m'``, so the head's input blocks are reordered with it,

        .. math:: r^{\text{game}}(s, a, (\mu^0, \dots, \mu^{K-1}), m)
                  = f_\omega\big(s, a, (\mu^{\sigma^{-1}(0)}, \dots,
                  \mu^{\sigma^{-1}(K-1)}), \sigma(m)\big),
                  \qquad \sigma = \text{type\_map}.

    Returns
    -------
    MFGSpec
    """
    K, T, S, A = spec.n_contexts, spec.horizon, spec.n_states, spec.n_actions
    if isinstance(learned, RewardHead):
        if not learned.discrete:
            raise NotImplementedError(
                "only discrete-type reward heads can be scored with the core solver; "
                "pass reward tables instead")
        if (learned.n_states, learned.n_actions, learned.mean_field_dim) != \
                (S, A, spec.observed_dim):
            raise ValueError(
                f"the reward head (n_states={learned.n_states}, n_actions={learned.n_actions}, "
                f"mean_field_dim={learned.mean_field_dim}) does not match the game's sizes "
                f"({S}, {A}, observed_dim={spec.observed_dim})")
        n_learned = learned.n_contexts
    else:
        tables = np.asarray(learned, dtype=np.float64)
        if tables.ndim not in (3, 4) or tables.shape[-2:] != (S, A) or \
                (tables.ndim == 4 and tables.shape[1] != T):
            raise ValueError(f"learned reward tables must have shape (K_L, {T}, {S}, {A}) "
                             f"or (K_L, {S}, {A}), got {tables.shape}")
        n_learned = tables.shape[0]
    if type_map is None:
        if n_learned not in (1, K):
            raise ValueError(f"give type_map: {n_learned} learned contexts for {K} types")
        type_map = np.zeros(K, dtype=np.int64) if n_learned == 1 else np.arange(K)
    type_map = np.asarray(type_map)
    if type_map.shape != (K,) or not np.issubdtype(type_map.dtype, np.integer) or \
            type_map.min() < 0 or type_map.max() >= n_learned:
        raise ValueError(f"type_map must be {K} ints in [0, {n_learned}), got {type_map!r}")
    if spec.context_coupling is not None:
        raise ValueError("games with a context_coupling are not supported")
    reads_all = isinstance(learned, RewardHead) and spec.observation == "all_types"
    # block m of the game's observed stack is type m; the head read learned type type_map[m]'s
    # flow in its block type_map[m]: the game's block m feeds the head's block type_map[m]
    if reads_all and not np.array_equal(np.sort(type_map), np.arange(K)):
        raise ValueError(f"a reward that reads every type's flow needs a one-to-one "
                         f"type_map (a permutation of 0..{K - 1}), got {type_map.tolist()}")
    if isinstance(learned, RewardHead) and learned.kind == "mlp":
        return spec.replace(reward=mlp_head_reward, n_contexts=K,
                            params=_pack_mlp(spec.params, learned, type_map,
                                             type_map if reads_all else None))
    if isinstance(learned, RewardHead):
        bias, coef = learned.linear_parameters()
        bias, coef = bias[type_map], coef[type_map]
        if reads_all:
            D = spec.mean_field_dim
            coef = np.ascontiguousarray(
                coef.reshape(coef.shape[:3] + (K, D))[:, :, :, type_map].reshape(coef.shape))
        return spec.replace(reward=linear_head_reward, n_contexts=K,
                            params=_pack_linear(spec.params, bias, coef))
    return spec.replace(reward=np.ascontiguousarray(tables[type_map]), n_contexts=K)
