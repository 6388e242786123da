r"""Small multilayer perceptrons with hand-written gradients (pure NumPy).

This module is the neural-network toolbox of :mod:`tabmfirl`: dense layers,
activations, stable softmax helpers, an :class:`MLP` with explicit forward and
backward passes, two optimisers (:class:`SGD`, :class:`Adam`) and schema-checked
``.npz`` parameter files.  No autodiff framework is used anywhere; every
backward pass is written out by hand and checked against central finite
differences in ``tests/test_nn.py`` (see :func:`numerical_gradient`).

Notation
--------
A dense layer maps a batch of row vectors :math:`x \in \mathbb{R}^{N\times n}`
to :math:`z = x W + b` with :math:`W \in \mathbb{R}^{n\times m}`,
:math:`b \in \mathbb{R}^{m}`.  An activation :math:`\sigma` is applied
elementwise, :math:`h = \sigma(z)`.  For an upstream gradient
:math:`\bar h = \partial L / \partial h` the backward pass is

.. math::

    \bar z = \bar h \odot \sigma'(z), \qquad
    \bar W = x^\top \bar z, \qquad
    \bar b = \textstyle\sum_i \bar z_i, \qquad
    \bar x = \bar z W^\top .

Activations and their derivatives (as functions of the pre-activation
:math:`z`) live side by side in the paired registries :data:`ACTIVATIONS` and
:data:`DERIVATIVES`:

=============  =================================  ==============================
name           :math:`\sigma(z)`                  :math:`\sigma'(z)`
=============  =================================  ==============================
``tanh``       :math:`\tanh z`                    :math:`1 - \tanh^2 z`
``relu``       :math:`\max(z, 0)`                 :math:`1[z > 0]`
``leaky_relu`` :math:`z` if :math:`z>0` else      :math:`1` if :math:`z>0` else
               :math:`\alpha z`, α = 0.01         :math:`\alpha`
``softplus``   :math:`\log(1 + e^z)`              :math:`1 / (1 + e^{-z})`
``identity``   :math:`z`                          :math:`1`
=============  =================================  ==============================

All arrays are float64.  Randomness always comes from an explicit ``seed``
(int, ``None`` or :class:`numpy.random.Generator`); there is no global seeding.
"""

from __future__ import annotations

import numpy as np

from .._io import load_npz_checked, save_npz_checked

__all__ = [
    "ACTIVATIONS",
    "DERIVATIVES",
    "LEAKY_RELU_SLOPE",
    "dense_forward",
    "dense_backward",
    "logsumexp",
    "softmax",
    "log_softmax",
    "softmax_vjp",
    "log_softmax_vjp",
    "squared_error",
    "softmax_cross_entropy",
    "numerical_gradient",
    "flatten_arrays",
    "unflatten_array",
    "clip_grad_norm",
    "MLP",
    "SGD",
    "Adam",
    "save_npz_checked",
    "load_npz_checked",
]

LEAKY_RELU_SLOPE = 0.01

# ---------------------------------------------------------------------------
# Activations: forward and derivative side by side.
# ---------------------------------------------------------------------------


def _tanh(z):
    return np.tanh(z)


def _tanh_deriv(z, activation=None):
    # 1 - tanh(z)^2; the forward pass's tanh(z) is reused when given (same bits)
    t = np.tanh(z) if activation is None else activation
    return 1.0 - t * t


def _relu(z):
    return np.maximum(z, 0.0)


def _relu_deriv(z, activation=None):
    return (z > 0).astype(np.float64)


def _leaky_relu(z):
    return np.where(z > 0, z, LEAKY_RELU_SLOPE * z)


def _leaky_relu_deriv(z, activation=None):
    return np.where(z > 0, 1.0, LEAKY_RELU_SLOPE)


def _softplus(z):
    # log(1 + exp(z)) without overflow.
    return np.logaddexp(0.0, z)


def _softplus_deriv(z, activation=None):
    # sigmoid(z), written with tanh so it never overflows.
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _identity(z):
    return np.array(z, dtype=np.float64, copy=True)


def _identity_deriv(z, activation=None):
    return np.ones_like(z, dtype=np.float64)


#: Forward activation functions, keyed by name; see :data:`DERIVATIVES`.
ACTIVATIONS = {
    "tanh": _tanh,
    "relu": _relu,
    "leaky_relu": _leaky_relu,
    "softplus": _softplus,
    "identity": _identity,
}

