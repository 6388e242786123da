r"""Learnable heads of PEMMFIRL: reward, shaping potential, context encoder.

All three are small NumPy models with hand-written vector-Jacobian products
(VJPs), built on :mod:`tabmfirl.irl._nn`.  Every backward pass is checked against
central finite differences in ``tests/test_heads.py``; ``docs/heads.md``
describes the heads and the checks in prose.

Notation
--------
``n_states`` :math:`S`, ``n_actions`` :math:`A`, ``horizon`` :math:`T`.
Index conventions: ``r[t, s, a]``, ``mean_field[t, s]`` (or
``mean_field[t, s * n_actions + a]`` for the joint state-action
distribution), all float64 and C-contiguous.

*Mean field.*  The reward reads a vector :math:`\mu_t \in \mathbb R^D` per
step, with ``mean_field_dim`` :math:`D = S` (state distribution
:math:`\mu_t(s)`) or :math:`D = SA` (flattened joint distribution
:math:`L_t(s, a) = \mu_t(s)\pi_t(a|s)`, index ``s * n_actions + a``).
A ``mean_field`` argument has shape ``(T, D)``: row ``t`` is the mean field
that the reward at step ``t`` reads (pass ``flow[:T]`` for a flow with
``T + 1`` rows).  In a game whose rewards read every type's flow
(``observation="all_types"``) the vector is the stack of the :math:`K` types'
distributions, :math:`D = K S` or :math:`K S A`, entry ``m * D_1 + i`` being
entry ``i`` of type ``m``'s: nothing else changes (the heads are linear or an
MLP in the vector, whatever its length).

*Context (agent type).*  Either discrete, :math:`m \in \{0..K-1\}` with
``n_contexts`` :math:`K`, or a continuous latent :math:`z \in \mathbb R^d`
with ``latent_dim`` :math:`d`.  Linear and tabular heads use the *context
embedding*

.. math::

    c(m) = e_m \in \mathbb R^K \quad\text{(discrete)}, \qquad
    c(z) = (1, z_1, \dots, z_d) \in \mathbb R^{d+1} \quad\text{(latent)},

so that a discrete head has one independent block of weights per type and
a latent head is affine in :math:`z`.  MLP heads read :math:`e_m` or
:math:`z` as plain inputs.

*Gradients.*  For a table :math:`y(\theta)` (e.g. ``r[t, s, a]``) and an
upstream gradient :math:`G` of the same shape, a ``*_vjp`` method returns
:math:`\nabla_\theta \sum G \odot y` as one flat vector ordered like
``get_flat()``, and for a latent context also :math:`\nabla_z \sum G\odot y`.
"""

from __future__ import annotations

import numpy as np

from .._io import load_npz_checked, save_npz_checked
from ._nn import MLP, flatten_arrays, log_softmax, softmax, unflatten_array

__all__ = ["RewardHead", "ShapingHead", "ContextEncoder"]

_LOG_2PI = float(np.log(2.0 * np.pi))


# ---------------------------------------------------------------------------
# Validation helpers.
# ---------------------------------------------------------------------------


def _positive_int(name, value):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def _context_spec(n_contexts, latent_dim):
    if (n_contexts is None) == (latent_dim is None):
        raise ValueError("give exactly one of n_contexts (discrete types) "
                         "or latent_dim (continuous latent)")
    if n_contexts is not None:
        return _positive_int("n_contexts", n_contexts), None
    return None, _positive_int("latent_dim", latent_dim)


def _hidden(hidden_sizes):
    sizes = tuple(int(h) for h in hidden_sizes)
    if any(h < 1 for h in sizes):
        raise ValueError(f"hidden_sizes must be positive ints, got {hidden_sizes!r}")
    return sizes


def _finite_float_array(name, x):
    try:
        x = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a float array: {exc}") from exc
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} contains non-finite values (NaN or inf)")
    return np.ascontiguousarray(x)


def _int_array(name, x, low, high, shape=None):
    x = np.asarray(x)
    if x.dtype == np.bool_ or not np.issubdtype(x.dtype, np.integer):
        raise ValueError(f"{name} must be an integer array, got dtype {x.dtype}")
    if shape is not None and x.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {x.shape}")
    if x.size and (x.min() < low or x.max() >= high):
        raise ValueError(
            f"{name} out of range: values must lie in [{low}, {high}), "
            f"got min {x.min()}, max {x.max()}"
        )
    return x.astype(np.int64)


class _ContextMixin:
    """Context validation and embeddings shared by the heads."""

    n_contexts: int | None
    latent_dim: int | None

    @property
    def discrete(self):
        """True for discrete types, False for a continuous latent."""
        return self.n_contexts is not None

    @property
    def context_dim(self):
        """Length of the context input of an MLP head (``K`` or ``d``)."""
        return self.n_contexts if self.discrete else self.latent_dim

    @property
    def embedding_dim(self):
        """Length of the linear context embedding ``c`` (``K`` or ``d + 1``)."""
        return self.n_contexts if self.discrete else self.latent_dim + 1

    def _contexts(self, contexts, n_batch=None):
        """Validate a batch of contexts.

        Returns ints of shape (B,) (discrete) or floats (B, d) (latent).
        ``None`` means all K types (discrete only).
        """
        if self.discrete:
            if contexts is None:
                contexts = np.arange(self.n_contexts)
            contexts = np.asarray(contexts)
            if contexts.ndim != 1:
                raise ValueError(f"contexts must be a 1-D int array, got shape {contexts.shape}")
            contexts = _int_array("context", contexts, 0, self.n_contexts)
        else:
            if contexts is None:
                raise ValueError("a latent context z of shape (latent_dim,) is required")
            contexts = _finite_float_array("latent context", contexts)
            if contexts.ndim != 2 or contexts.shape[1] != self.latent_dim:
                raise ValueError(
                    f"latent contexts must have shape (B, {self.latent_dim}), "
                    f"got {contexts.shape}"
                )
        if n_batch is not None and contexts.shape[0] != n_batch:
            raise ValueError(
                f"got {contexts.shape[0]} contexts for a batch of {n_batch}"
            )
        return contexts

    def _single_context(self, context):
        """Validate one context; return it as a batch of one."""
        if self.discrete:
            if isinstance(context, (bool, np.bool_)) or not isinstance(
                    context, (int, np.integer)):
                raise ValueError(f"context must be an int in [0, {self.n_contexts}), "
                                 f"got {context!r}")
            if not 0 <= context < self.n_contexts:
                raise ValueError(f"context {context} out of range [0, {self.n_contexts})")
            return np.array([int(context)])
        z = _finite_float_array("latent context", context)
        if z.shape != (self.latent_dim,):
            raise ValueError(
                f"latent context must have shape ({self.latent_dim},), got {z.shape}"
            )
        return z[None, :]

    def _embedding(self, contexts):
        """Linear context embedding c, shape (B, embedding_dim)."""
        if self.discrete:
            return np.eye(self.n_contexts)[contexts]
        return np.concatenate([np.ones((contexts.shape[0], 1)), contexts], axis=1)

    def _mlp_context_input(self, contexts):
        """Context input of an MLP head, shape (B, context_dim)."""
        if self.discrete:
            return np.eye(self.n_contexts)[contexts]
        return contexts


