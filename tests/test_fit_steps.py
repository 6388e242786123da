"""Each fit's step, term by term, against its definition (issue 12).

Whole-fit tests cannot tell two fits that carry the same bug apart; these take
one evaluation of each method's step (tabmfirl.irl._em, _adversarial,
_adversarial_reward, _gaussian_types) at random parameters and check every
term on its own: the E-step against Bayes' rule with unequal priors, and every
gradient the step hands to its optimisers (likelihood plus weight decay,
discriminator plus mutual-information surrogate, the exact discriminator and
its potential, the encoder's discriminator, likelihood and MI terms,
Gaussian-type likelihood plus decay) against central finite differences of
the objective it claims to be the gradient of.
"""
import numpy as np
import pytest

from tabmfirl import envs, solve_equilibrium
from tabmfirl.irl import _adversarial
from tabmfirl.irl._adversarial import AdversarialFit, discriminator_loss
from tabmfirl.irl._adversarial_exact import exact_discriminator_loss, transition_counts
from tabmfirl.irl._adversarial_reward import AdversarialRewardFit
from tabmfirl.irl._demos import generate_demonstrations
from tabmfirl.irl._em import ExactLikelihoodFit, RewardFit
from tabmfirl.irl._gaussian_types import GaussianTypesFit
from tabmfirl.irl._likelihood import tempered_posterior

BETA = 0.3
EPS = 1e-6


@pytest.fixture(scope="module")
def data():
    spec = envs.make("malware", types=2, horizon=4)
    eq = solve_equilibrium(spec, temperature=BETA, backend="numpy", method="fixed_point",
                           damping=0.3, max_iter=3000)
    return spec, eq, generate_demonstrations(spec, eq.policy, 6, seed=2)


def _central(fun, x, eps=EPS):
    grad = np.empty_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = eps
        grad[i] = (fun(x + e) - fun(x - e)) / (2 * eps)
    return grad


# ---------------------------------------------------------------------------
# The E-step.
# ---------------------------------------------------------------------------


def test_posterior_is_bayes_rule_with_unequal_priors():
    rng = np.random.default_rng(0)
    log_lik = rng.normal(scale=3.0, size=(5, 3))
    prior = np.array([0.6, 0.3, 0.1])
    q, marginal = tempered_posterior(log_lik, prior, 1.0)
    joint = prior * np.exp(log_lik)                      # p(m) p(tau | m), written out
    np.testing.assert_allclose(q, joint / joint.sum(axis=1, keepdims=True), rtol=1e-12)
    assert marginal == pytest.approx(np.mean(np.log(joint.sum(axis=1))), rel=1e-12)
    # tempered: q ∝ p(m) p(tau | m)^lambda; the marginal stays the untempered one
    q2, marginal2 = tempered_posterior(log_lik, prior, 2.5)
    tempered = prior * np.exp(2.5 * log_lik)
    np.testing.assert_allclose(q2, tempered / tempered.sum(axis=1, keepdims=True), rtol=1e-12)
    assert marginal2 == marginal
    # lambda = 0 keeps the prior; a zero prior weight stays zero
    np.testing.assert_allclose(tempered_posterior(log_lik, prior, 0.0)[0], np.tile(prior, (5, 1)),
                               rtol=1e-12)
    assert np.all(tempered_posterior(log_lik, np.array([0.5, 0.5, 0.0]), 1.0)[0][:, 2] == 0)


def test_em_step_updates_the_posterior_by_bayes_rule(data):
    spec, _, demos = data
    method = _exact(spec, demos, n_warmup=0)
    state = _exact_state(method)
    old = state.arrays["posterior"].copy()
    method.evaluate(state)
    # recompute p(m) and l_jm from the definitions: p = mean of the old posterior
    from tabmfirl.irl._likelihood import trajectory_log_likelihood

    *_, backward = method._tables(state.arrays["reward_params"], old)
    log_lik = trajectory_log_likelihood(backward, *method_trajectories(method), BETA)
    joint = old.mean(axis=0) * np.exp(log_lik)
    np.testing.assert_allclose(state.arrays["posterior"], joint / joint.sum(axis=1, keepdims=True),
                               rtol=1e-10)
    assert state.scalars["change"] == pytest.approx(np.max(np.abs(state.arrays["posterior"] - old)))


def method_trajectories(method):
    return method.states, method.actions


