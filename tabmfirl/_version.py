"""The package's version, in one place (``tabmfirl.__version__``, ``setup.py``, files)."""

__version__ = "0.1.0"
