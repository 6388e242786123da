r"""OpenSpiel's crowd modelling mean field games as :class:`~tabmfirl.MFGSpec` (open-spiel 2.0.2).

OpenSpiel's mean field games are game trees, not tables: a general game
cannot be turned into a spec without walking its tree.  The crowd modelling
games can, because their rules are known in closed form (Perrin et al. 2020,
section 4.2; read from the game sources):

* an initial chance node :math:`x_0 \sim \mu_0` (uniform), then for
  :math:`t = 0..H-1`: decision node :math:`(x, t)`, chance node (noise), mean
  field node :math:`(x, t+1)` where :math:`\mu_{t+1}` is registered; terminal
  at :math:`t = H` with reward 0.  So the tabmfirl horizon is :math:`H`.
* moves and noise add on a torus: 1-D :math:`x' = x + m(a) + m(n) \bmod S`
  with :math:`m = (-1, 0, +1)` and uniform noise; 2-D actions ``0..4`` are
  ``(0,-1), (-1,0), (0,0), (+1,0), (0,+1)`` on :math:`(x, y)`, uniform noise,
  state index ``x * size + y``.
* the reward is paid at decision nodes: 1-D
  :math:`r = 1 - |x - S/\!/2| / (S/\!/2) - |m(a_{t-1})| / S - \log(\mu_t(x) + \epsilon)`;
  2-D with ``only_distribution_reward=True``: :math:`r = -\log(\mu_t(x, y) + \epsilon)`,
  with :math:`\epsilon = 10^{-25}` (a float32 constant in the C++ games).

The 1-D action cost is paid one step *late* (it reads the previous action),
and OpenSpiel's value functions cache decision nodes by their observation
string ``"(x, t)"``, which does not contain that previous action: its
``nash_conv`` uses, at each :math:`(x, t)`, the action cost of whichever
history its depth-first traversal reached first
(:func:`first_visit_last_action`).  ``convention="openspiel"`` builds the game
as OpenSpiel scores it (action-independent reward
:math:`-|m(a_{\mathrm{first}}(x, t))| / S`); ``"faithful"`` the game as
specified (each agent pays :math:`-|m(a_t)|/S` for its own move, nothing for
the move at :math:`t = H-1`).
"""
from __future__ import annotations

import sys

import numpy as np
from numba import njit

from ..game._spec import MFGSpec
from ._optional import require

__all__ = ["crowd_modelling_1d", "crowd_modelling_2d", "from_openspiel",
           "first_visit_last_action", "openspiel_policy", "openspiel_mean_field",
           "EPSILON", "EPSILON_FLOAT32"]

#: ``crowd_modelling._EPSILON`` of the Python game.
EPSILON = 1e-25
#: The C++ games' ``constexpr float kEpsilon = 1e-25``.
EPSILON_FLOAT32 = float(np.float32(1e-25))
MOVES_1D = (-1, 0, 1)
MOVES_2D = ((0, -1), (-1, 0), (0, 0), (1, 0), (0, 1))
#: The 2-D game's parameters and the only values this conversion supports.
SUPPORTED_2D = {"crowd_aversion_coef": 1.0, "forbidden_states": "[]",
                "initial_distribution": "[]", "initial_distribution_value": "[]",
                "noise_intensity": 1.0, "only_distribution_reward": True,
                "positional_reward": "[]", "positional_reward_value": "[]",
                "with_congestion": False}


@njit(cache=True)
def log_crowd_reward(t, observed, context, params, out):
    """``base[t, s, a] - log(mu_t(s) + eps)``; ``params = [S, A, eps, base...]``."""
    S = int(params[0])
    A = int(params[1])
    eps = params[2]
    offset = 3 + t * S * A
    for s in range(S):
        penalty = np.log(observed[s] + eps)
        for a in range(A):
            out[s, a] = params[offset + s * A + a] - penalty


def first_visit_last_action(size: int, horizon: int) -> np.ndarray:
    """Previous action seen by OpenSpiel's cached values at each decision node ``(x, t)``.

    Replays the depth-first order of OpenSpiel's ``BestResponse.eval_state`` /
    ``PolicyValue.eval_state`` (initial states ``0..S-1``, actions ``0, 1, 2``,
    noise ``0, 1, 2``), with their caches keyed by observation strings; it
    does not depend on the policy as long as every action has positive
    probability.

    Parameters
    ----------
    size, horizon : int

    Returns
    -------
    ndarray of int, shape (horizon, size)
        Row 0 is the neutral action 1.
    """
    last = np.full((horizon, size), -1)
    last[0] = 1
    seen_decision, seen_chance = set(), set()
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * horizon + 100))

    def visit(x, t):
        if (x, t) in seen_decision:
            return
        seen_decision.add((x, t))
        for a in range(3):
            y = (x + MOVES_1D[a]) % size
            if (y, t) in seen_chance:
                continue
            seen_chance.add((y, t))
            for n in range(3):
                z = (y + MOVES_1D[n]) % size
                if t + 1 < horizon and (z, t + 1) not in seen_decision:
                    last[t + 1, z] = a
                    visit(z, t + 1)

    for x0 in range(size):
        visit(x0, 0)
    return last


