"""Tests of tabmfirl.irl._nn: finite-difference checks of every backward pass,
hand-computed optimiser steps, parameter files and input validation."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tabmfirl.irl._nn import (
    ACTIVATIONS,
    DERIVATIVES,
    MLP,
    SGD,
    Adam,
    clip_grad_norm,
    log_softmax,
    log_softmax_vjp,
    logsumexp,
    numerical_gradient,
    softmax,
    softmax_cross_entropy,
    softmax_vjp,
    squared_error,
)

EPS = 1e-6  # central-difference step (float64)
RTOL, ATOL = 1e-6, 1e-8
ACT_NAMES = sorted(ACTIVATIONS)
FD_SETTINGS = settings(max_examples=25, deadline=None)


def _far_from_kinks(cache, activation, margin=1e-4):
    """True unless a ReLU-family pre-activation sits within ``margin`` of 0."""
    if activation not in ("relu", "leaky_relu"):
        return True
    return all(np.min(np.abs(z)) > margin for z in cache["preacts"])


# ---------------------------------------------------------------------------
# Activations
# ---------------------------------------------------------------------------


def test_registries_are_paired():
    assert set(ACTIVATIONS) == set(DERIVATIVES)
    assert set(ACTIVATIONS) == {"tanh", "relu", "leaky_relu", "softplus", "identity"}


@pytest.mark.parametrize("name", ACT_NAMES)
def test_activation_derivative_matches_finite_differences(name):
    rng = np.random.default_rng(0)
    z = rng.normal(scale=3.0, size=50)
    z = z[np.abs(z) > 1e-3]  # keep away from the ReLU kink
    f, df = ACTIVATIONS[name], DERIVATIVES[name]
    numeric = (f(z + EPS) - f(z - EPS)) / (2 * EPS)
    np.testing.assert_allclose(df(z), numeric, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("name", ACT_NAMES)
def test_derivative_given_the_activation_is_the_same(name):
    """The backward pass hands each derivative the forward pass's activation (tanh reuses
    it instead of recomputing tanh): the result must be the same, bit for bit."""
    z = np.random.default_rng(1).normal(scale=3.0, size=200)
    np.testing.assert_array_equal(DERIVATIVES[name](z, ACTIVATIONS[name](z)),
                                  DERIVATIVES[name](z))


def test_softplus_is_stable():
    z = np.array([-800.0, 0.0, 800.0])
    np.testing.assert_allclose(ACTIVATIONS["softplus"](z), [0.0, np.log(2.0), 800.0],
                               rtol=1e-12, atol=0)
    np.testing.assert_allclose(DERIVATIVES["softplus"](z), [0.0, 0.5, 1.0],
                               rtol=1e-12, atol=0)


# ---------------------------------------------------------------------------
# MLP backward pass
# ---------------------------------------------------------------------------


@FD_SETTINGS
@given(
    sizes=st.lists(st.integers(1, 4), min_size=2, max_size=4),
    batch=st.lists(st.integers(1, 3), min_size=0, max_size=2),
    activation=st.sampled_from(ACT_NAMES),
    output_activation=st.sampled_from(ACT_NAMES),
    seed=st.integers(0, 2**32 - 1),
)
def test_mlp_backward_matches_finite_differences(sizes, batch, activation,
                                                 output_activation, seed):
    rng = np.random.default_rng(seed)
    net = MLP(sizes, activation=activation, output_activation=output_activation,
              seed=rng)
    theta = rng.normal(size=net.n_params)  # random biases too, not only zeros
    net.set_flat(theta)
    x = rng.normal(size=tuple(batch) + (sizes[0],))
    out, cache = net.forward(x)
    assume(_far_from_kinks(cache, activation))
    assume(_far_from_kinks(cache, output_activation))
    G = rng.normal(size=out.shape)  # loss L = sum(G * out)

    grads, grad_x = net.backward(cache, G)
    flat_grad = np.concatenate([g.reshape(-1) for g in grads])
    assert flat_grad.shape == (net.n_params,)
    assert grad_x.shape == x.shape

    def loss_of_params(v):
        net.set_flat(v)
        return float(np.sum(G * net.forward(x)[0]))

    numeric = numerical_gradient(loss_of_params, theta, eps=EPS)
    net.set_flat(theta)
    np.testing.assert_allclose(flat_grad, numeric, rtol=RTOL, atol=ATOL)

    numeric_x = numerical_gradient(lambda y: float(np.sum(G * net.forward(y)[0])),
                                   x, eps=EPS)
    np.testing.assert_allclose(grad_x, numeric_x, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("activation", ACT_NAMES)
def test_mlp_backward_each_activation_with_squared_error(activation):
    """The same check through a loss, once per activation (deterministic)."""
    rng = np.random.default_rng(1)
    net = MLP([3, 4, 4, 2], activation=activation, seed=2)
    net.set_flat(rng.normal(size=net.n_params))
    x = rng.normal(size=(5, 3))
    y = rng.normal(size=(5, 2))
    out, cache = net.forward(x)
    assert _far_from_kinks(cache, activation)
    _, g_out = squared_error(out, y)
    grads, _ = net.backward(cache, g_out)
    theta = net.get_flat()

    def loss(v):
        net.set_flat(v)
        return squared_error(net.forward(x)[0], y)[0]

    np.testing.assert_allclose(np.concatenate([g.ravel() for g in grads]),
                               numerical_gradient(loss, theta, eps=EPS),
                               rtol=RTOL, atol=ATOL)


def test_flat_roundtrip_and_seeding():
    a = MLP([2, 3, 1], seed=7)
    b = MLP([2, 3, 1], seed=np.random.default_rng(7))
    np.testing.assert_array_equal(a.get_flat(), b.get_flat())
    v = np.arange(a.n_params, dtype=np.float64)
    a.set_flat(v)
    np.testing.assert_array_equal(a.get_flat(), v)
    assert a.n_params == 2 * 3 + 3 + 3 * 1 + 1


# ---------------------------------------------------------------------------
# Softmax family and losses
# ---------------------------------------------------------------------------


@FD_SETTINGS
@given(n=st.integers(1, 3), k=st.integers(1, 5), seed=st.integers(0, 2**32 - 1))
def test_softmax_and_log_softmax_vjp(n, k, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(scale=2.0, size=(n, k))
    G = rng.normal(size=(n, k))
    p = softmax(x)
    np.testing.assert_allclose(
        softmax_vjp(p, G),
        numerical_gradient(lambda y: float(np.sum(G * softmax(y))), x, eps=EPS),
        rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(
        log_softmax_vjp(log_softmax(x), G),
        numerical_gradient(lambda y: float(np.sum(G * log_softmax(y))), x, eps=EPS),
        rtol=RTOL, atol=ATOL)


@FD_SETTINGS
@given(n=st.integers(1, 4), k=st.integers(1, 5), seed=st.integers(0, 2**32 - 1),
       soft=st.booleans(), weighted=st.booleans())
def test_loss_gradients(n, k, seed, soft, weighted):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, k))
    target = rng.dirichlet(np.ones(k), size=n) if soft else rng.integers(0, k, size=n)
    w = rng.uniform(0.1, 2.0, size=n) if weighted else None
    _, grad = softmax_cross_entropy(z, target, weights=w)
    numeric = numerical_gradient(lambda y: softmax_cross_entropy(y, target, weights=w)[0],
                                 z, eps=EPS)
    np.testing.assert_allclose(grad, numeric, rtol=RTOL, atol=ATOL)

    y = rng.normal(size=(n, k))
    _, grad = squared_error(z, y)
    numeric = numerical_gradient(lambda v: squared_error(v, y)[0], z, eps=EPS)
    np.testing.assert_allclose(grad, numeric, rtol=RTOL, atol=ATOL)


def test_logsumexp_is_stable():
    x = np.array([[1000.0, 1000.0], [-1000.0, -1000.0], [-np.inf, 0.0]])
    np.testing.assert_allclose(logsumexp(x), [1000 + np.log(2), -1000 + np.log(2), 0.0],
                               rtol=1e-14, atol=0)
    assert logsumexp(np.array([-np.inf, -np.inf])) == -np.inf
    p = softmax(np.array([1e4, 0.0, -1e4]))
    np.testing.assert_allclose(p, [1.0, 0.0, 0.0], rtol=0, atol=1e-300)
    np.testing.assert_allclose(softmax(np.random.default_rng(0).normal(size=(3, 4))).sum(1),
                               1.0, rtol=1e-14, atol=0)


# ---------------------------------------------------------------------------
# Optimisers
# ---------------------------------------------------------------------------


def test_sgd_step_by_hand():
    theta = np.array([1.0, -2.0, 0.5])
    g = np.array([0.2, -0.4, 1.0])
    opt = SGD(lr=0.5)
    opt.step(theta, g)
    # theta - lr * g = [1 - 0.1, -2 + 0.2, 0.5 - 0.5]
    np.testing.assert_allclose(theta, [0.9, -1.8, 0.0], rtol=0, atol=1e-15)


def test_sgd_momentum_two_steps_by_hand():
    theta = np.array([1.0])
    opt = SGD(lr=0.1, momentum=0.5)
    opt.step(theta, np.array([2.0]))
    # v1 = 0.5 * 0 + 2 = 2;       theta1 = 1 - 0.1 * 2 = 0.8
    np.testing.assert_allclose(theta, [0.8], rtol=0, atol=1e-15)
    opt.step(theta, np.array([1.0]))
    # v2 = 0.5 * 2 + 1 = 2;       theta2 = 0.8 - 0.1 * 2 = 0.6
    np.testing.assert_allclose(theta, [0.6], rtol=0, atol=1e-15)


def test_adam_first_two_steps_by_hand():
    # Defaults beta1 = 0.9, beta2 = 0.999, eps = 1e-8; lr = 0.01.
    theta = [np.array([1.0, 1.0]), np.array([[0.0]])]
    g1 = [np.array([0.1, -3.0]), np.array([[0.0]])]
    opt = Adam(lr=0.01)
    opt.step(theta, g1)
    # Step 1: m1 = 0.1 g1, v1 = 0.001 g1^2,
    #   m_hat = m1 / (1 - 0.9) = g1, v_hat = v1 / (1 - 0.999) = g1^2,
    #   update = 0.01 * g1 / (|g1| + 1e-8):
    #   coord 0: 0.01 * 0.1 / (0.1 + 1e-8) = 0.0099999990000001
    #   coord 1: 0.01 * (-3) / (3 + 1e-8) = -0.0099999999666667
    #   zero gradient: 0.01 * 0 / (0 + 1e-8) = 0
    np.testing.assert_allclose(theta[0], [1 - 0.01 * 0.1 / (0.1 + 1e-8),
                                          1 + 0.01 * 3.0 / (3.0 + 1e-8)],
                               rtol=0, atol=1e-15)
    np.testing.assert_allclose(theta[0], [0.990000001, 1.0099999999666667],
                               rtol=0, atol=1e-12)
    np.testing.assert_array_equal(theta[1], [[0.0]])
    # Step 2 with g2 = [0.2, 0]:
    #   m2 = 0.9 * 0.01 + 0.1 * 0.2 = 0.029;          m_hat = 0.029 / 0.19
    #   v2 = 0.999 * 1e-5 + 0.001 * 0.04 = 4.999e-5; v_hat = 4.999e-5 / 0.001999
    #   coord 0 update = 0.01 * (0.029/0.19) / (sqrt(4.999e-5/0.001999) + 1e-8)
    #   coord 1: m2 = 0.9 * (-0.3) = -0.27, m_hat = -0.27/0.19;
    #            v2 = 0.999 * 0.009 = 0.008991, v_hat = 0.008991 / 0.001999
    before = theta[0].copy()
    opt.step(theta, [np.array([0.2, 0.0]), np.array([[0.0]])])
    upd0 = 0.01 * (0.029 / 0.19) / (np.sqrt(4.999e-5 / 0.001999) + 1e-8)
    upd1 = 0.01 * (-0.27 / 0.19) / (np.sqrt(0.008991 / 0.001999) + 1e-8)
    np.testing.assert_allclose(before - theta[0], [upd0, upd1], rtol=1e-12, atol=0)


def test_adam_on_flat_vector_with_clipping():
    theta = np.zeros(2)
    opt = Adam(lr=0.1, clip_norm=1.0)
    opt.step(theta, np.array([3.0, 4.0]))  # norm 5 -> clipped to [0.6, 0.8]
    assert opt.last_grad_norm == pytest.approx(5.0)
    # Adam's first step is lr * sign(g) whatever the scale: [-0.1, -0.1].
    np.testing.assert_allclose(theta, [-0.1, -0.1], rtol=1e-6, atol=0)


def test_clip_grad_norm():
    clipped, norm = clip_grad_norm([np.array([3.0]), np.array([[4.0]])], 1.0)
    assert norm == pytest.approx(5.0)
    np.testing.assert_allclose(clipped[0], [0.6], rtol=1e-15, atol=0)
    np.testing.assert_allclose(clipped[1], [[0.8]], rtol=1e-15, atol=0)
    same, norm = clip_grad_norm(np.array([0.3, 0.4]), 1.0)
    assert norm == pytest.approx(0.5)
    np.testing.assert_array_equal(same, [0.3, 0.4])


def test_sgd_with_clipping_by_hand():
    theta = np.zeros(2)
    SGD(lr=1.0, clip_norm=2.5).step(theta, np.array([3.0, 4.0]))
    # g scaled by 2.5 / 5 = 0.5 -> [1.5, 2.0]; theta = 0 - 1.0 * g.
    np.testing.assert_allclose(theta, [-1.5, -2.0], rtol=1e-15, atol=0)


def test_optimizer_rejects_bad_inputs():
    opt = Adam()
    with pytest.raises(ValueError, match="shape"):
        opt.step(np.zeros(2), np.zeros(3))
    opt.step(np.zeros(2), np.zeros(2))
    with pytest.raises(ValueError, match="shapes changed"):
        opt.step(np.zeros(3), np.zeros(3))
    with pytest.raises(ValueError, match="non-finite"):
        SGD().step(np.zeros(1), np.array([np.nan]))
    with pytest.raises(ValueError, match="lr"):
        SGD(lr=0.0)
    with pytest.raises(ValueError, match="momentum"):
        SGD(momentum=1.0)


def test_mlp_fits_xor_with_adam():
    """A small end-to-end check that the gradients train something."""
    x = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = np.array([[0.0], [1.0], [1.0], [0.0]])
    net = MLP([2, 8, 1], activation="tanh", seed=0)
    opt = Adam(lr=0.05)
    for _ in range(500):
        out, cache = net.forward(x)
        _, g = squared_error(out, y)
        grads, _ = net.backward(cache, g)
        opt.step(net.params, grads)
    np.testing.assert_allclose(net(x), y, rtol=0, atol=0.05)


# ---------------------------------------------------------------------------
# Files and validation
# ---------------------------------------------------------------------------


def test_save_load_roundtrip(tmp_path):
    a = MLP([3, 4, 2], activation="relu", seed=0)
    a.set_flat(np.random.default_rng(1).normal(size=a.n_params))
    path = tmp_path / "mlp.npz"
    a.save(path)
    b = MLP([3, 4, 2], activation="relu", seed=5).load(path)
    np.testing.assert_array_equal(a.get_flat(), b.get_flat())
    x = np.random.default_rng(2).normal(size=(3, 3))
    np.testing.assert_array_equal(a(x), b(x))


def test_load_rejects_corrupted_and_mismatched_files(tmp_path):
    a = MLP([3, 4, 2], seed=0)
    path = tmp_path / "mlp.npz"
    a.save(path)
    # Truncated file.
    bad = tmp_path / "truncated.npz"
    bad.write_bytes(path.read_bytes()[:50])
    with pytest.raises(ValueError, match="could not read"):
        MLP([3, 4, 2]).load(bad)
    # Garbage bytes.
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"this is not a zip file at all")
    with pytest.raises(ValueError, match="could not read"):
        MLP([3, 4, 2]).load(junk)
    # Missing file.
    with pytest.raises(ValueError, match="could not read"):
        MLP([3, 4, 2]).load(tmp_path / "absent.npz")
    # Another architecture.
    with pytest.raises(ValueError, match="__layer_sizes__"):
        MLP([3, 5, 2]).load(path)
    with pytest.raises(ValueError, match="__activation__"):
        MLP([3, 4, 2], activation="relu").load(path)
    # Right names, wrong shape.
    arrays = dict(np.load(path))
    arrays["W0"] = np.zeros((4, 4))
    np.savez(tmp_path / "shape.npz", **arrays)
    with pytest.raises(ValueError, match="W0.*shape"):
        MLP([3, 4, 2]).load(tmp_path / "shape.npz")
    # Missing array.
    del arrays["b1"]
    np.savez(tmp_path / "missing.npz", **arrays)
    with pytest.raises(ValueError, match="missing arrays \\['b1'\\]"):
        MLP([3, 4, 2]).load(tmp_path / "missing.npz")
    # Object array (needs pickle).
    arrays = dict(np.load(path))
    arrays["W0"] = np.array([None, 1], dtype=object)
    np.savez(tmp_path / "pickle.npz", **arrays)
    with pytest.raises(ValueError, match="could not read"):
        MLP([3, 4, 2]).load(tmp_path / "pickle.npz")


def test_mlp_rejects_bad_inputs():
    with pytest.raises(ValueError, match="layer_sizes"):
        MLP([3])
    with pytest.raises(ValueError, match="unknown activation 'sigmoid'"):
        MLP([3, 2], activation="sigmoid")
    net = MLP([3, 2], seed=0)
    with pytest.raises(ValueError, match=r"shape \(\.\.\., 3\)"):
        net.forward(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="non-finite"):
        net.forward(np.array([0.0, np.nan, 1.0]))
    with pytest.raises(ValueError, match="flat parameter vector"):
        net.set_flat(np.zeros(net.n_params + 1))
    out, cache = net.forward(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="grad_out"):
        net.backward(cache, np.zeros((3, 2)))
    with pytest.raises(ValueError, match="labels"):
        softmax_cross_entropy(np.zeros((2, 3)), np.array([0, 3]))


def test_read_npz_closes_a_damaged_file(tmp_path):
    """``np.load`` on the path of a truncated archive leaves its handle open
    (a ResourceWarning at collection); ``read_npz`` opens and closes it itself."""
    import gc
    import warnings

    from tabmfirl._io import NPZ_READ_ERRORS, read_npz

    good = tmp_path / "good.npz"
    np.savez(good, a=np.arange(300.0), b=np.ones(50))
    bad = tmp_path / "bad.npz"
    bad.write_bytes(good.read_bytes()[:-40])
    np.testing.assert_array_equal(read_npz(good)["a"], np.arange(300.0))
    np.save(tmp_path / "single.npy", np.ones(3))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        with pytest.raises(NPZ_READ_ERRORS):
            read_npz(bad)
        with pytest.raises(ValueError, match="single .npy array"):
            read_npz(tmp_path / "single.npy")
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]
