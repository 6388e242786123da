r"""tabmfirl against MFGLib 0.3.0 on every finite game MFGLib ships.

Each MFGLib game is rebuilt as an :class:`~tabmfirl.MFGSpec` from MFGLib's own
constructor (its tables, constants and random draws), with the mean field
dependence written as a Numba mean field function reading the joint
state-action distribution ``L_t`` (``mean_field_kind="state_action"``).

Conventions matched (see ``docs/validation.md``):

* MFGLib's ``env.T`` counts steps; time slices ``t = 0..T`` all carry a reward,
  so the tabmfirl horizon is ``T + 1`` (the last transition is never used).
* ``env.prob(t, L)`` is ``P[s_next, s, a]``; tabmfirl stores ``P[s, a, s_next]``.
  Multi-dimensional states and actions are flattened in C order.
* ``exploitability_score`` is unregularised and weighted by ``mu0``: it equals
  ``tabmfirl.exploitability(spec, pi, temperature=0)``.

Run: ``python -m pytest validation/test_mfglib.py -q -s`` (``-s`` prints the
agreement numbers quoted in the docs).
"""
from __future__ import annotations

import numpy as np
import pytest

mfglib = pytest.importorskip(
    "mfglib", reason="MFGLib is not installed (pip install -r validation/requirements.txt)")
torch = pytest.importorskip("torch", reason="torch is not installed (MFGLib needs it)")

import mfglib.alg  # noqa: E402  (import before mfglib.scoring: circular import)
from mfglib.alg import FictitiousPlay, OnlineMirrorDescent  # noqa: E402
from mfglib.env import Environment  # noqa: E402
from mfglib.scoring import exploitability_score  # noqa: E402
from mfglib.utils import mean_field_from_policy  # noqa: E402

from tabmfirl import (MFGSpec, exploitability, forward_mean_field,  # noqa: E402
                      soft_bellman_backward, solve_equilibrium)

torch.set_default_dtype(torch.float64)

ATOL = 1e-8


# --------------------------------------------------------------------------
# Mean field functions (Numba-compilable; ``obs`` is L_t flattened as s*A + a)
# --------------------------------------------------------------------------
def _state_marginal(obs, S, A):
    mu = np.zeros(S)
    for s in range(S):
        for a in range(A):
            mu[s] += obs[s * A + a]
    return mu


def sis_transition(t, obs, params, out):
    """MFGLib susceptible_infected: P(I|S,out) = 0.81 mu(I), P(S|I) = 0.3."""
    mu_i = obs[2] + obs[3]
    for a in range(2):
        out[1, a, 0] = 0.3
        out[1, a, 1] = 0.7
    out[0, 0, 1] = (0.9 ** 2) * mu_i
    out[0, 0, 0] = 1.0 - (0.9 ** 2) * mu_i
    out[0, 1, 0] = 1.0
    out[0, 1, 1] = 0.0


def rps_reward(t, obs, context, params, out):
    """MFGLib rock_paper_scissors: r(R)=2mu(S)-mu(P), r(P)=4mu(R)-2mu(S), r(S)=6mu(P)-3mu(R)."""
    mu = np.zeros(4)
    for s in range(4):
        for a in range(3):
            mu[s] += obs[s * 3 + a]
    for a in range(3):
        out[0, a] = 0.0
        out[1, a] = 2.0 * mu[3] - mu[2]
        out[2, a] = 4.0 * mu[1] - 2.0 * mu[3]
        out[3, a] = 6.0 * mu[2] - 3.0 * mu[1]


def left_right_reward(t, obs, context, params, out):
    """MFGLib left_right: r(L) = -mu(L), r(R) = -2 mu(R)."""
    mu1 = obs[2] + obs[3]
    mu2 = obs[4] + obs[5]
    for a in range(2):
        out[0, a] = 0.0
        out[1, a] = -mu1
        out[2, a] = -2.0 * mu2


