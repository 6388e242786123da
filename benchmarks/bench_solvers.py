"""Equilibrium solvers: the default ("auto") against the old hand-tuned settings.

For every shipped game (3 types, original dynamics, the game's temperature)
and a set of random congestion games (tabmfirl.testing.games.congestion_game,
including issue 13's ring), measures the iterations and seconds until the
first iterate whose regularised exploitability is at most 1e-10, for

* ``auto``, the default, given nothing but the temperature;
* ``old``: what the library used before issue 13, hard-coded below: the
  per-game ``fixed_point`` damping the game modules shipped (``DAMPING``), or,
  for the congestion games, which had none, plain ``fixed_point`` (the old
  default) and ``mirror_descent`` with its default step.

One run each, on whatever machine runs it (numbers in docs/theory.md were
measured on the shared 2-core development machine; other processes were
running, so treat seconds as +-30%).  The exploitability of ``auto``'s iterates
is not computed by the solver; here a callback certifies every iterate (a
fresh forward and two backward passes) and its time is subtracted from the
seconds.  The old methods compute it in their loop anyway, so their seconds
include it, as they always did.  Compilation is excluded (each game is solved
once before timing).

    python benchmarks/bench_solvers.py            # the table of docs/theory.md
    python benchmarks/bench_solvers.py --quick    # smoke run (small games only)
"""
import argparse
import time
import warnings

import numpy as np

from tabmfirl import ConvergenceWarning, envs, evaluate_model, solve_equilibrium
from tabmfirl.kernels._backend import resolve_backend
from tabmfirl.solvers._certificate import certify
from tabmfirl.testing.games import congestion_game, graph_neighbours

#: The per-game settings the library shipped before issue 13 (envs/<game>.py,
#: ``TEMPERATURE`` and ``DAMPING``; ``envs.solver_settings`` returned them as
#: method="fixed_point").  Hard-coded here because the games no longer carry them.
OLD_SETTINGS = {
    "malware": (1.0, 1.0), "investment": (0.3, 1.0), "virus": (1.0, 1.0),
    "rock_paper_scissors": (1.0, 0.2), "left_right": (1.0, 0.5), "crowd_grid": (1.0, 1.0),
    "taxi": (0.2, 0.5),
}
TARGET = 1e-10


class _Reached(Exception):
    """Raised by the tracker to stop a solve once the target is reached."""


class Tracker:
    """Callback: the first iterate with exploitability <= TARGET, its time net of tracking."""

    def __init__(self, spec, temperature):
        self.spec, self.temperature = spec, temperature
        self.backend = resolve_backend("auto")
        self.overhead = 0.0
        self.reached = None

    def __call__(self, iteration, info):
        # info["seconds"] includes the certificates of earlier iterates, not this one's
        seconds = info["seconds"] - self.overhead
        expl = info["exploitability"]
        if expl is None:  # auto does not measure it: certify the iterate, off the clock
            start = time.perf_counter()
            expl = certify(self.spec, np.array(info["policy"]), self.temperature, self.backend,
                           unregularised=False).exploitability
            self.overhead += time.perf_counter() - start
        if np.max(expl) <= TARGET:
            self.reached = (iteration, seconds)
            raise _Reached


def warm_up(spec, temperature):
    """Compile every kernel a timed run calls for this game (not cached across games)."""
    result = solve_equilibrium(spec, temperature=temperature, max_iter=2, warn=False)
    evaluate_model(spec, result.mean_field, result.state_action)
    certify(spec, result.policy, temperature, resolve_backend("auto"), unregularised=False)


def measure(spec, temperature, max_seconds, **options):
    """``(iterations, seconds)`` to exploitability <= TARGET, or ``(None, seconds)``."""
    tracker = Tracker(spec, temperature)
    start = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            result = solve_equilibrium(spec, temperature=temperature, callback=tracker,
                                       max_seconds=max_seconds, max_iter=20000, **options)
    except _Reached:
        return tracker.reached
    return None, time.perf_counter() - start - tracker.overhead, result.num_iter


def cases(quick):
    """``(label, spec, temperature, old options or None, old label)``."""
    names = ["virus", "left_right", "rock_paper_scissors"] if quick else sorted(envs.GAMES)
    for name in names:
        temperature, damping = OLD_SETTINGS[name]
        yield (name, envs.make(name), temperature,
               {"method": "fixed_point", "damping": damping}, f"fixed_point {damping:g}")
    graphs = [("ring", 8, 30, 2.0, 0.1)] if quick else [
        ("ring", 8, 30, 2.0, 0.1), ("ring", 8, 30, 5.0, 0.05), ("grid", 12, 20, 5.0, 0.1),
        ("grid", 16, 20, 2.0, 0.05), ("random", 12, 20, 5.0, 0.1), ("random", 10, 30, 3.0, 0.05)]
    for i, (kind, n, horizon, c, temperature) in enumerate(graphs):
        rng = np.random.default_rng(i)
        spec = congestion_game(graph_neighbours(kind, n, rng), horizon, 3, congestion=c,
                               slip=0.0 if kind == "ring" else 0.1, rng=rng)
        label = f"congestion {kind} S={n} T={horizon} c={c:g}"
        yield label, spec, temperature, {"method": "fixed_point"}, "fixed_point 1"
        yield label, spec, temperature, {"method": "mirror_descent"}, "mirror_descent 0.5"


def _cell(outcome):
    if outcome[0] is None:
        return f"not reached ({outcome[2]} it, {outcome[1]:.1f} s)", None
    return f"{outcome[0]} it, {outcome[1]:.2f} s", outcome[1]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: three small games")
    parser.add_argument("--max-seconds", type=float, default=300.0,
                        help="give up on a run after this long (default 300)")
    args = parser.parse_args(argv)
    print("| case | S | K | T | beta | auto | old settings | old | old / auto |")
    print("|---|---|---|---|---|---|---|---|---|")
    solved = {}
    for label, spec, temperature, old, old_label in cases(args.quick):
        key = (label, temperature)
        if key not in solved:
            warm_up(spec, temperature)
            solved[key] = measure(spec, temperature, args.max_seconds)
        auto_text, auto_seconds = _cell(solved[key])
        old_text, old_seconds = _cell(measure(spec, temperature, args.max_seconds, **old))
        ratio = "-" if old_seconds is None or auto_seconds is None \
            else f"{old_seconds / auto_seconds:.2f}"
        print(f"| {label} | {spec.n_states} | {spec.n_contexts} | {spec.horizon} | "
              f"{temperature:g} | {auto_text} | {old_label} | {old_text} | {ratio} |",
              flush=True)


if __name__ == "__main__":
    main()
