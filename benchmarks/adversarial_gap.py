"""Adversarial PEMMFIRL (exact and sampled expectations) against the EM method and Bayes.

For each game, seed and method: solve the expert equilibrium of
``envs.make(game, types=3, horizon=T)`` at temperature ``beta`` (the default
solver, as in the experiment grid), roll out ``--agents`` agents per type (seed
``seed``; types hidden from the learner), fit, then score: the adjusted Rand
index of ``argmax q(m|tau)`` against the true types and the policy deviation
``sum_t sum_s mu^E_t(s) KL(pi^E_t(.|s) || pi^L_t(.|s))`` of the learned
game's equilibrium, averaged over the true types (learned contexts matched by
the Hungarian algorithm, ``tabmfirl.evaluate_reward``).  The Bayes reference
is the ARI of ``argmax_m sum_t log pi^E_t(a_t|s_t, m)`` under the *true*
equilibrium policies (``benchmarks/type_identifiability.py``), on the same
trajectories.

Methods (all with the additive reward head, 300 iterations unless named
otherwise, learning rate 0.02, every other option at the fit's default):

=============================  ===============================================
``em``                         ``fit_pemmfirl_em`` (EM multiple-intention MCE IRL,
                               screened start, 30 warm-up iterations)
``adversarial_sampled``        ``fit_pemmfirl`` (sampled types and
                               rollouts: what a deep implementation does)
``adversarial_exact``          the same with ``expectation="exact"``
``exact_expected``             exact, ``shaping="expected"`` (time-dependent
                               potential: the discriminator's capacity)
``exact_encoder_disc``         exact, ``encoder_gradient="discriminator"``
                               (the encoder also minimises the discriminator
                               loss, as in PEMIRL)
``exact_encoder_lik``          exact, ``encoder_gradient="likelihood"``
``exact_mi0``                  exact, ``mi_weight=0`` (no MI term; the encoder
                               stays at its random initialisation)
``exact_mi10``                 exact, ``mi_weight=10``
``pemmfirl_no_mi``             the honest MI ablation of ``pemmfirl``
                               (sampled): ``mi_weight=0`` with the encoder
                               still pre-trained and trained, by the causal
                               likelihood (``encoder_gradient="likelihood"``)
``em_linear``, ``em_wd0.1``,   the EM method (screened start) at the other
``em_wd0.01``, ``em_wd0``      candidates of ``benchmarks/select_settings.py``:
                               linear head; additive head with weight decay
                               0.1, 0.01, 0 (the rows "chosen by the
                               criterion" of ``docs/results.md``)
``pemmfirl_lik``               ``pemmfirl`` (sampled) with the encoder also
                               trained by the causal likelihood
                               (``encoder_gradient="likelihood"``), MI term kept:
                               with ``pemmfirl_no_mi`` the single-factor MI pair
``exact_600``, ``sampled_600`` 600 iterations (resumed from the 300-iteration
                               cell's checkpoint when it is in ``--out``; the
                               fit seconds are then those of the second half)
``exact_true_labels``          the exact adversarial reward step alone on the
                               true labels (``fit_reward_adversarial`` on the
                               per-type empirical counts and flows, the
                               adversarial fit's settings: state potential,
                               weight decay 0.01); ``_expected``: with the
                               expected potential
``em_true_labels``             the EM method's reward step alone on the true
                               labels (``fit_oracle``)
``infinite_state``,            the reward steps alone on the experts' exact
``infinite_expected``,         expected counts (``--agents`` per type, true
``infinite_em``                labels, no data noise): adversarial with the
                               state or the expected potential, and the EM
                               method's (``fit_reward``, weight decay 1.0);
                               ``_wd0``: without weight decay, 10 times the
                               iterations
=============================  ===============================================

Every cell is written to ``--out/cells/<game>__<method>__<seed>.json`` as it
finishes; a rerun skips the cells already there (same settings), so the script
can be stopped and resumed.  It prints one Markdown table, mean +- sample
standard deviation over seeds.  Run::

    python benchmarks/adversarial_gap.py --out results_adversarial_gap      # main table
    python benchmarks/adversarial_gap.py --methods exact_mi0,exact_mi10 --seeds 100-102 \\
        --out results_adversarial_gap                                         # ablations
    python benchmarks/adversarial_gap.py --quick                             # smoke run
    python benchmarks/adversarial_gap.py --recovery                          # infinite data
    python benchmarks/adversarial_gap.py --encoder-signal --seeds 100-102 \\
        --out results_adversarial_gap                 # what the encoder terms say (after main)
    python benchmarks/adversarial_gap.py --start-ari --out results_adversarial_gap
                                                      # ARI of the encoder's start (after main)

Tuning seeds 100-104 by default (``docs/results.md`` reports seeds 0-4).
"""
import os

