"""A user's own game everywhere (issue 16, item 3): spec files, ``--game module:function`` or
``file.py:function`` or ``.npz`` in solve, demos, fit, evaluate, experiment and check,
``solve --out``, fits on demonstrations without type labels."""
import json
import textwrap

import numpy as np
import pytest
from hypothesis import given

from tabmfirl import MFGSpec, check_policy, load_spec, save_spec, solve_equilibrium
from tabmfirl.apps._errors import CommandError
from tabmfirl.apps._games import default_temperature, game_reference, load_game
from tabmfirl.apps.cli import main
from tabmfirl.envs import virus
from tabmfirl.testing.strategies import games

GAME_SOURCE = textwrap.dedent('''
    import numpy as np
    from tabmfirl import MFGSpec

    TEMPERATURE = 0.5

    def crowd(t, observed, context, params, out):
        for s in range(2):
            for a in range(2):
                out[s, a] = -(1.0 + context) * observed[s] - 0.1 * a

    def make(types=2, horizon=4):
        P = np.zeros((2, 2, 2))
        P[:, 0, 0] = 1.0
        P[:, 1, 1] = 1.0
        return MFGSpec(n_states=2, n_actions=2, horizon=horizon, mu0=[0.8, 0.2],
                       transition=P, reward=crowd, n_contexts=types, name="two_rooms")

    def fixed():
        return make(types=3, horizon=5)

    def not_a_game():
        return 42
''')


@pytest.fixture
def game_file(tmp_path):
    path = tmp_path / "two_rooms.py"
    path.write_text(GAME_SOURCE)
    return str(path)


def _random_arrays_game(types=2, horizon=4):
    rng = np.random.default_rng(0)
    P = rng.random((3, 2, 3))
    P /= P.sum(-1, keepdims=True)
    return MFGSpec(n_states=3, n_actions=2, horizon=horizon, mu0=[0.2, 0.3, 0.5], transition=P,
                   reward=rng.normal(size=(types, horizon, 3, 2)), name="random_arrays",
                   info={"note": "test", "weights": np.arange(3.0), "object": object()})


# --------------------------------------------------------------------- spec files


def _same_spec(a, b):
    for name in ("n_states", "n_actions", "horizon", "n_contexts", "mean_field_kind", "name"):
        assert getattr(a, name) == getattr(b, name), name
    for name in ("mu0", "transition", "reward", "params", "next_states", "context_coupling"):
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None), name
        if x is not None:
            np.testing.assert_array_equal(x, y)
            assert x.dtype == y.dtype, name


def test_spec_file_round_trip_is_exact(tmp_path):
    spec = _random_arrays_game()
    loaded = load_spec(save_spec(spec, tmp_path / "g.npz"))
    _same_spec(spec, loaded)
    assert loaded.info == {"note": "test", "weights": [0.0, 1.0, 2.0]}   # JSON part of info


@given(spec=games(max_states=6, max_actions=3, max_horizon=4, coupling="none"))
def test_property_spec_files_round_trip_every_kind_of_array_game(spec):
    """Dense or sparse, state or state-action kind, coupled types or not: the same game and
    the same equilibrium back."""
    import os
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        loaded = load_spec(save_spec(spec, os.path.join(folder, "g.npz")))
    _same_spec(spec, loaded)
    a = solve_equilibrium(spec, temperature=1.0, backend="numpy")
    b = solve_equilibrium(loaded, temperature=1.0, backend="numpy")
    np.testing.assert_array_equal(a.policy, b.policy)


def test_a_game_with_mean_field_functions_cannot_be_saved(tmp_path):
    with pytest.raises(ValueError, match="mean field function as its .*only a game "
                                         "of arrays"):
        save_spec(virus.make(types=2), tmp_path / "v.npz")
    assert not (tmp_path / "v.npz").exists()


def test_damaged_or_foreign_spec_files_are_one_line_errors(tmp_path):
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="cannot be read as an .npz archive"):
        load_spec(tmp_path / "junk.npz")
    np.savez(tmp_path / "other.npz", policy=np.ones(3))
    with pytest.raises(ValueError, match="lacks the array"):
        load_spec(tmp_path / "other.npz")
    path = save_spec(_random_arrays_game(), tmp_path / "g.npz")
    arrays = dict(np.load(path))
    arrays["transition"] = arrays["transition"] * 2
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ValueError, match="transition is not stochastic") as info:
        load_spec(tmp_path / "bad.npz")
    assert "\n" not in str(info.value)
    with pytest.raises(FileNotFoundError):
        load_spec(tmp_path / "missing.npz")


