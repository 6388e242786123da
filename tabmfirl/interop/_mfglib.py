r"""MFGLib environments to and from :class:`~tabmfirl.MFGSpec` (MFGLib 0.3.0).

MFGLib's conventions (``docs/validation.md``): ``env.T`` counts steps and all
``T + 1`` time slices carry a reward, so the tabmfirl horizon is ``env.T + 1``
(the last transition is never used by MFGLib); ``env.prob(t, L_t)`` is
``P[s_next, s, a]`` and ``env.reward(t, L_t)`` is ``r[s, a]``, both reading the
joint state-action distribution :math:`L_t(s, a)`; multi-dimensional states
and actions are flattened in C order.  MFGLib computes in float32 unless
``torch.set_default_dtype(torch.float64)`` is called before the environment is
built; tabmfirl needs float64 (its rows sum to 1 within ``1e-8``).

**MFGLib to tabmfirl** (:func:`from_mfglib`): a one-type game observing
``L_t`` (``mean_field_kind="state_action"``) whose mean field functions call
the environment back (a Numba ``objmode`` block): exact, but slow, and the
spec works in this process only.

**tabmfirl to MFGLib** (:func:`to_mfglib`, :func:`product_environment`).  A game
with ``K`` types sharing ``S``, ``A``, ``P`` and ``mu0`` is one MFGLib game over
the pairs :math:`x = (m, s)`, flattened as ``x = m * S + s``: the type never
changes and :math:`\mu_0(m, s) = w_m \mu_0(s)` with :math:`w` the types'
shares.  MFGLib's joint distribution then holds
:math:`L_t(x, a) = w_m L_t(s, a \mid m)`, and type :math:`m` observes

.. math:: \nu^m_t = \sum_{m'} C_{m m'}\, x_t(\cdot \mid m'), \qquad
          x_t(\cdot \mid m') = L_t((m', \cdot), \cdot) / w_{m'}
          \ \text{(summed over actions when the game observes states)},

with :math:`C` the identity for uncoupled types and ``context_coupling``
otherwise.  The transition is block diagonal (one block per type, evaluated
at :math:`\nu^m`); the reward of :math:`(m, s)` is type :math:`m`'s reward at
:math:`\nu^m`.

**Entropy** (:func:`entropy_regularised`).  MFGLib's games are unregularised.
The entropy-regularised game at temperature :math:`\beta` is the MFGLib game
with reward

.. math:: r'_t(x, a, L_t) = r_t(x, a, L_t) - \beta \log \pi_t(a \mid x),
          \qquad \pi_t(a \mid x) = L_t(x, a) / \textstyle\sum_{a'} L_t(x, a')

(uniform where :math:`x` has no mass), whose Nash equilibria are tabmfirl's
ERMFNE on every state the flow charges.
"""
from __future__ import annotations

import itertools
import weakref

import numba
import numpy as np

from ..game._spec import MFGSpec, check_distribution
from ..solvers._equilibrium import uniform_policy
from ..solvers._mean_field import forward_mean_field
from ..testing._tables import numpy_game
from ._optional import require

__all__ = ["from_mfglib", "to_mfglib", "product_environment", "entropy_regularised",
           "policy_to_mfglib", "array_from_mfglib"]

# ---------------------------------------------------------------------------
# MFGLib -> tabmfirl: mean field functions that call the environment back
# ---------------------------------------------------------------------------
#: Live environments by key (``spec.params[0]``); an entry lives as long as its spec.
_CALLBACKS = weakref.WeakValueDictionary()
_KEYS = itertools.count(1)


