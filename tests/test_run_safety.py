"""Runs that cannot silently go wrong (issue 16, items 4 and 5).

Each failure the issue lists, as a test: a fit at the wrong temperature,
held-out data of another temperature or type count, two fits writing one run
folder, Ctrl-C and SIGTERM of an experiment with workers and of a fit, files
created 0600 whatever the umask, a read-only run folder, output paths checked
only after the computation, a diverging fit that exits 0, tracebacks instead
of one-line errors; and the one set of defaults, ``--version`` and ``games``.

Tiny settings (virus, T = 6, a few agents, MFIRL or the oracle, a few
iterations, NumPy backend): these check the plumbing, not the statistics.
"""
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest

import tabmfirl
from tabmfirl import envs, fit_mfirl, solve_equilibrium
from tabmfirl._io import DEMOS_FORMAT, atomic_write_json, current_umask
from tabmfirl.apps import cli
from tabmfirl.apps._defaults import DEFAULTS, defaults_table
from tabmfirl.apps._experiment import DEFAULT_SETTINGS
from tabmfirl.apps._runs import RunFolder, RunLock, RunLockedError, process_alive
from tabmfirl.apps.cli import build_parser, main
from tabmfirl.irl._demos import Demonstrations, generate_demonstrations
from tabmfirl.irl._driver import DIVERGENCE_FACTOR, DivergenceWarning, divergence

FAST = ["--backend", "numpy"]
#: The ``tabmfirl`` command in a fresh process.
TOOL = [sys.executable, "-c", "import sys; from tabmfirl.apps.cli import main; sys.exit(main())"]
#: A fit that never stops early (the adversarial fit's loss cannot say it has converged).
ENDLESS = ["--method", "pemmfirl", "--iters", "100000", "--progress-every", "0"]


def _demos(tmp_path, name="d.npz", beta="0.1", types="2", agents="12", seed="0"):
    path = str(tmp_path / name)
    assert main(["demos", "--game", "virus", "--types", types, "--agents", agents,
                 "--horizon", "6", "--beta", beta, "--seed", seed, "--out", path,
                 *FAST]) == 0
    return path


def _fit(demos, run, *extra):
    return main(["fit", "--method", "mfirl", "--demos", demos, "--out", run, "--iters", "5",
                 "--progress-every", "0", *FAST, *extra])


def _one_error_line(err):
    """The stderr of a failed command: exactly one line, no traceback."""
    assert "Traceback" not in err
    assert err.count("\n") == 1, err
    return err


# ---------------------------------------------------------------- demonstrations files
def test_demos_file_records_temperature_horizon_types_and_version(tmp_path):
    demos = Demonstrations.load(_demos(tmp_path, beta="0.25"))
    assert demos.temperature == 0.25
    assert demos.version == tabmfirl.__version__
    assert (demos.horizon, demos.n_types) == (6, 2)
    with np.load(tmp_path / "d.npz") as archive:
        meta = json.loads(str(archive["meta"]))
    assert meta["format"] == DEMOS_FORMAT
    assert (meta["temperature"], meta["horizon"], meta["n_types"]) == (0.25, 6, 2)


def test_old_demos_files_still_load_without_a_temperature(tmp_path, capsys):
    """A file of format 1 (no temperature, horizon, version) loads; fit says it used the
    game's temperature."""
    demos = Demonstrations.load(_demos(tmp_path))
    meta = {"format": "tabmfirl.demonstrations/1", "game": "virus", "params": demos.params,
            "seed": 0, "n_states": 2, "n_actions": 2, "n_types": 2}
    old = tmp_path / "old.npz"
    np.savez(old, states=demos.states, actions=demos.actions, types=demos.types,
             meta=np.array(json.dumps(meta)))
    loaded = Demonstrations.load(old)
    assert loaded.temperature is None and loaded.version is None
    np.testing.assert_array_equal(loaded.states, demos.states)
    capsys.readouterr()
    assert _fit(str(old), str(tmp_path / "run")) == 0
    assert "does not record its temperature" in capsys.readouterr().err
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["temperature"] == envs.solver_settings("virus")["temperature"]


