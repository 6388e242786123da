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

SEPARATIONS = (0.0, 0.25, 0.5, 1.0, 2.0)
BETA = 0.1


def run_cell(separation, instance):
    """Bayes and EM ARI of one instance (a JSON-able dict)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        spec = envs.random_game(instance, topology="ring", n_states=8, types=3,
                                separation=separation, horizon=30)
        expert = tabmfirl.solve_equilibrium(spec, temperature=BETA)
        demos = tabmfirl.generate_demonstrations(spec, expert.policy, 200, seed=instance)
        backward = tabmfirl.soft_bellman_backward(expert.model, BETA)
        log_pi = (backward.q - backward.value[:, :spec.horizon, :, None]) / BETA
        t = np.arange(spec.horizon)[None, :]
        ll = log_pi[:, t, demos.states[:, :-1], demos.actions].sum(axis=-1).T
        bayes = tabmfirl.adjusted_rand_index(demos.types, ll.argmax(axis=1))
        fit = tabmfirl.fit_pemmfirl_em(spec, demos, 3, reward_kind="additive",
                                       learning_rate=0.02, max_iter=300, n_warmup=30,
                                       temperature=BETA, seed=instance, warn=False)
        em = tabmfirl.adjusted_rand_index(demos.types, fit.assignments)
    return {"separation": separation, "instance": instance, "bayes_ari": float(bayes),
            "em_ari": float(em), "fit_converged": bool(fit.converged)}


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
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cells = [(s, i) for i in range(args.instances) for s in SEPARATIONS]
    todo = [c for c in cells if not (out / f"{c[0]:g}__{c[1]}.json").exists()]
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        futures = {pool.submit(run_cell, *c): c for c in todo}
        for future in as_completed(futures):
            s, i = futures[future]
            (out / f"{s:g}__{i}.json").write_text(json.dumps(future.result()))
    records = [json.loads((out / f"{s:g}__{i}.json").read_text()) for s, i in cells]
    print("| separation | instances | Bayes ARI | EM ARI | EM fits converged |\n|---|---|---|---|---|")
    for sep in SEPARATIONS:
        rows = [r for r in records if r["separation"] == sep]
        b = np.array([r["bayes_ari"] for r in rows])
        e = np.array([r["em_ari"] for r in rows])
        print(f"| {sep:g} | {len(rows)} | {b.mean():.3f} ± {b.std(ddof=1):.3f} "
              f"| {e.mean():.3f} ± {e.std(ddof=1):.3f} "
              f"| {sum(r['fit_converged'] for r in rows)}/{len(rows)} |")
    if args.figure:
        figure(records, args.figure)


if __name__ == "__main__":
    main()
