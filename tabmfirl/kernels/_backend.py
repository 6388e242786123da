"""Backend resolution: one lazy choice per call, nothing touches a GPU at import."""
import functools
import glob
import os
import sys
import time

from .. import config

BACKENDS = ("auto", "numpy", "numba", "cuda")


def cuda_is_usable() -> bool:
    """True when ``numba.cuda`` can launch kernels (a real GPU or the simulator)."""
    try:
        from numba import cuda
    except ImportError:  # pragma: no cover - numba-cuda is a core dependency
        return False
    try:
        return bool(cuda.is_available())
    except Exception:  # pragma: no cover - broken driver
        return False


def _no_gpu_device_file() -> bool:
    """True on Linux when no GPU device file exists (``/dev/nvidia*``, WSL's ``/dev/dxg``).

    Importing ``numba.cuda`` to ask costs 1-2 s per process; without a
    device file there is no GPU to find.
    """
    return sys.platform.startswith("linux") and not os.path.exists("/dev/dxg") \
        and not glob.glob("/dev/nvidia*")


@functools.lru_cache(maxsize=1)
def gpu_is_present() -> bool:
    """True only when a real CUDA GPU is there (not the simulator); asked once per process."""
    from numba import config as numba_config

    if numba_config.ENABLE_CUDASIM or _no_gpu_device_file():
        return False
    return cuda_is_usable()


def resolve_backend(backend: str) -> str:
    """Return the concrete backend name for ``backend``.

    ``"auto"`` picks ``"cuda"`` only when a real GPU is present, otherwise
    ``"numba"``.  ``"cuda"`` without a usable device raises a RuntimeError that
    says so (set ``NUMBA_ENABLE_CUDASIM=1`` before importing numba to run the
    CUDA kernels on the CPU simulator).
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "auto":
        return "cuda" if gpu_is_present() else "numba"
    if backend == "cuda" and not cuda_is_usable():
        raise RuntimeError(
            "backend='cuda' needs a CUDA GPU, but numba.cuda.is_available() is False. "
            "Use backend='numba' (or 'auto'), or set NUMBA_ENABLE_CUDASIM=1 before numba "
            "is imported to run the CUDA kernels on the CPU simulator.")
    return backend


def free_cores() -> int:
    r"""Cores this process can use now: its CPU affinity, less the others' load.

    .. math:: n = \min\bigl(|\text{affinity}|,\ \texttt{NUMBA\_NUM\_THREADS},\
              \lfloor c - (\ell_1 - 1) + 1/2 \rfloor\bigr)

    with :math:`c` the machine's CPU count and :math:`\ell_1` the one-minute
    load average, of which this process itself is about 1.  At least 1.
    """
    import numba

    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    cores = min(cores, numba.config.NUMBA_NUM_THREADS)
    try:
        others = max(0.0, os.getloadavg()[0] - 1.0)
    except (AttributeError, OSError):  # pragma: no cover - no load average (Windows)
        others = 0.0
    idle = int((os.cpu_count() or cores) - others + 0.5)
    return max(1, min(cores, idle))


def parallel_threads(work: int) -> int:
    """Threads for a Numba kernel of ``work`` entries per step; 1 means its serial variant.

    ``tabmfirl.config.NUM_THREADS`` forces a count; by default (``None``) the
    ``prange`` variant runs only when ``work >= config.PARALLEL_MIN_WORK``
    and at least two cores are free (:func:`free_cores`), with one thread per
    free core: on cores other processes keep busy, threads that wait for each
    other cost far more than they save.
    """
    if config.NUM_THREADS is not None:
        return max(1, int(config.NUM_THREADS))
    if work < config.PARALLEL_MIN_WORK:
        return 1
    return free_cores()


def use_parallel(work: int) -> bool:
    """Whether a Numba kernel of this size should use its ``prange`` variant."""
    return parallel_threads(work) > 1


def read_bandwidth(n_bytes: int = 400_000_000, repeats: int = 3) -> float:
    """Bytes per second of a streaming read on this machine (a NumPy sum).

    The benchmarks divide a pass's table bytes by it: the floor of a
    memory-bound kernel's time.  Allocates ``n_bytes`` for the measurement.
    """
    import numpy as np

    data = np.ones(max(1, n_bytes // 8))
    data.sum()  # first touch
    start = time.perf_counter()
    for _ in range(repeats):
        data.sum()
    return repeats * data.nbytes / (time.perf_counter() - start)
