"""Does a difference in dynamics help type recovery?  Issue 18, item 5, measured.

The game: ``envs.make("predator_prey", types=3, same_dynamics=...)``
(``envs/predator_prey.py``): a predator and two kinds of prey on a ring of 8
cells, every reward reading every type's flow (``observation="all_types"``).
With ``same_dynamics=False`` the predator moves fast (up to 2 cells a step)
and the prey slowly; with ``same_dynamics=True`` every type moves slowly,
everything else equal.  Both games give their types their own transition
array (``transition_by_context=True``), so every classifier and fit reads the
dynamics term; in the second it is the same for every type.

Every choice below was frozen before the table was first run.  Per test seed
``i`` (``--seeds``, default 200..219) and variant:

* experts: the default solver at the game's ``TEMPERATURE`` (0.5, chosen on
  tuning seeds 0-4 with ``--tune``: module docstring of
  ``envs/predator_prey.py``), horizon 10; ``--agents`` (default 200) agents per
  type rolled out with seed ``i``;
* ``bayes``: the Bayes classifier under the true equilibrium,
  ``argmax_m log p(tau | m)`` with the dynamics and initial-state term
  (``tabmfirl.bayes_log_likelihood``); ``bayes_actions``: the same without it
  (``argmax_m sum_t log pi^E_t(a_t | s_t, m)``), what a classifier that ignores
  the dynamics reaches on the same trajectories;
* ``pemmfirl_em``: ``fit_pemmfirl_em`` (3 contexts, additive head, learning
  rate 0.02, 300 iterations, 30 warm-up iterations, fit seed ``i``, other
  options at their defaults); ``pemmfirl``: ``fit_pemmfirl`` (the paper's
  adversarial algorithm, 3 contexts, additive head, learning rate 0.02,
  300 iterations, fit seed ``i``, other options at their defaults), on the
  first ``--adv-seeds`` seeds (default all) as the budget allows.

Scores: the ARI of the inferred types against the truth; for the fits also
the policy deviation of the learned game's equilibrium
(``tabmfirl.evaluate_reward``, learned contexts matched to the true types by
the Hungarian algorithm, mean over types) and whether the fit converged at its
tolerance.  The table gives the mean over seeds and a 95% percentile
bootstrap interval (2,000 resamples of the seeds, ``default_rng(0)``, as
``benchmarks/random_games.py``).

Every cell is written to ``--out/cells/<seed>__<variant>__<method>.json`` as
it finishes; a rerun skips the cells already there with the same settings.
Run::

    nice -n 10 python benchmarks/dynamics_recovery.py --out results_dynamics
    python benchmarks/dynamics_recovery.py --tune      # the temperature choice
    python benchmarks/dynamics_recovery.py --quick     # smoke run (seconds)
"""
import os

# one BLAS thread per process (set before numpy is imported)
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from concurrent.futures import ProcessPoolExecutor, as_completed  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

import tabmfirl  # noqa: E402
from tabmfirl import envs  # noqa: E402
from tabmfirl._io import atomic_write_json  # noqa: E402
from tabmfirl.envs import predator_prey  # noqa: E402
from tabmfirl.evaluation._intervals import format_interval  # noqa: E402
from tabmfirl.evaluation._metrics import match_types  # noqa: E402

K = 3
VARIANTS = {"per-type dynamics": False, "same dynamics": True}
FULL = {"horizon": predator_prey.HORIZON, "temperature": predator_prey.TEMPERATURE,
        "agents": 200, "iters": 300, "adv_iters": 300}
QUICK = {"horizon": 4, "temperature": predator_prey.TEMPERATURE, "agents": 15, "iters": 5,
         "adv_iters": 3}
_FIT = {"reward_kind": "additive", "learning_rate": 0.02}
#: Temperatures tried by ``--tune`` on seeds 0-4, and the Bayes ARI it aims at.
TUNE_TEMPERATURES = (0.25, 0.5, 1.0)
TUNE_TARGET = 0.5
METHODS = ("bayes", "bayes_actions", "pemmfirl_em", "pemmfirl")


def game(same_dynamics, settings):
    return envs.make("predator_prey", types=K, horizon=settings["horizon"],
                     same_dynamics=same_dynamics)