class _Callbacks:
    """The environment of one converted spec, called with NumPy arrays."""

    def __init__(self, env, torch):
        self.env, self.torch = env, torch
        self.dtype = env.mu0.dtype
        self.S, self.A = int(env.n_states), int(env.n_actions)

    def _joint(self, observed):
        L = self.torch.from_numpy(np.array(observed, dtype=np.float64)).to(self.dtype)
        return L.reshape(tuple(self.env.S) + tuple(self.env.A))

    def transition(self, t, observed, out):
        P = self.env.prob(int(t), self._joint(observed))             # (S_next..., S..., A...)
        P = P.detach().reshape(self.S, self.S, self.A).permute(1, 2, 0)
        out[:] = P.to(self.torch.float64).numpy()

    def reward(self, t, observed, out):
        r = self.env.reward(int(t), self._joint(observed))
        out[:] = r.detach().reshape(self.S, self.A).to(self.torch.float64).numpy()


def _callbacks(key):
    try:
        return _CALLBACKS[int(key)]
    except KeyError:
        raise RuntimeError(
            f"the MFGLib environment of this spec (key {int(key)}) is gone: a spec made by "
            f"from_mfglib works only in the process that made it, while it is alive") from None


def call_transition(key, t, observed, out):
    """Fill ``out`` ``(S, A, S)`` from the environment registered under ``key``."""
    _callbacks(key).transition(t, observed, out)


def call_reward(key, t, observed, out):
    """Fill ``out`` ``(S, A)`` from the environment registered under ``key``."""
    _callbacks(key).reward(t, observed, out)


@numba.njit(cache=False)
def mfglib_transition(t, observed, params, out):
    """Mean field function: ``out[s, a, s_next] = env.prob(t, L)[s_next, s, a]``."""
    with numba.objmode():
        call_transition(params[0], t, observed, out)


@numba.njit(cache=False)
def mfglib_reward(t, observed, context, params, out):
    """Mean field function: ``out[s, a] = env.reward(t, L)[s, a]``."""
    with numba.objmode():
        call_reward(params[0], t, observed, out)


def from_mfglib(env, *, name: str = "mfglib") -> MFGSpec:
    r"""The MFGLib environment ``env`` as a one-type :class:`~tabmfirl.MFGSpec`.

    .. math:: P_{\mathrm{tabmfirl}}(s' \mid s, a, L_t) = \texttt{env.prob}(t, L_t)[s', s, a],
              \qquad r(s, a, L_t) = \texttt{env.reward}(t, L_t)[s, a],

    with horizon ``env.T + 1``, ``mu0 = env.mu0`` and states and actions
    flattened in C order (module docstring).  The spec's mean field functions
    call ``env`` back, so every table is MFGLib's own, at every flow; the spec
    holds ``env`` (in ``spec.info["mfglib_env"]``) and works only in this
    process.

    Parameters
    ----------
    env : mfglib.env.Environment
        Built after ``torch.set_default_dtype(torch.float64)``.
    name : str, default "mfglib"
        The spec's name.

    Returns
    -------
    MFGSpec
        ``mean_field_kind="state_action"``, one context.

    Raises
    ------
    ImportError
        torch is not installed (``pip install "tabmfirl[mfglib]"``).
    ValueError
        The environment computes in float32, or its tables at ``mu0`` are not
        a valid game.
    """
    torch = require("torch", "tabmfirl.interop.from_mfglib")
    callbacks = _Callbacks(env, torch)
    S, A = callbacks.S, callbacks.A
    L0 = torch.kron(env.mu0.reshape(-1), torch.ones(A, dtype=env.mu0.dtype) / A)
    probe = env.prob(0, L0.reshape(tuple(env.S) + tuple(env.A)))
    if env.mu0.dtype != torch.float64 or probe.dtype != torch.float64:
        raise ValueError(
            f"the MFGLib environment computes in {probe.dtype} (mu0: {env.mu0.dtype}); "
            f"call torch.set_default_dtype(torch.float64) before building it")
    key = next(_KEYS)
    _CALLBACKS[key] = callbacks
    return MFGSpec(n_states=S, n_actions=A, horizon=int(env.T) + 1,
                   mu0=env.mu0.detach().reshape(-1).numpy(), transition=mfglib_transition,
                   reward=mfglib_reward, n_contexts=1, params=np.array([float(key)]),
                   mean_field_kind="state_action", name=name,
                   info={"mfglib_env": env, "mfglib_callbacks": callbacks})


