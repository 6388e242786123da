r"""File input and output shared by every layer: ``.npz`` archives read and written
without pickle, atomic writes, digests, and the format tags of the package's files.

Every file the package writes is written **atomically**: a temporary file in the
same directory, flushed and ``fsync``-ed, then ``os.replace``-d over the target,
so a reader sees either the old file or the new one, never half of one; a
process killed mid-write leaves at most a stray ``.*.tmp`` file that every
reader ignores.  The file gets the permissions of a plain ``open(path, "w")``
(``0o666`` less the process's umask), not the ``0o600`` of ``mkstemp``, so
another user or a worker under another account can read what the umask allows.  Every ``.npz`` file is read with ``allow_pickle=False``, and
its metadata, where it has any, is a JSON string stored as a 0-d unicode array
``meta`` whose ``format`` is one of the tags below.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
import zlib
from pathlib import Path

import numpy as np

__all__ = ["CHECKPOINT_FORMAT", "RESULT_FORMAT", "DEMOS_FORMAT", "DEMOS_FORMATS_READ",
           "CELL_FORMAT", "FIT_RUN_FORMAT", "SPEC_FORMAT", "SOLUTION_FORMAT", "NPZ_READ_ERRORS",
           "pickle_free", "save_npz_checked", "read_npz", "load_npz_checked", "atomic_write",
           "atomic_write_bytes", "current_umask", "atomic_write_json", "read_json",
           "array_digest", "file_digest", "config_digest", "canonical_json"]

#: Format tag of fit checkpoints (:mod:`tabmfirl.irl._checkpoint`).  Version 2: one
#: loop-state layout for every fit (the fit driver, :mod:`tabmfirl.irl._driver`).
CHECKPOINT_FORMAT = "tabmfirl.checkpoint/2"
#: Format tag of fit result files.
RESULT_FORMAT = "tabmfirl.irl_result/1"
#: Format tag of demonstration files (:class:`tabmfirl.Demonstrations`).  Version 2
#: records the experts' temperature, the horizon and the writing package's version.
DEMOS_FORMAT = "tabmfirl.demonstrations/2"
#: The demonstrations formats :meth:`tabmfirl.Demonstrations.load` reads (version 1:
#: no temperature recorded).
DEMOS_FORMATS_READ = ("tabmfirl.demonstrations/1", DEMOS_FORMAT)
#: Format tag of the experiment grid's cell records.  Version 2: method names of 0.2.0
#: (``pemmfirl`` is the adversarial algorithm, ``pemmfirl_em`` the EM method), so a
#: cell of version 1 is recomputed, never read under the other method's name.
CELL_FORMAT = "tabmfirl.experiment_cell/2"
#: Format tag of a fit run folder's ``config.json`` (``tabmfirl fit``).  Version 2:
#: method names of 0.2.0 (as :data:`CELL_FORMAT`).
FIT_RUN_FORMAT = "tabmfirl.fit_run/2"
#: Format tag of a game of arrays (:func:`tabmfirl.save_spec`).
SPEC_FORMAT = "tabmfirl.game_spec/1"
#: Format tag of an equilibrium written by ``tabmfirl solve --out``.
SOLUTION_FORMAT = "tabmfirl.solution/1"


# ---------------------------------------------------------------------------
# .npz archives without pickle.
# ---------------------------------------------------------------------------


def pickle_free(arrays):
    """``arrays`` as ndarrays, refusing any that would need pickle (dtype object)."""
    clean = {}
    for name, value in arrays.items():
        value = np.asarray(value)
        if value.dtype == object:
            raise ValueError(f"array {name!r} has dtype object; cannot save without pickle")
        clean[name] = value
    return clean


def save_npz_checked(path, arrays):
    """Save named arrays to an uncompressed ``.npz`` file.

    Parameters
    ----------
    path : str or os.PathLike
    arrays : dict of str to ndarray
        Only numeric or unicode-string arrays (nothing that needs pickle).
    """
    np.savez(path, **pickle_free(arrays))


#: What reading a damaged, truncated or foreign ``.npz`` file can raise.
NPZ_READ_ERRORS = (OSError, ValueError, EOFError, KeyError, AttributeError,
                   zipfile.BadZipFile, zlib.error)


def read_npz(path):
    """Every array of an ``.npz`` archive, read without pickle.

    The file is opened here and closed on every path, also when it is
    damaged (``np.load`` on a path can leave the handle of a truncated
    archive open).

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    dict of str to ndarray

    Raises
    ------
    OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error
        (:data:`NPZ_READ_ERRORS`) when the file is missing, is not an
        ``.npz`` archive (a single ``.npy`` array included), is damaged or
        needs pickle.
    """
    with open(os.fspath(path), "rb") as handle:
        archive = np.load(handle, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise ValueError("a single .npy array, not an .npz archive")
        with archive:
            return {name: np.array(archive[name]) for name in archive.files}


def load_npz_checked(path, schema):
    """Load a ``.npz`` file and check it against a schema.

    Parameters
    ----------
    path : str or os.PathLike
    schema : dict of str to tuple
        Expected array names and shapes.  String metadata entries are given
        as ``name: str_value`` and must match exactly.

    Returns
    -------
    arrays : dict of str to ndarray
        The float arrays (float64, finite) named in ``schema``.

    Raises
    ------
    ValueError
        If the file cannot be read (missing, corrupted, needs pickle), or if
        names, shapes or metadata differ from ``schema``, or if an array is
        not finite.
    """
    try:
        loaded = read_npz(path)
    except NPZ_READ_ERRORS as exc:
        raise ValueError(
            f"could not read parameter file {os.fspath(path)!r} "
            f"(corrupted or not an .npz file): {exc}"
        ) from exc
    if set(loaded) != set(schema):
        missing = sorted(set(schema) - set(loaded))
        extra = sorted(set(loaded) - set(schema))
        raise ValueError(
            f"parameter file {os.fspath(path)!r} does not match the model: "
            f"missing arrays {missing}, unexpected arrays {extra}"
        )
    out = {}
    for name, expected in schema.items():
        value = loaded[name]
        if isinstance(expected, str):
            if value.dtype.kind != "U" or value.shape != () or str(value) != expected:
                raise ValueError(
                    f"parameter file metadata {name!r} is {value!r}, expected {expected!r}"
                )
            continue
        if value.shape != tuple(expected):
            raise ValueError(
                f"array {name!r} in {os.fspath(path)!r} has shape {value.shape}, "
                f"expected {tuple(expected)}"
            )
        if value.dtype.kind not in "fiu":
            raise ValueError(f"array {name!r} has non-numeric dtype {value.dtype}")
        value = value.astype(np.float64)
        if not np.all(np.isfinite(value)):
            raise ValueError(f"array {name!r} in {os.fspath(path)!r} is not finite")
        out[name] = value
    return out


# ---------------------------------------------------------------------------
# Atomic writes.
# ---------------------------------------------------------------------------


def current_umask() -> int:
    """The process's file mode creation mask (read without changing it where possible).

    Linux reports it in ``/proc/self/status``; elsewhere it is read by setting
    and restoring it (``os.umask`` has no read-only form).

    Returns
    -------
    int
    """
    try:
        with open("/proc/self/status", "r", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(path, write):
    """Call ``write(handle)`` on a temporary file next to ``path``, then replace ``path``.

    The file's mode is ``0o666 & ~umask``, as for a file opened for writing.
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o666 & ~current_umask())
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


