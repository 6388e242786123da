"""Tests of tabmfirl.irl._heads: finite-difference checks of every VJP, an exact
fit of the linear reward head, parameter files and input validation."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tabmfirl.irl._heads import ContextEncoder, RewardHead, ShapingHead
from tabmfirl.irl._nn import ACTIVATIONS, numerical_gradient

EPS = 1e-6  # central-difference step (float64)
RTOL, ATOL = 1e-6, 1e-8
ACT_NAMES = sorted(ACTIVATIONS)
FD_SETTINGS = settings(max_examples=25, deadline=None)
SEEDS = st.integers(0, 2**32 - 1)


def _far_from_kinks(mlp, x, margin=1e-4):
    """True unless a ReLU-family pre-activation of ``mlp`` at ``x`` is near 0."""
    if mlp is None or mlp.activation not in ("relu", "leaky_relu"):
        return True
    _, cache = mlp.forward(x)
    return all(np.min(np.abs(z)) > margin for z in cache["preacts"][:-1])


def _check_param_grad(model, loss, analytic):
    """Compare ``analytic`` with central differences of ``loss()`` in the
    model's flat parameters, every coordinate."""
    theta = model.get_flat()

    def f(v):
        model.set_flat(v)
        return loss()

    numeric = numerical_gradient(f, theta, eps=EPS)
    model.set_flat(theta)
    assert analytic.shape == (model.n_params,)
    # Round-off of the difference quotient grows with the size of the loss;
    # scale the absolute tolerance with the largest gradient entry.
    scale = max(1.0, float(np.max(np.abs(numeric), initial=0.0)))
    np.testing.assert_allclose(analytic, numeric, rtol=RTOL, atol=ATOL * scale)


def _random_mean_field(rng, shape_lead, dim):
    return rng.dirichlet(np.ones(dim), size=shape_lead)


# ---------------------------------------------------------------------------
# RewardHead
# ---------------------------------------------------------------------------


@st.composite
def reward_heads(draw):
    """A RewardHead of random small sizes, kind, context type and activation,
    with random (not zero) parameters, plus the rng that built it."""
    S, A = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    joint = draw(st.booleans())
    discrete = draw(st.booleans())
    n_ctx = draw(st.integers(1, 3))
    kind = draw(st.sampled_from(["linear", "mlp"] + (["additive", "state"] if discrete else [])))
    activation = draw(st.sampled_from(ACT_NAMES))
    rng = np.random.default_rng(draw(SEEDS))
    head = RewardHead(S, A, S * A if joint else S,
                      n_contexts=n_ctx if discrete else None,
                      latent_dim=None if discrete else n_ctx,
                      kind=kind, hidden_sizes=(3,), activation=activation, seed=rng)
    head.set_flat(rng.normal(size=head.n_params))
    return head, rng


def _some_context(head, rng):
    if head.discrete:
        return int(rng.integers(head.n_contexts))
    return rng.normal(size=head.latent_dim)


@FD_SETTINGS
@given(hr=reward_heads(), T=st.integers(1, 3))
def test_reward_table_vjp_matches_finite_differences(hr, T):
    head, rng = hr
    mf = _random_mean_field(rng, T, head.mean_field_dim)
    ctx = _some_context(head, rng)
    if head.kind == "mlp":
        assume(_far_from_kinks(head.mlp, head._mlp_inputs(
            mf[None], head._single_context(ctx))))
    G = rng.normal(size=(T, head.n_states, head.n_actions))
    r = head.reward_table(mf, ctx)
    assert r.shape == (T, head.n_states, head.n_actions)
    assert r.flags.c_contiguous and r.dtype == np.float64

    out = head.reward_table_vjp(mf, ctx, G)
    grad = out if head.discrete else out[0]
    _check_param_grad(head, lambda: float(np.sum(G * head.reward_table(mf, ctx))), grad)
    if not head.discrete:
        numeric_z = numerical_gradient(
            lambda z: float(np.sum(G * head.reward_table(mf, z))), ctx, eps=EPS)
        np.testing.assert_allclose(out[1], numeric_z, rtol=RTOL, atol=ATOL)


