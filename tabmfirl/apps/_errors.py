"""The error every command handler raises for bad input (shared by the CLI and the studies)."""


class CommandError(Exception):
    """A user error: :func:`tabmfirl.apps.cli.main` prints it as one line and exits with 2."""
