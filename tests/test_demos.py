"""Demonstrations: finite-population rollouts, files, empirical flows, CLI."""
import json
import zipfile

import numpy as np
import pytest

from tabmfirl import MFGSpec, envs, solve_equilibrium
from tabmfirl.apps.cli import main
from tabmfirl.irl._demos import DEMOS_FORMAT, Demonstrations, generate_demonstrations


@pytest.fixture(scope="module")
def virus_game():
    spec = envs.make("virus", horizon=12)
    policy = solve_equilibrium(spec, backend="numpy", temperature=1.0).policy
    return spec, policy


@pytest.fixture(scope="module")
def investment_game():
    spec = envs.make("investment")
    result = solve_equilibrium(spec, backend="numpy", **envs.solver_settings("investment"))
    assert result.converged
    return spec, result


@pytest.fixture
def demos(virus_game):
    spec, policy = virus_game
    return generate_demonstrations(spec, policy, 20, seed=7)


# ------------------------------------------------------------- generation
def test_shapes_dtypes_and_ranges(demos):
    K, T, N = 3, 12, 60
    assert demos.states.shape == (N, T + 1) and demos.states.dtype == np.int64
    assert demos.actions.shape == (N, T) and demos.actions.dtype == np.int64
    assert demos.types.shape == (N,) and demos.types.dtype == np.int64
    assert demos.type_counts().tolist() == [20] * K
    assert demos.n_agents == N and demos.horizon == T
    assert demos.states.min() >= 0 and demos.states.max() <= 1
    assert demos.game == "virus" and demos.seed == 7
    assert demos.params == {"types": 3, "horizon": 12, "dynamics": "original"}
    json.dumps(demos.params)
    # agents are shuffled: the index does not reveal the type
    assert not np.all(np.diff(demos.types) >= 0)


def test_determinism_by_seed(virus_game):
    spec, policy = virus_game
    a = generate_demonstrations(spec, policy, 30, seed=3)
    b = generate_demonstrations(spec, policy, 30, seed=3)
    c = generate_demonstrations(spec, policy, 30, seed=4)
    for key in ("states", "actions", "types"):
        np.testing.assert_array_equal(getattr(a, key), getattr(b, key))
    assert not np.array_equal(a.states, c.states)
    # a Generator is used as given and recorded as seed None; no seed draws one and records it
    d = generate_demonstrations(spec, policy, 30, seed=np.random.default_rng(3))
    assert d.seed is None
    e = generate_demonstrations(spec, policy, 5)
    f = generate_demonstrations(spec, policy, 5, seed=e.seed)
    np.testing.assert_array_equal(e.states, f.states)


