"""tabmfirl.interop without the peers: import isolation, messages, crowd games, layouts.

The conversions against MFGLib and OpenSpiel themselves are checked in
``validation/test_interop_peers.py`` (with the peers installed).
"""
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tabmfirl import forward_mean_field
from tabmfirl.interop import (
    EPSILON,
    array_from_mfglib,
    crowd_modelling_1d,
    crowd_modelling_2d,
    entropy_regularised,
    first_visit_last_action,
    from_mfglib,
    from_openspiel,
    openspiel_mean_field,
    openspiel_policy,
    policy_to_mfglib,
    product_environment,
    to_mfglib,
)
from tabmfirl.testing import dense_tables, random_game, random_policy

PEERS = ("torch", "mfglib", "pyspiel", "open_spiel")


def test_importing_interop_imports_no_peer():
    code = textwrap.dedent(f"""
        import sys
        import tabmfirl.interop
        print(sorted(m for m in {PEERS!r} if m in sys.modules))
    """)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"


@pytest.mark.parametrize("call, missing, extra", [
    (lambda spec: from_mfglib(object()), "torch", "mfglib"),
    (lambda spec: to_mfglib(spec), "torch", "mfglib"),
    (lambda spec: to_mfglib(spec), "mfglib.env", "mfglib"),
    (lambda spec: product_environment(1, 1, 1, [1.0], [1.0], None, None), "torch", "mfglib"),
    (lambda spec: entropy_regularised(object(), 0.5), "mfglib.env", "mfglib"),
    (lambda spec: policy_to_mfglib(np.ones((1, 1, 1, 1))), "torch", "mfglib"),
    (lambda spec: openspiel_policy(FakeGame("mfg_crowd_modelling"), np.ones((1, 1, 1))),
     "open_spiel.python.policy", "openspiel"),
    (lambda spec: openspiel_mean_field(FakeGame("mfg_crowd_modelling"), None),
     "open_spiel.python.mfg.algorithms.distribution", "openspiel"),
])
def test_a_missing_peer_is_an_import_error_naming_the_extra(monkeypatch, call, missing, extra):
    monkeypatch.setitem(sys.modules, missing, None)       # as if it were not installed
    spec = random_game(2, 2, 2, rng=0)
    with pytest.raises(ImportError, match=rf'pip install "tabmfirl\[{extra}\]"'):
        call(spec)


# ---------------------------------------------------------------- OpenSpiel crowd games
def test_first_visit_last_action_by_hand():
    # size 3: the first history, x_0 = 0 then "move left" (action 0) to 2, reaches
    # every x_1 = 2 + noise (mod 3) before any other: row 1 is all 0.
    last = first_visit_last_action(3, 2)
    np.testing.assert_array_equal(last, [[1, 1, 1], [0, 0, 0]])
    big = first_visit_last_action(10, 10)
    assert big.shape == (10, 10) and set(np.unique(big)) <= {0, 1, 2}
    np.testing.assert_array_equal(big[0], 1)


@pytest.mark.parametrize("convention", ["openspiel", "faithful"])
def test_crowd_modelling_1d_by_hand(convention):
    S, H = 6, 4
    spec = crowd_modelling_1d(S, H, convention=convention)
    uniform = np.full((1, H + 1, S), 1 / S)
    P, R = dense_tables(spec, uniform)
    # x = 0, action 0 (move -1): noise -1, 0, +1 lands on 4, 5, 0, each 1/3 (torus)
    expected = np.zeros(S)
    expected[[4, 5, 0]] = 1 / 3
    np.testing.assert_allclose(P[0, 2, 0, 0], expected, rtol=0, atol=1e-15)
    # x = 3 = S // 2 (position reward 1), t = 1, uniform flow
    cost = (np.abs(np.array([-1, 0, 1])) / S if convention == "faithful"
            else np.full(3, abs([-1, 0, 1][first_visit_last_action(S, H)[1, 3]]) / S))
    np.testing.assert_allclose(R[0, 1, 3], 1 - cost - np.log(1 / S + EPSILON), rtol=0,
                               atol=1e-12)
    # x = 0 (position reward 0), last step: the faithful game pays no move cost there
    if convention == "faithful":
        np.testing.assert_allclose(R[0, H - 1, 0], -np.log(1 / S + EPSILON), rtol=0,
                                   atol=1e-12)


