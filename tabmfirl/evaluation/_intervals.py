"""Percentile bootstrap intervals for results reported over seeds or game instances.

The tables of ``docs/results.md`` and the benchmark scripts report a mean over
independent runs (test seeds, random game instances) with a 95% percentile
bootstrap interval: resample the runs with replacement, take the mean of each
resample, and read the interval off the resampled means' percentiles.
Comparisons of two methods run on the same seeds are *paired*: the interval is
that of the mean per-run difference, which removes the variation that the
seeds share.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["BootstrapInterval", "bootstrap_interval", "paired_bootstrap_interval",
           "format_interval"]


@dataclass(frozen=True)
class BootstrapInterval:
    """A mean and its percentile bootstrap interval.

    Attributes
    ----------
    mean : float
        The sample mean of the runs.
    low, high : float
        The ``(1 - level) / 2`` and ``(1 + level) / 2`` percentiles of the
        resampled means.
    n : int
        Number of runs.
    level : float
        Coverage the interval was asked for (0.95 by default).
    """

    mean: float
    low: float
    high: float
    n: int
    level: float

    def format(self, digits: int = 3) -> str:
        """``"mean [low, high]"`` with ``digits`` decimals."""
        return f"{self.mean:.{digits}f} [{self.low:.{digits}f}, {self.high:.{digits}f}]"

    def __str__(self) -> str:
        return self.format()

    def excludes(self, value: float = 0.0) -> bool:
        """Whether ``value`` lies outside ``[low, high]`` (for a paired difference: whether
        the two methods differ at this level)."""
        return bool(value < self.low or value > self.high)


def _runs(values, name):
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D sequence, got shape {values.shape}")
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{name} contains NaN or inf; drop the runs without a value first")
    return values


def bootstrap_interval(values, *, level: float = 0.95, n_resamples: int = 2000,
                       seed=0) -> BootstrapInterval:
    r"""Mean of independent runs with a percentile bootstrap interval.

    For ``B = n_resamples`` resamples :math:`x^{(b)}` of the ``n`` values drawn
    with replacement, the interval is the :math:`\alpha/2` and
    :math:`1 - \alpha/2` percentiles (``numpy.percentile``, linear
    interpolation) of the means :math:`\bar x^{(b)}`, with
    :math:`\alpha = 1 - \text{level}`.

    Parameters
    ----------
    values : array_like, shape (n,)
        One finite value per run (seed, game instance); ``n >= 1``. With one
        value the interval is that value.
    level : float
        Coverage, in (0, 1).
    n_resamples : int
        Number of bootstrap resamples, ``>= 1``.
    seed : int or numpy.random.Generator
        Randomness of the resampling.

    Returns
    -------
    BootstrapInterval

    Raises
    ------
    ValueError
        If ``values`` is empty, not 1-D or not finite, or ``level`` or
        ``n_resamples`` is out of range.
    """
    values = _runs(values, "values")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    if int(n_resamples) != n_resamples or n_resamples < 1:
        raise ValueError(f"n_resamples must be a positive integer, got {n_resamples}")
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, values.size, (int(n_resamples), values.size))
    means = values[draws].mean(axis=1)
    low, high = np.percentile(means, [50.0 * (1.0 - level), 50.0 * (1.0 + level)])
    return BootstrapInterval(float(values.mean()), float(low), float(high), int(values.size),
                             float(level))


def paired_bootstrap_interval(values, reference, **options) -> BootstrapInterval:
    """Mean per-run difference ``values - reference`` with its bootstrap interval.

    Parameters
    ----------
    values, reference : array_like, shape (n,)
        Two methods' values on the same runs, in the same order.
    **options
        ``level``, ``n_resamples``, ``seed`` of :func:`bootstrap_interval`.

    Returns
    -------
    BootstrapInterval
        Of the differences; :meth:`BootstrapInterval.excludes` ``(0)`` says
        whether the two differ at the interval's level.

    Raises
    ------
    ValueError
        If the two do not have the same length, or as :func:`bootstrap_interval`.
    """
    values, reference = _runs(values, "values"), _runs(reference, "reference")
    if values.shape != reference.shape:
        raise ValueError(f"values and reference must pair run for run, got lengths "
                         f"{values.size} and {reference.size}")
    return bootstrap_interval(values - reference, **options)


def format_interval(values, digits: int = 3) -> str:
    """A results-table cell: ``"mean [low, high]"`` (:func:`bootstrap_interval`) over the runs
    whose value is not ``None``, or ``"-"`` when none has one.

    Parameters
    ----------
    values : sequence of float or None
        One entry per run; ``None`` for a run without the score.
    digits : int
        Decimals.

    Returns
    -------
    str
    """
    present = [v for v in values if v is not None]
    return bootstrap_interval(present).format(digits) if present else "-"
