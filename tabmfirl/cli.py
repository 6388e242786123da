"""Command-line interface: ``tabmfirl <command> ...``.

Each command is a function ``_cmd_<name>(args) -> int`` registered in
:func:`build_parser`.  Bad input exits with status 2 and a one-line reason on
stderr (never a traceback).
"""
from __future__ import annotations

import argparse
import json
import sys
import time


class CommandError(Exception):
    """A user error: printed as one line, exit status 2."""


def _add_solve(subparsers):
    parser = subparsers.add_parser(
        "solve", help="solve a built-in game's entropy-regularised MFNE",
        description="Solve the entropy-regularised mean field Nash equilibrium of a "
                    "built-in game, every agent type at once.",
        epilog="examples:\n  tabmfirl solve --game virus\n"
               "  tabmfirl solve --game virus --beta 0.1 --method mirror_descent --json",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--game", required=True, help="game name (see `tabmfirl games`)")
    parser.add_argument("--types", type=int, default=None,
                        help="number of agent types (default: the game's default)")
    parser.add_argument("--dynamics", default="original", help="original or variant")
    parser.add_argument("--beta", type=float, default=None,
                        help="temperature (default: the game's recommended one)")
    parser.add_argument("--method", default="fixed_point",
                        help="fixed_point, fictitious_play or mirror_descent")
    parser.add_argument("--damping", type=float, default=None,
                        help="damping of fixed_point in (0, 1] (default: the game's)")
    parser.add_argument("--max-iter", type=int, default=1000)
    parser.add_argument("--tol", type=float, default=1e-10)
    parser.add_argument("--backend", default="auto", help="auto, numpy, numba or cuda")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=_cmd_solve)


def _make_game(name, types, dynamics):
    from tabmfirl import envs

    kwargs = {"dynamics": dynamics}
    if types is not None:
        kwargs["types"] = types
    try:
        return envs.make(name, **kwargs)
    except (ValueError, TypeError) as error:
        raise CommandError(str(error)) from None


def _cmd_solve(args) -> int:
    import warnings

    from tabmfirl import ConvergenceWarning, solve_equilibrium

    from tabmfirl import envs

    spec = _make_game(args.game, args.types, args.dynamics)
    settings = envs.solver_settings(args.game)
    beta = settings["temperature"] if args.beta is None else args.beta
    damping = settings["damping"] if args.damping is None else args.damping
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        try:
            result = solve_equilibrium(spec, temperature=beta, method=args.method,
                                       damping=damping, max_iter=args.max_iter,
                                       tol=args.tol, backend=args.backend)
        except (ValueError, RuntimeError) as error:
            raise CommandError(str(error)) from None
    seconds = time.perf_counter() - start
    summary = {
        "game": spec.name, "types": spec.n_contexts, "method": result.method,
        "backend": result.backend, "temperature": result.temperature,
        "converged": bool(result.converged), "iterations": int(result.num_iter),
        "residual": float(result.residual),
        "exploitability": float(result.exploitability.mean()),
        "exploitability_per_type": [float(x) for x in result.exploitability],
        "seconds": seconds,
    }
    if args.json:
        print(json.dumps(summary))
    else:
        status = "converged" if result.converged else "NOT converged"
        print(f"{spec.name}: {spec.n_contexts} types, {spec.n_states} states, "
              f"{spec.n_actions} actions, horizon {spec.horizon}")
        print(f"{result.method} ({result.backend}, beta={result.temperature}): {status} in "
              f"{result.num_iter} iterations, residual {result.residual:.2e}, "
              f"{seconds:.2f} s")
        for m, value in enumerate(result.exploitability):
            print(f"  type {m}: exploitability {value:.3e}")
    return 0 if result.converged else 1


def _add_games(subparsers):
    parser = subparsers.add_parser("games", help="list the built-in games")
    parser.set_defaults(handler=_cmd_games)


def _cmd_games(args) -> int:
    from tabmfirl import envs

    for name in sorted(envs.GAMES):
        print(name)
    return 0


def _add_demos(subparsers):
    parser = subparsers.add_parser(
        "demos", help="write N-agent demonstrations of a built-in game's equilibrium",
        description="Solve a built-in game's entropy-regularised MFNE, then roll out\n"
                    "AGENTS agents of EACH type in the finite population (each type's\n"
                    "empirical distribution drives its dynamics) and write the\n"
                    "trajectories, with the agents' hidden types, to an .npz file\n"
                    "(read it with tabmfirl._demos.Demonstrations.load).",
        epilog="examples:\n  tabmfirl demos --game virus --types 3 --agents 300 --out demos.npz\n"
               "  tabmfirl demos --game malware --dynamics variant --seed 1 --out m.npz --json",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--game", required=True, help="game name (see `tabmfirl games`)")
    parser.add_argument("--types", type=int, default=None,
                        help="number of agent types (default: the game's default)")
    parser.add_argument("--agents", type=int, default=100,
                        help="agents PER TYPE (default 100); the file holds types x agents")
    parser.add_argument("--out", required=True, help="output file (.npz)")
    parser.add_argument("--dynamics", default="original", help="original or variant")
    parser.add_argument("--beta", type=float, default=None,
                        help="temperature (default: the game's recommended one, "
                             "tabmfirl.envs.solver_settings)")
    parser.add_argument("--seed", type=int, default=None,
                        help="seed of the rollouts (default: fresh, recorded in the file)")
    parser.add_argument("--backend", default="auto",
                        help="backend of the equilibrium solve: auto, numpy, numba or cuda")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=_cmd_demos)


def _cmd_demos(args) -> int:
    import warnings

    from tabmfirl import ConvergenceWarning, envs, solve_equilibrium
    from tabmfirl._demos import generate_demonstrations

    if args.agents < 1:
        raise CommandError(f"--agents must be >= 1 (agents per type), got {args.agents}")
    if args.seed is not None and args.seed < 0:
        raise CommandError(f"--seed must be >= 0, got {args.seed}")
    spec = _make_game(args.game, args.types, args.dynamics)
    settings = envs.solver_settings(args.game)
    if args.beta is not None:
        settings["temperature"] = args.beta
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
    params = {"types": spec.n_contexts, "dynamics": args.dynamics, "horizon": spec.horizon}
    demos = generate_demonstrations(spec, result.policy, args.agents, seed=args.seed,
                                    params=params)
    try:
        path = demos.save(args.out)
    except OSError as error:
        raise CommandError(f"cannot write {args.out!r}: {error.strerror or error}") from None
    seconds = time.perf_counter() - start
    summary = {
        "game": spec.name, "types": spec.n_contexts, "agents_per_type": args.agents,
        "agents": demos.n_agents, "horizon": demos.horizon, "dynamics": args.dynamics,
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


def build_parser() -> argparse.ArgumentParser:
    """The ``tabmfirl`` argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="tabmfirl",
        description="Exact inverse RL for finite mean field games with agent types.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for add in (_add_solve, _add_games, _add_demos):
        add(subparsers)
    return parser


def main(argv=None) -> int:
    """Entry point of the ``tabmfirl`` command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except CommandError as error:
        print(f"tabmfirl {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
