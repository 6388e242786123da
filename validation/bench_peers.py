"""Side-by-side speed of equilibrium iterations: tabmfirl vs MFGLib vs OpenSpiel.

Each implementation runs a fixed number of iterations of its equilibrium
solver on the *same* game (rebuilt exactly, see ``test_mfglib.py`` and
``test_openspiel.py``), after a warm-up run that is not timed (Numba
compilation, caches).  Every implementation evaluates the exploitability of
each iterate (MFGLib's ``solve`` and tabmfirl's ``solve_equilibrium`` always do;
OpenSpiel's loop below calls ``nash_conv`` as its examples do), so an
iteration is: forward pass, best response, update, exploitability.

tabmfirl's fictitious play is entropy-regularised (temperature 0.1) and
MFGLib's / OpenSpiel's are not; the work per iteration is the same.

Usage::

    python validation/bench_peers.py [--iters 20] [--quick]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def time_tabmfirl(spec, backend, iters, method="fictitious_play"):
    from tabmfirl import solve_equilibrium

    kwargs = dict(temperature=0.1, method=method, tol=1e-300, backend=backend, warn=False)
    solve_equilibrium(spec, max_iter=2, **kwargs)  # warm-up (Numba compilation)
    start = time.perf_counter()
    result = solve_equilibrium(spec, max_iter=iters, **kwargs)
    seconds = time.perf_counter() - start
    assert result.num_iter == iters, "converged early: timing would be misleading"
    return seconds / iters


def time_mfglib(env, algorithm, iters):
    algorithm.solve(env, max_iter=1, atol=None, rtol=None)  # warm-up
    start = time.perf_counter()
    algorithm.solve(env, max_iter=iters, atol=None, rtol=None)
    return (time.perf_counter() - start) / iters


def time_openspiel(game, iters, algorithm="fictitious_play"):
    from open_spiel.python.mfg.algorithms import fictitious_play, mirror_descent, nash_conv

    def run(n):
        solver = (fictitious_play.FictitiousPlay(game) if algorithm == "fictitious_play"
                  else mirror_descent.MirrorDescent(game, lr=1.0))
        for _ in range(n):
            solver.iteration()
            nash_conv.NashConv(game, solver.get_policy()).nash_conv()

    run(1)  # warm-up
    start = time.perf_counter()
    run(iters)
    return (time.perf_counter() - start) / iters


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="small games only")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    rows = []

    import torch

    torch.set_default_dtype(torch.float64)
    import test_mfglib as tm
    from mfglib.alg import FictitiousPlay, OnlineMirrorDescent

    games = ["susceptible_infected", "crowd_motion"] + ([] if args.quick else
                                                         ["building_evacuation"])
    for name in games:
        env, spec = tm.BUILDERS[name]()
        label = f"MFGLib {name} (S={spec.n_states}, A={spec.n_actions}, T={spec.horizon})"
        n = args.iters
        rows.append((label, "tabmfirl numpy, fictitious play",
                     time_tabmfirl(spec, "numpy", n)))
        rows.append((label, "tabmfirl numba, fictitious play",
                     time_tabmfirl(spec, "numba", n)))
        rows.append((label, "tabmfirl numba, mirror descent",
                     time_tabmfirl(spec, "numba", n, "mirror_descent")))
        rows.append((label, "MFGLib FictitiousPlay", time_mfglib(env, FictitiousPlay(), n)))
        rows.append((label, "MFGLib OnlineMirrorDescent",
                     time_mfglib(env, OnlineMirrorDescent(), n)))

    import pyspiel
    from open_spiel.python.mfg.games import crowd_modelling  # noqa: F401 (registers)

    from tabmfirl.interop import crowd_modelling_1d

    game = pyspiel.load_game("python_mfg_crowd_modelling")
    spec = crowd_modelling_1d(10, 10)
    label = "OpenSpiel crowd_modelling 1-D (S=10, A=3, T=10)"
    n = args.iters
    rows.append((label, "tabmfirl numpy, fictitious play", time_tabmfirl(spec, "numpy", n)))
    rows.append((label, "tabmfirl numba, fictitious play", time_tabmfirl(spec, "numba", n)))
    rows.append((label, "OpenSpiel FictitiousPlay (Python game)", time_openspiel(game, n)))
    rows.append((label, "OpenSpiel FictitiousPlay (C++ game)",
                 time_openspiel(pyspiel.load_game("mfg_crowd_modelling"), n)))

    reference = {}
    for label, impl, sec in rows:
        if impl == "tabmfirl numba, fictitious play":
            reference[label] = sec
    print(f"\n{args.iters} iterations per run (warm-up excluded); "
          f"ratio = seconds / tabmfirl numba fictitious play\n")
    print("| game | implementation | ms / iteration | ratio |")
    print("|---|---|---:|---:|")
    for label, impl, sec in rows:
        print(f"| {label} | {impl} | {1e3 * sec:.3f} | {sec / reference[label]:.1f} |")


if __name__ == "__main__":
    main()
