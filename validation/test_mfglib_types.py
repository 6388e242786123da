r"""tabmfirl's games with agent types against MFGLib, on the product game over (type, state).

The games are tabmfirl's own ``virus`` and ``malware`` with three types
(``tabmfirl.envs``), uncoupled, coupled through the whole population
(:func:`tabmfirl.population_coupling`) and coupled through an asymmetric
matrix.  The MFGLib side is the product game of
:func:`tabmfirl.interop.product_environment`, whose
tables are written here in torch from the games' published equations (the
module docstrings of ``envs/virus.py`` and ``envs/malware.py``, i.e. Cui &
Koeppl 2021 section 5 and Subramanian & Mahajan 2019 section 6 with our type
constants), not from tabmfirl's code.  Compared, at temperatures
``0.05, 0.3, 1, 5``:

* tables, flows, regularised and optimal Q, regularised returns and
  exploitability (regularised and not) of random policies, per type;
* tabmfirl's mirror descent against MFGLib's ``OnlineMirrorDescent`` on the
  regularised product game, iterate by iterate (``alpha = eta / beta``, see
  ``docs/validation.md``);
* tabmfirl's fictitious play against MFGLib's ``FictitiousPlay``, iterate by
  iterate (malware: its dynamics ignore the mean field, where the two
  algorithms are the same);
* tabmfirl's equilibria, certified by MFGLib: the regularised Q that MFGLib
  computes for the equilibrium policy is constant across actions (the policy
  is its own soft best response), and the exploitability tabmfirl reports lies
  in ``[-1e-12, tol]``.

Run: ``python -m pytest validation/test_mfglib_types.py -q -s`` (``-s`` prints
the numbers quoted in ``docs/validation.md``).
"""
from __future__ import annotations

import numpy as np
import pytest
from peers import require_peer

torch = require_peer("torch", "torch (MFGLib needs it)")
require_peer("mfglib.alg", "MFGLib")  # before mfglib.scoring: circular import

from mfglib.alg import FictitiousPlay, OnlineMirrorDescent  # noqa: E402
from mfglib.alg.q_fn import QFn  # noqa: E402
from mfglib.scoring import exploitability_score  # noqa: E402
from mfglib.utils import mean_field_from_policy  # noqa: E402
from mfglib_games import (  # noqa: E402
    action_spread,
    frozen,
    mfglib_iterates,
    per_type_best,
    per_type_return,
    shares_array,
    smallest_positive_gap,
)

from tabmfirl import (  # noqa: E402
    best_response,
    envs,
    exploitability,
    forward_mean_field,
    policy_evaluation,
    population_coupling,
    regularised_return,
    soft_bellman_backward,
    solve_equilibrium,
)
from tabmfirl.interop import (  # noqa: E402
    array_from_mfglib,
    policy_to_mfglib,
    product_environment,
)
from tabmfirl.interop import entropy_regularised as regularised  # noqa: E402

ATOL = 1e-9
#: Exploitability lower bound: it is >= 0 by theory, so anything below is a bug.
EXPL_FLOOR = -1e-12
TEMPERATURES = (0.05, 0.3, 1.0, 5.0)
#: Shares of the three types in the population (unequal on purpose).
SHARES = shares_array([0.2, 0.3, 0.5])
COUPLINGS = {
    "uncoupled": None,
    "population": population_coupling(SHARES),
    # Each type weighs the others differently (rows on the simplex).
    "asymmetric": np.array([[0.6, 0.3, 0.1], [0.0, 0.5, 0.5], [0.2, 0.0, 0.8]]),
}


# --------------------------------------------------------------------------
# The games' published equations, in torch (independent of tabmfirl's code)
# --------------------------------------------------------------------------
# virus (envs/virus.py docstring; Cui & Koeppl 2021, section 5): states (S, I),
# actions (out, distance); P(I | S, out) = 0.81 nu(I), distancing keeps S,
# P(S | I) = 0.3; r(s, a, m) = -1[s = I] - c_m 1[a = distance], c = (0.1, 0.5, 1.5);
# mu0 = (0.4, 0.6), T = 50.
VIRUS_COSTS = (0.1, 0.5, 1.5)


