"""Bad input gets a ValueError that names the problem (core issue: validation)."""
import numpy as np
import pytest

import tabmfirl
from tabmfirl import MFGSpec, population_coupling
from tabmfirl.testing.games import random_game, random_policy


def _valid(**changes):
    kwargs = dict(n_states=2, n_actions=2, horizon=3, mu0=[0.5, 0.5],
                  transition=np.full((2, 2, 2), 0.5), reward=np.zeros((1, 2, 2)))
    kwargs.update(changes)
    return kwargs


def test_valid_spec_builds():
    spec = MFGSpec(**_valid())
    assert spec.n_contexts == 1 and spec.is_dense and spec.transition_width == 2


@pytest.mark.parametrize("changes, match", [
    ({"n_states": 0}, "n_states must be >= 1"),
    ({"n_actions": 2.5}, "n_actions must be an integer"),
    ({"horizon": 0}, "horizon must be >= 1"),
    ({"mu0": [1.0]}, r"mu0 must have shape \(n_states,\)"),
    ({"mu0": [0.7, 0.7]}, "mu0 is not stochastic"),
    ({"mu0": [1.5, -0.5]}, "mu0 has a negative probability"),
    ({"mu0": [np.nan, 1.0]}, "mu0 has a non-finite entry"),
    ({"transition": np.full((2, 2, 3), 1 / 3)}, "dense transition must have shape"),
    ({"transition": np.full((2, 2, 2), 0.6)}, "transition is not stochastic"),
    ({"transition": np.array([[[1.5, -0.5]] * 2] * 2)}, "transition has a negative probability"),
    ({"transition": np.array([[[np.nan, 1.0]] * 2] * 2)}, "transition has a non-finite entry"),
    ({"reward": np.zeros((2, 2))}, "reward must have shape"),
    ({"reward": np.full((1, 2, 2), np.inf)}, "reward has a non-finite entry"),
    ({"reward": np.zeros((2, 2, 2)), "n_contexts": 3}, "reward has 2 contexts but n_contexts=3"),
    ({"reward": lambda t, o, m, p, out: None}, "n_contexts must be given"),
    ({"reward": "zero"}, "reward must be an array or a callable"),
    ({"next_states": np.zeros((2, 2, 1), dtype=int), "transition": np.ones((2, 2, 2))},
     "sparse .* transition must have shape"),
    ({"next_states": np.full((2, 2, 1), 2), "transition": np.ones((2, 2, 1))},
     r"next_states entries must lie in \[0, 1\]"),
    ({"next_states": np.zeros((2, 2, 1)), "transition": np.ones((2, 2, 1))},
     "next_states must be integers"),
    ({"next_states": np.zeros((3, 2, 1), dtype=int)}, "next_states must have shape"),
    ({"mean_field_kind": "joint"}, "mean_field_kind must be one of"),
    ({"context_coupling": np.eye(2)}, r"context_coupling must have shape \(n_contexts"),
    ({"context_coupling": [[0.5]]}, "context_coupling is not stochastic"),
    ({"params": [np.nan]}, "params has a non-finite entry"),
])
def test_bad_spec_raises(changes, match):
    with pytest.raises(ValueError, match=match):
        MFGSpec(**_valid(**changes))


def _leaky_transition(t, observed, params, out):
    # Valid at mu0 = (1, 0), leaks probability mass once state 1 is occupied.
    for s in range(2):
        for a in range(2):
            out[s, a, 0] = 0.0
            out[s, a, 1] = 1.0 + observed[1]


def _nan_reward(t, observed, context, params, out):
    for s in range(2):
        for a in range(2):
            out[s, a] = 0.0 if observed[1] == 0.0 else np.nan


