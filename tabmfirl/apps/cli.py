"""Command-line interface: ``tabmfirl <command> ...``.

Each command is a pair: ``_add_<name>(subparsers)`` registers its parser and
``_cmd_<name>(args) -> int`` runs it (registered in :func:`build_parser`).
Bad input raises :class:`CommandError`: exit status 2 and a one-line reason on
stderr (never a traceback).  The CLI is thin: the run folders' layout and
resume rule are :mod:`tabmfirl.apps._runs`, the fit methods by name
:mod:`tabmfirl.apps._fit_methods`, the grid :mod:`tabmfirl.apps._experiment`,
the taxi study (and its subcommand) :mod:`tabmfirl.apps._taxi_study`.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import sys
import time
import warnings
from importlib import import_module

import numpy as np

from tabmfirl import (
    ConvergenceWarning,
    Demonstrations,
    DivergenceWarning,
    __version__,
    adjusted_rand_index,
    envs,
    evaluate_model,
    evaluate_reward,
    generate_demonstrations,
    solve_equilibrium,
)
from tabmfirl.evaluation._metrics import match_types
from tabmfirl.irl._heads import REWARD_KINDS
from tabmfirl.irl._init import kmeans_labels
from tabmfirl.kernels._backend import resolve_backend
from tabmfirl.solvers._certificate import certify

from ._check import add_parser as _add_check
from ._check import check_out_folder, write_solution
from ._defaults import DEFAULTS, default_temperature
from ._errors import CommandError
from ._experiment import evaluate_fit, markdown_table, run_experiment
from ._fit_methods import FIT_METHODS
from ._games import GAME_HELP, game_of, game_reference, load_game, read_demos, takes_dynamics
from ._runs import (
    FIT_RUN_FORMAT,
    RESUMABLE_KEYS,
    RunFolder,
    RunLockedError,
    changed_settings,
    check_demos_digest,
    check_output_file,
    check_output_folder,
    demos_reference,
)
from ._taxi_study import add_parser as _add_taxi_study

__all__ = ["CommandError", "Interrupted", "build_parser", "main"]


class Interrupted(Exception):
    """Ctrl-C (SIGINT) or SIGTERM ended a command: :func:`main` prints the one line of what
    was kept and how to resume, and exits with 130."""


def _add_solve(subparsers):
    parser = subparsers.add_parser(
        "solve", help="solve a built-in game's entropy-regularised MFNE",
        description="Solve the entropy-regularised mean field Nash equilibrium of a "
                    "built-in game, every agent type at once.  The default method needs "
                    "no settings; progress (residual and exploitability of the current "
                    "iterate) goes to stderr every few seconds.",
        epilog="examples:\n  tabmfirl solve --game virus\n"
               "  tabmfirl solve --game crowd_grid --json\n"
               "  tabmfirl solve --game virus --beta 0.1 --max-seconds 60\n"
               "  tabmfirl solve --game virus --method fixed_point --damping 0.5",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--game", required=True, help=GAME_HELP)
    parser.add_argument("--types", type=int, default=None,
                        help="number of agent types (default: the game's default)")
    parser.add_argument("--dynamics", default=None, help="original (default) or variant")
    parser.add_argument("--beta", type=float, default=DEFAULTS["temperature"],
                        help="temperature (default: the game's TEMPERATURE)")
    parser.add_argument("--horizon", type=int, default=DEFAULTS["horizon"],
                        help="horizon (default: the game's)")
    parser.add_argument("--method", default="auto",
                        help="auto (default), fixed_point, fictitious_play or mirror_descent")
    parser.add_argument("--damping", type=float, default=None,
                        help="damping of --method fixed_point in (0, 1] (default 1)")
    parser.add_argument("--learning-rate", type=float, default=None,
                        help="step of --method mirror_descent in (0, 1] (default 0.5)")
    parser.add_argument("--max-iter", type=int, default=1000)
    parser.add_argument("--max-seconds", type=float, default=None,
                        help="stop (not converged) after this many seconds")
    parser.add_argument("--tol", type=float, default=1e-10)
    parser.add_argument("--progress-every", type=float, default=5.0,
                        help="seconds between progress lines on stderr (default 5; 0: none)")
    parser.add_argument("--backend", default=DEFAULTS["backend"],
                        help=f"auto, numpy, numba or cuda (default {DEFAULTS['backend']})")
    parser.add_argument("--out", default=None,
                        help="write the policy, flow, values and certificate to this .npz "
                             "(read by tabmfirl check and numpy.load)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=_cmd_solve)


def _make_game(name, types, dynamics, horizon=None):
    if horizon is not None and horizon < 1:
        raise CommandError(f"--horizon must be >= 1, got {horizon}")
    return load_game(name, types=types, dynamics=dynamics, horizon=horizon)


class SolveProgress:
    """``callback(iteration, info)`` of the solver that prints progress to stderr.

    Every ``every`` seconds it certifies the current iterate (one forward and
    two backward passes: fixed-point residual and regularised
    exploitability) and prints one line.  Reports are spaced by at least four
    times that certificate's own cost, so progress costs at most about a
    fifth of the solve.
    """

    def __init__(self, spec, temperature: float, backend: str, every: float):
        self.spec, self.temperature, self.backend = spec, temperature, backend
        self.every = every
        self.next_at = every

    def __call__(self, iteration: int, info: dict) -> None:
        if not self.every or info["seconds"] < self.next_at:
            return
        start = time.perf_counter()
        certificate = certify(self.spec, np.array(info["policy"]), self.temperature,
                              resolve_backend(self.backend), unregularised=False)
        cost = time.perf_counter() - start
        self.next_at = info["seconds"] + max(self.every, 4.0 * cost)
        line = (f"[{info['seconds']:7.1f} s] iteration {iteration} ({info['stage']}): "
                f"residual {certificate.residual:.2e}, exploitability "
                f"{float(certificate.exploitability.max()):.2e}")
        if np.isfinite(info["flow_residual"]):
            line += f", flow residual {info['flow_residual']:.2e}"
        print(line, file=sys.stderr, flush=True)


def _solver_options(args) -> dict:
    """Method-specific steps of ``tabmfirl solve``, checked against ``--method``."""
    options = {}
    for flag, key, method in (("--damping", "damping", "fixed_point"),
                              ("--learning-rate", "learning_rate", "mirror_descent")):
        value = getattr(args, key)
        if value is not None:
            if args.method != method:
                raise CommandError(f"{flag} applies to --method {method} only")
            options[key] = value
    if args.progress_every < 0:
        raise CommandError(f"--progress-every must be >= 0, got {args.progress_every}")
    return options


def _cmd_solve(args) -> int:
    spec = _make_game(args.game, args.types, args.dynamics, args.horizon)
    options = _solver_options(args)
    beta = default_temperature(args.game) if args.beta is None else args.beta
    check_out_folder(args.out)
    if args.progress_every:
        print(f"solving {spec.name} ({spec.n_contexts} types, {spec.n_states} states, horizon "
              f"{spec.horizon}) at beta={beta:g} with {args.method}; progress every "
              f"{args.progress_every:g} s", file=sys.stderr, flush=True)
    progress = SolveProgress(spec, beta, args.backend, args.progress_every)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        try:
            result = solve_equilibrium(spec, temperature=beta, method=args.method,
                                       max_iter=args.max_iter, tol=args.tol,
                                       max_seconds=args.max_seconds, backend=args.backend,
                                       callback=progress, **options)
        except (ValueError, RuntimeError) as error:
            raise CommandError(str(error)) from None
    seconds = time.perf_counter() - start
    if args.out is not None:
        write_solution(args.out, args.game, spec, result)
    _report_solve(spec, result, seconds, args.json)
    if not result.converged:
        print(result.message, file=sys.stderr, flush=True)
    return 0 if result.converged else 1


def _report_solve(spec, result, seconds, as_json) -> None:
    summary = {
        "game": spec.name, "types": spec.n_contexts, "method": result.method,
        "backend": result.backend, "temperature": result.temperature,
        "converged": bool(result.converged), "iterations": int(result.num_iter),
        "residual": float(result.residual),
        "exploitability": float(result.exploitability.mean()),
        "exploitability_per_type": [float(x) for x in result.exploitability],
        "unregularised_exploitability_per_type":
            [float(x) for x in result.unregularised_exploitability],
        "seconds": seconds, "message": result.message,
    }
    if as_json:
        print(json.dumps(summary))
        return
    status = "converged" if result.converged else "NOT converged"
    print(f"{spec.name}: {spec.n_contexts} types, {spec.n_states} states, "
          f"{spec.n_actions} actions, horizon {spec.horizon}")
    print(f"{result.method} ({result.backend}, beta={result.temperature}): {status} in "
          f"{result.num_iter} iterations, residual {result.residual:.2e}, {seconds:.2f} s")
    for m, (value, hard) in enumerate(zip(result.exploitability,
                                          result.unregularised_exploitability)):
        print(f"  type {m}: exploitability {value:.3e} (unregularised {hard:.3e})")


def _add_games(subparsers):
    parser = subparsers.add_parser(
        "games", help="list the built-in games (size, types, description)",
        description="The built-in games at their defaults: states, actions, horizon, agent "
                    "types (default / most), temperature, and one line on what each is.")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=_cmd_games)


def _game_row(name) -> dict:
    """Size, types and one-line description of a built-in game at its defaults."""
    module = import_module(f"{envs.__name__}.{envs.GAMES[name]}")
    spec = envs.make(name)
    most = spec.n_contexts
    for types in range(spec.n_contexts + 1, 33):     # the builders cap the number of types
        try:
            envs.make(name, types=types)
        except (ValueError, TypeError):
            break
        most = types
    doc = (getattr(module, "__doc__", None) or "").strip()
    line = doc.splitlines()[0].strip().rstrip(".") if doc else ""
    return {"name": name, "states": spec.n_states, "actions": spec.n_actions,
            "horizon": spec.horizon, "types": spec.n_contexts, "max_types": most,
            "temperature": default_temperature(name), "description": line}


def _cmd_games(args) -> int:
    rows = [_game_row(name) for name in sorted(envs.GAMES)]
    if args.json:
        print(json.dumps({"games": rows}))
        return 0
    width = max(len(row["name"]) for row in rows)
    print(f"{'game':<{width}}  {'states':>6}  {'actions':>7}  {'T':>3}  {'types':>5}  "
          f"{'beta':>4}  description")
    for row in rows:
        print(f"{row['name']:<{width}}  {row['states']:>6}  {row['actions']:>7}  "
              f"{row['horizon']:>3}  {row['types']:>2}/{row['max_types']:<2}  "
              f"{row['temperature']:>4g}  {row['description']}")
    return 0


def _check_out(check, path, flag="--out"):
    """Run ``check(path, flag)`` (:mod:`tabmfirl.apps._runs`) before a long computation."""
    try:
        check(path, flag)
    except ValueError as error:
        raise CommandError(str(error)) from None


def _add_demos(subparsers):
    parser = subparsers.add_parser(
        "demos", help="write N-agent demonstrations of a built-in game's equilibrium",
        description="Solve a built-in game's entropy-regularised MFNE, then roll out\n"
                    "AGENTS agents of EACH type in the finite population (each type's\n"
                    "empirical distribution drives its dynamics) and write the\n"
                    "trajectories, with the agents' hidden types, to an .npz file\n"
                    "(read it with tabmfirl.Demonstrations.load).",
        epilog="examples:\n  tabmfirl demos --game virus --types 3 --agents 300 --out demos.npz\n"
               "  tabmfirl demos --game malware --dynamics variant --seed 1 --out m.npz --json",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--game", required=True, help=GAME_HELP)
    parser.add_argument("--types", type=int, default=None,
                        help="number of agent types (default: the game's default)")
    parser.add_argument("--agents", type=int, default=DEFAULTS["agents"],
                        help=f"agents PER TYPE (default {DEFAULTS['agents']}); the file holds "
                             f"types x agents")
    parser.add_argument("--out", required=True, help="output file (.npz)")
    parser.add_argument("--dynamics", default=None, help="original (default) or variant")
    parser.add_argument("--beta", type=float, default=DEFAULTS["temperature"],
                        help="temperature (default: the game's TEMPERATURE); recorded in "
                             "the file, and used by tabmfirl fit")
    parser.add_argument("--horizon", type=int, default=DEFAULTS["horizon"],
                        help="horizon (default: the game's)")
    parser.add_argument("--seed", type=int, default=None,
                        help="seed of the rollouts (default: fresh, recorded in the file)")
    parser.add_argument("--backend", default=DEFAULTS["backend"],
                        help=f"backend of the equilibrium solve: auto, numpy, numba or cuda "
                             f"(default {DEFAULTS['backend']})")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=_cmd_demos)


def _demos_params(args, spec) -> dict:
    """What rebuilds the game of ``tabmfirl demos`` (recorded in the file): a built-in game's
    builder arguments; for a user's game, the arguments the command was given."""
    if args.game in envs.GAMES:
        return {"types": spec.n_contexts, "dynamics": args.dynamics or "original",
                "horizon": spec.horizon}
    return {key: value for key, value in (("types", args.types), ("dynamics", args.dynamics))
            if value is not None}


