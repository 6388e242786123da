"""Every subcommand is registered and documented; bad input exits 2 with one line."""
import pytest

from tabmfirl.cli import build_parser, main

COMMANDS = ["solve", "games", "demos", "fit", "evaluate", "experiment", "taxi-study"]


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
