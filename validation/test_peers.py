"""A missing peer skips locally and fails when ``TABMFIRL_REQUIRE_PEERS=1`` (CI)."""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from peers import REQUIRE_PEERS_VARIABLE, require_peer

MISSING = "tabmfirl_no_such_peer_module"


def test_present_peer_is_returned(monkeypatch):
    monkeypatch.setenv(REQUIRE_PEERS_VARIABLE, "1")
    assert require_peer("json", "json").dumps([1]) == "[1]"


@pytest.mark.parametrize("value", [None, "", "0"])
def test_missing_peer_skips_without_the_variable(monkeypatch, value):
    if value is None:
        monkeypatch.delenv(REQUIRE_PEERS_VARIABLE, raising=False)
    else:
        monkeypatch.setenv(REQUIRE_PEERS_VARIABLE, value)
    with pytest.raises(pytest.skip.Exception, match=MISSING):
        require_peer(MISSING, "a peer")


def test_missing_peer_fails_with_the_variable(monkeypatch):
    monkeypatch.setenv(REQUIRE_PEERS_VARIABLE, "1")
    with pytest.raises(pytest.fail.Exception, match=f"{REQUIRE_PEERS_VARIABLE}=1 but a peer"):
        require_peer(MISSING, "a peer")


@pytest.mark.parametrize("required, code, outcome", [("0", 0, "1 passed, 1 skipped"),
                                                     ("1", 2, "1 error")])
def test_a_module_needing_a_missing_peer_fails_the_run_only_when_required(
        tmp_path, required, code, outcome):
    """A whole pytest run: exit 0, module skipped (locally); exit 2, collection error (CI)."""
    (tmp_path / "test_needs_missing_peer.py").write_text(textwrap.dedent(f"""
        from peers import require_peer
        require_peer({MISSING!r}, "a peer")

        def test_never_runs():
            pass
    """))
    (tmp_path / "test_other.py").write_text("def test_passes():\n    pass\n")
    env = {**os.environ, REQUIRE_PEERS_VARIABLE: required,
           "PYTHONPATH": str(Path(__file__).parent)}
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "-rs", str(tmp_path)], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == code, run.stdout + run.stderr
    assert outcome in run.stdout, run.stdout