@FD_SETTINGS
@given(hr=reward_heads(), T=st.integers(1, 3), B=st.integers(1, 3))
def test_batched_reward_tables_match_single_and_vjp(hr, T, B):
    head, rng = hr
    if head.discrete:
        contexts = rng.integers(head.n_contexts, size=B)
    else:
        contexts = rng.normal(size=(B, head.latent_dim))
    mf = _random_mean_field(rng, (B, T), head.mean_field_dim)
    if head.kind == "mlp":
        assume(_far_from_kinks(head.mlp, head._mlp_inputs(mf, contexts)))
    tables = head.reward_tables(mf, contexts=contexts)
    assert tables.shape == (B, T, head.n_states, head.n_actions)
    for b in range(B):
        np.testing.assert_allclose(tables[b], head.reward_table(mf[b], contexts[b]),
                                   rtol=1e-13, atol=1e-13)
    G = rng.normal(size=tables.shape)
    out = head.reward_tables_vjp(mf, G, contexts=contexts)
    grad = out if head.discrete else out[0]
    _check_param_grad(head, lambda: float(np.sum(G * head.reward_tables(mf, contexts=contexts))),
                      grad)
    if not head.discrete:
        numeric_z = numerical_gradient(
            lambda z: float(np.sum(G * head.reward_tables(mf, contexts=z))), contexts, eps=EPS)
        np.testing.assert_allclose(out[1], numeric_z, rtol=RTOL, atol=ATOL)


def test_all_contexts_default():
    rng = np.random.default_rng(0)
    head = RewardHead(3, 2, 3, n_contexts=4)
    head.set_flat(rng.normal(size=head.n_params))
    mf = _random_mean_field(rng, (4, 5), 3)
    tables = head.reward_tables(mf)  # contexts=None -> 0..K-1
    np.testing.assert_allclose(tables[2], head.reward_table(mf[2], 2), rtol=1e-14, atol=0)


def test_additive_head_is_the_linear_head_at_its_linear_parameters():
    rng = np.random.default_rng(1)
    S, A, D, K = 4, 3, 4, 3
    head = RewardHead(S, A, D, n_contexts=K, kind="additive")
    assert head.n_params == K * S + K * S * D + K * A + S * A + S * A * D
    head.set_flat(rng.normal(size=head.n_params))
    bias, coef = head.linear_parameters()
    assert bias.shape == (K, S, A) and coef.shape == (K, S, A, D)
    # b_msa = alpha_ms + gamma_ma + delta_sa, W_msa = beta_ms + eps_sa (class Notes)
    m, s_, a = 2, 1, 0
    assert bias[m, s_, a] == pytest.approx(head.type_state[m, s_] + head.type_action[m, a]
                                           + head.shared_bias[s_, a], abs=1e-14)
    np.testing.assert_allclose(coef[m, s_, a], head.type_state_coef[m, s_]
                               + head.shared_coef[s_, a], rtol=0, atol=1e-14)
    linear = RewardHead(S, A, D, n_contexts=K)
    linear.bias, linear.coef = bias, coef
    mf = _random_mean_field(rng, (K, 5), D)
    np.testing.assert_allclose(head.reward_tables(mf), linear.reward_tables(mf),
                               rtol=0, atol=1e-13)
    # a type's action cost is the same in every state: the action contrast of
    # two types differs by a state-independent amount
    contrast = bias[:, :, 1] - bias[:, :, 0]
    np.testing.assert_allclose(contrast[0] - contrast[1],
                               np.full(S, contrast[0, 0] - contrast[1, 0]), atol=1e-13)


