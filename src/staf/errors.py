"""Errors that staf reports to a user.

Every error a user can cause (a missing file, a malformed file, a bad argument) is a
:class:`StafError` whose message says what was wrong and what to do. The command line
prints the message and exits with :attr:`StafError.exit_code` instead of a traceback.
"""

from __future__ import annotations


class StafError(Exception):
    """An error caused by the user's input or environment, with an actionable message."""

    exit_code: int = 2


class MissingAssetError(StafError, FileNotFoundError):
    """A file staf needs (a body model, a regressor, a checkpoint) was not found."""


class UnsafeFileError(StafError):
    """A file asked to run code or to build objects that staf does not load."""


class MalformedFileError(StafError, ValueError):
    """A file was found but its content does not have the expected keys or shapes."""


class InvalidInputError(StafError, ValueError):
    """An argument has the wrong shape, type or range (a ``ValueError`` too, for library callers)."""


class Stopped(BaseException):
    """SIGTERM or SIGHUP arrived (a closed terminal, ``timeout``, a batch scheduler): raised in the
    main thread like ``KeyboardInterrupt`` for SIGINT, so every command's clean-up runs."""

    def __init__(self, signal_number: int, name: str) -> None:
        super().__init__(name)
        self.signal_number, self.name = signal_number, name
