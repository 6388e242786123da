"""Installation script for tabmfirl (``pip install -e .[test]``)."""
import re

from setuptools import setup

# the version is written once, in tabmfirl/_version.py
with open("tabmfirl/_version.py", encoding="utf-8") as _handle:
    VERSION = re.search(r'__version__ = "([^"]+)"', _handle.read()).group(1)

setup(
    name="tabmfirl",
    version=VERSION,
    description="Exact reference implementation of inverse RL for finite mean field games "
                "with heterogeneous agents (PEMMFIRL and baselines)",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    # The games live in the top-level folder envs/ but install as tabmfirl.envs,
    # so no top-level module named `envs` lands in users' site-packages.
    packages=["tabmfirl", "tabmfirl.game", "tabmfirl.kernels", "tabmfirl.solvers", "tabmfirl.irl",
              "tabmfirl.evaluation", "tabmfirl.apps", "tabmfirl.testing", "tabmfirl.interop",
              "tabmfirl.envs"],
    package_dir={"tabmfirl.envs": "envs"},
    install_requires=["numpy>=1.24", "scipy>=1.10", "numba>=0.60", "numba-cuda>=0.20"],
    extras_require={
        "plot": ["matplotlib>=3.7"],
        "dist": ["dask[distributed]>=2024.1"],
        "lint": ["ruff>=0.6"],
        # peers for tabmfirl.interop (the versions validation/ checks against)
        "mfglib": ["mfglib==0.3.0", "torch"],
        "openspiel": ["open-spiel==2.0.2"],
        "test": ["pytest>=8,<10", "hypothesis>=6.100,<7", "matplotlib>=3.7"],
    },
    entry_points={"console_scripts": ["tabmfirl = tabmfirl.apps.cli:main"]},
)