# ---------------------------------------------------------------------------
# tabmfirl -> MFGLib
# ---------------------------------------------------------------------------
class _Product:
    """MFGLib ``transition_fn`` and ``reward_fn`` of the product game (module docstring)."""

    def __init__(self, torch, n_states, n_actions, shares, transition, reward, coupling, kind):
        self.torch, self.S, self.A = torch, n_states, n_actions
        self.w = torch.as_tensor(shares, dtype=torch.get_default_dtype())
        self.K = self.w.numel()
        self.C = None if coupling is None else torch.as_tensor(
            np.asarray(coupling, dtype=float), dtype=torch.get_default_dtype())
        self.transition_of, self.reward_of, self.kind = transition, reward, kind

    def observed(self, L_t):
        """``nu[m]``, shape ``(K, S)`` or ``(K, S*A)``, from ``L_t`` ``(K*S, A)``."""
        own = L_t.reshape(self.K, self.S, self.A) / self.w[:, None, None]
        own = own.sum(-1) if self.kind == "state" else own.reshape(self.K, -1)
        return own if self.C is None else self.C @ own

    def _tensor(self, array):
        return self.torch.as_tensor(array, dtype=self.torch.get_default_dtype())

    def prob(self, env, t, L_t):
        """MFGLib's ``P[x_next, x, a]``: block diagonal over types."""
        S, K, torch = self.S, self.K, self.torch
        nu = self.observed(L_t)
        P = torch.zeros(K * S, K * S, self.A)
        for m in range(K):
            block = self._tensor(self.transition_of(t, nu[m]))      # (S, A, S_next)
            P[m * S:(m + 1) * S, m * S:(m + 1) * S, :] = block.permute(2, 0, 1)
        return P

    def reward(self, env, t, L_t):
        """MFGLib's ``r[x, a]``: type ``m``'s reward at ``nu^m`` on block ``m``."""
        nu = self.observed(L_t)
        return self.torch.cat([self._tensor(self.reward_of(t, nu[m], m))
                               for m in range(self.K)])


def product_environment(n_states: int, n_actions: int, horizon: int, mu0, shares, transition,
                        reward, *, coupling=None, mean_field_kind: str = "state",
                        r_max: float = 1.0):
    r"""The MFGLib game over (type, state) pairs of a game with types (module docstring).

    Parameters
    ----------
    n_states, n_actions, horizon : int
        ``S``, ``A`` and tabmfirl's horizon ``T`` (MFGLib's ``env.T = T - 1``).
    mu0 : array_like, shape (S,)
    shares : array_like, shape (K,)
        :math:`w_m > 0`, summing to 1.
    transition : callable
        ``transition(t, nu)``: :math:`P[s, a, s']` of shape ``(S, A, S)`` at
        the observed ``nu`` (a torch vector, ``(S,)`` or ``(S*A,)``); torch or NumPy.
    reward : callable
        ``reward(t, nu, m)``: type ``m``'s :math:`r[s, a]`, shape ``(S, A)``.
    coupling : array_like, shape (K, K), optional
        :math:`C`; ``None``: each type observes its own flow.
    mean_field_kind : {"state", "state_action"}
        What ``nu`` is.
    r_max : float, default 1.0
        MFGLib's bound on ``|r|`` (used only by some of its algorithms).

    Returns
    -------
    mfglib.env.Environment
        States ``(K*S,)``, actions ``(A,)``, ``T = horizon - 1``, tensors in
        torch's default dtype.

    Raises
    ------
    ImportError
        MFGLib or torch is not installed (``pip install "tabmfirl[mfglib]"``).
    ValueError
        Shares not positive or not summing to 1.
    """
    torch = require("torch", "tabmfirl.interop.product_environment")
    Environment = require("mfglib.env", "tabmfirl.interop.product_environment").Environment
    w = check_distribution(shares, "shares")
    if np.any(w <= 0):
        raise ValueError(f"shares must be positive, got {w}")
    if mean_field_kind not in ("state", "state_action"):
        raise ValueError(f"mean_field_kind must be 'state' or 'state_action', got "
                         f"{mean_field_kind!r}")
    game = _Product(torch, int(n_states), int(n_actions), w, transition, reward, coupling,
                    mean_field_kind)
    dtype = torch.get_default_dtype()
    mu0 = torch.kron(torch.as_tensor(w, dtype=dtype),
                     torch.as_tensor(np.asarray(mu0, dtype=float), dtype=dtype))
    return Environment(T=int(horizon) - 1, S=(w.size * int(n_states),), A=(int(n_actions),),
                       mu0=mu0, r_max=float(r_max), reward_fn=game.reward,
                       transition_fn=game.prob)


