r"""Forward pass: the mean field flow of a policy.

.. math::

    L_t(s, a \mid m) = \mu_t(s \mid m)\, \pi_t(a \mid s, m), \qquad
    \mu_{t+1}(s' \mid m) = \sum_{s, a} L_t(s, a \mid m)\, P(s' \mid s, a, \nu^m_t),
    \qquad \mu_0(\cdot \mid m) = \mu_0,

with :math:`\nu^m_t` what type :math:`m` observes at step :math:`t` (its own
:math:`\mu_t` or :math:`L_t`, or a coupled mixture; see :class:`MFGSpec`).
The transition and reward are evaluated on the way, so the returned
:class:`MeanFieldFlow` carries the model that the backward pass needs.
"""
from __future__ import annotations

import numpy as np

from ..game._spec import ROW_SUM_TOL, MFGSpec, check_stochastic
from ..kernels._backend import resolve_backend
from ..kernels._functions import no_function
from ..kernels._kernels import raise_kernel_error
from ._model import EvaluatedModel, MeanFieldFlow, allocate_model, kernel_functions, observed_buffer

__all__ = ["forward_mean_field", "occupancy_measure"]


def check_policy(policy, n_contexts: int, horizon: int, n_states: int, n_actions: int):
    """Validate ``policy`` and return it as a ``(K, T, S, A)`` float64 array.

    A ``(T, S, A)`` policy is used for every context.
    """
    policy = np.asarray(policy, dtype=np.float64)
    if policy.shape == (horizon, n_states, n_actions):
        policy = np.broadcast_to(policy, (n_contexts,) + policy.shape)
    expected = (n_contexts, horizon, n_states, n_actions)
    if policy.shape != expected:
        raise ValueError(
            f"policy must have shape (n_contexts, horizon, n_states, n_actions) = {expected} "
            f"(or (horizon, n_states, n_actions) for all contexts), got {policy.shape}")
    check_stochastic(policy, "policy")
    policy = np.ascontiguousarray(policy)
    if not policy.flags.writeable:  # a broadcast view or a read-only input
        policy = policy.copy()
    return policy


def forward_mean_field(spec: MFGSpec, policy, *, backend: str = "auto") -> MeanFieldFlow:
    r"""Mean field flow of ``policy`` in ``spec``, every context at once.

    Parameters
    ----------
    spec : MFGSpec
    policy : ndarray, shape (K, T, S, A) or (T, S, A)
        :math:`\pi_t(a \mid s, m)`; rows must sum to 1.
    backend : {"auto", "numpy", "numba", "cuda"}
        ``"cuda"`` runs the forward pass of a mean-field-dependent game on the
        CPU with Numba (its mean field functions are CPU code); a game whose
        tables ignore the mean field is propagated on the GPU.

    Returns
    -------
    MeanFieldFlow
        ``mean_field`` ``(K, T+1, S)``, ``state_action`` ``(K, T, S, A)`` and
        the model evaluated along the flow.

    Raises
    ------
    ValueError
        Bad policy, or a mean field function that produced a bad table (the
        message names context, step, state and action).

    Examples
    --------
    >>> import numpy as np
    >>> from tabmfirl import MFGSpec, forward_mean_field
    >>> P = np.array([[[0.0, 1.0]], [[0.0, 1.0]]])   # one action: always go to state 1
    >>> spec = MFGSpec(n_states=2, n_actions=1, horizon=2, mu0=[1.0, 0.0],
    ...                transition=P, reward=np.zeros((1, 2, 1)))
    >>> forward_mean_field(spec, np.ones((2, 2, 1)), backend="numpy").mean_field[0]
    array([[1., 0.],
           [0., 1.],
           [0., 1.]])
    """
    backend = resolve_backend(backend)
    policy = check_policy(policy, spec.n_contexts, spec.horizon, spec.n_states, spec.n_actions)
    return forward_unchecked(spec, policy, backend)


