"""How well can single trajectories reveal their type?  The Bayes reference.

For each game, type constants, horizon and seed: solve the true
entropy-regularised equilibrium of every type, roll out ``--agents`` agents per
type, and classify each trajectory with the Bayes rule that knows the true
equilibrium policies (uniform prior over types),

    m_hat(tau) = argmax_m  sum_t log pi^m_t(a_t | s_t),

then score ``m_hat`` against the true types with the adjusted Rand index.  No
learner can do better on average, so this is the ceiling of type recovery for
these data; ``envs/__init__.py`` explains how it chose the games' constants
(ARI >= 0.95 at temperature 0.1, horizon 50, 200 agents per type).

Run::

    python benchmarks/type_identifiability.py            # ~1 min on 2 cores
    python benchmarks/type_identifiability.py --seeds 2 --horizons 20

It prints one Markdown table: mean +- standard deviation over seeds.
"""
import argparse
import time
import warnings

import numpy as np

from tabmfirl import adjusted_rand_index, envs, generate_demonstrations, solve_equilibrium
from tabmfirl.envs import investment, malware, virus

#: (game, keyword of its builder, first constants we used, current defaults).
CONSTANTS = (
    ("malware", "repair_costs", (0.2, 0.5, 0.8), malware.REPAIR_COSTS),
    ("investment", "invest_costs", (0.1, 0.2, 0.4), investment.INVEST_COSTS),
    ("virus", "costs", (0.2, 0.5, 1.0), virus.DISTANCING_COSTS),
)


def bayes_ari(spec, temperature, agents, seed):
    """ARI of the Bayes classifier on ``agents`` rollouts per type of ``spec``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expert = solve_equilibrium(spec, temperature=temperature, backend="numpy")
    if not expert.converged:
        raise RuntimeError(f"{spec.name}: the expert equilibrium did not converge")
    demos = generate_demonstrations(spec, expert.policy, agents, seed=seed)
    steps = np.arange(demos.actions.shape[1])
    # log_policy[m, j] = sum_t log pi^m_t(a^j_t | s^j_t)
    log_policy = np.log(expert.policy[:, steps, demos.states[:, steps], demos.actions])
    log_policy = log_policy.sum(axis=-1)
    return adjusted_rand_index(demos.types, log_policy.argmax(axis=0))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=200, help="agents per type")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--horizons", default="20,50")
    parser.add_argument("--temperature", type=float, default=0.1)
    args = parser.parse_args(argv)
    horizons = [int(h) for h in args.horizons.split(",")]
    start = time.perf_counter()
    print(f"Bayes-classifier ARI, temperature {args.temperature}, {args.agents} agents per "
          f"type, mean +- std over {args.seeds} seeds\n")
    print("| game | constants | " + " | ".join(f"T = {h}" for h in horizons) + " |")
    print("|---|---|" + "---|" * len(horizons))
    for game, keyword, first, current in CONSTANTS:
        for label, constants in (("first", first), ("current", current)):
            cells = []
            for horizon in horizons:
                spec = envs.make(game, horizon=horizon, **{keyword: constants})
                aris = [bayes_ari(spec, args.temperature, args.agents, seed)
                        for seed in range(args.seeds)]
                cells.append(f"{np.mean(aris):.3f} ± {np.std(aris, ddof=1):.3f}"
                             if len(aris) > 1 else f"{aris[0]:.3f}")
            print(f"| {game} | {label} {tuple(constants)} | " + " | ".join(cells) + " |",
                  flush=True)
    print(f"\n{time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