#: Derivatives :math:`\sigma'(z)` of :data:`ACTIVATIONS`, as functions
#: ``derivative(z, activation=None)`` of the pre-activation ``z`` (and, optionally,
#: of :math:`\sigma(z)` already computed, which tanh reuses), keyed by the same names.
DERIVATIVES = {
    "tanh": _tanh_deriv,
    "relu": _relu_deriv,
    "leaky_relu": _leaky_relu_deriv,
    "softplus": _softplus_deriv,
    "identity": _identity_deriv,
}


def _check_activation(name, what="activation"):
    if name not in ACTIVATIONS:
        raise ValueError(
            f"unknown {what} {name!r}; choose one of {sorted(ACTIVATIONS)}"
        )
    return name


# ---------------------------------------------------------------------------
# Dense layer.
# ---------------------------------------------------------------------------


def dense_forward(x, W, b):
    """Affine map ``z = x @ W + b`` of a batch of rows.

    Parameters
    ----------
    x : ndarray, shape (N, n_in)
    W : ndarray, shape (n_in, n_out)
    b : ndarray, shape (n_out,)

    Returns
    -------
    z : ndarray, shape (N, n_out)
    """
    return x @ W + b


def dense_backward(x, W, grad_z):
    """Backward pass of :func:`dense_forward`.

    Parameters
    ----------
    x : ndarray, shape (N, n_in)
        Input of the forward pass.
    W : ndarray, shape (n_in, n_out)
    grad_z : ndarray, shape (N, n_out)
        Gradient of the loss with respect to ``z``.

    Returns
    -------
    grad_W : ndarray, shape (n_in, n_out)
        ``x.T @ grad_z``.
    grad_b : ndarray, shape (n_out,)
        ``grad_z.sum(0)``.
    grad_x : ndarray, shape (N, n_in)
        ``grad_z @ W.T``.
    """
    return x.T @ grad_z, grad_z.sum(axis=0), grad_z @ W.T


# ---------------------------------------------------------------------------
# Softmax family (stable).
# ---------------------------------------------------------------------------


def logsumexp(x, *, axis=-1, keepdims=False):
    r"""Stable :math:`\log\sum_i e^{x_i}` along ``axis``.

    The maximum is subtracted first, so large inputs do not overflow;
    a slice that is all ``-inf`` gives ``-inf``.

    Examples
    --------
    >>> float(logsumexp(np.array([1000.0, 1000.0])))  # doctest: +ELLIPSIS
    1000.693147...
    """
    x = np.asarray(x, dtype=np.float64)
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):
        out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    if not keepdims:
        out = np.squeeze(out, axis=axis)
    return out


def log_softmax(x, *, axis=-1):
    r"""Stable :math:`x_i - \log\sum_j e^{x_j}` along ``axis``."""
    x = np.asarray(x, dtype=np.float64)
    return x - logsumexp(x, axis=axis, keepdims=True)


def softmax(x, *, axis=-1):
    r"""Stable :math:`e^{x_i} / \sum_j e^{x_j}` along ``axis``.

    Examples
    --------
    >>> softmax(np.array([0.0, np.log(3.0)]))
    array([0.25, 0.75])
    """
    return np.exp(log_softmax(x, axis=axis))


def softmax_vjp(p, grad_p, *, axis=-1):
    r"""Vector-Jacobian product of :func:`softmax`.

    With :math:`p = \mathrm{softmax}(x)`:
    :math:`\bar x = p \odot (\bar p - \langle \bar p, p\rangle)`.

    Parameters
    ----------
    p : ndarray
        The softmax output.
    grad_p : ndarray, same shape as ``p``
        Gradient of the loss with respect to ``p``.
    """
    return p * (grad_p - np.sum(grad_p * p, axis=axis, keepdims=True))


def log_softmax_vjp(logp, grad_logp, *, axis=-1):
    r"""Vector-Jacobian product of :func:`log_softmax`.

    With :math:`\ell = \mathrm{log\_softmax}(x)`:
    :math:`\bar x = \bar\ell - e^{\ell}\sum_j \bar\ell_j`.

    Parameters
    ----------
    logp : ndarray
        The log-softmax output.
    grad_logp : ndarray, same shape as ``logp``
        Gradient of the loss with respect to ``logp``.
    """
    return grad_logp - np.exp(logp) * np.sum(grad_logp, axis=axis, keepdims=True)


