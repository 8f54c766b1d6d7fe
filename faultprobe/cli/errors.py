"""Exit codes, and the one line an expected failure ends in (None for a bug: traceback)."""

from __future__ import annotations

import errno

from faultprobe._optional import MissingExtra
from faultprobe.cluster.connect import ClusterError
from faultprobe.config import ConfigError

EXIT = {
    "incomplete": 1,
    "input": 2,
    "service": 3,
    "locked": 4,
    "disk": 5,
    "interrupted": 130,
}


def _os_error(err: OSError) -> tuple[str, str]:
    """One line and an exit-code name for an operating-system error."""
    where = err.filename or "the store"
    if err.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return (
            f"no space left while writing {where} ({err.strerror}); free some space and run "
            "the same command again (finished work is kept)",
            "disk",
        )
    if err.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return (
            f"cannot write {where} ({err.strerror}); the study store must be writable: fix "
            "its permissions or point study.store at a writable folder",
            "disk",
        )
    if isinstance(err, FileNotFoundError):
        return str(err), "input"
    return f"{where}: {err.strerror or err}", "disk"


def one_line(err: BaseException) -> tuple[str, str] | None:
    """One line and an exit-code name for an expected failure, or None for a bug."""
    from faultprobe.catalogs.datasets import DatasetError
    from faultprobe.catalogs.readers import CatalogError
    from faultprobe.catalogs.stations import StationError
    from faultprobe.pipelines.ingest import IngestError, ServiceUnavailable
    from faultprobe.store import StoreError
    from faultprobe.storelock import StoreLocked

    if isinstance(err, StoreLocked):
        return str(err), "locked"
    if isinstance(err, MissingExtra):  # an optional dependency: the message names its extra
        return str(err), "input"
    if isinstance(err, ClusterError):  # the batch system or Kubernetes API said no
        return str(err), "service"
    if type(err).__name__ == "KilledWorker":  # distributed's; not imported for --help
        return (
            f"a task ended the workers that ran it again and again ({err}); usually memory: "
            "give the workers more ([cluster] memory_limit, [cluster.jobqueue] memory, "
            "[cluster.kubernetes] memory) or lower [train] memory_budget, then run the same "
            "command again (finished work is kept)",
            "input",
        )
    if isinstance(err, ServiceUnavailable):
        return str(err), "service"
    if isinstance(err, StationError) and "station service" in str(err):
        return str(err), "service"
    if isinstance(
        err, ConfigError | CatalogError | StationError | DatasetError | IngestError | StoreError
    ):
        return str(err), "input"
    if isinstance(err, OSError):
        return _os_error(err)
    return None
