"""Optional dependencies: imported where they are used, and a missing one named with the
extra that installs it (`pip install "faultprobe[analysis]"`), so an ingest-only worker
needs none of them (README.md lists the extras)."""

from __future__ import annotations

import importlib
from types import ModuleType

from faultprobe.errors import MissingExtra

#: The pip distribution of each optional top-level module.
DISTRIBUTIONS = {
    "dask_cuda": "dask-cuda",
    "dask_jobqueue": "dask-jobqueue",
    "dask_kubernetes": "dask-kubernetes",
}


def need(module: str, extra: str, what: str | None = None) -> ModuleType:
    """`import module`, or a MissingExtra naming what needs it and the extra that has it.

    An ImportError raised inside an installed module (a broken install) is left as it is.
    """
    try:
        return importlib.import_module(module)
    except ImportError as err:
        top = module.split(".")[0]
        if err.name is None or err.name.split(".")[0] != top:
            raise
        dist = DISTRIBUTIONS.get(top, top)
        raise MissingExtra(
            f'{what or module}: {dist} is not installed; pip install "faultprobe[{extra}]"'
        ) from err
