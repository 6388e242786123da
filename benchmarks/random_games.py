"""IRL methods on random multi-type congestion games (issue 15, item 4): the frozen table.

Instances no choice was tuned on: ``envs.random_game`` (``envs/random_games.py``)
draws the graph, the types' constants and the initial distribution from a seed.
Every choice below was frozen in this docstring before the table was first
run; change them only with a new table and a note in ``docs/random_games.md``.

Instance ``i`` (``--instances``, default 20: ``i = 0..19``):

* ``rng = numpy.random.default_rng([15, i])`` draws, in this order, the
  topology (uniform on ring, grid, random) and the number of nodes (uniform
  on 6..12 for ring and random; uniform on 6, 8, 9, 12 for the grid, so that
  it is a 2 x 3, 2 x 4, 3 x 3 or 3 x 4 grid);
* the game is ``envs.random_game(i, topology=..., n_states=..., types=3,
  separation=0.5, horizon=30)`` (original dynamics, slip 0.1, congestion
  drawn by the game); separation 0.5 because the Bayes classifier reaches a
  mean ARI of about 0.88 there (``tests/test_random_games.py``: identifiable
  but not trivially), a property of the truth, not of any method;
* experts: the default solver at temperature ``beta = 0.1``; 200 agents per
  type rolled out with seed ``i`` (types hidden from the learners).

Methods (the package's fits, additive reward head, learning rate 0.02, 300
iterations, weight decay 1.0 and every other option at the fit's default, fit
seed ``i``; as ``benchmarks/adversarial_gap.py``): ``pemmfirl_em``
(``fit_pemmfirl_em``, 3 contexts, 30 warm-up iterations), ``two_stage``
(``fit_two_stage``, 3 contexts), ``mfirl`` (``fit_mfirl``, one shared reward)
and ``oracle`` (``fit_oracle``, the true labels).  Added for the second table
(after the first was run, with no change to anything else): ``pemmfirl``
(``fit_pemmfirl``, the paper's adversarial algorithm, sampled mode, at the same
common settings and its other defaults, as ``benchmarks/adversarial_gap.py``),
and the score ``reward_error`` (below).

Scores per instance and method: ARI of the inferred types (learned contexts
matched to the true types by the Hungarian algorithm; ``-`` for MFIRL, which
has no types), the Bayes ARI of ``argmax_m sum_t log pi^E_t(a_t | s_t, m)``
under the true policies on the same trajectories; the policy deviation
``sum_t sum_s mu^E_t(s) KL(pi^E_t(.|s) || pi^L_t(.|s))`` of the learned
game's equilibrium (``tabmfirl.evaluate_reward``, mean over types), solved
from the uniform policy and from the experts' policy; the experts'
regularised exploitability in the learned game,
``tabmfirl.exploitability(learned_game(spec, head, type_map), expert.policy,
temperature=beta)`` (``RewardEvaluation.expert_exploitability``), the largest
over the types (does the learned reward rationalise the data?); the relative
reward error at the experts' flow up to potential-based shaping
(``RewardEvaluation.reward_error``, mean over types); whether the fit converged at its tolerance and
whether the learned game's solver converged.  The table gives the mean over
instances and a 95% percentile bootstrap interval (2,000 resamples of the
instances, ``default_rng(0)``).

Every cell is written to ``--out/cells/<instance>__<method>.json`` as it
finishes; a rerun skips the cells already there with the same settings, so
the script can be stopped and resumed.  Run::

    python benchmarks/random_games.py --out results_random_games --workers 2
    python benchmarks/random_games.py --quick          # smoke run (seconds)

``--quick``: 2 instances of 4-5 nodes, horizon 6, 20 agents per type, 5
iterations (checks the plumbing, not the methods).
"""
import os

# one BLAS thread per process: the fits are many small matrix products, and
# several worker processes share the cores (set before numpy is imported)
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
from tabmfirl.envs import random_games  # noqa: E402
from tabmfirl.evaluation._intervals import format_interval  # noqa: E402
from tabmfirl.evaluation._metrics import match_types  # noqa: E402

K = 3
GRID_SIZES = (6, 8, 9, 12)
FULL = {"separation": 0.5, "horizon": 30, "temperature": 0.1, "agents": 200, "iters": 300,
        "sizes": [6, 12], "grid_sizes": list(GRID_SIZES)}
QUICK = {"separation": 0.5, "horizon": 6, "temperature": 0.1, "agents": 20, "iters": 5,
         "sizes": [4, 5], "grid_sizes": [4]}
_FIT = {"reward_kind": "additive", "learning_rate": 0.02}


def _common(settings, seed):
    return {**_FIT, "temperature": settings["temperature"], "max_iter": settings["iters"],
            "seed": seed, "warn": False}


#: Method name -> fit(spec, demos, seed, settings) -> IRLResult.
METHODS = {
    "pemmfirl_em": lambda spec, demos, seed, settings: tabmfirl.fit_pemmfirl_em(
        spec, demos, K, n_warmup=30, **_common(settings, seed)),
    "two_stage": lambda spec, demos, seed, settings: tabmfirl.fit_two_stage(
        spec, demos, K, **_common(settings, seed)),
    "mfirl": lambda spec, demos, seed, settings: tabmfirl.fit_mfirl(
        spec, demos, **_common(settings, seed)),
    "oracle": lambda spec, demos, seed, settings: tabmfirl.fit_oracle(
        spec, demos, **_common(settings, seed)),
    # added after the first table (second table, docs/random_games.md): the paper's
    # algorithm at benchmarks/adversarial_gap.py's settings, never run on these games before
    "pemmfirl": lambda spec, demos, seed, settings: tabmfirl.fit_pemmfirl(
        spec, demos, K, **_common(settings, seed)),
}