def log_crowd_reward(t, obs, context, params, out):
    r"""``base[t', s, a] - eta * log(g(mu_t(s)))`` (beach_bar, crowd_motion, building_evacuation).

    ``params = [S, A, eta, eps, clamp, n_base, base...]``: ``g(m) = max(m, eps)``
    when ``clamp`` else ``m + eps``; ``t' = min(t, n_base - 1)``.
    """
    S = int(params[0])
    A = int(params[1])
    eta = params[2]
    eps = params[3]
    clamp = params[4] > 0.5
    n_base = int(params[5])
    tb = min(t, n_base - 1)
    offset = 6 + tb * S * A
    for s in range(S):
        m = 0.0
        for a in range(A):
            m += obs[s * A + a]
        g = max(m, eps) if clamp else m + eps
        penalty = eta * np.log(g)
        for a in range(A):
            out[s, a] = params[offset + s * A + a] - penalty


def treasure_transition(t, obs, params, out):
    """MFGLib conservative_treasure_hunting; ``params = [n, c_1..c_T, r_1..r_n]``."""
    n = int(params[0])
    for s in range(n):
        for a in range(n):
            for s2 in range(n):
                out[s, a, s2] = 0.0
    if t == 0:
        for s in range(n):
            for a in range(n):
                out[s, a, a] = 1.0
        return
    c = params[1 + t - 1]
    for s in range(n):
        diff = 0.0
        for i in range(n):
            for j in range(n):
                e = 1.0 if (i == s and j == s) else 0.0
                d = obs[i * n + j] - e
                diff += d * d
        base = (c * diff) / (1.0 + n * c * diff)
        stay = 1.0 / (1.0 + n * c * diff)
        for a in range(n):
            for s2 in range(n):
                out[s, a, s2] = base
            out[s, a, a] += stay


def treasure_reward(t, obs, context, params, out):
    """MFGLib conservative_treasure_hunting reward (``params`` as for the transition)."""
    n = int(params[0])
    n_c = int(params.shape[0]) - 1 - n
    for s in range(n):
        for a in range(n):
            out[s, a] = 0.0
    if t == 0:
        return
    for s in range(n):
        diff = 0.0
        for i in range(n):
            for j in range(n):
                e = 1.0 if (i == s and j == s) else 0.0
                d = obs[i * n + j] - e
                diff += d * d
        out[s, s] = params[1 + n_c + s] * (1.0 - diff / 2.0)


def price_reward(t, obs, context, params, out):
    """MFGLib equilibrium_price; ``params = [s_inv, Q, H, d, e0, sigma, c0..c4]``.

    Actions ``(q, h)`` are flattened as ``q * (H + 1) + h``.
    """
    s_inv = int(params[0])
    Q = int(params[1])
    H = int(params[2])
    d, e0, sigma = params[3], params[4], params[5]
    c0, c1, c2, c3, c4 = params[6], params[7], params[8], params[9], params[10]
    A = (Q + 1) * (H + 1)
    supply = 0.0
    for s in range(s_inv + 1):
        for q in range(Q + 1):
            for h in range(H + 1):
                supply += obs[s * A + q * (H + 1) + h] * q
    price = (d / (supply + e0)) ** (1.0 / sigma)
    for s in range(s_inv + 1):
        for q in range(Q + 1):
            for h in range(H + 1):
                out[s, q * (H + 1) + h] = ((price - c0) * q - c1 * q * q - c2 * h
                                           - (c2 + c3) * max(q - s, 0) - c4 * s)


