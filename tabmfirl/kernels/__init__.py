"""Layer 2, the kernels: forward and backward passes as pure array functions (NumPy twin, Numba CPU, CUDA) and the one place that picks the backend."""
