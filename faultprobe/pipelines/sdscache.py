"""A local SDS cache of fetched miniSEED, and a record of which windows were asked for.

Every trace fetched from a web service is written into the SDS day file(s) it spans, so a
re-run or a new window never downloads it twice; answers without data (HTTP 204) are
remembered too. Writers on one machine serialise per file with `fcntl` locks and replace
files atomically, so a killed writer never leaves a half-written day file.
"""

from __future__ import annotations

import fcntl
import io
import os
from contextlib import contextmanager

import numpy as np
from obspy import Stream, UTCDateTime

DAY_NS = 86_400 * 10**9


@contextmanager
def _locked(path: str):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


class SDSCache:
    """SDS-layout miniSEED cache rooted at `root`, plus fetched-interval records."""

    def __init__(self, root: str):
        self.root = root

    def day_path(self, net: str, sta: str, loc: str, cha: str, t: UTCDateTime) -> str:
        return os.path.join(
            self.root,
            f"{t.year}",
            net,
            sta,
            f"{cha}.D",
            f"{net}.{sta}.{loc}.{cha}.D.{t.year}.{t.julday:03d}",
        )

    def add(self, stream: Stream) -> None:
        """Append each trace to the day files it spans (split at midnight)."""
        for tr in stream:
            start, end = tr.stats.starttime.ns, tr.stats.endtime.ns
            for day in range(start // DAY_NS, end // DAY_NS + 1):
                lo, hi = UTCDateTime(ns=day * DAY_NS), UTCDateTime(ns=(day + 1) * DAY_NS - 1)
                part = tr.slice(lo, hi, nearest_sample=False)
                if part.stats.npts == 0:
                    continue
                part = part.copy()
                buf = io.BytesIO()
                if part.data.dtype.kind in "iu":
                    part.data = part.data.astype(np.int32)
                    part.write(buf, format="MSEED", encoding="STEIM2", reclen=512)
                else:
                    part.data = part.data.astype(np.float64)
                    part.write(buf, format="MSEED", encoding="FLOAT64", reclen=512)
                s = part.stats
                path = self.day_path(s.network, s.station, s.location, s.channel, lo)
                with _locked(path):
                    old = b""
                    if os.path.exists(path):
                        with open(path, "rb") as f:
                            old = f.read()
                    with open(path + ".tmp", "wb") as f:
                        f.write(old + buf.getvalue())
                    os.replace(path + ".tmp", path)

    def has_data(self, station, t0: UTCDateTime, t1: UTCDateTime) -> bool:
        """Whether any day file of the station's channels (e.g. HH?) under its own network
        code lies between t0 and t1 (whole days)."""
        import glob

        day = UTCDateTime(t0.date)
        while day < t1:
            folder = os.path.join(self.root, f"{day.year}", station.network, station.station)
            name = f"*.D.{day.year}.{day.julday:03d}"
            if glob.glob(os.path.join(folder, f"{station.channels}?.D", name)):
                return True
            day += 86_400
        return False

    def _record_path(self, key: str) -> str:
        return os.path.join(self.root, ".fetched", f"{key}.txt")

    def record(self, key: str, intervals: list[tuple[int, int]]) -> None:
        """Remember that these [start, end] ns ranges were asked for and answered."""
        path = self._record_path(key)
        with _locked(path):
            with open(path, "a") as f:
                f.write("".join(f"{a} {b} ok\n" for a, b in intervals))
                f.flush()
                os.fsync(f.fileno())

    def covered(self, key: str, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """Which [start, end] ranges lie inside ranges already fetched."""
        path = self._record_path(key)
        if not os.path.exists(path):
            return np.zeros(len(starts), bool)
        rows = []
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 3 and parts[2] == "ok":  # a line cut by a crash is ignored
                    rows.append((int(parts[0]), int(parts[1])))
        if not rows:
            return np.zeros(len(starts), bool)
        iv = np.array(sorted(rows), dtype=np.int64)
        merged = [list(iv[0])]
        for a, b in iv[1:]:
            if a <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], b)
            else:
                merged.append([a, b])
        m = np.array(merged, dtype=np.int64)
        k = np.searchsorted(m[:, 0], starts, side="right") - 1
        ok = k >= 0
        kk = np.clip(k, 0, None)
        return ok & (m[kk, 1] >= ends)
