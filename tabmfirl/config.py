"""Tunable settings of the kernels.

Tests patch these (small) so that tiny inputs exercise the parallel and
multi-block code paths.

Attributes
----------
PARALLEL_MIN_WORK : int
    The Numba backward pass (soft Bellman and policy evaluation) switches from
    its serial to its multi-threaded (``prange``) variant when
    ``n_contexts * n_states * n_actions * width``
    (``width`` = number of successor entries per row) reaches this number.
    Below it, thread start-up costs more than it saves.  Measured on 2 cores:
    the crowd grid (250,000 entries per step) ran 1.7x faster in parallel on
    an idle machine but several times slower when other processes shared the
    cores, so the default keeps games of that size serial.  Above it the
    parallel variant still runs only on cores that are free now
    (:func:`tabmfirl.kernels._backend.parallel_threads`; ``docs/speed.md``).
NUM_THREADS : int or None
    Threads of the Numba ``prange`` kernels.  ``None`` (default): chosen per
    call from the work and the free cores; ``1``: always the serial
    variants; ``n > 1``: the parallel variants with ``n`` threads (at most
    ``NUMBA_NUM_THREADS``) whatever the size.
CUDA_THREADS_PER_BLOCK : int
    Threads per block of the CUDA kernels.
"""

PARALLEL_MIN_WORK = 2_000_000
NUM_THREADS = None
CUDA_THREADS_PER_BLOCK = 128