def _reward_bound(spec: MFGSpec) -> float:
    """``max |r|``: of the table, or along the uniform policy's flow for a reward function."""
    if not spec.reward_is_dynamic:
        return float(np.abs(spec.reward).max())
    flow = forward_mean_field(spec, uniform_policy(spec), backend="numpy")
    return float(np.abs(flow.model.reward).max())


def to_mfglib(spec: MFGSpec, *, shares=None, temperature: float = 0.0, r_max=None):
    r"""``spec`` as an MFGLib environment: the product game over (type, state) pairs.

    .. math:: P(\,(m, s') \mid (m, s), a, L_t) = P(s' \mid s, a, \nu^m_t), \qquad
              r((m, s), a, L_t) = r(s, a, \nu^m_t, m) - \beta \log \pi_t(a \mid (m, s)),

    with :math:`\nu^m_t` what type :math:`m` observes (module docstring) and
    the entropy term only for ``temperature`` :math:`\beta > 0`
    (:func:`entropy_regularised`).  A one-type game is MFGLib's game over its
    own states.

    Parameters
    ----------
    spec : MFGSpec
    shares : array_like, shape (K,), optional
        The types' shares :math:`w` of the population; default uniform.
    temperature : float, default 0.0
        :math:`\beta \ge 0`: the MFGLib game whose Nash equilibria are
        tabmfirl's ERMFNE at :math:`\beta` (on the states the flow charges).
    r_max : float, optional
        MFGLib's reward bound; default ``max |r|`` of the reward table, or
        along the uniform policy's flow for a reward function (not a bound
        then: give one if an MFGLib algorithm relies on it).

    Returns
    -------
    mfglib.env.Environment
        States ``(K*S,)`` (``x = m * S + s``), actions ``(A,)``, ``T = horizon - 1``.

    Raises
    ------
    ImportError
        MFGLib or torch is not installed (``pip install "tabmfirl[mfglib]"``).
    ValueError
        Bad shares or temperature; a game whose types move or start
        differently, or observe every type's flow (issue 18: not converted yet).
    """
    if not spec.shares_dynamics or spec.observation != "mixture":
        raise ValueError(
            f"game {spec.name!r}: to_mfglib converts games whose types share their dynamics "
            f"and initial distribution and observe their own (or a coupled) flow; this one has "
            f"transition_by_context={spec.transition_by_context}, mu0 of shape "
            f"{spec.mu0.shape} and observation={spec.observation!r}")
    K = spec.n_contexts
    shares = np.full(K, 1.0 / K) if shares is None else np.asarray(shares, dtype=float)
    if shares.shape != (K,):
        raise ValueError(f"shares must have shape (n_contexts,) = ({K},), got {shares.shape}")
    game = numpy_game(spec)

    def transition(t, nu):
        return game.transition(t, nu.detach().double().numpy())

    def reward(t, nu, m):
        return game.reward(t, nu.detach().double().numpy(), m)

    env = product_environment(spec.n_states, spec.n_actions, spec.horizon, spec.mu0, shares,
                              transition, reward, coupling=spec.context_coupling,
                              mean_field_kind=spec.mean_field_kind,
                              r_max=_reward_bound(spec) if r_max is None else r_max)
    return entropy_regularised(env, temperature)


