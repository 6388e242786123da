"""tabmfirl.testing: the assertion helpers pass on exact answers and fail on planted errors.

Also: the per-step split of the exploitability sums to it, the NumPy callables
of a game reproduce tabmfirl's forward pass, and the module imports without
Hypothesis (only ``tabmfirl.testing.strategies`` needs it).
"""
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tabmfirl import (
    MFGSpec,
    evaluate_model,
    exploitability,
    forward_mean_field,
    soft_bellman_backward,
    solve_equilibrium,
)
from tabmfirl.testing import (
    assert_equilibrium,
    assert_flow,
    assert_soft_best_response,
    dense_tables,
    exploitability_by_step,
    numpy_game,
    random_game,
    random_policy,
)
from tabmfirl.testing.strategies import games, policies, temperatures

SMALL = dict(max_states=5, max_actions=3, max_horizon=5, max_contexts=3)


def _flow_arguments(spec, flow):
    """``(mean_field, state_action)`` as the game needs them."""
    return flow.mean_field, (flow.state_action if spec.mean_field_kind == "state_action"
                             else None)


def _uncoupled_game(seed=0):
    """Three uncoupled types, 4 states, 3 actions, 5 steps, mean-field-dependent."""
    return random_game(4, 3, 5, 3, transition_strength=0.1, reward_strength=0.1, rng=seed)


def _planted_row(spec, policy, flow, m, t):
    """``policy`` with row ``(m, t, s)`` one-hot on its least likely action, ``s`` the most charged."""
    s = int(np.argmax(flow.mean_field[m, t]))
    wrong = policy.copy()
    wrong[m, t, s] = np.eye(spec.n_actions)[int(np.argmin(policy[m, t, s]))]
    return wrong, s


# ---------------------------------------------------------------- imports
def _run(code):
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=300)


def test_import_tabmfirl_imports_neither_testing_nor_hypothesis():
    run = _run("""
        import sys
        import tabmfirl
        print(sorted(m for m in ("hypothesis", "tabmfirl.testing") if m in sys.modules))
    """)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"


def test_testing_imports_without_hypothesis_and_strategies_say_what_to_install():
    run = _run("""
        import sys
        sys.modules["hypothesis"] = None          # as if it were not installed
        import tabmfirl.testing
        print(tabmfirl.testing.assert_equilibrium.__name__)
        import tabmfirl.testing.strategies
    """)
    assert run.returncode != 0
    assert run.stdout.strip() == "assert_equilibrium"
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: tabmfirl.testing.strategies needs hypothesis"), last
    assert "pip install 'tabmfirl[test]'" in last


# ---------------------------------------------------------------- exploitability split
@settings(deadline=None)
@given(games(**SMALL, coupling="strong"), st.one_of(st.just(0.0), temperatures), st.data())
def test_exploitability_by_step_is_nonnegative_and_sums_to_the_exploitability(spec, beta, data):
    policy = data.draw(policies(spec, concentration=0.5))
    shares = exploitability_by_step(spec, policy, beta)
    total = exploitability(spec, policy, temperature=beta, backend="numpy")
    assert shares.shape == (spec.n_contexts, spec.horizon, spec.n_states)
    assert np.all(shares >= -1e-12) and np.all(shares <= total.max() + 1e-12)
    np.testing.assert_allclose(shares.sum(axis=(1, 2)), total, rtol=1e-9, atol=1e-12)


# ---------------------------------------------------------------- assert_equilibrium
@settings(deadline=None)
@given(games(**SMALL, coupling="weak"), temperatures)
def test_assert_equilibrium_passes_on_the_exact_equilibrium(spec, beta):
    result = solve_equilibrium(spec, temperature=beta, tol=1e-12, backend="numpy", warn=False)
    assert result.converged
    assert_equilibrium(spec, result.policy, beta, atol=1e-9)


