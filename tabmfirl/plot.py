r"""Figures for tabmfirl results (needs matplotlib: ``pip install tabmfirl[plot]``).

Import it explicitly, ``from tabmfirl import plot``: ``import tabmfirl`` never
imports matplotlib.  Every function takes plain arrays (so it works with the
output of any method, ours or a peer's), builds a
:class:`matplotlib.figure.Figure` with the object-oriented API and returns it.
Nothing here imports :mod:`matplotlib.pyplot`, selects a backend, opens a
window or calls ``show``: the figures work headless, are not kept alive by a
global figure registry, and are written with :func:`save` (Jupyter displays a
returned figure as the cell's value when the inline backend is active).

Notation and array layout (as in the rest of the package):

* ``K`` types (contexts) :math:`m`, horizon ``T`` (steps :math:`t = 0..T-1`),
  ``S`` states, ``A`` actions;
* rewards ``reward[m, t, s, a]`` :math:`= r_t(s, a \mid m)`, shape ``(K, T, S, A)``;
* policies ``policy[m, t, s, a]`` :math:`= \pi_t(a \mid s, m)`, shape ``(K, T, S, A)``;
* mean fields ``mean_field[m, t, s]`` :math:`= \mu_t(s \mid m)`, shape
  ``(K, T+1, S)`` (row 0 is :math:`\mu_0`).

A single-type array without the leading ``K`` axis is accepted wherever a
``(K, ...)`` array is.  Bad shapes and non-finite values raise
:class:`ValueError` naming the argument.
"""
from __future__ import annotations

import dataclasses
from numbers import Real
from pathlib import Path
from typing import Mapping, Optional, Sequence, Union

import numpy as np

try:
    import matplotlib
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator
except ImportError as error:  # pragma: no cover - exercised only without matplotlib
    raise ImportError(
        "tabmfirl.plot needs matplotlib: pip install 'tabmfirl[plot]'") from error

__all__ = ["plot_rewards", "plot_mean_fields", "plot_policies", "plot_flow_comparison",
           "plot_policy_comparison", "plot_training", "plot_embeddings", "plot_metrics",
           "plot_equilibrium", "save"]

#: Flows and policies of at most this many states are drawn as lines (one per state),
#: larger ones as heatmaps (:func:`plot_flow_comparison`, :func:`plot_policy_comparison`).
LINE_MAX_STATES = 4

#: Heatmaps label every row/column when there are at most this many.
_MAX_TICK_LABELS = 25
#: Reward heatmaps print their values when a panel has at most this many cells.
_MAX_ANNOTATED_CELLS = 40
#: History keys drawn on a log scale (when all their values are positive).
_LOG_KEYS = ("exploitability", "residual", "nash_conv", "nashconv", "grad_norm",
             "gradient_norm")
_TYPE_COLOURS = "tab10"


# --------------------------------------------------------------------- checks
def _array(value, name: str, ndims: Sequence[int], *, allow_nan: bool = False) -> np.ndarray:
    """``value`` as a float64 array with one of ``ndims`` dimensions, finite, non-empty."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an array of numbers, got {type(value).__name__}") \
            from None
    if array.ndim not in ndims:
        wanted = " or ".join(str(n) for n in ndims)
        raise ValueError(f"{name} must have {wanted} dimensions, got shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"{name} is empty (shape {array.shape})")
    bad = np.isinf(array) if allow_nan else ~np.isfinite(array)
    if np.any(bad):
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{name} must be finite, found {array[index]} at index {index}")
    return array


def _with_types(array: np.ndarray, ndim: int) -> np.ndarray:
    """Add the leading type axis to a single-type array of ``ndim - 1`` dimensions."""
    return array[None] if array.ndim == ndim - 1 else array


def _labels(labels, n: int, name: str, default: str) -> list:
    """``n`` tick/panel labels: ``labels`` as strings, or ``default.format(i)``."""
    if labels is None:
        return [default.format(i) for i in range(n)]
    if isinstance(labels, str):
        raise ValueError(f"{name} must be a sequence of {n} labels, got the string {labels!r}")
    labels = [str(label) for label in labels]
    if len(labels) != n:
        raise ValueError(f"{name} must have {n} entries, got {len(labels)}")
    return labels


def _check_policy(policy, name: str = "policy") -> np.ndarray:
    policy = _with_types(_array(policy, name, (3, 4)), 4)
    if policy.min() < 0.0 or policy.max() > 1.0 + 1e-9:
        raise ValueError(f"{name} must hold probabilities in [0, 1], found values in "
                         f"[{policy.min():.3g}, {policy.max():.3g}]")
    sums = policy.sum(axis=-1)
    worst = float(np.max(np.abs(sums - 1.0)))
    if worst > 1e-6:
        raise ValueError(f"{name}[m, t, s, :] must sum to 1 over actions, off by up to {worst:.3g}")
    return policy


def _check_mean_field(mean_field, name: str = "mean_field") -> np.ndarray:
    mean_field = _with_types(_array(mean_field, name, (2, 3)), 3)
    if mean_field.min() < 0.0:
        raise ValueError(f"{name} must be non-negative, found {mean_field.min():.3g}")
    return mean_field


# ------------------------------------------------------------------- drawing
def _figure(width: float, height: float) -> Figure:
    return Figure(figsize=(width, height), layout="constrained")


def _grid(fig: Figure, n: int, max_cols: int) -> list:
    """``n`` axes on a grid of at most ``max_cols`` columns (unused cells removed)."""
    cols = min(n, max_cols)
    rows = -(-n // cols)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax in axes[n:]:
        fig.delaxes(ax)
    return list(axes[:n])


def _ticks(ax, axis: str, labels: Optional[list], n: int):
    """Label every position when there are few, else integer ticks."""
    setter = ax.set_xticks if axis == "x" else ax.set_yticks
    if labels is not None and n <= _MAX_TICK_LABELS:
        setter(range(n), labels)
    else:
        (ax.xaxis if axis == "x" else ax.yaxis).set_major_locator(MaxNLocator(integer=True))


def _heatmap(ax, data: np.ndarray, *, cmap: str, norm: Normalize, x_labels=None,
             y_labels=None):
    """Draw ``data[y, x]`` with y upwards; one cell per entry."""
    image = ax.imshow(data, origin="lower", aspect="auto", interpolation="nearest",
                      cmap=cmap, norm=norm)
    _ticks(ax, "x", x_labels, data.shape[1])
    _ticks(ax, "y", y_labels, data.shape[0])
    return image


def _annotate(ax, data: np.ndarray, image):
    """Print each cell's value in a colour that stands out from the cell."""
    cmap, norm = image.get_cmap(), image.norm
    for (y, x), value in np.ndenumerate(data):
        red, green, blue, _ = cmap(norm(value))
        light = 0.299 * red + 0.587 * green + 0.114 * blue > 0.55
        ax.text(x, y, f"{value:.2f}", ha="center", va="center", fontsize=8,
                color="black" if light else "white")


def _type_colours(n: int):
    cmap = matplotlib.colormaps[_TYPE_COLOURS]
    return [cmap(i % cmap.N) for i in range(n)]


def _pretty(key: str) -> str:
    return str(key).replace("_", " ")


