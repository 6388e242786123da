"""Property test of another solver: MFGLib's online mirror descent (docs/testing.md)."""
import pytest
from hypothesis import given, settings

from tabmfirl.interop import array_from_mfglib, to_mfglib
from tabmfirl.testing import assert_equilibrium
from tabmfirl.testing.strategies import games

torch = pytest.importorskip("torch")
mfglib_alg = pytest.importorskip("mfglib.alg")
torch.set_default_dtype(torch.float64)  # MFGLib computes in float32 otherwise
BETA = 0.5  # temperature of the entropy-regularised equilibrium (ERMFNE)


@settings(max_examples=15, deadline=None)
@given(games(max_states=4, max_actions=3, max_horizon=4, max_contexts=2, coupling="weak",
             min_actions=2))
def test_online_mirror_descent_finds_the_exact_equilibrium(spec):
    # The MFGLib game paying -BETA log pi, over (type, state) pairs: its Nash
    # equilibria are the game's ERMFNE at BETA.
    env = to_mfglib(spec, temperature=BETA)
    solver = mfglib_alg.OnlineMirrorDescent(alpha=0.5 / BETA)
    iterates, _, _ = solver.solve(env, max_iter=60, atol=None, rtol=None)
    policy = array_from_mfglib(iterates[-1], spec.n_contexts)   # (K, T, S, A)
    # exploitability of each type <= 1e-8; else the message says which type
    # and step are off
    assert_equilibrium(spec, policy, BETA, atol=1e-8)