def _cmd_demos(args) -> int:
    if args.agents < 1:
        raise CommandError(f"--agents must be >= 1 (agents per type), got {args.agents}")
    if args.seed is not None and args.seed < 0:
        raise CommandError(f"--seed must be >= 0, got {args.seed}")
    if args.beta is not None and not args.beta > 0:
        raise CommandError(f"--beta must be > 0, got {args.beta}")
    _check_out(check_output_file, args.out)
    spec = _make_game(args.game, args.types, args.dynamics, args.horizon)
    settings = {"temperature": default_temperature(args.game) if args.beta is None
                else args.beta}
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        try:
            result = solve_equilibrium(spec, backend=args.backend, **settings)
        except (ValueError, RuntimeError) as error:
            raise CommandError(str(error)) from None
    if not result.converged:
        raise CommandError(
            f"the equilibrium of {args.game} did not converge at beta={settings['temperature']} "
            f"(residual {result.residual:.2e}); try a larger --beta")
    demos = generate_demonstrations(spec, result.policy, args.agents, seed=args.seed,
                                    params=_demos_params(args, spec),
                                    temperature=result.temperature)
    if args.game not in envs.GAMES:        # a user's game: record where to find it again
        demos = dataclasses.replace(demos, game=game_reference(args.game))
    try:
        path = demos.save(args.out)
    except OSError as error:
        raise CommandError(f"cannot write {args.out!r}: {error.strerror or error}") from None
    seconds = time.perf_counter() - start
    summary = {
        "game": spec.name, "types": spec.n_contexts, "agents_per_type": args.agents,
        "agents": demos.n_agents, "horizon": demos.horizon,
        "dynamics": args.dynamics or "original",
        "temperature": result.temperature, "exploitability": float(result.exploitability.max()),
        "seed": demos.seed, "out": str(path), "seconds": seconds,
    }
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"{spec.name}: {demos.n_agents} agents ({args.agents} per type x "
              f"{spec.n_contexts} types), horizon {demos.horizon}, beta={result.temperature}, "
              f"seed {demos.seed}")
        print(f"wrote {path} ({seconds:.2f} s)")
    return 0


