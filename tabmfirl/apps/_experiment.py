r"""Experiments: the evaluation of one fit, and a resumable (game x method x seed) grid.

The fits are named in :data:`tabmfirl.apps._fit_methods.FIT_METHODS` (one
calling convention, ``fit(spec, demos, n_contexts, **options)``); the grid's
folder layout and resume rule are :mod:`tabmfirl.apps._runs`.

Evaluation (design notes, section 5)
------------------------------------
:func:`evaluate_fit` matches learned contexts to true types
(:func:`~tabmfirl.evaluation._metrics.match_types`), re-solves the game with the
learned reward at the experts' temperature and reports the type-averaged
return, mean-field and policy deviations (:func:`~tabmfirl.evaluate_reward`),
the policy deviation of the learned game's equilibrium reached from the
experts' policy, the experts' largest regularised exploitability in the learned
game, the reward error at the experts' flow up to shaping (what one flow
identifies, ``docs/theory.md`` section 8), whether the fit met its own
convergence test (``fit_converged``, 1 or 0: its mean over seeds is the rate),
the three deviations under the *variant* dynamics (transfer), the adjusted Rand
index and NMI of :math:`\arg\max_m q(m\mid\tau)` against the true types, and
the ARI of the Bayes classifier under the *true* equilibrium policies
(``bayes_ari``, the reference for type recovery from these trajectories:
what knowing the true rewards would give; grid cells only), the held-out
marginal log-likelihood per trajectory
(:func:`~tabmfirl.held_out_log_likelihood`) and the ARI of the predicted
types of held-out agents.

Grid
----
:func:`run_experiment` runs every (game, method, seed) *cell*: solve the
expert equilibrium of ``envs.make(game, types=K, horizon=T)`` at temperature
:math:`\beta` (``None``: the game's own horizon and temperature), roll out
``agents`` agents per type (seed ``seed``; held-out
agents with seed ``seed + 1000003``), fit, evaluate.  The grid's fit settings
(``temperature``, ``max_iter``, ``n_warmup``, ``learning_rate``, ``reward_kind``,
``backend``) are shared by its methods: each method gets those it takes
(:meth:`~tabmfirl.apps._fit_methods.FitMethod.select`; ``n_warmup`` only the
methods with a warm-up), and each cell records the options its fit got
(``fit.options``).  Cells run in a local
:class:`concurrent.futures.ProcessPoolExecutor` (in-process for one worker),
or, with ``scheduler=``, as one task each on a Dask cluster (the optional
extra ``dist``: ``pip install -e .[dist]``; ``out`` must then be a folder the
workers see at the same absolute path).  Each finished cell is written
atomically, by the process that computed it, to
``out/cells/<game>__<method>__<seed>.json`` (with its configuration); a rerun
skips the finished cells (:func:`tabmfirl.apps._runs.cell_finished`: the file
exists, parses, and holds the same configuration) and ignores stray temporary
files (``.*.tmp``) and truncated files.  The end
aggregates the grid to ``out/results.csv`` and ``out/results.md``: mean and
sample standard deviation (``ddof=1``; 0 for one seed) over seeds of every
metric, per game and method; missing metrics (e.g. no variant dynamics) are
left out of the mean and shown as ``-``.
"""
from __future__ import annotations

import csv
import io
import os
import signal
import time
import traceback
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np

from tabmfirl import (
    envs,
    generate_demonstrations,
    held_out_log_likelihood,
    predict_types,
    solve_equilibrium,
)
from tabmfirl.evaluation._metrics import (
    adjusted_rand_index,
    bayes_log_likelihood,
    evaluate_reward,
    match_types,
    normalized_mutual_information,
)

from ._defaults import DEFAULTS, default_temperature
from ._errors import CommandError
from ._fit_methods import FIT_METHODS
from ._games import game_reference, is_builtin, load_game, takes_dynamics
from ._runs import (
    CELL_FORMAT,
    LOCK_FILE,
    RunLock,
    cell_finished,
    cell_path,
    read_cell,
    write_cell,
    write_tables,
)

__all__ = ["METRICS", "evaluate_fit", "run_cell", "run_experiment",
           "aggregate", "markdown_table", "DEFAULT_SETTINGS"]

#: Metrics reported per cell and aggregated, in table order.
METRICS = ("ari", "bayes_ari", "nmi", "return_deviation", "mean_field_deviation",
           "policy_deviation", "policy_deviation_from_expert", "expert_exploitability",
           "reward_error", "fit_converged",
           "transfer_return_deviation", "transfer_mean_field_deviation",
           "transfer_policy_deviation", "held_out_log_likelihood", "held_out_ari",
           "train_log_likelihood", "fit_seconds")


