"""Tests of tabmfirl.evaluation._metrics: deviations, adjusted Rand index, scoring a learned reward."""
import numpy as np
import pytest

from tabmfirl import envs, solve_equilibrium
from tabmfirl.evaluation._learned_game import ACTIVATION_CODES, activate, learned_game
from tabmfirl.evaluation._metrics import (
    adjusted_rand_index,
    contingency_table,
    evaluate_reward,
    kl_divergence,
    match_types,
    mean_field_deviation,
    normalized_mutual_information,
    policy_deviation,
    return_deviation,
)
from tabmfirl.irl._heads import RewardHead
from tabmfirl.irl._nn import ACTIVATIONS

# ---------------------------------------------------------------------------
# KL, mean field and policy deviations (hand-computed).
# ---------------------------------------------------------------------------


def test_kl_divergence_hand_values():
    # KL((1/2, 1/2) || (1/4, 3/4)) = 1/2 log 2 + 1/2 log(2/3)
    expected = 0.5 * np.log(2.0) + 0.5 * np.log(2.0 / 3.0)
    np.testing.assert_allclose(kl_divergence([0.5, 0.5], [0.25, 0.75]), expected,
                               rtol=0, atol=1e-15)
    # zero-probability terms of p vanish, even where q is 0 too
    np.testing.assert_allclose(kl_divergence([1.0, 0.0], [0.5, 0.0]), np.log(2.0),
                               rtol=0, atol=1e-15)
    assert kl_divergence([0.5, 0.5], [1.0, 0.0]) == np.inf
    assert kl_divergence([0.3, 0.7], [0.3, 0.7]) == 0.0
    with pytest.raises(ValueError, match="same shape"):
        kl_divergence([0.5, 0.5], [1.0])


def test_mean_field_deviation_sums_kl_over_time():
    mu_e = np.array([[[0.4, 0.6], [0.5, 0.5], [1.0, 0.0]],
                     [[0.4, 0.6], [0.2, 0.8], [0.1, 0.9]]])
    mu_l = np.array([[[0.4, 0.6], [0.25, 0.75], [0.5, 0.5]],
                     [[0.4, 0.6], [0.2, 0.8], [0.1, 0.9]]])
    # type 0: KL(1/2,1/2 || 1/4,3/4) + KL(1, 0 || 1/2, 1/2) = 0.1438... + log 2
    expected0 = 0.5 * np.log(2.0) + 0.5 * np.log(2.0 / 3.0) + np.log(2.0)
    np.testing.assert_allclose(mean_field_deviation(mu_e, mu_l), [expected0, 0.0],
                               rtol=0, atol=1e-14)
    with pytest.raises(ValueError, match=r"shape \(K, T\+1, S\)"):
        mean_field_deviation(mu_e, mu_l[:, :2])
    # one type without its leading axis: the message says how to fix it
    with pytest.raises(ValueError, match="add a leading axis"):
        mean_field_deviation(mu_e[0], mu_l[0])


def test_policy_deviation_weights_kl_by_expert_flow():
    # K=1, T=2, S=2, A=2
    mu_e = np.array([[[0.5, 0.5], [0.0, 1.0], [0.3, 0.7]]])
    pi_e = np.array([[[[0.5, 0.5], [1.0, 0.0]],
                      [[0.9, 0.1], [0.2, 0.8]]]])
    pi_l = np.array([[[[0.25, 0.75], [0.5, 0.5]],
                      [[0.1, 0.9], [0.2, 0.8]]]])
    # t=0: 0.5 KL(.5,.5||.25,.75) + 0.5 KL(1,0||.5,.5); t=1: state 0 has no mass,
    # state 1 has equal policies
    expected = 0.5 * (0.5 * np.log(2.0) + 0.5 * np.log(2.0 / 3.0)) + 0.5 * np.log(2.0)
    np.testing.assert_allclose(policy_deviation(mu_e, pi_e, pi_l), [expected],
                               rtol=0, atol=1e-14)
    # the flow may also be given with T rows
    np.testing.assert_allclose(policy_deviation(mu_e[:, :2], pi_e, pi_l), [expected],
                               rtol=0, atol=1e-14)
    np.testing.assert_allclose(policy_deviation(mu_e, pi_e, pi_e), [0.0], rtol=0, atol=0)
    with pytest.raises(ValueError, match="expert_mean_field"):
        policy_deviation(mu_e[:, :, :1], pi_e, pi_l)