# ---------------------------------------------------------------------------
# Exact-likelihood fits: likelihood + weight decay.
# ---------------------------------------------------------------------------


def _exact(spec, demos, n_warmup=100, kind="linear", weight_decay=0.7):
    return ExactLikelihoodFit("pemmfirl-em", spec, demos, 2, mi_weight=1.0, reward_kind=kind,
                              hidden_sizes=(3,), temperature=BETA, learning_rate=0.02,
                              init="random", init_smoothing=0.2, n_warmup=n_warmup,
                              weight_decay=weight_decay, backend="numpy")


def _exact_state(method, params=None):
    state = method.start(np.random.default_rng(1), resuming=False)
    rng = np.random.default_rng(5)
    p = state.arrays["reward_params"]
    p[:] = rng.normal(scale=0.3, size=p.size)
    if params is not None:
        p[:] = params
    state.arrays["posterior"][:] = rng.dirichlet([0.5, 0.5], size=method.states.shape[0])
    return state


@pytest.mark.parametrize("kind", ["linear", "additive", "mlp"])
def test_em_reward_gradient_with_weight_decay_matches_finite_differences(data, kind):
    spec, _, demos = data
    method = _exact(spec, demos, kind=kind)
    state = _exact_state(method)
    params = state.arrays["reward_params"].copy()
    info, grad = method.evaluate(state)

    def objective(x):
        return method.evaluate(_exact_state(method, x))[0]["objective"]

    assert info["objective"] == objective(params)
    np.testing.assert_allclose(grad, _central(objective, params), rtol=1e-5, atol=1e-8)
    # the decay term alone: the same objective without it differs by kappa/2 |M w|^2
    plain = _exact(spec, demos, kind=kind, weight_decay=0.0)
    info0, grad0 = plain.evaluate(_exact_state(plain, params))
    mask = method.decay_mask
    assert info0["objective"] - info["objective"] == pytest.approx(
        0.35 * np.sum((mask * params) ** 2), rel=1e-10)
    np.testing.assert_allclose(grad0 - grad, 0.7 * mask * params, rtol=1e-10, atol=1e-14)


def test_reward_fit_gradient_with_weight_decay_matches_finite_differences(data):
    spec, eq, _ = data
    method = RewardFit(spec, 10.0 * eq.state_action, eq.mean_field, None, reward_kind="linear",
                       hidden_sizes=(), temperature=BETA, learning_rate=0.05, weight_decay=0.4,
                       backend="numpy")

    def at(x):
        state = method.start(np.random.default_rng(0), resuming=False)
        state.arrays["reward_params"][:] = x
        return method.evaluate(state)

    size = method.start(np.random.default_rng(0), resuming=False).arrays["reward_params"].size
    params = np.random.default_rng(3).normal(scale=0.3, size=size)
    info, grad = at(params)
    np.testing.assert_allclose(grad, _central(lambda x: at(x)[0]["objective"], params),
                               rtol=1e-5, atol=1e-8)


# ---------------------------------------------------------------------------
# Gaussian types: per-demonstration likelihood + weight decay.
# ---------------------------------------------------------------------------


def test_gaussian_reward_gradient_matches_finite_differences(data):
    spec, _, demos = data
    method = GaussianTypesFit(spec, demos, 1, reward_kind="linear", hidden_sizes=(),
                              temperature=BETA, learning_rate=0.02, encoder_learning_rate=0.01,
                              n_warmup=100, mi_weight=1.0, weight_decay=0.6, n_prior_samples=3,
                              n_rollouts=2, backend="numpy")

    def at(x):
        state = method.start(np.random.default_rng(0), resuming=False)   # same prior draws
        state.arrays["reward_params"][:] = x
        return method.evaluate(state)

    size = method.start(np.random.default_rng(0), resuming=False).arrays["reward_params"].size
    params = np.random.default_rng(4).normal(scale=0.3, size=size)
    info, grad = at(params)
    assert np.isfinite(info["mi"])
    np.testing.assert_allclose(grad, _central(lambda x: at(x)[0]["objective"], params),
                               rtol=1e-5, atol=1e-8)


