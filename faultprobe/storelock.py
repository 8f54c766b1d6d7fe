"""The store lock: one writer at a time.

`STORE/faultprobe.lock` says who writes (host, pid, start time in UTC, command). It is
created exclusively on local disks (on object stores: written, then read back to see who
won). A lock left by a process that is gone (same host, pid dead or reused) is reported and
taken over, so a run killed with SIGKILL never blocks the next; a lock from another host
cannot be checked and is broken only when asked (`force`); a lock of a live process on this
host is never broken.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from faultprobe.errors import LockedError
from faultprobe.store import Store, StoreError

LOCK = "faultprobe.lock"
log = logging.getLogger(__name__)


class StoreLocked(LockedError, StoreError):
    """Another command holds the store's lock."""


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
        # The lock appears with its contents or not at all: written to a temporary file,
        # then hard-linked to its name (exclusive), so a kill in between never leaves an
        # empty lock that names nobody.
        path = store.path(LOCK)
        tmp = f"{path}.tmp-{os.getpid()}-{info.token}"
        with open(tmp, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        except OSError:  # a file system without hard links: exclusive create, then write
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                return False
            with os.fdopen(fd, "w") as f:
                f.write(text)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.remove(tmp)
        return True
    # Object stores have no exclusive create: write, then read back who won.
    if store.exists(LOCK):
        return False
    store.write_text(text, LOCK)
    held = _read_lock(store)
    return held is not None and held.token == info.token


def acquire(store: Store, command: str, force: bool = False) -> LockInfo:
    """Take the store's lock for `command`, or raise `StoreLocked` saying who holds it.

    See the module's docstring for when a lock held by someone else is taken over (a
    warning is logged when it is).
    """
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
            log.warning(
                f"note: {where} was left by {held.describe()}, which is gone; taking it over"
            )
        elif stale is None and force:
            log.warning(f"warning: breaking {where} held by {held.describe()} (--force)")
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
