"""IRL when types move differently and read each other's flows (issue 18, items 4-5).

Demonstrations from per-type initial distributions and transitions; the
dynamics term of the type likelihood against brute-force enumeration; shared
dynamics leave every posterior exactly as it was; reward heads that read the
stack of every type's flow (finite differences); the learned game of such a
head under a permutation of the types; the predator-prey game by hand; the
fits and the CLI on it.
"""
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tabmfirl
from tabmfirl import MFGSpec, envs
from tabmfirl.apps.cli import main
from tabmfirl.envs import predator_prey
from tabmfirl.evaluation._learned_game import learned_game
from tabmfirl.irl._adversarial import rollout_sampler
from tabmfirl.irl._heads import RewardHead
from tabmfirl.irl._learner import learner_spec, observed_mean_field, weighted_statistics
from tabmfirl.irl._likelihood import (
    LOG_PROBABILITY_FLOOR,
    dynamics_log_likelihood,
    tempered_posterior,
    trajectory_log_likelihood,
    type_log_likelihood,
)
from tabmfirl.irl._nn import numerical_gradient

SEEDS = st.integers(0, 2**32 - 1)


def _random_typed_game(rng, S=2, A=2, T=2, K=2, *, sparse=False, shared=False):
    """A game of arrays: per-type (or shared) transitions ``(K, T, S, A, S)`` and ``mu0 (K, S)``."""
    if shared:
        P = rng.dirichlet(np.ones(S), size=(T, S, A))
        mu0 = rng.dirichlet(np.ones(S))
    else:
        P = rng.dirichlet(np.ones(S), size=(K, T, S, A))
        mu0 = rng.dirichlet(np.ones(S), size=K)
    spec = MFGSpec(n_states=S, n_actions=A, horizon=T, mu0=mu0, transition=P,
                   reward=rng.normal(size=(K, T, S, A)), transition_by_context=not shared)
    return spec.to_sparse(max_fill=1.0) if sparse else spec


# ----------------------------------------------------------------- demonstrations
def test_demos_start_each_agent_from_its_types_initial_distribution():
    """Disjoint supports of mu0 per type: every agent starts where its type can."""
    S = 4
    mu0 = np.array([[0.5, 0.5, 0.0, 0.0], [0.0, 0.0, 0.3, 0.7]])
    spec = MFGSpec(n_states=S, n_actions=1, horizon=2, mu0=mu0,
                   transition=np.full((S, 1, S), 1.0 / S), reward=np.zeros((2, S, 1)))
    policy = np.ones((2, 2, S, 1))
    demos = tabmfirl.generate_demonstrations(spec, policy, 2000, seed=0)
    start = demos.states[:, 0]
    assert np.all(start[demos.types == 0] < 2) and np.all(start[demos.types == 1] >= 2)
    # the frequencies of type 1's initial states: 0.3 / 0.7 within 5 standard errors
    share = np.mean(start[demos.types == 1] == 3)
    assert abs(share - 0.7) < 5 * np.sqrt(0.7 * 0.3 / 2000)


def test_demos_move_each_agent_with_its_types_transition():
    """Type 0 always steps right on the ring, type 1 always left: every move says the type."""
    S = 5
    right = np.zeros((S, 1, S))
    right[np.arange(S), 0, (np.arange(S) + 1) % S] = 1.0
    left = np.zeros((S, 1, S))
    left[np.arange(S), 0, (np.arange(S) - 1) % S] = 1.0
    spec = MFGSpec(n_states=S, n_actions=1, horizon=4, mu0=np.full(S, 1.0 / S),
                   transition=np.stack([right, left]), reward=np.zeros((2, S, 1)),
                   transition_by_context=True)
    demos = tabmfirl.generate_demonstrations(spec, np.ones((2, 4, S, 1)), 50, seed=3)
    step = (demos.states[:, 1:] - demos.states[:, :-1]) % S
    np.testing.assert_array_equal(step, np.where(demos.types == 0, 1, S - 1)[:, None]
                                  * np.ones((1, 4), dtype=int))


def test_demos_with_equal_rows_of_mu0_are_bit_for_bit_the_shared_ones():
    spec = envs.make("virus", types=3, horizon=6)
    policy = tabmfirl.solve_equilibrium(spec, temperature=0.5, backend="numpy").policy
    typed = spec.replace(mu0=np.tile(spec.mu0, (3, 1)))
    a = tabmfirl.generate_demonstrations(spec, policy, 40, seed=11)
    b = tabmfirl.generate_demonstrations(typed, policy, 40, seed=11)
    np.testing.assert_array_equal(a.states, b.states)
    np.testing.assert_array_equal(a.actions, b.actions)