# ---------------------------------------------------------------------------
# Losses: each returns (value, gradient with respect to the prediction).
# ---------------------------------------------------------------------------


def squared_error(pred, target):
    r"""Half sum of squared errors and its gradient.

    .. math:: L = \tfrac12 \sum_i (\hat y_i - y_i)^2, \qquad
              \partial L / \partial \hat y = \hat y - y .

    Returns
    -------
    loss : float
    grad_pred : ndarray, same shape as ``pred``
    """
    diff = np.asarray(pred, dtype=np.float64) - np.asarray(target, dtype=np.float64)
    return 0.5 * float(np.sum(diff * diff)), diff


def softmax_cross_entropy(logits, target, *, weights=None):
    r"""Cross-entropy of softmax(logits) against labels or soft targets.

    .. math:: L = -\sum_n w_n \sum_k y_{nk} \log\mathrm{softmax}(z_n)_k,
              \qquad \partial L / \partial z_n
              = w_n\,(\mathrm{softmax}(z_n) \textstyle\sum_k y_{nk} - y_n).

    Parameters
    ----------
    logits : ndarray, shape (N, K)
    target : ndarray, shape (N,) of int or shape (N, K) of float
        Integer class labels in ``[0, K)`` or target probabilities.
    weights : ndarray, shape (N,), optional
        Per-row weights (default 1).

    Returns
    -------
    loss : float
    grad_logits : ndarray, shape (N, K)
    """
    logits = np.asarray(logits, dtype=np.float64)
    if logits.ndim != 2:
        raise ValueError(f"logits must have shape (N, K), got {logits.shape}")
    n, k = logits.shape
    target = np.asarray(target)
    if target.ndim == 1:
        if not np.issubdtype(target.dtype, np.integer):
            raise ValueError("integer labels expected for 1-D target")
        if target.shape[0] != n or np.any(target < 0) or np.any(target >= k):
            raise ValueError(f"labels must have shape ({n},) with values in [0, {k})")
        y = np.zeros((n, k))
        y[np.arange(n), target] = 1.0
    else:
        y = np.asarray(target, dtype=np.float64)
        if y.shape != (n, k):
            raise ValueError(f"target must have shape {(n, k)}, got {y.shape}")
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (n,):
        raise ValueError(f"weights must have shape ({n},), got {w.shape}")
    logp = log_softmax(logits)
    loss = -float(np.sum(w[:, None] * y * logp))
    grad = w[:, None] * (np.exp(logp) * y.sum(axis=1, keepdims=True) - y)
    return loss, grad


# ---------------------------------------------------------------------------
# Finite differences (used by the tests of every backward pass).
# ---------------------------------------------------------------------------


def numerical_gradient(fun, x, *, eps=1e-6):
    r"""Central finite-difference gradient of a scalar function.

    .. math:: g_i = \frac{f(x + \varepsilon e_i) - f(x - \varepsilon e_i)}
              {2\varepsilon}

    Parameters
    ----------
    fun : callable
        ``fun(x) -> float`` for ``x`` of the shape below.
    x : ndarray
        Point of evaluation (not modified).
    eps : float, optional
        Step size.

    Returns
    -------
    grad : ndarray, same shape as ``x``

    Examples
    --------
    >>> g = numerical_gradient(lambda v: float(np.sum(v ** 2)), np.array([1.0, -2.0]))
    >>> np.round(g, 6)
    array([ 2., -4.])
    """
    x = np.array(x, dtype=np.float64, copy=True)
    grad = np.empty_like(x)
    flat = x.reshape(-1)
    gflat = grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        f_plus = fun(x)
        flat[i] = old - eps
        f_minus = fun(x)
        flat[i] = old
        gflat[i] = (f_plus - f_minus) / (2.0 * eps)
    return grad


# ---------------------------------------------------------------------------
# Flat parameter vectors and gradient clipping.
# ---------------------------------------------------------------------------


def flatten_arrays(arrays):
    """Concatenate a list of arrays into one float64 vector (C order)."""
    if len(arrays) == 0:
        return np.zeros(0)
    return np.concatenate([np.asarray(a, dtype=np.float64).reshape(-1) for a in arrays])


