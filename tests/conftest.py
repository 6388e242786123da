"""Shared fixtures: backends and hypothesis profiles."""
import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "default", max_examples=25, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile(
    "ci", max_examples=40, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def cpu_backends():
    return ["numpy", "numba"]


@pytest.fixture(params=cpu_backends())
def backend(request):
    """Each CPU backend in turn."""
    return request.param
