"""Import a peer library for the validation suite, or skip (locally) / fail (in CI).

A missing peer skips its module by default, so ``python -m pytest validation``
still runs on a machine without the peers.  With ``TABMFIRL_REQUIRE_PEERS=1``
(set by ``.ci/run``), a missing peer is a collection error instead: CI cannot
pass with a module silently skipped.
"""
from __future__ import annotations

import importlib
import os

import pytest

#: Environment variable that turns a missing peer into a failure.
REQUIRE_PEERS_VARIABLE = "TABMFIRL_REQUIRE_PEERS"

INSTALL_HINT = "pip install -r validation/requirements.txt"


def peers_required() -> bool:
    """True when ``TABMFIRL_REQUIRE_PEERS`` is set to anything but ``""`` or ``"0"``."""
    return os.environ.get(REQUIRE_PEERS_VARIABLE, "") not in ("", "0")


def require_peer(module: str, what: str):
    """Import and return ``module``; skip the calling test module if it is missing.

    Parameters
    ----------
    module : str
        Dotted module name, e.g. ``"mfglib"`` or ``"imitation.algorithms.mce_irl"``.
    what : str
        The peer's name for the message, e.g. ``"MFGLib"``.

    Returns
    -------
    module

    Raises
    ------
    pytest.skip.Exception
        The module cannot be imported and ``TABMFIRL_REQUIRE_PEERS`` is unset.
    pytest.fail.Exception
        The module cannot be imported and ``TABMFIRL_REQUIRE_PEERS=1``.
    """
    try:
        return importlib.import_module(module)
    except ImportError as error:
        message = f"{what} is not importable ({module}: {error}); {INSTALL_HINT}"
        if peers_required():
            pytest.fail(f"{REQUIRE_PEERS_VARIABLE}=1 but {message}", pytrace=False)
        pytest.skip(message, allow_module_level=True)