def forward_unchecked(spec: MFGSpec, policy: np.ndarray, backend: str,
                      model: EvaluatedModel = None) -> MeanFieldFlow:
    """Forward pass without input checks (solvers call this in their loop).

    ``model`` may be a previous result's model to reuse its buffers.
    """
    K, T, S, A = policy.shape
    if model is None:
        model = allocate_model(spec)
    mean_field = np.zeros((K, T + 1, S))
    state_action = np.zeros((K, T, S, A))
    dynamic = spec.transition_is_dynamic or spec.reward_is_dynamic
    if backend == "numpy":
        from ..kernels._reference import forward

        forward(spec, policy, model.transition, model.slice_index, model.next_states,
                model.dense, model.reward, mean_field, state_action)
    elif backend == "cuda" and not dynamic:
        from ..kernels._cuda import forward_frozen

        forward_frozen(model, spec.initial_distribution, policy, mean_field, state_action)
    else:
        _forward_numba(model, spec.initial_distribution, policy, mean_field, state_action,
                       spec)
    return MeanFieldFlow(mean_field, state_action, model)


def _forward_numba(model, mu0, policy, mean_field, state_action, spec=None):
    """Run the Numba forward kernel from ``mu0`` ``(K, S)``; ``spec=None``: the frozen ``model``."""
    from ..kernels._kernels import _forward

    K, T, S, A = policy.shape
    if spec is None:
        functions = (no_function("transition"), no_function("transition_by_context"),
                     no_function("reward"), np.zeros((1, 1)), False, False)
        params, dynamic_transition, by_context, dynamic_reward = np.zeros(0), False, False, False
        state_action_kind, observed = False, np.zeros((K, S))
    else:
        functions = kernel_functions(spec)
        params = spec.params
        dynamic_transition, dynamic_reward = spec.transition_is_dynamic, spec.reward_is_dynamic
        by_context = spec.transition_by_context
        state_action_kind = spec.mean_field_kind == "state_action"
        observed = observed_buffer(spec)
    transition_fn, transition_context_fn, reward_fn, coupling, use_coupling, observe_all = \
        functions
    error = np.zeros(5, dtype=np.int64)
    _forward(transition_fn, transition_context_fn, reward_fn, params, dynamic_transition,
             by_context, dynamic_reward, state_action_kind, coupling, use_coupling, observe_all,
             np.ascontiguousarray(np.broadcast_to(mu0, (K, S))), policy, model.transition,
             model.slice_index, model.kernel_next_states, model.dense, model.reward, mean_field,
             state_action, observed, ROW_SUM_TOL, error)
    raise_kernel_error(error)


def occupancy_measure(model: EvaluatedModel, policy, mu0, *, backend: str = "auto"):
    r"""Occupancy measure of ``policy`` under a frozen model.

    .. math:: \rho_t(s, a \mid m) = \mu_t(s \mid m)\, \pi_t(a \mid s, m), \qquad
              \mu_{t+1}(s') = \sum_{s,a} \rho_t(s,a) P_t(s' \mid s, a)

    with the transitions of ``model`` held fixed (no mean field feedback: this
    is the single-agent occupancy of a policy in the MDP induced by a frozen
    flow, as in maximum causal entropy IRL).  ``sum_{s,a} rho_t = 1`` for
    every ``t``.

    Parameters
    ----------
    model : EvaluatedModel
    policy : ndarray, shape (K, T, S, A) or (T, S, A)
    mu0 : array_like, shape (S,) or (K, S)
        Initial distribution, shared or one per context.
    backend : {"auto", "numpy", "numba", "cuda"}

    Returns
    -------
    mean_field : ndarray, shape (K, T+1, S)
    occupancy : ndarray, shape (K, T, S, A)
    """
    backend = resolve_backend(backend)
    K, T, S, A = model.shape
    policy = check_policy(policy, K, T, S, A)
    mu0 = np.ascontiguousarray(mu0, dtype=np.float64)
    if mu0.shape not in ((S,), (K, S)):
        raise ValueError(f"mu0 must have shape ({S},) or ({K}, {S}), got {mu0.shape}")
    check_stochastic(mu0.reshape(-1, S), "mu0")
    mu0 = np.ascontiguousarray(np.broadcast_to(mu0, (K, S)))
    mean_field = np.zeros((K, T + 1, S))
    occupancy = np.zeros((K, T, S, A))
    if backend == "numpy":
        from ..kernels._reference import propagate

        mean_field[:, 0] = mu0
        for t in range(T):
            occupancy[:, t] = mean_field[:, t, :, None] * policy[:, t]
            mean_field[:, t + 1] = propagate(model.transition[model.slice_index[:, t]],
                                             model.next_states, model.dense, occupancy[:, t])
    elif backend == "cuda":
        from ..kernels._cuda import forward_frozen

        forward_frozen(model, mu0, policy, mean_field, occupancy)
    else:
        _forward_numba(model, mu0, policy, mean_field, occupancy)
    return mean_field, occupancy
