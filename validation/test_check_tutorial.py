"""docs/check.md end to end with the peers: MFGLib's online mirror descent solution and the
reward table of a small PyTorch model, checked by ``tabmfirl check``.

``tests/test_check_tutorial.py`` runs the same page without the peers (their blocks
skipped); here every block runs, and the numpy stand-in of the PyTorch table is the
one block skipped (it runs only where torch is missing).
"""
import importlib.util
import pathlib

from peers import require_peer

require_peer("torch", "torch")
require_peer("mfglib.alg", "MFGLib")   # before mfglib.scoring: circular import

ROOT = pathlib.Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "check.md"


def test_check_tutorial_runs_with_mfglib_and_torch(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("run_page", ROOT / "docs" / "run_page.py")
    runner = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(runner)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    skipped = runner.run_page(PAGE, tmp_path)
    assert [(marker, peer) for _, marker, peer in skipped] == [("instead-of", "torch")]
    import numpy as np

    mfglib_policy = np.load(tmp_path / "mfglib_policy.npy")
    assert mfglib_policy.shape == (2, 3, 2)          # MFGLib's (T+1, S, A): horizon 2
    np.testing.assert_allclose(mfglib_policy[0, 0], [2 / 3, 1 / 3], rtol=0, atol=1e-6)
