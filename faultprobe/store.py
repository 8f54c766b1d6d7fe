"""The study store: a folder (local or `s3://…` through fsspec) with the study's tables,
cube, runs and report. This module only knows where things are, how tables are read and
written (atomically: a temporary file, then a rename); who may write is the store lock's
business (`faultprobe.storelock`); what goes in them belongs to the stage that makes them."""

from __future__ import annotations

import contextlib
import logging
import os
import posixpath
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import fsspec
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from faultprobe import columns as cols
from faultprobe.errors import InputError

log = logging.getLogger(__name__)

EVENTS = "events.parquet"
STATIONS = "stations.parquet"
STATIONXML = "stations.xml"
PICKS = "picks.parquet"
TRACES = "traces.parquet"
CUBE = "waveforms.zarr"
RESULTS = "results.parquet"
STUDY_TOML = "study.toml"

# The command that writes each table, for the message when one cannot be read.
WRITTEN_BY = {
    EVENTS: "faultprobe catalog",
    STATIONS: "faultprobe catalog",
    PICKS: "faultprobe catalog",
    TRACES: "faultprobe ingest",
    RESULTS: "faultprobe experiments",
}


class StoreError(InputError, RuntimeError):
    """The store cannot be used as asked; the message names the item and what to do."""


TMP_MARK = ".tmp-"
# Folders of the store with their own writer and lock (the monitoring store), left alone.
OWN_LOCK = ("monitor",)


def _tmp_name(target: str) -> str:
    return f"{target}{TMP_MARK}{os.getpid()}-{threading.get_ident()}"


@dataclass(frozen=True)
class Store:
    """A study store rooted at `root` (a local path or a URL such as s3://bucket/study)."""

    root: str
    storage_options: dict | None = None

    @property
    def fs(self) -> fsspec.AbstractFileSystem:
        fs, _ = fsspec.core.url_to_fs(self.root, **(self.storage_options or {}))
        return fs

    @property
    def _base(self) -> str:
        _, path = fsspec.core.url_to_fs(self.root, **(self.storage_options or {}))
        return path.rstrip("/")

    @property
    def is_local(self) -> bool:
        return "file" in (
            self.fs.protocol if isinstance(self.fs.protocol, tuple) else (self.fs.protocol,)
        )

    def path(self, *parts: str) -> str:
        """Filesystem path (without protocol) of an item inside the store."""
        return "/".join([self._base, *parts])

    def url(self, *parts: str) -> str:
        """Full URL of an item (keeps the protocol, for xarray/zarr)."""
        return "/".join([self.root.rstrip("/"), *parts])

    def exists(self, *parts: str) -> bool:
        return self.fs.exists(self.path(*parts))

    def makedirs(self, *parts: str) -> None:
        self.fs.makedirs(self.path(*parts), exist_ok=True)

    def remove(self, name: str) -> bool:
        """Delete an item (file or folder) if present; True if something was removed."""
        if not self.exists(name):
            return False
        self.fs.rm(self.path(name), recursive=True)
        return True

    def _write(self, name: str, write, mode: str = "wb") -> str:
        """Write through `write(f)` into a temporary file, then rename it over `name`."""
        self.makedirs()
        target = self.path(name)
        tmp = _tmp_name(target)
        try:
            with self.fs.open(tmp, mode) as f:
                write(f)
            self.fs.mv(tmp, target)
        except BaseException:
            with contextlib.suppress(Exception):
                self.fs.rm(tmp)
            raise
        return target

    def stale_temp_files(self) -> list[str]:
        """Temporary files of `_write` (up to two folders deep) left by a killed writer; only
        meaningful while this process holds the store's lock (no other writer runs)."""
        found = []
        for depth in range(3):
            found += self.fs.glob(self.path(*["*"] * depth, f"*{TMP_MARK}*"))
        base = self._base + "/"
        return sorted(
            f for f in found if f.startswith(base) and f[len(base) :].split("/")[0] not in OWN_LOCK
        )

    def remove_stale_temp(self) -> int:
        """Delete what `stale_temp_files` lists (a kill between write and rename left them);
        a warning says how many."""
        stale = self.stale_temp_files()
        for f in stale:
            with contextlib.suppress(FileNotFoundError):
                self.fs.rm(f, recursive=True)
        if stale:
            names = ", ".join(f.rsplit("/", 1)[-1] for f in stale[:3])
            more = f" and {len(stale) - 3} more" if len(stale) > 3 else ""
            log.warning(
                f"note: removed {len(stale)} temporary files left by a killed run ({names}{more})"
            )
        return len(stale)

    def write_table(self, df: pd.DataFrame, name: str) -> str:
        """Write a DataFrame as Parquet (atomically: temporary file, then rename), under its
        own column names (traces gain the derived `trace_name`: `faultprobe.columns`)."""
        table = pa.Table.from_pandas(cols.to_disk(df, name), preserve_index=False)
        return self._write(name, lambda f: pq.write_table(table, f, compression="zstd"))

    def write_stream(self, name: str, write) -> str:
        """Write a file through `write(f)` piece by piece (e.g. a ParquetWriter adding row
        groups), atomically: temporary file, then rename."""
        return self._write(name, write)

    def read_table(self, name: str, columns: list[str] | None = None) -> pd.DataFrame:
        """Read a Parquet table of the store (a store written before the column rename is
        upgraded: `faultprobe.columns`); a missing or unreadable table is a clear error."""
        target = self.path(name)
        if not self.fs.exists(target):
            remedy = WRITTEN_BY.get(posixpath.basename(name))
            raise FileNotFoundError(
                f"{self.url(name)} does not exist (run "
                + (f"`{remedy}` first)" if remedy else "the stage that writes it)")
            )
        try:
            with self.fs.open(target, "rb") as f:
                if columns is not None:
                    present = pq.read_schema(f).names
                    f.seek(0)
                    columns = cols.disk_names(columns, name, present)
                return cols.from_disk(pq.read_table(f, columns=columns).to_pandas(), name)
        except (pa.ArrowException, OSError, ValueError) as err:
            if isinstance(err, PermissionError):
                raise
            first = (str(err).splitlines() or [type(err).__name__])[0]
            remedy = WRITTEN_BY.get(name, "the command that writes it")
            raise StoreError(
                f"{self.url(name)} is not a readable Parquet table ({first}); "
                f"run `{remedy}` again to rewrite it"
            ) from None

    def write_text(self, text: str, name: str) -> None:
        """Write a text file atomically."""
        self._write(name, lambda f: f.write(text), mode="w")

    def read_text(self, name: str) -> str:
        with self.fs.open(self.path(name), "r") as f:
            return f.read()

    def write_bytes(self, data: bytes, name: str) -> None:
        """Write a binary file atomically."""
        self._write(name, lambda f: f.write(data))

    def read_bytes(self, name: str) -> bytes:
        with self.fs.open(self.path(name), "rb") as f:
            return f.read()

    @contextlib.contextmanager
    def lock(self, command: str, force: bool = False) -> Iterator:
        """Hold the store's lock while `command` writes (see `faultprobe.storelock`)."""
        from faultprobe.storelock import acquire, release

        existed = self.exists()
        info = acquire(self, command, force=force)
        try:
            if existed:
                self.remove_stale_temp()
            yield info
        finally:
            release(self, info)
            if not existed and self.is_local:  # a command that failed leaves no empty store
                with contextlib.suppress(OSError):
                    os.rmdir(self.path())