# ---------------------------------------------------------------------------
# Adversarial fits: discriminator + mutual-information surrogate.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("mi_weight", [0.0, 1.5])
def test_adversarial_reward_direction_is_the_gradient_of_its_terms(data, monkeypatch, mi_weight):
    r"""The reward head's update direction is d/dw [L_D - (lambda/T) S] with the sampler's
    policy, batches and advantages frozen, S = sum_i adv_i sum_t log pi^w_t(a_i | s_i)."""
    spec, _, demos = data
    T = spec.horizon
    method = AdversarialFit("pemmfirl_em", spec, demos, 2, types=True,
                            mean_field_reward=True, mi_weight=mi_weight, reward_kind="linear",
                            hidden_sizes=(), temperature=BETA, learning_rate=0.02,
                            encoder_learning_rate=0.02, weight_decay=0.0, shaping="state",
                            n_sampler_agents=5, n_encoder_steps=1, init="random",
                            init_smoothing=0.0, n_pretrain=0, backend="numpy")
    state = method.start(np.random.default_rng(0), resuming=False)
    rng = np.random.default_rng(8)
    for name in ("reward_params", "shaping_params"):
        state.arrays[name][:] = rng.normal(scale=0.3, size=state.arrays[name].size)
    recorded = {}
    for name in ("rollout_sampler", "sample_types", "discriminator_loss"):
        def spy(*args, _name=name, _f=getattr(_adversarial, name), **kwargs):
            out = _f(*args, **kwargs)
            recorded[_name] = (args, out)
            return out
        monkeypatch.setattr(_adversarial, name, spy)
    params = state.arrays["reward_params"].copy()
    info, (grad, _, _) = method.evaluate(state)
    (_, shaping, log_pi, expert, sampler, _), _ = recorded["discriminator_loss"]
    s_types, s_states, s_actions = recorded["rollout_sampler"][1]
    # the advantages from their definition: prior-weighted log q minus the per-type mean
    prior = method._tables(method._posterior())[0] / method.states.shape[0]
    weights = prior[s_types] / 5
    log_q = method.encoder.log_prob_grad(s_states, s_actions, s_types, weights=weights)[0]
    baseline = np.array([log_q[s_types == m].mean() for m in range(2)])
    advantage = weights * (log_q - baseline[s_types])
    observed = method._tables(method._posterior())[3]

    def objective(x):
        method.head.set_flat(x)
        reward = method.head.reward_tables(observed)
        loss = discriminator_loss(reward, shaping, log_pi, expert, sampler, BETA)[0]
        if mi_weight == 0.0:
            return loss
        backward = _adversarial.soft_bellman_backward(
            recorded["rollout_sampler"][0][0].with_reward(reward), BETA, backend="numpy")
        log_policy = (backward.q - backward.value[:, :T, :, None]) / BETA
        t = np.arange(T)[None, :]
        surrogate = np.sum(advantage[:, None]
                           * log_policy[s_types[:, None], t, s_states[:, :T], s_actions])
        return loss - (mi_weight / T) * surrogate

    np.testing.assert_allclose(grad, _central(objective, params), rtol=1e-5, atol=1e-8)
    assert info["grad_norm"] == pytest.approx(np.linalg.norm(grad))


def test_adversarial_update_adds_weight_decay_on_every_weight(data):
    spec, _, demos = data
    method = AdversarialFit("mf-airl", spec, demos, 1, types=False, mean_field_reward=True,
                            mi_weight=0.0, reward_kind="linear", hidden_sizes=(),
                            temperature=BETA, learning_rate=0.02, encoder_learning_rate=0.01,
                            weight_decay=0.25, shaping="state", n_sampler_agents=5,
                            n_encoder_steps=1, init="random", init_smoothing=0.0, n_pretrain=0,
                            backend="numpy")
    state = method.start(np.random.default_rng(0), resuming=False)
    params = state.arrays["reward_params"]
    params[:] = np.random.default_rng(1).normal(size=params.size)
    seen = {}

    class Record:
        def step(self, p, g):
            seen["grad"] = np.array(g)

    state.optimisers["reward"] = Record()
    grad = np.random.default_rng(2).normal(size=params.size)
    method.update(state, (grad, np.zeros_like(state.arrays["shaping_params"]), None))
    np.testing.assert_allclose(seen["grad"], grad + 0.25 * params, rtol=1e-15)


# ---------------------------------------------------------------------------
# Adversarial fits with exact expectations: discriminator, potential, encoder.
# ---------------------------------------------------------------------------