_FIT_EXAMPLES = """examples:
  tabmfirl demos --game virus --types 3 --agents 200 --beta 0.1 --seed 0 --out demos.npz
  tabmfirl fit --method pemmfirl_em --demos demos.npz --out run/ --beta 0.1 --iters 150
  tabmfirl fit --method mfirl --demos demos.npz --out run_mfirl/ --beta 0.1 --json
  tabmfirl fit --method pemmfirl_em --demos demos.npz --out run/ --beta 0.1 --iters 300
      (continues run/ from its checkpoint to 300 iterations)"""

#: ``tabmfirl fit`` flags that set a fit option: (argparse dest, fit option, the value
#: passed when the flag is not given and the method takes the option).  A flag given
#: to a method that does not take its option is an error (``_fit_options``).
FIT_FLAGS = tuple((dest, option, DEFAULTS[option]) for dest, option in (
    ("iters", "max_iter"), ("warmup", "n_warmup"), ("lr", "learning_rate"),
    ("reward_kind", "reward_kind"), ("seed", "seed"), ("backend", "backend"),
    ("checkpoint_every", "checkpoint_every")))


def _add_fit(subparsers):
    parser = subparsers.add_parser(
        "fit", help="fit a reward (and types) to demonstrations; resumable",
        description="Fit an IRL method to a demonstrations file (tabmfirl demos). Progress\n"
                    "(iteration, loss, log-likelihood, ARI and accuracy against the true\n"
                    "types of the file) goes to stderr. Writes OUT/config.json,\n"
                    "OUT/result.npz, and OUT/checkpoint.npz every --checkpoint-every\n"
                    "iterations; rerunning the same command resumes from the checkpoint\n"
                    "(a larger --iters continues the run; other changed settings are\n"
                    "refused). A flag for an option the method does not take (e.g.\n"
                    "--warmup for mfirl) is an error.",
        epilog=_FIT_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--method", required=True,
                        help=f"one of: {', '.join(FIT_METHODS)}")
    parser.add_argument("--demos", required=True,
                        help="demonstrations file (.npz): of tabmfirl demos, or int arrays "
                             "states (N, T+1), actions (N, T) and optionally types (N,)")
    parser.add_argument("--game", default=None,
                        help="the demonstrations' game (default: the one the file records; "
                             "needed for a file without metadata): " + GAME_HELP)
    parser.add_argument("--out", required=True, help="run folder (created)")
    parser.add_argument("--types", type=int, default=None,
                        help="number of types K to learn (default: the file's; mfirl: 1)")
    parser.add_argument("--beta", type=float, default=None,
                        help="the experts' temperature (default: the one recorded in the "
                             "demonstrations file; a different value is an error)")
    parser.add_argument("--iters", type=int, default=None,
                        help=f"iterations (default {DEFAULTS['max_iter']})")
    parser.add_argument("--warmup", type=int, default=None,
                        help=f"iterations with the initial posterior held (default "
                             f"{DEFAULTS['n_warmup']}; only the methods with a warm-up)")
    parser.add_argument("--lr", type=float, default=None,
                        help=f"Adam step size (default {DEFAULTS['learning_rate']})")
    parser.add_argument("--reward-kind", default=None, choices=REWARD_KINDS,
                        help="reward head: linear (default), additive (types differ in state "
                             "utilities and action costs), mlp")
    parser.add_argument("--checkpoint-every", type=int, default=None,
                        help="checkpoint period in iterations (default 10)")
    parser.add_argument("--progress-every", type=int, default=10,
                        help="print progress every this many iterations (default 10; 0: never)")
    parser.add_argument("--seed", type=int, default=None,
                        help=f"seed of the fit (default {DEFAULTS['seed']})")
    parser.add_argument("--backend", default=None,
                        help=f"auto, numpy, numba or cuda (default {DEFAULTS['backend']})")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=_cmd_fit)