# --------------------------------------------------------------------- the loader


def test_load_game_three_forms(game_file, tmp_path, monkeypatch):
    assert load_game("virus", types=2).n_contexts == 2
    spec = load_game(game_file + ":make", types=3, horizon=6)
    assert (spec.name, spec.n_contexts, spec.horizon) == ("two_rooms", 3, 6)
    monkeypatch.chdir(tmp_path)                                   # module form, from the cwd
    assert load_game("two_rooms:make").n_contexts == 2
    path = save_spec(_random_arrays_game(), tmp_path / "g.npz")
    assert load_game(path, types=2, horizon=4).name == "random_arrays"
    assert default_temperature(game_file + ":make") == 0.5        # the module's TEMPERATURE
    assert default_temperature(path) == 1.0
    assert game_reference("two_rooms.py:make") == f"{tmp_path}/two_rooms.py:make"


@pytest.mark.parametrize("game, kwargs, message", [
    ("chess", {}, "unknown game 'chess'"),
    ("{file}:nothing", {}, "has no function 'nothing'"),
    ("{file}:not_a_game", {}, "returned a int, not an MFGSpec"),
    ("{file}:fixed", {"types": 2}, "has types 3, not 2"),
    ("{file}:make", {"dynamics": "variant"}, "takes no dynamics argument"),
    ("{file}:make", {"types": 0}, "failed: ValueError: n_contexts must be >= 1"),
    ("no_such_module_xyz:make", {}, "cannot import the game module"),
    ("missing.py:make", {}, "no Python file 'missing.py'"),
    ("missing.npz", {}, "no game file"),
])
def test_load_game_errors_are_one_line(game_file, game, kwargs, message):
    with pytest.raises(CommandError, match=message) as info:
        load_game(game.format(file=game_file), **kwargs)
    assert "\n" not in str(info.value)


def test_spec_file_refuses_other_sizes(tmp_path):
    path = save_spec(_random_arrays_game(), tmp_path / "g.npz")
    with pytest.raises(CommandError, match="has horizon 4, not 9"):
        load_game(path, horizon=9)
    with pytest.raises(CommandError, match="no 'variant' dynamics"):
        load_game(path, dynamics="variant")


# --------------------------------------------------------------------- the verbs


