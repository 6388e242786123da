"""Layer 2, the kernels: forward and backward passes as pure array functions (NumPy twin, Numba CPU, CUDA) and the one place that picks the backend."""
from ._cache import ensure_writable_cache

# Before any module of the package decorates a kernel with ``cache=True``.
ensure_writable_cache()