def unflatten_array(vector, shapes):
    """Split a flat vector into a list of arrays of the given shapes.

    Raises
    ------
    ValueError
        If the vector is not 1-D of the right length or is not finite.
    """
    vector = np.asarray(vector, dtype=np.float64)
    sizes = [int(np.prod(s)) for s in shapes]
    if vector.ndim != 1 or vector.size != sum(sizes):
        raise ValueError(
            f"flat parameter vector must have shape ({sum(sizes)},), "
            f"got {vector.shape}"
        )
    if not np.all(np.isfinite(vector)):
        raise ValueError("flat parameter vector contains non-finite values")
    out, start = [], 0
    for shape, size in zip(shapes, sizes):
        out.append(vector[start:start + size].reshape(shape).copy())
        start += size
    return out


def _as_list(params):
    if isinstance(params, np.ndarray):
        return [params], True
    return list(params), False


def clip_grad_norm(grads, max_norm):
    r"""Rescale gradients so that their global L2 norm is at most ``max_norm``.

    .. math:: g \leftarrow g \cdot \min\left(1, \frac{c}{\|g\|_2}\right),
              \qquad \|g\|_2^2 = \sum_{\text{arrays}} \sum_i g_i^2 .

    Parameters
    ----------
    grads : ndarray or list of ndarray
    max_norm : float
        The bound ``c > 0``.

    Returns
    -------
    clipped : same type as ``grads`` (new arrays)
    norm : float
        The global norm before clipping.
    """
    if not max_norm > 0:
        raise ValueError(f"max_norm must be positive, got {max_norm}")
    glist, single = _as_list(grads)
    norm = float(np.sqrt(sum(float(np.sum(np.square(g))) for g in glist)))
    scale = min(1.0, max_norm / norm) if norm > 0 else 1.0
    clipped = [np.asarray(g, dtype=np.float64) * scale for g in glist]
    return (clipped[0] if single else clipped), norm


# ---------------------------------------------------------------------------
# MLP.
# ---------------------------------------------------------------------------


