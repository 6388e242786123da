r"""Where runs live on disk: the run folder of a fit, the cells of a grid, and when to resume.

Every file below is written atomically (a reader sees the old file or the
new one, never half of one) and read without pickle (:mod:`tabmfirl._io`, which
also holds the format tags :data:`FIT_RUN_FORMAT` and :data:`CELL_FORMAT`).

A fit's run folder (``tabmfirl fit --out RUN``; :class:`RunFolder`)
---------------------------------------------------------------------
========================  ====================================================
``RUN/config.json``       the run's settings, format tag :data:`FIT_RUN_FORMAT`
``RUN/checkpoint.npz``    the fit's loop state, every ``checkpoint_every``
                          iterations (the fit writes it)
``RUN/result.npz``        the fitted result, with the config as extra fields
``RUN/metrics.json``      the metrics of ``tabmfirl evaluate``
``RUN/.lock``             the process id of the fit writing the folder, while
                          it runs (:class:`RunLock`)
========================  ====================================================

**Self-contained.**  The config names the demonstrations file by its path
*relative to the run folder* and records its SHA-256 (``demos_sha256``), so
the folder and its data can move together, and a demonstrations file changed
after the fit is refused (:meth:`RunFolder.demos_path`,
:func:`check_demos_digest`).

**One writer.**  A fit holds ``RUN/.lock`` (:class:`RunLock`) from before it
writes the config until it has written its result; a second fit into the same
folder is refused with the first one's process id (:class:`RunLockedError`).
The lock of a process that no longer exists (killed) is taken over.

**Resume rule.**  A rerun into a folder that holds a checkpoint resumes from
it when the stored config has the same settings except
:data:`RESUMABLE_KEYS` (``max_iter``: a larger value continues the run;
``checkpoint_every``); any other difference is a conflict
(:meth:`RunFolder.conflicts`), and the caller refuses to run.  Without a
checkpoint the fit starts afresh.

A grid's folder (``tabmfirl experiment --out OUT``)
---------------------------------------------------
=============================================  ===================================
``OUT/cells/<game>__<method>__<seed>.json``    one finished cell (:func:`cell_path`),
                                               format tag :data:`CELL_FORMAT`
``OUT/results.csv``, ``OUT/results.md``        the aggregated table
=============================================  ===================================

**Resume rule.**  A cell is finished (:func:`cell_finished`) when its file
parses, carries :data:`CELL_FORMAT`, the same settings, and its metrics; a
rerun skips finished cells and recomputes the others (stray ``.*.tmp`` files
of a killed writer and truncated files are not cells).
"""
from __future__ import annotations

import errno
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from .._io import (
    CELL_FORMAT,
    FIT_RUN_FORMAT,
    atomic_write_bytes,
    atomic_write_json,
    file_digest,
    read_json,
)
from ..irl._checkpoint import load_result, save_result

__all__ = ["FIT_RUN_FORMAT", "CELL_FORMAT", "CONFIG_FILE", "CHECKPOINT_FILE", "RESULT_FILE",
           "METRICS_FILE", "LOCK_FILE", "RESUMABLE_KEYS", "RunFolder", "RunLock",
           "RunLockedError", "process_alive", "demos_reference", "check_demos_digest",
           "check_output_folder", "check_output_file", "changed_settings", "cell_path",
           "read_cell", "write_cell", "cell_finished", "write_tables"]

CONFIG_FILE = "config.json"
CHECKPOINT_FILE = "checkpoint.npz"
RESULT_FILE = "result.npz"
METRICS_FILE = "metrics.json"
LOCK_FILE = ".lock"
#: Settings a resumed fit may change: a larger ``max_iter`` continues the run.
RESUMABLE_KEYS = ("max_iter", "checkpoint_every")


def changed_settings(previous: dict, current: dict, ignore=()) -> list:
    """The keys of ``current`` whose value differs in ``previous``, sorted.

    Parameters
    ----------
    previous, current : dict
    ignore : sequence of str
        Keys not compared.

    Returns
    -------
    list of str
    """
    return sorted(key for key in current
                  if key not in ignore and previous.get(key) != current[key])