# one BLAS thread per process: the fits are many small matrix products, and
# several worker processes share the cores (set before numpy is imported)
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from concurrent.futures import ProcessPoolExecutor, as_completed  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

import tabmfirl  # noqa: E402
from tabmfirl import envs  # noqa: E402
from tabmfirl._io import atomic_write_json  # noqa: E402
from tabmfirl.evaluation._intervals import format_interval  # noqa: E402
from tabmfirl.evaluation._metrics import match_types  # noqa: E402

_FIT = {"reward_kind": "additive", "learning_rate": 0.02}


def _em(spec, demos, seed, settings, checkpoint=None):
    return tabmfirl.fit_pemmfirl_em(spec, demos, 3, n_warmup=30, **_common(settings, seed))


def _adversarial(spec, demos, seed, settings, checkpoint=None, **kw):
    """The adversarial fit; with ``checkpoint`` its final state is kept there."""
    extra = {} if checkpoint is None else {"checkpoint": checkpoint,
                                           "checkpoint_every": settings["iters"]}
    return tabmfirl.fit_pemmfirl(spec, demos, 3, **{**_common(settings, seed), **kw},
                                             **extra)


def _continued(base, expectation):
    """``base``'s fit run to twice the iterations, resumed from ``base``'s checkpoint."""
    def fit(spec, demos, seed, settings, checkpoint=None):
        longer = {**settings, "iters": 2 * settings["iters"]}
        if checkpoint is None:
            return _adversarial(spec, demos, seed, longer, expectation=expectation)
        source = Path(checkpoint).parent / f"{spec.name}__{base}__{seed}.npz"
        if source.exists():         # bit-identical to a fresh run of twice the iterations
            shutil.copyfile(source, checkpoint)
        return tabmfirl.fit_pemmfirl(spec, demos, 3, expectation=expectation,
                                                 **_common(longer, seed), checkpoint=checkpoint,
                                                 checkpoint_every=longer["iters"])
    return fit


def _true_label_counts(spec, demos):
    """Per-type empirical counts ``(K, T, S, A)`` and flows ``(K, T+1, S)`` (true labels)."""
    K, T, S, A = spec.n_contexts, spec.horizon, spec.n_states, spec.n_actions
    counts = np.zeros((K, T, S, A))
    t = np.broadcast_to(np.arange(T), demos.actions.shape)
    np.add.at(counts, (demos.types[:, None], t, demos.states[:, :T], demos.actions), 1.0)
    flows = np.zeros((K, T + 1, S))
    t1 = np.broadcast_to(np.arange(T + 1), demos.states.shape)
    np.add.at(flows, (demos.types[:, None], t1, demos.states), 1.0)
    return counts, flows / flows.sum(axis=-1, keepdims=True)


def _true_labels(shaping):
    def fit(spec, demos, seed, settings, checkpoint=None):
        counts, flows = _true_label_counts(spec, demos)
        return tabmfirl.fit_reward_adversarial(spec, counts, flows, shaping=shaping,
                                               weight_decay=0.01, tol=1e-9,
                                               **_common(settings, seed))
    return fit


def _em_true_labels(spec, demos, seed, settings, checkpoint=None):
    return tabmfirl.fit_oracle(spec, demos, **_common(settings, seed))


def _infinite(shaping, weight_decay=0.01, factor=1):
    """The reward step alone on the experts' expected counts (``agents`` a type), with
    ``factor`` times the iterations."""
    def fit(spec, demos, seed, settings, checkpoint=None, expert=None):
        counts = settings["agents"] * expert.state_action
        common = _common({**settings, "iters": factor * settings["iters"]}, seed)
        if shaping is None:                 # the EM method's reward step (its weight decay)
            return tabmfirl.fit_reward(spec, counts, expert.mean_field, weight_decay=1.0,
                                       tol=1e-9, **common)
        return tabmfirl.fit_reward_adversarial(spec, counts, expert.mean_field,
                                               shaping=shaping, weight_decay=weight_decay,
                                               tol=1e-9, **common)
    return fit


def _baseline(name, typed=True, **options):
    """A baseline of the package at the common settings (``n_contexts = 3`` when typed)."""
    fit = getattr(tabmfirl, name)

    def run(spec, demos, seed, settings, checkpoint=None):
        args = (spec, demos, 3) if typed else (spec, demos)
        return fit(*args, **{**_common(settings, seed), **options})
    return run


def _common(settings, seed):
    return {**_FIT, "temperature": settings["temperature"], "max_iter": settings["iters"],
            "seed": seed, "backend": settings["backend"], "warn": False}


def _variant(**options):
    return lambda spec, demos, seed, settings, checkpoint=None: _adversarial(
        spec, demos, seed, settings, checkpoint=checkpoint, **options)


