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
========================  ====================================================

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

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from .._io import CELL_FORMAT, FIT_RUN_FORMAT, atomic_write_bytes, atomic_write_json, read_json
from ..irl._checkpoint import load_result, save_result

__all__ = ["FIT_RUN_FORMAT", "CELL_FORMAT", "CONFIG_FILE", "CHECKPOINT_FILE", "RESULT_FILE",
           "METRICS_FILE", "RESUMABLE_KEYS", "RunFolder", "changed_settings", "cell_path",
           "read_cell", "write_cell", "cell_finished", "write_tables"]

CONFIG_FILE = "config.json"
CHECKPOINT_FILE = "checkpoint.npz"
RESULT_FILE = "result.npz"
METRICS_FILE = "metrics.json"
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

        Call after checking :meth:`conflicts`.

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
        atomic_write_json(self.config_path, {"format": FIT_RUN_FORMAT, **config})
        return self.has_checkpoint()

    def save_result(self, result, config: dict) -> Path:
        """Write ``RUN/result.npz`` with ``config`` as its extra fields."""
        return save_result(self.result_path, result, extra=config)

    def load_result(self):
        """``(result, extra)`` of ``RUN/result.npz`` (FileNotFoundError, ValueError)."""
        return load_result(self.result_path)

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
