"""The study store: a folder (local or `s3://…` through fsspec) with the study's tables,
cube, runs and report. This module only knows where things are and how tables are read
and written; what goes in them belongs to the stage that makes them."""

from __future__ import annotations

from dataclasses import dataclass

import fsspec
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from faultprobe import columns as cols

EVENTS = "events.parquet"
STATIONS = "stations.parquet"
TRACES = "traces.parquet"
CUBE = "waveforms.zarr"
RESULTS = "results.parquet"
STUDY_TOML = "study.toml"


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

    def write_table(self, df: pd.DataFrame, name: str) -> str:
        """Write a DataFrame as Parquet (atomically on local disks: temp file, rename), with
        the table's on-disk column names (`faultprobe.columns`)."""
        self.makedirs()
        table = pa.Table.from_pandas(cols.to_disk(df, name), preserve_index=False)
        target = self.path(name)
        tmp = target + ".tmp"
        with self.fs.open(tmp, "wb") as f:
            pq.write_table(table, f, compression="zstd")
        self.fs.mv(tmp, target)
        return target

    def read_table(self, name: str, columns: list[str] | None = None) -> pd.DataFrame:
        """Read a Parquet table of the store, with the in-memory column names
        (`faultprobe.columns`); a missing table is a clear error."""
        target = self.path(name)
        if not self.fs.exists(target):
            raise FileNotFoundError(
                f"{self.url(name)} does not exist (run the stage that writes it)"
            )
        with self.fs.open(target, "rb") as f:
            if columns is not None:
                present = pq.read_schema(f).names
                f.seek(0)
                columns = cols.disk_names(columns, name, present)
            return cols.from_disk(pq.read_table(f, columns=columns).to_pandas(), name)

    def write_text(self, text: str, name: str) -> None:
        self.makedirs()
        with self.fs.open(self.path(name), "w") as f:
            f.write(text)

    def read_text(self, name: str) -> str:
        with self.fs.open(self.path(name), "r") as f:
            return f.read()