class MLP:
    r"""Multilayer perceptron with a hand-written backward pass.

    Parameters
    ----------
    layer_sizes : sequence of int
        ``(n_in, h_1, ..., h_L, n_out)``; at least two entries.
    activation : str, optional
        Hidden activation, a key of :data:`ACTIVATIONS` (default ``"tanh"``).
    output_activation : str, optional
        Activation of the last layer (default ``"identity"``).
    seed : int, None or numpy.random.Generator, optional
        Source of the initial weights.

    Attributes
    ----------
    params : list of ndarray
        ``[W_0, b_0, W_1, b_1, ...]`` with ``W_l`` of shape
        ``(layer_sizes[l], layer_sizes[l + 1])`` and ``b_l`` of shape
        ``(layer_sizes[l + 1],)``.
    n_params : int
        Total number of scalars in ``params``.

    Notes
    -----
    Forward pass, for layers :math:`l = 0..L`:

    .. math:: h_0 = x,\quad z_{l} = h_l W_l + b_l,\quad
              h_{l+1} = \sigma_l(z_l),

    with :math:`\sigma_l` the hidden activation except for the last layer.
    The backward pass applies :func:`dense_backward` layer by layer with
    :math:`\bar z_l = \bar h_{l+1} \odot \sigma_l'(z_l)`.
    Weights are initialised from :math:`\mathcal N(0, 2/(n_{in} + n_{out}))`
    (Glorot) for ``tanh``/``softplus``/``identity`` and
    :math:`\mathcal N(0, 2/n_{in})` (He) for the ReLU family; biases start
    at 0.

    Inputs may have any number of leading batch axes: ``x`` of shape
    ``(..., n_in)`` gives ``out`` of shape ``(..., n_out)``.

    Examples
    --------
    >>> net = MLP([3, 5, 2], activation="tanh", seed=0)
    >>> out, cache = net.forward(np.ones((4, 3)))
    >>> out.shape
    (4, 2)
    >>> grads, grad_x = net.backward(cache, np.ones_like(out))
    >>> [g.shape for g in grads]
    [(3, 5), (5,), (5, 2), (2,)]
    >>> net.n_params, net.get_flat().shape
    (32, (32,))
    """

    def __init__(self, layer_sizes, *, activation="tanh",
                 output_activation="identity", seed=None):
        sizes = [int(n) for n in layer_sizes]
        if len(sizes) < 2 or any(n < 1 for n in sizes):
            raise ValueError(
                f"layer_sizes must hold at least two positive ints, got {list(layer_sizes)}"
            )
        self.layer_sizes = tuple(sizes)
        self.activation = _check_activation(activation)
        self.output_activation = _check_activation(output_activation, "output_activation")
        rng = np.random.default_rng(seed)
        self.params = []
        for l, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            act = self.output_activation if l == len(sizes) - 2 else self.activation
            if act in ("relu", "leaky_relu"):
                scale = np.sqrt(2.0 / n_in)
            else:
                scale = np.sqrt(2.0 / (n_in + n_out))
            self.params.append(rng.normal(0.0, scale, size=(n_in, n_out)))
            self.params.append(np.zeros(n_out))

    # -- shapes and flat vectors -------------------------------------------

    @property
    def n_layers(self):
        """Number of dense layers."""
        return len(self.layer_sizes) - 1

    @property
    def shapes(self):
        """Shapes of ``params``, in order."""
        return [p.shape for p in self.params]

    @property
    def n_params(self):
        """Total number of parameters."""
        return int(sum(p.size for p in self.params))

    def get_flat(self):
        """Return a copy of all parameters as one float64 vector."""
        return flatten_arrays(self.params)

    def set_flat(self, vector):
        """Set all parameters from a vector of length ``n_params``."""
        self.params = unflatten_array(vector, self.shapes)

    def _activation_of(self, layer):
        return self.output_activation if layer == self.n_layers - 1 else self.activation

    # -- forward / backward ------------------------------------------------

    def forward(self, x):
        """Evaluate the network.

        Parameters
        ----------
        x : ndarray, shape (..., n_in)

        Returns
        -------
        out : ndarray, shape (..., n_out)
        cache : dict
            What :meth:`backward` needs (inputs and pre-activations).

        Raises
        ------
        ValueError
            If the last axis is not ``n_in`` or ``x`` is not finite.
        """
        x = np.asarray(x, dtype=np.float64)
        if x.ndim < 1 or x.shape[-1] != self.layer_sizes[0]:
            raise ValueError(
                f"MLP input must have shape (..., {self.layer_sizes[0]}), got {x.shape}"
            )
        if not np.all(np.isfinite(x)):
            raise ValueError("MLP input contains non-finite values (NaN or inf)")
        lead = x.shape[:-1]
        h = x.reshape(-1, self.layer_sizes[0])
        inputs, preacts = [], []
        for l in range(self.n_layers):
            W, b = self.params[2 * l], self.params[2 * l + 1]
            z = dense_forward(h, W, b)
            inputs.append(h)
            preacts.append(z)
            h = ACTIVATIONS[self._activation_of(l)](z)
        cache = {"lead_shape": lead, "inputs": inputs, "preacts": preacts}
        return h.reshape(lead + (self.layer_sizes[-1],)), cache

    def __call__(self, x):
        """Shorthand for ``forward(x)[0]``."""
        return self.forward(x)[0]

    def backward(self, cache, grad_out):
        """Backpropagate a gradient through the network.

        Parameters
        ----------
        cache : dict
            From :meth:`forward`.
        grad_out : ndarray, shape (..., n_out)
            Gradient of a scalar loss with respect to ``out``.

        Returns
        -------
        param_grads : list of ndarray
            Gradients with the shapes of ``params``.
        grad_input : ndarray, shape (..., n_in)
            Gradient with respect to ``x``.
        """
        lead = cache["lead_shape"]
        grad_out = np.asarray(grad_out, dtype=np.float64)
        if grad_out.shape != lead + (self.layer_sizes[-1],):
            raise ValueError(
                f"grad_out must have shape {lead + (self.layer_sizes[-1],)}, "
                f"got {grad_out.shape}"
            )
        g = grad_out.reshape(-1, self.layer_sizes[-1])
        grads = [None] * len(self.params)
        for l in reversed(range(self.n_layers)):
            z = cache["preacts"][l]
            # a hidden layer's activation is the next layer's input (reused, not
            # recomputed); the output is the caller's and is not trusted
            activation = cache["inputs"][l + 1] if l + 1 < self.n_layers else None
            g_z = g * DERIVATIVES[self._activation_of(l)](z, activation)
            gW, gb, g = dense_backward(cache["inputs"][l], self.params[2 * l], g_z)
            grads[2 * l], grads[2 * l + 1] = gW, gb
        return grads, g.reshape(lead + (self.layer_sizes[0],))

    # -- files ---------------------------------------------------------------

    def _named_params(self, prefix=""):
        named = {}
        for l in range(self.n_layers):
            named[f"{prefix}W{l}"] = self.params[2 * l]
            named[f"{prefix}b{l}"] = self.params[2 * l + 1]
        return named

    def _schema(self, prefix=""):
        return {name: p.shape for name, p in self._named_params(prefix).items()}

    def _meta(self):
        return {
            "__format__": "tabmfirl.MLP",
            "__activation__": self.activation,
            "__output_activation__": self.output_activation,
            "__layer_sizes__": ",".join(str(n) for n in self.layer_sizes),
        }

    def save(self, path):
        """Save the parameters to ``path`` (``.npz``, no pickle)."""
        arrays = {k: np.array(v) for k, v in self._meta().items()}
        arrays.update(self._named_params())
        save_npz_checked(path, arrays)

    def load(self, path):
        """Load parameters saved by :meth:`save` into this network.

        Raises
        ------
        ValueError
            If the file is unreadable or its architecture, names or shapes
            differ from this network's.
        """
        schema = dict(self._meta())
        schema.update(self._schema())
        arrays = load_npz_checked(path, schema)
        self.params = [arrays[name] for name in self._named_params()]
        return self