def lq_transition(t, obs, params, out):
    """MFGLib linear_quadratic; ``params = [el, m, sigma, delta, k, eps_1..eps_7, pr_1..pr_7]``."""
    el = int(params[0])
    m = int(params[1])
    sigma, delta, k = params[2], params[3], params[4]
    n_s = 2 * el + 1
    n_a = 2 * m + 1
    m_t = 0.0
    for s in range(n_s):
        for a in range(n_a):
            m_t += (s - el) * obs[s * n_a + a]
    for s in range(n_s):
        for a in range(n_a):
            for s2 in range(n_s):
                out[s, a, s2] = 0.0
            for j in range(7):
                x = (s - el + (k * (m_t - s + el) + a - m) * delta
                     + sigma * params[5 + j] * np.sqrt(delta))
                s_next = int(np.round(x))
                s_next = min(max(-el, s_next), el)
                out[s, a, s_next + el] += params[12 + j]


LQ_REWARD_OFFSET = 19  # the transition's 5 constants + 7 noise values + 7 weights


def lq_reward(t, obs, context, params, out):
    """MFGLib linear_quadratic; ``params[19:] = [el, m, delta, q, kappa, c_term, T]``."""
    o = LQ_REWARD_OFFSET
    el = int(params[o])
    m = int(params[o + 1])
    delta, q, kappa, c_term = params[o + 2], params[o + 3], params[o + 4], params[o + 5]
    T = int(params[o + 6])
    n_s = 2 * el + 1
    n_a = 2 * m + 1
    m_t = 0.0
    for s in range(n_s):
        for a in range(n_a):
            m_t += (s - el) * obs[s * n_a + a]
    for s in range(n_s):
        x = m_t - (s - el)
        for a in range(n_a):
            if t == T:
                out[s, a] = -0.5 * c_term * x * x
            else:
                u = a - m
                out[s, a] = (-0.5 * u * u + q * u * x - 0.5 * kappa * x * x) * delta


def random_linear_transition(t, obs, params, out):
    """MFGLib random_linear: ``P[:, s, a] = softmax_s'(sum_k p1[s', s, k] L[k, a] + p2[s', s, a])``."""
    n = int(params[0])
    p1 = params[1:1 + n ** 3]
    p2 = params[1 + n ** 3:1 + 2 * n ** 3]
    logits = np.zeros(n)
    for s in range(n):
        for a in range(n):
            top = -np.inf
            for s2 in range(n):
                v = p2[(s2 * n + s) * n + a]
                for kk in range(n):
                    v += p1[(s2 * n + s) * n + kk] * obs[kk * n + a]
                logits[s2] = v
                top = max(top, v)
            total = 0.0
            for s2 in range(n):
                logits[s2] = np.exp(logits[s2] - top)
                total += logits[s2]
            for s2 in range(n):
                out[s, a, s2] = logits[s2] / total


def random_linear_reward(t, obs, context, params, out):
    """MFGLib random_linear: ``r[s, a] = sum_k r1[s, k] L[k, a] + r2[s, a]``."""
    n = int(params[0])
    r1 = params[1 + 2 * n ** 3:1 + 2 * n ** 3 + n * n]
    r2 = params[1 + 2 * n ** 3 + n * n:1 + 2 * n ** 3 + 2 * n * n]
    for s in range(n):
        for a in range(n):
            v = r2[s * n + a]
            for kk in range(n):
                v += r1[s * n + kk] * obs[kk * n + a]
            out[s, a] = v


# --------------------------------------------------------------------------
# Builders: (MFGLib env, tabmfirl spec)
# --------------------------------------------------------------------------
def _static_transition(env):
    """MFGLib's (mean-field independent) ``P[s', s, a]`` as tabmfirl's ``P[s, a, s']``."""
    S, A = env.n_states, env.n_actions
    L = torch.ones(env.S + env.A) / (S * A)
    p = env.prob(0, L).reshape(S, S, A).numpy()
    return np.ascontiguousarray(p.transpose(1, 2, 0))


def _sparse_if_deterministic(P):
    """``(next_states, values)`` with width 1 when every row is a point mass."""
    if np.all(np.isclose(P.max(axis=-1), 1.0, rtol=0, atol=0)):
        return P.argmax(axis=-1)[..., None], np.ones(P.shape[:2] + (1,))
    return None, P


