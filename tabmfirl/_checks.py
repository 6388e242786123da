"""Argument checkers shared by every layer: each returns the value converted to its
Python type, or raises a one-line ``ValueError`` that names the argument and the value."""
from __future__ import annotations

import numpy as np

__all__ = ["check_positive_int", "check_positive_float", "check_fraction",
           "check_temperature", "check_choice"]


def check_positive_int(value, name: str, minimum: int = 1) -> int:
    """``value`` as an ``int`` at least ``minimum`` (``bool`` is refused).

    Examples
    --------
    >>> check_positive_int(3, "max_iter")
    3
    >>> check_positive_int(0, "max_iter")
    Traceback (most recent call last):
    ...
    ValueError: max_iter must be a positive integer, got 0
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) \
            or value < minimum:
        kind = {1: "a positive integer", 0: "a non-negative integer"}.get(
            minimum, f"an integer >= {minimum}")
        raise ValueError(f"{name} must be {kind}, got {value!r}")
    return int(value)


def check_positive_float(value, name: str, allow_zero: bool = False) -> float:
    """``value`` as a finite ``float``, ``> 0`` (or ``>= 0`` with ``allow_zero``)."""
    value = float(value)
    if not np.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name} must be finite and {'>= 0' if allow_zero else '> 0'}, "
                         f"got {value}")
    return value


def check_fraction(value, name: str) -> float:
    """``value`` as a ``float`` in ``[0, 1]``."""
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must lie in [0, 1], got {value}")
    return value


def check_temperature(temperature, allow_zero: bool) -> float:
    """The entropy temperature :math:`\\beta` as a finite ``float``, ``> 0`` (or ``>= 0``)."""
    temperature = float(temperature)
    if not np.isfinite(temperature) or temperature < 0 or (temperature == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"temperature must be finite and {bound}, got {temperature}")
    return temperature


def check_choice(value, name: str, choices) -> str:
    """``value`` if it is one of ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, "
                         f"got {value!r}")
    return value