# ---------------------------------------------------------------------------
# Adjusted Rand index.
# ---------------------------------------------------------------------------


def test_contingency_table():
    np.testing.assert_array_equal(contingency_table([0, 0, 1, 1, 2], [5, 5, 5, 7, 7]),
                                  [[2, 0], [1, 1], [0, 1]])
    with pytest.raises(ValueError, match="same length"):
        contingency_table([0, 1], [0])
    with pytest.raises(ValueError, match="integer"):
        contingency_table([0.5, 1.0], [0, 1])


@pytest.mark.parametrize("a, b, expected", [
    # identical up to relabelling
    ([0, 0, 1, 1, 2, 2], [2, 2, 0, 0, 1, 1], 1.0),
    # table [[2,0,0],[0,1,1]]: sum C(n_ij,2) = 1, rows 1+1 = 2, cols 1, C(4,2) = 6,
    # E = 2*1/6 = 1/3, max = 3/2, ARI = (1 - 1/3) / (3/2 - 1/3) = 4/7
    ([0, 0, 1, 1], [0, 0, 1, 2], 4.0 / 7.0),
    # table [[1,1],[1,1]]: index 0, rows 2, cols 2, E = 4/6, max = 2,
    # ARI = (0 - 2/3) / (2 - 2/3) = -1/2
    ([0, 0, 1, 1], [0, 1, 0, 1], -0.5),
    # table [[2,1],[0,2]] (n=5): index 1+0+0+1 = 2, rows C(3,2)+C(2,2) = 4,
    # cols C(2,2)+C(3,2) = 4, C(5,2) = 10, E = 1.6, max = 4,
    # ARI = (2 - 1.6) / (4 - 1.6) = 1/6
    ([0, 0, 0, 1, 1], [0, 0, 1, 1, 1], 1.0 / 6.0),
    # trivial partitions agree on every pair
    ([3, 3, 3], [1, 1, 1], 1.0),
    ([0, 1, 2], [5, 6, 7], 1.0),
    ([0], [0], 1.0),
    # one cluster vs all singletons: index 0, E 0, max C(3,2)/2
    ([0, 0, 0], [0, 1, 2], 0.0),
])
def test_adjusted_rand_index_hand_cases(a, b, expected):
    np.testing.assert_allclose(adjusted_rand_index(a, b), expected, rtol=0, atol=1e-14)
    np.testing.assert_allclose(adjusted_rand_index(b, a), expected, rtol=0, atol=1e-14)


def test_normalized_mutual_information_hand_cases():
    nmi = normalized_mutual_information
    np.testing.assert_allclose(nmi([0, 0, 1, 1, 2], [7, 7, 3, 3, 5]), 1.0, rtol=0, atol=1e-14)
    # table [[2,0],[1,1]], n = 4: I = 1/2 log(4/3) + 1/4 log(2/3) + 1/4 log 2,
    # H_U = log 2, H_V = -(3/4 log 3/4 + 1/4 log 1/4)
    mutual = 0.5 * np.log(4 / 3) + 0.25 * np.log(2 / 3) + 0.25 * np.log(2)
    h_v = -(0.75 * np.log(0.75) + 0.25 * np.log(0.25))
    np.testing.assert_allclose(nmi([0, 0, 1, 1], [0, 0, 0, 1]),
                               mutual / (0.5 * (np.log(2) + h_v)), rtol=1e-14)
    assert nmi([0, 0, 1, 1], [0, 1, 0, 1]) == 0.0          # independent
    assert nmi([4, 4, 4], [1, 1, 1]) == 1.0                # one cluster each
    assert nmi([0, 0, 0], [0, 1, 2]) == 0.0                # one cluster vs singletons
    # (agreement with scikit-learn on random labelings: validation/test_sklearn_metrics.py)


