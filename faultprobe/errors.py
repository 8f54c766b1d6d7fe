"""The one base of every faultprobe error, and the exit code each kind of failure ends in.

An expected failure is an instance of `FaultprobeError`: the CLI prints `str(err)` on one
line and exits with `err.exit_code`; anything else that escapes a command is a bug and is
shown with its traceback. The kinds (docs/ingest.md lists every failure and its code): bad input (2), a service
(3), a store locked by another writer (4), the disk (5), a run left incomplete (1).
Classes that callers also catch as `ValueError`, `KeyError` or `RuntimeError` keep those
bases next to this one.
"""

from __future__ import annotations


class FaultprobeError(Exception):
    """An expected failure: one line saying what and what to do, and an exit code."""

    exit_code: int = 1


class InputError(FaultprobeError):
    """Bad input: a config, a table, an option, a file or a station that cannot be used."""

    exit_code = 2


class ServiceFailure(FaultprobeError):
    """A service (FDSN, an event service, a batch system) is down, refusing or unusable."""

    exit_code = 3


class LockedError(FaultprobeError):
    """Another command holds the store."""

    exit_code = 4


class DiskError(FaultprobeError):
    """The disk is full or not writable."""

    exit_code = 5


class IncompleteError(FaultprobeError):
    """The run ended without finishing its job; running it again goes on."""

    exit_code = 1


class MissingExtra(InputError, RuntimeError):
    """An optional feature whose extra is not installed (the message names the extra)."""


class NotFoundError(InputError, KeyError):
    """A name asked for (a station, a run, a column) is not there; a `KeyError` too."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


__all__ = [
    "DiskError",
    "FaultprobeError",
    "IncompleteError",
    "InputError",
    "LockedError",
    "MissingExtra",
    "NotFoundError",
    "ServiceFailure",
]