#: Method name -> fit(spec, demos, seed, settings, checkpoint=None) -> result.
METHODS = {
    "em": _em,
    "adversarial_sampled": _variant(),
    "adversarial_exact": _variant(expectation="exact"),
    "exact_expected": _variant(expectation="exact", shaping="expected"),
    "exact_encoder_disc": _variant(expectation="exact", encoder_gradient="discriminator"),
    "exact_encoder_lik": _variant(expectation="exact", encoder_gradient="likelihood"),
    "exact_mi0": _variant(expectation="exact", mi_weight=0.0),
    "exact_mi10": _variant(expectation="exact", mi_weight=10.0),
    "pemmfirl_no_mi": _variant(mi_weight=0.0, encoder_gradient="likelihood"),
    "pemmfirl_lik": _variant(encoder_gradient="likelihood"),
    "exact_600": _continued("adversarial_exact", "exact"),
    "sampled_600": _continued("adversarial_sampled", "sampled"),
    "exact_true_labels": _true_labels("state"),
    "exact_true_labels_expected": _true_labels("expected"),
    "em_true_labels": _em_true_labels,
    "infinite_state": _infinite("state"),
    "infinite_expected": _infinite("expected"),
    "infinite_em": _infinite(None),
    "infinite_expected_wd0": _infinite("expected", weight_decay=0.0, factor=10),
    "infinite_state_wd0": _infinite("state", weight_decay=0.0, factor=10),
    "em_mixture": _baseline("fit_pemmfirl_em", n_warmup=30, init="mixture"),
    # the EM method at the other candidates of benchmarks/select_settings.py, for the
    # rows "chosen by the criterion" (each game runs the candidate its tuning seeds chose)
    "em_linear": _baseline("fit_pemmfirl_em", n_warmup=30, reward_kind="linear"),
    "em_wd0.1": _baseline("fit_pemmfirl_em", n_warmup=30, weight_decay=0.1),
    "em_wd0.01": _baseline("fit_pemmfirl_em", n_warmup=30, weight_decay=0.01),
    "em_wd0": _baseline("fit_pemmfirl_em", n_warmup=30, weight_decay=0.0),
    "two_stage": _baseline("fit_two_stage"),
    "pemirl": _baseline("fit_pemirl"),
    "mf_airl": _baseline("fit_mf_airl", typed=False),
    "mfirl": _baseline("fit_mfirl", typed=False),
    "oracle": _em_true_labels,
}
#: Methods that read the experts' exact expected counts (no demonstrations).
INFINITE = ("infinite_state", "infinite_expected", "infinite_em", "infinite_expected_wd0",
            "infinite_state_wd0")
#: Methods whose final state is kept (``--out/checkpoints``) for the 600-iteration runs.
CHECKPOINTED = ("adversarial_sampled", "adversarial_exact", "exact_600", "sampled_600")
MAIN = ("em", "adversarial_sampled", "adversarial_exact")
#: The baselines table (``--baselines``): every method at the same iteration budget
#: but the EM method's screened start, whose extra iterations the table counts.
BASELINES = ("adversarial_sampled", "adversarial_exact", "em", "em_mixture", "two_stage",
             "pemirl", "mf_airl", "mfirl", "oracle")
#: The names of the package (CLI ``--method``) under which the tables show the methods.
DISPLAY = {"adversarial_sampled": "pemmfirl", "adversarial_exact": "pemmfirl_exact",
           "pemmfirl_no_mi": "pemmfirl, MI weight 0 (encoder by likelihood)",
           "pemmfirl_lik": "pemmfirl, MI weight 1 (encoder by likelihood)",
           "em": "pemmfirl_em", "em_mixture": "pemmfirl_em, mixture start",
           "em_linear": "pemmfirl_em, linear head", "em_wd0.1": "pemmfirl_em, weight decay 0.1",
           "em_wd0.01": "pemmfirl_em, weight decay 0.01", "em_wd0": "pemmfirl_em, weight decay 0",
           "two_stage": "two_stage", "pemirl": "pemirl", "mf_airl": "mf_airl",
           "mfirl": "mfirl", "oracle": "oracle (true labels)"}


def iteration_budget(method, num_iter):
    """Reward steps a fit took: its iterations, plus the screened start's short fits for the
    EM method (``len(SCREENED_STARTS) * (n_warmup + SCREEN_ITERATIONS)``)."""
    from tabmfirl.irl._em import SCREEN_ITERATIONS, SCREENED_STARTS

    if method in ("em", "em_linear", "em_wd0.1", "em_wd0.01", "em_wd0"):
        return num_iter + len(SCREENED_STARTS) * (30 + SCREEN_ITERATIONS)
    return num_iter


def solver_settings(game):
    """The experiment grid's expert solver: the default, which needs no per-game settings.

    (Until issue 13: fixed point with the game's damping capped at 0.3; the
    equilibria of these games are unique, so the experts agree to ~1e-10.)
    """
    return {}