def test_rollout_sampler_uses_each_types_initial_distribution():
    spec = _random_typed_game(np.random.default_rng(0), S=3, K=2)
    mu0 = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    model = tabmfirl.evaluate_model(spec, np.tile(spec.initial_distribution[:, None], (1, 3, 1)),
                                    backend="numpy")
    contexts, states, _ = rollout_sampler(model, np.full((2, 2, 3, 2), 0.5), mu0, 20,
                                          np.random.default_rng(1))
    np.testing.assert_array_equal(states[:, 0], np.where(contexts == 0, 0, 2))
    with pytest.raises(ValueError, match=r"mu0 must have shape \(3,\) or \(2, 3\)"):
        rollout_sampler(model, np.full((2, 2, 3, 2), 0.5), np.ones((3, 3)) / 3, 2,
                        np.random.default_rng(1))


# --------------------------------------------------------- the dynamics term
def _all_trajectories(S, A, T):
    for path in itertools.product(range(S), repeat=T + 1):
        for acts in itertools.product(range(A), repeat=T):
            yield path, acts


@settings(max_examples=15, deadline=None)
@given(seed=SEEDS, sparse=st.booleans(), S=st.integers(1, 3), A=st.integers(1, 2))
def test_dynamics_term_against_enumeration(seed, sparse, S, A):
    r"""Brute force on a tiny game: ``d_jm`` is ``log mu0_m(s_0) + sum_t log P_m,t(s'|s,a)``
    computed by hand, and ``exp(d + ell)`` is a distribution over all trajectories of
    each type (it sums to 1: the policy, the dynamics and the initial state, nothing missing).
    """
    rng = np.random.default_rng(seed)
    T, K = 2, 2
    spec = _random_typed_game(rng, S=S, A=A, T=T, K=K, sparse=sparse)
    dense = _random_typed_game(np.random.default_rng(seed), S=S, A=A, T=T, K=K)
    flow = np.tile(spec.initial_distribution[:, None], (1, T + 1, 1))
    model = tabmfirl.evaluate_model(spec, flow, backend="numpy")
    backward = tabmfirl.soft_bellman_backward(model, 0.7, backend="numpy")
    paths = list(_all_trajectories(S, A, T))
    states = np.array([p for p, _ in paths], dtype=np.int64)
    actions = np.array([a for _, a in paths], dtype=np.int64)
    d = dynamics_log_likelihood(model, spec.initial_distribution, states, actions)
    P, mu0 = dense.transition, dense.initial_distribution        # (K, T, S, A, S), (K, S)
    by_hand = np.zeros((len(paths), K))
    for j, (path, acts) in enumerate(paths):
        for m in range(K):
            p = mu0[m, path[0]] * np.prod([P[m, t, path[t], acts[t], path[t + 1]]
                                           for t in range(T)])
            by_hand[j, m] = max(np.log(p), LOG_PROBABILITY_FLOOR) if p > 0 else \
                LOG_PROBABILITY_FLOOR
    finite = by_hand > LOG_PROBABILITY_FLOOR + 50
    np.testing.assert_allclose(d[finite], by_hand[finite], rtol=1e-12, atol=1e-12)
    assert np.all(d[~finite] < LOG_PROBABILITY_FLOOR + 60)
    full = type_log_likelihood(spec, model, backward, states, actions, 0.7)
    np.testing.assert_allclose(np.exp(full).sum(axis=0), np.ones(K), rtol=0, atol=1e-12)


def test_dynamics_term_is_left_out_when_dynamics_are_shared():
    """Shared transition and mu0: the type likelihood is exactly the actions' (bit for bit),
    so every posterior is what it was; the full term would only add a constant per row."""
    rng = np.random.default_rng(5)
    spec = _random_typed_game(rng, S=3, A=2, T=3, K=3, shared=True)
    assert spec.shares_dynamics
    flow = np.tile(spec.initial_distribution[:, None], (1, 4, 1))
    model = tabmfirl.evaluate_model(spec, flow, backend="numpy")
    backward = tabmfirl.soft_bellman_backward(model, 0.5, backend="numpy")
    states = rng.integers(3, size=(30, 4))
    actions = rng.integers(2, size=(30, 3))
    actions_only = trajectory_log_likelihood(backward, states, actions, 0.5)
    full = type_log_likelihood(spec, model, backward, states, actions, 0.5)
    np.testing.assert_array_equal(full, actions_only)
    # with the term (a typed spec of the same dynamics), the posterior agrees to rounding
    typed = spec.replace(mu0=spec.initial_distribution)
    with_term = type_log_likelihood(typed, model, backward, states, actions, 0.5)
    d = with_term - actions_only
    np.testing.assert_allclose(d - d[:, :1], 0.0, rtol=0, atol=1e-12)
    prior = np.full(3, 1 / 3)
    np.testing.assert_allclose(tempered_posterior(with_term, prior, 1.0)[0],
                               tempered_posterior(full, prior, 1.0)[0], rtol=0, atol=1e-12)