# ------------------------------------------------------------------- rewards
def plot_rewards(learned, true=None, *, t: int = 0, center: bool = True,
                 state_labels=None, action_labels=None, type_labels=None,
                 row_labels: Sequence[str] = ("learned", "true"),
                 shared_scale: bool = True) -> Figure:
    r"""Heatmaps of reward tables :math:`r_t(s, a \mid m)` at one step, per type.

    One panel per type (columns), state on the vertical axis and action on the
    horizontal one; the learned tables on the first row and, when given, the
    true ones on the second.  Both rows share one colour scale (so a learned
    reward 3x smaller than the truth looks 3x paler), and the title states the
    ratio of their spreads,
    :math:`\operatorname{std}(r^L_t) / \operatorname{std}(r_t)` over types,
    states and actions.  Small tables print their values in the cells.

    Parameters
    ----------
    learned : array_like, shape (K, T, S, A) or (T, S, A)
        Learned reward ``learned[m, t, s, a]``.
    true : array_like, shape (K', T, S, A) or (T, S, A), optional
        True reward of the game, same ``T, S, A``.  Its types must be aligned
        with the learned ones (learned type ``m`` is compared with true type
        ``m``: permute the learned types first, e.g. with the matching used to
        score type recovery).  ``K'`` may differ from ``K`` (a model fitted with
        the wrong number of types); then no correlation is shown.
    t : int, default 0
        Time step shown.
    center : bool, default True
        Subtract each type's mean over ``(s, a)`` at step ``t`` from its table,
        and use a diverging colour scale centred at 0.  IRL recovers a reward
        only up to potential-based shaping and per-step constants, so the raw
        learned and true tables differ by an offset that says nothing about
        the fit; centring removes the offset.
    state_labels : sequence of str, optional
        ``S`` names for the state axis (default: the state index).
    action_labels : sequence of str, optional
        ``A`` names for the action axis (default: the action index).
    type_labels : sequence of str, optional
        One name per type (``max(K, K')`` entries; default ``"type m"``).
    row_labels : pair of str, default ("learned", "true")
        Names of the two rows, used in titles and colour bar labels (e.g.
        ``("true", "")`` to show a game's reward alone).
    shared_scale : bool, default True
        One colour scale for both rows; ``False``: one per row (each row's
        colour bar then has its own range; the title still states the ratio).

    Returns
    -------
    matplotlib.figure.Figure
        One heatmap per (row, type) and one colour bar per row.  With ``true``
        and ``K == K'``, each learned panel's title gives the Pearson
        correlation of the (centred) learned and true tables at step ``t``.

    Raises
    ------
    ValueError
        Wrong shapes, non-finite values, ``t`` out of range, labels of the
        wrong length.

    Examples
    --------
    >>> import numpy as np
    >>> from tabmfirl import plot
    >>> reward = np.random.default_rng(0).normal(size=(2, 3, 4, 2))
    >>> fig = plot.plot_rewards(reward + 5.0, reward, t=1)
    >>> len(fig.axes)  # 2 rows x 2 types, and a colour bar per row
    6
    """
    if not isinstance(shared_scale, (bool, np.bool_)):
        raise ValueError(f"shared_scale must be True or False, got {shared_scale!r}")
    learned = _with_types(_array(learned, "learned", (3, 4)), 4)
    rows = _reward_rows(learned, true, row_labels)
    T, S, A = learned.shape[1:]
    if isinstance(t, (bool, np.bool_)) or not isinstance(t, (int, np.integer)) \
            or not 0 <= t < T:
        raise ValueError(f"t must be an integer in [0, {T - 1}], got {t!r}")
    n_cols = max(table.shape[0] for _, table in rows)
    labels = {"type": _labels(type_labels, n_cols, "type_labels", "type {}"),
              "state": _labels(state_labels, S, "state_labels", "{}"),
              "action": _labels(action_labels, A, "action_labels", "{}")}
    slices = []
    for _, table in rows:
        shown = table[:, t].copy()
        if center:
            shown -= shown.mean(axis=(1, 2), keepdims=True)
        slices.append(shown)
    width = 1.2 + n_cols * (1.4 + 0.55 * A) + 1.0
    height = len(rows) * (1.4 + 0.28 * min(S, 30)) + 0.8
    fig = _figure(min(width, 14.0), min(height, 12.0))
    grid = fig.subplots(len(rows), n_cols, squeeze=False)
    compare = len(rows) == 2 and rows[1][1].shape[0] == learned.shape[0]
    together = np.concatenate([shown.ravel() for shown in slices])
    for row, ((kind, table), shown) in enumerate(zip(rows, slices)):
        against = (rows[1][0], slices[1]) if row == 0 and compare else None
        _reward_row(fig, grid[row], kind, table.shape[0], shown, center=center, labels=labels,
                    against=against, scale_of=together if shared_scale else shown)
    what = ("centred: each type's mean subtracted, since IRL identifies\nrewards only "
            "up to constants and shaping" if center else "raw values")
    fig.suptitle(f"Reward tables at step t = {t} ({what})" + _scale_note(rows, slices,
                                                                          shared_scale),
                 fontsize=10)
    return fig


def _scale_note(rows, slices, shared: bool) -> str:
    """The title's line on the colour scale and the learned-to-true spread ratio."""
    if len(rows) < 2:
        return ""
    spread = [float(np.std(shown)) for shown in slices]
    ratio = (f"{rows[0][0]} spread = {spread[0] / spread[1]:.2f} x {rows[1][0]} spread"
             if spread[1] > 0 else f"{rows[1][0]} tables constant")
    return f"\n{'one colour scale for both rows' if shared else 'own scale per row'}; {ratio}"


def _reward_rows(learned, true, row_labels) -> list:
    """``[(row label, table (K, T, S, A)), ...]``: the learned row and, if given, the true one."""
    if isinstance(row_labels, str) or len(row_labels) != 2:
        raise ValueError(f"row_labels must be a pair of names, got {row_labels!r}")
    rows = [(str(row_labels[0]), learned)]
    if true is not None:
        true = _with_types(_array(true, "true", (3, 4)), 4)
        if true.shape[1:] != learned.shape[1:]:
            raise ValueError(f"true must have the same (T, S, A) as learned "
                             f"{learned.shape[1:]}, got {true.shape[1:]}")
        rows.append((str(row_labels[1]), true))
    return rows


def _reward_row(fig, axes, kind, n_types, shown, *, center, labels, against, scale_of):
    """One row of :func:`plot_rewards`: a heatmap per type (``shown[m]``), one colour bar.

    Panels past ``n_types`` are removed; ``against = (label, slices)`` adds each
    panel's correlation with the other row's table; the colour scale spans the
    values ``scale_of``.
    """
    if center:
        bound = float(np.max(np.abs(scale_of))) or 1.0
        norm, cmap = Normalize(-bound, bound), "RdBu_r"
    else:
        low, high = float(scale_of.min()), float(scale_of.max())
        norm, cmap = Normalize(low, high if high > low else low + 1.0), "viridis"
    annotate = shown.shape[1] * shown.shape[2] <= _MAX_ANNOTATED_CELLS
    used, image = [], None
    for m, ax in enumerate(axes):
        if m >= n_types:
            fig.delaxes(ax)
            continue
        image = _heatmap(ax, shown[m], cmap=cmap, norm=norm, x_labels=labels["action"],
                         y_labels=labels["state"])
        if annotate:
            _annotate(ax, shown[m], image)
        title = f"{kind}: {labels['type'][m]}"
        if against is not None:
            title += f"\ncorr. with {against[0]} {_correlation(shown[m], against[1][m])}"
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("action a")
        ax.set_ylabel("state s" if m == 0 else "")
        used.append(ax)
    label = f"{kind} reward " + r"$r_t(s,a\mid m)$"
    fig.colorbar(image, ax=used, label=label + ("\nminus the type's mean" if center else ""),
                 shrink=0.9)


