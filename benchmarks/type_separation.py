"""Type recovery against type separation on random games (issue 15, item 3's figure).

For each separation ``sigma`` (``envs.random_game``'s spread of the types'
constants) and instance ``i`` (``--instances``, default 5): the game
``envs.random_game(i, topology="ring", n_states=8, types=3, separation=sigma,
horizon=30)``, experts by the default solver at temperature 0.1, 200 agents per
type rolled out with seed ``i``; then the ARI against the true types of the
Bayes classifier (``argmax_m sum_t log pi^E_t(a_t | s_t, m)`` under the true
policies: the ceiling) and of the EM method (``fit_pemmfirl_em``, 3 contexts,
additive head, learning rate 0.02, 300 iterations, 30 warm-up, fit seed
``i``; the main table's settings).  One JSON file per cell in ``--out`` (a
rerun skips them); the figure is ``--figure`` (mean ± standard error over the
instances, every instance as a dot).  Run::

    nice -n 10 python benchmarks/type_separation.py --out results_separation \\
        --figure docs/figures/type_separation.png --workers 2
    python benchmarks/type_separation.py --quick --out /tmp/separation   # smoke run

``--quick``: 1 instance of 5 nodes, horizon 5, 20 agents per type, 3 iterations
(checks the plumbing, not the methods).
"""
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import warnings  # noqa: E402
from concurrent.futures import ProcessPoolExecutor, as_completed  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

import tabmfirl  # noqa: E402
from tabmfirl import envs  # noqa: E402
from tabmfirl._io import atomic_write_json  # noqa: E402

SEPARATIONS = (0.0, 0.25, 0.5, 1.0, 2.0)
BETA = 0.1
#: The figure's settings; ``QUICK``: the smoke run's.
SETTINGS = {"n_states": 8, "horizon": 30, "agents": 200, "iters": 300, "warmup": 30}
QUICK = {"n_states": 5, "horizon": 5, "agents": 20, "iters": 3, "warmup": 1}


def run_cell(separation, instance, settings=SETTINGS):
    """Bayes and EM ARI of one instance (a JSON-able dict)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        spec = envs.random_game(instance, topology="ring", n_states=settings["n_states"],
                                types=3, separation=separation, horizon=settings["horizon"])
        expert = tabmfirl.solve_equilibrium(spec, temperature=BETA)
        demos = tabmfirl.generate_demonstrations(spec, expert.policy, settings["agents"],
                                                 seed=instance)
        backward = tabmfirl.soft_bellman_backward(expert.model, BETA)
        log_pi = (backward.q - backward.value[:, :spec.horizon, :, None]) / BETA
        t = np.arange(spec.horizon)[None, :]
        ll = log_pi[:, t, demos.states[:, :-1], demos.actions].sum(axis=-1).T
        bayes = tabmfirl.adjusted_rand_index(demos.types, ll.argmax(axis=1))
        fit = tabmfirl.fit_pemmfirl_em(spec, demos, 3, reward_kind="additive",
                                       learning_rate=0.02, max_iter=settings["iters"],
                                       n_warmup=settings["warmup"],
                                       temperature=BETA, seed=instance, warn=False)
        em = tabmfirl.adjusted_rand_index(demos.types, fit.assignments)
    return {"separation": separation, "instance": instance, "bayes_ari": float(bayes),
            "em_ari": float(em), "fit_converged": bool(fit.converged), "settings": settings}


def _cached(out, separation, instance, settings):
    """The cell's record in ``out`` if it was made with ``settings`` (files from before the
    settings were recorded are the figure's), else None."""
    path = out / f"{separation:g}__{instance}.json"
    if not path.exists():
        return None
    record = json.loads(path.read_text())
    return record if record.get("settings", SETTINGS) == settings else None


def figure(records, path):
    """ARI against separation, mean ± standard error and every instance."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    seps = sorted({r["separation"] for r in records})
    for key, name, colour, shift in (("bayes_ari", "Bayes classifier (true policies)", "k", -0.02),
                                     ("em_ari", "EM method (pemmfirl_em)", "C0", 0.02)):
        means, errors = [], []
        for sep in seps:
            values = np.array([r[key] for r in records if r["separation"] == sep])
            ax.plot(np.full(len(values), sep + shift), values, ".", color=colour, alpha=0.35)
            means.append(values.mean())
            errors.append(values.std(ddof=1) / np.sqrt(len(values)) if len(values) > 1 else 0)
        ax.errorbar(np.array(seps) + shift, means, yerr=errors, color=colour, marker="o",
                    capsize=3, label=name)
    ax.set_xlabel("type separation $\\sigma$ (envs.random_game)")
    ax.set_ylabel("ARI of the inferred types")
    ax.set_ylim(-0.05, 1.05)
    ax.set_title("Random ring games, 8 nodes, 3 types, T = 30, $\\beta$ = 0.1", fontsize=9)
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="results_separation")
    parser.add_argument("--instances", type=int, default=5)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--figure", default=None)
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 1 tiny instance, 3 iterations")
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else SETTINGS
    if args.quick:
        args.instances = 1
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cells = [(s, i) for i in range(args.instances) for s in SEPARATIONS]
    todo = [c for c in cells if _cached(out, *c, settings) is None]
    if args.workers > 1:
        with ProcessPoolExecutor(max_workers=args.workers) as pool:
            futures = {pool.submit(run_cell, *c, settings): c for c in todo}
            for future in as_completed(futures):
                s, i = futures[future]
                atomic_write_json(out / f"{s:g}__{i}.json", future.result())
    else:                       # in this process (also when loaded by path, unpicklable)
        for s, i in todo:
            atomic_write_json(out / f"{s:g}__{i}.json", run_cell(s, i, settings))
    records = [_cached(out, s, i, settings) for s, i in cells]
    print("| separation | instances | Bayes ARI | EM ARI | EM fits converged |\n|---|---|---|---|---|")
    for sep in SEPARATIONS:
        rows = [r for r in records if r["separation"] == sep]
        b = np.array([r["bayes_ari"] for r in rows])
        e = np.array([r["em_ari"] for r in rows])
        spread = (lambda x: f"{x.std(ddof=1):.3f}" if x.size > 1 else "-")
        print(f"| {sep:g} | {len(rows)} | {b.mean():.3f} ± {spread(b)} "
              f"| {e.mean():.3f} ± {spread(e)} "
              f"| {sum(r['fit_converged'] for r in rows)}/{len(rows)} |")
    if args.figure:
        figure(records, args.figure)


if __name__ == "__main__":
    main()