def _spec(env, transition, reward, *, params=(), name, next_states=None):
    return MFGSpec(n_states=env.n_states, n_actions=env.n_actions, horizon=env.T + 1,
                   mu0=env.mu0.reshape(-1).numpy(), transition=transition, reward=reward,
                   n_contexts=1, next_states=next_states, params=np.asarray(params, float),
                   mean_field_kind="state_action", name=f"mfglib_{name}")


def _log_crowd_params(env, base, eta, eps, clamp):
    base = np.asarray(base, dtype=float).reshape(-1, env.n_states * env.n_actions)
    return np.concatenate([[env.n_states, env.n_actions, eta, eps, float(clamp),
                            base.shape[0]], base.ravel()])


def build_susceptible_infected(**kw):
    env = Environment.susceptible_infected(**kw)
    reward = env.reward(0, None).numpy()[None]
    return env, _spec(env, sis_transition, reward, name="susceptible_infected")


def build_rock_paper_scissors(**kw):
    env = Environment.rock_paper_scissors(**kw)
    return env, _spec(env, _static_transition(env), rps_reward, name="rock_paper_scissors")


def build_left_right(**kw):
    env = Environment.left_right(**kw)
    return env, _spec(env, _static_transition(env), left_right_reward, name="left_right")


def build_beach_bar(**kw):
    env = Environment.beach_bar(**kw)
    fn = env.reward_fn
    base = (fn.c1 + fn.c2).numpy()
    params = _log_crowd_params(env, base, 1.0, fn.log_eps, clamp=False)
    return env, _spec(env, _static_transition(env), log_crowd_reward, params=params,
                      name="beach_bar")


def build_crowd_motion(**kw):
    env = Environment.crowd_motion(**kw)
    fn = env.reward_fn
    base = np.stack([(fn.c * c1).numpy() for c1 in fn.c1s])
    params = _log_crowd_params(env, base, 1.0, fn.log_eps, clamp=False)
    next_states, P = _sparse_if_deterministic(_static_transition(env))
    return env, _spec(env, P, log_crowd_reward, params=params, name="crowd_motion",
                      next_states=next_states)


def build_building_evacuation(**kw):
    env = Environment.building_evacuation(**kw)
    fn = env.reward_fn
    base = np.repeat(fn.r.reshape(-1).numpy()[:, None], env.n_actions, axis=1)
    params = _log_crowd_params(env, base, fn.eta, fn.log_eps, clamp=True)
    next_states, P = _sparse_if_deterministic(_static_transition(env))
    return env, _spec(env, P, log_crowd_reward, params=params, name="building_evacuation",
                      next_states=next_states)


def build_conservative_treasure_hunting(**kw):
    env = Environment.conservative_treasure_hunting(**kw)
    params = np.concatenate([[env.transition_fn.n], env.transition_fn.c, env.reward_fn.r])
    return env, _spec(env, treasure_transition, treasure_reward, params=params,
                      name="conservative_treasure_hunting")


def build_equilibrium_price(**kw):
    env = Environment.equilibrium_price(**kw)
    fn = env.reward_fn
    s_inv = env.n_states - 1
    Q, H = env.A[0] - 1, env.A[1] - 1
    params = np.concatenate([[s_inv, Q, H, fn.d, fn.e0, fn.sigma], fn.c])
    return env, _spec(env, _static_transition(env), price_reward, params=params,
                      name="equilibrium_price")


def build_linear_quadratic(**kw):
    env = Environment.linear_quadratic(**kw)
    tf, rf = env.transition_fn, env.reward_fn
    t_params = np.concatenate([[tf.el, tf.m, tf.sigma, tf.delta, tf.k],
                               tf.epsilon.numpy(), tf.epsilon_pr.numpy()])
    m = (env.n_actions - 1) // 2
    q = float(rf.r_c21[0, m + 1]) if m > 0 else 0.0
    r_params = np.array([rf.el, m, rf.delta, q, rf.kappa, rf.c_term, rf.T], dtype=float)
    # One params vector for both functions: the reward's comes after the transition's.
    params = np.concatenate([t_params, r_params])
    assert t_params.size == LQ_REWARD_OFFSET
    return env, _spec(env, lq_transition, lq_reward, params=params, name="linear_quadratic")