# ---------------------------------------------------------------------------
# Evaluation of one fit.
# ---------------------------------------------------------------------------


def _float(x):
    x = float(x)
    return x if np.isfinite(x) else None


def evaluate_fit(spec, result, demos, *, temperature: float, expert=None, variant=None,
                 held_out=None, solver_kwargs=None, backend: str = "numpy") -> dict:
    """Metrics of one fit (module docstring); ``None`` for a metric not computed.

    Parameters
    ----------
    spec : MFGSpec
        The game with the true reward (``demos``' game).
    result : IRLResult
    demos : Demonstrations
        The training demonstrations (their true ``types`` score the posterior).
    temperature : float
        :math:`\\beta` of the experts and of the learned equilibria.
    expert : EquilibriumResult, optional
        The expert equilibrium of ``spec`` at ``temperature``, if solved.
    variant : MFGSpec, optional
        The game under the variant dynamics (transfer metrics).
    held_out : Demonstrations, optional
        Trajectories not used in the fit.
    solver_kwargs : dict, optional
        Of :func:`~tabmfirl.solve_equilibrium`; default
        none (its default method, which needs no per-game settings).
    backend : {"auto", "numpy", "numba", "cuda"}

    Returns
    -------
    dict
        The keys of :data:`METRICS` (except ``bayes_ari`` and ``fit_seconds``),
        plus ``learned_converged``, ``type_map`` and ``per_type`` (the three
        deviations of each true type).
    """
    solver_kwargs = {} if solver_kwargs is None else dict(solver_kwargs)
    n_learned = result.prior.shape[0]
    true = np.asarray(demos.types)
    assignments = (np.zeros(true.shape[0], dtype=np.int64) if result.assignments is None
                   else result.assignments)
    type_map = match_types(true, assignments, n_learned, spec.n_contexts)
    common = {"type_map": type_map, "temperature": temperature,
              "solver_kwargs": solver_kwargs, "backend": backend}
    ev = evaluate_reward(spec, result.head, expert=expert, **common)
    metrics = {
        "ari": _float(adjusted_rand_index(true, assignments)),
        "nmi": _float(normalized_mutual_information(true, assignments)),
        "return_deviation": _float(ev.mean_return_deviation),
        "mean_field_deviation": _float(ev.mean_mean_field_deviation),
        "policy_deviation": _float(ev.mean_policy_deviation),
        "learned_converged": bool(ev.learned.converged),
        "policy_deviation_from_expert": _float(np.mean(ev.policy_deviation_from_expert)),
        "expert_exploitability": _float(np.max(ev.expert_exploitability)),
        "reward_error": _float(np.nanmean(ev.reward_error)),
        "fit_converged": float(bool(result.converged)),
        "per_type": {"return_deviation": [float(x) for x in ev.return_deviation],
                     "mean_field_deviation": [float(x) for x in ev.mean_field_deviation],
                     "policy_deviation": [float(x) for x in ev.policy_deviation]},
        "type_map": [int(m) for m in type_map],
        "train_log_likelihood": _float(result.log_likelihood_history[-1]),
    }
    for key in ("transfer_return_deviation", "transfer_mean_field_deviation",
                "transfer_policy_deviation", "held_out_log_likelihood", "held_out_ari"):
        metrics[key] = None
    if variant is not None:
        tv = evaluate_reward(variant, result.head, **common)
        metrics.update({"transfer_return_deviation": _float(tv.mean_return_deviation),
                        "transfer_mean_field_deviation": _float(tv.mean_mean_field_deviation),
                        "transfer_policy_deviation": _float(tv.mean_policy_deviation)})
    if held_out is not None:
        metrics["held_out_log_likelihood"] = _float(
            held_out_log_likelihood(spec, result, held_out, backend=backend))
        predicted = predict_types(spec, result, held_out, backend=backend).argmax(axis=1)
        metrics["held_out_ari"] = _float(adjusted_rand_index(held_out.types, predicted))
    return metrics


# ---------------------------------------------------------------------------
# One cell.
# ---------------------------------------------------------------------------


def _variant(game, types, horizon=None):
    """The game under its variant dynamics (``horizon`` None: the game's), or None."""
    try:
        if not takes_dynamics(game):
            return None
        return load_game(game, types=types, horizon=horizon, dynamics="variant")
    except CommandError:
        return None


