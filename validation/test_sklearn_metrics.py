"""Clustering metrics against scikit-learn (installed with imitation, see requirements.txt)."""
import numpy as np
import pytest
from peers import require_peer

from tabmfirl import adjusted_rand_index, normalized_mutual_information

metrics = require_peer("sklearn.metrics", "scikit-learn (installed with imitation)")


@pytest.mark.parametrize("n, k", [(10, 2), (50, 3), (200, 5)])
def test_adjusted_rand_index_agrees_with_sklearn(n, k):
    rng = np.random.default_rng(n)
    a = rng.integers(k, size=n)
    b = np.where(rng.random(n) < 0.7, a, rng.integers(k, size=n))
    np.testing.assert_allclose(adjusted_rand_index(a, b), metrics.adjusted_rand_score(a, b),
                               rtol=0, atol=1e-12)


@pytest.mark.parametrize("n, k", [(20, 2), (100, 4)])
def test_normalized_mutual_information_agrees_with_sklearn(n, k):
    rng = np.random.default_rng(n)
    a = rng.integers(k, size=n)
    b = np.where(rng.random(n) < 0.6, a, rng.integers(k, size=n))
    np.testing.assert_allclose(normalized_mutual_information(a, b),
                               metrics.normalized_mutual_info_score(a, b), rtol=0, atol=1e-12)