def build_random_linear(**kw):
    env = Environment.random_linear(**kw)
    tf, rf = env.transition_fn, env.reward_fn
    n = env.n_states
    params = np.concatenate([[n], tf.p1.numpy().ravel(), tf.p2.numpy().ravel(),
                             rf.r1.numpy().ravel(), rf.r2.numpy().ravel()])
    return env, _spec(env, random_linear_transition, random_linear_reward, params=params,
                      name="random_linear")


BUILDERS = {
    "susceptible_infected": build_susceptible_infected,
    "rock_paper_scissors": build_rock_paper_scissors,
    "left_right": build_left_right,
    "beach_bar": build_beach_bar,
    "crowd_motion": build_crowd_motion,
    "building_evacuation": build_building_evacuation,
    "conservative_treasure_hunting": build_conservative_treasure_hunting,
    "equilibrium_price": build_equilibrium_price,
    "linear_quadratic": build_linear_quadratic,
    "random_linear": build_random_linear,
}


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------
def random_policy(spec, rng):
    """A full-support random policy ``(T, S, A)`` (Dirichlet(1) rows)."""
    return rng.dirichlet(np.ones(spec.n_actions), size=(spec.horizon, spec.n_states))


def to_torch_policy(env, policy):
    """tabmfirl ``(T, S, A)`` -> MFGLib ``(T+1, *S, *A)`` (same numbers)."""
    return torch.from_numpy(np.ascontiguousarray(policy)).reshape((env.T + 1,) + env.S + env.A)


def to_numpy_policy(env, pi):
    """MFGLib ``(T+1, *S, *A)`` -> tabmfirl ``(T, S, A)``."""
    return pi.detach().reshape(env.T + 1, env.n_states, env.n_actions).numpy().astype(float)


def mfglib_flow(env, pi):
    """MFGLib's ``L_t(s, a)`` as an array ``(T+1, S, A)``."""
    L = mean_field_from_policy(pi, env=env)
    return L.reshape(env.T + 1, env.n_states, env.n_actions).numpy()


GAMES = list(BUILDERS)
# Keep the big games on one backend-independent check each to spare CI time.
SMALL_GAMES = [g for g in GAMES if g not in ("crowd_motion", "building_evacuation")]


@pytest.fixture(scope="module")
def built():
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = BUILDERS[name]()
        return cache[name]

    return get


# --------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------
@pytest.mark.parametrize("name", GAMES)
def test_tables_match_mfglib(name, built):
    """P and r evaluated along a random flow equal env.prob / env.reward (all t)."""
    env, spec = built(name)
    rng = np.random.default_rng(0)
    policy = random_policy(spec, rng)
    flow = forward_mean_field(spec, policy, backend="numpy")
    P = flow.model.dense_transition()[0]
    R = flow.model.reward[0]
    S, A = env.n_states, env.n_actions
    worst_p = worst_r = 0.0
    for t in range(env.T + 1):
        L_t = torch.from_numpy(flow.state_action[0, t]).reshape(env.S + env.A)
        p_ref = env.prob(t, L_t).reshape(S, S, A).numpy().transpose(1, 2, 0)
        r_ref = env.reward(t, L_t).reshape(S, A).numpy()
        worst_p = max(worst_p, float(np.max(np.abs(P[t] - p_ref))))
        worst_r = max(worst_r, float(np.max(np.abs(R[t] - r_ref))))
    print(f"\n[mfglib tables] {name}: max|dP| = {worst_p:.1e}, max|dr| = {worst_r:.1e}")
    assert worst_p <= ATOL and worst_r <= ATOL


