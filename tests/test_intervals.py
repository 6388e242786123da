"""Bootstrap intervals of the results tables (tabmfirl.evaluation._intervals)."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tabmfirl
from tabmfirl import BootstrapInterval, bootstrap_interval, paired_bootstrap_interval
from tabmfirl.evaluation._intervals import format_interval


def test_matches_a_plain_numpy_bootstrap():
    values = np.array([0.3, 1.2, 0.7, 2.5, 0.1, 0.9])
    rng = np.random.default_rng(7)
    means = np.array([values[rng.integers(0, 6, 6)].mean() for _ in range(500)])
    low, high = np.percentile(means, [5.0, 95.0])
    got = bootstrap_interval(values, level=0.9, n_resamples=500, seed=7)
    assert got == BootstrapInterval(values.mean(), low, high, 6, 0.9)


def test_one_value_and_constant_values_give_a_point():
    assert bootstrap_interval([5.0]) == BootstrapInterval(5.0, 5.0, 5.0, 1, 0.95)
    got = bootstrap_interval([2.0, 2.0, 2.0])
    assert (got.low, got.mean, got.high) == (2.0, 2.0, 2.0)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-1e3, 1e3), min_size=2, max_size=30), st.integers(0, 2**32 - 1))
def test_interval_lies_within_the_values_and_is_ordered(values, seed):
    got = bootstrap_interval(values, seed=seed)
    assert min(values) - 1e-9 <= got.low <= got.high <= max(values) + 1e-9
    assert got.n == len(values)
    assert got == bootstrap_interval(values, seed=seed)          # deterministic


def test_coverage_near_the_nominal_level():
    # 300 samples of 20 standard normals: a 95% interval holds the true mean 0 in
    # about 93% of them (the percentile bootstrap is a little short at n = 20)
    rng = np.random.default_rng(0)
    hits = [bootstrap_interval(rng.normal(size=20), n_resamples=500, seed=i).excludes(0.0)
            for i in range(300)]
    coverage = 1.0 - np.mean(hits)
    assert 0.88 <= coverage <= 0.98


def test_wider_level_gives_a_wider_interval():
    values = np.random.default_rng(3).exponential(size=25)
    narrow, wide = bootstrap_interval(values, level=0.5), bootstrap_interval(values, level=0.99)
    assert wide.low < narrow.low < narrow.high < wide.high


def test_paired_difference_removes_the_shared_variation():
    rng = np.random.default_rng(1)
    shared = rng.normal(scale=10.0, size=20)        # what the seeds share
    a, b = shared + 1.0 + rng.normal(scale=0.1, size=20), shared
    paired = paired_bootstrap_interval(a, b)
    assert paired.excludes(0.0) and 0.8 < paired.mean < 1.2
    unpaired_a, unpaired_b = bootstrap_interval(a), bootstrap_interval(b)
    assert unpaired_a.low < unpaired_b.high         # unpaired intervals overlap
    assert not paired_bootstrap_interval(b, b).excludes(0.0)


def test_table_cell_skips_missing_values():
    assert format_interval([None, None]) == "-"
    assert format_interval([5.0, None], digits=1) == "5.0 [5.0, 5.0]"


def test_format():
    got = BootstrapInterval(0.12345, 0.1, 0.2, 5, 0.95)
    assert got.format(2) == "0.12 [0.10, 0.20]" and str(got) == "0.123 [0.100, 0.200]"


@pytest.mark.parametrize("values, match", [
    ([], "non-empty 1-D"), ([[1.0, 2.0]], "non-empty 1-D"), ([1.0, np.nan], "NaN or inf"),
])
def test_bad_values_are_refused(values, match):
    with pytest.raises(ValueError, match=match):
        bootstrap_interval(values)


def test_bad_options_are_refused():
    with pytest.raises(ValueError, match="level"):
        bootstrap_interval([1.0, 2.0], level=1.0)
    with pytest.raises(ValueError, match="n_resamples"):
        bootstrap_interval([1.0, 2.0], n_resamples=0)
    with pytest.raises(ValueError, match="pair run for run"):
        paired_bootstrap_interval([1.0, 2.0], [1.0])


def test_exported():
    assert {"bootstrap_interval", "paired_bootstrap_interval", "BootstrapInterval"} <= \
        set(tabmfirl.__all__)
