"""Write ``tests/data/pinned_fits.npz``: the outputs of small fits, pinned before the
fit-driver refactor (issue 12) so that ``tests/test_pinned_fits.py`` can assert that
the refactored fits compute the same numbers to 1e-12.

Run from the repository root: ``python tests/make_pinned_fits.py``.  The file in the
repository was written by this script on the code of commit 7d184a1 (before the
refactor); regenerate it only when a fit's mathematics changes on purpose.
"""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pinned_fits import FIELDS, run_all  # noqa: E402

if __name__ == "__main__":
    arrays = {}
    for name, result in run_all().items():
        for field in FIELDS:
            value = getattr(result, field, None)
            if value is None:
                continue
            if hasattr(value, "get_flat"):
                value = value.get_flat()
            arrays[f"{name}/{field}"] = np.asarray(value)
    out = Path(__file__).resolve().parent / "data" / "pinned_fits.npz"
    np.savez(out, **arrays)
    print(f"wrote {len(arrays)} arrays to {out}")