@pytest.mark.parametrize("name, backend", [
    (name, backend) for name in GAMES for backend in ("numpy", "numba")
    if backend == "numba" or name in SMALL_GAMES])  # large games: numba only (CI time)
def test_flow_and_exploitability_match_mfglib(name, backend, built):
    """Same random policy: L_t to 1e-8 and exploitability (temperature 0) to 1e-8."""
    env, spec = built(name)
    rng = np.random.default_rng(1)
    worst_flow = worst_expl = 0.0
    for _ in range(2):
        policy = random_policy(spec, rng)
        pi = to_torch_policy(env, policy)
        flow = forward_mean_field(spec, policy, backend=backend)
        L = mfglib_flow(env, pi)
        mine = float(exploitability(spec, policy, temperature=0.0, backend=backend)[0])
        theirs = exploitability_score(env, pi)
        worst_flow = max(worst_flow, float(np.max(np.abs(flow.state_action[0] - L))))
        worst_expl = max(worst_expl, abs(mine - theirs))
        np.testing.assert_allclose(flow.state_action[0], L, rtol=0, atol=ATOL)
        np.testing.assert_allclose(mine, theirs, rtol=0, atol=ATOL)
    print(f"\n[mfglib flow/expl] {name} ({backend}): max|dL| = {worst_flow:.1e}, "
          f"|d expl| = {worst_expl:.1e} (expl ~ {theirs:.4g})")


def greedy_uniform_ties(q):
    """MFGLib's ``Greedy_Policy``: uniform over the actions with ``Q == max Q`` exactly."""
    mask = q == q.max(axis=-1, keepdims=True)
    return mask / mask.sum(axis=-1, keepdims=True)


def fictitious_play_like_mfglib(spec, n_iter, backend="numpy"):
    r"""MFGLib's ``FictitiousPlay(alpha=0)`` written with tabmfirl's kernels.

    ``pi_{i+1} = (1-a) mu pi + a mu_br pi_br / ((1-a) mu + a mu_br)``, ``a = 1/(i+2)``,
    with ``pi_br`` the hard best response to the flow of ``pi_i`` (ties split
    uniformly) and ``mu_br`` the flow of ``pi_br`` *with its own feedback*
    (MFGLib's ``mean_field_from_policy(pi_br)``).
    """
    T, S, A = spec.horizon, spec.n_states, spec.n_actions
    pi = np.full((1, T, S, A), 1.0 / A)
    for i in range(n_iter):
        flow = forward_mean_field(spec, pi, backend=backend)
        q = soft_bellman_backward(flow.model, 0.0, backend=backend).q
        pi_br = greedy_uniform_ties(q)
        mu = flow.mean_field[:, :T, :, None]
        mu_br = forward_mean_field(spec, pi_br, backend=backend).mean_field[:, :T, :, None]
        alpha = 1.0 / (i + 2)
        numer = (1 - alpha) * mu * pi + alpha * mu_br * pi_br
        denom = (1 - alpha) * mu + alpha * mu_br
        with np.errstate(invalid="ignore", divide="ignore"):
            pi = np.where(denom > 0, numer / np.where(denom > 0, denom, 1.0), 1.0 / A)
    return pi


EQUILIBRIUM_GAMES = ["susceptible_infected", "rock_paper_scissors", "left_right", "beach_bar"]


@pytest.mark.parametrize("name", EQUILIBRIUM_GAMES)
def test_fictitious_play_iterates_match_mfglib(name, built):
    """MFGLib's fictitious play, replayed with tabmfirl's kernels, gives the same iterates."""
    env, spec = built(name)
    n_iter = 20
    solns, expls, _ = FictitiousPlay().solve(env, max_iter=n_iter, atol=None, rtol=None)
    theirs = to_numpy_policy(env, solns[-1])
    mine = fictitious_play_like_mfglib(spec, n_iter)[0]
    expl_mine = float(exploitability(spec, mine[None], temperature=0.0, backend="numpy")[0])
    print(f"\n[mfglib FP x{n_iter}] {name}: max|dpi| = {np.max(np.abs(mine - theirs)):.1e}, "
          f"expl mfglib {expls[-1]:.6g} vs tabmfirl {expl_mine:.6g}")
    np.testing.assert_allclose(mine, theirs, rtol=0, atol=ATOL)
    np.testing.assert_allclose(expl_mine, expls[-1], rtol=0, atol=ATOL)