class _Module:
    """Flat parameter vectors and schema-checked files for a head.

    Subclasses define ``_named_arrays()`` (an ordered dict of the parameter
    arrays), ``_assign(arrays)`` and ``_meta()``.
    """

    @property
    def n_params(self):
        """Total number of parameters."""
        return int(sum(a.size for a in self._named_arrays().values()))

    def get_flat(self):
        """Return a copy of all parameters as one float64 vector."""
        return flatten_arrays(list(self._named_arrays().values()))

    def set_flat(self, vector):
        """Set all parameters from a vector of length ``n_params``."""
        shapes = [a.shape for a in self._named_arrays().values()]
        self._assign(unflatten_array(vector, shapes))

    def save(self, path):
        """Save parameters and configuration to ``path`` (``.npz``, no pickle)."""
        arrays = {k: np.array(v) for k, v in self._meta().items()}
        arrays.update(self._named_arrays())
        save_npz_checked(path, arrays)

    def load(self, path):
        """Load parameters saved by :meth:`save` of an identically built head.

        Raises
        ------
        ValueError
            If the file is unreadable or corrupted, or if its configuration,
            array names or shapes differ from this head's.
        """
        schema = dict(self._meta())
        schema.update({k: v.shape for k, v in self._named_arrays().items()})
        arrays = load_npz_checked(path, schema)
        self._assign([arrays[name] for name in self._named_arrays()])
        return self


# ---------------------------------------------------------------------------
# Reward head.
# ---------------------------------------------------------------------------


#: The kinds of :class:`RewardHead`.
REWARD_KINDS = ("linear", "additive", "state", "mlp")


