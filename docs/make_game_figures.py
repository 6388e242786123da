"""Draw docs/figures/<game>.png: per-type equilibrium flows and policies of every game.

Run from the repository root (needs matplotlib)::

    python docs/make_game_figures.py

Each figure has one row per agent type: on the left the mean field flow
:math:`\\mu_t(s \\mid m)` (state x time heatmap), on the right the policy,
:math:`\\pi_t(a^\\star \\mid s, m)` of the game's "active" action for the
two-action games, or the probability of replaying the hand held,
:math:`\\pi_t(h^{-1}(s) \\mid s, m)`, for rock-paper-scissors.  The policy colour
scale is shared by the types and fitted to the data, so it does not span
[0, 1].  Equilibria are
solved with the default solver at the game's temperature (``tabmfirl.envs.solver_settings``)
on the NumPy reference backend.
"""
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from tabmfirl import envs, solve_equilibrium  # noqa: E402

FIGURES = Path(__file__).resolve().parent / "figures"

#: Per game: (label of each type's weight, info key of the weights, action shown,
#: state tick labels or None for numbers).
LAYOUT = {
    "malware": (r"$\lambda$", "repair_costs", "repair", None),
    "investment": (r"$\lambda$", "invest_costs", "invest", None),
    "virus": ("c", "distancing_costs", "distance", ["S", "I"]),
    "rock_paper_scissors": ("c", "switching_costs", None, ["null", "R", "P", "S"]),
    "left_right": ("w", "right_aversions", "right", ["C", "L", "R"]),
}


def draw(name: str, dynamics: str = "original") -> Path:
    """Solve game ``name`` and write its figure; return the path."""
    spec = envs.make(name, dynamics=dynamics)
    settings = envs.solver_settings(name)
    result = solve_equilibrium(spec, backend="numpy", **settings)
    if not result.converged:
        raise RuntimeError(f"{name}: equilibrium did not converge")
    weight_label, weight_key, action, state_labels = LAYOUT[name]
    weights = spec.info[weight_key]
    K, T, S = spec.n_contexts, spec.horizon, spec.n_states
    fig, axes = plt.subplots(K, 2, figsize=(11, 2.6 * K + 0.6), squeeze=False,
                             constrained_layout=True)
    flow_max = float(result.mean_field.max())
    if action is None:
        # rock-paper-scissors: probability of replaying the hand held (state s = a + 1);
        # undefined (NaN, blank) in the null state
        shown = np.full((K, T, S), np.nan)
        for s in range(1, S):
            shown[:, :, s] = result.policy[:, :, s, s - 1]
    else:
        shown = result.policy[..., spec.info["actions"].index(action)]
    # one colour scale for all types, fitted to the data, so differences show
    low, high = float(np.nanmin(shown)), float(np.nanmax(shown))
    for m in range(K):
        ax = axes[m, 0]
        image = ax.imshow(result.mean_field[m].T, origin="lower", aspect="auto",
                          cmap="viridis", vmin=0.0, vmax=flow_max,
                          extent=(-0.5, T + 0.5, -0.5, S - 0.5), interpolation="nearest")
        ax.set_title(f"type {m} ({weight_label} = {weights[m]:g}): mean field "
                     r"$\mu_t(s \mid m)$")
        ax.set_xlabel("time step t")
        ax.set_ylabel("state s")
        _state_ticks(ax, S, state_labels)
        fig.colorbar(image, ax=ax, label="share of agents")

        ax = axes[m, 1]
        image = ax.imshow(shown[m].T, origin="lower", aspect="auto", cmap="magma",
                          vmin=low, vmax=high, extent=(-0.5, T - 0.5, -0.5, S - 0.5),
                          interpolation="nearest")
        ax.set_ylabel("state s")
        _state_ticks(ax, S, state_labels)
        if action is None:
            ax.set_title(f"type {m}: policy, P(keep the same hand | s)")
            fig.colorbar(image, ax=ax, label="P(keep hand)")
        else:
            ax.set_title(f"type {m}: policy " r"$\pi_t($" f"{action}" r"$\mid s, m)$")
            fig.colorbar(image, ax=ax, label=f"P({action})")
        ax.set_xlabel("time step t")
    fig.suptitle(f"{name} ({dynamics} dynamics): equilibrium at "
                 f"temperature {settings['temperature']:g}, horizon {T}", fontsize=13)
    FIGURES.mkdir(parents=True, exist_ok=True)
    path = FIGURES / f"{name}.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _state_ticks(ax, n_states, labels):
    if labels is not None:
        ax.set_yticks(range(n_states), labels)
    else:
        ax.set_yticks(range(n_states))


def main():
    # The five small benchmark games; the crowd grid and the taxi city are spatial
    # games whose state x time heatmaps would not be readable.
    for name in sorted(LAYOUT):
        print(draw(name))


if __name__ == "__main__":
    main()
