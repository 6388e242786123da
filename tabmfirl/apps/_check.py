"""The ``tabmfirl check`` command: exact verdicts on arrays computed elsewhere.

Reads a game (:mod:`tabmfirl.apps._games`: a built-in name, ``module:function``
or a game file) and a policy, a mean field flow or learned reward tables from
``.npy`` or ``.npz`` files, and prints what :func:`tabmfirl.check_policy`,
:func:`tabmfirl.check_mean_field` or :func:`tabmfirl.check_reward` report, per
type (``--json``: the report's :meth:`~tabmfirl.CheckReport.to_dict`).  Exit
status 0 when the verdict passes, 1 when it does not, 2 on bad input (one
line, no traceback).

``tabmfirl solve --out F.npz`` writes an equilibrium as arrays
(:func:`write_solution`): ``policy``, ``mean_field``, ``state_action``, ``q``
and ``value`` (the soft-optimal values of the best response to the flow),
``exploitability`` and ``unregularised_exploitability`` (per type),
``residual``, ``converged``, ``temperature`` and a JSON string ``meta``
(format tag :data:`tabmfirl._io.SOLUTION_FORMAT`, the game as given to
``--game``, the method, iterations and backend).

An ``.npz`` archive is read without pickle; the array checked is the one named
after what is checked (``policy``, ``mean_field``, ``state_action``,
``reward``: the names ``tabmfirl solve --out`` and ``tabmfirl fit`` write), or
the archive's only array.
"""
from __future__ import annotations

import argparse
import json
import os
import warnings

import numpy as np

from tabmfirl import ConvergenceWarning, check_mean_field, check_policy, check_reward
from tabmfirl._io import NPZ_READ_ERRORS, SOLUTION_FORMAT, atomic_write, pickle_free, read_npz

from ._errors import CommandError
from ._games import GAME_HELP, default_temperature, game_reference, load_game

__all__ = ["add_parser", "read_array", "run_check", "write_solution", "check_out_folder"]

_EPILOG = """examples:
  tabmfirl solve --game virus --beta 0.1 --out eq.npz && \\
      tabmfirl check --game virus --beta 0.1 --policy eq.npz
  tabmfirl check --game mygame.py:make --policy pi.npy --mean-field mu.npy --json
  tabmfirl check --game virus --beta 0.1 --reward run/result.npz
  tabmfirl check --game game.npz --reward learned.npy --type-map 0,0,1 --tol 1e-3"""


def add_parser(subparsers):
    """Register ``tabmfirl check`` on an argparse ``subparsers`` object; its parser."""
    parser = subparsers.add_parser(
        "check", help="exact verdict on a policy, mean field or reward computed elsewhere",
        description="Score arrays computed by another implementation against the exact\n"
                    "equilibrium of a game, per type: regularised and unregularised\n"
                    "exploitability, fixed-point residual, distance to the exact\n"
                    "equilibrium (policy and flow); for learned reward tables, the IRL\n"
                    "metrics of the learned game's equilibrium and the experts'\n"
                    "exploitability in the learned game. Exit 0 when every type passes\n"
                    "(exploitability <= --tol; for a reward: the experts'), 1 otherwise.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--game", required=True, help=GAME_HELP)
    parser.add_argument("--types", type=int, default=None,
                        help="number of agent types of the game (default: the game's)")
    parser.add_argument("--horizon", type=int, default=None,
                        help="horizon of the game (default: the game's)")
    parser.add_argument("--dynamics", default=None, help="original (default) or variant")
    parser.add_argument("--policy", default=None,
                        help="policy (K, T, S, A) or (T, S, A), .npy or .npz")
    parser.add_argument("--mean-field", default=None,
                        help="mean field flow (K, T+1, S) or (T+1, S); with --policy: the "
                             "flow reported for it")
    parser.add_argument("--state-action", default=None,
                        help="state-action flow (K, T, S, A) with --mean-field (games that "
                             "observe it)")
    parser.add_argument("--reward", default=None,
                        help="learned reward tables (K, T, S, A) or (K, S, A)")
    parser.add_argument("--type-map", default=None,
                        help="with --reward: learned type of each game type, e.g. 0,2,1")
    parser.add_argument("--beta", type=float, default=None,
                        help="temperature (default: the game's)")
    parser.add_argument("--tol", type=float, default=1e-6,
                        help="verdict: exploitability <= TOL for every type (default 1e-6)")
    parser.add_argument("--verdict", default="regularised",
                        choices=("regularised", "unregularised"),
                        help="the exploitability the verdict reads: regularised (default) or "
                             "unregularised (solvers of the unregularised game, e.g. MFGLib; "
                             "--policy and --reward)")
    parser.add_argument("--row-tol", type=float, default=1e-6,
                        help="tolerance on probability rows summing to 1 (default 1e-6)")
    parser.add_argument("--backend", default="auto", help="auto, numpy, numba or cuda")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=run_check)
    return parser