def crowd_modelling_1d(size: int = 10, horizon: int = 10, *, convention: str = "openspiel",
                       eps: float = EPSILON) -> MFGSpec:
    r"""OpenSpiel's 1-D crowd modelling game (module docstring) as a spec.

    .. math:: r_t(x, a, \mu_t) = 1 - \frac{|x - S/\!/2|}{S/\!/2} - \frac{|m(a')|}{S}
              - \log(\mu_t(x) + \epsilon),

    with :math:`a'` the previous action as OpenSpiel scores it
    (``"openspiel"``) or the agent's own action (``"faithful"``).

    Parameters
    ----------
    size, horizon : int
        ``S >= 2`` and ``H >= 1``.
    convention : {"openspiel", "faithful"}
    eps : float
        :data:`EPSILON` (Python game) or :data:`EPSILON_FLOAT32` (C++ game).

    Returns
    -------
    MFGSpec

    Examples
    --------
    >>> spec = crowd_modelling_1d(6, 4)
    >>> spec.n_states, spec.n_actions, spec.horizon
    (6, 3, 4)
    """
    if convention not in ("openspiel", "faithful"):
        raise ValueError(f"convention must be 'openspiel' or 'faithful', got {convention!r}")
    if size < 2 or horizon < 1:
        raise ValueError(f"size must be >= 2 and horizon >= 1, got size={size}, "
                         f"horizon={horizon}")
    S, A, H = int(size), 3, int(horizon)
    P = np.zeros((S, A, S))
    for x in range(S):
        for a in range(A):
            for n in range(3):
                P[x, a, (x + MOVES_1D[a] + MOVES_1D[n]) % S] += 1.0 / 3.0
    x = np.arange(S)
    r_x = 1.0 - np.abs(x - S // 2) / (S // 2)
    base = np.repeat(np.repeat(r_x[None, :, None], H, axis=0), A, axis=2)
    if convention == "openspiel":
        last = first_visit_last_action(S, H)
        base += -np.abs(np.array(MOVES_1D)[last])[:, :, None] / S
    else:
        base[:H - 1] += -np.abs(np.array(MOVES_1D, dtype=float))[None, None, :] / S
    params = np.concatenate([[S, A, eps], base.ravel()])
    return MFGSpec(n_states=S, n_actions=A, horizon=H, mu0=np.full(S, 1.0 / S), transition=P,
                   reward=log_crowd_reward, n_contexts=1, params=params,
                   name=f"openspiel_crowd_modelling_{convention}")


def crowd_modelling_2d(size: int = 10, horizon: int = 10, *,
                       eps: float = EPSILON_FLOAT32) -> MFGSpec:
    r"""OpenSpiel's ``mfg_crowd_modelling_2d`` with ``only_distribution_reward=True``.

    .. math:: r_t((x, y), a, \mu_t) = -\log(\mu_t(x, y) + \epsilon)

    on a ``size x size`` torus, state ``x * size + y`` (module docstring).

    Parameters
    ----------
    size, horizon : int
    eps : float
        :data:`EPSILON_FLOAT32`, the C++ game's constant.

    Returns
    -------
    MFGSpec
    """
    if size < 1 or horizon < 1:
        raise ValueError(f"size and horizon must be >= 1, got size={size}, horizon={horizon}")
    size, H = int(size), int(horizon)
    S, A = size * size, 5
    P = np.zeros((S, A, S))
    for x in range(size):
        for y in range(size):
            for a, (dx, dy) in enumerate(MOVES_2D):
                for nx, ny in MOVES_2D:
                    x2, y2 = (x + dx + nx) % size, (y + dy + ny) % size
                    P[x * size + y, a, x2 * size + y2] += 1.0 / 5.0
    params = np.concatenate([[S, A, eps], np.zeros(H * S * A)])
    return MFGSpec(n_states=S, n_actions=A, horizon=H, mu0=np.full(S, 1.0 / S), transition=P,
                   reward=log_crowd_reward, n_contexts=1, params=params,
                   name="openspiel_crowd_modelling_2d")


def from_openspiel(game, *, convention: str = "openspiel") -> MFGSpec:
    """The OpenSpiel crowd modelling game ``game`` as a spec.

    Parameters
    ----------
    game : pyspiel.Game
        ``python_mfg_crowd_modelling``, ``mfg_crowd_modelling`` (any ``size``
        and ``horizon``) or ``mfg_crowd_modelling_2d`` with
        ``only_distribution_reward=True`` and the other parameters at their
        defaults (:data:`SUPPORTED_2D`).
    convention : {"openspiel", "faithful"}
        For the 1-D games (:func:`crowd_modelling_1d`).

    Returns
    -------
    MFGSpec

    Raises
    ------
    ValueError
        Another game, or parameters this conversion does not support (named).
    """
    name = game.get_type().short_name
    params = game.get_parameters()
    if name in ("python_mfg_crowd_modelling", "mfg_crowd_modelling"):
        eps = EPSILON if name.startswith("python") else EPSILON_FLOAT32
        return crowd_modelling_1d(int(params["size"]), int(params["horizon"]),
                                  convention=convention, eps=eps)
    if name == "mfg_crowd_modelling_2d":
        unsupported = {k: params[k] for k, v in SUPPORTED_2D.items()
                       if k in params and params[k] != v}
        if unsupported:
            raise ValueError(
                f"mfg_crowd_modelling_2d is converted only with {SUPPORTED_2D}; this game has "
                f"{unsupported}")
        return crowd_modelling_2d(int(params["size"]), int(params["horizon"]))
    raise ValueError(
        f"cannot convert the OpenSpiel game {name!r}: supported are python_mfg_crowd_modelling, "
        f"mfg_crowd_modelling and mfg_crowd_modelling_2d (only_distribution_reward=True)")


def _position(game):
    """``(size, two_d)`` of a crowd modelling game."""
    return int(game.get_parameters()["size"]), game.get_type().short_name.endswith("_2d")


def openspiel_policy(game, policy):
    """An OpenSpiel policy playing ``policy[t, s, a]`` in a crowd modelling game.

    Parameters
    ----------
    game : pyspiel.Game
        A game :func:`from_openspiel` converts.
    policy : ndarray, shape (T, S, A) or (1, T, S, A)

    Returns
    -------
    open_spiel.python.policy.Policy
        Reads ``(x, t)`` (or ``(x, y, t)``) from the decision node's observation string.

    Raises
    ------
    ImportError
        OpenSpiel is not installed (``pip install "tabmfirl[openspiel]"``).
    """
    policy_module = require("open_spiel.python.policy", "tabmfirl.interop.openspiel_policy")
    probs = np.asarray(policy, dtype=float)
    probs = probs[0] if probs.ndim == 4 else probs
    size, two_d = _position(game)

    class ArrayPolicy(policy_module.Policy):
        def action_probabilities(self, state, player_id=None):
            numbers = [int(v) for v in state.observation_string(0).strip("()").split(",")]
            s, t = (numbers[0] * size + numbers[1], numbers[2]) if two_d else numbers
            return {a: float(probs[t, s, a]) for a in state.legal_actions()}

    return ArrayPolicy(game, [0])


def openspiel_mean_field(game, policy) -> np.ndarray:
    """OpenSpiel's distribution of ``policy`` as a tabmfirl flow ``(H+1, S)``.

    Parameters
    ----------
    game : pyspiel.Game
        A game :func:`from_openspiel` converts.
    policy : open_spiel.python.policy.Policy
        E.g. :func:`openspiel_policy`.

    Returns
    -------
    ndarray, shape (H+1, S)
        ``mu_t(s)`` read from ``DistributionPolicy`` at decision nodes and at
        the final mean field nodes.
    """
    distribution = require("open_spiel.python.mfg.algorithms.distribution",
                           "tabmfirl.interop.openspiel_mean_field")
    dist = distribution.DistributionPolicy(game, policy)
    size, two_d = _position(game)
    horizon = int(game.get_parameters()["horizon"])
    n_states = size * size if two_d else size
    mu = np.zeros((horizon + 1, n_states))
    for t in range(horizon + 1):
        suffix = "" if t < horizon else "_a"
        for s in range(n_states):
            pos = f"{s // size}, {s % size}" if two_d else f"{s}"
            mu[t, s] = dist.value_str(f"({pos}, {t}){suffix}", 0.0)
    return mu