def _exact_adversarial(spec, demos, shaping="state", encoder_gradient="none", mi_weight=0.0):
    return AdversarialFit("pemmfirl_em", spec, demos, 2, types=True,
                          mean_field_reward=True, mi_weight=mi_weight, reward_kind="linear",
                          hidden_sizes=(), temperature=BETA, learning_rate=0.02,
                          encoder_learning_rate=0.02, weight_decay=0.0, shaping=shaping,
                          n_sampler_agents=5, n_encoder_steps=1, init="random",
                          init_smoothing=0.0, n_pretrain=0, backend="numpy",
                          expectation="exact", encoder_gradient=encoder_gradient)


def _random_state(method):
    state = method.start(np.random.default_rng(0), resuming=False)
    rng = np.random.default_rng(8)
    for name in ("reward_params", "shaping_params", "encoder_params"):
        state.arrays[name][:] = rng.normal(scale=0.3, size=state.arrays[name].size)
    return state


@pytest.mark.parametrize("shaping", ["state", "expected"])
def test_exact_adversarial_directions_are_gradients_of_the_exact_loss(data, monkeypatch,
                                                                      shaping):
    """The head's and the potential's update directions are d/dw and d/dh of the exact
    L_D (module docstring of tabmfirl.irl._adversarial_exact) with the generator's policy
    and occupancy and the experts' weights frozen, through the head's VJP."""
    spec, _, demos = data
    method = _exact_adversarial(spec, demos, shaping)
    state = _random_state(method)
    recorded = {}

    def spy(*args, **kwargs):
        recorded["args"], recorded["kwargs"] = args, kwargs
        return exact_discriminator_loss(*args, **kwargs)

    monkeypatch.setattr(_adversarial, "exact_discriminator_loss", spy)
    params = state.arrays["reward_params"].copy()
    h_params = state.arrays["shaping_params"].copy()
    info, (grad, grad_h, step) = method.evaluate(state)
    assert step is None                          # no MI term, no encoder gradient
    _, table, log_pi, expert, generator, beta = recorded["args"]
    # the experts' weights are the posterior-weighted transition counts / (N T)
    N, T = demos.actions.shape
    counts = transition_counts(demos.states, demos.actions, method._posterior(),
                               spec.n_states, spec.n_actions) / (N * T)
    np.testing.assert_allclose(expert, counts if shaping == "state" else counts.sum(-1),
                               rtol=1e-13, atol=1e-16)
    observed = method._tables(method._posterior())[3]

    def loss(x, h):
        method.head.set_flat(x)
        return exact_discriminator_loss(method.head.reward_tables(observed),
                                        h.reshape(table.shape), log_pi, expert, generator,
                                        beta, **recorded["kwargs"])[0]

    assert info["loss"] == pytest.approx(loss(params, h_params), rel=1e-13)
    np.testing.assert_allclose(grad, _central(lambda x: loss(x, h_params), params),
                               rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(grad_h, _central(lambda h: loss(params, h), h_params),
                               rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("encoder_gradient, mi_weight", [("discriminator", 0.0),
                                                         ("likelihood", 0.0),
                                                         ("discriminator", 2.0)])
def test_encoder_direction_is_the_gradient_of_its_objective(data, encoder_gradient, mi_weight):
    r"""The encoder descends sum_jm G_jm q_psi(m|tau_j) - (lambda/T) J(psi) with G and the
    MI batch frozen; the likelihood term's G is -l_jm / (NT)."""
    from tabmfirl.irl._likelihood import trajectory_log_likelihood

    spec, _, demos = data
    method = _exact_adversarial(spec, demos, encoder_gradient=encoder_gradient,
                                mi_weight=mi_weight)
    state = _random_state(method)
    _, (_, _, step) = method.evaluate(state)
    N, T = demos.actions.shape
    assert (step.mi_batch is not None) == (mi_weight > 0)
    if encoder_gradient == "likelihood":
        *_, backward = method._tables(method._posterior())
        ll = trajectory_log_likelihood(backward, method.states, method.actions, BETA)
        np.testing.assert_allclose(step.posterior_grad, -ll / (N * T), rtol=1e-13)
    psi = state.arrays["encoder_params"].copy()
    direction = method.encoder_direction(step)

    def objective(x):
        method.encoder.set_flat(x)
        value = float(np.sum(step.posterior_grad
                             * method.encoder.posterior(method.states, method.actions)))
        if step.mi_batch is not None:
            s_states, s_actions, s_types, weights, _ = step.mi_batch
            log_q = method.encoder.log_prob(s_states, s_actions, s_types)
            value -= mi_weight / T * float(np.sum(weights * log_q))
        return value

    np.testing.assert_allclose(direction, _central(objective, psi), rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("shaping", ["state", "expected"])
def test_adversarial_reward_fit_gradient_matches_finite_differences(data, monkeypatch, shaping):
    """fit_reward_adversarial's step: d/dw [L_D + kappa/2 |w|^2] and d/dh L_D with the
    generator's policy and occupancy frozen, the experts' weights C P / (NT)."""
    from tabmfirl.irl import _adversarial_reward

    spec, eq, _ = data
    counts = 10.0 * eq.state_action
    method = AdversarialRewardFit(spec, counts, eq.mean_field, None, shaping=shaping,
                                  reward_kind="additive", hidden_sizes=(), temperature=BETA,
                                  learning_rate=0.05, weight_decay=0.3, backend="numpy")
    recorded = {}

    def spy(*args, **kwargs):
        recorded["args"], recorded["kwargs"] = args, kwargs
        return exact_discriminator_loss(*args, **kwargs)

    monkeypatch.setattr(_adversarial_reward, "exact_discriminator_loss", spy)
    state = method.start(np.random.default_rng(0), resuming=False)
    rng = np.random.default_rng(3)
    params, h_params = (state.arrays[name] for name in ("reward_params", "shaping_params"))
    params[:] = rng.normal(scale=0.3, size=params.size)
    h_params[:] = rng.normal(scale=0.3, size=h_params.size)
    params, h_params = params.copy(), h_params.copy()
    info, (grad, grad_h) = method.evaluate(state)
    _, table, log_pi, expert, generator, beta = recorded["args"]
    T = spec.horizon
    weights = counts / (counts[:, 0].sum() * T)
    if shaping == "state":
        weights = weights[..., None] * method.model.dense_transition()
    np.testing.assert_allclose(expert, weights, rtol=1e-13, atol=1e-16)

    def objective(x, h):
        method.head.set_flat(x)
        value = exact_discriminator_loss(method.head.reward_tables(method.observed),
                                         h.reshape(table.shape), log_pi, expert, generator,
                                         beta, **recorded["kwargs"])[0]
        return value + 0.15 * float(x @ x)

    assert info["objective"] == pytest.approx(objective(params, h_params), rel=1e-13)
    np.testing.assert_allclose(grad, _central(lambda x: objective(x, h_params), params),
                               rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(grad_h, _central(lambda h: objective(params, h), h_params),
                               rtol=1e-5, atol=1e-9)
    assert info["grad_norm"] == pytest.approx(np.sqrt(grad @ grad + grad_h @ grad_h))


@pytest.mark.parametrize("shaping", ["state", "expected"])
def test_exact_encoder_term_is_the_posterior_gradient_of_the_discriminator_loss(
        data, monkeypatch, shaping):
    """G = dL_D/dq of the fit's exact step: L_D with the experts' weights C(q) / (NT) and
    the generator's p(m) = sum_j q_jm / N, the tables frozen (central differences in q)."""
    spec, _, demos = data
    method = _exact_adversarial(spec, demos, shaping, encoder_gradient="discriminator")
    state = _random_state(method)
    recorded = {}

    def spy(*args, **kwargs):
        recorded["args"], recorded["kwargs"] = args, kwargs
        return exact_discriminator_loss(*args, **kwargs)

    monkeypatch.setattr(_adversarial, "exact_discriminator_loss", spy)
    _, (_, _, step) = method.evaluate(state)
    reward, table, log_pi, expert, generator, beta = recorded["args"]
    q0 = method._posterior()
    N, T = demos.actions.shape
    prior0 = q0.sum(axis=0) / N
    unit = generator / prior0.reshape((-1,) + (1,) * (generator.ndim - 1))

    def loss(flat):
        q = flat.reshape(q0.shape)
        weights = transition_counts(demos.states, demos.actions, q, spec.n_states,
                                    spec.n_actions) / (N * T)
        if shaping == "expected":
            weights = weights.sum(axis=-1)
        prior = (q.sum(axis=0) / N).reshape((-1,) + (1,) * (unit.ndim - 1))
        return exact_discriminator_loss(reward, table, log_pi, weights, prior * unit, beta,
                                        **recorded["kwargs"])[0]

    np.testing.assert_allclose(step.posterior_grad, _central(loss, q0.ravel()).reshape(q0.shape),
                               rtol=1e-6, atol=1e-10)
