"""Backend resolution: one lazy choice per call, nothing touches a GPU at import."""
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


def gpu_is_present() -> bool:
    """True only when a real CUDA GPU is there (not the simulator)."""
    from numba import config as numba_config

    return not numba_config.ENABLE_CUDASIM and cuda_is_usable()


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


def use_parallel(work: int) -> bool:
    """Whether a Numba kernel of this size should use its ``prange`` variant."""
    return work >= config.PARALLEL_MIN_WORK