def test_bayes_classifier_reads_the_dynamics():
    """Types with the same reward that move in opposite directions: the actions alone say
    nothing (ARI ~ 0); the Bayes classifier with the dynamics term separates them."""
    spec = _mirror_game(same=False)
    expert = tabmfirl.solve_equilibrium(spec, temperature=1.0, backend="numpy")
    demos = tabmfirl.generate_demonstrations(spec, expert.policy, 60, seed=0)
    scores = tabmfirl.bayes_log_likelihood(spec, expert, demos, temperature=1.0,
                                           backend="numpy")
    assert tabmfirl.adjusted_rand_index(demos.types, scores.argmax(axis=1)) > 0.95
    steps = np.arange(demos.horizon)
    actions_only = np.log(expert.policy[:, steps, demos.states[:, steps],
                                        demos.actions]).sum(-1).argmax(0)
    assert abs(tabmfirl.adjusted_rand_index(demos.types, actions_only)) < 0.2


def _mirror_game(same: bool, S=5, T=8, noise=0.1):
    """Ring of ``S`` cells, 2 actions (stay, move), the same reward for both types; type 0
    moves right, type 1 left (or both right with ``same``), with slip ``noise``."""
    def moves(d):
        P = np.zeros((S, 2, S))
        cells = np.arange(S)
        P[cells, 0, cells] = 1.0
        P[cells, 1, (cells + d) % S] = 1.0 - noise
        P[cells, 1, cells] += noise
        return P
    reward = np.zeros((2, S, 2))
    reward[:, :, 1] = 0.3                      # both types like to move
    return MFGSpec(n_states=S, n_actions=2, horizon=T, mu0=np.full(S, 1.0 / S),
                   transition=np.stack([moves(1), moves(1 if same else -1)]), reward=reward,
                   transition_by_context=True, name="mirror")


@pytest.mark.parametrize("same, low, high", [(False, 0.95, 1.0), (True, -0.1, 0.2)])
def test_em_separates_types_by_their_dynamics_alone(same, low, high):
    """The EM E-step uses the dynamics: with opposite moves and one reward the fit recovers
    the types (ARI > 0.95); with the same moves there is nothing to recover (ARI ~ 0)."""
    spec = _mirror_game(same)
    expert = tabmfirl.solve_equilibrium(spec, temperature=1.0, backend="numpy")
    demos = tabmfirl.generate_demonstrations(spec, expert.policy, 60, seed=2)
    result = tabmfirl.fit_pemmfirl_em(spec, demos, 2, temperature=1.0, max_iter=40,
                                      n_warmup=5, backend="numpy", warn=False)
    ari = tabmfirl.adjusted_rand_index(demos.types, result.assignments)
    assert low <= ari <= high, ari
    if not same:      # learned type m is the game's type m (not a relabelling of it)
        assert np.mean(result.assignments == demos.types) > 0.97


def test_anchored_types_need_the_games_number_of_types():
    spec = _mirror_game(False)
    with pytest.raises(ValueError, match="must learn n_contexts=2 types, got 3"):
        learner_spec(spec, 3)
    demos = tabmfirl.generate_demonstrations(spec, np.full((2, 8, 5, 2), 0.5), 5, seed=0)
    with pytest.raises(ValueError, match="must learn n_contexts=2 types, got 1"):
        tabmfirl.fit_mfirl(spec, demos, max_iter=1, backend="numpy")


# -------------------------------------------------- rewards that read every flow
def test_observed_mean_field_is_the_type_major_stack():
    spec = envs.make("predator_prey", types=3, horizon=3)
    rng = np.random.default_rng(0)
    mf = rng.dirichlet(np.ones(8), size=(3, 4))
    sa = rng.dirichlet(np.ones(24), size=(3, 3)).reshape(3, 3, 8, 3)
    observed = observed_mean_field(spec, mf, sa)
    assert observed.shape == (3, 3, 24)
    for m in range(3):
        for t in range(3):
            np.testing.assert_array_equal(observed[m, t].reshape(3, 8), mf[:, t])