def test_function_checked_at_mu0():
    def bad(t, observed, params, out):
        out[:] = 0.5 * observed[0]
    with pytest.raises(ValueError, match="transition function at t=0, context 0, mean field mu0"):
        MFGSpec(**_valid(transition=bad, mu0=[0.5, 0.5]))
    with pytest.raises(ValueError, match="reward function at t=0, context 0"):
        MFGSpec(**_valid(reward=lambda t, o, m, p, out: out.fill(np.nan), n_contexts=1))


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_bad_transition_found_during_forward(backend):
    spec = MFGSpec(**_valid(transition=_leaky_transition, mu0=[1.0, 0.0]))
    policy = np.full((1, 3, 2, 2), 0.5)
    with pytest.raises(ValueError, match=r"transition function produced a row that is not "
                                         r"a probability vector .*for context 0, step 1"):
        tabmfirl.forward_mean_field(spec, policy, backend=backend)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_bad_reward_found_during_forward(backend):
    P = np.zeros((2, 2, 2))
    P[:, :, 1] = 1.0
    spec = MFGSpec(**_valid(transition=P, reward=_nan_reward, n_contexts=1, mu0=[1.0, 0.0]))
    with pytest.raises(ValueError,
                       match="reward function produced a non-finite value for context 0, step 1"):
        tabmfirl.forward_mean_field(spec, np.full((3, 2, 2), 0.5), backend=backend)


def test_bad_policy_and_solver_arguments():
    spec = random_game(3, 2, 4, 2, rng=0)
    with pytest.raises(ValueError, match="policy must have shape"):
        tabmfirl.forward_mean_field(spec, np.full((4, 3, 3), 1 / 3))
    bad = random_policy(spec, 0)
    bad[1, 2, 0] = [0.9, 0.2]
    with pytest.raises(ValueError, match=r"policy is not stochastic.*\(1, 2, 0\)"):
        tabmfirl.exploitability(spec, bad)
    with pytest.raises(ValueError, match="temperature must be finite and > 0"):
        tabmfirl.solve_equilibrium(spec, temperature=0.0)
    with pytest.raises(ValueError, match="temperature must be finite and >= 0"):
        tabmfirl.exploitability(spec, random_policy(spec, 0), temperature=-1.0)
    with pytest.raises(ValueError, match="method must be one of"):
        tabmfirl.solve_equilibrium(spec, method="newton")
    with pytest.raises(ValueError, match=r"damping must lie in \(0, 1\]"):
        tabmfirl.solve_equilibrium(spec, damping=0.0)
    with pytest.raises(ValueError, match="max_iter must be a positive integer"):
        tabmfirl.solve_equilibrium(spec, max_iter=0)
    with pytest.raises(ValueError, match="backend must be one of"):
        tabmfirl.solve_equilibrium(spec, backend="torch")


def test_context_and_flow_checks():
    spec = random_game(3, 2, 4, 2, rng=0, mean_field_kind="state_action")
    with pytest.raises(ValueError, match="context 2 out of range: this game has n_contexts=2"):
        spec.check_context(2)
    flow = np.full((2, 5, 3), 1 / 3)
    with pytest.raises(ValueError, match="observes the state-action distribution"):
        tabmfirl.evaluate_model(spec, flow)
    with pytest.raises(ValueError, match=r"mean_field must have shape \(n_contexts"):
        tabmfirl.evaluate_model(spec, flow[:1])
    with pytest.raises(ValueError, match=r"t must be an integer step in \[0, 3\]"):
        tabmfirl.evaluate_step(spec, 4, flow[:, 0], np.full((2, 3, 2), 1 / 6))
    with pytest.raises(ValueError, match="weights is not stochastic"):
        population_coupling([0.5, 0.6])


def test_model_with_reward_checks():
    spec = random_game(3, 2, 4, 1, dynamic=False, rng=0)
    model = tabmfirl.forward_mean_field(spec, random_policy(spec, 0)).model
    with pytest.raises(ValueError, match="reward has a non-finite entry"):
        model.with_reward(np.full((1, 4, 3, 2), np.nan))
    with pytest.raises(ValueError, match="reward must have shape"):
        model.with_reward(np.zeros((1, 4, 3, 3)))
    # A stationary model serves any number of contexts.
    assert model.with_reward(np.zeros((3, 4, 3, 2))).shape == (3, 4, 3, 2)


def test_cuda_without_device_raises_clearly():
    from numba import config

    if config.ENABLE_CUDASIM or tabmfirl.kernels._backend.cuda_is_usable():
        pytest.skip("a CUDA device or the simulator is present")
    spec = random_game(2, 2, 2, rng=0)
    with pytest.raises(RuntimeError, match="backend='cuda' needs a CUDA GPU"):
        tabmfirl.solve_equilibrium(spec, backend="cuda")
    assert tabmfirl.kernels._backend.resolve_backend("auto") == "numba"
