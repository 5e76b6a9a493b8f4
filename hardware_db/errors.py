"""User-facing errors shared by every simlab package.

A ``SimlabError`` carries exactly one line that names the offending field, file or argument and
what is allowed. The command-line interface prints it as ``error: <message>`` and exits with
status 2; library callers can catch it like any exception.
"""


class SimlabError(Exception):
    """Base class of every error caused by bad input (one-line message, CLI exit code 2)."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))


class HardwareError(SimlabError):
    """A device or system description is unknown, malformed or inconsistent."""