@pytest.mark.parametrize("kind", ["linear", "additive", "state", "mlp"])
def test_reward_head_reading_every_flow_vjp_matches_finite_differences(kind):
    """The head's gradient at the new input size ``K * S`` (and ``K * S * A``)."""
    rng = np.random.default_rng(7)
    for S, A, K, D in ((3, 2, 3, 9), (2, 2, 2, 8)):
        head = RewardHead(S, A, D, n_contexts=K, kind=kind, hidden_sizes=(4,), seed=rng)
        head.set_flat(rng.normal(size=head.n_params))
        mf = rng.dirichlet(np.ones(D), size=(K, 3))
        G = rng.normal(size=(K, 3, S, A))
        analytic = head.reward_tables_vjp(mf, G)
        theta = head.get_flat()

        def loss(v):
            head.set_flat(v)
            return float(np.sum(G * head.reward_tables(mf)))

        numeric = numerical_gradient(loss, theta, eps=1e-6)
        head.set_flat(theta)
        np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


def test_encoder_reading_next_states_gradient_and_features():
    """``next_state=True``: the features carry ``e_{s_{t+1}}`` and the hand-written
    gradient of the log-probability still matches central differences."""
    from tabmfirl.irl._heads import ContextEncoder

    rng = np.random.default_rng(2)
    enc = ContextEncoder(3, 2, n_contexts=2, embed_dim=2, hidden_sizes=(3,), seed=rng,
                         next_state=True)
    enc.set_flat(0.5 * rng.normal(size=enc.n_params))
    states, actions = rng.integers(3, size=(4, 4)), rng.integers(2, size=(4, 3))
    x = enc.step_features(states, actions)
    assert x.shape == (4, 3, 3 + 2 + 3 + 1)
    np.testing.assert_array_equal(x[:, :, 5:8].argmax(-1), states[:, 1:])
    m = rng.integers(2, size=4)
    _, grad = enc.log_prob_grad(states, actions, m)
    theta = enc.get_flat()

    def loss(v):
        enc.set_flat(v)
        return float(np.sum(enc.log_prob(states, actions, m)))

    numeric = numerical_gradient(loss, theta, eps=1e-6)
    enc.set_flat(theta)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-8)
    with pytest.raises(ValueError, match="next_state must be True or False"):
        ContextEncoder(3, 2, n_contexts=2, next_state=1)


def test_reward_head_rejects_a_size_that_is_no_stack_of_distributions():
    with pytest.raises(ValueError, match="mean_field_dim must be n_states"):
        RewardHead(3, 2, 7, n_contexts=2)


def _true_linear_head(spec):
    """The predator-prey reward as a linear head (it is affine in the observed stack)."""
    K, S, A = spec.n_contexts, spec.n_states, spec.n_actions
    head = RewardHead(S, A, K * S, n_contexts=K)
    flows = np.eye(K * S)
    base = np.zeros((K, S, A))
    for m in range(K):
        out = np.zeros((S, A))
        predator_prey.reward(0, np.zeros(K * S), m, spec.params, out)
        base[m] = out
        for d in range(K * S):                       # the coefficient of observed[d]
            predator_prey.reward(0, flows[d], m, spec.params, out)
            head.coef[m, :, :, d] = out - base[m]
    head.bias[:] = base
    return head


def _permuted_head(head, perm):
    """The same reward with the types renamed: learned type ``perm[m]`` is type ``m``."""
    K, S = head.n_contexts, head.n_states
    inverse = np.argsort(perm)
    other = RewardHead(S, head.n_actions, head.mean_field_dim, n_contexts=K, kind=head.kind,
                       **({"hidden_sizes": head.hidden_sizes} if head.kind == "mlp" else {}))
    if head.kind == "linear":
        D = head.mean_field_dim // K
        coef = head.coef.reshape(K, S, head.n_actions, K, D)[inverse][:, :, :, inverse]
        other.bias, other.coef = head.bias[inverse].copy(), coef.reshape(head.coef.shape).copy()
        return other
    weights = [w.copy() for w in head.mlp.params]
    A, D = head.n_actions, head.mean_field_dim // K
    rows = S + A + (inverse[:, None] * D + np.arange(D)).ravel()
    weights[0][S + A:S + A + K * D] = head.mlp.params[0][rows]
    weights[0][S + A + K * D:] = head.mlp.params[0][S + A + K * D:][inverse]
    other.mlp.params = weights
    return other


