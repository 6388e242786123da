"""Every subcommand is registered and documented; bad input exits 2 with one line."""
import pathlib

import pytest

from tabmfirl.apps.cli import build_parser, main

COMMANDS = ["solve", "games", "demos", "fit", "evaluate", "experiment", "taxi-study", "check"]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert f"tabmfirl {command}" in capsys.readouterr().out


def test_top_level_help_lists_every_command(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    out = capsys.readouterr().out
    assert all(command in out for command in COMMANDS)


def test_unknown_game_is_one_line_exit_2(capsys):
    assert main(["solve", "--game", "chess"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown game 'chess'" in err


def test_demos_fit_evaluate_plot_workflow(tmp_path, capsys):
    """The README's workflow: demos -> fit -> evaluate -> plot, each exit 0, PNGs written."""
    import json

    demos = str(tmp_path / "demos.npz")
    run = str(tmp_path / "run")
    figures = tmp_path / "figs"
    assert main(["demos", "--game", "virus", "--types", "2", "--agents", "30",
                 "--out", demos, "--seed", "1", "--backend", "numpy"]) == 0
    assert main(["fit", "--method", "pemmfirl_em", "--demos", demos, "--out", run,
                 "--iters", "15", "--warmup", "5", "--backend", "numpy",
                 "--progress-every", "0"]) == 0
    assert main(["evaluate", run, "--json"]) == 0
    capsys.readouterr()
    assert main(["plot", run, "--out", str(figures), "--dpi", "40", "--json"]) == 0
    written = json.loads(capsys.readouterr().out)["figures"]
    names = {pathlib.Path(p).name for p in written}
    assert {"rewards.png", "training.png", "mean_fields.png", "policies.png",
            "inferred_types.png", "metrics.png"} <= names
    assert all(pathlib.Path(p).stat().st_size > 1000 for p in written)
    assert main(["plot", str(tmp_path), "--out", str(figures)]) == 2   # not a run folder


def test_solve_shows_progress_and_says_what_was_tried(capsys):
    """A solve that cannot converge within its budget: progress lines on stderr while it
    runs, exit 1, and the message says what was tried and what to change."""
    rc = main(["solve", "--game", "rock_paper_scissors", "--beta", "0.05", "--max-iter", "60",
               "--progress-every", "0.001"])
    captured = capsys.readouterr()
    assert rc == 1 and "NOT converged" in captured.out
    progress = [line for line in captured.err.splitlines() if "] iteration " in line]
    assert progress and all("residual" in line and "exploitability" in line
                            for line in progress)
    assert "did not converge" in captured.err and "Tried: Anderson acceleration" in captured.err
    assert "raise `temperature`" in captured.err


@pytest.mark.parametrize("argv, match", [
    (["--damping", "0.5"], "--damping applies to --method fixed_point only"),
    (["--method", "fixed_point", "--learning-rate", "0.1"],
     "--learning-rate applies to --method mirror_descent only"),
    (["--progress-every", "-1"], "--progress-every must be >= 0"),
    (["--max-seconds", "0"], "max_seconds must be > 0"),
    (["--method", "newton"], "method must be one of"),
])
def test_solve_bad_options_are_one_line_exit_2(argv, match, capsys):
    assert main(["solve", "--game", "virus", "--progress-every", "0"] + argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and match in err