@dataclass(frozen=True)
class RunFolder:
    """The folder of one fit run (module docstring).

    Attributes
    ----------
    path : pathlib.Path
    """

    path: Path

    def __post_init__(self):
        object.__setattr__(self, "path", Path(self.path))

    @property
    def config_path(self) -> Path:
        """``RUN/config.json``."""
        return self.path / CONFIG_FILE

    @property
    def checkpoint_path(self) -> Path:
        """``RUN/checkpoint.npz``."""
        return self.path / CHECKPOINT_FILE

    @property
    def result_path(self) -> Path:
        """``RUN/result.npz``."""
        return self.path / RESULT_FILE

    @property
    def metrics_path(self) -> Path:
        """``RUN/metrics.json``."""
        return self.path / METRICS_FILE

    def read_config(self) -> Optional[dict]:
        """The stored config, or None if it is missing, unreadable or not a fit config."""
        config = read_json(self.config_path)
        if not isinstance(config, dict) or config.get("format") != FIT_RUN_FORMAT:
            return None
        return config

    def has_checkpoint(self) -> bool:
        """Whether a rerun would resume (a checkpoint file exists)."""
        return os.path.exists(self.checkpoint_path)

    def conflicts(self, config: dict) -> list:
        """Settings of ``config`` that differ from the stored run's (resume rule).

        Empty when the folder holds no checkpoint (nothing to resume) or no
        fit config.
        """
        previous = self.read_config()
        if previous is None or not self.has_checkpoint():
            return []
        return changed_settings(previous, config, ignore=RESUMABLE_KEYS)

    def start(self, config: dict) -> bool:
        """Create the folder and write ``config`` (tagged :data:`FIT_RUN_FORMAT`).

        Call after checking :meth:`conflicts`, holding the folder's lock.  The
        result and metrics of an earlier run are removed first, so the folder
        never pairs this config with another run's result.

        Returns
        -------
        bool
            Whether the fit will resume from a checkpoint.

        Raises
        ------
        OSError
            The folder cannot be created or written.
        """
        self.path.mkdir(parents=True, exist_ok=True)
        for stale in (self.result_path, self.metrics_path):   # of an earlier run
            try:
                stale.unlink()
            except FileNotFoundError:
                pass
        atomic_write_json(self.config_path, {"format": FIT_RUN_FORMAT, **config})
        return self.has_checkpoint()

    def save_result(self, result, config: dict) -> Path:
        """Write ``RUN/result.npz`` with ``config`` as its extra fields."""
        return save_result(self.result_path, result, extra=config)

    def load_result(self):
        """``(result, extra)`` of ``RUN/result.npz`` (FileNotFoundError, ValueError)."""
        return load_result(self.result_path)

    @property
    def lock_path(self) -> Path:
        """``RUN/.lock``."""
        return self.path / LOCK_FILE

    def lock(self) -> "RunLock":
        """The folder's :class:`RunLock` (use it as a context manager)."""
        return RunLock(self.lock_path)

    def demos_path(self, config: dict) -> Path:
        """The demonstrations file of ``config``: its ``demos`` path, relative to the folder
        (an absolute path, as older configs hold, is taken as it is)."""
        return self.path / config["demos"]

    def write_metrics(self, metrics: dict) -> Path:
        """Write ``RUN/metrics.json``."""
        return atomic_write_json(self.metrics_path, metrics)

    def read_metrics(self) -> Optional[dict]:
        """``RUN/metrics.json``, or None if missing or unreadable."""
        metrics = read_json(self.metrics_path)
        return metrics if isinstance(metrics, dict) else None