def test_state_head_is_the_linear_head_with_rewards_tied_over_actions(tmp_path):
    rng = np.random.default_rng(2)
    S, A, D, K = 3, 2, 3, 2
    head = RewardHead(S, A, D, n_contexts=K, kind="state")
    assert head.n_params == K * S * (1 + D)
    head.set_flat(rng.normal(size=head.n_params))
    bias, coef = head.linear_parameters()
    # b_msa = b_ms and W_msa = W_ms for every action (class Notes)
    np.testing.assert_array_equal(bias, np.stack([head.state_bias] * A, axis=-1))
    np.testing.assert_array_equal(coef, np.stack([head.state_coef] * A, axis=2))
    linear = RewardHead(S, A, D, n_contexts=K)
    linear.bias, linear.coef = bias, coef
    mf = _random_mean_field(rng, (K, 4), D)
    tables = head.reward_tables(mf)
    np.testing.assert_allclose(tables, linear.reward_tables(mf), rtol=0, atol=1e-13)
    np.testing.assert_array_equal(tables[..., 0], tables[..., 1])
    mask = head.decay_mask()
    np.testing.assert_array_equal(mask, np.r_[np.zeros(K * S), np.ones(K * S * D)])
    with pytest.raises(ValueError, match="state.*discrete"):
        RewardHead(S, A, D, latent_dim=2, kind="state")
    head.save(tmp_path / "h.npz")
    other = RewardHead(S, A, D, n_contexts=K, kind="state").load(tmp_path / "h.npz")
    np.testing.assert_array_equal(other.get_flat(), head.get_flat())


def test_decay_mask_selects_the_mean_field_weights():
    linear = RewardHead(3, 2, 3, n_contexts=2)
    mask = linear.decay_mask()
    np.testing.assert_array_equal(mask, np.r_[np.zeros(linear.bias.size),
                                               np.ones(linear.coef.size)])
    additive = RewardHead(3, 2, 3, n_contexts=2, kind="additive")
    additive.set_flat(np.arange(additive.n_params, dtype=float))
    mask = additive.decay_mask()
    decayed = additive.get_flat()[mask == 1.0]
    expected = np.r_[additive.type_state_coef.ravel(), additive.shared_coef.ravel()]
    np.testing.assert_array_equal(np.sort(decayed), np.sort(expected))
    mlp = RewardHead(3, 2, 3, n_contexts=2, kind="mlp", hidden_sizes=(4,), seed=0)
    np.testing.assert_array_equal(mlp.decay_mask(), 1.0)
    with pytest.raises(ValueError, match="no linear parameters"):
        mlp.linear_parameters()


def test_additive_head_needs_discrete_types_and_round_trips(tmp_path):
    with pytest.raises(ValueError, match="additive.*discrete"):
        RewardHead(3, 2, 3, latent_dim=2, kind="additive")
    with pytest.raises(ValueError, match="'linear', 'additive', 'state' or 'mlp'"):
        RewardHead(3, 2, 3, n_contexts=2, kind="tabular")
    head = RewardHead(3, 2, 3, n_contexts=2, kind="additive")
    head.set_flat(np.random.default_rng(0).normal(size=head.n_params))
    head.save(tmp_path / "h.npz")
    other = RewardHead(3, 2, 3, n_contexts=2, kind="additive").load(tmp_path / "h.npz")
    np.testing.assert_array_equal(other.get_flat(), head.get_flat())
    with pytest.raises(ValueError):
        RewardHead(3, 2, 3, n_contexts=2).load(tmp_path / "h.npz")


