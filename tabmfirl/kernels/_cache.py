"""A writable place for Numba's on-disk cache, so a read-only install still works.

Numba keeps compiled kernels next to their module (``__pycache__``), else in
the user's cache folder (``~/.cache/numba``), else in ``NUMBA_CACHE_DIR``.
When none of these is writable (a read-only install run by a user without a
writable home), every ``@njit(cache=True)`` raises ``RuntimeError: cannot
cache function`` at import.  :func:`ensure_writable_cache` then points
``NUMBA_CACHE_DIR`` at a folder in the temporary directory, with a warning.
"""
from __future__ import annotations

import os
import tempfile
import warnings

__all__ = ["ensure_writable_cache"]


def ensure_writable_cache():
    """Set ``numba.config.CACHE_DIR`` to a temporary folder if Numba has nowhere to cache.

    Returns
    -------
    str or None
        The folder now used, or None when Numba's own choice works (or
        ``NUMBA_CACHE_DIR`` is set, or Numba's cache internals are not the
        ones this check knows).
    """
    from numba.core import caching, config

    if config.CACHE_DIR:
        return None
    try:
        locators = (caching.InTreeCacheLocator, caching.UserWideCacheLocator)
        if any(cls.from_function(ensure_writable_cache, __file__) is not None
               for cls in locators):
            return None
    except Exception:  # pragma: no cover - Numba internals changed: leave it to Numba
        return None
    uid = os.getuid() if hasattr(os, "getuid") else "user"
    folder = os.path.join(tempfile.gettempdir(), f"tabmfirl-numba-cache-{uid}")
    os.makedirs(folder, exist_ok=True)
    config.CACHE_DIR = folder
    warnings.warn(f"Numba cannot write its cache next to tabmfirl nor in the user's cache "
                  f"folder; caching compiled kernels in {folder} (set NUMBA_CACHE_DIR to "
                  f"choose another)", RuntimeWarning, stacklevel=2)
    return folder