class RewardHead(_ContextMixin, _Module):
    r"""Reward :math:`f_\omega(s, a, \mu, m)` of a type-dependent mean field game.

    Parameters
    ----------
    n_states, n_actions : int
        :math:`S`, :math:`A`.
    mean_field_dim : int
        :math:`D`: ``n_states`` (state distribution :math:`\mu_t(s)`) or
        ``n_states * n_actions`` (joint :math:`L_t(s, a)`, flattened with
        index ``s * n_actions + a``), or :math:`K` times either for a game
        whose rewards read every type's flow (``observation="all_types"``:
        the stack of the :math:`K` types' distributions, type-major).  Any
        positive multiple of ``n_states``.
    n_contexts : int, optional
        :math:`K` discrete types.  Give exactly one of ``n_contexts`` and
        ``latent_dim``.
    latent_dim : int, optional
        :math:`d`, dimension of a continuous latent type :math:`z`.
    kind : {"linear", "additive", "state", "mlp"}, optional
        Linear in a fixed feature map (default), the additive-types linear
        head (discrete types only), the state-only linear head (discrete
        types only), or an MLP.
    hidden_sizes : sequence of int, optional
        Hidden layers of the MLP (``kind="mlp"`` only; default (32, 32)).
    activation : str, optional
        Hidden activation of the MLP (default ``"tanh"``).
    seed : int, None or numpy.random.Generator, optional
        Initialisation of the MLP.  The linear head starts at zero weights.

    Notes
    -----
    **Linear** (``kind="linear"``).  With the context embedding
    :math:`c` (:math:`e_m` or :math:`(1, z)`) the feature map is

    .. math::

        \phi(s, a, \mu, m) = c \otimes e_{(s, a)} \otimes (1, \mu)
        \in \mathbb R^{C \cdot S A (1 + D)},

    i.e. a per-context one-hot :math:`(s, a)` block plus a per-context
    one-hot :math:`(s, a)` :math:`\otimes\,\mu` block.  The weights are
    ``bias`` :math:`b` of shape ``(C, S, A)`` and ``coef`` :math:`W` of shape
    ``(C, S, A, D)``, and

    .. math::

        r(s, a, \mu, m) = w\cdot\phi
        = \sum_j c_j \Big(b_{j s a} + \sum_{d} W_{j s a d}\,\mu_d\Big).

    For a discrete type this is :math:`b_{m s a} + W_{m s a}\cdot\mu`: any
    reward table that is affine in the mean field (every game in the design
    notes) is exactly representable, and the fitted *table* is identified
    by least squares.  The weights themselves have one gauge direction per
    :math:`(m, s, a)` when the mean field lies on the simplex
    (:math:`b \to b + \kappa`, :math:`W \to W - \kappa\mathbf 1` leaves
    :math:`r` unchanged), so compare tables, not weights.  For a latent
    :math:`z` the reward is affine in :math:`z` (and bilinear in
    :math:`(z, \mu)`).

    **Additive types** (``kind="additive"``, discrete types only).  The
    linear head with its per-type tables restricted to

    .. math::

        r(s, a, \mu, m) = \underbrace{\alpha_{m s} + \beta_{m s}\cdot\mu}_{
        \text{type's state utility}} + \underbrace{\gamma_{m a}}_{
        \text{type's action cost}} + \underbrace{\delta_{s a} +
        \varepsilon_{s a}\cdot\mu}_{\text{shared by all types}},

    i.e. ``bias`` :math:`b_{msa} = \alpha_{ms} + \gamma_{ma} + \delta_{sa}` and
    ``coef`` :math:`W_{msa} = \beta_{ms} + \varepsilon_{sa}`
    (:meth:`linear_parameters`), with arrays ``type_state`` :math:`\alpha`
    ``(K, S)``, ``type_state_coef`` :math:`\beta` ``(K, S, D)``,
    ``type_action`` :math:`\gamma` ``(K, A)``, ``shared_bias`` :math:`\delta`
    ``(S, A)`` and ``shared_coef`` :math:`\varepsilon` ``(S, A, D)``.  Types
    then differ in how much they value states and what each action costs
    them, not in an arbitrary table per state: a type's cost of an action
    is the same in every state.  Every three-type game of ``envs`` (costs of
    repair, investment, distancing) is in this span.  Why it exists: with
    the free per-state tables of ``"linear"``, a subset of agents who spend
    their time in states the rest of their type rarely visits can be
    assigned to another type's cluster at no cost in likelihood (the
    cluster's reward simply adapts in those states); tying each type's
    action costs across states removes that freedom (``docs/results.md``,
    investment).

    **State-only** (``kind="state"``, discrete types only).  The linear
    head with rewards that do not depend on the action,

    .. math::

        r(s, a, \mu, m) = b_{ms} + W_{ms}\cdot\mu,

    arrays ``state_bias`` :math:`b` ``(K, S)`` and ``state_coef`` :math:`W`
    ``(K, S, D)`` (``bias`` :math:`b_{msa} = b_{ms}`, ``coef``
    :math:`W_{msa} = W_{ms}`, :meth:`linear_parameters`).  AIRL's
    disentanglement result (Fu, Luo & Levine 2018) is about such rewards:
    with deterministic dynamics the adversarial fit recovers them up to a
    constant (:mod:`tabmfirl.irl._adversarial_exact`); the left-right game's
    rewards are of this form.

    **MLP** (``kind="mlp"``). :math:`r = g_\omega([e_s, e_a, \mu, e_m])`
    (or :math:`z` in place of :math:`e_m`), a scalar-output :class:`MLP`.

    **Gradients.**  :meth:`reward_table_vjp` returns
    :math:`\nabla_\omega \sum_{t,s,a} G_{tsa} r_{tsa}`; for the linear head
    this is :math:`\sum_{t,s,a} G_{tsa}\,\phi(s, a, \mu_t, m)`, so with
    :math:`G` the expert minus model occupancy it is the feature-count
    gradient of maximum causal entropy IRL.

    Examples
    --------
    >>> head = RewardHead(2, 2, 2, n_contexts=3)
    >>> head.n_params  # C * S * A * (1 + D) = 3 * 4 * 3
    36
    >>> mf = np.array([[0.5, 0.5], [1.0, 0.0]])  # (T=2, D=2)
    >>> head.reward_table(mf, 1).shape
    (2, 2, 2)
    >>> grad = head.reward_table_vjp(mf, 1, np.ones((2, 2, 2)))
    >>> grad.shape
    (36,)
    >>> # MLP over [e_s, e_a, mu, z]: (2+2+4+2)*8 + 8 + 8*1 + 1 = 97 parameters
    >>> lat = RewardHead(2, 2, 4, latent_dim=2, kind="mlp", hidden_sizes=(8,), seed=0)
    >>> g, g_z = lat.reward_table_vjp(np.full((3, 4), 0.25), np.zeros(2), np.ones((3, 2, 2)))
    >>> g.shape, g_z.shape
    ((97,), (2,))
    """

    def __init__(self, n_states, n_actions, mean_field_dim, *, n_contexts=None,
                 latent_dim=None, kind="linear", hidden_sizes=(32, 32),
                 activation="tanh", seed=None):
        self.n_states = _positive_int("n_states", n_states)
        self.n_actions = _positive_int("n_actions", n_actions)
        self.mean_field_dim = _positive_int("mean_field_dim", mean_field_dim)
        if self.mean_field_dim % self.n_states:
            raise ValueError(
                f"mean_field_dim must be n_states ({self.n_states}) or "
                f"n_states * n_actions ({self.n_states * self.n_actions}), or K times "
                f"either for a reward that reads every type's flow, got {self.mean_field_dim}"
            )
        self.n_contexts, self.latent_dim = _context_spec(n_contexts, latent_dim)
        if kind not in REWARD_KINDS:
            raise ValueError(f"kind must be 'linear', 'additive', 'state' or 'mlp', "
                             f"got {kind!r}")
        if kind in ("additive", "state") and not self.discrete:
            raise ValueError(f"kind={kind!r} needs discrete types (n_contexts), "
                             "not a latent_dim")
        self.kind = kind
        S, A, D = self.n_states, self.n_actions, self.mean_field_dim
        self.mlp = None
        if kind == "linear":
            self.bias = np.zeros((self.embedding_dim, S, A))
            self.coef = np.zeros((self.embedding_dim, S, A, D))
        elif kind == "additive":
            K = self.n_contexts
            self.type_state = np.zeros((K, S))
            self.type_state_coef = np.zeros((K, S, D))
            self.type_action = np.zeros((K, A))
            self.shared_bias = np.zeros((S, A))
            self.shared_coef = np.zeros((S, A, D))
        elif kind == "state":
            self.state_bias = np.zeros((self.n_contexts, S))
            self.state_coef = np.zeros((self.n_contexts, S, D))
        else:
            self.hidden_sizes = _hidden(hidden_sizes)
            n_in = S + A + D + self.context_dim
            self.mlp = MLP((n_in,) + self.hidden_sizes + (1,), activation=activation,
                           seed=seed)

    # -- parameters -----------------------------------------------------------

    _ADDITIVE = ("type_state", "type_state_coef", "type_action", "shared_bias", "shared_coef")
    _STATE = ("state_bias", "state_coef")

    def _named_arrays(self):
        if self.kind == "linear":
            return {"bias": self.bias, "coef": self.coef}
        if self.kind in ("additive", "state"):
            names = self._ADDITIVE if self.kind == "additive" else self._STATE
            return {name: getattr(self, name) for name in names}
        return self.mlp._named_params("mlp.")

    def _assign(self, arrays):
        if self.kind == "linear":
            self.bias, self.coef = arrays
        elif self.kind in ("additive", "state"):
            names = self._ADDITIVE if self.kind == "additive" else self._STATE
            for name, array in zip(names, arrays):
                setattr(self, name, array)
        else:
            self.mlp.params = list(arrays)

    def linear_parameters(self):
        r"""Per-context ``(bias, coef)`` of a linear, additive or state-only head.

        Returns
        -------
        bias : ndarray, shape (embedding_dim, S, A)
        coef : ndarray, shape (embedding_dim, S, A, D)
            :math:`r = \sum_j c_j (b_{jsa} + W_{jsa}\cdot\mu)` (class Notes).

        Raises
        ------
        ValueError
            For an MLP head.
        """
        if self.kind == "linear":
            return self.bias, self.coef
        if self.kind == "additive":
            bias = (self.type_state[:, :, None] + self.type_action[:, None, :]
                    + self.shared_bias[None])
            coef = self.type_state_coef[:, :, None, :] + self.shared_coef[None]
            return bias, coef
        if self.kind == "state":
            A = self.n_actions
            bias = np.repeat(self.state_bias[:, :, None], A, axis=2)
            coef = np.repeat(self.state_coef[:, :, None, :], A, axis=2)
            return bias, coef
        raise ValueError("an MLP head has no linear parameters")

    def decay_mask(self):
        """Which parameters weight decay shrinks: 1.0 entries, ordered like ``get_flat()``.

        The mean-field weights of a linear, additive or state-only head
        (``coef``; ``type_state_coef`` and ``shared_coef``; ``state_coef``): they are fitted on one noisy
        flow and extrapolate off it, while the biases (action costs, state
        utilities) are what the data pins down.  Every parameter of an MLP.

        Returns
        -------
        ndarray, shape (n_params,)
        """
        decayed = {"coef", "type_state_coef", "shared_coef", "state_coef"}
        if self.kind == "mlp":
            return np.ones(self.n_params)
        return flatten_arrays([np.full(a.shape, float(name in decayed))
                               for name, a in self._named_arrays().items()])

    def _meta(self):
        config = (f"kind={self.kind};n_states={self.n_states};n_actions={self.n_actions};"
                  f"mean_field_dim={self.mean_field_dim};n_contexts={self.n_contexts};"
                  f"latent_dim={self.latent_dim}")
        if self.kind == "mlp":
            config += f";activation={self.mlp.activation}"
        return {"__format__": "tabmfirl.RewardHead", "__config__": config}

    # -- validation -----------------------------------------------------------

    def _mean_fields(self, mean_field, n_batch=None):
        mf = _finite_float_array("mean_field", mean_field)
        if mf.ndim != 3 or mf.shape[2] != self.mean_field_dim or mf.shape[1] < 1:
            raise ValueError(
                f"mean_field must have shape (B, T, {self.mean_field_dim}) "
                f"(batched) or (T, {self.mean_field_dim}), got "
                f"{mf.shape if n_batch is None else mf.shape[1:]}"
            )
        if n_batch is not None and mf.shape[0] != n_batch:
            raise ValueError(f"mean_field has {mf.shape[0]} rows for {n_batch} contexts")
        return mf

    def _one_mean_field(self, mean_field):
        mf = _finite_float_array("mean_field", mean_field)
        if mf.ndim != 2 or mf.shape[1] != self.mean_field_dim or mf.shape[0] < 1:
            raise ValueError(
                f"mean_field must have shape (T, {self.mean_field_dim}), got {mf.shape}"
            )
        return mf[None]

    def _grad_tables(self, grad_tables, shape):
        g = _finite_float_array("grad_table", grad_tables)
        if g.shape != shape:
            raise ValueError(f"grad_table must have shape {shape}, got {g.shape}")
        return g

    # -- MLP inputs -------------------------------------------------------------

    def _mlp_inputs(self, mf, contexts):
        """Inputs x[b, t, s, a] = [e_s, e_a, mu_t, context], shape (B, T, S, A, n_in)."""
        B, T, D = mf.shape
        S, A = self.n_states, self.n_actions
        ctx = self._mlp_context_input(contexts)
        e_s = np.broadcast_to(np.eye(S)[None, None, :, None, :], (B, T, S, A, S))
        e_a = np.broadcast_to(np.eye(A)[None, None, None, :, :], (B, T, S, A, A))
        mu = np.broadcast_to(mf[:, :, None, None, :], (B, T, S, A, D))
        c = np.broadcast_to(ctx[:, None, None, None, :], (B, T, S, A, ctx.shape[1]))
        return np.concatenate([e_s, e_a, mu, c], axis=-1)

    # -- batched tables -----------------------------------------------------------

    def reward_tables(self, mean_field, *, contexts=None):
        """Reward tables of several contexts at once.

        Parameters
        ----------
        mean_field : ndarray, shape (B, T, mean_field_dim)
            ``mean_field[b, t]`` is read by context ``b`` at step ``t``.
        contexts : ndarray, optional
            Discrete: ints of shape (B,) in ``[0, n_contexts)``; ``None``
            (default) means all types ``0..K-1`` (then ``B = n_contexts``).
            Latent: floats of shape (B, latent_dim), required.

        Returns
        -------
        r : ndarray, shape (B, T, n_states, n_actions)
            ``r[b, t, s, a]``.
        """
        contexts = self._contexts(contexts)
        mf = self._mean_fields(mean_field, contexts.shape[0])
        return self._tables(mf, contexts)

    def _tables(self, mf, contexts):
        if self.kind != "mlp":
            bias, coef = self.linear_parameters()
            c = self._embedding(contexts)                               # (B, C)
            b = np.einsum("bj,jsa->bsa", c, bias)
            W = np.einsum("bj,jsad->bsad", c, coef)
            r = b[:, None] + np.einsum("bsad,btd->btsa", W, mf)
        else:
            r = self.mlp.forward(self._mlp_inputs(mf, contexts))[0][..., 0]
        return np.ascontiguousarray(r)

    def reward_tables_vjp(self, mean_field, grad_tables, *, contexts=None):
        """Vector-Jacobian product of :meth:`reward_tables`.

        Parameters
        ----------
        mean_field : ndarray, shape (B, T, mean_field_dim)
        grad_tables : ndarray, shape (B, T, n_states, n_actions)
            Upstream gradient :math:`G`.
        contexts : ndarray, optional
            As in :meth:`reward_tables`.

        Returns
        -------
        grad_params : ndarray, shape (n_params,)
            :math:`\\nabla_\\omega \\sum G \\odot r`, ordered like ``get_flat()``.
        grad_latent : ndarray, shape (B, latent_dim)
            Only for a latent context: :math:`\\nabla_z \\sum G\\odot r`.
        """
        contexts = self._contexts(contexts)
        mf = self._mean_fields(mean_field, contexts.shape[0])
        G = self._grad_tables(grad_tables, mf.shape[:2] + (self.n_states, self.n_actions))
        return self._vjp(mf, contexts, G)

    def _vjp(self, mf, contexts, G):
        if self.kind != "mlp":
            c = self._embedding(contexts)                               # (B, C)
            g_bias = np.einsum("bj,btsa->jsa", c, G)
            g_coef = np.einsum("bj,btsa,btd->jsad", c, G, mf)
            if self.kind == "additive":               # chain rule through linear_parameters
                return flatten_arrays([g_bias.sum(axis=2), g_coef.sum(axis=2),
                                       g_bias.sum(axis=1), g_bias.sum(axis=0),
                                       g_coef.sum(axis=0)])
            if self.kind == "state":                  # the same, bias and coef tied over a
                return flatten_arrays([g_bias.sum(axis=2), g_coef.sum(axis=2)])
            grad = flatten_arrays([g_bias, g_coef])
            if self.discrete:
                return grad
            # d r / d c_j = b_jsa + W_jsa . mu_t ; z = c[1:]
            g_c = (np.einsum("btsa,jsa->bj", G, self.bias)
                   + np.einsum("btsa,jsad,btd->bj", G, self.coef, mf))
            return grad, g_c[:, 1:]
        x = self._mlp_inputs(mf, contexts)
        _, cache = self.mlp.forward(x)
        grads, g_x = self.mlp.backward(cache, G[..., None])
        grad = flatten_arrays(grads)
        if self.discrete:
            return grad
        return grad, g_x[..., -self.latent_dim:].sum(axis=(1, 2, 3))

    # -- one context --------------------------------------------------------------

    def reward_table(self, mean_field, context):
        """Reward table of one context.

        Parameters
        ----------
        mean_field : ndarray, shape (T, mean_field_dim)
            Row ``t`` is the mean field read at step ``t``.
        context : int or ndarray of shape (latent_dim,)
            Type index in ``[0, n_contexts)`` or latent vector ``z``.

        Returns
        -------
        r : ndarray, shape (T, n_states, n_actions)

        Raises
        ------
        ValueError
            On a wrong shape, a non-finite input or a context out of range.
        """
        contexts = self._single_context(context)
        return self._tables(self._one_mean_field(mean_field), contexts)[0]

    def reward_table_vjp(self, mean_field, context, grad_table):
        """Vector-Jacobian product of :meth:`reward_table`.

        Parameters
        ----------
        mean_field : ndarray, shape (T, mean_field_dim)
        context : int or ndarray of shape (latent_dim,)
        grad_table : ndarray, shape (T, n_states, n_actions)
            Upstream gradient :math:`G`.

        Returns
        -------
        grad_params : ndarray, shape (n_params,)
            Gradient of :math:`\\sum_{t,s,a} G_{tsa} r_{tsa}` with respect to
            the parameters, ordered like ``get_flat()``.
        grad_latent : ndarray, shape (latent_dim,)
            Only for a latent context: the gradient with respect to ``z``.
        """
        contexts = self._single_context(context)
        mf = self._one_mean_field(mean_field)
        G = self._grad_tables(grad_table, mf.shape[1:2] + (self.n_states, self.n_actions))
        out = self._vjp(mf, contexts, G[None])
        if self.discrete:
            return out
        return out[0], out[1][0]