def _load_demos(path):
    try:
        return Demonstrations.load(path)
    except (FileNotFoundError, ValueError) as error:
        raise CommandError(str(error)) from None


def _fit_method(name):
    if name not in FIT_METHODS:
        raise CommandError(f"unknown method {name!r}; known: {', '.join(FIT_METHODS)}")
    return FIT_METHODS[name]


def _check_fit_flags(args):
    for name, low in (("iters", 1), ("checkpoint_every", 1), ("warmup", 0),
                      ("progress_every", 0)):
        value = getattr(args, name)
        if value is not None and value < low:
            raise CommandError(f"--{name.replace('_', '-')} must be >= {low}")


def _fit_options(method, args) -> dict:
    """The fit options the flags set (:data:`FIT_FLAGS`), for the options ``method`` takes.

    A flag left out gives its default; a flag given for an option the method
    does not take is a :class:`CommandError` naming both.
    """
    options = {}
    for dest, option, default in FIT_FLAGS:
        value = getattr(args, dest)
        if method.takes(option):
            options[option] = default if value is None else value
        elif value is not None:
            raise CommandError(f"--{dest.replace('_', '-')}: fit method {method.name!r} does "
                               f"not take the option {option!r}")
    return options


def _learned_types(method, types, n_types) -> int:
    """K, the number of types the fit learns (the oracle: the file's; untyped methods: 1)."""
    if method.name == "oracle":
        if types not in (None, n_types):
            raise CommandError(f"oracle uses the file's {n_types} true types; --types "
                               f"{types} does not match")
        return n_types
    if not method.typed:
        if types not in (None, 1):
            raise CommandError(f"{method.name} learns one shared reward: --types must be 1 "
                               f"or omitted")
        return 1
    K = n_types if types is None else types
    if K < 1:
        raise CommandError(f"--types must be >= 1, got {K}")
    return K


def _fit_temperature(beta, demos, path, game) -> float:
    """The fit's temperature: ``--beta``, else the one the demonstrations record (else the
    game's, with a note); a ``--beta`` that disagrees with the file's is an error."""
    recorded = demos.temperature
    if beta is None and recorded is None:
        beta = default_temperature(game)
        print(f"note: {path!r} does not record its temperature (an older file); using the "
              f"game's beta={beta:g} (pass --beta to choose)", file=sys.stderr)
    elif beta is None:
        beta = recorded
    elif recorded is not None and not np.isclose(beta, recorded, rtol=1e-12, atol=0.0):
        raise CommandError(f"--beta {beta:g} disagrees with the temperature {recorded:g} "
                           f"recorded in {path!r}; omit --beta to use the file's")
    if not beta > 0:
        raise CommandError(f"--beta must be > 0, got {beta}")
    return float(beta)


def _open_run(out):
    """The :class:`RunFolder` of ``--out``, created, and its lock, taken (CommandError)."""
    folder = RunFolder(out)
    try:
        folder.path.mkdir(parents=True, exist_ok=True)
        return folder, folder.lock().acquire()
    except RunLockedError as error:
        raise CommandError(str(error)) from None
    except OSError as error:
        raise CommandError(f"cannot create {out!r}: {error.strerror or error}") from None


def _start_run(folder, out, config) -> bool:
    """Whether the fit resumes: ``config`` written to ``folder`` (resume rule), or an error."""
    changed = folder.conflicts(config)
    if changed:
        raise CommandError(f"{out!r} holds a run with different settings "
                           f"({', '.join(changed)}); use another --out")
    try:
        return folder.start(config)
    except OSError as error:
        raise CommandError(f"cannot write to {out!r}: {error.strerror or error}") from None


def _assigned_types(info, K, seed):
    """Hard types of the progress ``info``: argmax of a discrete posterior, or the k-means
    clusters of continuous posterior means (as the discretised result assigns them)."""
    posterior, means = info.get("posterior"), info.get("posterior_mean")
    if posterior is not None and np.ndim(posterior) == 2:
        return np.asarray(posterior).argmax(axis=1)
    if means is not None and np.ndim(means) == 2 and K <= len(means):
        return kmeans_labels(np.asarray(means, dtype=np.float64), K,
                             np.random.default_rng(seed))
    return None


def _progress_line(iteration, info, max_iter, K, true_types, n_types, seed) -> str:
    """``iter i/n  loss ...`` of one fit iteration (keys of ``info``: see ``_cmd_fit``)."""
    line = f"iter {iteration + 1}/{max_iter}"
    if info.get("loss") is not None:
        line += f"  loss {float(info['loss']):.4f}"
    elif info.get("objective") is not None:
        line += f"  loss {-float(info['objective']):.4f}"
    if info.get("log_likelihood") is not None:
        line += f"  log-lik {float(info['log_likelihood']):.4f}"
    if K > 1 and info.get("mi") is not None and np.isfinite(info["mi"]):
        line += f"  MI {float(info['mi']):.4f}"
    if info.get("grad_norm") is not None:
        line += f"  grad {float(info['grad_norm']):.2e}"
    assigned = _assigned_types(info, K, seed) if true_types is not None and K > 1 else None
    if assigned is not None:
        type_map = match_types(true_types, assigned, K, n_types)
        accuracy = float(np.mean(type_map[true_types] == assigned))
        line += (f"  ARI {adjusted_rand_index(true_types, assigned):.3f}  "
                 f"accuracy {accuracy:.3f}")
    return line