def test_linear_head_represents_malware_reward_exactly():
    # Malware spread (design notes, section 4): S = 10 infection levels,
    # actions {0: nothing, 1: repair}, r = -(k + mbar/10) s/10 - lam a with
    # mbar(mu) = sum_s s mu(s), k = 0.2; one context per lam in {0.2, 0.5, 0.8}.
    # This is affine in mu: bias = -k s/10 - lam a, coef[s, a, d] = -(d/10)(s/10).
    S, A, k, lams = 10, 2, 0.2, [0.2, 0.5, 0.8]
    head = RewardHead(S, A, S, n_contexts=len(lams))
    s, a, d = np.arange(S)[:, None], np.arange(A)[None, :], np.arange(S)
    for m, lam in enumerate(lams):
        head.bias[m] = -k * s / 10 - lam * a
        head.coef[m] = -(d[None, None, :] / 10) * (s[:, :, None] / 10) * np.ones((1, A, 1))
    mf = _random_mean_field(np.random.default_rng(3), 4, S)
    mbar = mf @ np.arange(S)
    for m, lam in enumerate(lams):
        expected = (-(k + mbar[:, None, None] / 10) * s[None] / 10 - lam * a[None])
        np.testing.assert_allclose(head.reward_table(mf, m), expected, rtol=0, atol=1e-14)


@pytest.mark.parametrize("joint", [False, True])
@pytest.mark.parametrize("discrete", [True, False])
def test_linear_head_fits_reward_table_from_its_own_gradient(joint, discrete):
    """Least squares from zero weights, driven only by the head's own VJP,
    recovers a reward table generated from random true weights."""
    rng = np.random.default_rng(42)
    S, A, K, T = 3, 2, 2, 6
    D = S * A if joint else S
    kw = {"n_contexts": K} if discrete else {"latent_dim": 2}
    truth = RewardHead(S, A, D, **kw)
    truth.set_flat(rng.normal(size=truth.n_params))
    mf = _random_mean_field(rng, (K, T), D)
    contexts = None if discrete else rng.normal(size=(K, 2))
    target = truth.reward_tables(mf, contexts=contexts)

    model = RewardHead(S, A, D, **kw)  # zero weights

    def grad(theta):
        # Gradient of L = 0.5 * sum (r - target)^2: the VJP with G = r - target.
        model.set_flat(theta)
        out = model.reward_tables_vjp(mf, model.reward_tables(mf, contexts=contexts) - target,
                                      contexts=contexts)
        return out if discrete else out[0]

    # L is quadratic, so grad(theta) = H theta - b is affine and
    # H p = grad(theta + p) - grad(theta) exactly (up to rounding).  Random
    # Dirichlet mean fields make H ill-conditioned (condition number ~1e6 here),
    # too slow for plain gradient descent, so minimise by conjugate gradients
    # (exact in at most n_params steps), restarted to shed rounding error.
    theta = model.get_flat()
    for _restart in range(5):
        r = -grad(theta)
        p = r.copy()
        for _ in range(model.n_params):
            rr = r @ r
            if rr < 1e-30:
                break
            Hp = grad(theta + p) - grad(theta)
            alpha = rr / (p @ Hp)
            theta = theta + alpha * p
            r = r - alpha * Hp
            p = r + (r @ r / rr) * p
    model.set_flat(theta)
    err = np.max(np.abs(model.reward_tables(mf, contexts=contexts) - target))
    assert err < 1e-6, err


# ---------------------------------------------------------------------------
# ShapingHead
# ---------------------------------------------------------------------------


@FD_SETTINGS
@given(S=st.integers(1, 4), n_ctx=st.integers(1, 3), discrete=st.booleans(),
       kind=st.sampled_from(["tabular", "mlp"]), activation=st.sampled_from(ACT_NAMES),
       mode=st.sampled_from(["all", "one", "batch"]), seed=SEEDS)