def instance(i, settings):
    """``(topology, n_states)`` of instance ``i`` (module docstring), from ``default_rng([15, i])``."""
    rng = np.random.default_rng([15, i])
    topology = str(rng.choice(random_games.TOPOLOGIES))
    if topology == "grid":
        n_states = int(rng.choice(settings["grid_sizes"]))
    else:
        low, high = settings["sizes"]
        n_states = int(rng.integers(low, high + 1))
    return topology, n_states


def game(i, settings):
    """The game of instance ``i``."""
    topology, n_states = instance(i, settings)
    return envs.random_game(i, topology=topology, n_states=n_states, types=K,
                            separation=settings["separation"], horizon=settings["horizon"])


def run_cell(i, method, settings):
    """Expert, demonstrations, fit and scores of instance ``i`` and ``method`` (a dict)."""
    spec = game(i, settings)
    beta = settings["temperature"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expert = tabmfirl.solve_equilibrium(spec, temperature=beta)
        demos = tabmfirl.generate_demonstrations(spec, expert.policy, settings["agents"], seed=i)
        start = time.perf_counter()
        result = METHODS[method](spec, demos, i, settings)
        seconds = time.perf_counter() - start
        if result.assignments is None:
            type_map, ari = np.arange(K), None
        else:
            type_map = match_types(demos.types, result.assignments, result.prior.shape[0], K)
            ari = None if method == "mfirl" else float(
                tabmfirl.adjusted_rand_index(demos.types, result.assignments))
        ev = tabmfirl.evaluate_reward(spec, result.head, type_map=type_map, temperature=beta,
                                      expert=expert)
    steps = np.arange(settings["horizon"])
    log_pi = np.log(expert.policy[:, steps, demos.states[:, steps], demos.actions]).sum(-1)
    topology, n_states = instance(i, settings)
    return {"instance": i, "method": method, "settings": settings, "topology": topology,
            "n_states": n_states, "n_actions": spec.n_actions,
            "expert_converged": bool(expert.converged), "ari": ari,
            "bayes_ari": float(tabmfirl.adjusted_rand_index(demos.types, log_pi.argmax(0))),
            "policy_deviation": float(ev.mean_policy_deviation),
            "policy_deviation_from_expert": float(np.mean(ev.policy_deviation_from_expert)),
            "expert_exploitability": float(np.max(ev.expert_exploitability)),
            "reward_error": float(np.nanmean(ev.reward_error)),
            "fit_converged": bool(result.converged), "learned_converged":
            bool(ev.learned.converged), "num_iter": int(result.num_iter), "fit_seconds": seconds}


def _cell_file(out, i, method):
    return Path(out) / "cells" / f"{i}__{method}.json"


def _cached(out, i, method, settings):
    if out is None or not _cell_file(out, i, method).exists():
        return None
    record = json.loads(_cell_file(out, i, method).read_text())
    return record if record.get("settings") == settings else None


def _task(out, i, method, settings):
    record = run_cell(i, method, settings)
    if out is not None:
        path = _cell_file(out, i, method)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(path, record)
    return record



COLUMNS = (("ARI", "ari", 3), ("Bayes ARI", "bayes_ari", 3),
           ("policy dev.", "policy_deviation", 3),
           ("policy dev. from experts' policy", "policy_deviation_from_expert", 3),
           ("expert expl. in learned game", "expert_exploitability", 4),
           ("reward error up to shaping", "reward_error", 3),
           ("fits converged", "fit_converged", 2), ("learned games converged",
                                                   "learned_converged", 2))


def table(records, methods):
    """Markdown table: per method, mean [95% bootstrap interval] over instances."""
    lines = ["| method | instances | " + " | ".join(c[0] for c in COLUMNS) + " |",
             "|---|---|" + "---|" * len(COLUMNS)]
    for method in methods:
        rows = [r for r in records if r["method"] == method]
        cells = [format_interval([None if r[key] is None else float(r[key]) for r in rows], digits)
                 for _, key, digits in COLUMNS]
        lines.append(f"| {method} | {len(rows)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=20, help="instances 0..N-1 (default 20)")
    parser.add_argument("--methods", default=",".join(METHODS),
                        help=f"comma-separated, from {', '.join(METHODS)}")
    parser.add_argument("--out", default=None, help="folder of the cached cells (resumable)")
    parser.add_argument("--workers", type=int, default=1, help="processes (default 1)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 tiny instances")
    args = parser.parse_args(argv)
    settings = dict(QUICK if args.quick else FULL)
    n = 2 if args.quick else args.instances
    methods = [m for m in args.methods.split(",") if m]
    unknown = [m for m in methods if m not in METHODS]
    if unknown or n < 1 or args.workers < 1:
        parser.error(f"unknown methods {unknown}" if unknown else "--instances and --workers "
                     "must be >= 1")
    cells = [(i, m) for i in range(n) for m in methods]
    records, todo = [], []
    for i, m in cells:
        cached = _cached(args.out, i, m, settings)
        (records.append(cached) if cached is not None else todo.append((i, m)))
    print(f"{len(records)} cells cached, {len(todo)} to run", flush=True)
    start = time.perf_counter()
    if args.workers == 1:
        for i, m in todo:
            records.append(_task(args.out, i, m, settings))
    else:
        with ProcessPoolExecutor(args.workers) as pool:
            futures = [pool.submit(_task, args.out, i, m, settings) for i, m in todo]
            for future in as_completed(futures):
                records.append(future.result())
    print(f"ran in {time.perf_counter() - start:.0f} s", flush=True)
    print(table(records, methods))
    return records


if __name__ == "__main__":
    main()