def _correlation(x: np.ndarray, y: np.ndarray) -> str:
    x, y = x.ravel() - x.mean(), y.ravel() - y.mean()
    scale = float(np.sqrt((x @ x) * (y @ y)))
    return f"{float(x @ y) / scale:.2f}" if scale > 0 else "n/a (constant table)"


# ----------------------------------------------------- mean fields, policies
def plot_mean_fields(mean_field, *, type_labels=None, state_labels=None) -> Figure:
    r"""State-by-time heatmaps of the mean field flow :math:`\mu_t(s \mid m)`, per type.

    Parameters
    ----------
    mean_field : array_like, shape (K, T+1, S) or (T+1, S)
        ``mean_field[m, t, s]``: the share of type-``m`` agents in state
        ``s`` at time ``t`` (an exact flow or an empirical one, e.g.
        ``Demonstrations.empirical_mean_field()``).
    type_labels : sequence of str, optional
        ``K`` panel names (default ``"type m"``).
    state_labels : sequence of str, optional
        ``S`` names for the state axis (default: the state index).

    Returns
    -------
    matplotlib.figure.Figure
        ``K`` heatmaps (at most four per row) sharing one colour scale from 0
        to the largest share, and one colour bar.

    Raises
    ------
    ValueError
        Wrong shape, negative or non-finite values, labels of the wrong length.

    Examples
    --------
    >>> import numpy as np
    >>> from tabmfirl import plot
    >>> fig = plot.plot_mean_fields(np.full((3, 6, 4), 0.25))
    >>> len(fig.axes)  # 3 types and a colour bar
    4
    """
    mean_field = _check_mean_field(mean_field)
    K, T1, S = mean_field.shape
    type_labels = _labels(type_labels, K, "type_labels", "type {}")
    state_labels = _labels(state_labels, S, "state_labels", "{}")
    cols = min(K, 4)
    rows = -(-K // cols)
    panel_height = min(max(2.4, 1.3 + 0.22 * S), 5.0)
    fig = _figure(0.9 + 3.3 * cols + 0.8, rows * panel_height + 0.6)
    axes = _grid(fig, K, 4)
    norm = Normalize(0.0, float(mean_field.max()) or 1.0)
    for m, ax in enumerate(axes):
        image = _heatmap(ax, mean_field[m].T, cmap="viridis", norm=norm,
                         y_labels=state_labels)
        ax.set_title(f"{type_labels[m]}")
        ax.set_xlabel("time step t")
        ax.set_ylabel("state s")
    fig.colorbar(image, ax=axes, label=r"share of agents $\mu_t(s \mid m)$",
                 shrink=0.9)
    fig.suptitle(r"Mean field flow $\mu_t(s \mid m)$ per type")
    return fig


def _shown_actions(action, A: int) -> list:
    """Actions drawn by :func:`plot_policies` (see its ``action`` parameter)."""
    if action is None:
        return [1] if A == 2 else list(range(A))
    if isinstance(action, str):
        if action != "all":
            raise ValueError(f"action must be an integer, 'all' or None, got {action!r}")
        return list(range(A))
    if isinstance(action, (bool, np.bool_)) or not isinstance(action, (int, np.integer)) \
            or not 0 <= action < A:
        raise ValueError(f"action must be an integer in [0, {A - 1}], 'all' or None, "
                         f"got {action!r}")
    return [int(action)]


def _policy_panels(fig, axes, policy, actions, *, type_labels, state_labels, action_labels,
                   norm, y_label=True):
    """Fill ``axes[i][m]`` with :math:`\\pi_t(a_i \\mid s, m)`; return the last image."""
    image = None
    for i, a in enumerate(actions):
        for m in range(policy.shape[0]):
            ax = axes[i][m]
            image = _heatmap(ax, policy[m, :, :, a].T, cmap="magma", norm=norm,
                             y_labels=state_labels)
            ax.set_title(f"{type_labels[m]}\n" + r"$\pi_t($" + f"{action_labels[a]}"
                         + r"$\mid s)$", fontsize=10)
            ax.set_xlabel("time step t")
            ax.set_ylabel("state s" if y_label else "")
    return image


def _policy_norm(shown: np.ndarray, vmin, vmax) -> Normalize:
    """Colour scale from ``vmin`` to ``vmax``, an end fitted to ``shown`` when ``None``."""
    low = float(shown.min()) if vmin is None else float(vmin)
    high = float(shown.max()) if vmax is None else float(vmax)
    if not (np.isfinite(low) and np.isfinite(high)):
        raise ValueError(f"vmin and vmax must be finite or None, got {vmin!r}, {vmax!r}")
    if vmin is not None and vmax is not None and not high > low:
        raise ValueError(f"vmax must exceed vmin, got vmin={vmin!r}, vmax={vmax!r}")
    return Normalize(low, high if high > low else low + 1e-6)


def plot_policies(policy, *, action=None, vmin: Optional[float] = 0.0,
                  vmax: Optional[float] = 1.0, type_labels=None, state_labels=None,
                  action_labels=None) -> Figure:
    r"""State-by-time heatmaps of :math:`\pi_t(a \mid s, m)` for one or every action.

    Parameters
    ----------
    policy : array_like, shape (K, T, S, A) or (T, S, A)
        ``policy[m, t, s, a]``; each ``policy[m, t, s, :]`` must sum to 1.
    action : int, "all" or None, default None
        The action ``a`` shown: one row of ``K`` panels.  ``"all"``: one row
        per action.  ``None``: action 1 when ``A == 2`` (action 0 is its
        complement), else every action.
    vmin, vmax : float or None, default 0.0 and 1.0
        Colour scale, shared by all panels.  ``None`` fits that end to the
        data shown, which makes small differences between types visible (the
        colour bar then does not span [0, 1]).
    type_labels : sequence of str, optional
        ``K`` names (default ``"type m"``).
    state_labels : sequence of str, optional
        ``S`` names for the state axis (default: the state index).
    action_labels : sequence of str, optional
        ``A`` action names used in the titles (default ``"a=i"``).

    Returns
    -------
    matplotlib.figure.Figure
        ``rows x K`` heatmaps and one colour bar.

    Raises
    ------
    ValueError
        Wrong shape, values outside [0, 1], rows not summing to 1, a bad
        ``action``, labels of the wrong length.

    Examples
    --------
    >>> import numpy as np
    >>> from tabmfirl import plot
    >>> fig = plot.plot_policies(np.full((2, 5, 3, 3), 1 / 3), action="all")
    >>> len(fig.axes)  # 3 actions x 2 types and a colour bar
    7
    """
    policy = _check_policy(policy)
    K, T, S, A = policy.shape
    actions = _shown_actions(action, A)
    type_labels = _labels(type_labels, K, "type_labels", "type {}")
    state_labels = _labels(state_labels, S, "state_labels", "{}")
    action_labels = _labels(action_labels, A, "action_labels", "a={}")
    norm = _policy_norm(policy[..., actions], vmin, vmax)
    panel_height = min(max(2.4, 1.3 + 0.22 * S), 5.0)
    fig = _figure(0.9 + 3.3 * K + 0.8, len(actions) * panel_height + 0.6)
    axes = fig.subplots(len(actions), K, squeeze=False)
    image = _policy_panels(fig, axes, policy, actions, type_labels=type_labels,
                           state_labels=state_labels, action_labels=action_labels,
                           norm=norm)
    fig.colorbar(image, ax=axes.ravel().tolist(), label=r"probability $\pi_t(a \mid s, m)$",
                 shrink=0.9)
    fig.suptitle(r"Policy $\pi_t(a \mid s, m)$ per type")
    return fig


# ------------------------------------------- experts vs learned equilibrium
def _pair(expert, learned, check, names):
    """``expert`` and ``learned`` checked by ``check`` and of one shape."""
    expert, learned = check(expert, names[0]), check(learned, names[1])
    if expert.shape != learned.shape:
        raise ValueError(f"{names[0]} and {names[1]} must have one shape, got {expert.shape} "
                         f"and {learned.shape}")
    return expert, learned


def _line_states(S: int) -> list:
    """States drawn as lines: with two, the second (the first is its complement)."""
    return [1] if S == 2 else list(range(S))


def _comparison_lines(axes, expert, learned, *, labels, state_labels, type_labels, y_label,
                      states):
    """One panel per type: for each of ``states`` a colour, ``labels[0]`` solid,
    ``labels[1]`` dashed; ``expert[m]`` and ``learned[m]`` have shape ``(n_times, S)``."""
    colours = _type_colours(expert.shape[-1])
    for m, ax in enumerate(axes):
        for s in states:
            name = f"state {state_labels[s]}"
            ax.plot(expert[m][:, s], color=colours[s], linewidth=2.0,
                    label=f"{name}, {labels[0]}")
            ax.plot(learned[m][:, s], color=colours[s], linewidth=1.6, linestyle="--",
                    label=f"{name}, {labels[1]}")
        ax.set_title(type_labels[m])
        ax.set_xlabel("time step t")
        ax.set_ylabel(y_label if m == 0 else "")
        ax.set_ylim(-0.03, 1.03)
        ax.grid(alpha=0.3)
    axes[-1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))