@pytest.mark.parametrize("m, t", [(0, 0), (1, 3), (2, 4)])
def test_assert_equilibrium_names_the_planted_type_and_step(m, t):
    spec, beta = _uncoupled_game(), 0.5
    result = solve_equilibrium(spec, temperature=beta, tol=1e-12, backend="numpy")
    wrong, s = _planted_row(spec, result.policy, forward_mean_field(spec, result.policy,
                                                                     backend="numpy"), m, t)
    with pytest.raises(AssertionError) as failure:
        assert_equilibrium(spec, wrong, beta, atol=1e-8)
    message = str(failure.value)
    print(message)
    assert message.startswith(f"policy is not an equilibrium at temperature {beta}")
    lines = message.splitlines()[1:]
    assert len(lines) == 1 and lines[0].startswith(f"  type {m}: exploitability")
    # the planted step is the one contributing most, at the planted state
    assert lines[0].split("): ")[1].startswith(f"t={t}: ")
    assert f"t={t}: " in lines[0] and f"(most at state {s}: " in lines[0]


def test_assert_equilibrium_rejects_bad_input():
    spec = _uncoupled_game()
    with pytest.raises(ValueError, match="policy must have shape"):
        assert_equilibrium(spec, np.full((5, 4, 3), 1 / 3)[None], 0.5)
    with pytest.raises(ValueError, match="temperature must be finite and >= 0"):
        assert_equilibrium(spec, np.full((3, 5, 4, 3), 1 / 3), -1.0)


# ---------------------------------------------------------------- assert_flow
@settings(deadline=None)
@given(games(**SMALL, coupling="strong"), st.data())
def test_assert_flow_passes_on_the_exact_flow(spec, data):
    policy = data.draw(policies(spec))
    assert_flow(spec, policy, forward_mean_field(spec, policy, backend="numpy").mean_field)


@pytest.mark.parametrize("m, t", [(0, 1), (2, 5)])
def test_assert_flow_names_the_planted_type_and_step(m, t):
    spec = _uncoupled_game()
    policy = random_policy(spec, rng=1)
    mu = forward_mean_field(spec, policy, backend="numpy").mean_field
    wrong = mu.copy()
    wrong[m, t] = wrong[m, t, ::-1]       # same total mass, wrong states
    assert not np.allclose(wrong[m, t], mu[m, t])
    with pytest.raises(AssertionError) as failure:
        assert_flow(spec, policy, wrong)
    lines = str(failure.value).splitlines()
    print(str(failure.value))
    assert lines[0].startswith("mean field is not the flow of the policy (atol=1e-08, rtol=0.0)")
    assert lines[1].startswith(f"  type {m}, step {t}: max |given - exact| = ")
    assert len(lines) == 2                # later steps follow the given policy, not the flow
    # a flow off by less than atol passes; a NaN never does
    assert_flow(spec, policy, mu + 1e-10)
    wrong = mu.copy()
    wrong[0, 0, 0] = np.nan
    with pytest.raises(AssertionError, match=r"type 0, step 0: max \|given - exact\| = inf"):
        assert_flow(spec, policy, wrong)


def test_assert_flow_accepts_a_one_type_flow_without_the_type_axis():
    spec = random_game(3, 2, 4, rng=0)
    policy = random_policy(spec, rng=0)
    mu = forward_mean_field(spec, policy, backend="numpy").mean_field
    assert_flow(spec, policy[0], mu[0])
    with pytest.raises(ValueError, match=r"mean_field must have shape \(1, 5, 3\)"):
        assert_flow(spec, policy, mu[0, :4])


# ---------------------------------------------------------------- assert_soft_best_response
@settings(deadline=None)
@given(games(**SMALL, coupling="strong"), temperatures, st.data())
def test_assert_soft_best_response_passes_on_the_exact_best_response(spec, beta, data):
    """The soft best response to the flow of another policy (the game frozen there)."""
    other = data.draw(policies(spec))
    flow = forward_mean_field(spec, other, backend="numpy")
    mean_field, state_action = _flow_arguments(spec, flow)
    best = solve_best_response(spec, mean_field, state_action, beta)
    assert_soft_best_response(spec, best, beta, mean_field=mean_field,
                              state_action=state_action, atol=1e-12)


def solve_best_response(spec, mean_field, state_action, beta):
    """The soft best response to a frozen flow, from tabmfirl's backward pass."""
    model = evaluate_model(spec, mean_field, state_action, backend="numpy")
    return soft_bellman_backward(model, beta, backend="numpy").policy


