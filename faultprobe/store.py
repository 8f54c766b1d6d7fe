"""The study store: a folder (local or `s3://…` through fsspec) with the study's tables,
cube, runs and report. This module only knows where things are, how tables are read and
written (atomically: a temporary file, then a rename) and who may write (the store lock);
what goes in them belongs to the stage that makes them."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

import fsspec
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

EVENTS = "events.parquet"
STATIONS = "stations.parquet"
STATIONXML = "stations.xml"
TRACES = "traces.parquet"
CUBE = "waveforms.zarr"
RESULTS = "results.parquet"
STUDY_TOML = "study.toml"
LOCK = "faultprobe.lock"

# The command that writes each table, for the message when one cannot be read.
WRITTEN_BY = {
    EVENTS: "faultprobe catalog",
    STATIONS: "faultprobe catalog",
    TRACES: "faultprobe ingest",
    RESULTS: "faultprobe experiments",
}


class StoreError(RuntimeError):
    """The store cannot be used as asked; the message names the item and what to do."""


class StoreLocked(StoreError):
    """Another command holds the store's lock."""


def _tmp_name(target: str) -> str:
    return f"{target}.tmp-{os.getpid()}-{threading.get_ident()}"


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

    def write_table(self, df: pd.DataFrame, name: str) -> str:
        """Write a DataFrame as Parquet (atomically: temporary file, then rename)."""
        table = pa.Table.from_pandas(df, preserve_index=False)
        return self._write(name, lambda f: pq.write_table(table, f, compression="zstd"))

    def read_table(self, name: str, columns: list[str] | None = None) -> pd.DataFrame:
        """Read a Parquet table of the store; a missing or unreadable table is a clear error."""
        target = self.path(name)
        if not self.fs.exists(target):
            raise FileNotFoundError(
                f"{self.url(name)} does not exist (run the stage that writes it)"
            )
        try:
            with self.fs.open(target, "rb") as f:
                return pq.read_table(f, columns=columns).to_pandas()
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
    def lock(self, command: str, force: bool = False, say=None) -> Iterator[LockInfo]:
        """Hold the store's lock while `command` writes (see `acquire`)."""
        existed = self.exists()
        info = acquire(self, command, force=force, say=say)
        try:
            yield info
        finally:
            release(self, info)
            if not existed and self.is_local:  # a command that failed leaves no empty store
                with contextlib.suppress(OSError):
                    os.rmdir(self.path())


# -- the store lock --------------------------------------------------------------------------


def _proc_start(pid: int) -> str | None:
    """When a process started (clock ticks since boot, Linux), to tell a reused pid apart."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True)
class LockInfo:
    """Who holds a store: host, process, command and when it started (UTC)."""

    host: str
    pid: int
    started: str
    command: str
    proc_start: str | None = None
    token: str = ""

    @classmethod
    def mine(cls, command: str) -> LockInfo:
        pid = os.getpid()
        return cls(
            socket.gethostname(),
            pid,
            datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            command,
            _proc_start(pid),
            uuid.uuid4().hex,
        )

    def stale(self) -> bool | None:
        """True if the holder is gone, False if it runs, None if it runs on another host."""
        if self.host != socket.gethostname():
            return None
        if not _pid_alive(self.pid):
            return True
        now = _proc_start(self.pid)
        return bool(self.proc_start and now and now != self.proc_start)

    def describe(self) -> str:
        return f"`faultprobe {self.command}` (pid {self.pid} on {self.host}, since {self.started})"


def _read_lock(store: Store) -> LockInfo | None:
    try:
        raw = json.loads(store.read_text(LOCK))
        return LockInfo(**{k: raw[k] for k in LockInfo.__dataclass_fields__ if k in raw})
    except FileNotFoundError:
        return None
    except (ValueError, TypeError, KeyError):
        # An unreadable lock file (e.g. a crash while it was written): nobody can hold it.
        return LockInfo("?", -1, "?", "?", None, "unreadable")


def _create(store: Store, info: LockInfo) -> bool:
    """Create the lock file only if absent (exclusive create on local disks)."""
    text = json.dumps(asdict(info), indent=1)
    if store.is_local:
        store.makedirs()
        try:
            fd = os.open(store.path(LOCK), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        return True
    # Object stores have no exclusive create: write, then read back who won.
    if store.exists(LOCK):
        return False
    store.write_text(text, LOCK)
    held = _read_lock(store)
    return held is not None and held.token == info.token


def acquire(store: Store, command: str, force: bool = False, say=None) -> LockInfo:
    """Take the store's lock for `command`, or raise `StoreLocked` saying who holds it.

    A lock left by a process that is gone (same host, pid dead or reused) is reported and
    taken over; a lock from another host (which cannot be checked) needs `force`; a lock of
    a live process on this host is never broken.
    """
    say = say or (lambda msg: None)
    mine = LockInfo.mine(command)
    for _ in range(3):
        if _create(store, mine):
            return mine
        held = _read_lock(store)
        if held is None:
            continue  # released in between
        stale = held.stale() if held.token != "unreadable" else True
        where = store.url(LOCK)
        if stale:
            say(f"note: {where} was left by {held.describe()}, which is gone; taking it over")
        elif stale is None and force:
            say(f"warning: breaking {where} held by {held.describe()} (--force)")
        elif stale is None:
            raise StoreLocked(
                f"{store.root} is locked by {held.describe()}; if no faultprobe command runs "
                f"there any more, run again with --force (or delete {where})"
            )
        else:
            raise StoreLocked(
                f"{store.root} is being written by {held.describe()}; wait for it to finish "
                f"or stop it (one writer at a time)"
            )
        with contextlib.suppress(FileNotFoundError):
            store.fs.rm(store.path(LOCK))
    raise StoreLocked(f"{store.root}: could not take {store.url(LOCK)} (another writer keeps it)")


def release(store: Store, info: LockInfo) -> None:
    """Remove the lock file if it is still ours."""
    held = _read_lock(store)
    if held is not None and held.token == info.token:
        with contextlib.suppress(FileNotFoundError):
            store.fs.rm(store.path(LOCK))
