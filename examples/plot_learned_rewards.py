"""
Rewards learned for each agent type (the EM method) against the true ones
=========================================================================

Generate unlabelled demonstrations of the virus game with three agent types,
fit the EM method (``fit_pemmfirl_em``: EM multiple-intention MCE-IRL,
Babeş-Vroman et al. 2011, with a mean field; seconds, where the paper's
adversarial ``fit_pemmfirl`` takes minutes) and the one-reward MFIRL baseline, and draw what a
user looks at first: the learned reward of each type next to the true one,
the training curves, the inferred types of the demonstrations, and how well
each method's equilibrium reproduces the experts.

Run from the repository root (needs matplotlib)::

    python examples/plot_learned_rewards.py [--small] [--out FOLDER]

``--small`` (or ``TABMFIRL_EXAMPLES_SMALL=1``) uses a short horizon and few
agents (seconds; the test suite runs it that way).  PNGs go to ``--out``
(default ``examples/output/``).
"""
# %%
# Options
# -------
import argparse
import os
from pathlib import Path

import numpy as np

import tabmfirl
from tabmfirl import envs, plot
from tabmfirl.evaluation._metrics import match_types

parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
parser.add_argument("--small", action="store_true",
                    help="short horizon and few agents (also TABMFIRL_EXAMPLES_SMALL=1)")
parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "output",
                    help="folder for the PNGs (default: examples/output/)")
options, _ = parser.parse_known_args()
SMALL = options.small or os.environ.get("TABMFIRL_EXAMPLES_SMALL", "") not in ("", "0")
OUT = options.out
HORIZON, AGENTS, ITERATIONS = (10, 60, 60) if SMALL else (20, 200, 150)
DPI = 60 if SMALL else 150
BETA = 0.1                   # low temperature: the types' behaviours are distinguishable
SOLVER = {"method": "fixed_point", "damping": 0.3, "max_iter": 3000}

# %%
# Experts and their demonstrations
# --------------------------------
spec = envs.make("virus", types=3, horizon=HORIZON)
expert = tabmfirl.solve_equilibrium(spec, temperature=BETA, **SOLVER)
demos = tabmfirl.generate_demonstrations(spec, expert.policy, n_agents=AGENTS, seed=0)

# %%
# Fit one reward per type (the EM method) and one shared reward (MFIRL)
# ---------------------------------------------------------------------
fit = tabmfirl.fit_pemmfirl_em(spec, demos, 3, temperature=BETA, max_iter=ITERATIONS,
                               n_warmup=ITERATIONS // 5, learning_rate=0.02, seed=0,
                               warn=False)
shared = tabmfirl.fit_mfirl(spec, demos, temperature=BETA, max_iter=ITERATIONS,
                            learning_rate=0.02, seed=0, warn=False)
type_map = match_types(demos.types, fit.assignments, 3)   # learned context of each true type

# %%
# Learned vs true reward, per type
# --------------------------------
# Learned types are reordered to match the true ones; the tables are centred
# (IRL identifies a reward only up to constants and shaping).
costs = spec.info["distancing_costs"]
labels = [f"distancing cost {c:g}" for c in costs]
true_reward = np.broadcast_to(spec.reward[:, None], (3, HORIZON, 2, 2))
figures = {
    "learned_rewards": plot.plot_rewards(fit.reward[type_map], true_reward, t=0,
                                         state_labels=["susceptible", "infected"],
                                         action_labels=["out", "distance"],
                                         type_labels=labels),
    "training": plot.plot_training({"log-likelihood per trajectory":
                                    fit.log_likelihood_history,
                                    "gradient norm": fit.grad_norm_history}),
    "inferred_types": plot.plot_embeddings(fit.posterior, demos.types, type_labels=labels),
}

# %%
# How well each method's equilibrium reproduces the experts
# ---------------------------------------------------------
scores = {}
for name, result, mapping in (("EM method", fit, type_map), ("MFIRL", shared, None)):
    evaluation = tabmfirl.evaluate_reward(spec, result.head, type_map=mapping,
                                          temperature=BETA, expert=expert,
                                          solver_kwargs=SOLVER)
    scores[name] = {"policy deviation": evaluation.mean_policy_deviation,
                    "mean field deviation": evaluation.mean_mean_field_deviation,
                    "return deviation": evaluation.mean_return_deviation}
scores["EM method"]["type recovery (ARI)"] = tabmfirl.adjusted_rand_index(demos.types,
                                                                           fit.assignments)
figures["metrics"] = plot.plot_metrics(scores)

for name, figure in figures.items():
    print(plot.save(figure, OUT / f"virus_{name}.png", dpi=DPI))