def test_crowd_modelling_2d_by_hand():
    size = 3
    spec = crowd_modelling_2d(size, 2)
    mu = np.full((1, 3, 9), 1 / 9)
    mu[0, 1] = np.arange(1, 10) / 45
    P, R = dense_tables(spec, mu)
    # (1, 1) = state 4, action 2 (stay): noise to (1,0), (0,1), (1,1), (2,1), (1,2)
    np.testing.assert_allclose(P[0, 0, 4, 2][[3, 1, 4, 7, 5]], 0.2, rtol=0, atol=1e-15)
    np.testing.assert_allclose(R[0, 1, :, 0], -np.log(np.arange(1, 10) / 45 + 1e-25),
                               rtol=0, atol=1e-12)


class FakeGame:
    """Duck-typed stand-in for a pyspiel game: its short name and parameters."""

    def __init__(self, name, **parameters):
        self.name, self.parameters = name, {"size": 10, "horizon": 10, **parameters}

    def get_type(self):
        return type("GameType", (), {"short_name": self.name})()

    def get_parameters(self):
        return dict(self.parameters)


def test_from_openspiel_reads_the_game_parameters():
    spec = from_openspiel(FakeGame("python_mfg_crowd_modelling", size=5, horizon=3))
    assert (spec.n_states, spec.n_actions, spec.horizon) == (5, 3, 3)
    assert spec.params[2] == EPSILON
    cpp = from_openspiel(FakeGame("mfg_crowd_modelling", size=5, horizon=3))
    assert cpp.params[2] == float(np.float32(1e-25)) != EPSILON
    two_d = from_openspiel(FakeGame("mfg_crowd_modelling_2d", size=4, horizon=2,
                                    only_distribution_reward=True))
    assert (two_d.n_states, two_d.n_actions, two_d.horizon) == (16, 5, 2)


def test_from_openspiel_names_what_it_cannot_convert():
    with pytest.raises(ValueError, match=r"this game has \{'only_distribution_reward': False\}"):
        from_openspiel(FakeGame("mfg_crowd_modelling_2d", only_distribution_reward=False))
    with pytest.raises(ValueError, match="cannot convert the OpenSpiel game 'mfg_garnet'"):
        from_openspiel(FakeGame("mfg_garnet"))
    with pytest.raises(ValueError, match="convention must be"):
        crowd_modelling_1d(4, 2, convention="other")


# ---------------------------------------------------------------- MFGLib layouts
def test_array_from_mfglib_inverts_the_product_layout():
    K, T, S, A = 3, 4, 5, 2
    m, t, s, a = np.meshgrid(*map(np.arange, (K, T, S, A)), indexing="ij")
    ours = 1000 * m + 100 * t + 10 * s + a                   # each entry names its indices
    mfglib = np.zeros((T, K * S, A))
    for k in range(K):
        mfglib[:, k * S:(k + 1) * S] = ours[k]                # x = m * S + s
    np.testing.assert_array_equal(array_from_mfglib(mfglib, K), ours)
    np.testing.assert_array_equal(array_from_mfglib(mfglib.reshape(T, K * S, 1, A), K, A), ours)
    assert array_from_mfglib(mfglib[..., 0], K).shape == (K, T, S)


def test_crowd_modelling_flow_stays_on_the_simplex():
    spec = crowd_modelling_1d(7, 5)
    flow = forward_mean_field(spec, random_policy(spec, rng=0), backend="numpy")
    np.testing.assert_allclose(flow.mean_field.sum(-1), 1.0, rtol=0, atol=1e-14)
    assert flow.mean_field.min() >= 0