def test_shaping_vjp_matches_finite_differences(S, n_ctx, discrete, kind, activation,
                                                mode, seed):
    rng = np.random.default_rng(seed)
    head = ShapingHead(S, n_contexts=n_ctx if discrete else None,
                       latent_dim=None if discrete else n_ctx, kind=kind,
                       hidden_sizes=(3,), activation=activation, seed=rng)
    head.set_flat(rng.normal(size=head.n_params))
    if discrete:
        ctx = {"all": None, "one": int(rng.integers(n_ctx)),
               "batch": rng.integers(n_ctx, size=2)}[mode]
    else:
        ctx = rng.normal(size=(2, n_ctx)) if mode == "batch" else rng.normal(size=n_ctx)
    contexts, _ = head._batch(ctx)
    if kind == "mlp":
        assume(_far_from_kinks(head.mlp, head._mlp_inputs(contexts)))
    h = head.table(ctx)
    expected_shape = {(True, "all"): (n_ctx, S), (True, "one"): (S,),
                      (True, "batch"): (2, S), (False, "batch"): (2, S)}.get(
                          (discrete, mode), (S,))
    assert h.shape == expected_shape
    G = rng.normal(size=h.shape)
    out = head.table_vjp(G, ctx)
    grad = out if discrete else out[0]
    _check_param_grad(head, lambda: float(np.sum(G * head.table(ctx))), grad)
    if not discrete:
        numeric_z = numerical_gradient(lambda z: float(np.sum(G * head.table(z))),
                                       ctx, eps=EPS)
        np.testing.assert_allclose(out[1], numeric_z, rtol=RTOL, atol=ATOL)


def test_tabular_shaping_is_the_table():
    head = ShapingHead(3, n_contexts=2)
    head.set_flat(np.arange(6.0))
    np.testing.assert_array_equal(head.table(), [[0, 1, 2], [3, 4, 5]])
    np.testing.assert_array_equal(head.table(1), [3, 4, 5])


# ---------------------------------------------------------------------------
# ContextEncoder
# ---------------------------------------------------------------------------


def _trajectories(rng, S, A, N, T):
    return rng.integers(S, size=(N, T + 1)), rng.integers(A, size=(N, T))


def _encoder_far_from_kinks(enc, states, actions):
    x = enc.step_features(states, actions)
    u = enc.step_net.forward(x)[0]
    return (_far_from_kinks(enc.step_net, x)
            and (enc.step_net.output_activation not in ("relu", "leaky_relu")
                 or np.min(np.abs(enc.step_net.forward(x)[1]["preacts"][-1])) > 1e-4)
            and _far_from_kinks(enc.head_net, u.mean(axis=1)))


@st.composite
def encoders(draw):
    """A ContextEncoder of random small sizes with random parameters, a batch
    of random trajectories, and the rng."""
    S, A = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    N, T = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kind = draw(st.sampled_from(["categorical", "gaussian"]))
    n = draw(st.integers(1, 3))
    activation = draw(st.sampled_from(ACT_NAMES))
    rng = np.random.default_rng(draw(SEEDS))
    kw = {"n_contexts": n} if kind == "categorical" else {"latent_dim": n}
    enc = ContextEncoder(S, A, kind=kind, embed_dim=2, hidden_sizes=(3,),
                         activation=activation, seed=rng, **kw)
    # Scale 0.5 keeps log_std = O(1): exp(-2 log_std) would otherwise make
    # the log-density (and its finite-difference round-off) huge.
    enc.set_flat(0.5 * rng.normal(size=enc.n_params))
    states, actions = _trajectories(rng, S, A, N, T)
    return enc, states, actions, rng


@FD_SETTINGS
@given(er=encoders())
def test_encoder_backward_matches_finite_differences(er):
    enc, states, actions, rng = er
    assume(_encoder_far_from_kinks(enc, states, actions))
    out, cache = enc.encode(states, actions)
    if enc.kind == "categorical":
        G = rng.normal(size=out.shape)

        def loss():
            return float(np.sum(G * enc.encode(states, actions)[0]))
    else:
        G = (rng.normal(size=out[0].shape), rng.normal(size=out[1].shape))

        def loss():
            mean, log_std = enc.encode(states, actions)[0]
            return float(np.sum(G[0] * mean) + np.sum(G[1] * log_std))
    _check_param_grad(enc, loss, enc.backward(cache, G))