@pytest.mark.parametrize("kind", ["linear", "mlp"])
def test_learned_game_of_a_head_reading_every_flow_under_a_permutation(kind):
    """A head with its types renamed, scored with the matching type_map, is the same game."""
    spec = envs.make("predator_prey", types=3, horizon=4)
    rng = np.random.default_rng(3)
    if kind == "linear":
        head = _true_linear_head(spec)
    else:
        head = RewardHead(8, 3, 24, n_contexts=3, kind="mlp", hidden_sizes=(5,), seed=rng)
    perm = np.array([2, 0, 1])
    flow = rng.dirichlet(np.ones(8), size=(3, 5))
    plain = tabmfirl.evaluate_model(learned_game(spec, head), flow, backend="numba").reward
    renamed = learned_game(spec, _permuted_head(head, perm), type_map=perm)
    np.testing.assert_allclose(tabmfirl.evaluate_model(renamed, flow, backend="numba").reward,
                               plain, rtol=0, atol=1e-12)
    if kind == "linear":                         # and it is the game's own reward
        truth = tabmfirl.evaluate_model(spec, flow, backend="numba").reward
        np.testing.assert_allclose(plain, truth, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="needs a one-to-one type_map"):
        learned_game(spec, head, type_map=[0, 0, 1])


def test_evaluate_reward_of_the_true_reward_as_a_head_scores_zero():
    spec = envs.make("predator_prey", types=3, horizon=5)
    ev = tabmfirl.evaluate_reward(spec, _true_linear_head(spec),
                                  temperature=predator_prey.TEMPERATURE)
    np.testing.assert_allclose(ev.policy_deviation, 0.0, rtol=0, atol=1e-9)
    np.testing.assert_allclose(ev.expert_exploitability, 0.0, rtol=0, atol=1e-9)


# -------------------------------------------------------------- predator_prey
def test_predator_prey_hand_derived_tables():
    """Assumptions: ring of 8, successors s-2..s+2; noise 0.2; jump 0.5; homes (0, 4, 2)."""
    spec = envs.make("predator_prey", types=3)
    P = spec.transition                                # (K, S, A, 5) over s-2..s+2
    np.testing.assert_allclose(P[0, 3, predator_prey.RIGHT], [0, 0, 0.2, 0.4, 0.4], atol=1e-15)
    np.testing.assert_allclose(P[1, 3, predator_prey.RIGHT], [0, 0, 0.2, 0.8, 0], atol=1e-15)
    np.testing.assert_allclose(P[2, 3, predator_prey.STAY], [0, 0.1, 0.8, 0.1, 0], atol=1e-15)
    np.testing.assert_array_equal(spec.next_states[0, 0], [6, 7, 0, 1, 2])
    same = envs.make("predator_prey", types=3, same_dynamics=True)
    np.testing.assert_array_equal(same.transition[0], same.transition[1])
    # predator at s=4 with prey flows (1 at cell 4) and (uniform): hunt 4 * (1 + 1/8) / 2,
    # preference 0.5 cos(2 pi 4 / 8) = -0.5, move cost 0.1
    observed = np.concatenate([np.full(8, 1 / 8), np.eye(8)[4], np.full(8, 1 / 8)])
    out = np.zeros((8, 3))
    predator_prey.reward(0, observed, 0, spec.params, out)
    np.testing.assert_allclose(out[4], 4 * (1 + 1 / 8) / 2 - 0.5 - np.array([0.1, 0, 0.1]),
                               rtol=0, atol=1e-12)
    # prey 2 (home 2) at s=2: fear 4 * 1/8, preference +0.5, move cost 0.05
    predator_prey.reward(0, observed, 2, spec.params, out)
    np.testing.assert_allclose(out[2], -0.5 + 0.5 - np.array([0.05, 0, 0.05]), rtol=0,
                               atol=1e-12)
    for kwargs, match in (({"move_costs": [0.1] * 4}, "at most 3 types"),
                          ({"same_dynamics": "yes"}, "same_dynamics must be True or False")):
        with pytest.raises(ValueError, match=match):
            envs.make("predator_prey", **kwargs)