def test_assert_soft_best_response_names_the_planted_row():
    spec, beta = _uncoupled_game(), 0.5
    result = solve_equilibrium(spec, temperature=beta, tol=1e-12, backend="numpy")
    assert_soft_best_response(spec, result.policy, beta, atol=1e-8)   # own flow: the fixed point
    flow = forward_mean_field(spec, result.policy, backend="numpy")
    wrong, s = _planted_row(spec, result.policy, flow, 1, 2)
    # against the equilibrium's flow only the planted row is off
    with pytest.raises(AssertionError) as failure:
        assert_soft_best_response(spec, wrong, beta, mean_field=flow.mean_field, atol=1e-8)
    lines = str(failure.value).splitlines()
    print(str(failure.value))
    assert lines[0].startswith(f"policy is not the soft best response at temperature {beta} "
                               f"(atol=1e-08): 1 of 60 (type, step, state) rows off")
    assert lines[1].startswith("  type 1, step 2: max |pi - BR| = ")
    assert f" at state {s} (pi [" in lines[1]
    with pytest.raises(ValueError, match="temperature must be finite and > 0"):
        assert_soft_best_response(spec, result.policy, 0.0)


def test_assert_soft_best_response_reached_only_ignores_unreached_states():
    """State 2 is never reached: a wrong row there fails only when every state is compared."""
    P = np.zeros((3, 2, 3))
    P[:, 0, 0] = 1.0
    P[:, 1, 1] = 1.0
    spec = MFGSpec(n_states=3, n_actions=2, horizon=3, mu0=[1.0, 0.0, 0.0], transition=P,
                   reward=np.array([[[0.0, 1.0], [1.0, 0.0], [0.5, 0.0]]]))
    best = solve_equilibrium(spec, temperature=1.0, backend="numpy").policy
    wrong = best.copy()
    wrong[0, 1, 2] = [0.0, 1.0]
    assert_soft_best_response(spec, wrong, 1.0, reached_only=True)
    with pytest.raises(AssertionError, match=r"type 0, step 1: .* at state 2 .*mu_t\(s\) = 0\)"):
        assert_soft_best_response(spec, wrong, 1.0)


# ---------------------------------------------------------------- handing a game to others
@settings(deadline=None)
@given(games(**SMALL, coupling="strong"), st.data())
def test_numpy_game_reproduces_the_forward_pass_and_the_tables(spec, data):
    """A forward pass written with the NumPy callables only is tabmfirl's, and so are the tables."""
    policy = data.draw(policies(spec))
    game = numpy_game(spec)
    K, T = game.n_types, game.horizon
    mu = [np.tile(game.mu0, (K, 1))]
    P_mine = np.zeros((K, T, game.n_states, game.n_actions, game.n_states))
    R_mine = np.zeros((K, T, game.n_states, game.n_actions))
    for t in range(T):
        L_t = mu[-1][:, :, None] * policy[:, t]
        nu = game.observed(mu[-1], L_t)
        for m in range(K):
            P_mine[m, t] = game.transition(t, nu[m])
            R_mine[m, t] = game.reward(t, nu[m], m)
        mu.append(np.einsum("ksa,ksap->kp", L_t, P_mine[:, t]))
    flow = forward_mean_field(spec, policy, backend="numpy")
    np.testing.assert_allclose(np.stack(mu, axis=1), flow.mean_field, rtol=0, atol=1e-13)
    P, R = dense_tables(spec, flow.mean_field, flow.state_action)
    np.testing.assert_allclose(P_mine, P, rtol=0, atol=1e-13)
    np.testing.assert_allclose(R_mine, R, rtol=0, atol=1e-13)
    np.testing.assert_allclose(P.sum(-1), 1.0, rtol=0, atol=1e-12)


def test_numpy_game_observed_needs_the_state_action_flow_when_the_game_reads_it():
    spec = random_game(3, 2, 2, mean_field_kind="state_action", rng=0)
    with pytest.raises(ValueError, match="pass state_action_t of shape"):
        numpy_game(spec).observed(np.full((1, 3), 1 / 3))
