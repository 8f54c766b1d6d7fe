"""Progress bars that only the command line turns on.

A stage asks for `bar(...)` (a tqdm bar) or `dask_bar(futures)` and never learns whether a
terminal watches: bars are drawn inside `bars_shown()` (the `faultprobe` command enters it
unless `-q`) and are silent no-ops elsewhere (library calls, Dask tasks). The switch is a
context variable, so it belongs to the caller's context, not to the module.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from contextvars import ContextVar

_SHOWN: ContextVar[bool] = ContextVar("faultprobe_progress_bars", default=False)


def shown() -> bool:
    """Whether bars are drawn here (inside `bars_shown()`)."""
    return _SHOWN.get()


@contextlib.contextmanager
def bars_shown(on: bool = True) -> Iterator[None]:
    """Draw (or, with `on=False`, stop drawing) the stages' bars inside the block."""
    token = _SHOWN.set(on)
    try:
        yield
    finally:
        _SHOWN.reset(token)


def bar(iterable: Iterable | None = None, **kwargs):
    """A tqdm bar when bars are shown, else tqdm's disabled bar (same methods, no output)."""
    from tqdm.auto import tqdm

    return tqdm(iterable, disable=not shown(), **kwargs)


def dask_bar(futures) -> None:
    """Dask's progress bar over `futures` until they finish, when bars are shown."""
    if shown():
        from distributed import progress

        progress(futures)