def atomic_write_bytes(path, data: bytes):
    """Write ``data`` to ``path`` atomically (temporary file, ``fsync``, ``os.replace``).

    Parameters
    ----------
    path : str or os.PathLike
    data : bytes

    Returns
    -------
    pathlib.Path
    """
    return atomic_write(path, lambda handle: handle.write(data))


def atomic_write_json(path, obj):
    """Write ``obj`` as indented JSON to ``path`` atomically.

    Parameters
    ----------
    path : str or os.PathLike
    obj : JSON-serialisable object
        ``NaN`` and infinities are written as Python's ``json`` writes them
        (``NaN``, ``Infinity``), which :func:`read_json` reads back.

    Returns
    -------
    pathlib.Path
    """
    text = json.dumps(obj, indent=2, sort_keys=True) + "\n"
    return atomic_write_bytes(path, text.encode("utf-8"))


def read_json(path):
    """Read a JSON file, or ``None`` if it is missing, truncated or not JSON.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    object or None
    """
    try:
        with open(path, "r", encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError, UnicodeDecodeError):
        return None


# ---------------------------------------------------------------------------
# Digests.
# ---------------------------------------------------------------------------


def array_digest(*arrays) -> str:
    """SHA-256 of the dtypes, shapes and bytes of ``arrays`` (hex).

    Parameters
    ----------
    *arrays : array_like

    Returns
    -------
    str
    """
    digest = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def file_digest(path) -> str:
    """SHA-256 (hex) of the bytes of the file at ``path``.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    str

    Raises
    ------
    OSError
        The file cannot be read.
    """
    digest = hashlib.sha256()
    with open(os.fspath(path), "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def canonical_json(obj) -> str:
    """Compact JSON of ``obj`` with sorted keys (equal objects give equal strings).

    Parameters
    ----------
    obj : JSON-serialisable object

    Returns
    -------
    str
    """
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def config_digest(config: dict) -> str:
    """SHA-256 (hex) of :func:`canonical_json` of ``config``.

    Parameters
    ----------
    config : dict
        JSON-serialisable.

    Returns
    -------
    str
    """
    return hashlib.sha256(canonical_json(config).encode("utf-8")).hexdigest()