@FD_SETTINGS
@given(er=encoders(), weighted=st.booleans())
def test_encoder_log_prob_grad_matches_finite_differences(er, weighted):
    enc, states, actions, rng = er
    assume(_encoder_far_from_kinks(enc, states, actions))
    N = actions.shape[0]
    if enc.kind == "categorical":
        m = rng.integers(enc.n_contexts, size=N)
    else:
        m = rng.normal(size=(N, enc.latent_dim))
    w = rng.uniform(0.1, 2.0, size=N) if weighted else None
    lp, grad = enc.log_prob_grad(states, actions, m, weights=w)
    np.testing.assert_allclose(lp, enc.log_prob(states, actions, m), rtol=1e-14, atol=0)
    wv = np.ones(N) if w is None else w
    _check_param_grad(enc, lambda: float(np.sum(wv * enc.log_prob(states, actions, m))),
                      grad)


@FD_SETTINGS
@given(er=encoders())
def test_encoder_reparameterised_sample_vjp(er):
    enc, states, actions, rng = er
    assume(enc.kind == "gaussian")
    assume(_encoder_far_from_kinks(enc, states, actions))
    z, eps = enc.sample(states, actions, rng)
    mean, log_std = enc.mean_log_std(states, actions)
    np.testing.assert_allclose(z, mean + np.exp(log_std) * eps, rtol=1e-14, atol=0)
    G = rng.normal(size=z.shape)

    def loss():
        mean, log_std = enc.mean_log_std(states, actions)
        return float(np.sum(G * (mean + np.exp(log_std) * eps)))

    _check_param_grad(enc, loss, enc.sample_vjp(states, actions, eps, G))


def test_gaussian_log_prob_closed_form():
    enc = ContextEncoder(2, 2, kind="gaussian", latent_dim=2, seed=0)
    states, actions = np.array([[0, 1, 1]]), np.array([[1, 0]])
    mean, log_std = enc.mean_log_std(states, actions)
    z = mean + np.array([[1.0, -2.0]]) * np.exp(log_std)
    # log N(z; mean, sigma^2) with standardised residuals (1, -2):
    #   -0.5 * (1 + 4) - sum(log_std) - log(2 pi)
    expected = -2.5 - log_std.sum() - np.log(2 * np.pi)
    np.testing.assert_allclose(enc.log_prob(states, actions, z), [expected],
                               rtol=1e-13, atol=0)


def test_categorical_posterior_and_sampling():
    rng = np.random.default_rng(0)
    enc = ContextEncoder(3, 2, n_contexts=3, seed=1)
    enc.set_flat(rng.normal(size=enc.n_params))
    states, actions = _trajectories(rng, 3, 2, 1, 4)
    states, actions = np.repeat(states, 20000, axis=0), np.repeat(actions, 20000, axis=0)
    p = enc.posterior(states, actions)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-14, atol=0)
    np.testing.assert_allclose(np.exp(enc.log_prob(states, actions, 1)), p[:, 1],
                               rtol=1e-12, atol=0)
    m = enc.sample(states, actions, np.random.default_rng(5))
    assert m.shape == (20000,) and m.dtype == np.int64
    freq = np.bincount(m, minlength=3) / m.size
    # Binomial standard error <= 0.5 / sqrt(20000) ~ 0.0035; allow ~6 sigma.
    np.testing.assert_allclose(freq, p[0], rtol=0, atol=0.02)
    again = enc.sample(states, actions, np.random.default_rng(5))
    np.testing.assert_array_equal(m, again)


def test_encoder_learns_to_separate_two_types():
    """Type 0 always plays action 0, type 1 action 1: a few Adam steps on the
    log-likelihood of the true labels make the posterior confident."""
    from tabmfirl.irl._nn import Adam
    rng = np.random.default_rng(0)
    N, T = 40, 5
    labels = np.arange(N) % 2
    states = rng.integers(3, size=(N, T + 1))
    actions = np.repeat(labels[:, None], T, axis=1)
    enc = ContextEncoder(3, 2, n_contexts=2, seed=0)
    theta, opt = enc.get_flat(), Adam(lr=0.05)
    for _ in range(100):
        _, grad = enc.log_prob_grad(states, actions, labels)
        opt.step(theta, -grad)  # maximise the log-likelihood
        enc.set_flat(theta)
    p = enc.posterior(states, actions)
    assert np.all(p[np.arange(N), labels] > 0.95)