def _comparison_heatmaps(fig, axes, expert, learned, *, labels, state_labels, type_labels,
                         colour_label, top=None):
    """Rows ``labels[0]`` and ``labels[1]`` of state-by-time heatmaps on one colour scale
    from 0 to ``top`` (default: the largest value); ``expert[m]`` and ``learned[m]`` have
    shape ``(n_times, S)``."""
    top = float(max(expert.max(), learned.max())) if top is None else top
    norm = Normalize(0.0, top or 1.0)
    image = None
    for row, (name, data) in enumerate(zip(labels, (expert, learned))):
        for m in range(data.shape[0]):
            ax = axes[row][m]
            image = _heatmap(ax, data[m].T, cmap="viridis", norm=norm, y_labels=state_labels)
            ax.set_title(f"{name}: {type_labels[m]}", fontsize=10)
            ax.set_xlabel("time step t")
            ax.set_ylabel("state s" if m == 0 else "")
    fig.colorbar(image, ax=axes.ravel().tolist(), label=colour_label, shrink=0.9)


def plot_flow_comparison(expert, learned, *, type_labels=None, state_labels=None,
                         labels: Sequence[str] = ("experts", "learned")) -> Figure:
    r"""The experts' mean field flow against the learned equilibrium's, per type.

    The form follows the size: with at most :data:`LINE_MAX_STATES` states,
    one panel per type with a line per state, :math:`\mu^E_t(s \mid m)` solid
    and :math:`\mu^L_t(s \mid m)` dashed (with two states only the second is
    drawn: :math:`\mu_t(s_0) = 1 - \mu_t(s_1)`); with more, two rows of
    state-by-time heatmaps (experts, learned) on one colour scale.

    Parameters
    ----------
    expert, learned : array_like, shape (K, T+1, S) or (T+1, S)
        ``mean_field[m, t, s]`` of the experts (e.g. the exact equilibrium of
        the true reward) and of the learned reward's equilibrium, both in the
        order of the *true* types.
    type_labels : sequence of str, optional
        ``K`` names (default ``"type m"``).
    state_labels : sequence of str, optional
        ``S`` state names (default: the index).
    labels : pair of str, default ("experts", "learned")
        Names of the two flows.

    Returns
    -------
    matplotlib.figure.Figure
        ``K`` line panels, or ``2 x K`` heatmaps and a colour bar.

    Raises
    ------
    ValueError
        Shapes that differ or are wrong, negative or non-finite values,
        labels of the wrong length.

    Examples
    --------
    >>> import numpy as np
    >>> from tabmfirl import plot
    >>> flow = np.tile([0.4, 0.6], (2, 6, 1))
    >>> len(plot.plot_flow_comparison(flow, flow[:, :, ::-1]).axes)  # 2 states: lines
    2
    >>> len(plot.plot_flow_comparison(np.full((2, 6, 5), 0.2), np.full((2, 6, 5), 0.2)).axes)
    5
    """
    expert, learned = _pair(expert, learned, _check_mean_field, ("expert", "learned"))
    K, _, S = expert.shape
    labels = _labels(labels, 2, "labels", "{}")
    type_labels = _labels(type_labels, K, "type_labels", "type {}")
    state_labels = _labels(state_labels, S, "state_labels", "{}")
    title = (r"Mean field flow $\mu_t(s \mid m)$: " + f"{labels[0]} (solid) vs {labels[1]} "
             "(dashed)")
    if S <= LINE_MAX_STATES:
        fig = _figure(1.2 + 3.3 * K + 1.8, 3.2)
        axes = fig.subplots(1, K, squeeze=False)[0]
        y_label = (f"share in state {state_labels[1]}" if S == 2 else "share of agents")
        _comparison_lines(axes, expert, learned, labels=labels, state_labels=state_labels,
                          type_labels=type_labels, y_label=y_label, states=_line_states(S))
    else:
        panel_height = min(max(2.4, 1.3 + 0.22 * S), 5.0)
        fig = _figure(0.9 + 3.3 * K + 0.8, 2 * panel_height + 0.6)
        axes = fig.subplots(2, K, squeeze=False)
        _comparison_heatmaps(fig, axes, expert, learned, labels=labels,
                             state_labels=state_labels, type_labels=type_labels,
                             colour_label=r"share of agents $\mu_t(s \mid m)$")
        title = r"Mean field flow $\mu_t(s \mid m)$: " + f"{labels[0]} vs {labels[1]}"
    fig.suptitle(title)
    return fig


def _compared_action(expert: np.ndarray, action) -> int:
    """The action of :func:`plot_policy_comparison`: ``action``, else 1 for two actions,
    else the one the experts use most (summed over types, steps and states)."""
    A = expert.shape[-1]
    if action is None:
        return 1 if A == 2 else int(np.argmax(expert.sum(axis=(0, 1, 2))))
    if isinstance(action, (bool, np.bool_)) or not isinstance(action, (int, np.integer)) \
            or not 0 <= action < A:
        raise ValueError(f"action must be an integer in [0, {A - 1}] or None, got {action!r}")
    return int(action)


