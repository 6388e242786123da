"""Whole-process time of ``tabmfirl solve --game G --json``, per backend.

What a user waits for: a fresh Python process that imports the package,
builds the game, solves it and prints JSON, *including* any Numba
compilation or cache loading.  For every game and backend the script first
runs the command once (to fill Numba's on-disk cache, as a user's first run
does), then ``--repeats`` times more, interleaving the backends so that a
load change on a shared machine hits all of them alike; it reports the
median and the ratio to ``--backend numpy`` measured in the same run.

The bound printed next to each time is the floor no backend can beat: a
fresh process that only runs ``import tabmfirl`` (median of the same number
of runs).

Usage::

    python benchmarks/bench_process.py [--games virus investment ...]
        [--backends numpy numba auto] [--repeats 5] [--max-seconds 120]
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

#: Games whose solve takes a few seconds at most; ``crowd_grid`` and ``taxi``
#: (large) are opted in with ``--games``.
SMALL_GAMES = ("virus", "investment", "left_right", "malware", "rock_paper_scissors")


def process_seconds(args, timeout):
    """Wall seconds of one fresh ``python ARGS`` process (raises on failure)."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True,
                          timeout=timeout)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return seconds


def solve_args(game, backend, max_seconds):
    """Command line of one solve (no progress lines)."""
    return ["-m", "tabmfirl.apps.cli", "solve", "--game", game, "--backend", backend,
            "--json", "--progress-every", "0", "--max-seconds", str(max_seconds)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--games", nargs="+", default=list(SMALL_GAMES))
    parser.add_argument("--backends", nargs="+", default=["numpy", "numba", "auto"])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--max-seconds", type=float, default=600.0,
                        help="passed to each solve")
    args = parser.parse_args(argv)
    timeout = 4 * args.max_seconds + 120
    import_only = ["-c", "import tabmfirl"]
    process_seconds(import_only, timeout)
    floor = statistics.median(process_seconds(import_only, timeout)
                              for _ in range(args.repeats))
    print(f"# {args.repeats} fresh processes per cell after one cache-filling run; "
          f"median seconds; bound = `python -c 'import tabmfirl'` = {floor:.2f} s")
    print("| game | " + " | ".join(f"{b} s" for b in args.backends)
          + " | " + " | ".join(f"{b} / numpy" for b in args.backends if b != "numpy")
          + " | bound s |")
    print("|---|" + "---:|" * (2 * len(args.backends)) )
    for game in args.games:
        for backend in args.backends:  # first run: fills the on-disk cache
            process_seconds(solve_args(game, backend, args.max_seconds), timeout)
        times = {b: [] for b in args.backends}
        for _ in range(args.repeats):
            for backend in args.backends:
                times[backend].append(
                    process_seconds(solve_args(game, backend, args.max_seconds), timeout))
        median = {b: statistics.median(v) for b, v in times.items()}
        ratios = [f"{median[b] / median['numpy']:.2f}x" if "numpy" in median else "-"
                  for b in args.backends if b != "numpy"]
        print(f"| {game} | " + " | ".join(f"{median[b]:.2f}" for b in args.backends)
              + " | " + " | ".join(ratios) + f" | {floor:.2f} |", flush=True)


if __name__ == "__main__":
    main()