def read_array(path: str, name: str) -> np.ndarray:
    """The array ``name`` of ``path`` (``.npy``, or ``.npz``: the array ``name`` or the only one).

    Raises
    ------
    CommandError
        Missing or unreadable file, or an archive without that array.
    """
    if not os.path.isfile(path):
        raise CommandError(f"no file {path!r} (the {name})")
    try:
        if path.endswith(".npy"):
            with open(path, "rb") as handle:
                return np.load(handle, allow_pickle=False)
        arrays = read_npz(path)
    except NPZ_READ_ERRORS as error:
        raise CommandError(f"cannot read the {name} from {path!r}: {type(error).__name__}: "
                           f"{error}") from None
    if name in arrays:
        return arrays[name]
    if len(arrays) == 1:
        return next(iter(arrays.values()))
    raise CommandError(f"{path!r} holds the arrays {', '.join(sorted(arrays)) or 'none'} but "
                       f"no {name!r}: save the {name} under that name, or alone")


def _type_map(text):
    if text is None:
        return None
    try:
        return np.array([int(x) for x in text.split(",")], dtype=np.int64)
    except ValueError:
        raise CommandError(f"--type-map must be comma-separated integers, got {text!r}") \
            from None


def _inputs(args) -> str:
    """What is checked: ``policy``, ``mean_field`` or ``reward`` (flags checked)."""
    if args.reward is not None:
        if args.policy is not None or args.mean_field is not None:
            raise CommandError("--reward is checked alone (no --policy or --mean-field)")
        return "reward"
    if args.type_map is not None:
        raise CommandError("--type-map applies to --reward only")
    if args.policy is not None:
        if args.state_action is not None:
            raise CommandError("--state-action goes with --mean-field alone")
        return "policy"
    if args.mean_field is not None:
        if args.verdict != "regularised":
            raise CommandError("--verdict unregularised needs --policy or --reward (a flow's "
                               "policy is its soft best response)")
        return "mean_field"
    raise CommandError("give what to check: --policy, --mean-field or --reward")


def compute_report(args):
    """The :class:`~tabmfirl.CheckReport` the flags ask for (``CommandError`` on bad input)."""
    kind = _inputs(args)
    if not args.tol >= 0 or not args.row_tol >= 0:
        raise CommandError(f"--tol and --row-tol must be >= 0, got {args.tol}, {args.row_tol}")
    spec = load_game(args.game, types=args.types, horizon=args.horizon, dynamics=args.dynamics)
    beta = default_temperature(args.game) if args.beta is None else args.beta
    if not beta > 0:
        raise CommandError(f"--beta must be > 0, got {beta}")
    common = {"temperature": beta, "tol": args.tol, "backend": args.backend}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        try:
            if kind == "reward":
                return check_reward(spec, read_array(args.reward, "reward"),
                                    type_map=_type_map(args.type_map), verdict=args.verdict,
                                    **common)
            mean_field = None if args.mean_field is None else \
                read_array(args.mean_field, "mean_field")
            if kind == "policy":
                return check_policy(spec, read_array(args.policy, "policy"),
                                    mean_field=mean_field, row_tol=args.row_tol,
                                    verdict=args.verdict, **common)
            state_action = None if args.state_action is None else \
                read_array(args.state_action, "state_action")
            return check_mean_field(spec, mean_field, state_action=state_action,
                                    row_tol=args.row_tol, **common)
        except (ValueError, RuntimeError) as error:
            raise CommandError(str(error)) from None


def run_check(args) -> int:
    """Handler of ``tabmfirl check``: 0 when the verdict passes, 1 when it fails."""
    report = compute_report(args)
    if args.json:
        print(json.dumps(report.to_dict()))
    else:
        print(report)
    return 0 if report.passed else 1


def check_out_folder(path) -> None:
    """``CommandError`` unless the folder that will hold the file ``path`` exists (checked
    before a long computation)."""
    if path is None:
        return
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise CommandError(f"cannot write {path!r}: no folder {folder!r}")
    if os.path.isdir(path):
        raise CommandError(f"cannot write {path!r}: it is a folder")


def write_solution(path, game: str, spec, result) -> str:
    """Write an :class:`~tabmfirl.EquilibriumResult` of ``game`` to ``path`` (module
    docstring; atomic, no pickle)."""
    arrays = {"policy": result.policy, "mean_field": result.mean_field,
              "state_action": result.state_action, "q": result.q, "value": result.value,
              "exploitability": result.exploitability,
              "unregularised_exploitability": result.unregularised_exploitability,
              "residual": np.float64(result.residual), "converged": np.bool_(result.converged),
              "temperature": np.float64(result.temperature)}
    meta = {"format": SOLUTION_FORMAT, "game": game_reference(game), "name": spec.name,
            "types": spec.n_contexts, "method": result.method, "backend": result.backend,
            "iterations": int(result.num_iter)}
    arrays["meta"] = np.array(json.dumps(meta))
    arrays = pickle_free(arrays)
    try:
        atomic_write(path, lambda handle: np.savez(handle, **arrays))
    except OSError as error:
        raise CommandError(f"cannot write {path!r}: {error.strerror or error}") from None
    return str(path)