def virus_transition(t, nu):
    P = torch.zeros(2, 2, 2)
    infection = 0.81 * nu[1]
    P[0, 0, 0], P[0, 0, 1] = 1.0 - infection, infection
    P[0, 1, 0] = 1.0
    P[1, :, 0], P[1, :, 1] = 0.3, 0.7
    return P


def virus_reward(t, nu, m):
    r = torch.zeros(2, 2)
    r[1, :] -= 1.0
    r[:, 1] -= VIRUS_COSTS[m]
    return r


# malware (envs/malware.py docstring; Subramanian & Mahajan 2019, section 6):
# levels s = 0..9, actions (nothing, repair); repair -> 0, nothing -> uniform on
# {s..9}; r(s, a, nu, m) = -(0.2 + mbar(nu)/10) s/10 - lambda_m 1[a = repair],
# mbar(nu) = sum_s s nu(s), lambda = (0.1, 0.5, 1.2); mu0 uniform, T = 20.
MALWARE_COSTS = (0.1, 0.5, 1.2)
_MALWARE_P = torch.zeros(10, 2, 10)
for _s in range(10):
    _MALWARE_P[_s, 0, _s:] = 1.0 / (10 - _s)
    _MALWARE_P[_s, 1, 0] = 1.0


def malware_transition(t, nu):
    return _MALWARE_P


def malware_reward(t, nu, m):
    levels = torch.arange(10.0)
    mean_level = (levels * nu).sum()
    infection = -(0.2 + mean_level / 10.0) * levels / 10.0
    return torch.stack([infection, infection - MALWARE_COSTS[m]], dim=1)


GAMES = {
    "virus": dict(n_states=2, n_actions=2, horizon=50, mu0=[0.4, 0.6],
                  transition=virus_transition, reward=virus_reward),
    "malware": dict(n_states=10, n_actions=2, horizon=20, mu0=np.full(10, 0.1),
                    transition=malware_transition, reward=malware_reward),
}


def build(game: str, coupling: str):
    """(tabmfirl spec from ``tabmfirl.envs``, MFGLib product environment) for three types."""
    C = COUPLINGS[coupling]
    spec = envs.make(game, types=3)
    if C is not None:
        spec = spec.replace(context_coupling=C)
    return spec, product_environment(shares=SHARES, coupling=C, **GAMES[game])


CASES = [(game, coupling) for game in GAMES for coupling in COUPLINGS]
#: Solver checks (a few seconds each): every temperature, every coupling, both games.
SOLVER_CASES = [("virus", "uncoupled", 0.3), ("virus", "uncoupled", 5.0),
                ("virus", "population", 0.05), ("virus", "asymmetric", 1.0),
                ("malware", "uncoupled", 0.05), ("malware", "uncoupled", 1.0),
                ("malware", "population", 0.3), ("malware", "asymmetric", 5.0)]


@pytest.fixture(scope="module")
def built():
    cache = {}

    def get(game, coupling):
        if (game, coupling) not in cache:
            spec, env = build(game, coupling)
            cache[game, coupling] = spec, None, env
        return cache[game, coupling]

    return get


def random_policy(spec, rng):
    """Full-support Dirichlet(1) rows, ``(K, T, S, A)``."""
    return rng.dirichlet(np.ones(spec.n_actions),
                         size=(spec.n_contexts, spec.horizon, spec.n_states))


def mfglib_policy_values(env, pi, temperature):
    """MFGLib's Q of ``pi`` in the regularised game and the flow of ``pi``."""
    L = mean_field_from_policy(pi, env=env)
    q_reg = QFn(regularised(env, temperature), L, verify_integrity=False).for_policy(pi)
    return L, q_reg