# tabmfirl solver settings that converge (or nearly) on each game; found by trying
# mirror descent, fictitious play and damped fixed point at beta in {0.01, 0.05}.
TABMFIRL_SOLVER = {
    "susceptible_infected": dict(temperature=0.05, method="fixed_point", damping=0.1),
    "rock_paper_scissors": dict(temperature=0.01, method="fictitious_play"),
    "left_right": dict(temperature=0.01, method="mirror_descent", learning_rate=0.02),
    "beach_bar": dict(temperature=0.01, method="mirror_descent", learning_rate=0.02),
}


@pytest.mark.parametrize("name", EQUILIBRIUM_GAMES)
def test_equilibria_cross_scored(name, built):
    """Each library scores the other's equilibrium the same way, and both are near-Nash.

    MFGLib: online mirror descent (unregularised, alpha=1), best of 300
    iterates.  tabmfirl: an entropy-regularised equilibrium (ERMFNE) at a small
    temperature beta; its *unregularised* exploitability is not 0 but at most
    ``beta * horizon * log(A)`` (the entropy bonus of any policy lies in
    ``[0, beta * T * log A]``).
    """
    env, spec = built(name)
    solns, expls, _ = OnlineMirrorDescent(alpha=1.0).solve(env, max_iter=300, atol=None,
                                                             rtol=None)
    best = int(np.argmin(expls))
    theirs = to_numpy_policy(env, solns[best])
    theirs_by_us = float(exploitability(spec, theirs[None], temperature=0.0,
                                        backend="numpy")[0])

    settings = TABMFIRL_SOLVER[name]
    result = solve_equilibrium(spec, max_iter=1000, tol=1e-9, backend="numpy", warn=False,
                               **settings)
    ours = result.policy[0]
    ours_by_us = float(exploitability(spec, ours[None], temperature=0.0, backend="numpy")[0])
    ours_by_them = exploitability_score(env, to_torch_policy(env, ours))
    beta = settings["temperature"]
    print(f"\n[mfglib equilibria] {name}: MFGLib OMD expl {expls[best]:.3e} (tabmfirl scores "
          f"{theirs_by_us:.3e}); tabmfirl {settings['method']} beta={beta} ERMFNE: "
          f"E_beta {result.exploitability[0]:.1e}, E_0 {ours_by_us:.3e} (MFGLib scores "
          f"{ours_by_them:.3e}), converged={result.converged} in {result.num_iter}")
    np.testing.assert_allclose(theirs_by_us, expls[best], rtol=0, atol=ATOL)
    np.testing.assert_allclose(ours_by_us, ours_by_them, rtol=0, atol=ATOL)
    assert result.exploitability[0] < 1e-6
    assert ours_by_us <= beta * spec.horizon * np.log(spec.n_actions) + 1e-9
    if name == "left_right":
        # Unique equilibrium: mu_1(L) = 2 mu_1(R), i.e. mu_1 = (0, 2/3, 1/3).
        mu_theirs = mfglib_flow(env, solns[best]).sum(-1)[1]
        mu_ours = result.mean_field[0, 1]
        print(f"    left_right mu_1: MFGLib {np.round(mu_theirs, 6)}, "
              f"tabmfirl {np.round(mu_ours, 6)}")
        np.testing.assert_allclose(mu_theirs, [0, 2 / 3, 1 / 3], atol=1e-6)
        np.testing.assert_allclose(mu_ours, [0, 2 / 3, 1 / 3], atol=0.01)
