"""Which fit settings does cross-validation on training agents choose? (issue 15)

For each game and tuning seed: the experts and the *training* demonstrations of
the experiment grid and of ``benchmarks/adversarial_gap.py`` (``envs.make(game,
types=3, horizon=50)``, default solver at temperature 0.1, 200 agents per type,
seed ``seed``), then :func:`tabmfirl.select_settings` with the EM method
(``fit_pemmfirl_em``, K = 3, screened start, 30 warm-up iterations, 300
iterations, learning rate 0.02, the tables' settings) over the candidates
below, 5 folds of agents (split seed = the tuning seed).  Nothing here reads
the true reward, the true types or any held-out agent: the criterion is the
held-out marginal log-likelihood of held-out *training* agents.

Candidates, simplest / most regularised first (ties within one paired
standard error go to the earliest):

    additive head, weight decay 1.0   (the setting the tables use)
    additive head, weight decay 0.1
    additive head, weight decay 0.01
    additive head, weight decay 0
    linear head,   weight decay 1.0   (only with ``--heads``)

One JSON file per (game, seed) in ``--out`` (a rerun skips those present), and
one per fold's fit under ``--out/folds`` while a cell runs (a stopped run
resumes from them).
It prints one Markdown table per game and the choice per seed.  Run::

    nice -n 10 python benchmarks/select_settings.py --out results_select --folds 3 \
        --seeds 0-2 --workers 2
"""
import os

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

GAMES = ("malware", "investment", "virus")
CANDIDATES = (
    {"reward_kind": "additive", "weight_decay": 1.0},
    {"reward_kind": "additive", "weight_decay": 0.1},
    {"reward_kind": "additive", "weight_decay": 0.01},
    {"reward_kind": "additive", "weight_decay": 0.0},
)
#: The head kind as a further candidate (``--heads``): not run for docs/results.md
#: (no CPU time left on the shared machine).
LINEAR = {"reward_kind": "linear", "weight_decay": 1.0}
TABLE_SETTING = 0          # the candidate the tables of docs/results.md use


def label(candidate):
    """``additive, weight decay 1`` for a candidate."""
    return f"{candidate['reward_kind']}, weight decay {candidate['weight_decay']:g}"


class FoldCache(dict):
    """``select_settings``'s cache, written through to one JSON file per fold's fit.

    Files are named by the candidate's settings, not its index, so a run with
    more candidates (``--heads``) reuses the fits of the others.
    """

    def __init__(self, folder, candidates):
        super().__init__()
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.candidates = list(candidates)
        for path in self.folder.glob("*.json"):
            record = json.loads(path.read_text())
            if record["candidate"] in self.candidates:
                key = (self.candidates.index(record["candidate"]), record["fold"])
                super().__setitem__(key, (np.array(record["scores"]), record["converged"]))

    def __setitem__(self, key, value):
        super().__setitem__(key, value)
        c, f = key
        cand = self.candidates[c]
        path = self.folder / f"{cand['reward_kind']}_{cand['weight_decay']:g}__{f}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"candidate": cand, "fold": f, "scores": value[0].tolist(),
                                   "converged": value[1]}))
        tmp.replace(path)


#: The tables' settings; ``QUICK``: the smoke run's (``--quick``).
SETTINGS = {"horizon": 50, "agents": 200, "iters": 300, "warmup": 30}
QUICK = {"horizon": 5, "agents": 10, "iters": 3, "warmup": 1}