def test_empirical_distributions(demos):
    mu = demos.empirical_mean_field()
    L = demos.empirical_state_action()
    assert mu.shape == (3, 13, 2) and L.shape == (3, 12, 2, 2)
    np.testing.assert_allclose(mu.sum(-1), 1.0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(L.sum(-1), mu[:, :-1], rtol=0, atol=1e-12)
    # one entry by hand: share of type-1 agents infected at t = 5
    ones = demos.types == 1
    assert mu[1, 5, 1] == np.mean(demos.states[ones, 5] == 1)


def test_actions_follow_the_policy():
    """Deterministic policy: every agent plays it (state kind, no randomness in actions)."""
    spec = envs.make("left_right", horizon=3)
    policy = np.zeros((3, 3, 3, 2))
    policy[0, :, :, 0] = 1.0  # type 0 always goes left
    policy[1:, :, :, 1] = 1.0  # types 1, 2 always go right
    d = generate_demonstrations(spec, policy, 5, seed=0)
    np.testing.assert_array_equal(d.actions[d.types == 0], 0)
    np.testing.assert_array_equal(d.actions[d.types > 0], 1)
    np.testing.assert_array_equal(d.states[:, 0], 0)  # mu0 = centre
    np.testing.assert_array_equal(d.states[d.types == 0, 1:], 1)


def _threshold_game(kind):
    """Two states; everyone moves to state 1 iff their type's empirical share there
    (kind "state") or of action 1 (kind "state_action") exceeds one half."""
    def transition(t, observed, params, out):
        if params[0] == 0.0:
            share = observed[1]
        else:
            share = observed[1] + observed[3]  # L(0, 1) + L(1, 1), index s * A + a
        nxt = 1 if share > 0.5 else 0
        for s in range(2):
            for a in range(2):
                out[s, a, 0] = 1.0 - nxt
                out[s, a, 1] = float(nxt)

    return MFGSpec(n_states=2, n_actions=2, horizon=3, mu0=[0.4, 0.6], transition=transition,
                   reward=np.zeros((2, 2, 2)), params=[0.0 if kind == "state" else 1.0],
                   mean_field_kind=kind)


@pytest.mark.parametrize("kind", ["state", "state_action"])
def test_each_type_is_driven_by_its_own_empirical_distribution(kind):
    spec = _threshold_game(kind)
    policy = np.full((2, 3, 2, 2), 0.5)
    for seed in range(5):
        d = generate_demonstrations(spec, policy, 3, seed=seed)
        for m in range(2):
            mine = d.types == m
            for t in range(3):
                if kind == "state":
                    share = np.mean(d.states[mine, t] == 1)
                else:
                    share = np.mean(d.actions[mine, t] == 1)
                expected = 1 if share > 0.5 else 0
                np.testing.assert_array_equal(d.states[mine, t + 1], expected)


def test_empirical_flow_converges_like_one_over_sqrt_n(investment_game):
    """Mean TV between the empirical and the equilibrium flow: N=100 vs N=1600 per type.

    The fluctuations of an average of N agents scale like 1/sqrt(N), so the ratio
    should be about sqrt(1600/100) = 4.  Investment: its dynamics read the
    empirical mean quality (the threshold rule).  Averaged over 6 seeds; measured
    ratios for seed blocks 0-5, ..., 50-55 were 3.7 to 4.1.
    """
    spec, result = investment_game

    def mean_tv(n):
        values = []
        for seed in range(6):
            d = generate_demonstrations(spec, result.policy, n, seed=seed)
            diff = np.abs(d.empirical_mean_field() - result.mean_field)[:, 1:]
            values.append(0.5 * diff.sum(-1).mean())
        return np.mean(values)

    small, large = mean_tv(100), mean_tv(1600)
    assert large < small
    assert 2.8 < small / large < 5.5, small / large


def test_generation_errors(virus_game):
    spec, policy = virus_game
    with pytest.raises(ValueError, match="n_agents must be a positive integer"):
        generate_demonstrations(spec, policy, 0)
    with pytest.raises(ValueError, match="policy must have shape"):
        generate_demonstrations(spec, policy[:, :3], 5)
    with pytest.raises(ValueError, match="seed must be"):
        generate_demonstrations(spec, policy, 5, seed="x")
    with pytest.raises(ValueError, match="JSON-serialisable"):
        generate_demonstrations(spec, policy, 5, seed=0, params={"x": object()})


def test_custom_game_records_empty_params():
    spec = _threshold_game("state")
    d = generate_demonstrations(spec, np.full((2, 3, 2, 2), 0.5), 2, seed=0)
    assert d.game == "custom" and d.params == {}
    # a registered game built with other weights is not claimed rebuildable
    spec = envs.make("virus", costs=[0.1, 0.9], horizon=4)
    d = generate_demonstrations(spec, np.full((2, 4, 2, 2), 0.5), 2, seed=0)
    assert d.params == {}


# ------------------------------------------------------------------ files
def test_save_load_round_trip(demos, tmp_path):
    path = demos.save(tmp_path / "demos.npz")
    loaded = Demonstrations.load(path)
    for key in ("states", "actions", "types"):
        np.testing.assert_array_equal(getattr(loaded, key), getattr(demos, key))
        assert getattr(loaded, key).dtype == np.int64
    assert (loaded.game, loaded.params, loaded.seed) == (demos.game, demos.params, demos.seed)
    assert (loaded.n_states, loaded.n_actions, loaded.n_types) == (2, 2, 3)
    np.testing.assert_array_equal(loaded.empirical_mean_field(), demos.empirical_mean_field())
    # the file is plain .npz without pickles, and rebuilds the game
    with np.load(path, allow_pickle=False) as archive:
        assert sorted(archive.files) == ["actions", "meta", "states", "types"]
        assert json.loads(str(archive["meta"]))["format"] == DEMOS_FORMAT
    assert loaded.make_game().horizon == 12


def _rewrite(path, demos, **changes):
    """Write an archive like ``save`` does, with some entries replaced or removed."""
    entries = {"states": demos.states, "actions": demos.actions, "types": demos.types,
               "meta": np.array(json.dumps(demos._meta()))}
    entries.update(changes)
    entries = {k: v for k, v in entries.items() if v is not None}
    with open(path, "wb") as handle:
        np.savez(handle, **entries)
    return path


def test_truncated_file(demos, tmp_path):
    path = demos.save(tmp_path / "demos.npz")
    data = path.read_bytes()
    for size in (len(data) // 2, len(data) - 10, 5, 0):
        bad = tmp_path / f"cut{size}.npz"
        bad.write_bytes(data[:size])
        with pytest.raises(ValueError, match="truncated or corrupted"):
            Demonstrations.load(bad)


def test_not_an_archive(demos, tmp_path):
    path = tmp_path / "array.npz"
    with open(path, "wb") as handle:
        np.save(handle, np.zeros(3))
    with pytest.raises(ValueError, match="not an .npz archive"):
        Demonstrations.load(path)
    with pytest.raises(FileNotFoundError):
        Demonstrations.load(tmp_path / "missing.npz")


@pytest.mark.parametrize("changes, match", [
    ({"types": None}, "lacks the key.*types"),
    ({"extra": np.zeros(2)}, "unexpected key.*extra"),
    ({"states": "float"}, "states must have dtype int64, got float64"),
    ({"actions": "int32"}, "actions must have dtype int64, got int32"),
    ({"states": "short"}, r"actions must have shape \(n_agents, horizon\)"),
    ({"types": "short"}, r"types must have shape \(n_agents,\)"),
    ({"actions": "big"}, r"actions must lie in \[0, 1\], found values in \[1, 2\]"),
    ({"types": "negative"}, r"types must lie in \[0, 2\]"),
    ({"meta": np.array("{not json")}, "meta is not valid JSON"),
    ({"meta": np.array(json.dumps({"format": "other"}))}, "unknown format 'other'"),
    ({"meta": np.array(json.dumps({"format": DEMOS_FORMAT, "game": "virus"}))},
     "meta lacks params"),
    ({"meta": np.zeros(2)}, "meta must be a single string"),
])
def test_schema_errors(demos, tmp_path, changes, match):
    replacements = {"float": lambda a: a.astype(float), "int32": lambda a: a.astype(np.int32),
                    "short": lambda a: a[:-1], "big": lambda a: a + 1,
                    "negative": lambda a: a - 1}
    changes = {key: replacements[value](getattr(demos, key)) if isinstance(value, str)
               else value for key, value in changes.items()}
    path = _rewrite(tmp_path / "bad.npz", demos, **changes)
    with pytest.raises(ValueError, match=match) as info:
        Demonstrations.load(path)
    assert "bad.npz" in str(info.value)


def test_corrupted_member(demos, tmp_path):
    """Flip bytes inside a compressed member: the CRC/zlib error becomes a ValueError."""
    path = demos.save(tmp_path / "demos.npz")
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("states.npy")
    start = info.header_offset + 30 + len(info.filename) + 20
    for i in range(start, start + 16):
        data[i] ^= 0xFF
    bad = tmp_path / "flipped.npz"
    bad.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="flipped.npz"):
        Demonstrations.load(bad)


def test_constructor_checks(demos):
    with pytest.raises(ValueError, match="n_types must be a positive integer"):
        Demonstrations(demos.states, demos.actions, demos.types, 2, 2, 0)
    with pytest.raises(ValueError, match="states must be an int64 array"):
        Demonstrations(demos.states.astype(np.int32), demos.actions, demos.types, 2, 2, 3)
    empty_type = Demonstrations(demos.states, demos.actions, demos.types, 2, 2, 4)
    with pytest.raises(ValueError, match="type 3 has no agents"):
        empty_type.empirical_mean_field()


# -------------------------------------------------------------------- CLI
def test_cli_demos(tmp_path, capsys):
    out = tmp_path / "lr.npz"
    rc = main(["demos", "--game", "left_right", "--types", "2", "--agents", "40",
               "--out", str(out), "--seed", "5", "--dynamics", "variant", "--json",
               "--backend", "numpy"])
    summary = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert summary["agents"] == 80 and summary["agents_per_type"] == 40
    assert summary["seed"] == 5 and summary["temperature"] == 1.0
    d = Demonstrations.load(out)
    assert d.type_counts().tolist() == [40, 40] and d.horizon == 10
    assert d.params == {"types": 2, "dynamics": "variant", "horizon": 10}
    assert d.make_game().info["dynamics"] == "variant"


@pytest.mark.parametrize("argv, match", [
    (["--game", "chess"], "unknown game"),
    (["--game", "virus", "--agents", "0"], "--agents must be >= 1"),
    (["--game", "virus", "--dynamics", "odd"], "dynamics must be one of"),
])
def test_cli_demos_errors(tmp_path, capsys, argv, match):
    rc = main(["demos", "--out", str(tmp_path / "x.npz")] + argv)
    err = capsys.readouterr().err
    assert rc == 2 and match in err and len(err.strip().splitlines()) == 1


def test_cli_demos_help_says_per_type(capsys):
    with pytest.raises(SystemExit):
        main(["demos", "--help"])
    assert "agents PER TYPE" in capsys.readouterr().out