def _progress_printer(every, max_iter, K, true_types, n_types, seed):
    """The fit's ``callback``: a progress line to stderr every ``every`` iterations and at
    the last one (``every = 0``: never)."""
    def progress(iteration, info):
        # every key of ``info`` is optional: ``loss`` (adversarial fits: the discriminator
        # loss) or ``objective`` (exact fits: a log-likelihood, printed negated as the loss),
        # ``log_likelihood``, ``mi``, ``grad_norm``, and a discrete ``posterior`` (N, K) or
        # continuous ``posterior_mean`` (N, d) for the types' ARI and accuracy
        if not every or ((iteration + 1) % every and iteration + 1 != max_iter):
            return
        print(_progress_line(iteration, info, max_iter, K, true_types, n_types, seed),
              file=sys.stderr, flush=True)
    return progress


def _print_fit_summary(args, demos, summary, path):
    if args.json:
        print(json.dumps(summary))
        return
    print(f"{args.method} on {summary['game']} ({demos.n_agents} agents, K={summary['types']}, "
          f"beta={summary['temperature']}): {summary['iterations']} iterations, log-likelihood "
          f"{summary['log_likelihood']:.4f} per trajectory"
          + (f", ARI {summary['ari']:.3f}" if "ari" in summary else ""))
    print(f"wrote {path} ({summary['seconds']:.2f} s)")


def _fit_config(args, game, params, K, beta, options, labelled) -> dict:
    """The run's ``config.json``: method, data (by relative path and digest), settings."""
    try:
        reference = demos_reference(args.demos, args.out)
    except OSError as error:
        raise CommandError(f"cannot read {args.demos!r}: {error.strerror or error}") from None
    config = {"format": FIT_RUN_FORMAT, "method": args.method, **reference,
              "game": game, "params": params, "types": K, "temperature": beta,
              **{option: options.get(option) for _, option, _ in FIT_FLAGS}}
    if not labelled:
        config["labelled"] = False
    return config


def _fit_hooks(args, method, folder, options, K, demos, labelled):
    """Add the checkpoint and the progress callback to ``options`` (the methods that take
    them)."""
    n_types = demos.n_types
    true_types = demos.types if labelled and n_types > 1 else None
    max_iter = options.get("max_iter", DEFAULTS["max_iter"])
    if method.takes("warn"):        # no warning on stderr: the summary says "converged"
        options["warn"] = False
    if method.takes("checkpoint"):
        options["checkpoint"] = str(folder.checkpoint_path)
    else:
        print(f"note: {args.method} does not support checkpoints; it will not resume",
              file=sys.stderr)
    if method.takes("callback"):
        options["callback"] = _progress_printer(args.progress_every, max_iter, K, true_types,
                                                n_types, options.get("seed", 0))
    return true_types


def _run_method(method, spec, demos, K, options, args, folder):
    """``method(spec, demos, K, **options)``; divergence, bad input and Ctrl-C as
    one-line errors (:class:`CommandError`, :class:`Interrupted`)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DivergenceWarning)
        try:
            result = method(spec, demos, K, **options)
        except (ValueError, RuntimeError) as error:
            raise CommandError(str(error)) from None
        except KeyboardInterrupt:
            where = (f"rerun the same command to resume from {str(folder.checkpoint_path)!r}"
                     if folder.has_checkpoint() else "no checkpoint yet; rerun to start again")
            raise Interrupted(f"interrupted; {where}") from None
    for warning in caught:
        if issubclass(warning.category, DivergenceWarning):
            raise CommandError(f"{warning.message}; no result saved (rerun into another "
                               f"--out)")
        warnings.showwarning(warning.message, warning.category, warning.filename,
                             warning.lineno)
    return result


def _cmd_fit(args) -> int:
    method = _fit_method(args.method)
    _check_fit_flags(args)
    demos, spec, game, params, labelled = read_demos(args.demos, args.game)
    if demos.horizon != spec.horizon:
        raise CommandError(f"demos have horizon {demos.horizon}, the game {spec.horizon}")
    if not labelled and method.name == "oracle":
        raise CommandError("oracle fits the true types, and the demonstrations have no type "
                           "labels")
    K = _learned_types(method, args.types, demos.n_types if labelled else spec.n_contexts)
    beta = _fit_temperature(args.beta, demos, args.demos, game)
    options = _fit_options(method, args)
    _check_out(check_output_folder, args.out)
    config = _fit_config(args, game, params, K, beta, options, labelled)
    folder, lock = _open_run(args.out)
    with lock:
        resumed = _start_run(folder, args.out, config)
        options["temperature"] = beta
        true_types = _fit_hooks(args, method, folder, options, K, demos, labelled)
        if resumed:
            print(f"resuming from {folder.checkpoint_path}", file=sys.stderr)
        start = time.perf_counter()
        result = _run_method(method, spec, demos, K, options, args, folder)
        path = folder.save_result(result, config)
    summary = {"method": args.method, "game": game, "types": K, "agents": demos.n_agents,
               "temperature": beta, "iterations": int(result.num_iter),
               "converged": bool(result.converged),
               "log_likelihood": float(result.log_likelihood_history[-1]),
               "resumed": resumed, "out": str(path), "seconds": time.perf_counter() - start}
    if true_types is not None and result.assignments is not None and K > 1:
        summary["ari"] = float(adjusted_rand_index(true_types, result.assignments))
    _print_fit_summary(args, demos, summary, path)
    return 0


def _add_evaluate(subparsers):
    parser = subparsers.add_parser(
        "evaluate", help="score a fitted run against the experts' equilibrium",
        description="Solve the game of RUN (tabmfirl fit) with the learned reward at the\n"
                    "experts' temperature and score it against the expert equilibrium:\n"
                    "return, mean-field and policy deviations (averaged over the true\n"
                    "types), the ARI/NMI of the inferred types, the same deviations under\n"
                    "the game's variant dynamics (transfer), and, with --held-out, the\n"
                    "held-out log-likelihood. Writes RUN/metrics.json.",
        epilog="examples:\n  tabmfirl evaluate run/\n"
               "  tabmfirl demos --game virus --agents 50 --beta 0.1 --seed 9 --out test.npz\n"
               "  tabmfirl evaluate run/ --held-out test.npz --json",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", help="run folder written by tabmfirl fit")
    parser.add_argument("--held-out", default=None,
                        help="demonstrations file of held-out agents (same game)")
    parser.add_argument("--no-transfer", action="store_true",
                        help="skip the variant-dynamics transfer")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=_cmd_evaluate)


def _load_run(run, not_a_run):
    """``(folder, config, result, demos, spec)`` of a run folder; ``not_a_run``: the error
    when it holds no fit config.  The demonstrations are found relative to the folder and
    must be the file the fit read (SHA-256); the result must be the config's run."""
    folder = RunFolder(run)
    config = folder.read_config()
    if config is None:
        raise CommandError(not_a_run)
    try:
        result, extra = folder.load_result()
    except (FileNotFoundError, ValueError) as error:
        raise CommandError(str(error)) from None
    changed = changed_settings(extra, config, ignore=RESUMABLE_KEYS + ("format",))
    if changed:
        raise CommandError(f"{str(folder.result_path)!r} is not the result of the run in "
                           f"{str(folder.config_path)!r} (they differ in {', '.join(changed)}); "
                           f"rerun tabmfirl fit")
    if config.get("labelled") is False:
        raise CommandError(f"{run!r} was fitted to demonstrations without type labels, which "
                           f"its per-type scores need; score its rewards with `tabmfirl check "
                           f"--game GAME --reward {os.path.join(run, 'result.npz')}`")
    demos_path = folder.demos_path(config)
    try:
        check_demos_digest(demos_path, config)
    except (ValueError, OSError) as error:
        raise CommandError(str(error)) from None
    demos, spec, *_ = read_demos(str(demos_path), config["game"], config["params"])
    return folder, config, result, demos, spec


