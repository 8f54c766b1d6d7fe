"""Waveform sources from other packages: the `faultprobe.sources` entry-point group.

faultprobe's own sources are built in (`BUILTIN_SOURCES`, their factories in
`pipelines/blocks.py`); a package adds one by declaring an entry point, e.g. in its
pyproject.toml `[project.entry-points."faultprobe.sources"] tape = "mypkg.tape:factory"`,
where `factory(settings: IngestSettings, info: RunInfo) -> Source`.  The config accepts
every name either way, so `[waveforms] source = "tape"` validates once the package is
installed (docs/ingest.md, "A source of your own").
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import EntryPoint, entry_points

#: The entry-point group other packages register waveform sources in.
SOURCE_GROUP = "faultprobe.sources"
#: The sources faultprobe ships (name -> factory in pipelines/blocks.py).
BUILTIN_SOURCES = ("sds", "fdsn", "synthetic", "seisbench", "laurenti2024")


def _entry_points() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=SOURCE_GROUP)}


def source_names() -> tuple[str, ...]:
    """Every source a config may name: the built-in ones, then the installed plugins'."""
    extra = sorted(n for n in _entry_points() if n not in BUILTIN_SOURCES)
    return (*BUILTIN_SOURCES, *extra)


def plugin_source(name: str) -> Callable | None:
    """The factory an installed package registers under `name` (None if none does)."""
    ep = _entry_points().get(name)
    return ep.load() if ep is not None else None