# ---------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------


def _all_models():
    return [
        lambda: RewardHead(3, 2, 3, n_contexts=2),
        lambda: RewardHead(3, 2, 6, latent_dim=2, kind="mlp", hidden_sizes=(4,), seed=0),
        lambda: ShapingHead(3, n_contexts=2),
        lambda: ShapingHead(3, latent_dim=2, kind="mlp", hidden_sizes=(4,), seed=0),
        lambda: ContextEncoder(3, 2, n_contexts=2, seed=0),
        lambda: ContextEncoder(3, 2, kind="gaussian", latent_dim=2, seed=0),
    ]


@pytest.mark.parametrize("make", _all_models())
def test_save_load_roundtrip(make, tmp_path):
    a = make()
    a.set_flat(np.random.default_rng(0).normal(size=a.n_params))
    a.save(tmp_path / "p.npz")
    b = make().load(tmp_path / "p.npz")
    np.testing.assert_array_equal(a.get_flat(), b.get_flat())


def test_load_rejects_corrupted_and_mismatched_files(tmp_path):
    head = RewardHead(3, 2, 3, n_contexts=2)
    path = tmp_path / "r.npz"
    head.save(path)
    truncated = tmp_path / "t.npz"
    truncated.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(ValueError, match="could not read"):
        RewardHead(3, 2, 3, n_contexts=2).load(truncated)
    with pytest.raises(ValueError, match="__config__"):
        RewardHead(3, 2, 3, n_contexts=3).load(path)
    with pytest.raises(ValueError, match="__format__|missing arrays"):
        ShapingHead(3, n_contexts=2).load(path)
    arrays = dict(np.load(path))
    arrays["coef"] = np.full(arrays["coef"].shape, np.nan)
    np.savez(tmp_path / "nan.npz", **arrays)
    with pytest.raises(ValueError, match="'coef'.*not finite"):
        RewardHead(3, 2, 3, n_contexts=2).load(tmp_path / "nan.npz")
    arrays["coef"] = np.zeros((2, 3, 2, 4))
    np.savez(tmp_path / "shape.npz", **arrays)
    with pytest.raises(ValueError, match="'coef'.*shape"):
        RewardHead(3, 2, 3, n_contexts=2).load(tmp_path / "shape.npz")


# ---------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------


def test_reward_head_rejects_bad_inputs():
    with pytest.raises(ValueError, match="mean_field_dim"):
        RewardHead(3, 2, 4, n_contexts=2)
    with pytest.raises(ValueError, match="exactly one of n_contexts"):
        RewardHead(3, 2, 3, n_contexts=2, latent_dim=2)
    with pytest.raises(ValueError, match="exactly one of n_contexts"):
        RewardHead(3, 2, 3)
    with pytest.raises(ValueError, match="kind"):
        RewardHead(3, 2, 3, n_contexts=2, kind="cubic")
    with pytest.raises(ValueError, match="n_states"):
        RewardHead(0, 2, 3, n_contexts=2)
    head = RewardHead(3, 2, 3, n_contexts=2)
    mf = np.full((4, 3), 1 / 3)
    with pytest.raises(ValueError, match=r"mean_field must have shape \(T, 3\)"):
        head.reward_table(np.full((4, 6), 1 / 6), 0)
    with pytest.raises(ValueError, match=r"mean_field must have shape \(T, 3\)"):
        head.reward_table(np.full(3, 1 / 3), 0)
    with pytest.raises(ValueError, match="context 2 out of range"):
        head.reward_table(mf, 2)
    with pytest.raises(ValueError, match="context -1 out of range"):
        head.reward_table(mf, -1)
    with pytest.raises(ValueError, match="context must be an int"):
        head.reward_table(mf, True)
    with pytest.raises(ValueError, match="context must be an int"):
        head.reward_table(mf, 1.0)
    bad = mf.copy()
    bad[1, 1] = np.nan
    with pytest.raises(ValueError, match="mean_field contains non-finite"):
        head.reward_table(bad, 0)
    with pytest.raises(ValueError, match="grad_table must have shape"):
        head.reward_table_vjp(mf, 0, np.zeros((3, 3, 2)))
    with pytest.raises(ValueError, match="context out of range"):
        head.reward_tables(np.full((2, 4, 3), 1 / 3), contexts=np.array([0, 5]))
    with pytest.raises(ValueError, match="mean_field has 2 rows for 3 contexts"):
        head.reward_tables(np.full((2, 4, 3), 1 / 3), contexts=np.array([0, 1, 1]))
    latent = RewardHead(3, 2, 3, latent_dim=2, kind="mlp", seed=0)
    with pytest.raises(ValueError, match="latent context contains non-finite"):
        latent.reward_table(mf, np.array([0.0, np.nan]))
    with pytest.raises(ValueError, match=r"latent context must have shape \(2,\)"):
        latent.reward_table(mf, np.zeros(3))
    with pytest.raises(ValueError, match="latent context z .* is required"):
        latent.reward_tables(np.full((2, 4, 3), 1 / 3))
    with pytest.raises(ValueError, match="flat parameter vector"):
        latent.set_flat(np.zeros(latent.n_params - 1))