def test_demos_file_with_a_wrong_recorded_horizon_is_refused(tmp_path):
    demos = Demonstrations.load(_demos(tmp_path))
    meta = {**demos._meta(), "horizon": 7}
    bad = tmp_path / "bad.npz"
    np.savez(bad, states=demos.states, actions=demos.actions, types=demos.types,
             meta=np.array(json.dumps(meta)))
    with pytest.raises(ValueError, match="horizon 7"):
        Demonstrations.load(bad)


@pytest.mark.parametrize("value", [0.0, -1.0, float("nan"), True, "0.1"])
def test_demonstrations_reject_a_bad_temperature(value):
    spec = envs.make("virus", types=1, horizon=3)
    policy = np.full((1, 3, 2, 2), 0.5)
    with pytest.raises(ValueError, match="temperature"):
        generate_demonstrations(spec, policy, 2, seed=0, temperature=value)


# --------------------------------------------------------------------- temperature
def test_fit_uses_the_temperature_of_the_demonstrations(tmp_path):
    """The issue's example: demos at beta 0.1, fit without --beta: the fit is at 0.1 (it
    used to fit at the game's 1.0)."""
    demos = _demos(tmp_path, beta="0.1")
    assert _fit(demos, str(tmp_path / "run")) == 0
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["temperature"] == 0.1
    assert envs.solver_settings("virus")["temperature"] != 0.1     # the test can fail


def test_fit_with_a_disagreeing_beta_is_one_line_naming_both(tmp_path, capsys):
    demos = _demos(tmp_path, beta="0.1")
    capsys.readouterr()
    assert _fit(demos, str(tmp_path / "run"), "--beta", "1.0") == 2
    err = _one_error_line(capsys.readouterr().err)
    assert "--beta 1" in err and "0.1" in err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("kind, kwargs, words", [
    ("temperature", {"beta": "0.3"}, "temperature 0.3"),
    ("type count", {"types": "3"}, "number of types 3"),
])
def test_evaluate_refuses_held_out_data_of_another_kind(tmp_path, capsys, kind, kwargs, words):
    demos = _demos(tmp_path, beta="0.1")
    run = str(tmp_path / "run")
    assert _fit(demos, run) == 0
    other = _demos(tmp_path, name="other.npz", seed="5", **kwargs)
    same = _demos(tmp_path, name="same.npz", seed="6")
    capsys.readouterr()
    assert main(["evaluate", run, "--held-out", other, "--no-transfer"]) == 2
    assert words in _one_error_line(capsys.readouterr().err)
    assert main(["evaluate", run, "--held-out", same, "--no-transfer", "--json"]) == 0


# ------------------------------------------------------------- self-contained run folders
def test_run_folder_moves_with_its_data_and_a_changed_file_is_refused(tmp_path, capsys):
    project = tmp_path / "project"
    project.mkdir()
    demos = _demos(project)
    assert _fit(demos, str(project / "run")) == 0
    config = json.loads((project / "run" / "config.json").read_text())
    assert config["demos"] == "../d.npz" and len(config["demos_sha256"]) == 64
    moved = tmp_path / "elsewhere"
    shutil.move(str(project), str(moved))
    assert main(["evaluate", str(moved / "run"), "--no-transfer", "--json"]) == 0
    other = Demonstrations.load(_demos(tmp_path, name="x.npz", seed="3"))
    other.save(moved / "d.npz")                                  # the data changed
    capsys.readouterr()
    assert main(["evaluate", str(moved / "run"), "--no-transfer"]) == 2
    assert "changed since the fit" in _one_error_line(capsys.readouterr().err)


def test_a_new_run_removes_the_result_of_the_previous_one(tmp_path):
    """A folder never pairs one run's config with another run's result."""
    folder = RunFolder(tmp_path / "run")
    folder.path.mkdir()
    folder.result_path.write_bytes(b"old")
    folder.metrics_path.write_text("{}")
    assert folder.start({"method": "mfirl"}) is False
    assert not folder.result_path.exists() and not folder.metrics_path.exists()


def test_evaluate_refuses_a_result_of_another_config(tmp_path, capsys):
    demos = _demos(tmp_path)
    run = tmp_path / "run"
    assert _fit(demos, str(run)) == 0
    config = json.loads((run / "config.json").read_text())
    config["seed"] = 123                         # as if another run had written the config
    (run / "config.json").write_text(json.dumps(config))
    capsys.readouterr()
    assert main(["evaluate", str(run), "--no-transfer"]) == 2
    assert "differ in seed" in _one_error_line(capsys.readouterr().err)


