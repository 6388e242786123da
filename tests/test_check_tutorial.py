"""docs/check.md runs as written, without the optional peers.

The page's blocks that need torch or MFGLib are skipped here, and only those: the
test names them (``-s`` prints them), and ``validation/test_check_tutorial.py``
runs the whole page where the peers are installed.  The numpy stand-in of the
PyTorch reward table runs here instead.
"""
import importlib.util
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "check.md"


def _runner():
    spec = importlib.util.spec_from_file_location("run_page", ROOT / "docs" / "run_page.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_check_tutorial_runs_without_the_peers(tmp_path, monkeypatch):
    runner = _runner()
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    # as on a machine without the peers, whatever this one has
    monkeypatch.setattr(runner, "available", lambda peer: False)
    skipped = runner.run_page(PAGE, tmp_path)
    print("skipped (need a peer):", skipped)
    needs = [(i, marker, peer) for i, (marker, peer, _, _) in enumerate(runner.blocks(
        PAGE.read_text(encoding="utf-8"))) if marker == "needs"]
    assert skipped == needs and {peer for _, _, peer in needs} == {"torch", "mfglib"}
    assert (tmp_path / "learned_reward.npy").exists()       # written by the numpy stand-in


def test_the_runner_checks_exit_statuses(tmp_path, monkeypatch):
    """A bash line whose status differs from its `# exit N` fails the page (planted)."""
    import pytest

    runner = _runner()
    monkeypatch.chdir(tmp_path)
    page = tmp_path / "page.md"
    page.write_text("```bash\ntabmfirl check --game virus --policy missing.npy   # exit 1\n```\n")
    with pytest.raises(AssertionError, match="exited 2, expected 1"):
        runner.run_page(page, tmp_path)