# ---------------------------------------------------------------------------
# Shaping head.
# ---------------------------------------------------------------------------


class ShapingHead(_ContextMixin, _Module):
    r"""Potential-based shaping term :math:`h_\phi(s, m)` of the AIRL discriminator.

    Parameters
    ----------
    n_states : int
    n_contexts : int, optional
        :math:`K` discrete types (give exactly one of ``n_contexts``,
        ``latent_dim``).
    latent_dim : int, optional
        Dimension :math:`d` of a continuous latent type.
    kind : {"tabular", "mlp"}, optional
        Default ``"tabular"``.
    hidden_sizes : sequence of int, optional
        Hidden layers of the MLP (default (32,)).
    activation : str, optional
        Hidden activation of the MLP (default ``"tanh"``).
    seed : int, None or numpy.random.Generator, optional
        Initialisation of the MLP (the tabular head starts at 0).

    Notes
    -----
    **Tabular**: a table ``table_`` :math:`H` of shape ``(C, S)`` and
    :math:`h(s, m) = \sum_j c_j H_{js}`, i.e. :math:`H_{ms}` for a discrete
    type and :math:`H_{0s} + \sum_i z_i H_{is}` for a latent.
    **MLP**: :math:`h = g_\phi([e_s, e_m])` (or :math:`z` for :math:`e_m`).
    In AIRL, :math:`f = r(s, a, \mu_t, m) + h(s', m) - h(s, m)` (the design
    notes, section 3).

    Examples
    --------
    >>> h = ShapingHead(3, n_contexts=2)
    >>> h.table().shape, h.table(1).shape
    ((2, 3), (3,))
    >>> h.table_vjp(np.ones((2, 3))).shape
    (6,)
    """

    def __init__(self, n_states, *, n_contexts=None, latent_dim=None, kind="tabular",
                 hidden_sizes=(32,), activation="tanh", seed=None):
        self.n_states = _positive_int("n_states", n_states)
        self.n_contexts, self.latent_dim = _context_spec(n_contexts, latent_dim)
        if kind not in ("tabular", "mlp"):
            raise ValueError(f"kind must be 'tabular' or 'mlp', got {kind!r}")
        self.kind = kind
        if kind == "tabular":
            self.table_ = np.zeros((self.embedding_dim, self.n_states))
            self.mlp = None
        else:
            self.hidden_sizes = _hidden(hidden_sizes)
            self.mlp = MLP((self.n_states + self.context_dim,) + self.hidden_sizes + (1,),
                           activation=activation, seed=seed)

    def _named_arrays(self):
        if self.kind == "tabular":
            return {"table": self.table_}
        return self.mlp._named_params("mlp.")

    def _assign(self, arrays):
        if self.kind == "tabular":
            (self.table_,) = arrays
        else:
            self.mlp.params = list(arrays)

    def _meta(self):
        config = (f"kind={self.kind};n_states={self.n_states};"
                  f"n_contexts={self.n_contexts};latent_dim={self.latent_dim}")
        if self.kind == "mlp":
            config += f";activation={self.mlp.activation}"
        return {"__format__": "tabmfirl.ShapingHead", "__config__": config}

    def _batch(self, context):
        """Returns (contexts batch, squeeze flag)."""
        if self.discrete:
            if context is None:
                return self._contexts(None), False
            if np.ndim(context) == 0:
                return self._single_context(context), True
            return self._contexts(context), False
        if context is None:
            raise ValueError("a latent context z of shape (latent_dim,) is required")
        if np.ndim(context) == 1:
            return self._single_context(context), True
        return self._contexts(context), False

    def _mlp_inputs(self, contexts):
        B, S = contexts.shape[0], self.n_states
        ctx = self._mlp_context_input(contexts)
        e_s = np.broadcast_to(np.eye(S)[None], (B, S, S))
        c = np.broadcast_to(ctx[:, None, :], (B, S, ctx.shape[1]))
        return np.concatenate([e_s, c], axis=-1)

    def table(self, context=None):
        """Potential table.

        Parameters
        ----------
        context : None, int, ndarray of int (B,), ndarray (latent_dim,) or (B, latent_dim)
            Discrete: ``None`` for all types, an int for one, or an int
            array.  Latent: one ``z`` or a batch.

        Returns
        -------
        h : ndarray, shape (K, n_states), (n_states,) or (B, n_states)
            ``(K, S)`` for ``context=None``, ``(S,)`` for one context.
        """
        contexts, squeeze = self._batch(context)
        if self.kind == "tabular":
            h = self._embedding(contexts) @ self.table_
        else:
            h = self.mlp.forward(self._mlp_inputs(contexts))[0][..., 0]
        return h[0] if squeeze else h

    def table_vjp(self, grad_table, context=None):
        """Vector-Jacobian product of :meth:`table`.

        Parameters
        ----------
        grad_table : ndarray, shape of ``table(context)``
        context : as in :meth:`table`

        Returns
        -------
        grad_params : ndarray, shape (n_params,)
        grad_latent : ndarray, shape (latent_dim,) or (B, latent_dim)
            Only for a latent context.
        """
        contexts, squeeze = self._batch(context)
        shape = (self.n_states,) if squeeze else (contexts.shape[0], self.n_states)
        G = _finite_float_array("grad_table", grad_table)
        if G.shape != shape:
            raise ValueError(f"grad_table must have shape {shape}, got {G.shape}")
        G = G.reshape(contexts.shape[0], self.n_states)
        if self.kind == "tabular":
            c = self._embedding(contexts)
            grad = (c.T @ G).reshape(-1)
            g_z = (G @ self.table_.T)[:, 1:] if not self.discrete else None
        else:
            _, cache = self.mlp.forward(self._mlp_inputs(contexts))
            grads, g_x = self.mlp.backward(cache, G[..., None])
            grad = flatten_arrays(grads)
            g_z = g_x[..., self.n_states:].sum(axis=1) if not self.discrete else None
        if self.discrete:
            return grad
        return grad, (g_z[0] if squeeze else g_z)