def _file_key(game: str) -> str:
    """``game`` as part of a file name: a built-in name unchanged; a user's game
    (``module:function``, a path) with every character but letters, digits, ``.``, ``_``
    and ``-`` replaced by ``_``, and a digest of the full name appended (two games stay
    two files)."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", game)
    if safe == game:
        return game
    return f"{safe[-40:]}-{hashlib.sha256(game.encode()).hexdigest()[:10]}"


def cell_path(out, game: str, method: str, seed: int) -> Path:
    """``out/cells/<game>__<method>__<seed>.json`` (``<game>``: see :func:`_file_key`).

    Parameters
    ----------
    out : str or os.PathLike
    game, method : str
    seed : int

    Returns
    -------
    pathlib.Path
    """
    return Path(out) / "cells" / f"{_file_key(game)}__{method}__{seed}.json"


def read_cell(path) -> Optional[dict]:
    """The cell record at ``path``, or None if missing, unreadable or not a cell."""
    record = read_json(path)
    return record if isinstance(record, dict) and record.get("format") == CELL_FORMAT else None


def write_cell(out, record: dict) -> Path:
    """Write a cell record (with ``game``, ``method``, ``seed``) to its :func:`cell_path`."""
    path = cell_path(out, record["game"], record["method"], record["seed"])
    return atomic_write_json(path, {"format": CELL_FORMAT, **record})


def cell_finished(path, settings: dict) -> bool:
    """Whether the cell at ``path`` is finished with these ``settings`` (resume rule)."""
    record = read_cell(path)
    return (record is not None and record.get("settings") == settings
            and isinstance(record.get("metrics"), dict))


def write_tables(out, csv_text: str, markdown: str) -> tuple:
    """Write ``out/results.csv`` and ``out/results.md``; their paths."""
    out = Path(out)
    return (atomic_write_bytes(out / "results.csv", csv_text.encode()),
            atomic_write_bytes(out / "results.md", markdown.encode()))


def demos_reference(demos_path, run_path) -> dict:
    """``{"demos": path relative to the run folder, "demos_sha256": digest}`` of a file.

    Parameters
    ----------
    demos_path, run_path : str or os.PathLike

    Returns
    -------
    dict

    Raises
    ------
    OSError
        The file cannot be read.
    """
    relative = os.path.relpath(os.path.abspath(demos_path), os.path.abspath(run_path))
    return {"demos": Path(relative).as_posix(), "demos_sha256": file_digest(demos_path)}


def check_demos_digest(path, config: dict) -> None:
    """Raise ``ValueError`` when the file at ``path`` is not the one ``config`` recorded.

    Configs without ``demos_sha256`` (older runs) are not checked.

    Raises
    ------
    ValueError
        The SHA-256 of the file differs from ``config["demos_sha256"]``.
    OSError
        The file cannot be read.
    """
    expected = config.get("demos_sha256")
    if expected is None:
        return
    found = file_digest(path)
    if found != expected:
        raise ValueError(f"the demonstrations file {os.fspath(path)!r} changed since the fit "
                         f"(SHA-256 {found[:12]}..., the run recorded {expected[:12]}...)")


def process_alive(pid: int) -> bool:
    """Whether a process with id ``pid`` exists on this machine.

    Parameters
    ----------
    pid : int

    Returns
    -------
    bool
    """
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:     # exists, owned by another user
        return True
    except OSError as error:
        return error.errno != errno.ESRCH
    return True


class RunLockedError(RuntimeError):
    """Another live process holds the lock of a run folder.

    Attributes
    ----------
    pid : int
        Its process id.
    path : pathlib.Path
        The lock file.
    """

    def __init__(self, path, pid: int):
        self.path, self.pid = Path(path), int(pid)
        super().__init__(f"{str(self.path.parent)!r} is being written by process {self.pid} "
                         f"(lock {str(self.path)!r}); wait for it to end or use another folder")


class RunLock:
    """An exclusive lock on a run folder: a file holding the owner's process id.

    Created with ``O_CREAT | O_EXCL`` (atomic on local and NFS v3+ file
    systems).  A lock whose process no longer exists (a killed fit) is stale
    and taken over.  Use as a context manager; leaving it removes the file.

    Parameters
    ----------
    path : str or os.PathLike
        The lock file, e.g. ``RUN/.lock``.
    """

    def __init__(self, path):
        self.path = Path(path)
        self.held = False

    def owner(self):
        """The process id written in the lock file, or None (missing or unreadable)."""
        try:
            return int(self.path.read_text(encoding="ascii").strip())
        except (OSError, ValueError):
            return None

    def acquire(self) -> "RunLock":
        """Take the lock (taking over a stale one).

        Raises
        ------
        RunLockedError
            A live process holds it.
        OSError
            The lock file cannot be created.
        """
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
            except FileExistsError:
                pid = self.owner()
                if pid is not None and pid != os.getpid() and process_alive(pid):
                    raise RunLockedError(self.path, pid) from None
                try:                       # stale (or our own): remove it and retry
                    os.unlink(self.path)
                except FileNotFoundError:
                    pass
                continue
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(f"{os.getpid()}\n")
            self.held = True
            return self
        pid = self.owner()
        raise RunLockedError(self.path, -1 if pid is None else pid)

    def release(self) -> None:
        """Remove the lock file if this process holds it."""
        if self.held and self.owner() == os.getpid():
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
        self.held = False

    def __enter__(self):
        return self if self.held else self.acquire()

    def __exit__(self, *exc):
        self.release()
        return False


def _existing_ancestor(path: Path) -> Path:
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_output_folder(path, flag: str = "--out") -> None:
    """Check, before a long computation, that a folder can be created or written.

    Parameters
    ----------
    path : str or os.PathLike
        The folder (created later, with its parents, if missing).
    flag : str
        How the message names it.

    Raises
    ------
    ValueError
        ``path`` is a file, or the folder (or the nearest existing folder
        above it) is not writable.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"{flag} {str(path)!r} is a file, not a folder")
    base = _existing_ancestor(path)
    if not base.is_dir():
        raise ValueError(f"{flag} {str(path)!r}: {str(base)!r} is a file, not a folder")
    if not os.access(base, os.W_OK | os.X_OK):
        raise ValueError(f"{flag} {str(path)!r}: cannot write to {str(base)!r} "
                         f"(permission denied)")


def check_output_file(path, flag: str = "--out") -> None:
    """Check, before a long computation, that a file can be written at ``path``.

    Parameters
    ----------
    path : str or os.PathLike
        The file; its folder must exist.
    flag : str
        How the message names it.

    Raises
    ------
    ValueError
        ``path`` is a folder, its folder is missing, or either is not writable.
    """
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{flag} {str(path)!r} is a folder, not a file")
    folder = path.absolute().parent
    if not folder.is_dir():
        raise ValueError(f"{flag} {str(path)!r}: no folder {str(folder)!r}")
    if not os.access(folder, os.W_OK | os.X_OK) or (path.exists()
                                                     and not os.access(path, os.W_OK)):
        raise ValueError(f"{flag} {str(path)!r}: cannot write there (permission denied)")
