"""Waveform sources behind one small interface, and the SDS archive reader.

A source takes, per station, the time ranges of a block's windows and gives back, per
window, the raw ObsPy traces that cover it, or a status and a reason when there are
none. Preprocessing (`preprocess.py`) turns those into the cube's arrays, the same way
for every source, so a cube built from SDS files equals one built from FDSN or the
simulator when the samples are the same.
"""

from __future__ import annotations

import fnmatch
import glob
import os
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from obspy import Stream, UTCDateTime

from faultprobe.pipelines.mseed import read_mseed
from faultprobe.pipelines.plan import StationInfo

DAY_NS = 86_400 * 10**9
# miniSEED records may start before midnight and end after it: look at the previous
# (next) day's file when a window is this close to midnight.
FILE_BORDER_NS = 60 * 10**9


@dataclass(frozen=True)
class Segment:
    """A contiguous run of samples of one channel (a view, no copy)."""

    seed_id: str
    start_ns: int
    rate: float
    data: np.ndarray

    @property
    def channel(self) -> str:
        return self.seed_id.rsplit(".", 1)[-1]

    @property
    def end_ns(self) -> int:
        return self.start_ns + int(round((len(self.data) - 1) * 1e9 / self.rate))

    def cut(self, start_ns: int, end_ns: int) -> Segment | None:
        """The samples inside [start, end] (a copy), or None.

        A copy, so that a window never keeps the day or span it was cut from alive: a
        block's windows wait for one another before they are processed together."""
        step = 1e9 / self.rate
        i0 = max(0, int(np.ceil((start_ns - self.start_ns) / step - 1e-6)))
        i1 = min(len(self.data), int(np.floor((end_ns - self.start_ns) / step + 1e-6)) + 1)
        if i1 <= i0:
            return None
        return Segment(
            self.seed_id, self.start_ns + int(round(i0 * step)), self.rate, self.data[i0:i1].copy()
        )


def segments(stream: Stream) -> list[Segment]:
    """ObsPy traces as segments (masked arrays split at their gaps)."""
    out = []
    for tr in stream.split() if any(np.ma.is_masked(t.data) for t in stream) else stream:
        out.append(
            Segment(
                tr.id, tr.stats.starttime.ns, float(tr.stats.sampling_rate), np.asarray(tr.data)
            )
        )
    return out


@dataclass
class Fetched:
    """The raw samples of one (event, station) window, or why there are none."""

    stream: list[Segment] | None
    status: str = "ok"
    reason: str = ""
    attempts: int = 1
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Request:
    """One station and the [start, end] ranges (UTC ns) of the windows wanted from it."""

    station: StationInfo
    starts_ns: np.ndarray
    ends_ns: np.ndarray


class Source(Protocol):
    """A block of windows per station in, raw traces (or statuses) per window out."""

    name: str

    def fetch(self, requests: list[Request]) -> list[list[Fetched]]: ...


def _utc(ns: int) -> UTCDateTime:
    return UTCDateTime(ns=int(ns))