# ------------------------------------------------------------------------------ locks
def _sleeper():
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])


def test_lock_refuses_a_live_owner_and_takes_over_a_dead_one(tmp_path):
    path = tmp_path / ".lock"
    owner = _sleeper()
    try:
        path.write_text(f"{owner.pid}\n")
        with pytest.raises(RunLockedError, match=str(owner.pid)):
            RunLock(path).acquire()
    finally:
        owner.kill()
        owner.wait()
    assert not process_alive(owner.pid)
    with RunLock(path) as lock:                  # stale: the process has ended
        assert lock.owner() == os.getpid()
    assert not path.exists()


def test_an_experiment_folder_in_use_is_refused_naming_its_process(tmp_path, capsys):
    """A second experiment into a folder another live process is running exits 2."""
    from tabmfirl.apps.cli import main

    out = tmp_path / "grid"
    (out / "cells").mkdir(parents=True)
    owner = _sleeper()
    argv = ["experiment", "--games", "virus", "--methods", "oracle", "--seeds", "1",
            "--agents", "10", "--horizon", "4", "--iters", "2", "--warmup", "0",
            "--held-out-agents", "0", "--workers", "1", "--out", str(out)]
    try:
        (out / ".lock").write_text(f"{owner.pid}\n")
        assert main(argv) == 2
        assert f"being written by process {owner.pid}" in capsys.readouterr().err
        assert not list((out / "cells").iterdir())        # nothing was run
    finally:
        owner.kill()
        owner.wait()
    assert main(argv) == 0                                 # the stale lock is taken over
    assert not (out / ".lock").exists()


def test_two_fits_into_one_folder_the_second_is_refused_naming_the_first(tmp_path):
    """Concurrent fits: the second exits 2 with the first one's PID; the first finishes."""
    demos = _demos(tmp_path, agents="30")
    run = tmp_path / "run"
    first = subprocess.Popen(TOOL + ["fit", *ENDLESS, "--demos", demos, "--out", str(run),
                                     *FAST], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (run / ".lock").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert (run / ".lock").read_text().strip() == str(first.pid)
        second = subprocess.run(TOOL + ["fit", "--method", "mfirl", "--demos", demos,
                                        "--out", str(run), "--iters", "3", *FAST],
                                capture_output=True, text=True, timeout=120)
        assert second.returncode == 2
        assert f"process {first.pid}" in _one_error_line(second.stderr)
        assert first.poll() is None                  # the first one was not disturbed
    finally:
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=60)
    assert not (run / ".lock").exists()


# ------------------------------------------------------------------------------ umask
@pytest.mark.parametrize("mask", [0o022, 0o027, 0o002])
def test_written_files_honour_the_umask(tmp_path, mask):
    previous = os.umask(mask)
    try:
        assert current_umask() == mask
        path = atomic_write_json(tmp_path / "x.json", {"a": 1})
        plain = tmp_path / "plain"
        plain.write_text("x")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o666 & ~mask
    assert stat.S_IMODE(os.stat(path).st_mode) == stat.S_IMODE(os.stat(plain).st_mode)


def test_run_files_are_readable_by_others_under_umask_022(tmp_path):
    previous = os.umask(0o022)
    try:
        assert _fit(_demos(tmp_path), str(tmp_path / "run")) == 0
    finally:
        os.umask(previous)
    for name in ("config.json", "result.npz", "checkpoint.npz"):
        assert stat.S_IMODE(os.stat(tmp_path / "run" / name).st_mode) == 0o644, name


# ------------------------------------------------------------------- read-only folder
def test_evaluate_on_a_read_only_run_folder_prints_the_metrics(tmp_path, capsys,
                                                               monkeypatch):
    """The folder cannot be written (simulated: the tests may run as root, who may write
    anywhere): the metrics are printed, stderr says they were not saved, exit 1."""
    demos = _demos(tmp_path)
    run = str(tmp_path / "run")
    assert _fit(demos, run) == 0

    def refuse(self, metrics):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(RunFolder, "write_metrics", refuse)
    capsys.readouterr()
    assert main(["evaluate", run, "--no-transfer", "--json"]) == 1
    captured = capsys.readouterr()
    assert "policy_deviation" in json.loads(captured.out)
    assert "could not save the metrics" in _one_error_line(captured.err)
    assert "Permission denied" in captured.err


