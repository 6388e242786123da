"""
Equilibria and demonstrations of the virus and malware games
==============================================================

Solve the entropy-regularised mean field Nash equilibrium (ERMFNE) of every
agent type in two benchmark games, draw its mean field flows and policies with
:mod:`tabmfirl.plot`, roll out a finite population of agents and compare the
demonstrations' statistics with the exact flow.

Run from the repository root (needs matplotlib)::

    python examples/plot_equilibrium.py [--small] [--out FOLDER]

``--small`` (or the environment variable ``TABMFIRL_EXAMPLES_SMALL=1``) uses
short horizons and few agents, so the script runs in seconds (the test suite
runs it that way).  The PNGs go to ``--out`` (default ``examples/output/``).
"""
# %%
# Options
# -------
# Sphinx-gallery runs the script without arguments; ``parse_known_args``
# ignores whatever else the caller passes.
import argparse
import os
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

import tabmfirl
from tabmfirl import envs, plot

parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
parser.add_argument("--small", action="store_true",
                    help="short horizons and few agents (also TABMFIRL_EXAMPLES_SMALL=1)")
parser.add_argument("--out", type=Path,
                    default=Path(__file__).resolve().parent / "output",
                    help="folder for the PNGs (default: examples/output/)")
options, _ = parser.parse_known_args()
SMALL = options.small or os.environ.get("TABMFIRL_EXAMPLES_SMALL", "") not in ("", "0")
OUT = options.out

#: Per game: horizon (small mode only; full mode uses the game's default),
#: the ``spec.info`` key of the per-type weights and the name of that weight.
GAMES = {
    "virus": {"horizon": 12, "weights": "distancing_costs", "weight_name": "distancing cost"},
    "malware": {"horizon": 8, "weights": "repair_costs", "weight_name": "repair cost"},
}
AGENTS_PER_TYPE = 200 if SMALL else 2000
DPI = 60 if SMALL else 150      # small mode: quick, low-resolution PNGs
written = []

# %%
# Solve the equilibrium of every type
# -----------------------------------
# ``envs.solver_settings`` gives the game's temperature (the default solver
# needs nothing else); the NumPy backend avoids compiling Numba kernels for a
# few small games.
results, specs = {}, {}
for name, layout in GAMES.items():
    kwargs = {"horizon": layout["horizon"]} if SMALL else {}
    spec = envs.make(name, **kwargs)
    result = tabmfirl.solve_equilibrium(spec, backend="numpy", **envs.solver_settings(name))
    print(f"{name}: converged={result.converged} after {result.num_iter} iterations, "
          f"exploitability per type {np.array2string(result.exploitability, precision=1)}")
    specs[name], results[name] = spec, result

# %%
# Flows and policies
# ------------------
# One row per type: the share of agents in each state over time, and the
# probability of the game's "active" action (distance, repair).  The policy
# colour scale is fitted to the data: at temperature 1 the policies are far
# from deterministic.
for name, result in results.items():
    written.append(plot.save(plot.plot_equilibrium(result, specs[name]),
                             OUT / f"{name}_equilibrium.png", dpi=DPI))

# %%
# Solver convergence
# ------------------
# The default solver's flow residual per iterate and the fixed-point residual
# where it measured it, on a log scale (``method="fixed_point"`` would also
# record each type's exploitability per iterate). ``plot_training`` reads the
# ``*_history`` attributes of a result object that hold a value.
for name, result in results.items():
    labels = [f"{GAMES[name]['weight_name']} {w:g}"
              for w in specs[name].info[GAMES[name]["weights"]]]
    fig = plot.plot_training(result, type_labels=labels)
    fig.suptitle(f"{name}: convergence of the equilibrium solver")
    written.append(plot.save(fig, OUT / f"{name}_solver.png", dpi=DPI))

# %%
# Demonstrations: a finite population
# -----------------------------------
# ``generate_demonstrations`` rolls out ``AGENTS_PER_TYPE`` agents of each type;
# each type's dynamics read the empirical distribution of its own agents, so
# the empirical flow fluctuates around the exact one by about
# :math:`1/\sqrt{N}`.  First the empirical flows themselves:
demos = {}
for name, result in results.items():
    spec = specs[name]
    demos[name] = tabmfirl.generate_demonstrations(spec, result.policy,
                                                   n_agents=AGENTS_PER_TYPE, seed=0)
    labels = [f"{GAMES[name]['weight_name']} {w:g}" for w in spec.info[GAMES[name]["weights"]]]
    states = spec.info["states"] if isinstance(spec.info["states"], list) else None
    fig = plot.plot_mean_fields(demos[name].empirical_mean_field(), type_labels=labels,
                                state_labels=states)
    fig.suptitle(f"{name}: empirical flow of {AGENTS_PER_TYPE} agents per type")
    written.append(plot.save(fig, OUT / f"{name}_demo_flow.png", dpi=DPI))


# %%
# Demonstrations against the exact equilibrium
# --------------------------------------------
# Two summaries per type: the mean state :math:`\sum_s s\,\mu_t(s)` (the share
# infected for the virus game, the mean infection level for malware) and the
# share of agents taking the active action,
# :math:`\sum_s \mu_t(s)\,\pi_t(1 \mid s)`; solid lines are exact, dots are
# the rollouts.
def compare(name: str) -> Figure:
    """Exact versus empirical mean state and action share, one colour per type."""
    spec, result, demo = specs[name], results[name], demos[name]
    S, T = spec.n_states, spec.horizon
    exact_state = result.mean_field @ np.arange(S)                          # (K, T+1)
    exact_action = np.einsum("kts,kts->kt", result.mean_field[:, :T], result.policy[..., 1])
    empirical_flow = demo.empirical_mean_field()
    empirical_state = empirical_flow @ np.arange(S)
    empirical_action = np.stack([demo.actions[demo.types == m].mean(axis=0)
                                 for m in range(spec.n_contexts)])
    action = spec.info["actions"][1]
    fig = Figure(figsize=(10, 3.8), layout="constrained")
    axes = fig.subplots(1, 2)
    panels = [(exact_state, empirical_state, "mean state " + r"$\sum_s s\,\mu_t(s)$"),
              (exact_action, empirical_action, f"share of agents choosing '{action}'")]
    for ax, (exact, empirical, what) in zip(axes, panels):
        for m, weight in enumerate(spec.info[GAMES[name]["weights"]]):
            colour = f"C{m}"
            ax.plot(np.arange(exact.shape[1]), exact[m], color=colour,
                    label=f"{GAMES[name]['weight_name']} {weight:g}")
            ax.plot(np.arange(empirical.shape[1]), empirical[m], "o", color=colour,
                    markersize=3, alpha=0.7)
        ax.set_xlabel("time step t")
        ax.set_ylabel(what)
        ax.set_title(what)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    axes[0].legend(title="type (line: exact, dots: rollouts)", fontsize=8)
    fig.suptitle(f"{name}: exact equilibrium vs {AGENTS_PER_TYPE} simulated agents per type")
    return fig


for name in results:
    written.append(plot.save(compare(name), OUT / f"{name}_demo_vs_exact.png", dpi=DPI))

# %%
# Files written
# -------------
for path in written:
    print(path)