def plot_policy_comparison(expert, learned, *, action=None, type_labels=None,
                           state_labels=None, action_labels=None,
                           labels: Sequence[str] = ("experts", "learned")) -> Figure:
    r"""The experts' policy against the learned equilibrium's, for one action, per type.

    Draws :math:`\pi_t(a \mid s, m)` of one action :math:`a`: with at most
    :data:`LINE_MAX_STATES` states one panel per type and a line per state,
    experts solid and learned dashed; with more, two rows of state-by-time
    heatmaps (experts, learned) on the colour scale [0, 1].

    Parameters
    ----------
    expert, learned : array_like, shape (K, T, S, A) or (T, S, A)
        ``policy[m, t, s, a]``, both in the order of the true types.
    action : int, optional
        The action drawn; default: action 1 when ``A == 2`` (action 0 is its
        complement), else the action the experts use most.
    type_labels, state_labels, action_labels : sequence of str, optional
        ``K``, ``S`` and ``A`` names.
    labels : pair of str, default ("experts", "learned")
        Names of the two policies.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        Shapes that differ or are wrong, rows that are not distributions, a
        bad ``action``, labels of the wrong length.

    Examples
    --------
    >>> import numpy as np
    >>> from tabmfirl import plot
    >>> policy = np.full((3, 5, 2, 2), 0.5)
    >>> len(plot.plot_policy_comparison(policy, policy).axes)
    3
    """
    expert, learned = _pair(expert, learned, _check_policy, ("expert", "learned"))
    K, T, S, A = expert.shape
    a = _compared_action(expert, action)
    labels = _labels(labels, 2, "labels", "{}")
    type_labels = _labels(type_labels, K, "type_labels", "type {}")
    state_labels = _labels(state_labels, S, "state_labels", "{}")
    action_labels = _labels(action_labels, A, "action_labels", "a={}")
    what = r"$\pi_t($" + f"{action_labels[a]}" + r"$\mid s, m)$"
    if S <= LINE_MAX_STATES:
        fig = _figure(1.2 + 3.3 * K + 1.8, 3.2)
        axes = fig.subplots(1, K, squeeze=False)[0]
        _comparison_lines(axes, expert[..., a], learned[..., a], labels=labels,
                          state_labels=state_labels, type_labels=type_labels,
                          y_label=f"probability of {action_labels[a]}", states=range(S))
        fig.suptitle(f"Policy {what}: {labels[0]} (solid) vs {labels[1]} (dashed)")
        return fig
    panel_height = min(max(2.4, 1.3 + 0.22 * S), 5.0)
    fig = _figure(0.9 + 3.3 * K + 0.8, 2 * panel_height + 0.6)
    axes = fig.subplots(2, K, squeeze=False)
    _comparison_heatmaps(fig, axes, expert[..., a], learned[..., a], labels=labels,
                         state_labels=state_labels, type_labels=type_labels,
                         colour_label=f"probability {what}", top=1.0)
    fig.suptitle(f"Policy {what}: {labels[0]} vs {labels[1]}")
    return fig


