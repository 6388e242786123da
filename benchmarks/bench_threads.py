"""Backward pass (soft Bellman) per thread setting: one thread, all threads, the default.

For each size, in one process and interleaved (so a change of load on a
shared machine hits every setting alike), the median milliseconds of one
Numba backward pass with

* ``one thread``: ``tabmfirl.config.NUM_THREADS = 1`` (the serial kernel);
* ``all threads``: ``NUM_THREADS = NUMBA_NUM_THREADS`` (the ``prange`` kernel);
* ``default``: ``NUM_THREADS = None``, the package's choice by work and free
  cores (:func:`tabmfirl.kernels._backend.parallel_threads`).

Next to each time, the bound: the bytes of transition (and, sparse, index)
tables one pass reads, over the read bandwidth measured here (NumPy sum over
400 MB).  Games: dense random stationary tables (``S`` states, 5 actions,
``T = 10``) and the sparse crowd grid (10^4 states, 5 successors, T = 100).

Usage::

    python benchmarks/bench_threads.py [--repeats 7] [--quick]
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import numba
import numpy as np

import tabmfirl
from tabmfirl import config, envs
from tabmfirl.kernels._backend import free_cores, parallel_threads, read_bandwidth
from tabmfirl.solvers._soft_bellman import backward_unchecked


def dense_model(S, A=5, T=10, seed=0):
    """A frozen model with a dense stationary random transition."""
    rng = np.random.default_rng(seed)
    P = rng.dirichlet(np.ones(S), size=(S, A))[None]
    return tabmfirl.EvaluatedModel(P, np.zeros((1, T), dtype=np.int64),
                                   rng.standard_normal((1, T, S, A)))


def crowd_grid_model():
    """The crowd grid's model at the uniform policy's flow (3 types)."""
    spec = envs.make("crowd_grid")
    policy = np.full((spec.n_contexts, spec.horizon, spec.n_states, spec.n_actions),
                     1.0 / spec.n_actions)
    return tabmfirl.forward_mean_field(spec, policy, backend="numba").model


def bytes_per_pass(model):
    """Bytes of transition (and sparse index) and reward tables one backward pass reads.

    Per step, every distinct transition slice that step uses (a stationary
    table counts once per step: at these sizes it does not stay in cache).
    """
    K, T, S, A = model.shape
    W = model.transition.shape[3]
    per_entry = 8 if model.dense else 16  # probability, plus the successor's index
    slices = sum(np.unique(model.slice_index[:, t]).size for t in range(T))
    return slices * S * A * W * per_entry + model.reward.nbytes


def time_settings(model, repeats):
    """Median ms of one backward pass per thread setting (interleaved)."""
    settings = {"one thread": 1, "all threads": numba.config.NUMBA_NUM_THREADS,
                "default": None}
    times = {name: [] for name in settings}
    for threads in settings.values():  # warm-up: compilation / cache loading
        with _threads(threads):
            backward_unchecked(model, 1.0, None, "numba")
    for _ in range(repeats):
        for name, threads in settings.items():
            with _threads(threads):
                start = time.perf_counter()
                backward_unchecked(model, 1.0, None, "numba")
                times[name].append(time.perf_counter() - start)
    return {name: 1e3 * statistics.median(v) for name, v in times.items()}


class _threads:
    """Context manager setting ``config.NUM_THREADS``."""

    def __init__(self, value):
        self.value = value

    def __enter__(self):
        self.saved = config.NUM_THREADS
        config.NUM_THREADS = self.value

    def __exit__(self, *exc):
        config.NUM_THREADS = self.saved


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="small sizes only")
    args = parser.parse_args(argv)
    bandwidth = read_bandwidth()
    print(f"# NUMBA_NUM_THREADS={numba.config.NUMBA_NUM_THREADS}, affinity "
          f"{len(os.sched_getaffinity(0))} cores, load average {os.getloadavg()[0]:.1f}, "
          f"free cores now {free_cores()}, PARALLEL_MIN_WORK={config.PARALLEL_MIN_WORK:.0e}, "
          f"read bandwidth {bandwidth / 1e9:.1f} GB/s; median of {args.repeats}")
    print("| game | entries/step | one thread ms | all threads ms | default ms "
          "| default / one thread | default's threads (last call) | bound ms |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    cases = [(f"dense random S={S}, A=5, T=10", lambda S=S: dense_model(S))
             for S in ((100, 300) if args.quick else (100, 300, 1000, 2000))]
    if not args.quick:
        cases.append(("crowd grid (sparse) S=10^4, A=5, W=5, T=100, K=3", crowd_grid_model))
    for label, build in cases:
        model = build()
        K, T, S, A = model.shape
        work = K * S * A * model.transition.shape[3]
        ms = time_settings(model, args.repeats)
        bound = 1e3 * bytes_per_pass(model) / bandwidth
        print(f"| {label} | {work:.1e} | {ms['one thread']:.2f} | {ms['all threads']:.2f} | "
              f"{ms['default']:.2f} | {ms['default'] / ms['one thread']:.2f} | "
              f"{parallel_threads(work)} | {bound:.2f} |", flush=True)
    print(f"# load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