def test_solve_out_writes_the_certified_equilibrium(game_file, tmp_path, capsys):
    out = tmp_path / "eq.npz"
    assert main(["solve", "--game", game_file + ":make", "--types", "3", "--out", str(out),
                 "--backend", "numpy", "--progress-every", "0", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["temperature"] == 0.5                                  # module TEMPERATURE
    with np.load(out, allow_pickle=False) as saved:
        arrays = {name: saved[name] for name in saved.files}
    spec = load_game(game_file + ":make", types=3)
    exact = solve_equilibrium(spec, temperature=0.5, backend="numpy")
    for name in ("policy", "mean_field", "state_action", "q", "value", "exploitability",
                 "unregularised_exploitability"):
        np.testing.assert_array_equal(arrays[name], getattr(exact, name))
    assert float(arrays["residual"]) == exact.residual and bool(arrays["converged"])
    meta = json.loads(str(arrays["meta"]))
    assert meta["format"] == "tabmfirl.solution/1" and meta["game"].endswith("two_rooms.py:make")


def test_solve_out_into_a_missing_folder_fails_before_solving(tmp_path, capsys):
    assert main(["solve", "--game", "virus", "--out", str(tmp_path / "no" / "eq.npz")]) == 2
    assert "no folder" in capsys.readouterr().err


def test_user_game_demos_fit_evaluate_experiment(game_file, tmp_path, capsys):
    game = game_file + ":make"
    demos, run = str(tmp_path / "d.npz"), str(tmp_path / "run")
    assert main(["demos", "--game", game, "--agents", "20", "--seed", "0", "--out", demos,
                 "--backend", "numpy"]) == 0
    assert main(["fit", "--method", "mfirl", "--demos", demos, "--out", run, "--iters", "5",
                 "--progress-every", "0"]) == 0      # the game comes from the demos file
    capsys.readouterr()
    assert main(["evaluate", run, "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["transfer_policy_deviation"] is None      # the function has no dynamics
    assert 0 <= metrics["policy_deviation"] < 1
    out = str(tmp_path / "grid")
    assert main(["experiment", "--game", game, "--methods", "mfirl", "--seeds", "1",
                 "--types", "2", "--horizon", "4", "--agents", "10", "--iters", "3",
                 "--held-out-agents", "0", "--workers", "1", "--out", out, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert rows[0]["game"] == game_reference(game) and rows[0]["n_seeds"] == 1
    assert main(["experiment", "--game", str(tmp_path / "nope.npz"), "--out", out]) == 2


def test_experiment_on_a_spec_file_with_other_sizes_is_one_line_error(tmp_path, capsys):
    path = save_spec(_random_arrays_game(), tmp_path / "g.npz")
    assert main(["experiment", "--game", path, "--methods", "mfirl", "--seeds", "1",
                 "--out", str(tmp_path / "grid")]) == 2       # default types 3, horizon 20
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "has types 2, not 3" in err


def test_fit_accepts_demonstrations_without_type_labels(game_file, tmp_path, capsys):
    game = game_file + ":make"
    demos = str(tmp_path / "d.npz")
    assert main(["demos", "--game", game, "--agents", "20", "--seed", "1", "--out", demos,
                 "--backend", "numpy"]) == 0
    with np.load(demos) as labelled:
        np.savez(tmp_path / "raw.npz", states=labelled["states"], actions=labelled["actions"])
    raw, run = str(tmp_path / "raw.npz"), str(tmp_path / "run")
    assert main(["fit", "--method", "pemmfirl_em", "--demos", raw, "--out", run,
                 "--iters", "4", "--warmup", "2", "--progress-every", "0"]) == 2
    assert "give its game with --game" in capsys.readouterr().err
    assert main(["fit", "--method", "pemmfirl_em", "--demos", raw, "--game", game, "--out", run,
                 "--iters", "4", "--warmup", "2", "--progress-every", "0", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["types"] == 2 and "ari" not in summary     # K: the game's; no labels
    assert main(["fit", "--method", "oracle", "--demos", raw, "--game", game,
                 "--out", str(tmp_path / "oracle")]) == 2
    assert "no type labels" in capsys.readouterr().err
    assert main(["evaluate", run]) == 2                       # per-type scores need labels
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "tabmfirl check" in err
    assert main(["check", "--game", game, "--reward", f"{run}/result.npz", "--tol", "10",
                 "--backend", "numpy"]) == 0


def test_fit_refuses_a_raw_file_that_does_not_fit_the_game(game_file, tmp_path, capsys):
    np.savez(tmp_path / "raw.npz", states=np.full((3, 5), 7), actions=np.zeros((3, 4), int))
    assert main(["fit", "--method", "mfirl", "--demos", str(tmp_path / "raw.npz"),
                 "--game", game_file + ":make", "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "states must lie in [0, 1]" in err


# --------------------------------------------------------------------- check, CLI vs API


def _check_json(capsys, argv):
    rc = main(["check", *argv, "--backend", "numpy", "--json"])
    return rc, json.loads(capsys.readouterr().out)


def test_check_cli_gives_the_api_numbers_and_flags_planted_errors(game_file, tmp_path, capsys):
    game = game_file + ":make"
    spec = load_game(game)
    exact = solve_equilibrium(spec, temperature=0.5, backend="numpy")
    np.save(tmp_path / "exact.npy", exact.policy)
    planted = exact.policy.copy()
    planted[1, 2, 0] = [0.3, 0.7]
    np.save(tmp_path / "planted.npy", planted)
    rc, good = _check_json(capsys, ["--game", game, "--policy", str(tmp_path / "exact.npy")])
    assert rc == 0 and good["passed"]
    rc, bad = _check_json(capsys, ["--game", game, "--policy", str(tmp_path / "planted.npy")])
    assert rc == 1 and not bad["passed"]
    api = check_policy(spec, planted, temperature=0.5, backend="numpy").to_dict()
    assert bad["per_type"] == api["per_type"]                       # the same numbers, exactly
    assert bad["per_type"]["exploitability"][1] > 1e-3
    assert abs(bad["per_type"]["exploitability"][0]) < 1e-12

    tables = exact.model.reward
    np.savez(tmp_path / "reward.npz", reward=tables)
    wrong = tables.copy()
    wrong[0, :, 1, :] = 0.0
    np.savez(tmp_path / "wrong.npz", reward=wrong)
    rc, good = _check_json(capsys, ["--game", game, "--reward", str(tmp_path / "reward.npz")])
    assert rc == 0 and good["passed"]
    rc, bad = _check_json(capsys, ["--game", game, "--reward", str(tmp_path / "wrong.npz")])
    assert rc == 1 and bad["per_type"]["expert_exploitability"][0] > 1e-3
    assert bad["per_type"]["policy_deviation"][0] > 1e-3


def test_check_reads_what_solve_out_writes(tmp_path, capsys):
    out = str(tmp_path / "eq.npz")
    assert main(["solve", "--game", "virus", "--types", "2", "--beta", "0.3", "--out", out,
                 "--backend", "numpy", "--progress-every", "0"]) == 0
    capsys.readouterr()
    rc, report = _check_json(capsys, ["--game", "virus", "--types", "2", "--beta", "0.3",
                                      "--policy", out, "--mean-field", out])
    assert rc == 0 and max(report["per_type"]["flow_error"]) < 1e-14
    rc, report = _check_json(capsys, ["--game", "virus", "--types", "2", "--beta", "0.3",
                                      "--mean-field", out])
    assert rc == 0 and report["kind"] == "mean_field"


@pytest.mark.parametrize("argv, message", [
    (["--policy", "{d}/p.npy"], "has 3 types but the game has 2"),
    (["--policy", "{d}/nan.npy"], "non-finite entry"),
    (["--policy", "{d}/rows.npy"], "rows must sum to 1"),
    (["--policy", "{d}/neg.npy"], "negative probability"),
    (["--policy", "{d}/two.npz"], "holds the arrays a, b but no 'policy'"),
    (["--policy", "{d}/missing.npy"], "no file"),
    ([], "give what to check"),
    (["--reward", "{d}/p.npy", "--policy", "{d}/p.npy"], "--reward is checked alone"),
    (["--policy", "{d}/p.npy", "--type-map", "0,1"], "--type-map applies to --reward only"),
])
def test_check_bad_input_is_one_line_exit_2(tmp_path, capsys, argv, message):
    shape = (3, 4, 2, 2)
    np.save(tmp_path / "p.npy", np.full(shape, 0.5))
    np.save(tmp_path / "nan.npy", np.full(shape[1:], np.nan))
    np.save(tmp_path / "rows.npy", np.full(shape[1:], 0.6))
    np.save(tmp_path / "neg.npy", np.tile([1.5, -0.5], shape[1:3] + (1,)))
    np.savez(tmp_path / "two.npz", a=np.ones(2), b=np.ones(2))
    argv = [a.format(d=tmp_path) for a in argv]
    assert main(["check", "--game", "virus", "--types", "2", "--horizon", "4", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


def test_spec_file_game_through_demos_fit_evaluate(tmp_path, capsys, monkeypatch):
    """The third form: a game of arrays saved with save_spec, given by a relative path (the
    files record it absolute, so the run is found again from another folder)."""
    monkeypatch.chdir(tmp_path)
    save_spec(_random_arrays_game(), "g.npz")
    assert main(["demos", "--game", "g.npz", "--agents", "15", "--seed", "2", "--out", "d.npz",
                 "--backend", "numpy"]) == 0
    assert main(["fit", "--method", "mfirl", "--demos", "d.npz", "--out", "run",
                 "--iters", "3", "--progress-every", "0"]) == 0
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    capsys.readouterr()
    assert main(["evaluate", "../run", "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["game"] == str(tmp_path / "g.npz")
    assert 0 <= metrics["policy_deviation"] < 1 and metrics["transfer_policy_deviation"] is None