# ------------------------------------------------------------------ training
def plot_training(history: Mapping, *, log_scale=None, type_labels=None) -> Figure:
    r"""Training curves: one panel per entry of a history dict.

    Parameters
    ----------
    history : dict of str to array_like, shape (n,) or (n, K), or a result object
        E.g. ``{"loss": ..., "mutual_information": ..., "type_accuracy": ...,
        "exploitability": ...}``, one value per recorded iteration.  A 2-D
        entry draws one line per column (per type), e.g.
        ``EquilibriumResult.exploitability_history``.  NaN marks an
        iteration where the quantity was not recorded (skipped); entries may
        have different lengths.  A result object (e.g. an
        :class:`tabmfirl.EquilibriumResult`) stands for the dict of its
        ``<name>_history`` attributes, keyed by ``<name>``.
    log_scale : None, bool or collection of str, default None
        Keys drawn on a logarithmic y axis.  ``None``: keys naming a
        non-negative quantity that goes to 0 (containing
        ``"exploitability"``, ``"residual"``, ``"nash_conv"``,
        ``"grad_norm"``...) with at least one positive value.
        ``True``/``False``: every key / none.  On a log axis, values
        :math:`\le 0` (an exploitability of ``-1e-15`` is round-off) are drawn
        at a floor, :math:`10^{-16}` times the largest value, and the axis
        label says so.
    type_labels : sequence of str, optional
        Legend names of the columns of 2-D entries (default ``"type m"``).

    Returns
    -------
    matplotlib.figure.Figure
        One panel per key (at most three per row), x axis the iteration.

    Raises
    ------
    ValueError
        An empty dict (or an object without ``*_history`` attributes), an
        entry that is not 1-D or 2-D, has infinite values
        or nothing recorded, a log-scale key without any positive value, keys
        in ``log_scale`` that are not in ``history``.

    Examples
    --------
    >>> import numpy as np
    >>> from tabmfirl import plot
    >>> history = {"loss": np.linspace(2, 1, 20), "exploitability": np.logspace(0, -6, 20)}
    >>> fig = plot.plot_training(history)
    >>> len(fig.axes), fig.axes[1].get_yscale()
    (2, 'log')
    """
    history = _history_dict(history)
    curves = {}
    for key, values in history.items():
        values = _array(values, f"history[{key!r}]", (1, 2), allow_nan=True)
        if not np.any(np.isfinite(values)):
            raise ValueError(f"history[{key!r}] has no recorded (non-NaN) value")
        curves[str(key)] = values if values.ndim == 2 else values[:, None]
    if log_scale is None:
        log_keys = {key for key, values in curves.items()
                    if any(word in key.lower() for word in _LOG_KEYS)
                    and np.nanmax(values) > 0}
    elif isinstance(log_scale, (bool, np.bool_)):
        log_keys = set(curves) if log_scale else set()
    else:
        log_keys = {str(key) for key in log_scale}
        unknown = log_keys - set(curves)
        if unknown:
            raise ValueError(f"log_scale names keys not in history: {sorted(unknown)}")
    floors = {}
    for key in log_keys:
        values = curves[key]
        if not np.nanmax(values) > 0:
            raise ValueError(f"history[{key!r}] has no positive value: cannot use a log "
                             f"scale (leave it out of log_scale)")
        if np.nanmin(values) <= 0:
            floors[key] = 1e-16 * float(np.nanmax(values))
            curves[key] = np.where(values > 0, values, floors[key])
    n = len(curves)
    cols = min(n, 3)
    rows = -(-n // cols)
    fig = _figure(0.6 + 3.6 * cols, 2.8 * rows + 0.5)
    axes = _grid(fig, n, 3)
    for ax, (key, values) in zip(axes, curves.items()):
        n_iter, n_lines = values.shape
        labels = _labels(type_labels if n_lines > 1 else None, n_lines, "type_labels",
                         "type {}")
        colours = _type_colours(n_lines) if n_lines > 1 else ["C0"]
        x = np.arange(1, n_iter + 1)
        for j in range(n_lines):
            keep = np.isfinite(values[:, j])
            ax.plot(x[keep], values[keep, j], color=colours[j], label=labels[j],
                    marker="o" if keep.sum() <= 30 else None, markersize=3)
        if key in log_keys:
            ax.set_yscale("log")
        ax.set_title(_pretty(key))
        ax.set_xlabel("iteration")
        label = _pretty(key)
        if key in floors:
            label += f"\n(log scale; values ≤ 0 at {floors[key]:.0e})"
        elif key in log_keys:
            label += " (log scale)"
        ax.set_ylabel(label)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        if n_lines > 1:
            ax.legend(fontsize=8)
    fig.suptitle("Training history")
    return fig


def _has_finite(values) -> bool:
    """Whether ``values`` (array-like or None) holds a finite number."""
    try:
        return values is not None and bool(np.any(np.isfinite(np.asarray(values, dtype=float))))
    except (TypeError, ValueError):
        return True  # not numbers: let the caller's check name the problem


def _history_dict(history) -> Mapping:
    """``history`` itself, or the ``*_history`` attributes of a result object.

    A result object's histories that hold no finite value are left out: a
    method records only what it measures (``solve_equilibrium``'s default
    never measures the exploitability during its iteration).
    """
    if isinstance(history, Mapping):
        if len(history) == 0:
            raise ValueError("history must be a non-empty dict of 1-D arrays")
        return history
    if dataclasses.is_dataclass(history) and not isinstance(history, type):
        names = [field.name for field in dataclasses.fields(history)]
    else:
        names = list(getattr(history, "__dict__", {}))
    found = {name[:-len("_history")]: getattr(history, name) for name in names
             if name.endswith("_history") and len(name) > len("_history")
             and _has_finite(getattr(history, name))}
    if not found:
        raise ValueError(f"history must be a dict of 1-D arrays or an object with "
                         f"`*_history` attributes, got {type(history).__name__}")
    return found


# ---------------------------------------------------------------- embeddings
def _pca(x: np.ndarray, n: int = 2):
    """Scores on the first ``n`` principal axes and their shares of the variance."""
    centred = x - x.mean(axis=0)
    u, singular, _ = np.linalg.svd(centred, full_matrices=False)
    total = float(np.sum(singular ** 2))
    share = singular ** 2 / total if total > 0 else np.zeros_like(singular)
    scores = u[:, :n] * singular[:n]
    if scores.shape[1] < n:
        scores = np.hstack([scores, np.zeros((x.shape[0], n - scores.shape[1]))])
        share = np.concatenate([share, np.zeros(n - share.size)])
    return scores, share[:n]


def _is_posterior(x: np.ndarray) -> bool:
    return x.shape[1] >= 2 and x.min() >= 0.0 and x.max() <= 1.0 + 1e-9 \
        and bool(np.all(np.abs(x.sum(axis=1) - 1.0) < 1e-6))


def plot_embeddings(posterior_or_embedding, true_types, *, kind: Optional[str] = None,
                    type_labels=None) -> Figure:
    r"""Inferred types of the demonstrations, coloured by their true type.

    Parameters
    ----------
    posterior_or_embedding : array_like, shape (N, K) or (N, d)
        Either a categorical posterior :math:`q(m \mid \tau_i)` (rows on the
        simplex) or a continuous latent code :math:`z_i` per trajectory.
    true_types : array_like of int, shape (N,)
        True type of each trajectory (``Demonstrations.types``).
    kind : {"posterior", "latent"} or None, default None
        How to read the first argument.  ``None``: a posterior when every row
        is a probability vector with at least two entries, else a latent.
    type_labels : sequence of str, optional
        Names of the true types (``max(true_types) + 1`` entries; default
        ``"type m"``).

    Returns
    -------
    matplotlib.figure.Figure
        One panel.  Posterior with ``K = 2``: histograms of
        :math:`q(m=1 \mid \tau)` per true type; ``K = 3``: the points in the
        probability triangle (barycentric coordinates, corner ``m`` =
        certainty of type ``m``); ``K > 3``: the first two principal
        components of the posterior.  Latent with ``d = 1``: histograms;
        ``d = 2``: the codes themselves; ``d > 2``: the first two principal
        components (PCA by SVD of the centred codes; the axis labels give the
        share of variance explained).

    Raises
    ------
    ValueError
        Wrong shapes or lengths, non-finite values, negative or non-integer
        true types, ``kind="posterior"`` with rows off the simplex.

    Examples
    --------
    >>> import numpy as np
    >>> from tabmfirl import plot
    >>> posterior = np.random.default_rng(0).dirichlet(np.ones(3), size=30)
    >>> fig = plot.plot_embeddings(posterior, np.arange(30) % 3)
    >>> len(fig.axes)
    1
    """
    x = _array(posterior_or_embedding, "posterior_or_embedding", (1, 2))
    if x.ndim == 1:
        x = x[:, None]
    N = x.shape[0]
    types = _true_types(true_types, N)
    n_true = int(types.max()) + 1
    type_labels = _labels(type_labels, n_true, "type_labels", "type {}")
    if kind is None:
        kind = "posterior" if _is_posterior(x) else "latent"
    if kind not in ("posterior", "latent"):
        raise ValueError(f"kind must be 'posterior', 'latent' or None, got {kind!r}")
    if kind == "posterior" and not _is_posterior(x):
        raise ValueError("a posterior must have at least 2 columns and rows that are "
                         "probability vectors (non-negative, summing to 1)")
    colours = _type_colours(n_true)
    fig = _figure(6.0, 4.8)
    ax = fig.subplots()
    d = x.shape[1]
    if (kind == "posterior" and d == 2) or (kind == "latent" and d == 1):
        title = _embedding_histograms(ax, x, kind, types, colours, type_labels)
    else:
        points, title = _embedding_points(ax, x, kind)
        for m in range(n_true):
            chosen = types == m
            if np.any(chosen):
                ax.scatter(points[chosen, 0], points[chosen, 1], s=14, alpha=0.6,
                           color=colours[m], label=type_labels[m], edgecolors="none")
    ax.set_title(f"{title}, N = {N}")
    ax.legend(title="true type", fontsize=8, loc="best")
    return fig


def _true_types(true_types, N: int) -> np.ndarray:
    """``true_types`` as ``N`` non-negative int64 labels (ValueError otherwise)."""
    try:
        labels_in = np.asarray(true_types)
        types = labels_in.astype(np.int64)
    except (TypeError, ValueError):
        raise ValueError("true_types must be an array of integers") from None
    if types.shape != (N,):
        raise ValueError(f"true_types must have shape ({N},) to match "
                         f"posterior_or_embedding, got {types.shape}")
    if not np.array_equal(types, labels_in) or (N and types.min() < 0):
        raise ValueError("true_types must hold non-negative integers")
    return types


def _embedding_histograms(ax, x, kind, types, colours, type_labels) -> str:
    r"""Histograms per true type of :math:`q(m=1 \mid \tau)` or a 1-D code; the title."""
    values = x[:, 1] if kind == "posterior" else x[:, 0]
    low, high = (0.0, 1.0) if kind == "posterior" else (values.min(), values.max())
    bins = np.linspace(low, high if high > low else low + 1.0, 21)
    for m in range(len(colours)):
        if np.any(types == m):
            ax.hist(values[types == m], bins=bins, histtype="stepfilled", alpha=0.45,
                    color=colours[m], edgecolor=colours[m], label=type_labels[m])
    ax.set_xlabel(r"posterior $q(m = 1 \mid \tau)$" if kind == "posterior"
                  else "latent code z")
    ax.set_ylabel("number of trajectories")
    return "Posterior over two types" if kind == "posterior" else "1-D latent codes"


def _embedding_points(ax, x, kind) -> tuple:
    """``(points (N, 2), title)``: the 3-type simplex, 2-D codes, or the first two principal
    components; the axes are labelled."""
    d = x.shape[1]
    if kind == "posterior" and d == 3:
        corners = np.array([[0.0, 0.0], [1.0, 0.0], [0.5, np.sqrt(3) / 2]])
        ax.plot(*np.vstack([corners, corners[:1]]).T, color="0.4", linewidth=1)
        for m, (cx, cy) in enumerate(corners):
            ax.annotate(f"q(m={m}) = 1", (cx, cy), ha="center", fontsize=9,
                        xytext=(0, 8 if m == 2 else -14), textcoords="offset points")
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        for side in ax.spines.values():
            side.set_visible(False)
        ax.set_xlabel(r"position: barycentric coordinates $q(m \mid \tau)$ "
                      "(3-type simplex)")
        ax.set_ylabel("closer to a corner = surer")
        ax.set_ylim(-0.12, np.sqrt(3) / 2 + 0.1)
        return x @ corners, r"Posterior $q(m \mid \tau)$ over three types"
    if d == 2:
        ax.set_xlabel(r"latent $z_1$")
        ax.set_ylabel(r"latent $z_2$")
        return x, "Latent codes"
    points, share = _pca(x)
    name = "posterior" if kind == "posterior" else "latent codes"
    ax.set_xlabel(f"principal component 1 ({100 * share[0]:.0f}% of variance)")
    ax.set_ylabel(f"principal component 2 ({100 * share[1]:.0f}% of variance)")
    return points, f"PCA of the {name} (dimension {d})"


# ------------------------------------------------------------------- metrics
def _metric_value(value, where: str):
    """``(mean, std)`` of a table entry: a number or a ``(mean, std)`` pair."""
    if isinstance(value, Real) and not isinstance(value, (bool, np.bool_)):
        mean, std = float(value), 0.0
    else:
        try:
            mean, std = (float(v) for v in value)
        except (TypeError, ValueError):
            raise ValueError(f"{where} must be a number or a (mean, std) pair, got "
                             f"{value!r}") from None
    if not np.isfinite(mean) or not np.isfinite(std) or std < 0:
        raise ValueError(f"{where} must have a finite mean and a finite std >= 0, "
                         f"got ({mean}, {std})")
    return mean, std


def plot_metrics(table: Mapping, *, metrics: Optional[Sequence[str]] = None,
                 layout: str = "panels") -> Figure:
    """Bar charts comparing methods on several metrics, with error bars.

    Parameters
    ----------
    table : dict of str to dict of str to (float, float) or float
        ``table[method][metric] = (mean, std)`` over seeds (a bare number
        means no spread).  A method may lack a metric (e.g. type accuracy for
        a method without types): its bar is left out and marked "n/a".
    metrics : sequence of str, optional
        Metrics shown, in order (default: every metric, in first-seen order).
    layout : {"panels", "grouped"}, default "panels"
        ``"panels"``: one panel per metric, one bar per method (each metric
        on its own scale).  ``"grouped"``: one panel, metrics along the x axis
        and a group of bars per metric (for metrics on a common scale).

    Returns
    -------
    matplotlib.figure.Figure
        Bars at the mean, error bars of one standard deviation (none where the
        standard deviation is 0, e.g. one run), methods in a consistent
        colour; up to four metric panels in one row (no empty panels).

    Raises
    ------
    ValueError
        An empty table, entries that are not a number or a finite
        ``(mean, std >= 0)`` pair, unknown metrics or layout.

    Examples
    --------
    >>> from tabmfirl import plot
    >>> table = {"PEMMFIRL": {"type accuracy": (0.95, 0.02), "reward corr.": (0.9, 0.05)},
    ...          "MFIRL": {"reward corr.": (0.6, 0.1)}}
    >>> fig = plot.plot_metrics(table)
    >>> len(fig.axes)
    2
    """
    if not isinstance(table, Mapping) or len(table) == 0:
        raise ValueError("table must be a non-empty dict: method -> {metric: (mean, std)}")
    values, seen = {}, []
    for method, row in table.items():
        if not isinstance(row, Mapping) or len(row) == 0:
            raise ValueError(f"table[{method!r}] must be a non-empty dict metric -> (mean, std)")
        for metric, value in row.items():
            values[str(method), str(metric)] = _metric_value(
                value, f"table[{method!r}][{metric!r}]")
            if str(metric) not in seen:
                seen.append(str(metric))
    methods = [str(method) for method in table]
    if metrics is None:
        metrics = seen
    else:
        metrics = [str(metric) for metric in metrics]
        unknown = [metric for metric in metrics if metric not in seen]
        if unknown or not metrics:
            raise ValueError(f"metrics must name metrics in the table {seen}, got {metrics}")
    if layout not in ("panels", "grouped"):
        raise ValueError(f"layout must be 'panels' or 'grouped', got {layout!r}")
    colours = [f"C{i % 10}" for i in range(len(methods))]
    long_names = max(len(method) for method in methods) > 8

    if layout == "grouped":
        fig = _figure(max(5.0, 1.2 + len(metrics) * (0.5 + 0.45 * len(methods))), 4.2)
        ax = fig.subplots()
        width = 0.8 / len(methods)
        for i, method in enumerate(methods):
            x = np.arange(len(metrics)) - 0.4 + width * (i + 0.5)
            for j, metric in enumerate(metrics):
                if (method, metric) not in values:
                    ax.text(x[j], 0, "n/a", ha="center", va="bottom", fontsize=7,
                            rotation=90)
            mean = [values.get((method, metric), (np.nan, 0))[0] for metric in metrics]
            std = [values.get((method, metric), (np.nan, 0))[1] for metric in metrics]
            ax.bar(x, mean, width, yerr=std if any(std) else None, capsize=3,
                   color=colours[i], label=method)
        ax.set_xticks(range(len(metrics)), [_pretty(metric) for metric in metrics],
                      rotation=20 if len(metrics) > 3 else 0)
        ax.set_xlabel("metric")
        ax.set_ylabel("value (mean ± std)")
        ax.set_title("Methods compared")
        ax.axhline(0, color="0.3", linewidth=0.8)
        ax.legend(title="method", fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        ax.grid(axis="y", alpha=0.3)
        return fig

    n = len(metrics)
    cols = _metric_columns(n)
    rows = -(-n // cols)
    fig = _figure(0.6 + cols * max(2.8, 0.9 + 0.6 * len(methods)),
                  (3.2 if long_names else 2.8) * rows + 0.5)
    axes = _grid(fig, n, cols)
    spread = any(std > 0 for _, std in values.values())
    for ax, metric in zip(axes, metrics):
        for i, method in enumerate(methods):
            if (method, metric) in values:
                mean, std = values[method, metric]
                # no error bar where there is no spread (one run): a zero-width bar
                # would read as a measured, negligible spread
                ax.bar(i, mean, 0.7, yerr=std if std > 0 else None, capsize=3,
                       color=colours[i])
            else:
                ax.text(i, 0, "n/a", ha="center", va="bottom", fontsize=8)
        ax.set_xticks(range(len(methods)), methods, rotation=30 if long_names else 0,
                      ha="right" if long_names else "center")
        ax.set_xlim(-0.6, len(methods) - 0.4)
        ax.axhline(0, color="0.3", linewidth=0.8)
        ax.set_title(_pretty(metric))
        ax.set_xlabel("method")
        ax.set_ylabel(_pretty(metric))
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle("Methods compared (mean ± one standard deviation)" if spread else
                 "Methods compared (one run each: no spread to show)")
    return fig


def _metric_columns(n: int) -> int:
    """Columns of the metric panels: a full last row where possible (no empty panel)."""
    if n <= 5:
        return n
    for cols in (4, 3):
        if n % cols == 0:
            return cols
    return 4 if n % 4 > n % 3 else 3


# --------------------------------------------------------------- equilibrium
def _spec_labels(spec, K: int, S: int, A: int):
    """Type, state and action names from ``spec.info`` when it has them."""
    info = getattr(spec, "info", None) or {}
    states, actions = info.get("states"), info.get("actions")
    state_labels = [str(s) for s in states] if isinstance(states, (list, tuple)) \
        and len(states) == S else None
    action_labels = [str(a) for a in actions] if isinstance(actions, (list, tuple)) \
        and len(actions) == A else None
    type_labels = None
    for key, value in info.items():
        if isinstance(value, (list, tuple)) and len(value) == K and key.endswith("s") \
                and all(isinstance(v, Real) for v in value):
            type_labels = [f"{_pretty(key[:-1])} {v:g}" for v in value]
            break
    return type_labels, state_labels, action_labels


def plot_equilibrium(result, spec=None, *, action=None, vmin: Optional[float] = None,
                     vmax: Optional[float] = None, type_labels=None) -> Figure:
    r"""Mean field flow and policy of every type of an equilibrium, side by side.

    Parameters
    ----------
    result : EquilibriumResult or object
        Anything with ``policy`` ``(K, T, S, A)`` and ``mean_field``
        ``(K, T+1, S)`` attributes; ``method``, ``temperature``,
        ``converged`` and ``exploitability`` go into the title when present.
    spec : MFGSpec, optional
        The game: its name, and state, action and type names from
        ``spec.info`` (``"states"``, ``"actions"`` and the first list of
        ``K`` numbers, e.g. ``"distancing_costs"``).
    action : int, "all" or None, default None
        Actions whose policy is drawn, as in :func:`plot_policies`.
    vmin, vmax : float or None, default None
        Colour scale of the policy panels.  ``None`` fits that end to the
        probabilities shown (entropy-regularised equilibria are often close to
        uniform, and a [0, 1] scale would hide the differences between
        types); pass ``0.0`` and ``1.0`` for an absolute scale.
    type_labels : sequence of str, optional
        ``K`` type names (overrides those taken from ``spec``).

    Returns
    -------
    matplotlib.figure.Figure
        One row per type: :math:`\mu_t(s \mid m)`, then
        :math:`\pi_t(a \mid s, m)` for each action shown; one colour bar for
        the flows and one for the policies.

    Raises
    ------
    ValueError
        ``result`` without the arrays, or arrays of inconsistent shapes.

    Examples
    --------
    >>> from tabmfirl import plot, solve_equilibrium
    >>> from tabmfirl.envs import virus
    >>> spec = virus.make(types=2, horizon=5)
    >>> fig = plot.plot_equilibrium(solve_equilibrium(spec, backend="numpy"), spec)
    >>> len(fig.axes)  # 2 types x (flow, policy) and 2 colour bars
    6
    """
    if not hasattr(result, "policy") or not hasattr(result, "mean_field"):
        raise ValueError("result must have `policy` and `mean_field` attributes "
                         "(an EquilibriumResult)")
    policy = _check_policy(result.policy, "result.policy")
    mean_field = _check_mean_field(result.mean_field, "result.mean_field")
    K, T, S, A = policy.shape
    if mean_field.shape != (K, T + 1, S):
        raise ValueError(f"result.mean_field must have shape (K, T+1, S) = "
                         f"{(K, T + 1, S)} to match the policy, got {mean_field.shape}")
    types_spec, state_labels, action_labels = _spec_labels(spec, K, S, A)
    type_labels = _labels(type_labels if type_labels is not None else types_spec, K,
                          "type_labels", "type {}")
    action_labels = _labels(action_labels, A, "action_labels", "a={}")
    actions = _shown_actions(action, A)
    cols = 1 + len(actions)
    panel_height = min(1.3 + 0.22 * S, 4.0)
    fig = _figure(0.8 + 3.6 * cols, K * (panel_height + 0.25) + 1.6)
    axes = fig.subplots(K, cols, squeeze=False)
    norm = Normalize(0.0, float(mean_field.max()) or 1.0)
    for m in range(K):
        ax = axes[m, 0]
        image = _heatmap(ax, mean_field[m].T, cmap="viridis", norm=norm,
                         y_labels=state_labels)
        ax.set_title(f"{type_labels[m]}\n" + r"$\mu_t(s)$", fontsize=10)
        ax.set_xlabel("time step t")
        ax.set_ylabel("state s")
    fig.colorbar(image, ax=axes[:, 0].tolist(), label=r"share of agents $\mu_t(s \mid m)$",
                 location="bottom", shrink=0.9, aspect=30)
    image = _policy_panels(fig, axes[:, 1:].T, policy, actions, type_labels=type_labels,
                           state_labels=state_labels, action_labels=action_labels,
                           norm=_policy_norm(policy[..., actions], vmin, vmax), y_label=False)
    fitted = " (scale fitted to the data)" if vmin is None or vmax is None else ""
    fig.colorbar(image, ax=axes[:, 1:].ravel().tolist(),
                 label=r"probability $\pi_t(a \mid s, m)$" + fitted, location="bottom",
                 shrink=0.9, aspect=30 * len(actions))
    title = f"{getattr(spec, 'name', None) or 'game'}: equilibrium"
    details = []
    if getattr(result, "method", None) is not None:
        details.append(str(result.method))
    if getattr(result, "temperature", None) is not None:
        details.append(f"temperature {float(result.temperature):g}")
    if getattr(result, "converged", None) is not None:
        details.append("converged" if result.converged else "NOT converged")
    if getattr(result, "exploitability", None) is not None:
        details.append(f"max exploitability {float(np.max(result.exploitability)):.1e}")
    fig.suptitle(title + (f" ({', '.join(details)})" if details else ""))
    return fig


# ---------------------------------------------------------------------- save
def save(fig: Figure, path: Union[str, Path], *, dpi: int = 150) -> Path:
    """Write ``fig`` to ``path`` (format from the suffix), creating parent folders.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    path : str or pathlib.Path
        Output file, e.g. ``"figures/rewards.png"``.
    dpi : int, default 150

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ValueError
        ``fig`` is not a matplotlib figure.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from tabmfirl import plot
    >>> fig = plot.plot_training({"loss": np.linspace(1, 0, 5)})
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     plot.save(fig, f"{folder}/sub/loss.png").stat().st_size > 1000
    True
    """
    if not isinstance(fig, Figure):
        raise ValueError(f"fig must be a matplotlib Figure, got {type(fig).__name__}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    return path
