"""Exit codes, and the one line an expected failure ends in (None for a bug: traceback).

An expected failure is known by its type alone: a `FaultprobeError` carries its exit code
and its message; an operating-system error (disk full, no permission, a missing file) and
a task that killed its workers are mapped here. Anything else is a bug.
"""

from __future__ import annotations

import errno

from faultprobe.errors import (
    DiskError,
    FaultprobeError,
    IncompleteError,
    InputError,
    LockedError,
    ServiceFailure,
)

EXIT = {
    "incomplete": IncompleteError.exit_code,
    "input": InputError.exit_code,
    "service": ServiceFailure.exit_code,
    "locked": LockedError.exit_code,
    "disk": DiskError.exit_code,
    "interrupted": 130,
}


def _os_error(err: OSError) -> tuple[str, int]:
    """One line and an exit code for an operating-system error."""
    where = err.filename or "the store"
    if err.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return (
            f"no space left while writing {where} ({err.strerror}); free some space and run "
            "the same command again (finished work is kept)",
            EXIT["disk"],
        )
    if err.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return (
            f"cannot write {where} ({err.strerror}); the study store must be writable: fix "
            "its permissions or point study.store at a writable folder",
            EXIT["disk"],
        )
    if isinstance(err, FileNotFoundError):
        return str(err), EXIT["input"]
    return f"{where}: {err.strerror or err}", EXIT["disk"]


def one_line(err: BaseException) -> tuple[str, int] | None:
    """One line and an exit code for an expected failure, or None for a bug."""
    if isinstance(err, FaultprobeError):
        return str(err), err.exit_code
    if type(err).__name__ == "KilledWorker":  # distributed's; not imported for --help
        return (
            f"a task ended the workers that ran it again and again ({err}); usually memory: "
            "give the workers more ([cluster] memory_limit, [cluster.jobqueue] memory, "
            "[cluster.kubernetes] memory) or lower [train] memory_budget, then run the same "
            "command again (finished work is kept)",
            EXIT["input"],
        )
    if isinstance(err, OSError):
        return _os_error(err)
    return None
