"""Reading miniSEED that may hold bad records: the good records, and where the bad ones are.

libmseed skips records whose header is garbage (with a warning), but one record whose
header is fine and whose data cannot be decoded (e.g. a broken Steim frame) fails the whole
read, which would cost every window of that channel-day. Here such a read is retried on
halves of the record range until the bad records are alone; their time spans (from their
headers) are returned so that only the windows they cover are affected.
"""

from __future__ import annotations

import io
import threading
import warnings
from dataclasses import dataclass, field

from obspy import Stream, UTCDateTime

from faultprobe import _compat

SKIP_MESSAGE = "Not a SEED record"


@dataclass
class MSeedRead:
    """Good traces, spans (start ns, end ns, message) of undecodable records, notes."""

    stream: Stream
    bad: list[tuple[int, int, str]] = field(default_factory=list)
    skipped: int = 0  # stretches of bytes that were not miniSEED records
    notes: list[str] = field(default_factory=list)


# One decoding at a time per process, and it has to be: ObsPy's libmseed wrapper
# (obspy.io.mseed.headers._LibmseedWrapper) points libmseed's global log callbacks at
# fresh per-call lists before each C call, which releases the GIL, so two threads swap
# their errors and warnings, or one calls the callback the other has freed (a crash); the
# warnings that carry the notes are caught process-wide too. Without this lock two threads
# crashed 3 runs of 3, or misreported a bad file's records in 25 reads of 48
# (benchmarks/mseed_threads.py, docs/performance.md). Parallel decoding comes from Dask's
# worker processes (one decoder each), not from threads.
_DECODING = threading.Lock()


def _decode(src, t0: UTCDateTime | None, t1: UTCDateTime | None) -> tuple[Stream, list[str]]:
    """ObsPy's miniSEED plugin with libmseed's record selection; its warnings returned."""
    with _DECODING, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        st = _compat.read_mseed(src, t0, t1)
    mine = [
        w
        for w in caught
        if not issubclass(w.category, ResourceWarning) and "obspy" in str(w.filename)
    ]
    return st, [str(w.message).splitlines()[0] for w in mine]


def _record_length(data: bytes) -> int | None:
    from obspy.io.mseed.util import get_record_information

    for offset in range(0, min(len(data), 1 << 16), 64):
        try:
            n = int(get_record_information(io.BytesIO(data), offset=offset)["record_length"])
        except Exception:
            continue
        if n >= 128 and n & (n - 1) == 0:
            return n
    return None


def _span(record: bytes) -> tuple[int, int, str] | None:
    from obspy.io.mseed.util import get_record_information

    try:
        info = get_record_information(io.BytesIO(record))
    except Exception:
        return None
    sid = f"{info['network']}.{info['station']}.{info['location']}.{info['channel']}"
    t0, t1 = info["starttime"], info["endtime"]
    return t0.ns, t1.ns, f"{sid} {t0.strftime('%H:%M:%S')}-{t1.strftime('%H:%M:%S')}"


def read_mseed(
    source: str | bytes, t0: UTCDateTime | None = None, t1: UTCDateTime | None = None
) -> MSeedRead:
    """The records of a file (path) or answer (bytes) overlapping [t0, t1], untrimmed.

    Raises the reader's exception only when nothing at all can be decoded.
    """
    src = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        st, messages = _decode(src, t0, t1)
    except Exception:
        if isinstance(source, bytes):
            data = source
        else:
            with open(source, "rb") as f:
                data = f.read()
        salvaged = _salvage(data, t0, t1)
        if salvaged is None:
            raise
        return salvaged
    skipped = sum(SKIP_MESSAGE in m for m in messages)
    others = list(dict.fromkeys(m for m in messages if SKIP_MESSAGE not in m))
    return MSeedRead(st, [], skipped, others)


def _salvage(data: bytes, t0, t1) -> MSeedRead | None:
    """Decode halves of the record range until the undecodable records are isolated."""
    reclen = _record_length(data)
    if reclen is None:
        return None
    n = len(data) // reclen
    out = MSeedRead(Stream())

    def go(a: int, b: int) -> None:
        if b <= a:
            return
        try:
            st, messages = _decode(io.BytesIO(data[a * reclen : b * reclen]), t0, t1)
        except Exception as err:
            if b - a == 1:
                span = _span(data[a * reclen : b * reclen])
                if span is not None:
                    why = (str(err).splitlines() or [type(err).__name__])[-1].strip()
                    out.bad.append((span[0], span[1], f"{span[2]} ({why})"))
                else:
                    out.skipped += 1
                return
            mid = (a + b) // 2
            go(a, mid)
            go(mid, b)
            return
        out.stream += st
        out.skipped += sum(SKIP_MESSAGE in m for m in messages)
        out.notes += [m for m in messages if SKIP_MESSAGE not in m]

    go(0, n)
    if not len(out.stream) and not out.bad:
        return None
    out.notes = list(dict.fromkeys(out.notes))
    return out
