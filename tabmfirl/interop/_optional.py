"""Import an optional peer library, or raise ImportError naming what to install."""
from __future__ import annotations

import importlib

#: Extra of ``setup.py`` that installs each peer.
EXTRAS = {"mfglib": "mfglib", "torch": "mfglib", "pyspiel": "openspiel",
          "open_spiel": "openspiel"}


def require(module: str, what: str):
    """Import and return ``module``; ImportError naming the extra to install otherwise.

    Parameters
    ----------
    module : str
        Dotted module name, e.g. ``"mfglib.env"``.
    what : str
        What needs it, for the message (e.g. ``"tabmfirl.interop.to_mfglib"``).

    Returns
    -------
    module

    Raises
    ------
    ImportError
        ``module`` cannot be imported; the message names the extra
        (``pip install "tabmfirl[mfglib]"``) and the underlying error.
    """
    try:
        return importlib.import_module(module)
    except ImportError as error:
        extra = EXTRAS.get(module.split(".")[0], module.split(".")[0])
        raise ImportError(
            f"{what} needs {module.split('.')[0]}, an optional dependency of tabmfirl: "
            f'pip install "tabmfirl[{extra}]" (or pip install -r validation/requirements.txt); '
            f"importing {module} failed: {error}") from error