def experts(same_dynamics, seed, settings):
    """``(spec, expert equilibrium, demonstrations)`` of one seed and variant."""
    spec = game(same_dynamics, settings)
    beta = settings["temperature"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expert = tabmfirl.solve_equilibrium(spec, temperature=beta)
    demos = tabmfirl.generate_demonstrations(spec, expert.policy, settings["agents"], seed=seed)
    return spec, expert, demos


def bayes_aris(spec, expert, demos, beta):
    """ARI of the Bayes classifier with and without the dynamics term."""
    full = tabmfirl.bayes_log_likelihood(spec, expert, demos, temperature=beta)
    steps = np.arange(demos.horizon)
    actions_only = np.log(expert.policy[:, steps, demos.states[:, steps], demos.actions]).sum(-1)
    return (float(tabmfirl.adjusted_rand_index(demos.types, full.argmax(axis=1))),
            float(tabmfirl.adjusted_rand_index(demos.types, actions_only.argmax(axis=0))))


def _fit(method, spec, demos, seed, settings):
    common = {**_FIT, "temperature": settings["temperature"], "seed": seed, "warn": False}
    if method == "pemmfirl_em":
        return tabmfirl.fit_pemmfirl_em(spec, demos, K, n_warmup=30, max_iter=settings["iters"],
                                        **common)
    return tabmfirl.fit_pemmfirl(spec, demos, K, max_iter=settings["adv_iters"], **common)


def run_cell(seed, variant, method, settings):
    """Scores of ``method`` on seed ``seed`` and ``variant`` (a key of ``VARIANTS``)."""
    spec, expert, demos = experts(VARIANTS[variant], seed, settings)
    beta = settings["temperature"]
    record = {"seed": seed, "variant": variant, "method": method, "settings": settings,
              "expert_converged": bool(expert.converged)}
    if method.startswith("bayes"):
        full, actions_only = bayes_aris(spec, expert, demos, beta)
        return {**record, "ari": full if method == "bayes" else actions_only}
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = _fit(method, spec, demos, seed, settings)
        seconds = time.perf_counter() - start
        type_map = match_types(demos.types, result.assignments, K, K)
        ev = tabmfirl.evaluate_reward(spec, result.head, type_map=type_map, temperature=beta,
                                      expert=expert)
    return {**record, "ari": float(tabmfirl.adjusted_rand_index(demos.types,
                                                                 result.assignments)),
            "policy_deviation": float(ev.mean_policy_deviation),
            "fit_converged": bool(result.converged), "num_iter": int(result.num_iter),
            "fit_seconds": seconds}


def _cell_file(out, seed, variant, method):
    return Path(out) / "cells" / f"{seed}__{variant.replace(' ', '_')}__{method}.json"


def _cached(out, seed, variant, method, settings):
    if out is None or not _cell_file(out, seed, variant, method).exists():
        return None
    record = json.loads(_cell_file(out, seed, variant, method).read_text())
    return record if record.get("settings") == settings else None


def _task(out, seed, variant, method, settings):
    record = run_cell(seed, variant, method, settings)
    if out is not None:
        path = _cell_file(out, seed, variant, method)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(path, record)
    return record



def table(records):
    """Markdown table: per method and variant, mean [95% bootstrap interval] over seeds."""
    lines = ["| method | dynamics | seeds | ARI | policy dev. | fits converged |",
             "|---|---|---|---|---|---|"]
    for method in METHODS:
        for variant in VARIANTS:
            rows = sorted((r for r in records if r["method"] == method
                           and r["variant"] == variant), key=lambda r: r["seed"])
            if not rows:
                continue
            cells = [format_interval([r["ari"] for r in rows]),
                     format_interval([r.get("policy_deviation") for r in rows]),
                     format_interval([None if "fit_converged" not in r else float(r["fit_converged"])
                            for r in rows], 2)]
            lines.append(f"| {method} | {variant} | {len(rows)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def tune(settings, seeds=range(5)):
    """Bayes ARI with shared (slow) dynamics per temperature on the tuning seeds; the choice."""
    means = {}
    for beta in TUNE_TEMPERATURES:
        aris = []
        for seed in seeds:
            spec, expert, demos = experts(True, seed, {**settings, "temperature": beta})
            aris.append(bayes_aris(spec, expert, demos, beta)[0])
        means[beta] = float(np.mean(aris))
        print(f"temperature {beta}: Bayes ARI (same dynamics) {means[beta]:.3f} "
              f"({', '.join(f'{a:.3f}' for a in aris)})", flush=True)
    chosen = min(means, key=lambda beta: abs(means[beta] - TUNE_TARGET))
    print(f"chosen: {chosen} (mean Bayes ARI closest to {TUNE_TARGET})")
    return chosen, means


def _cells(args, settings):
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    adv = seeds[:args.adv_seeds if args.adv_seeds >= 0 else len(seeds)]
    cells = [(s, v, m) for s in seeds for v in VARIANTS
             for m in ("bayes", "bayes_actions", "pemmfirl_em")]
    cells += [(s, v, "pemmfirl") for s in adv for v in VARIANTS]
    return cells


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20, help="number of test seeds (20)")
    parser.add_argument("--first-seed", type=int, default=200, help="first test seed (200)")
    parser.add_argument("--adv-seeds", type=int, default=-1,
                        help="adversarial fits on the first N seeds only (default: all)")
    parser.add_argument("--agents", type=int, default=None, help="agents per type (200)")
    parser.add_argument("--out", default=None, help="folder of the cached cells (resumable)")
    parser.add_argument("--workers", type=int, default=1, help="processes (default 1)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 tiny seeds")
    parser.add_argument("--tune", action="store_true",
                        help="the temperature choice on tuning seeds 0-4, then exit")
    args = parser.parse_args(argv)
    settings = dict(QUICK if args.quick else FULL)
    if args.agents is not None:
        settings["agents"] = args.agents
    if args.tune:
        return tune(settings)
    if args.quick:
        args.seeds = 2
    if args.seeds < 1 or args.workers < 1:
        parser.error("--seeds and --workers must be >= 1")
    records, todo = [], []
    for cell in _cells(args, settings):
        cached = _cached(args.out, *cell, settings)
        (records.append(cached) if cached is not None else todo.append(cell))
    print(f"{len(records)} cells cached, {len(todo)} to run", flush=True)
    start = time.perf_counter()
    if args.workers == 1:
        for cell in todo:
            records.append(_task(args.out, *cell, settings))
    else:
        with ProcessPoolExecutor(args.workers) as pool:
            futures = [pool.submit(_task, args.out, *cell, settings) for cell in todo]
            for future in as_completed(futures):
                records.append(future.result())
    print(f"ran in {time.perf_counter() - start:.0f} s", flush=True)
    print(table(records))
    return records


if __name__ == "__main__":
    main()