def run_cell(game, seed, folds, candidates, out, settings=SETTINGS):
    """The selection on one game's training demonstrations (a JSON-able dict)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        spec = envs.make(game, types=3, horizon=settings["horizon"])
        expert = tabmfirl.solve_equilibrium(spec, temperature=0.1)
        demos = tabmfirl.generate_demonstrations(spec, expert.policy, settings["agents"],
                                                 seed=seed)
        start = time.perf_counter()
        sel = tabmfirl.select_settings(
            spec, demos, candidates, fit=tabmfirl.fit_pemmfirl_em, n_folds=folds, seed=seed,
            cache=FoldCache(Path(out) / "folds" / (f"{game}__{seed}__{folds}"
                                                   + ("" if settings == SETTINGS else "__quick")),
                            candidates),
            n_contexts=3, temperature=0.1, max_iter=settings["iters"], learning_rate=0.02,
            n_warmup=settings["warmup"], warn=False)
    return {"game": game, "seed": seed, "folds": folds, "candidates": list(candidates),
            "mean": sel.mean.tolist(), "std_error": sel.std_error.tolist(),
            "difference": sel.difference.tolist(),
            "difference_std_error": sel.difference_std_error.tolist(),
            "best": sel.best, "chosen": sel.chosen,
            "converged": sel.converged.sum(axis=1).tolist(),
            "seconds": time.perf_counter() - start, "settings": settings}


def choice(records):
    """The setting a game's tuning seeds choose: the candidate chosen on most of them, ties
    going to the earliest candidate (the simplest / most regularised).  Frozen rule: the
    test-seed rows ``pemmfirl_em, chosen by the criterion`` of ``docs/results.md`` run
    the candidate this returns."""
    votes = np.bincount([r["chosen"] for r in records], minlength=len(records[0]["candidates"]))
    return records[0]["candidates"][int(np.argmax(votes))]


def tables(records, games=GAMES):
    """One Markdown table per game: criterion per candidate and seed, and the choices."""
    lines = []
    for game in games:
        rows = sorted((r for r in records if r["game"] == game), key=lambda r: r["seed"])
        if not rows:
            continue
        seeds = [r["seed"] for r in rows]
        lines += [f"**{game}** (held-out log-likelihood per agent, mean ± s.e.; "
                  f"Δ = best minus this, ± paired s.e.)", "",
                  "| setting | " + " | ".join(f"seed {s}" for s in seeds)
                  + " | chosen on | best on | fits converged |",
                  "|---|" + "---|" * (len(seeds) + 3)]
        for c, cand in enumerate(rows[0]["candidates"]):
            cells = [f"{r['mean'][c]:.3f} ± {r['std_error'][c]:.3f} "
                     f"(Δ {r['difference'][c]:.3f} ± {r['difference_std_error'][c]:.3f})"
                     for r in rows]
            chosen = sum(r["chosen"] == c for r in rows)
            best = sum(r["best"] == c for r in rows)
            conv = sum(r["converged"][c] for r in rows)
            total = sum(r["folds"] for r in rows)
            lines.append(f"| {label(cand)} | " + " | ".join(cells)
                         + f" | {chosen}/{len(rows)} | {best}/{len(rows)} | {conv}/{total} |")
        lines += ["", f"Chosen for {game} (most seeds; ties to the earliest): "
                      f"**{label(choice(rows))}**", ""]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="results_select")
    parser.add_argument("--games", default=",".join(GAMES))
    parser.add_argument("--seeds", default="0-4")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--heads", action="store_true",
                        help="the linear head (weight decay 1.0) as a fifth candidate")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: virus, seed 0, T = 5, 10 agents, 2 folds, 3 iterations")
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else SETTINGS
    if args.quick:
        args.games, args.seeds, args.folds = "virus", "0", 2
    low, _, high = args.seeds.partition("-")
    seeds = range(int(low), int(high or low) + 1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    candidates = CANDIDATES + ((LINEAR,) if args.heads else ())
    suffix = ("__heads" if args.heads else "") + ("__quick" if args.quick else "")
    jobs = [(g, s) for s in seeds for g in args.games.split(",")
            if not (out / f"{g}__{s}{suffix}.json").exists()]
    def keep(g, s, record):
        atomic_write_json(out / f"{g}__{s}{suffix}.json", record)
        print(f"{g} seed {s}: chose {label(candidates[record['chosen']])}, "
              f"best {label(candidates[record['best']])} ({record['seconds']:.0f} s)",
              flush=True)

    if args.workers > 1:
        with ProcessPoolExecutor(max_workers=args.workers) as pool:
            futures = {pool.submit(run_cell, g, s, args.folds, candidates, out, settings):
                       (g, s) for g, s in jobs}
            for future in as_completed(futures):
                keep(*futures[future], future.result())
    else:                       # in this process (also when loaded by path, unpicklable)
        for g, s in jobs:
            keep(g, s, run_cell(g, s, args.folds, candidates, out, settings))
    records = [r for r in (json.loads(p.read_text()) for p in sorted(out.glob("*.json")))
               if r["folds"] == args.folds and len(r["candidates"]) == len(candidates)
               and r.get("settings", SETTINGS) == settings]
    print(tables(records, args.games.split(",")))


if __name__ == "__main__":
    main()