def mfglib_exploitability(env, L, pi, pi_br, temperature, mu0, K):
    r"""Per type, ``J_beta(BR, mu^pi) - J_beta(pi, mu^pi)`` evaluated by MFGLib.

    ``pi_br`` is tabmfirl's soft best response; MFGLib certifies it (its
    regularised Q in the frozen game is constant across actions) before its
    value is used, so the maximum over deviations is the peer's number.
    """
    env_br = frozen(env, L, temperature, pi_br)
    q_br = QFn(env_br, L, verify_integrity=False).for_policy(pi_br)
    q_pi = QFn(frozen(env, L, temperature, pi), L, verify_integrity=False).for_policy(pi)
    if temperature > 0:
        assert action_spread(q_br) < ATOL, "tabmfirl's best response is not soft-greedy"
    return (per_type_return(q_br, pi_br, mu0, K) - per_type_return(q_pi, pi, mu0, K))


# --------------------------------------------------------------------------
# Random policies: tables, flows, values, exploitability
# --------------------------------------------------------------------------
@pytest.mark.parametrize("temperature", TEMPERATURES)
@pytest.mark.parametrize("game, coupling", CASES)
def test_values_and_exploitability_match_product_game(game, coupling, temperature, built):
    """Random policy: per-type tables, flows, Q, returns and exploitability agree."""
    spec, _, env = built(game, coupling)
    K, mu0 = spec.n_contexts, spec.mu0
    rng = np.random.default_rng(7)
    policy = random_policy(spec, rng)
    pi = policy_to_mfglib(policy)
    backend = "numba" if temperature == 1.0 else "numpy"   # compile each game once

    flow = forward_mean_field(spec, policy, backend=backend)
    model = flow.model
    L, q_reg = mfglib_policy_values(env, pi, temperature)
    L_types = array_from_mfglib(L, K) / SHARES[:, None, None, None]
    # Tables at every step along the flow: MFGLib's block for type m vs tabmfirl's context m.
    P_mfglib = np.stack([env.prob(t, L[t]).numpy() for t in range(spec.horizon)])
    R_mfglib = np.stack([env.reward(t, L[t]).numpy() for t in range(spec.horizon)])
    P_ours = model.dense_transition()                      # (K, T, S, A, S)
    S = spec.n_states
    for m in range(K):
        block = P_mfglib[:, m * S:(m + 1) * S, m * S:(m + 1) * S, :]   # (T, S', S, A)
        np.testing.assert_allclose(P_ours[m], block.transpose(0, 2, 3, 1), rtol=0, atol=ATOL)
    np.testing.assert_allclose(model.reward, array_from_mfglib(R_mfglib, K), rtol=0, atol=ATOL)
    np.testing.assert_allclose(flow.state_action, L_types, rtol=0, atol=ATOL)

    # Regularised Q of the policy: MFGLib's Q' + beta log pi is tabmfirl's Q_beta.
    q_ours = policy_evaluation(model, policy, temperature, backend=backend).q
    q_theirs = array_from_mfglib(q_reg, K) + temperature * np.log(policy)
    np.testing.assert_allclose(q_ours, q_theirs, rtol=0, atol=ATOL)
    J_ours = regularised_return(spec, policy, temperature=temperature, backend=backend)
    J_theirs = per_type_return(q_reg, pi, mu0, K)
    np.testing.assert_allclose(J_ours, J_theirs, rtol=0, atol=ATOL)

    # Optimal (hard) Q and the unregularised exploitability, per type and pooled.
    q_star = QFn(env, L, verify_integrity=False).optimal()
    np.testing.assert_allclose(soft_bellman_backward(model, 0.0, backend=backend).q,
                               array_from_mfglib(q_star, K), rtol=0, atol=ATOL)
    q_plain = QFn(env, L, verify_integrity=False).for_policy(pi)
    e0_theirs = per_type_best(q_star, mu0, K) - per_type_return(q_plain, pi, mu0, K)
    e0_ours = exploitability(spec, policy, temperature=0.0, backend=backend)
    np.testing.assert_allclose(e0_ours, e0_theirs, rtol=0, atol=ATOL)
    np.testing.assert_allclose(SHARES @ e0_ours, exploitability_score(env, pi), rtol=0, atol=ATOL)

    # Regularised exploitability, per type.
    br = best_response(spec, policy, temperature=temperature, backend=backend).policy
    e_theirs = mfglib_exploitability(env, L, pi, policy_to_mfglib(br), temperature, mu0, K)
    e_ours = exploitability(spec, policy, temperature=temperature, backend=backend)
    print(f"\n[types values] {game} {coupling} beta={temperature} ({backend}): "
          f"max|dL| {np.abs(flow.state_action - L_types).max():.1e}, "
          f"max|dQ_beta| {np.abs(q_ours - q_theirs).max():.1e}, "
          f"E_beta {np.round(e_ours, 4)} (|d| {np.abs(e_ours - e_theirs).max():.1e}), "
          f"E_0 {np.round(e0_ours, 4)} (|d| {np.abs(e0_ours - e0_theirs).max():.1e})")
    np.testing.assert_allclose(e_ours, e_theirs, rtol=0, atol=ATOL)
    assert np.all(e_ours >= EXPL_FLOOR) and np.all(e0_ours >= EXPL_FLOOR)


