"""Run the code of a documentation page the way a reader would (used by the tests).

    python docs/run_page.py docs/check.md      # in a fresh temporary folder

Blocks, in page order:

* a ```python block runs in one namespace shared by the page;
* a block right after ``<!-- file: NAME -->`` is written to the file NAME instead
  (a module the page then uses, e.g. ``--game NAME.py:make``);
* a ```bash block runs each line that starts with ``tabmfirl`` through
  :func:`tabmfirl.apps.cli.main`; a trailing ``# exit N`` is the exit status it
  must give (default 0); other lines are comments;
* ``<!-- needs: PEER -->`` before a block: run only where the module PEER
  imports (``torch``, ``mfglib``), else skipped and reported;
  ``<!-- instead-of: PEER -->``: run only where PEER does *not* import (the
  stand-in the tests without the peer run in its place).

:func:`run_page` returns the list of blocks it skipped, so a test can say
which and assert that nothing else was.
"""
from __future__ import annotations

import importlib.util
import pathlib
import re
import shlex
import sys

BLOCK = re.compile(r"(?:<!--\s*(file|needs|instead-of):\s*(\S+)\s*-->\s*\n)?"
                   r"```(python|bash)\n(.*?)```", re.S)


def blocks(text: str):
    """``(marker, argument, language, code)`` of every python and bash block."""
    return [m.groups() for m in BLOCK.finditer(text)]


def available(peer: str) -> bool:
    """True when the module ``peer`` can be imported here."""
    return importlib.util.find_spec(peer) is not None


def _run_bash(code: str, where: str) -> None:
    from tabmfirl.apps.cli import main

    for line in code.splitlines():
        line = line.strip()
        if not line.startswith("tabmfirl "):
            continue
        command, _, comment = line.partition("#")
        expected = int(comment.split()[1]) if comment.strip().startswith("exit") else 0
        status = main(shlex.split(command)[1:])
        if status != expected:
            raise AssertionError(f"{where}: `{command.strip()}` exited {status}, "
                                 f"expected {expected}")


def run_page(page, workdir) -> list:
    """Run the blocks of ``page`` in ``workdir`` (the caller's working directory must be
    it); return ``[(index, marker, peer)]`` of the blocks skipped."""
    text = pathlib.Path(page).read_text(encoding="utf-8")
    namespace, skipped = {"__name__": "__page__"}, []
    if str(workdir) not in sys.path:
        sys.path.insert(0, str(workdir))          # the page's modules import like a script's
    for index, (marker, argument, language, code) in enumerate(blocks(text)):
        where = f"{page} block {index}"
        if marker == "file":
            (pathlib.Path(workdir) / argument).write_text(code, encoding="utf-8")
            continue
        if (marker == "needs" and not available(argument)) or \
                (marker == "instead-of" and available(argument)):
            skipped.append((index, marker, argument))
            continue
        if language == "python":
            exec(compile(code, where, "exec"), namespace)
        else:
            _run_bash(code, where)
    return skipped


if __name__ == "__main__":  # pragma: no cover
    import os
    import tempfile

    page = os.path.abspath(sys.argv[1])
    with tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)
        print(f"skipped: {run_page(page, folder)}")