# ---------------------------------------------------------- outputs checked up front
@pytest.mark.parametrize("argv", [
    ["demos", "--game", "virus", "--out", "{blocker}/d.npz"],
    ["demos", "--game", "virus", "--out", "{tmp}/missing/d.npz"],
    ["experiment", "--games", "virus", "--out", "{blocker}/res"],
    ["taxi-study", "--out", "{blocker}/taxi"],
    ["fit", "--method", "mfirl", "--demos", "{demos}", "--out", "{blocker}/run"],
    ["plot", "{tmp}", "--out", "{blocker}/figs"],
])
def test_output_paths_are_checked_before_any_computation(tmp_path, capsys, monkeypatch, argv):
    demos = _demos(tmp_path)
    blocker = tmp_path / "a_file"
    blocker.write_text("x")

    def no_computation(*args, **kwargs):
        raise AssertionError("computed before checking the output path")

    for module in (cli, sys.modules["tabmfirl.apps._taxi_study"]):
        for name in ("solve_equilibrium", "run_experiment", "run_taxi_study", "_run_method"):
            if hasattr(module, name):
                monkeypatch.setattr(module, name, no_computation)
    capsys.readouterr()
    argv = [a.format(blocker=blocker, tmp=tmp_path, demos=demos) for a in argv]
    assert main(argv) == 2
    err = _one_error_line(capsys.readouterr().err)
    assert "--out" in err


# ------------------------------------------------------------------------- divergence
def test_divergence_rule():
    first = {}
    assert divergence({"objective": -30.0}, first) is None
    assert divergence({"objective": -30.0 - 0.9 * DIVERGENCE_FACTOR * 31}, first) is None
    assert "went from" in divergence({"objective": -30.0 - 1.1 * DIVERGENCE_FACTOR * 31},
                                     first)
    assert "nan" in divergence({"loss": float("nan")}, {})
    assert "inf" in divergence({"log_likelihood": -float("inf")}, {})


def test_a_diverging_fit_warns_and_stops(tmp_path):
    spec = envs.make("virus", types=1, horizon=6)
    expert = solve_equilibrium(spec, temperature=0.1, backend="numpy")
    demos = generate_demonstrations(spec, expert.policy, 20, seed=0)
    with pytest.warns(DivergenceWarning, match="diverged at iteration"):
        result = fit_mfirl(spec, demos, temperature=0.1, learning_rate=1e6, max_iter=50,
                           backend="numpy", warn=False)
    assert not result.converged and result.num_iter < 50
    with warnings.catch_warnings():
        warnings.simplefilter("error", DivergenceWarning)       # a sane step: no warning
        fit_mfirl(spec, demos, temperature=0.1, max_iter=20, backend="numpy", warn=False)


def test_fit_cli_exits_non_zero_on_divergence(tmp_path, capsys):
    demos = _demos(tmp_path)
    capsys.readouterr()
    assert _fit(demos, str(tmp_path / "run"), "--lr", "1e6") == 2
    assert "diverged" in _one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "run" / "result.npz").exists()