# --------------------------------------------------------------------------
# Solvers, iterate by iterate
# --------------------------------------------------------------------------
def tabmfirl_iterates(spec, n_iter, **settings):
    r"""tabmfirl's iterates ``pi_0 .. pi_{n-1}`` (``max_iter = i`` returns ``pi_{i-1}``)."""
    return np.stack([solve_equilibrium(spec, max_iter=i, warn=False, backend="numpy",
                                       **settings).policy for i in range(1, n_iter + 1)])


MD_ITERATIONS = 8
MD_LEARNING_RATE = 0.3


@pytest.mark.parametrize("game, coupling, temperature", SOLVER_CASES)
def test_mirror_descent_iterates_match_mfglib(game, coupling, temperature, built):
    r"""tabmfirl ``mirror_descent`` (``eta``) == MFGLib ``OnlineMirrorDescent(eta / beta)``.

    On the regularised product game: MFGLib's ``y += alpha Q'`` with
    ``Q' = Q_beta - beta log pi`` and ``pi = softmax(y)`` gives
    ``pi_{n+1} ∝ pi_n^(1 - alpha beta) exp(alpha Q_beta)``: tabmfirl's update
    with ``eta = alpha beta``.
    """
    spec, _, env = built(game, coupling)
    K, n = spec.n_contexts, MD_ITERATIONS
    ours = tabmfirl_iterates(spec, n, method="mirror_descent", temperature=temperature,
                             learning_rate=MD_LEARNING_RATE)
    omd = OnlineMirrorDescent(alpha=MD_LEARNING_RATE / temperature)
    pis = mfglib_iterates(omd, regularised(env, temperature), n)
    theirs = np.stack([array_from_mfglib(p, K) for p in pis])
    worst = np.abs(ours - theirs).max(axis=(1, 2, 3, 4))
    moved = np.abs(ours[-1] - ours[0]).max()
    print(f"\n[types MD] {game} {coupling} beta={temperature}: max|dpi| per iterate "
          f"{np.array2string(worst, precision=1)}; the policy moved by {moved:.2f}")
    assert moved > 1e-3  # the iterates do move: the comparison is not of constants
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=ATOL)


FP_ITERATIONS = 12
#: A temperature at which tabmfirl's soft best response is MFGLib's greedy one
#: exactly (checked: every positive Q gap exceeds 745 times it).
FP_TEMPERATURE = 1e-9