def _load_held_out(path, demos, temperature):
    """The held-out demonstrations of ``--held-out``: same game, horizon and type count as
    the fit's data, made at its temperature (where the file records one)."""
    if path is None:
        return None
    held_out = _load_demos(path)
    for what, theirs, ours in (
            ("game", held_out.game, demos.game),
            ("size (states, actions)", (held_out.n_states, held_out.n_actions),
             (demos.n_states, demos.n_actions)),
            ("horizon", held_out.horizon, demos.horizon),
            ("number of types", held_out.n_types, demos.n_types),
            ("game parameters", held_out.params, demos.params)):
        if theirs != ours:
            raise CommandError(f"the held-out demonstrations {path!r} have {what} {theirs}, "
                               f"the fit's {ours}")
    if held_out.temperature is not None and \
            not np.isclose(held_out.temperature, temperature, rtol=1e-12, atol=0.0):
        raise CommandError(f"the held-out demonstrations {path!r} were made at temperature "
                           f"{held_out.temperature:g}, the fit's experts at {temperature:g}")
    return held_out


def _variant_game(config):
    """The game of a run under its variant dynamics, or None when it has none."""
    try:
        if not takes_dynamics(config["game"]):
            return None
        return game_of(config["game"], config["params"], dynamics="variant")
    except CommandError:
        return None


def _print_metrics(config, game, beta, metrics, held_out, path):
    def show(x):
        return "-" if x is None else f"{x:.4g}"

    print(f"{config['method']} on {game} (beta={beta}), learned equilibrium "
          f"{'converged' if metrics['learned_converged'] else 'NOT converged'}")
    print(f"  types: ARI {show(metrics['ari'])}, NMI {show(metrics['nmi'])}, "
          f"type map {metrics['type_map']}")
    for prefix, label in (("", "original dynamics"), ("transfer_", "variant dynamics")):
        print(f"  {label}: return deviation {show(metrics[prefix + 'return_deviation'])}, "
              f"mean-field deviation {show(metrics[prefix + 'mean_field_deviation'])}, "
              f"policy deviation {show(metrics[prefix + 'policy_deviation'])}")
    print(f"  along the experts' flow (docs/theory.md, section 8): experts' exploitability "
          f"{show(metrics.get('expert_exploitability'))}, reward error up to shaping "
          f"{show(metrics.get('reward_error'))}; policy deviation from the experts' policy "
          f"{show(metrics.get('policy_deviation_from_expert'))}")
    if held_out is not None:
        print(f"  held-out: log-likelihood {show(metrics['held_out_log_likelihood'])} per "
              f"trajectory, ARI {show(metrics['held_out_ari'])}")
    if path is not None:
        print(f"wrote {path}")


def _cmd_evaluate(args) -> int:
    if not os.path.isdir(args.run):
        raise CommandError(f"no run folder at {args.run!r}")
    config_path = os.path.join(args.run, "config.json")
    folder, config, result, demos, spec = _load_run(
        args.run, f"{config_path!r} is missing or not a tabmfirl fit config")
    held_out = _load_held_out(args.held_out, demos, float(config["temperature"]))
    if result.reward.shape[1:] != (spec.horizon, spec.n_states, spec.n_actions):
        raise CommandError("the result does not match the game of its demonstrations")
    variant = None if args.no_transfer else _variant_game(config)
    beta = float(config["temperature"])
    backend = config.get("backend", "numpy")
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            expert = solve_equilibrium(spec, temperature=beta, backend=backend)
            metrics = evaluate_fit(spec, result, demos, temperature=beta, expert=expert,
                                   variant=variant, held_out=held_out, backend=backend)
        except (ValueError, RuntimeError) as error:
            raise CommandError(str(error)) from None
    metrics.update({"method": config["method"], "game": demos.game, "temperature": beta,
                    "expert_converged": bool(expert.converged),
                    "seconds": time.perf_counter() - start})
    path = reason = None
    try:
        path = folder.write_metrics(metrics)
    except OSError as error:          # e.g. a read-only run folder: the metrics still show
        reason = error.strerror or str(error)
    if args.json:
        print(json.dumps(metrics))
    else:
        _print_metrics(config, demos.game, beta, metrics, held_out, path)
    if path is None:
        print(f"tabmfirl evaluate: could not save the metrics to "
              f"{str(folder.metrics_path)!r}: {reason}", file=sys.stderr)
        return 1
    return 0