def _days(start_ns: int, end_ns: int) -> list[int]:
    """Day numbers (since 1970) whose files may hold samples of [start, end]."""
    return list(
        range((start_ns - FILE_BORDER_NS) // DAY_NS, (end_ns + FILE_BORDER_NS) // DAY_NS + 1)
    )


def matches(seed_id: str, asked: str) -> bool:
    """Whether a record's NET.STA.LOC.CHA is the one asked (channel may hold ? and *)."""
    got, want = seed_id.split("."), asked.split(".")
    return got[:3] == want[:3] and fnmatch.fnmatchcase(got[3], want[3])


@dataclass
class DayRead:
    """What one station-day gave: segments, notes, unreadable files and flagged spans.

    A flagged span (start ns, end ns, status, reason) gives every window it touches that
    status: an undecodable record ('error') or records of another station ('wrong_data').
    """

    segments: list[Segment] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    flags: list[tuple[int, int, str, str]] = field(default_factory=list)


class SDSSource:
    """Reads an SDS archive (YEAR/NET/STA/CHAN.D/NET.STA.LOC.CHAN.D.YEAR.DOY).

    Each station-day file is read once for all the windows that fall in it (only the
    records between the first and the last of those windows are decoded; the windows are
    visited in time order and the last few days stay in memory), instead of one read per
    window; a window across midnight takes the traces of both days. Days with at most
    `sparse` windows are read per window, with the same record selection, so sparse days
    cost no more than the per-window way.
    """

    name = "sds"

    def __init__(self, root: str, keep_days: int = 3, sparse: int = 4):
        self.root = root
        self.keep_days = keep_days
        self.sparse = sparse

    def paths(
        self, network: str, station: str, location: str, channels: str, day: int
    ) -> list[str]:
        t = UTCDateTime(ns=day * DAY_NS)
        pattern = os.path.join(
            self.root,
            f"{t.year}",
            network,
            station,
            f"{channels}?.D",
            f"{network}.{station}.{location}.{channels}?.D.{t.year}.{t.julday:03d}",
        )
        return sorted(glob.glob(pattern))

    def _read_day(self, st: StationInfo, day: int, t0_ns: int, t1_ns: int) -> DayRead:
        """Records of one station-day between t0 and t1, checked against the asked codes."""
        t0, t1 = _utc(t0_ns), _utc(t1_ns)
        out = DayRead()
        traces = Stream()
        for net in (st.network, *st.aliases):
            paths = self.paths(net, st.station, st.location, st.channels, day)
            if not paths:
                continue
            for path in paths:
                try:
                    got = read_mseed(path, t0, t1)
                except Exception as err:  # nothing decodable: a status, not a crash
                    msg = str(err).split(":")[0] or type(err).__name__
                    out.errors.append(f"cannot read miniSEED {path} ({msg})")
                    continue
                name = os.path.basename(path)
                if got.skipped and not len(got.stream) and not got.bad:
                    out.errors.append(f"cannot read miniSEED {path} (no valid records)")
                    continue
                if got.skipped:
                    out.notes.append(f"{name}: skipped {got.skipped} unreadable stretches")
                out.notes += [f"{name}: {m}" for m in got.notes]
                out.flags += [
                    (a, b, "error", f"corrupt miniSEED record in {path}: {what}")
                    for a, b, what in got.bad
                ]
                asked = f"{net}.{st.station}.{st.location}.{st.channels}?"
                for tr in got.stream:
                    if not matches(tr.id, asked):
                        out.flags.append(
                            (
                                tr.stats.starttime.ns,
                                tr.stats.endtime.ns,
                                "wrong_data",
                                f"{path} holds records of {tr.id}, not {asked}",
                            )
                        )
                        continue
                    tr.stats.network = st.network  # aliases read as the study's code
                    traces += tr
            break
        out.segments = segments(traces)
        return out

    def fetch(self, requests: list[Request]) -> list[list[Fetched]]:
        return [self._station(r) for r in requests]

    def _station(self, req: Request) -> list[Fetched]:
        days: OrderedDict[int, DayRead] = OrderedDict()
        out: list[Fetched | None] = [None] * len(req.starts_ns)
        span: dict[int, list[int]] = {}  # day -> [first start, last end, n windows]
        for a, b in zip(req.starts_ns, req.ends_ns):
            for day in _days(int(a), int(b)):
                lo, hi, n = span.get(day, [int(a), int(b), 0])
                span[day] = [min(lo, int(a)), max(hi, int(b)), n + 1]
        for i in np.argsort(req.starts_ns, kind="stable"):
            start, end = int(req.starts_ns[i]), int(req.ends_ns[i])
            cut, notes, errors, flagged = [], [], [], []
            for day in _days(start, end):
                lo, hi, count = span[day]
                if count <= self.sparse:
                    got = self._read_day(req.station, day, start, end)
                else:
                    if day not in days:
                        days[day] = self._read_day(req.station, day, lo, hi)
                        while len(days) > self.keep_days:
                            days.popitem(last=False)
                    got = days[day]
                cut += [
                    c
                    for g in got.segments
                    if g.start_ns <= end and g.end_ns >= start and (c := g.cut(start, end))
                ]
                notes += got.notes
                errors += got.errors
                flagged += [(s, r) for a, b, s, r in got.flags if a <= end and b >= start]
            if flagged:
                status = "wrong_data" if any(s == "wrong_data" for s, _ in flagged) else "error"
                why = "; ".join(dict.fromkeys(r for s, r in flagged if s == status))
                out[i] = Fetched(None, status, why)
            elif errors and not len(cut):
                out[i] = Fetched(None, "error", "; ".join(dict.fromkeys(errors)))
            elif not len(cut):
                out[i] = Fetched(None, "no_data", f"no data for {req.station.code} in the archive")
            else:
                out[i] = Fetched(cut, notes=list(dict.fromkeys(notes + errors)))
        return out  # type: ignore[return-value]


class WindowSource:
    """Any object with ObsPy's `get_waveforms(net, sta, loc, cha, t0, t1)`, one call per window.

    Used for the simulator (`faultprobe.synthetic.archive.SyntheticArchive`) and, in the
    benchmark, for ObsPy's own SDS client as the per-window baseline.
    """

    def __init__(self, client, name: str):
        self.client = client
        self.name = name

    def fetch(self, requests: list[Request]) -> list[list[Fetched]]:
        out = []
        for req in requests:
            st = req.station
            rows = []
            for start, end in zip(req.starts_ns, req.ends_ns):
                try:
                    got = self.client.get_waveforms(
                        st.network,
                        st.station,
                        st.location,
                        f"{st.channels}?",
                        _utc(start),
                        _utc(end),
                    )
                except Exception as err:
                    rows.append(Fetched(None, "error", f"{self.name}: {type(err).__name__}: {err}"))
                    continue
                if not len(got):
                    rows.append(Fetched(None, "no_data", f"no data for {st.code} from {self.name}"))
                else:
                    rows.append(Fetched(segments(got)))
            out.append(rows)
        return out


def _matches(seed_id: str, st: StationInfo) -> bool:
    """Whether a NET.STA.LOC.CHA id is one of the station's channels (aliases allowed)."""
    net, sta, loc, cha = seed_id.split(".")
    return (
        net in (st.network, *st.aliases)
        and sta == st.station
        and loc == st.location
        and cha.startswith(st.channels)
    )


class StreamSource:
    """Windows cut from traces already in memory (an ObsPy Stream), e.g. for prediction.

    Traces are matched to a station by network (or one of its aliases) and station code;
    each window gets the samples of every matching trace that overlaps it.
    """

    def __init__(self, stream: Stream, name: str = "stream"):
        self.name = name
        self._segments = segments(stream)

    def fetch(self, requests: list[Request]) -> list[list[Fetched]]:
        out = []
        for req in requests:
            st = req.station
            mine = [
                Segment(f"{st.network}.{s.seed_id.split('.', 1)[1]}", s.start_ns, s.rate, s.data)
                for s in self._segments
                if _matches(s.seed_id, st)
            ]
            rows = []
            for a, b in zip(req.starts_ns, req.ends_ns):
                cut = [c for g in mine if g.start_ns <= b and g.end_ns >= a and (c := g.cut(a, b))]
                if cut:
                    rows.append(Fetched(cut))
                else:
                    rows.append(Fetched(None, "no_data", f"no data for {st.code} in the stream"))
            out.append(rows)
        return out