@pytest.mark.parametrize("coupling", list(COUPLINGS))
def test_fictitious_play_iterates_match_mfglib(coupling, built):
    r"""tabmfirl ``fictitious_play`` == MFGLib ``FictitiousPlay()`` on malware, iterate by iterate.

    Both average ``L`` with weight ``1/(n+1)`` (MFGLib: ``alpha_i = 1/(i+2)``
    for ``i = 0, 1, ...``) and take the policy ``pi(a|s) = L(s,a)/mu(s)``.
    MFGLib's best response is greedy (ties split uniformly); tabmfirl's is the
    softmax at ``FP_TEMPERATURE``, equal to it when no two actions are closer
    than ``745 * FP_TEMPERATURE`` (``exp(-745)`` underflows to 0), which the
    test checks at every iterate.  MFGLib averages with the best response's
    flow under its own feedback, tabmfirl with its occupancy in the model
    frozen at the current flow: the same here, as malware's dynamics ignore
    the mean field.
    """
    spec, _, env = built("malware", coupling)
    K, n = spec.n_contexts, FP_ITERATIONS
    ours = tabmfirl_iterates(spec, n, method="fictitious_play", temperature=FP_TEMPERATURE)
    pis = mfglib_iterates(FictitiousPlay(), env, n)
    expls = [exploitability_score(env, p) for p in pis]
    gaps = [smallest_positive_gap(QFn(env, mean_field_from_policy(p, env=env),
                                      verify_integrity=False).optimal()) for p in pis]
    assert min(gaps) > 1e4 * FP_TEMPERATURE, f"near-tie in Q: gap {min(gaps):.1e}"
    theirs = np.stack([array_from_mfglib(p, K) for p in pis])
    e0_ours = np.array([SHARES @ exploitability(spec, p, temperature=0.0, backend="numpy")
                        for p in ours])
    print(f"\n[types FP] malware {coupling}: max|dpi| {np.abs(ours - theirs).max():.1e}, "
          f"pooled E_0 {expls[0]:.4f} -> {expls[-1]:.4f} "
          f"(max|d| {np.abs(e0_ours - np.array(expls)).max():.1e}), smallest Q gap "
          f"{min(gaps):.1e}")
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=ATOL)
    np.testing.assert_allclose(e0_ours, expls, rtol=0, atol=ATOL)
    assert expls[-1] < 0.5 * expls[0]


# --------------------------------------------------------------------------
# Equilibria, certified by MFGLib
# --------------------------------------------------------------------------
EQUILIBRIUM_TOL = 1e-10


@pytest.mark.parametrize("game, coupling, temperature", SOLVER_CASES)
def test_equilibrium_certified_by_mfglib(game, coupling, temperature, built):
    r"""tabmfirl's ERMFNE is a fixed point by MFGLib's numbers, per type.

    MFGLib computes ``Q' = Q_beta - beta log pi`` of the equilibrium policy in
    the regularised product game: at an ERMFNE ``pi = softmax(Q_beta / beta)``,
    so ``Q'`` is constant across actions (equal to ``V_beta``), and its value
    from ``mu0`` is tabmfirl's optimal value.  The exploitability tabmfirl
    reports lies in ``[-1e-12, tol]``.
    """
    spec, _, env = built(game, coupling)
    K = spec.n_contexts
    result = solve_equilibrium(spec, method="mirror_descent", temperature=temperature,
                               learning_rate=0.5, max_iter=3000, tol=EQUILIBRIUM_TOL,
                               backend="numpy", warn=False)
    assert result.converged, f"residual {result.residual:.1e} after {result.num_iter}"
    pi = policy_to_mfglib(result.policy)
    L, q_reg = mfglib_policy_values(env, pi, temperature)
    spread = action_spread(q_reg)
    J_theirs = per_type_return(q_reg, pi, spec.mu0, K)
    J_star_ours = result.value[:, 0] @ spec.mu0
    print(f"\n[types equilibrium] {game} {coupling} beta={temperature}: "
          f"{result.num_iter} MD iterations, "
          f"E_beta {np.array2string(result.exploitability, precision=1)}, "
          f"MFGLib: spread of Q' over actions {spread:.1e}, "
          f"|J - V*| {np.abs(J_theirs - J_star_ours).max():.1e}")
    assert np.all(result.exploitability >= EXPL_FLOOR)
    assert np.all(result.exploitability <= 1e-9)
    assert spread < 1e-8
    np.testing.assert_allclose(J_theirs, J_star_ours, rtol=0, atol=1e-8)
    np.testing.assert_allclose(array_from_mfglib(L, K) / SHARES[:, None, None, None],
                               result.state_action, rtol=0, atol=ATOL)