def run_cell(game, method, seed, settings, checkpoints=None):
    """Expert, demonstrations, fit and scores of one cell (a JSON-able dict).

    ``checkpoints``: folder where the adversarial fits keep their final state.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        spec = envs.make(game, types=3, horizon=settings["horizon"])
        solver = solver_settings(game)
        beta = settings["temperature"]
        expert = tabmfirl.solve_equilibrium(spec, temperature=beta, backend=settings["backend"],
                                            **solver)
        demos = tabmfirl.generate_demonstrations(spec, expert.policy, settings["agents"],
                                                 seed=seed)
        start = time.perf_counter()
        checkpoint = None
        if checkpoints is not None and method in CHECKPOINTED:
            Path(checkpoints).mkdir(parents=True, exist_ok=True)
            checkpoint = Path(checkpoints) / f"{game}__{method}__{seed}.npz"
        extra = {"expert": expert} if method in INFINITE else {}
        result = METHODS[method](spec, demos, seed, settings, checkpoint=checkpoint, **extra)
        seconds = time.perf_counter() - start
    return score(game, method, seed, settings, spec, expert, demos, result, seconds)


def score(game, method, seed, settings, spec, expert, demos, result, seconds):
    """The scores of one cell's fit ``result`` (a JSON-able dict): ARI, Bayes ARI, policy
    deviations of the learned game's equilibrium (from the uniform policy and from the
    experts'), the experts' exploitability in the learned game, the reward error up to
    shaping, and the transfer policy deviation under the game's variant dynamics."""
    beta, solver = settings["temperature"], solver_settings(game)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if result.assignments is None:
            type_map, ari = np.arange(3), None
        else:
            type_map = match_types(demos.types, result.assignments, result.prior.shape[0], 3)
            ari = float(tabmfirl.adjusted_rand_index(demos.types, result.assignments))
        ev = tabmfirl.evaluate_reward(spec, result.head, type_map=type_map, temperature=beta,
                                      expert=expert, solver_kwargs=solver,
                                      backend=settings["backend"])
        # transfer: the learned reward and the true one, both re-solved under the game's
        # variant dynamics (investment's threshold 6 changes every type's equilibrium)
        variant = envs.make(game, types=3, horizon=settings["horizon"], dynamics="variant")
        transfer = tabmfirl.evaluate_reward(variant, result.head, type_map=type_map,
                                            temperature=beta, solver_kwargs=solver,
                                            backend=settings["backend"])
    steps = np.arange(settings["horizon"])
    log_pi = np.log(expert.policy[:, steps, demos.states[:, steps], demos.actions]).sum(-1)
    return {"game": game, "method": method, "seed": seed, "settings": settings, "ari": ari,
            "bayes_ari": float(tabmfirl.adjusted_rand_index(demos.types, log_pi.argmax(0))),
            "policy_deviation": float(ev.mean_policy_deviation),
            "per_type_policy_deviation": [float(x) for x in ev.policy_deviation],
            "learned_converged": bool(ev.learned.converged), "fit_seconds": seconds,
            "expert_exploitability": float(np.max(ev.expert_exploitability)),
            "reward_error": float(np.nanmean(ev.reward_error)),
            "transfer_policy_deviation": float(transfer.mean_policy_deviation),
            "transfer_learned_converged": bool(transfer.learned.converged),
            "policy_deviation_from_expert": float(np.mean(ev.policy_deviation_from_expert)),
            "fit_converged": bool(result.converged), "num_iter": int(result.num_iter),
            "budget": iteration_budget(method, int(result.num_iter)),
            "final_loss": float(result.objective_history[-1])}


def _cell_file(out, game, method, seed):
    return Path(out) / "cells" / f"{game}__{method}__{seed}.json"


def _task(out, game, method, seed, settings):
    record = run_cell(game, method, seed, settings, Path(out) / "checkpoints")
    path = _cell_file(out, game, method, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, record)
    return record


def _cached(out, game, method, seed, settings):
    if out is None or not _cell_file(out, game, method, seed).exists():
        return None
    path = _cell_file(out, game, method, seed)
    record = json.loads(path.read_text())
    return record if record.get("settings") == settings else None


def _stat(values, digits=3):
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    if len(values) == 1:                 # one seed: no spread to show
        return f"{values[0]:.{digits}f}"
    return f"{np.mean(values):.{digits}f} ± {np.std(values, ddof=1):.{digits}f}"


def _groups(records, games, methods):
    """``(game, method, rows sorted by seed, per-seed policy deviations)`` of each cell group
    that has records."""
    for game in games:
        for method in methods:
            rows = sorted((r for r in records if r["game"] == game and r["method"] == method),
                          key=lambda r: r["seed"])
            if rows:
                yield game, method, rows, ", ".join(f"{r['policy_deviation']:.2g}" for r in rows)