def _add_experiment(subparsers):
    parser = subparsers.add_parser(
        "experiment", help="run a (game x method x seed) grid; resumable",
        description="For every (game, method, seed) cell: solve the expert equilibrium,\n"
                    "roll out demonstrations (seeded), fit, evaluate. Cells run in local\n"
                    "worker processes, or on a Dask cluster with --scheduler; each finished\n"
                    "cell is written to OUT/cells/<game>__<method>__<seed>.json and skipped\n"
                    "by a rerun. The end writes OUT/results.csv and OUT/results.md\n"
                    "(mean ± std over seeds).",
        epilog="examples:\n"
               "  tabmfirl experiment --games malware,investment,virus --methods all --seeds 5\n"
               "  tabmfirl experiment --games virus --methods pemmfirl_em,mfirl --seeds 2 \\\n"
               "      --agents 50 --horizon 10 --iters 50 --out results_small/ --workers 2\n"
               "  tabmfirl experiment --games virus --seeds 20 --out /shared/results \\\n"
               "      --scheduler tcp://scheduler:8786",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--games", "--game", required=True,
                        help="comma-separated games: built-in names, module:function or "
                             "file.py:function, or game files .npz")
    parser.add_argument("--methods", default="all",
                        help="comma-separated method names, or all (default)")
    parser.add_argument("--seeds", type=int, default=5, help="number of seeds (default 5)")
    parser.add_argument("--agents", type=int, default=DEFAULTS["agents"],
                        help=f"agents per type (default {DEFAULTS['agents']})")
    parser.add_argument("--types", type=int, default=3, help="agent types (default 3)")
    parser.add_argument("--horizon", type=int, default=DEFAULTS["horizon"],
                        help="horizon (default: each game's)")
    parser.add_argument("--beta", type=float, default=DEFAULTS["temperature"],
                        help="temperature of experts and fits (default: each game's "
                             "TEMPERATURE)")
    parser.add_argument("--iters", type=int, default=DEFAULTS["max_iter"],
                        help=f"fit iterations (default {DEFAULTS['max_iter']})")
    parser.add_argument("--warmup", type=int, default=DEFAULTS["n_warmup"],
                        help=f"warm-up of the methods that have one (default "
                             f"{DEFAULTS['n_warmup']}); each cell records its fit's options")
    parser.add_argument("--lr", type=float, default=DEFAULTS["learning_rate"],
                        help=f"Adam step size (default {DEFAULTS['learning_rate']})")
    parser.add_argument("--reward-kind", default=DEFAULTS["reward_kind"], choices=REWARD_KINDS,
                        help="reward head of every method: linear (default), additive, mlp")
    parser.add_argument("--held-out-agents", type=int, default=50,
                        help="held-out agents per type (default 50; 0: none)")
    parser.add_argument("--out", default="results", help="output folder (default results/)")
    parser.add_argument("--workers", type=int, default=None,
                        help="worker processes (default: the number of CPUs)")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="run the cells on the Dask cluster of this scheduler (e.g. "
                             "tcp://host:8786; OUT must be a folder the workers share); "
                             "needs pip install -e .[dist]")
    parser.add_argument("--backend", default=DEFAULTS["backend"],
                        help=f"auto, numpy, numba or cuda (default {DEFAULTS['backend']})")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object (the aggregated rows)")
    parser.set_defaults(handler=_cmd_experiment)


def _cmd_experiment(args) -> int:
    games = [g.strip() for g in args.games.split(",") if g.strip()]
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    checks = (("seeds", 1), ("agents", 1), ("types", 1), ("horizon", 1), ("iters", 1),
              ("warmup", 0), ("held_out_agents", 0))
    for name, low in checks:
        value = getattr(args, name)
        if value is not None and value < low:
            raise CommandError(f"--{name.replace('_', '-')} must be >= {low}")
    if args.workers is not None and args.workers < 1:
        raise CommandError("--workers must be >= 1")
    if args.beta is not None and not args.beta > 0:
        raise CommandError(f"--beta must be > 0, got {args.beta}")
    _check_out(check_output_folder, args.out)
    try:
        summary = run_experiment(
            games, methods, args.seeds, out=args.out, workers=args.workers,
            log=lambda line: print(line, file=sys.stderr, flush=True), agents=args.agents,
            types=args.types, horizon=args.horizon, temperature=args.beta, max_iter=args.iters,
            n_warmup=args.warmup, learning_rate=args.lr, reward_kind=args.reward_kind,
            held_out_agents=args.held_out_agents, backend=args.backend,
            scheduler=args.scheduler)
    except (ValueError, OSError, ImportError, RunLockedError) as error:
        raise CommandError(str(error)) from None
    except KeyboardInterrupt:
        cells = os.path.join(args.out, "cells")
        kept = len([name for name in os.listdir(cells) if name.endswith(".json")]) \
            if os.path.isdir(cells) else 0
        raise Interrupted(f"interrupted; workers ended, {kept} finished cell(s) kept in "
                          f"{cells!r}: rerun the same command to resume") from None
    if args.json:
        print(json.dumps({"rows": summary["rows"], "ran": summary["ran"],
                          "skipped": summary["skipped"], "failed": len(summary["failed"]),
                          "seconds": summary["seconds"], "csv": summary["csv"],
                          "markdown": summary["markdown"]}))
    else:
        print(markdown_table(summary["rows"]), end="")
        print(f"{summary['ran']} cells run, {summary['skipped']} skipped, "
              f"{len(summary['failed'])} failed ({summary['seconds']:.1f} s); wrote "
              f"{summary['csv']} and {summary['markdown']}")
    return 1 if summary["failed"] else 0