def test_match_types():
    np.testing.assert_array_equal(match_types([0, 0, 1, 1, 2, 2], [1, 1, 2, 2, 0, 2], 3),
                                  [1, 2, 0])
    # one learned context: everyone maps to it
    np.testing.assert_array_equal(match_types([0, 1, 2, 2], [0, 0, 0, 0], 1), [0, 0, 0])
    # more true types than contexts: the unmatched type takes its majority context
    np.testing.assert_array_equal(match_types([0, 0, 1, 1, 2, 2], [0, 0, 1, 1, 1, 1], 2),
                                  [0, 1, 1])
    with pytest.raises(ValueError, match="assignments"):
        match_types([0, 1], [0, 3], 2)


# ---------------------------------------------------------------------------
# Scoring a learned reward.
# ---------------------------------------------------------------------------


def _malware_true_head(spec):
    """A linear head equal to the malware reward (affine in the mean field)."""
    from tabmfirl.envs import malware

    K, S, A = spec.n_contexts, spec.n_states, spec.n_actions
    head = RewardHead(S, A, S, n_contexts=K)
    levels = np.arange(S) / 10.0
    costs = np.asarray(spec.params[1:1 + K])
    head.bias[:] = -malware.RISK * levels[None, :, None] \
        - costs[:, None, None] * np.array([0.0, 1.0])[None, None, :]
    # -(mbar/10) s/10 with mbar = sum_d d mu(d)
    head.coef[:] = -(levels[None, :, None, None] * levels[None, None, None, :])
    return head


def test_linear_head_reward_matches_game_reward():
    backend = "numpy"   # the Numba path is covered by the next test
    spec = envs.make("malware", types=3, horizon=5)
    head = _malware_true_head(spec)
    game = learned_game(spec, head)
    mu = np.random.default_rng(1).dirichlet(np.ones(spec.n_states), size=(3, 6))
    from tabmfirl import evaluate_model

    true_model = evaluate_model(spec, mu, backend=backend)
    learned_model = evaluate_model(game, mu, backend=backend)
    np.testing.assert_allclose(learned_model.reward, true_model.reward, rtol=0, atol=1e-14)
    np.testing.assert_allclose(head.reward_tables(mu[:, :5]), true_model.reward,
                               rtol=0, atol=1e-14)