# -------------------------------------------------------------- signals: fit, experiment
def _children(pid):
    """Process ids whose parent is ``pid`` (Linux /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry))
    return found


def test_sigint_during_a_fit_is_one_line_saying_how_to_resume(tmp_path):
    demos = _demos(tmp_path, agents="30")
    run = tmp_path / "run"
    argv = TOOL + ["fit", *ENDLESS, "--demos", demos, "--out", str(run),
                   "--checkpoint-every", "2", *FAST]
    fit = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (run / "checkpoint.npz").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    fit.send_signal(signal.SIGINT)
    _, err = fit.communicate(timeout=60)
    assert fit.returncode == 130
    assert "rerun the same command to resume" in _one_error_line(err)
    assert not (run / ".lock").exists()
    assert (run / "checkpoint.npz").exists() and not (run / "result.npz").exists()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_experiment_with_workers_stops_cleanly_and_resumes(tmp_path, how):
    """Ctrl-C (SIGINT to the process group, as a terminal sends it) or SIGTERM (to the
    parent only, as `kill` sends it): the command ends within seconds, its workers are
    gone, the finished cells stay, and a rerun skips them.

    The grid: two quick MFIRL cells first, then two adversarial cells (300 iterations,
    tens of seconds each; that fit never stops early) that the workers are in the middle
    of when the signal comes."""
    out = tmp_path / "res"
    grid = ["--games", "virus", "--seeds", "2", "--agents", "20", "--horizon", "6",
            "--iters", "300", "--held-out-agents", "0", "--workers", "2", "--out", str(out),
            *FAST]
    argv = TOOL + ["experiment", "--methods", "mfirl,pemmfirl", *grid]
    run = subprocess.Popen(argv, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                           start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (
            out.joinpath("cells").is_dir() and len(list(out.joinpath("cells").glob("*.json")))
            >= 2):
        time.sleep(0.05)
    time.sleep(1.0)                              # the workers are into the long cells
    workers = _children(run.pid)
    assert len(workers) >= 2
    start = time.monotonic()
    if how == "ctrl-c":
        os.killpg(run.pid, signal.SIGINT)
    else:
        run.send_signal(signal.SIGTERM)
    _, err = run.communicate(timeout=60)
    assert time.monotonic() - start < 20
    assert run.returncode == 130
    assert "rerun the same command to resume" in err.strip().splitlines()[-1]
    assert "Traceback" not in err
    assert not [pid for pid in workers if process_alive(pid) and _state(pid) != "Z"]
    kept = sorted(path.name for path in out.joinpath("cells").glob("*.json"))
    assert kept == ["virus__mfirl__0.json", "virus__mfirl__1.json"]
    # rerun the finished part of the grid (same settings): nothing left to run
    rerun = subprocess.run(TOOL + ["experiment", "--methods", "mfirl", *grid],
                           capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert "2 cells: 2 finished, 0 to run" in rerun.stderr


def _state(pid):
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


# ----------------------------------------------------------------- one-line errors
@pytest.mark.parametrize("dpi", ["0", "-5", "100000"])
def test_plot_bad_dpi_is_one_line_exit_2(tmp_path, capsys, dpi):
    assert main(["plot", str(tmp_path), "--out", str(tmp_path / "f"), "--dpi", dpi]) == 2
    assert "--dpi" in _one_error_line(capsys.readouterr().err)


# --------------------------------------------------------------------------- defaults
def _defaults_of(command):
    required = {"solve": ["--game", "virus"], "demos": ["--game", "virus", "--out", "x"],
                "experiment": ["--games", "virus"]}
    return vars(build_parser().parse_args([command, *required[command]]))


def test_every_verb_takes_its_defaults_from_one_place():
    for command in ("solve", "demos", "experiment"):
        d = _defaults_of(command)
        assert d["beta"] is DEFAULTS["temperature"] is None, command
        assert d["backend"] == DEFAULTS["backend"], command
    assert _defaults_of("demos")["horizon"] is None
    experiment = _defaults_of("experiment")
    assert experiment["iters"] == DEFAULTS["max_iter"] == cli.FIT_FLAGS[0][2]
    assert experiment["horizon"] is None and experiment["warmup"] == DEFAULTS["n_warmup"]
    assert {option: default for _, option, default in cli.FIT_FLAGS} == {
        key: DEFAULTS[key] for key in ("max_iter", "n_warmup", "learning_rate", "reward_kind",
                                       "seed", "backend", "checkpoint_every")}
    for key in ("temperature", "horizon", "max_iter", "n_warmup", "learning_rate",
                "reward_kind", "backend"):
        assert DEFAULT_SETTINGS[key] == DEFAULTS[key], key


def test_the_docs_show_the_defaults_table():
    docs = os.path.join(os.path.dirname(__file__), os.pardir, "docs", "index.md")
    with open(docs, encoding="utf-8") as handle:
        assert defaults_table() in handle.read()


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"tabmfirl {tabmfirl.__version__}"


def test_games_lists_size_types_and_a_description(capsys):
    assert main(["games", "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)["games"]}
    assert set(rows) == set(envs.GAMES)
    virus = rows["virus"]
    assert (virus["states"], virus["actions"], virus["types"]) == (2, 2, 3)
    assert virus["description"].startswith("Virus spread")
    assert all(row["description"] and row["max_types"] >= row["types"] >= 1
               for row in rows.values())
    assert main(["games"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in envs.GAMES) and "Virus spread" in out
