"""Exceptions for failures the user can fix."""


class SegrecError(Exception):
    """Bad input or a bad option: the CLI prints it as one line, without a traceback."""