# ---------------------------------------------------------------------------
# Context encoder.
# ---------------------------------------------------------------------------


class ContextEncoder(_Module):
    r"""Trajectory encoder :math:`q_\psi(m \mid \tau)`.

    Parameters
    ----------
    n_states, n_actions : int
    kind : {"categorical", "gaussian"}, optional
        Discrete types (default) or a Gaussian latent.
    n_contexts : int, optional
        :math:`K`, required for ``kind="categorical"``.
    latent_dim : int, optional
        :math:`d`, required for ``kind="gaussian"``.
    embed_dim : int, optional
        Width :math:`e` of the per-step embedding (default 16).
    hidden_sizes : sequence of int, optional
        Hidden layers of both MLPs (default (32,)).
    activation : str, optional
        Hidden activation (default ``"tanh"``); the per-step embedding
        also ends with it.
    next_state : bool, optional
        Also read each step's next state :math:`s_{t+1}` (default ``False``):
        for games whose types move differently, where the moves themselves
        tell the types apart.
    seed : int, None or numpy.random.Generator, optional
        Initialisation.

    Notes
    -----
    A trajectory :math:`\tau = (s_0, a_0, \dots, s_{T-1}, a_{T-1}, s_T)` is
    given as ``states[n]`` (length :math:`T+1`) and ``actions[n]`` (length
    :math:`T`).  Per step :math:`t = 0..T-1`,

    .. math::

        x_t = [e_{s_t}, e_{a_t}, t/T] \in \mathbb R^{S + A + 1},\qquad
        u_t = \mathrm{step}_\psi(x_t) \in \mathbb R^{e},\qquad
        \bar u = \frac1T \sum_t u_t,\qquad
        o = \mathrm{head}_\psi(\bar u),

    with two :class:`~tabmfirl.irl._nn.MLP` (``step_net``, ``head_net``).  The
    next states are not read (when types change rewards only they carry no
    information beyond the shared dynamics), unless ``next_state=True``:
    then :math:`x_t = [e_{s_t}, e_{a_t}, e_{s_{t+1}}, t/T] \in \mathbb R^{2S + A + 1}`.

    * categorical: :math:`o \in \mathbb R^K` are logits,
      :math:`q(m\mid\tau) = \mathrm{softmax}(o)_m`;
    * gaussian: :math:`o = (\nu, \lambda)`, mean :math:`\nu \in \mathbb R^d`
      and log standard deviation :math:`\lambda`,
      :math:`\log q(z\mid\tau) = \sum_i -\tfrac12 ((z_i-\nu_i)e^{-\lambda_i})^2
      - \lambda_i - \tfrac12\log 2\pi`.
      :meth:`sample` is reparameterised, :math:`z = \nu + e^{\lambda}\odot
      \varepsilon`, :math:`\varepsilon \sim \mathcal N(0, I)`.

    Gradients: :meth:`backward` maps :math:`\partial L/\partial o` to the flat
    parameter gradient; :meth:`log_prob_grad` and :meth:`sample_vjp` build
    :math:`\partial L/\partial o` for the two usual losses.

    Examples
    --------
    >>> enc = ContextEncoder(3, 2, n_contexts=2, seed=0)
    >>> states = np.array([[0, 1, 2], [2, 2, 0]])   # (N=2, T+1=3)
    >>> actions = np.array([[1, 0], [0, 0]])        # (N=2, T=2)
    >>> enc.posterior(states, actions).shape
    (2, 2)
    >>> lp, grad = enc.log_prob_grad(states, actions, np.array([0, 1]))
    >>> lp.shape, grad.shape == (enc.n_params,)
    ((2,), True)
    """

    def __init__(self, n_states, n_actions, *, kind="categorical", n_contexts=None,
                 latent_dim=None, embed_dim=16, hidden_sizes=(32,), activation="tanh",
                 next_state=False, seed=None):
        self.n_states = _positive_int("n_states", n_states)
        if not isinstance(next_state, (bool, np.bool_)):
            raise ValueError(f"next_state must be True or False, got {next_state!r}")
        self.next_state = bool(next_state)
        self.n_actions = _positive_int("n_actions", n_actions)
        if kind == "categorical":
            if n_contexts is None or latent_dim is not None:
                raise ValueError("kind='categorical' needs n_contexts (and no latent_dim)")
            self.n_contexts, self.latent_dim = _positive_int("n_contexts", n_contexts), None
            n_out = self.n_contexts
        elif kind == "gaussian":
            if latent_dim is None or n_contexts is not None:
                raise ValueError("kind='gaussian' needs latent_dim (and no n_contexts)")
            self.n_contexts, self.latent_dim = None, _positive_int("latent_dim", latent_dim)
            n_out = 2 * self.latent_dim
        else:
            raise ValueError(f"kind must be 'categorical' or 'gaussian', got {kind!r}")
        self.kind = kind
        self.embed_dim = _positive_int("embed_dim", embed_dim)
        self.hidden_sizes = _hidden(hidden_sizes)
        rng = np.random.default_rng(seed)
        n_in = self.n_states * (2 if self.next_state else 1) + self.n_actions + 1
        self.step_net = MLP((n_in,) + self.hidden_sizes + (self.embed_dim,),
                            activation=activation, output_activation=activation, seed=rng)
        self.head_net = MLP((self.embed_dim,) + self.hidden_sizes + (n_out,),
                            activation=activation, seed=rng)

    # -- parameters -------------------------------------------------------------

    def _named_arrays(self):
        named = self.step_net._named_params("step.")
        named.update(self.head_net._named_params("head."))
        return named

    def _assign(self, arrays):
        n = len(self.step_net.params)
        self.step_net.params = list(arrays[:n])
        self.head_net.params = list(arrays[n:])

    def _meta(self):
        return {"__format__": "tabmfirl.ContextEncoder",
                "__config__": (f"kind={self.kind};n_states={self.n_states};"
                               f"n_actions={self.n_actions};n_contexts={self.n_contexts};"
                               f"latent_dim={self.latent_dim};embed_dim={self.embed_dim};"
                               f"activation={self.step_net.activation}"
                               + (";next_state=True" if self.next_state else ""))}

    # -- inputs ---------------------------------------------------------------------

    def _check_trajectories(self, states, actions):
        actions = np.asarray(actions)
        if actions.ndim != 2 or actions.shape[0] < 1 or actions.shape[1] < 1:
            raise ValueError(f"actions must have shape (N, T) with N, T >= 1, "
                             f"got {actions.shape}")
        N, T = actions.shape
        states = _int_array("states", states, 0, self.n_states, shape=(N, T + 1))
        actions = _int_array("actions", actions, 0, self.n_actions)
        return states, actions

    def step_features(self, states, actions):
        """Per-step inputs :math:`x_t = [e_{s_t}, e_{a_t}, t/T]` (or with :math:`e_{s_{t+1}}`).

        Parameters
        ----------
        states : ndarray of int, shape (N, T + 1)
        actions : ndarray of int, shape (N, T)

        Returns
        -------
        x : ndarray, shape (N, T, n_states + n_actions + 1)
            (``2 n_states + n_actions + 1`` with ``next_state``).
        """
        states, actions = self._check_trajectories(states, actions)
        N, T = actions.shape
        e_s = np.eye(self.n_states)[states[:, :T]]
        e_a = np.eye(self.n_actions)[actions]
        time = np.broadcast_to((np.arange(T) / T)[None, :, None], (N, T, 1))
        if self.next_state:
            return np.concatenate([e_s, e_a, np.eye(self.n_states)[states[:, 1:]], time],
                                  axis=-1)
        return np.concatenate([e_s, e_a, time], axis=-1)

    # -- forward / backward -----------------------------------------------------------

    def encode(self, states, actions):
        """Run the encoder.

        Parameters
        ----------
        states : ndarray of int, shape (N, T + 1)
        actions : ndarray of int, shape (N, T)

        Returns
        -------
        out : ndarray (N, K) or tuple of ndarray (N, d), (N, d)
            Logits (categorical) or ``(mean, log_std)`` (gaussian).
        cache : dict
            For :meth:`backward`.
        """
        x = self.step_features(states, actions)
        u, step_cache = self.step_net.forward(x)            # (N, T, e)
        pooled = u.mean(axis=1)                             # (N, e)
        o, head_cache = self.head_net.forward(pooled)       # (N, n_out)
        cache = {"T": x.shape[1], "step": step_cache, "head": head_cache, "out": o}
        if self.kind == "categorical":
            return o, cache
        d = self.latent_dim
        return (o[:, :d], o[:, d:]), cache

    def backward(self, cache, grad_out):
        """Flat parameter gradient of a loss given its gradient w.r.t. the outputs.

        Parameters
        ----------
        cache : dict
            From :meth:`encode`.
        grad_out : ndarray (N, K) or tuple of ndarray (N, d), (N, d)
            :math:`\\partial L/\\partial` logits, or
            ``(dL/dmean, dL/dlog_std)``.

        Returns
        -------
        grad_params : ndarray, shape (n_params,)
        """
        o = cache["out"]
        if self.kind == "gaussian":
            if not isinstance(grad_out, tuple) or len(grad_out) != 2:
                raise ValueError("grad_out must be a tuple (grad_mean, grad_log_std)")
            grad_out = np.concatenate([np.asarray(g, dtype=np.float64) for g in grad_out],
                                      axis=1)
        g_o = _finite_float_array("grad_out", grad_out)
        if g_o.shape != o.shape:
            raise ValueError(f"grad_out must have shape {o.shape}, got {g_o.shape}")
        head_grads, g_pooled = self.head_net.backward(cache["head"], g_o)
        T = cache["T"]
        g_u = np.repeat(g_pooled[:, None, :] / T, T, axis=1)  # mean pooling
        step_grads, _ = self.step_net.backward(cache["step"], g_u)
        return flatten_arrays(step_grads + head_grads)

    # -- distributions ------------------------------------------------------------------

    def logits(self, states, actions):
        """Logits of :math:`q(m\\mid\\tau)`, shape (N, K) (categorical only)."""
        self._require("categorical", "logits")
        return self.encode(states, actions)[0]

    def posterior(self, states, actions):
        """Posterior probabilities :math:`q(m\\mid\\tau_n)`, shape (N, K).

        Categorical only; rows sum to 1.
        """
        return softmax(self.logits(states, actions))

    def mean_log_std(self, states, actions):
        """``(mean, log_std)``, each (N, latent_dim) (gaussian only)."""
        self._require("gaussian", "mean_log_std")
        return self.encode(states, actions)[0]

    def _require(self, kind, what):
        if self.kind != kind:
            raise ValueError(f"{what} needs kind={kind!r}; this encoder is {self.kind!r}")

    def _check_m(self, m, N):
        if self.kind == "categorical":
            m = np.asarray(m)
            if m.ndim == 0:
                m = np.full(N, m)
            return _int_array("m", m, 0, self.n_contexts, shape=(N,))
        z = _finite_float_array("z", m)
        if z.shape == (self.latent_dim,):
            z = np.broadcast_to(z, (N, self.latent_dim))
        if z.shape != (N, self.latent_dim):
            raise ValueError(f"z must have shape ({N}, {self.latent_dim}), got {z.shape}")
        return z

    def _log_prob_and_grad_out(self, out, m, weights):
        if self.kind == "categorical":
            logp = log_softmax(out)
            N = out.shape[0]
            lp = logp[np.arange(N), m]
            onehot = np.eye(self.n_contexts)[m]
            grad_out = weights[:, None] * (onehot - np.exp(logp))
            return lp, grad_out
        mean, log_std = out
        inv_std = np.exp(-log_std)
        r = (m - mean) * inv_std
        lp = np.sum(-0.5 * r * r - log_std - 0.5 * _LOG_2PI, axis=1)
        grad_mean = weights[:, None] * r * inv_std
        grad_log_std = weights[:, None] * (r * r - 1.0)
        return lp, (grad_mean, grad_log_std)

    def log_prob(self, states, actions, m):
        """Log-probability :math:`\\log q(m_n \\mid \\tau_n)` per trajectory.

        Parameters
        ----------
        states : ndarray of int, shape (N, T + 1)
        actions : ndarray of int, shape (N, T)
        m : int or ndarray of int (N,)  |  ndarray (latent_dim,) or (N, latent_dim)
            Types (categorical) or latents ``z`` (gaussian).

        Returns
        -------
        log_prob : ndarray, shape (N,)
        """
        out, _ = self.encode(states, actions)
        m = self._check_m(m, np.shape(actions)[0])
        return self._log_prob_and_grad_out(out, m, np.ones(np.shape(actions)[0]))[0]

    def log_prob_grad(self, states, actions, m, *, weights=None):
        """Log-probabilities and the gradient of their weighted sum.

        Parameters
        ----------
        states, actions, m
            As in :meth:`log_prob`.
        weights : ndarray, shape (N,), optional
            :math:`w_n` (default 1).

        Returns
        -------
        log_prob : ndarray, shape (N,)
        grad_params : ndarray, shape (n_params,)
            :math:`\\nabla_\\psi \\sum_n w_n \\log q_\\psi(m_n\\mid\\tau_n)`
            (to *maximise*; negate for a loss).
        """
        out, cache = self.encode(states, actions)
        N = np.shape(actions)[0]
        m = self._check_m(m, N)
        w = np.ones(N) if weights is None else _finite_float_array("weights", weights)
        if w.shape != (N,):
            raise ValueError(f"weights must have shape ({N},), got {w.shape}")
        lp, grad_out = self._log_prob_and_grad_out(out, m, w)
        return lp, self.backward(cache, grad_out)

    def sample(self, states, actions, rng):
        """Sample a type per trajectory.

        Parameters
        ----------
        states : ndarray of int, shape (N, T + 1)
        actions : ndarray of int, shape (N, T)
        rng : numpy.random.Generator

        Returns
        -------
        m : ndarray of int, shape (N,)
            Categorical: :math:`m_n \\sim q(\\cdot\\mid\\tau_n)`.
        z, eps : ndarray, shape (N, latent_dim)
            Gaussian: :math:`z = \\nu + e^{\\lambda}\\odot\\varepsilon` and the
            noise :math:`\\varepsilon` (pass it to :meth:`sample_vjp`).
        """
        if not isinstance(rng, np.random.Generator):
            raise ValueError("rng must be a numpy.random.Generator")
        if self.kind == "categorical":
            p = self.posterior(states, actions)
            u = rng.random(p.shape[0])
            m = np.sum(np.cumsum(p, axis=1) < u[:, None], axis=1)
            return np.minimum(m, self.n_contexts - 1).astype(np.int64)
        mean, log_std = self.mean_log_std(states, actions)
        eps = rng.standard_normal(mean.shape)
        return mean + np.exp(log_std) * eps, eps

    def sample_vjp(self, states, actions, eps, grad_z):
        """Parameter gradient through a reparameterised sample (gaussian).

        Parameters
        ----------
        states, actions
            As in :meth:`sample`.
        eps : ndarray, shape (N, latent_dim)
            The noise returned by :meth:`sample`.
        grad_z : ndarray, shape (N, latent_dim)
            :math:`\\partial L/\\partial z`.

        Returns
        -------
        grad_params : ndarray, shape (n_params,)
            With :math:`\\bar\\nu = \\bar z` and
            :math:`\\bar\\lambda = \\bar z\\odot e^{\\lambda}\\odot\\varepsilon`.
        """
        self._require("gaussian", "sample_vjp")
        (mean, log_std), cache = self.encode(states, actions)
        eps = _finite_float_array("eps", eps)
        grad_z = _finite_float_array("grad_z", grad_z)
        for name, a in (("eps", eps), ("grad_z", grad_z)):
            if a.shape != mean.shape:
                raise ValueError(f"{name} must have shape {mean.shape}, got {a.shape}")
        return self.backward(cache, (grad_z, grad_z * np.exp(log_std) * eps))