def test_shaping_head_rejects_bad_inputs():
    head = ShapingHead(3, n_contexts=2)
    with pytest.raises(ValueError, match="context 4 out of range"):
        head.table(4)
    with pytest.raises(ValueError, match="grad_table must have shape"):
        head.table_vjp(np.zeros(3))
    with pytest.raises(ValueError, match="kind"):
        ShapingHead(3, n_contexts=2, kind="linear")
    latent = ShapingHead(3, latent_dim=2)
    with pytest.raises(ValueError, match="latent context z .* is required"):
        latent.table()
    with pytest.raises(ValueError, match="non-finite"):
        latent.table(np.array([np.inf, 0.0]))


def test_encoder_rejects_bad_inputs():
    enc = ContextEncoder(3, 2, n_contexts=2, seed=0)
    states, actions = np.array([[0, 1, 2]]), np.array([[0, 1]])
    with pytest.raises(ValueError, match="states out of range"):
        enc.posterior(np.array([[0, 3, 1]]), actions)
    with pytest.raises(ValueError, match="actions out of range"):
        enc.posterior(states, np.array([[0, 2]]))
    with pytest.raises(ValueError, match=r"states must have shape \(1, 3\)"):
        enc.posterior(np.array([[0, 1]]), actions)
    with pytest.raises(ValueError, match="states must be an integer array"):
        enc.posterior(states.astype(float), actions)
    with pytest.raises(ValueError, match=r"actions must have shape \(N, T\)"):
        enc.posterior(states, np.array([0, 1]))
    with pytest.raises(ValueError, match="m out of range"):
        enc.log_prob(states, actions, 2)
    with pytest.raises(ValueError, match="weights contains non-finite"):
        enc.log_prob_grad(states, actions, 0, weights=np.array([np.nan]))
    with pytest.raises(ValueError, match="needs kind='gaussian'"):
        enc.sample_vjp(states, actions, np.zeros((1, 2)), np.zeros((1, 2)))
    with pytest.raises(ValueError, match="rng must be"):
        enc.sample(states, actions, 0)
    with pytest.raises(ValueError, match="needs n_contexts"):
        ContextEncoder(3, 2, latent_dim=2)
    gauss = ContextEncoder(3, 2, kind="gaussian", latent_dim=2, seed=0)
    with pytest.raises(ValueError, match="needs kind='categorical'"):
        gauss.posterior(states, actions)
    with pytest.raises(ValueError, match="z contains non-finite"):
        gauss.log_prob(states, actions, np.array([np.nan, 0.0]))