def test_evaluate_reward_is_zero_for_the_true_reward(backend):
    spec = envs.make("malware", types=3, horizon=8)
    ev = evaluate_reward(spec, _malware_true_head(spec), temperature=1.0, backend=backend)
    np.testing.assert_allclose(ev.policy_deviation, 0.0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(ev.mean_field_deviation, 0.0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(ev.return_deviation, 0.0, rtol=0, atol=1e-12)
    assert ev.learned.converged and ev.expert.converged
    # the identifiability-aware scores: the experts are an equilibrium of the true game
    # (exploitability >= 0 by theory, two-sided), and the solve from their policy stays there
    assert np.all(ev.expert_exploitability > -1e-12) and np.all(ev.expert_exploitability < 1e-9)
    np.testing.assert_allclose(ev.policy_deviation_from_expert, 0.0, rtol=0, atol=1e-12)
    assert ev.learned_from_expert.converged


def test_evaluate_reward_with_permuted_types_and_shared_reward():
    spec = envs.make("virus", types=3, horizon=10)
    expert = solve_equilibrium(spec, temperature=1.0, backend="numpy")
    # learned contexts are a permutation of the true types: type_map undoes it
    perm = np.array([2, 0, 1])
    tables = np.empty_like(spec.reward)
    tables[perm] = spec.reward
    ev = evaluate_reward(spec, tables, type_map=perm, expert=expert, backend="numpy")
    np.testing.assert_allclose(ev.mean_policy_deviation, 0.0, rtol=0, atol=1e-13)
    np.testing.assert_array_equal(ev.type_map, perm)
    # a wrong map is penalised on every metric
    bad = evaluate_reward(spec, tables, expert=expert, backend="numpy")
    assert bad.mean_policy_deviation > 1e-3 and bad.mean_return_deviation > 1e-3
    assert bad.mean_mean_field_deviation > 1e-4
    # ... and the experts are exploitable in the wrongly mapped game, from either start
    assert np.all(bad.expert_exploitability > 1e-4)
    assert np.all(bad.policy_deviation_from_expert > 1e-4)
    assert np.all(ev.expert_exploitability < 1e-9)
    # one shared reward (MFIRL) is used for every type
    shared = evaluate_reward(spec, spec.reward[1:2], expert=expert, backend="numpy")
    np.testing.assert_array_equal(shared.type_map, [0, 0, 0])
    assert shared.policy_deviation[1] < 1e-13 < shared.policy_deviation[0]
    np.testing.assert_allclose(shared.learned.policy[0], shared.learned.policy[2],
                               rtol=0, atol=1e-12)


def test_return_deviation_of_uniform_policy():
    spec = envs.make("virus", types=2, horizon=10)
    expert = solve_equilibrium(spec, temperature=1.0, backend="numpy")
    uniform = np.full(expert.policy.shape, 0.5)
    np.testing.assert_allclose(
        return_deviation(spec, expert.policy, expert.policy, backend="numpy"), 0.0,
        rtol=0, atol=0)
    dev = return_deviation(spec, expert.policy, uniform, backend="numpy")
    assert dev.shape == (2,) and np.all(dev > 1e-3)


def test_learned_game_rejects_bad_inputs():
    spec = envs.make("virus", types=3, horizon=5)
    with pytest.raises(ValueError, match="type_map"):
        learned_game(spec, spec.reward[:2])
    with pytest.raises(ValueError, match="type_map"):
        learned_game(spec, spec.reward, type_map=[0, 1, 3])
    with pytest.raises(ValueError, match="shape"):
        learned_game(spec, np.zeros((3, 4, 2, 2)))
    with pytest.raises(NotImplementedError):
        learned_game(spec, RewardHead(2, 2, 2, latent_dim=2))
    with pytest.raises(ValueError, match="sizes"):
        learned_game(spec, RewardHead(2, 2, 4, n_contexts=3))


@pytest.mark.parametrize("activation", ["tanh", "relu", "leaky_relu", "softplus"])
def test_mlp_head_reward_matches_the_head(activation):
    from tabmfirl import evaluate_model
    from tabmfirl.evaluation._learned_game import mlp_head_reward

    spec = envs.make("virus", types=3, horizon=5)
    head = RewardHead(2, 2, 2, n_contexts=3, kind="mlp", hidden_sizes=(5, 4),
                      activation=activation, seed=1)
    type_map = np.array([2, 0, 1])
    game = learned_game(spec, head, type_map=type_map)
    mu = np.random.default_rng(0).dirichlet(np.ones(2), size=(3, 6))
    expected = head.reward_tables(mu[:, :5], contexts=type_map)
    reward = evaluate_model(game, mu, backend="numpy").reward   # pure-Python body
    np.testing.assert_allclose(reward, expected, rtol=0, atol=1e-14)
    out = np.zeros((2, 2))
    mlp_head_reward(3, mu[1, 3], 1, game.params, out)           # compiled
    np.testing.assert_allclose(out, expected[1, 3], rtol=0, atol=1e-14)
    # the game's own transition still reads its leading parameters
    np.testing.assert_array_equal(game.params[:2], spec.params)


def test_learned_game_of_an_additive_head_is_its_linear_equivalent():
    from tabmfirl import RewardHead, envs, solve_equilibrium

    spec = envs.make("virus", types=3, horizon=6)
    head = RewardHead(2, 2, 2, n_contexts=3, kind="additive")
    head.set_flat(np.random.default_rng(3).normal(scale=0.3, size=head.n_params))
    linear = RewardHead(2, 2, 2, n_contexts=3)
    linear.bias, linear.coef = head.linear_parameters()
    a = solve_equilibrium(learned_game(spec, head, [2, 0, 1]), temperature=0.5,
                          backend="numpy")
    b = solve_equilibrium(learned_game(spec, linear, [2, 0, 1]), temperature=0.5,
                          backend="numpy")
    np.testing.assert_array_equal(a.policy, b.policy)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_numba_activations_are_the_networks_activations(name):
    """learned_game's scalar Numba activations equal tabmfirl.irl._nn.ACTIVATIONS."""
    z = np.linspace(-40.0, 40.0, 801)
    numba_values = np.array([activate(ACTIVATION_CODES[name], float(x)) for x in z])
    np.testing.assert_allclose(numba_values, ACTIVATIONS[name](z), rtol=1e-14, atol=1e-300)