def table(records, games, methods):
    """Markdown table of ARI, Bayes ARI, policy deviation and fit seconds per game and method."""
    lines = ["| game | method | seeds | ARI | Bayes ARI | policy dev. | per seed policy dev. "
             "| fit s |", "|---|---|---|---|---|---|---|---|"]
    for game, method, rows, per_seed in _groups(records, games, methods):
        lines.append(f"| {game} | {method} | {len(rows)} | {_stat([r['ari'] for r in rows])} "
                     f"| {_stat([r['bayes_ari'] for r in rows])} "
                     f"| {_stat([r['policy_deviation'] for r in rows])} | {per_seed} "
                     f"| {_stat([r['fit_seconds'] for r in rows], 0)} |")
    return "\n".join(lines)


def _share(rows, key):
    return f"{sum(bool(r.get(key)) for r in rows)}/{len(rows)}"



def baselines_table(records, games, methods):
    """Markdown table of the baselines: seeds, budget, ARI, policy deviation (from the
    uniform policy and from the experts'), the experts' exploitability in the learned game,
    the reward error up to shaping (mean [95% bootstrap interval over the seeds that have
    it]), convergence counts and mean fit seconds."""
    lines = ["| game | method | seeds | reward steps | ARI | Bayes ARI | policy dev. "
             "| median (max) | from experts' policy | experts' exploitability "
             "| reward error | transfer policy dev. | fit conv. | learned game conv. | fit s |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for game, method, rows, _ in _groups(records, games, methods):
        budget = sorted({r["budget"] for r in rows})
        deviations = [r["policy_deviation"] for r in rows]
        lines.append(
            f"| {game} | {DISPLAY.get(method, method)} | {len(rows)} "
            f"| {'/'.join(map(str, budget))} "
            f"| {format_interval([r['ari'] for r in rows])} "
            f"| {format_interval([r['bayes_ari'] for r in rows])} | {format_interval(deviations)} "
            f"| {np.median(deviations):.3g} ({max(deviations):.3g}) "
            f"| {format_interval([r.get('policy_deviation_from_expert') for r in rows])} "
            f"| {format_interval([r['expert_exploitability'] for r in rows], 4)} "
            f"| {format_interval([r.get('reward_error') for r in rows])} "
            f"| {format_interval([r.get('transfer_policy_deviation') for r in rows])} "
            f"| {_share(rows, 'fit_converged')} | {_share(rows, 'learned_converged')} "
            f"| {np.mean([r['fit_seconds'] for r in rows]):.0f} |")
    return "\n".join(lines)


def paired_table(records, games, methods, reference):
    """Markdown table: each method minus ``reference`` on the seeds both have, paired by
    seed (mean difference [95% bootstrap interval]; ``*``: the interval excludes 0) and
    the seeds on which the method is better (higher ARI, lower policy deviation)."""
    lines = [f"| game | method | seeds | ARI minus {DISPLAY.get(reference, reference)}'s "
             "| better ARI | policy dev. minus | lower policy dev. |",
             "|---|---|---|---|---|---|---|"]
    for game in games:
        base = {r["seed"]: r for r in records if r["game"] == game
                and r["method"] == reference}
        for method in methods:
            if method == reference:
                continue
            rows = [r for r in records if r["game"] == game and r["method"] == method
                    and r["seed"] in base]
            if not rows:
                continue
            cells = []
            for key, sign in (("ari", 1.0), ("policy_deviation", -1.0)):
                pairs = [(r[key], base[r["seed"]][key]) for r in rows
                         if r[key] is not None and base[r["seed"]][key] is not None]
                if not pairs:
                    cells += ["-", "-"]
                    continue
                mine, theirs = map(np.asarray, zip(*pairs))
                diff = tabmfirl.paired_bootstrap_interval(mine, theirs)
                mark = "*" if diff.excludes(0.0) else ""
                cells += [f"{diff.format(3)}{mark}",
                          f"{int(np.sum(sign * (mine - theirs) > 0))}/{len(pairs)}"]
            lines.append(f"| {game} | {DISPLAY.get(method, method)} | {len(rows)} | "
                         + " | ".join(cells) + " |")
    return "\n".join(lines)


#: Infinite-data recovery: (game, types, horizon); temperature 1 (tests/test_adversarial_exact.py).
RECOVERY = (("malware", 3, 10), ("investment", 3, 10), ("virus", 3, 10),
            ("rock_paper_scissors", 3, 3), ("left_right", 3, 10))


def recovery_table(iterations=1000):
    """Markdown table: the exact adversarial reward fit on the experts' expected counts.

    Expected counts of 100 agents per type (true labels), linear head, learning
    rate 0.05; the largest policy deviation over the types of the learned game's
    equilibrium (``*``: the solver did not converge on the learned game) and the
    largest exploitability of the experts' policy in the learned game (does the
    reward rationalise the experts? no solve of the learned game needed), with
    the expected potential, with AIRL's state potential, and for the exact MCE
    fit (``fit_reward``) on the same counts.
    """
    from tabmfirl.evaluation._learned_game import learned_game

    lines = ["| game | T | expected potential | state potential | MCE (`fit_reward`) |",
             "|---|---|---|---|---|"]
    for game, types, horizon in RECOVERY:
        spec = envs.make(game, types=types, horizon=horizon)
        solver = {**solver_settings(game), "max_iter": 5000, "tol": 1e-12}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expert = tabmfirl.solve_equilibrium(spec, temperature=1.0, backend="numpy",
                                                **solver)
            counts, cells = 100.0 * expert.state_action, []
            fits = [tabmfirl.fit_reward_adversarial(
                spec, counts, expert.mean_field, shaping=shaping, temperature=1.0,
                max_iter=iterations, learning_rate=0.05, backend="numpy", warn=False)
                for shaping in ("expected", "state")]
            fits.append(tabmfirl.fit_reward(spec, counts, expert.mean_field, temperature=1.0,
                                            max_iter=iterations, learning_rate=0.05,
                                            backend="numpy", warn=False))
            for fit in fits:
                ev = tabmfirl.evaluate_reward(spec, fit.head, type_map=np.arange(types),
                                              temperature=1.0, expert=expert,
                                              solver_kwargs=solver, backend="numpy")
                gap = tabmfirl.exploitability(learned_game(spec, fit.head, np.arange(types)),
                                              expert.policy, temperature=1.0, backend="numpy")
                cells.append(f"{ev.policy_deviation.max():.1e}"
                             f"{'' if ev.learned.converged else '*'} / {gap.max():.1e} "
                             f"({fit.num_iter} it.)")
        lines.append(f"| {game} | {horizon} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def encoder_signal(game, seed, settings, out):
    """What each encoder term says about the types at the end of an exact adversarial fit.

    Loads the ``adversarial_exact`` cell's final state (``out/checkpoints``) and
    returns the ARI against the true types of the assignment each term would
    push the encoder to: ``argmin_m`` of the discriminator term's expert part
    (``sum_t softplus(-z^m_t)``), of the whole discriminator term ``G_jm``, and
    ``argmax_m`` of the causal likelihood ``sum_t log pi^m_t`` (the likelihood
    term), with the fit's own ARI and the mean and spread over the
    demonstrations of the expert part per step.
    """
    from tabmfirl.irl._adversarial import AdversarialFit
    from tabmfirl.irl._adversarial_exact import discriminator_logits, expert_type_losses
    from tabmfirl.irl._likelihood import trajectory_log_likelihood

    source = Path(out) / "checkpoints" / f"{game}__adversarial_exact__{seed}.npz"
    beta, T = settings["temperature"], settings["horizon"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        spec = envs.make(game, types=3, horizon=T)
        expert = tabmfirl.solve_equilibrium(spec, temperature=beta, backend=settings["backend"],
                                            **solver_settings(game))
        demos = tabmfirl.generate_demonstrations(spec, expert.policy, settings["agents"],
                                                 seed=seed)
        copy = Path(out) / "checkpoints" / f".{game}__signal__{seed}.npz"
        shutil.copyfile(source, copy)            # returned as it is: max_iter reached
        fit = _adversarial(spec, demos, seed, settings, checkpoint=copy, expectation="exact")
        copy.unlink()
    method = AdversarialFit("pemmfirl_em", spec, demos, 3, types=True,
                            mean_field_reward=True, mi_weight=0.0, reward_kind="additive",
                            hidden_sizes=(32, 32), temperature=beta, learning_rate=0.02,
                            encoder_learning_rate=0.02, weight_decay=0.01, shaping="state",
                            n_sampler_agents=100, n_encoder_steps=1, init="random",
                            init_smoothing=0.2, n_pretrain=0, backend=settings["backend"],
                            expectation="exact", encoder_gradient="discriminator")
    state = method.start(np.random.default_rng(0), resuming=True)
    for name, value in (("reward_params", fit.reward_params),
                        ("shaping_params", fit.shaping.get_flat()),
                        ("encoder_params", fit.encoder.get_flat())):
        state.arrays[name][:] = value
    G = method.evaluate(state)[1][2].posterior_grad
    *_, reward, _, backward = method._tables(method._posterior())
    log_pi = (backward.q - backward.value[:, :T, :, None]) / beta
    per_step = expert_type_losses(discriminator_logits(reward, method.shaping.table(), log_pi,
                                                       beta), demos.states, demos.actions) / T
    ll = trajectory_log_likelihood(backward, demos.states, demos.actions, beta)
    ari = tabmfirl.adjusted_rand_index
    return {"fit": ari(demos.types, fit.assignments),
            "expert_part": ari(demos.types, per_step.argmin(axis=1)),
            "discriminator_term": ari(demos.types, G.argmin(axis=1)),
            "likelihood_term": ari(demos.types, ll.argmax(axis=1)),
            "expert_part_mean": float(per_step.mean()),
            "expert_part_std": float(per_step.std(axis=0).mean())}


def start_ari(game, seed, settings):
    """ARI of the adversarial fit's encoder pre-training targets (the ``"mixture"`` start).

    Reproduces the fit's draws: the encoder's initialisation, then the clustering
    (``tabmfirl.irl._adversarial.AdversarialFit.start``; the additive head draws
    nothing).
    """
    from tabmfirl.irl._init import initial_posterior

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        spec = envs.make(game, types=3, horizon=settings["horizon"])
        expert = tabmfirl.solve_equilibrium(spec, temperature=settings["temperature"],
                                            backend=settings["backend"],
                                            **solver_settings(game))
        demos = tabmfirl.generate_demonstrations(spec, expert.policy, settings["agents"],
                                                 seed=seed)
    rng = np.random.default_rng(seed)
    tabmfirl.ContextEncoder(spec.n_states, spec.n_actions, n_contexts=3, seed=rng)
    targets = initial_posterior(demos.states, demos.actions, 3, spec.n_states, spec.n_actions,
                                "mixture", 0.2, rng)
    return tabmfirl.adjusted_rand_index(demos.types, targets.argmax(axis=1))


def reevaluate(game, method, seed, settings, out):
    """Score a checkpointed cell's fit again with the current scores and solver settings.

    The fit is restored from ``out/checkpoints`` (a checkpoint at ``max_iter`` is
    returned as it is, with no further step) and scored by :func:`score`; the fit
    seconds are the cached cell's.
    """
    base = {"exact_600": "adversarial_exact", "sampled_600": "adversarial_sampled"}
    iters = settings["iters"] * (2 if method in base else 1)
    source = Path(out) / "checkpoints" / f"{game}__{method}__{seed}.npz"
    beta = settings["temperature"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        spec = envs.make(game, types=3, horizon=settings["horizon"])
        expert = tabmfirl.solve_equilibrium(spec, temperature=beta, backend=settings["backend"],
                                            **solver_settings(game))
        demos = tabmfirl.generate_demonstrations(spec, expert.policy, settings["agents"],
                                                 seed=seed)
        copy = Path(out) / "checkpoints" / f".{game}__reevaluate__{seed}.npz"
        shutil.copyfile(source, copy)
        expectation = "exact" if "exact" in method else "sampled"
        fit = _adversarial(spec, demos, seed, {**settings, "iters": iters}, checkpoint=copy,
                           expectation=expectation)
        copy.unlink()
    old = _cached(out, game, method, seed, settings)
    return score(game, method, seed, settings, spec, expert, demos, fit,
                 old["fit_seconds"] if old else float("nan"))


def _seeds(text):
    if "-" in text:
        low, high = (int(x) for x in text.split("-"))
        return list(range(low, high + 1))
    return [int(x) for x in text.split(",")]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--games", default="malware,investment,virus")
    parser.add_argument("--methods", default=None, help="comma-separated (default: MAIN)")
    parser.add_argument("--seeds", default=None,
                        help="e.g. 100-104 or 100,102 (default 100-104, the tuning seeds)")
    parser.add_argument("--agents", type=int, default=200, help="agents per type")
    parser.add_argument("--horizon", type=int, default=50)
    parser.add_argument("--temperature", type=float, default=0.1)
    parser.add_argument("--iters", type=int, default=300)
    parser.add_argument("--backend", default="numba")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--out", default=None, help="folder of the cell files (resumable)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: virus, T = 5, 10 agents, 3 iterations, numpy")
    parser.add_argument("--recovery", action="store_true",
                        help="print the infinite-data recovery table instead (~1 min)")
    parser.add_argument("--reevaluate", action="store_true",
                        help="score the checkpointed cells of --out again with the current "
                             "solver")
    parser.add_argument("--update", action="store_true",
                        help="with --reevaluate: write the new scores into the cached cells")
    parser.add_argument("--start-ari", action="store_true",
                        help="ARI of the encoder's pre-training start, then of the fits in "
                             "--out (methods of --methods)")
    parser.add_argument("--baselines", action="store_true",
                        help="the baselines table: methods BASELINES (unless --methods), "
                             "test seeds 200-202 (unless --seeds)")
    parser.add_argument("--paired", default=None,
                        help="with --baselines: also print each method minus these methods "
                             "(comma-separated), paired by seed")
    parser.add_argument("--cached-only", action="store_true",
                        help="print the table of the cells already in --out; compute none")
    parser.add_argument("--encoder-signal", action="store_true",
                        help="ARI of what each encoder term prefers, at the end of the "
                             "adversarial_exact cells in --out")
    args = parser.parse_args(argv)
    if args.recovery:
        print("Exact adversarial reward fit on the experts' expected counts: largest policy "
              "deviation over the types (* not converged) / largest exploitability of the "
              "experts in the learned game (temperature 1, linear head)\n")
        print(recovery_table())
        return
    args.methods = args.methods or ",".join(BASELINES if args.baselines else MAIN)
    args.seeds = args.seeds or ("200-202" if args.baselines else "100-104")
    if args.quick:
        args.games, args.seeds, args.agents, args.horizon = "virus", "100", 10, 5
        args.iters, args.backend = 3, "numpy"
    games, methods = args.games.split(","), args.methods.split(",")
    settings = {"agents": args.agents, "horizon": args.horizon,
                "temperature": args.temperature, "iters": args.iters, "backend": args.backend}
    if args.reevaluate:
        print("| game | method | seed | policy dev. then (converged) | now (converged) | "
              "experts' exploitability in the learned game | reward error |\n"
              "|---|---|---|---|---|---|---|")
        for game in games:
            for method in methods:
                for seed in _seeds(args.seeds):
                    old = _cached(args.out, game, method, seed, settings)
                    r = reevaluate(game, method, seed, settings, args.out)
                    print(f"| {game} | {method} | {seed} | {old['policy_deviation']:.3g} "
                          f"({'yes' if old['learned_converged'] else 'no'}) | "
                          f"{r['policy_deviation']:.3g} "
                          f"({'yes' if r['learned_converged'] else 'no'}) "
                          f"| {r['expert_exploitability']:.2g} | {r['reward_error']:.3g} |",
                          flush=True)
                    if args.update:
                        atomic_write_json(_cell_file(args.out, game, method, seed), r)
        return
    if args.start_ari:
        print("| game | seed | mixture start | " + " | ".join(methods) + " |\n"
              "|---|---|---|" + "---|" * len(methods))
        for game in games:
            for seed in _seeds(args.seeds):
                cached = [_cached(args.out, game, m, seed, settings) for m in methods]
                print(f"| {game} | {seed} | {start_ari(game, seed, settings):.3f} | " + " | ".join(
                    "-" if c is None or c["ari"] is None else f"{c['ari']:.3f}" for c in cached)
                    + " |", flush=True)
        return
    if args.encoder_signal:
        print("| game | seed | fit ARI | argmin expert part | argmin discriminator term | "
              "argmax likelihood term | expert part per step, mean (std over j) |\n"
              "|---|---|---|---|---|---|---|")
        for game in games:
            for seed in _seeds(args.seeds):
                r = encoder_signal(game, seed, settings, args.out)
                print(f"| {game} | {seed} | {r['fit']:.3f} | {r['expert_part']:.3f} | "
                      f"{r['discriminator_term']:.3f} | {r['likelihood_term']:.3f} | "
                      f"{r['expert_part_mean']:.4f} ({r['expert_part_std']:.4f}) |", flush=True)
        return
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        parser.error(f"unknown methods {unknown}; known: {sorted(METHODS)}")
    # seed-major: a run stopped early has every game and method on its first seeds
    cells = [(g, m, s) for s in _seeds(args.seeds) for g in games for m in methods]
    records = [r for r in (_cached(args.out, *c, settings) for c in cells) if r is not None]
    todo = [] if args.cached_only else [c for c in cells
                                        if _cached(args.out, *c, settings) is None]
    start = time.perf_counter()
    if args.workers > 1 and len(todo) > 1:
        with ProcessPoolExecutor(args.workers) as pool:
            futures = [pool.submit(_task, args.out, *c, settings) if args.out else
                       pool.submit(run_cell, *c, settings) for c in todo]
            for future in as_completed(futures):
                records.append(future.result())
    else:
        for cell in todo:
            records.append(_task(args.out, *cell, settings) if args.out
                           else run_cell(*cell, settings))
    print(f"{len(games)} games, methods {', '.join(methods)}, seeds {args.seeds}; "
          f"{args.agents} agents per type, T = {args.horizon}, beta = {args.temperature}, "
          f"{args.iters} iterations, {args.backend} backend; " + (
              "mean [95% bootstrap interval over seeds]\n" if args.baselines
              else "mean ± sample std over seeds\n"))
    print((baselines_table if args.baselines else table)(records, games, methods))
    if args.baselines:
        for reference in args.paired.split(",") if args.paired else ():
            print(f"\nPaired by seed, against {DISPLAY.get(reference, reference)}:\n")
            print(paired_table(records, games, methods, reference))
    print(f"\n{len(todo)} cells computed in {time.perf_counter() - start:.0f} s "
          f"({len(records) - len(todo)} from {args.out})")


if __name__ == "__main__":
    main()