def test_predator_prey_dynamics_help_the_bayes_classifier():
    """The game's point, on one seed: the Bayes ARI with per-type dynamics exceeds that
    of the same game with shared (slow) dynamics."""
    aris = {}
    for same in (False, True):
        spec = envs.make("predator_prey", types=3, same_dynamics=same)
        expert = tabmfirl.solve_equilibrium(spec, temperature=predator_prey.TEMPERATURE)
        demos = tabmfirl.generate_demonstrations(spec, expert.policy, 100, seed=4)
        scores = tabmfirl.bayes_log_likelihood(spec, expert, demos,
                                               temperature=predator_prey.TEMPERATURE)
        aris[same] = tabmfirl.adjusted_rand_index(demos.types, scores.argmax(axis=1))
    assert aris[False] > aris[True] + 0.05, aris


def test_weighted_flows_feed_every_types_head_on_predator_prey():
    """The EM and adversarial fits run on the game and their heads read ``K * S`` entries."""
    spec = envs.make("predator_prey", types=2, horizon=4)
    expert = tabmfirl.solve_equilibrium(spec, temperature=0.5, backend="numpy")
    demos = tabmfirl.generate_demonstrations(spec, expert.policy, 15, seed=0)
    em = tabmfirl.fit_pemmfirl_em(spec, demos, 2, temperature=0.5, max_iter=4, n_warmup=1,
                                  backend="numpy", warn=False)
    adv = tabmfirl.fit_pemmfirl(spec, demos, 2, temperature=0.5, max_iter=3, backend="numpy",
                                warn=False, encoder_gradient="likelihood")
    assert adv.encoder.next_state             # the types move differently
    for result in (em, adv):
        assert result.head.mean_field_dim == 16
        _, _, mf, _ = weighted_statistics(demos.states, demos.actions, result.posterior, 8, 3)
        np.testing.assert_allclose(result.mean_field, mf, rtol=0, atol=1e-12)
        assert np.all(np.isfinite(result.reward))


def test_cli_demos_and_fits_on_predator_prey(tmp_path, capsys):
    demos = str(tmp_path / "demos.npz")
    assert main(["demos", "--game", "predator_prey", "--types", "2", "--agents", "10",
                 "--horizon", "4", "--out", demos, "--seed", "1", "--backend", "numpy"]) == 0
    for method in ("pemmfirl_em", "pemmfirl"):
        run = str(tmp_path / method)
        assert main(["fit", "--method", method, "--demos", demos, "--out", run,
                     "--iters", "3", "--backend", "numpy", "--progress-every", "0"]) == 0
        assert main(["evaluate", run, "--json"]) == 0
    assert "mfirl" not in capsys.readouterr().err
    assert main(["fit", "--method", "mfirl", "--demos", demos,
                 "--out", str(tmp_path / "mfirl"), "--iters", "2", "--backend", "numpy"]) == 2
    assert "must learn n_contexts=2 types" in capsys.readouterr().err


def test_dynamics_recovery_benchmark_quick_and_resumable(tmp_path, capsys):
    """benchmarks/dynamics_recovery.py --quick: a row per method and variant, ARIs in
    range, intervals around their means, and a rerun reads the cached cells."""
    import importlib.util
    import json
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "dynamics_recovery.py"
    spec = importlib.util.spec_from_file_location("dynamics_recovery", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    records = module.main(["--quick", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert "0 cells cached, 16 to run" in out
    rows = [line.split("|") for line in out.splitlines()
            if line.startswith("| ") and not line.startswith("| method")]
    assert {(r[1].strip(), r[2].strip()) for r in rows} == {
        (m, v) for m in module.METHODS for v in module.VARIANTS}
    for row in rows:
        mean, low, high = (float(x) for x in row[4].replace("[", " ").replace("]", " ")
                           .replace(",", " ").split())
        assert -1.0 <= low <= mean <= high <= 1.0, row
    assert all(r["expert_converged"] for r in records)
    # with the same dynamics for every type the dynamics term is one number per trajectory:
    # the full Bayes classifier and the actions-only one agree, seed by seed
    same = {(r["seed"], r["method"]): r["ari"] for r in records
            if r["variant"] == "same dynamics"}
    for seed in {r["seed"] for r in records}:
        assert same[seed, "bayes"] == same[seed, "bayes_actions"]
    again = module.main(["--quick", "--out", str(tmp_path)])
    assert "16 cells cached, 0 to run" in capsys.readouterr().out
    assert sorted(json.dumps(r, sort_keys=True) for r in again) == \
        sorted(json.dumps(r, sort_keys=True) for r in records)