def run_cell(game: str, method: str, seed: int, *, settings: dict) -> dict:
    """Generate demonstrations, fit and evaluate one (game, method, seed) cell.

    Parameters
    ----------
    game : str
        A registered game (:data:`tabmfirl.envs.GAMES`), ``module:function`` or a
        game file (:func:`tabmfirl.apps._games.load_game`).
    method : str
        A key of :data:`~tabmfirl.apps._fit_methods.FIT_METHODS`.
    seed : int
        Seed of the demonstrations (held-out: ``seed + 1000003``) and of the fit.
    settings : dict
        ``agents`` (per type), ``types``, ``horizon``, ``temperature``,
        ``max_iter``, ``n_warmup``, ``learning_rate``, ``reward_kind``, ``held_out_agents``
        (0: none), ``backend``.  The fit gets the fit settings it takes
        (module docstring).

    Returns
    -------
    dict
        The cell record: ``format``, ``game``, ``method``, ``seed``,
        ``settings``, ``metrics``, ``fit`` (iterations, converged, seconds and
        the ``options`` the fit got) and ``seconds``.
    """
    start = time.perf_counter()
    s = settings
    # None: the game's own temperature and horizon (the defaults of every verb)
    beta = default_temperature(game) if s["temperature"] is None else s["temperature"]
    spec = load_game(game, types=s["types"], horizon=s["horizon"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expert = solve_equilibrium(spec, temperature=beta, backend=s["backend"])
    if not expert.converged:
        raise RuntimeError(f"the expert equilibrium of {game} did not converge at "
                           f"beta={beta} (residual {expert.residual:.2e})")
    demos = generate_demonstrations(spec, expert.policy, s["agents"], seed=seed)
    held_out = None
    if s.get("held_out_agents", 0):
        held_out = generate_demonstrations(spec, expert.policy, s["held_out_agents"],
                                           seed=seed + 1000003)
    fit = FIT_METHODS[method]
    options = fit.select({"temperature": beta, "max_iter": s["max_iter"],
                          "n_warmup": s["n_warmup"], "learning_rate": s["learning_rate"],
                          "reward_kind": s.get("reward_kind", "linear"), "seed": seed,
                          "backend": s["backend"], "warn": False})
    result = fit(spec, demos, s["types"], **options)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        metrics = evaluate_fit(spec, result, demos, temperature=beta,
                               expert=expert, variant=_variant(game, s["types"], s["horizon"]),
                               held_out=held_out, backend=s["backend"])
    metrics["fit_seconds"] = float(result.seconds)
    metrics["bayes_ari"] = _bayes_ari(spec, expert, demos, beta, s["backend"])
    return {"format": CELL_FORMAT, "game": game, "method": method, "seed": int(seed),
            "settings": dict(settings), "metrics": metrics,
            "fit": {"method": result.method, "num_iter": int(result.num_iter),
                    "converged": bool(result.converged), "seconds": float(result.seconds),
                    "options": options},
            "seconds": time.perf_counter() - start}


def _bayes_ari(spec, expert, demos, temperature, backend):
    """ARI of the Bayes classifier under the true equilibrium (the reference; with the
    dynamics term when the types move differently, ``bayes_log_likelihood``)."""
    log_lik = bayes_log_likelihood(spec, expert, demos, temperature=temperature,
                                   backend=backend)
    return _float(adjusted_rand_index(demos.types, log_lik.argmax(axis=1)))


def _cell_task(out, game, method, seed, settings):
    """Worker: run one cell and write its file atomically; never raises."""
    try:
        record = run_cell(game, method, seed, settings=settings)
    except Exception as error:
        return {"game": game, "method": method, "seed": seed,
                "error": f"{type(error).__name__}: {error}",
                "traceback": traceback.format_exc()}
    write_cell(out, record)
    return record


# ---------------------------------------------------------------------------
# The grid.
# ---------------------------------------------------------------------------

#: The grid's settings when not given: the defaults of every verb
#: (:data:`tabmfirl.apps._defaults.DEFAULTS`; ``temperature`` and ``horizon`` ``None``:
#: each game's own), three types and 50 held-out agents per type.
DEFAULT_SETTINGS = {"agents": DEFAULTS["agents"], "types": 3, "horizon": DEFAULTS["horizon"],
                    "temperature": DEFAULTS["temperature"], "max_iter": DEFAULTS["max_iter"],
                    "n_warmup": DEFAULTS["n_warmup"], "learning_rate": DEFAULTS["learning_rate"],
                    "reward_kind": DEFAULTS["reward_kind"], "held_out_agents": 50,
                    "backend": DEFAULTS["backend"]}


def _grid_game(game, settings) -> str:
    """``game`` checked (built, with the grid's types and horizon) and as cells record it."""
    if is_builtin(game) or (":" not in game and not game.endswith(".npz")):
        if game not in envs.GAMES:
            raise ValueError(f"unknown game {game!r}; known: {', '.join(sorted(envs.GAMES))}")
        return game
    try:
        load_game(game, types=settings["types"], horizon=settings["horizon"])
        return game_reference(game)
    except CommandError as error:
        raise ValueError(str(error)) from None


def _grid(games, methods, seeds, settings) -> tuple:
    """``(games, methods, seeds, settings)`` checked and completed (ValueError)."""
    unknown = set(settings) - set(DEFAULT_SETTINGS)
    if unknown:
        raise ValueError(f"unknown setting(s) {', '.join(sorted(unknown))}")
    settings = {**DEFAULT_SETTINGS, **settings}
    games = [_grid_game(game, settings) for game in games]
    methods = (list(FIT_METHODS) if methods == "all" or list(methods) == ["all"]
               else list(methods))
    for method in methods:
        if method not in FIT_METHODS:
            raise ValueError(f"unknown method {method!r}; known: {', '.join(FIT_METHODS)}")
    seeds = list(range(seeds)) if isinstance(seeds, (int, np.integer)) else list(seeds)
    if not (games and methods and seeds):
        raise ValueError("the grid is empty (no games, methods or seeds)")
    return games, methods, seeds, settings


def _reporter(todo, failed, log):
    """``report(record, done)``: a progress line per finished cell; errors go to ``failed``."""
    def report(record, done):
        name = f"{record['game']}/{record['method']}/seed {record['seed']}"
        if "error" in record:
            failed.append(record)
            log(f"[{done}/{len(todo)}] {name}: FAILED {record['error']}")
        else:
            m = record["metrics"]
            log(f"[{done}/{len(todo)}] {name}: ARI {_fmt(m['ari'])}, policy deviation "
                f"{_fmt(m['policy_deviation'])} ({record['seconds']:.1f} s)")
    return report


def _ignore_interrupts():
    """Initializer of the pool's workers: Ctrl-C (SIGINT, sent by a terminal to the whole
    process group) is for the parent, which then ends the workers (:func:`_stop_pool`);
    SIGTERM ends a worker at once (not a handler inherited from the parent)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _stop_pool(pool):
    """Cancel the cells not started and terminate the workers (Ctrl-C, SIGTERM)."""
    # the worker processes: Python < 3.14 has no public accessor (3.14: terminate_workers)
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()
    for process in processes:
        process.join(timeout=10)


def _run_local(todo, out, settings, workers, report):
    """Run the cells ``todo`` in this process (one worker or cell) or a process pool.

    An exception in this process (``KeyboardInterrupt`` from Ctrl-C or, through the CLI's
    handler, SIGTERM) cancels the cells not started and terminates the workers before it
    propagates; the cells already written stay, and a rerun resumes from them.
    """
    if workers == 1 or len(todo) <= 1:
        for done, cell in enumerate(todo, 1):
            report(_cell_task(out, *cell, settings), done)
        return
    pool = ProcessPoolExecutor(max_workers=min(workers, len(todo)),
                               initializer=_ignore_interrupts)
    try:
        futures = {pool.submit(_cell_task, out, *cell, settings): cell for cell in todo}
        _collect(futures, as_completed(futures), report)
    except BaseException:
        _stop_pool(pool)
        raise
    pool.shutdown(wait=True)


def _run_dask(todo, out, settings, distributed, scheduler, report, log):
    """Run the cells ``todo`` as one task each on the Dask cluster of ``scheduler``."""
    client, own = _dask_client(distributed, scheduler)
    try:
        info = client.scheduler_info()
        log(f"Dask scheduler {info.get('address', scheduler)}: "
            f"{len(info.get('workers', {}))} worker(s)")
        futures = {client.submit(_cell_task, str(out.resolve()), *cell, settings,
                                 pure=False, retries=1): cell for cell in todo}
        _collect(futures, distributed.as_completed(list(futures), loop=client.loop), report)
    finally:
        if own:
            client.close()


def run_experiment(games, methods, seeds, *, out, workers=None, log=None, scheduler=None,
                   **settings) -> dict:
    """Run (or finish) a grid of cells and aggregate it (module docstring).

    Parameters
    ----------
    games : sequence of str
    methods : sequence of str or "all"
        Keys of :data:`~tabmfirl.apps._fit_methods.FIT_METHODS`.
    seeds : int or sequence of int
        An int ``n`` means ``range(n)``.
    out : str or os.PathLike
        Output folder (created).
    workers : int, optional
        Worker processes; default ``os.cpu_count()``; 1 runs in this process.
    log : callable, optional
        ``log(line)`` for progress lines (e.g. print to stderr).
    scheduler : str or distributed.Client, optional
        Run the cells on this Dask cluster (a scheduler address such as
        ``"tcp://host:8786"``, or a connected client, left open) instead of
        local processes; ``workers`` is then ignored.  One task per unfinished
        cell (``retries=1``; a task lost with its worker is rerun elsewhere);
        the worker writes the cell file, so ``out`` must be on a file system
        the workers share, at the same absolute path.  Needs the extra
        ``dist`` (``pip install -e .[dist]``).  Not contacted when every cell
        is finished.
    **settings
        Overrides of :data:`DEFAULT_SETTINGS` (``agents``, ``types``,
        ``horizon``, ``temperature``, ``max_iter``, ``n_warmup``,
        ``learning_rate``, ``reward_kind`` (of every method's reward head:
        ``"linear"``, ``"additive"`` or ``"mlp"``), ``held_out_agents``,
        ``backend``).

    Returns
    -------
    dict
        ``cells`` (all records of the grid), ``ran``, ``skipped``, ``failed``
        (list of error records), ``rows`` (:func:`aggregate`), ``seconds`` and
        the paths ``csv`` and ``markdown``.

    Raises
    ------
    ValueError
        Unknown game, method or setting, or no cells.
    ImportError
        ``scheduler`` given without Dask's ``distributed`` installed.
    OSError
        The scheduler cannot be reached.
    RunLockedError
        Another live process is running an experiment in ``out``.
    """
    start = time.perf_counter()
    log = log or (lambda line: None)
    games, methods, seeds, settings = _grid(games, methods, seeds, settings)
    workers = (os.cpu_count() or 1) if workers is None else int(workers)
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    distributed = _import_distributed() if scheduler is not None else None
    out = Path(out)
    (out / "cells").mkdir(parents=True, exist_ok=True)
    grid = [(g, m, s) for g in games for m in methods for s in seeds]
    with RunLock(out / LOCK_FILE):   # one experiment per folder at a time
        todo = [cell for cell in grid if not cell_finished(cell_path(out, *cell), settings)]
        skipped = len(grid) - len(todo)
        where = f"{workers} worker(s)" if scheduler is None or not todo else "a Dask cluster"
        log(f"{len(grid)} cells: {skipped} finished, {len(todo)} to run on {where}")
        failed = []
        report = _reporter(todo, failed, log)
        if todo and scheduler is not None:
            _run_dask(todo, out, settings, distributed, scheduler, report, log)
        elif todo:
            _run_local(todo, out, settings, workers, report)
    cells = [r for r in (read_cell(cell_path(out, *cell)) for cell in grid) if r is not None]
    rows = aggregate(cells)
    csv_path, md_path = _write_tables(out, rows, settings, games, methods, seeds)
    return {"cells": cells, "ran": len(todo) - len(failed), "skipped": skipped,
            "failed": failed, "rows": rows, "seconds": time.perf_counter() - start,
            "csv": str(csv_path), "markdown": str(md_path)}


def _collect(futures, completed, report):
    """Report each future's record as it completes (the process-pool and Dask loop).

    ``futures`` maps a future to its cell ``(game, method, seed)``; ``completed``
    yields the futures in completion order.  A future that raises (a crashed
    worker process, a task lost with its workers after its retries) becomes the
    error record of its cell, like a cell whose fit raised.
    """
    for done, future in enumerate(completed, 1):
        try:
            record = future.result()
        except Exception as error:
            game, method, seed = futures[future]
            record = {"game": game, "method": method, "seed": seed,
                      "error": f"{type(error).__name__}: {error}",
                      "traceback": "".join(traceback.format_exception(error))}
        report(record, done)


def _import_distributed():
    """Dask's ``distributed``, or an ImportError that says how to install it."""
    try:
        # an optional dependency (the extra ``dist``), imported only for scheduler=
        import distributed
    except ImportError as error:
        raise ImportError("running cells on a Dask cluster (scheduler=, --scheduler) needs "
                          "dask.distributed: pip install -e .[dist]  (or pip install "
                          f"'dask[distributed]'); {error}") from error
    return distributed


def _dask_client(distributed, scheduler):
    """``(client, own)``: the given client, or a new one connected to an address (own)."""
    if isinstance(scheduler, distributed.Client):
        return scheduler, False
    if not isinstance(scheduler, str):
        raise ValueError(f"scheduler must be an address string or a distributed.Client, "
                         f"got {type(scheduler).__name__}")
    try:
        return distributed.Client(scheduler, set_as_default=False), True
    except (OSError, TimeoutError) as error:
        raise OSError(f"cannot connect to the Dask scheduler at {scheduler}: {error}") from None


def aggregate(cells) -> list:
    """Mean and standard deviation over seeds of every metric, per game and method.

    Parameters
    ----------
    cells : sequence of dict
        Cell records (:func:`run_cell`).

    Returns
    -------
    list of dict
        One row per (game, method), in order of first appearance: ``game``,
        ``method``, ``n_seeds`` and, for each metric of :data:`METRICS`,
        ``<metric>_mean`` and ``<metric>_std`` (``ddof=1``, 0 for one seed;
        ``None`` if no seed has the metric).
    """
    groups = {}
    for record in cells:
        groups.setdefault((record["game"], record["method"]), []).append(record)
    rows = []
    for (game, method), records in groups.items():
        row = {"game": game, "method": method, "n_seeds": len(records)}
        for metric in METRICS:
            values = np.array([r["metrics"].get(metric) for r in records
                               if r["metrics"].get(metric) is not None], dtype=np.float64)
            row[metric + "_mean"] = float(values.mean()) if values.size else None
            row[metric + "_std"] = (float(values.std(ddof=1)) if values.size > 1
                                    else 0.0 if values.size else None)
        rows.append(row)
    return rows


def _fmt(x, digits=3):
    if x is None:
        return "-"
    if x != 0 and (abs(x) < 10 ** -digits or abs(x) >= 10 ** 4):
        return f"{x:.{digits - 1}e}"
    return f"{x:.{digits}f}"


_LABELS = {"ari": "ARI", "bayes_ari": "Bayes ARI", "nmi": "NMI",
           "return_deviation": "return dev.",
           "mean_field_deviation": "MF dev.", "policy_deviation": "policy dev.",
           "transfer_return_deviation": "transfer return dev.",
           "transfer_mean_field_deviation": "transfer MF dev.",
           "transfer_policy_deviation": "transfer policy dev.",
           "policy_deviation_from_expert": "policy dev. from experts' policy",
           "expert_exploitability": "experts' exploitability",
           "reward_error": "reward error", "fit_converged": "fit conv. rate",
           "held_out_log_likelihood": "held-out LL", "held_out_ari": "held-out ARI",
           "train_log_likelihood": "train LL", "fit_seconds": "fit s"}


def markdown_table(rows, metrics=METRICS) -> str:
    """The rows of :func:`aggregate` as a markdown table of ``mean ± std``.

    Parameters
    ----------
    rows : list of dict
    metrics : sequence of str

    Returns
    -------
    str
    """
    header = ["game", "method", "seeds"] + [_LABELS.get(m, m) for m in metrics]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [row["game"], row["method"], str(row["n_seeds"])]
        for m in metrics:
            mean, std = row[m + "_mean"], row[m + "_std"]
            cells.append("-" if mean is None else f"{_fmt(mean)} ± {_fmt(std)}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _setting(value):
    return "the game's own" if value is None else value


def _write_tables(out, rows, settings, games, methods, seeds):
    buffer = io.StringIO()
    fields = ["game", "method", "n_seeds"] + [f"{m}_{k}" for m in METRICS
                                               for k in ("mean", "std")]
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    text = (f"# Experiment results\n\n"
            f"Games {', '.join(games)}; methods {', '.join(methods)}; seeds "
            f"{', '.join(map(str, seeds))}.\n"
            f"Settings: {', '.join(f'{k}={_setting(v)}' for k, v in settings.items())}.\n"
            f"Mean ± sample std over seeds (deviations: lower is better; ARI, NMI, LL: "
            f"higher is better; `-`: not available).\n\n" + markdown_table(rows))
    return write_tables(out, buffer.getvalue(), text)