def entropy_regularised(env, temperature: float):
    r"""The MFGLib game ``env`` paying :math:`-\beta \log \pi_t(a \mid x)` (module docstring).

    Parameters
    ----------
    env : mfglib.env.Environment
    temperature : float
        :math:`\beta \ge 0`; 0 returns ``env`` itself.

    Returns
    -------
    mfglib.env.Environment
        Same states, actions, horizon, ``mu0`` and transition; the policy
        :math:`\pi_t = L_t / \sum_a L_t` is read from the joint distribution
        (uniform where a state has no mass).
    """
    temperature = float(temperature)
    if not np.isfinite(temperature) or temperature < 0:
        raise ValueError(f"temperature must be finite and >= 0, got {temperature}")
    if temperature == 0:
        return env
    torch = require("torch", "tabmfirl.interop.entropy_regularised")
    Environment = require("mfglib.env", "tabmfirl.interop.entropy_regularised").Environment
    n_actions = int(np.prod(env.A))

    def reward_fn(_, t, L_t):
        flat = L_t.reshape(-1, n_actions)
        mass = flat.sum(-1, keepdim=True)
        policy = torch.where(mass > 0, flat / torch.where(mass > 0, mass, 1.0), 1.0 / n_actions)
        return env.reward(t, L_t) - temperature * torch.log(policy).reshape(L_t.shape)

    return Environment(T=env.T, S=env.S, A=env.A, mu0=env.mu0, r_max=env.r_max,
                       reward_fn=reward_fn, transition_fn=lambda _, t, L_t: env.prob(t, L_t))


def policy_to_mfglib(policy, env=None):
    """tabmfirl policy ``(K, T, S, A)`` -> MFGLib ``(T, K*S, A)`` over pairs ``m * S + s``.

    Parameters
    ----------
    policy : ndarray, shape (K, T, S, A)
    env : mfglib.env.Environment, optional
        Reshape to ``(T, *env.S, *env.A)`` (same numbers, C order).

    Returns
    -------
    torch.Tensor
        In torch's default dtype.
    """
    torch = require("torch", "tabmfirl.interop.policy_to_mfglib")
    policy = np.asarray(policy, dtype=float)
    if policy.ndim != 4:
        raise ValueError(f"policy must have shape (K, T, S, A), got {policy.shape}")
    K, T, S, A = policy.shape
    flat = np.ascontiguousarray(policy.transpose(1, 0, 2, 3)).reshape(T, K * S, A)
    out = torch.as_tensor(flat, dtype=torch.get_default_dtype())
    return out if env is None else out.reshape((T,) + tuple(env.S) + tuple(env.A))


def array_from_mfglib(array, n_types: int = 1, n_actions=None) -> np.ndarray:
    """MFGLib ``(T, K*S[, A])`` (or ``(T, *S[, *A])``) -> tabmfirl ``(K, T, S[, A])``.

    Parameters
    ----------
    array : torch.Tensor or ndarray
        A policy, joint distribution ``L`` or Q function of MFGLib, time first.
    n_types : int, default 1
        ``K`` of the product game (:func:`to_mfglib`).
    n_actions : int, optional
        ``A``: flattens multi-dimensional states and actions (an environment
        with ``len(env.S) > 1``); ``None`` keeps the trailing axes as they are.

    Returns
    -------
    ndarray
        float64, C-contiguous.
    """
    if hasattr(array, "detach"):
        array = array.detach().cpu().double().numpy()
    a = np.asarray(array, dtype=np.float64)
    if n_actions is not None:
        a = a.reshape(a.shape[0], n_types, -1, int(n_actions))
    else:
        a = a.reshape((a.shape[0], n_types, -1) + a.shape[2:])
    return np.ascontiguousarray(np.moveaxis(a, 1, 0))
