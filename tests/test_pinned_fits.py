"""Every fit computes the numbers it computed before the fit-driver refactor (issue 12).

``tests/data/pinned_fits.npz`` was written by ``tests/make_pinned_fits.py`` on the code
before the refactor (commit 7d184a1); the fits are defined in ``tests/pinned_fits.py``.
A refactor that changes the order of random draws, an update or a stopping rule moves
at least one of these arrays by far more than 1e-12.
"""
from pathlib import Path

import numpy as np
import pytest
from pinned_fits import FIELDS, run_all

PINNED = Path(__file__).resolve().parent / "data" / "pinned_fits.npz"


@pytest.fixture(scope="module")
def results():
    return run_all()


@pytest.fixture(scope="module")
def pinned():
    with np.load(PINNED, allow_pickle=False) as data:
        return {name: data[name] for name in data.files}


def test_every_pinned_fit_is_run(results, pinned):
    assert {key.rsplit("/", 1)[0] for key in pinned} == set(results)


@pytest.mark.parametrize("field", FIELDS)
def test_fit_outputs_match_the_pinned_values(results, pinned, field):
    checked = 0
    for name, result in results.items():
        key = f"{name}/{field}"
        value = getattr(result, field, None)
        if value is None:
            assert key not in pinned, f"{key}: pinned but no longer computed"
            continue
        if hasattr(value, "get_flat"):
            value = value.get_flat()
        assert key in pinned, f"{key}: computed but not pinned"
        np.testing.assert_allclose(np.asarray(value), pinned[key], rtol=0, atol=1e-12,
                                   err_msg=key)
        checked += 1
    assert checked > 0