def _add_plot(subparsers):
    parser = subparsers.add_parser(
        "plot", help="draw the figures of a fitted run",
        description="Draw the figures of a run written by `tabmfirl fit` (and, if present, "
                    "the metrics of `tabmfirl evaluate`): learned vs true reward per type, "
                    "training curves, inferred types of the demonstrations, mean field "
                    "flows and policies of the learned types, metric bars.",
        epilog="examples:\n  tabmfirl plot run/ --out figs/\n"
               "  tabmfirl plot run/ --out figs/ --step 5 --dpi 100",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", help="folder written by `tabmfirl fit`")
    parser.add_argument("--out", required=True, help="folder for the PNG files")
    parser.add_argument("--step", type=int, default=0,
                        help="time step of the reward heatmaps (default 0)")
    parser.add_argument("--dpi", type=int, default=150,
                        help="resolution in dots per inch, 10 to 1200 (default 150)")
    parser.add_argument("--json", action="store_true", help="print the written paths as JSON")
    parser.set_defaults(handler=_cmd_plot)


def _type_map(result, demos, K):
    """Learned context shown for each true type (the labels are arbitrary); as
    ``tabmfirl evaluate`` matches them."""
    assignments = (np.zeros(demos.n_agents, dtype=np.int64) if result.assignments is None
                   else result.assignments)
    return match_types(demos.types, assignments, K, demos.n_types)


def _true_type_order(type_map, K):
    """Learned contexts in true-type order, then those matched to no true type."""
    order = [int(m) for m in type_map]
    return order + [m for m in range(K) if m not in order]


def _equilibria(spec, result, type_map, config):
    """The experts' and the learned reward's equilibria, in true-type order (as evaluated)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        try:
            ev = evaluate_reward(spec, result.head, type_map=type_map,
                                 temperature=float(config["temperature"]),
                                 backend=config.get("backend") or DEFAULTS["backend"])
        except (ValueError, RuntimeError, NotImplementedError) as error:
            raise CommandError(f"cannot solve the learned game: {error}") from None
    return ev.expert, ev.learned


def _run_figures(plot, result, demos, spec, step, metrics, config):
    """The figures of a run (``plot``: the module :mod:`tabmfirl.plot`), by file stem.

    Every per-type figure is in the order of the true types (learned contexts matched as
    ``tabmfirl evaluate`` matches them); flows and policies are the learned reward's
    equilibrium against the experts'.
    """
    K = result.reward.shape[0]
    type_map = _type_map(result, demos, K)
    true_model = evaluate_model(spec, result.mean_field[type_map],
                                result.state_action[type_map])
    info = spec.info
    state_labels = info.get("state_labels") if isinstance(info.get("state_labels"), list) \
        else None
    labels = [f"true type {k} (learned {int(m)})" if K > 1 else f"true type {k}"
              for k, m in enumerate(type_map)]
    expert, learned = _equilibria(spec, result, type_map, config)
    figures = {
        "rewards": plot.plot_rewards(result.reward[type_map], true_model.reward, t=step,
                                     type_labels=labels, state_labels=state_labels),
        "training": plot.plot_training({
            "log-likelihood per trajectory": result.log_likelihood_history,
            "objective": result.objective_history,
            "gradient norm": result.grad_norm_history}),
        "mean_fields": plot.plot_flow_comparison(
            expert.mean_field, learned.mean_field, type_labels=labels,
            state_labels=state_labels, labels=("experts", "learned equilibrium")),
        "policies": plot.plot_policy_comparison(
            expert.policy, learned.policy, type_labels=labels, state_labels=state_labels,
            labels=("experts", "learned equilibrium")),
    }
    if result.posterior is not None and K > 1:
        order = _true_type_order(type_map, K)
        figures["inferred_types"] = plot.plot_embeddings(
            result.posterior[:, order], demos.types,
            type_labels=[f"true type {k}" for k in range(demos.n_types)])
    if metrics is not None:
        shown = {name: metrics[key] for name, key in (
            ("policy deviation", "policy_deviation"),
            ("mean field deviation", "mean_field_deviation"),
            ("return deviation", "return_deviation"), ("type recovery (ARI)", "ari"))
            if isinstance(metrics.get(key), (int, float))}
        if shown:
            figures["metrics"] = plot.plot_metrics({config["method"]: shown})
    return figures


def _cmd_plot(args) -> int:
    # tabmfirl.plot needs matplotlib, an optional dependency: imported only to draw
    from tabmfirl import plot

    if not 10 <= args.dpi <= 1200:
        raise CommandError(f"--dpi must lie in [10, 1200], got {args.dpi}")
    _check_out(check_output_folder, args.out)
    folder, config, result, demos, spec = _load_run(
        args.run, f"{args.run!r} is not a run folder of `tabmfirl fit` (no valid config.json)")
    if not 0 <= args.step < spec.horizon:
        raise CommandError(f"--step must lie in [0, {spec.horizon - 1}], got {args.step}")
    figures = _run_figures(plot, result, demos, spec, args.step, folder.read_metrics(),
                           config)
    try:
        written = [str(plot.save(figure, os.path.join(args.out, f"{name}.png"), dpi=args.dpi))
                   for name, figure in figures.items()]
    except OSError as error:
        raise CommandError(f"cannot write to {args.out!r}: {error.strerror or error}") from None
    if args.json:
        print(json.dumps({"figures": written}))
    else:
        for path in written:
            print(path)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``tabmfirl`` argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="tabmfirl",
        description="Exact inverse RL for finite mean field games with agent types.",
        epilog="defaults shared by every command: docs/index.md (section Defaults)")
    parser.add_argument("--version", action="version", version=f"tabmfirl {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for add in (_add_solve, _add_games, _add_demos, _add_fit, _add_evaluate,
                _add_plot, _add_experiment, _add_taxi_study, _add_check):
        add(subparsers)
    return parser


def _terminate(signum, frame):
    """SIGTERM handler of :func:`main`: end like Ctrl-C (clean-up runs, one line)."""
    raise KeyboardInterrupt


def _handle_sigterm():
    """Make SIGTERM raise KeyboardInterrupt: ``(installed, previous handler)`` (not installed
    outside the main thread)."""
    try:
        return True, signal.signal(signal.SIGTERM, _terminate)
    except ValueError:
        return False, None


def main(argv=None) -> int:
    """Entry point of the ``tabmfirl`` command.

    Bad input: one line ``tabmfirl COMMAND: error: ...`` on stderr, exit 2.  Ctrl-C or
    SIGTERM: one line saying what was kept (and how to resume), exit 130.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    installed, previous = _handle_sigterm()
    try:
        return args.handler(args)
    except CommandError as error:
        print(f"tabmfirl {args.command}: error: {error}", file=sys.stderr)
        return 2
    except Interrupted as error:
        print(f"tabmfirl {args.command}: {error}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print(f"tabmfirl {args.command}: interrupted", file=sys.stderr)
        return 130
    finally:
        if installed:
            signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