# ---------------------------------------------------------------------------
# Optimisers.
# ---------------------------------------------------------------------------


class _Optimizer:
    def __init__(self, lr, clip_norm):
        if not lr > 0:
            raise ValueError(f"lr must be positive, got {lr}")
        if clip_norm is not None and not clip_norm > 0:
            raise ValueError(f"clip_norm must be positive or None, got {clip_norm}")
        self.lr = float(lr)
        self.clip_norm = clip_norm
        self.n_steps = 0
        self._shapes = None
        self.last_grad_norm = None

    def _prepare(self, params, grads):
        plist, single = _as_list(params)
        glist, _ = _as_list(grads)
        if len(plist) != len(glist):
            raise ValueError(f"got {len(plist)} parameter arrays but {len(glist)} gradients")
        shapes = [np.shape(p) for p in plist]
        for p, g in zip(plist, glist):
            if np.shape(p) != np.shape(g):
                raise ValueError(
                    f"gradient of shape {np.shape(g)} for parameter of shape {np.shape(p)}"
                )
            if not isinstance(p, np.ndarray) or p.dtype != np.float64:
                raise ValueError("parameters must be float64 ndarrays (updated in place)")
        if self._shapes is None:
            self._shapes = shapes
            self._init_state(shapes)
        elif shapes != self._shapes:
            raise ValueError(
                f"parameter shapes changed from {self._shapes} to {shapes}; "
                "use a new optimiser"
            )
        glist = [np.asarray(g, dtype=np.float64) for g in glist]
        if not all(np.all(np.isfinite(g)) for g in glist):
            raise ValueError("gradient contains non-finite values")
        if self.clip_norm is not None:
            glist, self.last_grad_norm = clip_grad_norm(glist, self.clip_norm)
        else:
            self.last_grad_norm = float(np.sqrt(sum(np.sum(g * g) for g in glist)))
        return plist, glist, single

    def _init_state(self, shapes):
        pass

    def step(self, params, grads):
        """Take one descent step, updating ``params`` in place.

        Parameters
        ----------
        params : ndarray or list of ndarray
            float64 arrays (a flat vector from ``get_flat()`` or a list such
            as ``MLP.params``).
        grads : same structure as ``params``
            Gradients of the loss to *minimise*.

        Returns
        -------
        params : the same object, updated.
        """
        plist, glist, single = self._prepare(params, grads)
        self.n_steps += 1
        for i, (p, g) in enumerate(zip(plist, glist)):
            p -= self._update(i, g)
        return params

    def reset(self):
        """Forget the optimiser state (moments, step count)."""
        self.n_steps = 0
        self._shapes = None

    #: Names of the moment lists (one array per parameter array).
    _MOMENTS = ()

    def state_arrays(self) -> dict:
        """The state on one flat parameter vector, as arrays (for checkpoints).

        Returns
        -------
        dict of str to ndarray
            ``opt_n_steps`` and, after the first step, the moment vectors
            (``opt_m`` and ``opt_v`` for Adam, ``opt_velocity`` for SGD).

        Raises
        ------
        ValueError
            If the optimiser updates more than one parameter array.
        """
        state = {"opt_n_steps": np.array(int(self.n_steps), dtype=np.int64)}
        if self.n_steps > 0:
            for name in self._MOMENTS:
                moments = getattr(self, name)
                if len(moments) != 1:
                    raise ValueError("only single-vector optimiser states are supported")
                state["opt" + name] = np.array(moments[0])
        return state

    def load_state_arrays(self, state: dict):
        """Restore :meth:`state_arrays`'s output (in place).

        Parameters
        ----------
        state : dict of str to ndarray
        """
        n_steps = int(state["opt_n_steps"])
        self.reset()
        if n_steps == 0:
            return
        moments = {name: np.array(state["opt" + name], dtype=np.float64)
                   for name in self._MOMENTS}
        self._shapes = [next(iter(moments.values())).shape]
        for name, value in moments.items():
            setattr(self, name, [value])
        self.n_steps = n_steps


class SGD(_Optimizer):
    r"""Stochastic gradient descent with optional heavy-ball momentum.

    Parameters
    ----------
    lr : float
        Learning rate :math:`\eta`.
    momentum : float, optional
        :math:`\rho \in [0, 1)` (default 0).
    clip_norm : float, optional
        Clip the global gradient norm to this value first (default: no
        clipping).

    Notes
    -----
    .. math:: v_k = \rho v_{k-1} + g_k, \qquad \theta_k = \theta_{k-1} - \eta v_k,

    with :math:`v_0 = 0` (plain SGD when :math:`\rho = 0`).

    Examples
    --------
    >>> theta = np.array([1.0, 2.0])
    >>> SGD(lr=0.1).step(theta, np.array([0.5, -1.0]))
    array([0.95, 2.1 ])
    """

    def __init__(self, lr=1e-2, *, momentum=0.0, clip_norm=None):
        super().__init__(lr, clip_norm)
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        self.momentum = float(momentum)

    _MOMENTS = ("_velocity",)

    def _init_state(self, shapes):
        self._velocity = [np.zeros(s) for s in shapes]

    def _update(self, i, g):
        v = self._velocity[i]
        v *= self.momentum
        v += g
        return self.lr * v


class Adam(_Optimizer):
    r"""Adam (Kingma & Ba, 2015, Algorithm 1).

    Parameters
    ----------
    lr : float, optional
        Step size :math:`\alpha` (default 1e-3).
    beta1, beta2 : float, optional
        Moment decay rates (default 0.9, 0.999).
    eps : float, optional
        :math:`\epsilon` (default 1e-8).
    clip_norm : float, optional
        Clip the global gradient norm to this value first.

    Notes
    -----
    .. math::

        m_k = \beta_1 m_{k-1} + (1-\beta_1) g_k,\quad
        v_k = \beta_2 v_{k-1} + (1-\beta_2) g_k^2,

        \hat m_k = m_k / (1-\beta_1^k),\quad \hat v_k = v_k / (1-\beta_2^k),\quad
        \theta_k = \theta_{k-1} - \alpha\,\hat m_k / (\sqrt{\hat v_k} + \epsilon).

    Examples
    --------
    >>> theta = np.zeros(2)
    >>> np.round(Adam(lr=0.1).step(theta, np.array([3.0, -0.5])), 6)
    array([-0.1,  0.1])
    """

    def __init__(self, lr=1e-3, *, beta1=0.9, beta2=0.999, eps=1e-8, clip_norm=None):
        super().__init__(lr, clip_norm)
        for name, b in (("beta1", beta1), ("beta2", beta2)):
            if not 0.0 <= b < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {b}")
        if not eps > 0:
            raise ValueError(f"eps must be positive, got {eps}")
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)

    _MOMENTS = ("_m", "_v")

    def _init_state(self, shapes):
        self._m = [np.zeros(s) for s in shapes]
        self._v = [np.zeros(s) for s in shapes]

    def _update(self, i, g):
        k = self.n_steps
        m, v = self._m[i], self._v[i]
        m *= self.beta1
        m += (1.0 - self.beta1) * g
        v *= self.beta2
        v += (1.0 - self.beta2) * g * g
        m_hat = m / (1.0 - self.beta1 ** k)
        v_hat = v / (1.0 - self.beta2 ** k)
        return self.lr * m_hat / (np.sqrt(v_hat) + self.eps)
