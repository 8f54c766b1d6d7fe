"""New events for the monitor: the catalog as it is now, and which of its events are new,
pass the study's selection and can be decided.

The catalog is the study's `[catalog]` file read again at every poll, or an FDSN event
service asked for the events since the last poll (less `lookback_s`, for late reports).
A live file is read only as far as it is complete: a last line without its newline waits
for the next poll (unless the file has not changed since the last one), and a file whose
size or time changed during the read, or that is empty or unreadable, is read again at the
next poll (`CatalogUnavailable`).  A repeated id is a revision: its latest row stands.
The study's rules (`faultprobe.catalogs.selection.select_events`) keep the events, with
the study window opened from the monitor's start on (`[monitor] start`, by default the end
of the run's training data).  The isolation rule looks `isolation_after_s` past an origin,
so an event is decided only once the catalog reaches that far: its latest event is later,
or (unless `replay`) the wall clock is `catalog_delay_s` past that.
"""

from __future__ import annotations

import io
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from faultprobe.catalogs.readers import CatalogError, read_catalog
from faultprobe.catalogs.selection import select_events
from faultprobe.config import CatalogSource
from faultprobe.config.stages import MonitorSettings, SelectionSettings
from faultprobe.errors import InputError, ServiceFailure

FAR_FUTURE = pd.Timestamp("2200-01-01T00:00:00Z")
LINE_FORMATS = frozenset({"tan2021", "fdsn_text", "csv"})  # one event per line of text


class EventServiceDown(ServiceFailure, RuntimeError):
    """The FDSN event service could not be used at this poll (asked again at the next)."""


class CatalogUnavailable(InputError, RuntimeError):
    """The catalog file could not be read whole at this poll (read again at the next)."""


@dataclass
class CatalogNow:
    """The catalog at this poll: its events (latest row of each id), the ids that had a
    revision, and the event-service cursor for the next poll."""

    events: pd.DataFrame
    revised: list[str] = field(default_factory=list)
    cursor: pd.Timestamp | None = None


@dataclass
class FileWatch:
    """What the last poll saw of the catalog file (size, mtime), to tell a last line
    still being written from a file that simply ends without a newline."""

    seen: tuple[int, int] | None = None


def _iso(t: pd.Timestamp) -> str:
    return pd.Timestamp(t).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%S.%f")


def fetch_fdsn_events(
    service: str, start: pd.Timestamp, end: pd.Timestamp, timeout: float, magnitude: str
) -> CatalogNow:
    """Events of an FDSN event service between start and end, as a normalised catalog."""
    from obspy import read_events

    from faultprobe.catalogs.readers import quakeml_events
    from faultprobe.pipelines.fdsnhttp import base_url

    query = urllib.parse.urlencode(
        {"starttime": _iso(start), "endtime": _iso(end), "format": "xml", "orderby": "time-asc"}
    )
    url = f"{base_url(service)}/fdsnws/event/1/query?{query}"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            code, body = answer.status, answer.read()
    except urllib.error.HTTPError as err:
        if err.code == 204:
            code, body = 204, b""
        else:
            raise EventServiceDown(
                f"event service {service}: HTTP {err.code} {err.reason}"
            ) from None
    except (urllib.error.URLError, TimeoutError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise EventServiceDown(f"event service {service} cannot be reached ({reason})") from None
    if code == 204 or not body.strip():
        return CatalogNow(quakeml_events([], url, magnitude).events)
    try:
        cat = read_events(io.BytesIO(body))
    except Exception as err:  # ObsPy raises many kinds for unreadable XML
        raise EventServiceDown(f"event service {service}: not QuakeML ({err})") from None
    read = quakeml_events(cat, url, magnitude, revisions=True)
    return CatalogNow(read.events, read.revised)


def complete_part(data: bytes, unchanged: bool) -> bytes:
    """The lines of a text catalog that are complete: a last line without its newline is
    left for the next poll, unless the file has not changed since the last poll."""
    if data.endswith(b"\n") or unchanged:
        return data
    return data[: data.rfind(b"\n") + 1]


def read_catalog_file(source: CatalogSource, watch: FileWatch) -> CatalogNow:
    """The [catalog] file as far as it is complete (see the module docstring)."""
    if source.format not in LINE_FORMATS | {"quakeml"}:  # a dataset folder's metadata
        read = _read(source, source.path, revisions=True)
        return CatalogNow(read.events, read.revised)
    path = Path(source.path)
    again = "read again at the next poll"
    try:
        before = os.stat(path)
        data = path.read_bytes()
        after = os.stat(path)
    except OSError as err:
        raise CatalogUnavailable(
            f"{path}: cannot read the catalog ({err.strerror or err}; catalog.path); {again}"
        ) from None
    sig = (after.st_size, after.st_mtime_ns)
    if (before.st_size, before.st_mtime_ns) != sig or len(data) != after.st_size:
        raise CatalogUnavailable(f"{path}: the catalog changed while it was read; {again}")
    if not data.strip():
        raise CatalogUnavailable(f"{path}: the catalog is empty; {again}")
    unchanged, watch.seen = watch.seen == sig, sig
    if source.format in LINE_FORMATS:
        data = complete_part(data, unchanged)
    with tempfile.TemporaryDirectory(prefix="faultprobe-catalog-") as tmp:
        copy = Path(tmp) / path.name
        copy.write_bytes(data)
        try:
            read = _read(source, str(copy), revisions=True)
        except CatalogError as err:
            raise CatalogUnavailable(f"{str(err).replace(str(copy), str(path))}; {again}") from None
    return CatalogNow(read.events, read.revised)


def _read(source, path: str, revisions: bool):
    return read_catalog(source.model_copy(update={"path": path}), revisions=revisions)


def read_now(
    m: MonitorSettings,
    cursor: pd.Timestamp | None,
    start: pd.Timestamp,
    watch: FileWatch,
    since: pd.Timestamp | None = None,
) -> CatalogNow:
    """The catalog to select from at this poll, and the next cursor (event service only):
    the latest origin time it answered, so the next poll asks from there (less
    `lookback_s`, and back to `since`, the oldest pending event) whether the events are
    live or a past sequence fed now."""
    mon = m.monitor
    if mon.events == "catalog":
        return read_catalog_file(m.catalog, watch)
    begin = start if cursor is None else cursor
    begin = begin - pd.Timedelta(seconds=mon.lookback_s)
    if since is not None:
        begin = min(begin, since)
    begin = begin - pd.Timedelta(seconds=m.selection.selection.isolation_before_s)
    now = fetch_fdsn_events(
        mon.fdsn_event, begin, FAR_FUTURE, mon.request_timeout_s, m.catalog.magnitude
    )
    if now.events.empty:
        now.cursor = cursor
        return now
    latest = pd.Timestamp(now.events["source_origin_time"].max()).tz_convert("UTC")
    now.cursor = latest if cursor is None else max(cursor, latest)
    return now


def monitor_start(m: MonitorSettings, default: pd.Timestamp | None = None) -> pd.Timestamp:
    """`[monitor] start`, else `default` (the end of the run's training data), else the
    study start."""
    t = m.monitor.start or default or m.selection.start
    return pd.Timestamp(t).tz_convert("UTC")


def monitoring_selection(
    m: MonitorSettings, start: pd.Timestamp | None = None
) -> SelectionSettings:
    """The study's selection with its window opened: from the monitor's start, no end."""
    begin = monitor_start(m, start)
    return replace(m.selection, start=begin.to_pydatetime(), end=FAR_FUTURE.to_pydatetime())


def utc_now() -> pd.Timestamp:
    return pd.Timestamp(datetime.now(UTC))


def selected(catalog: pd.DataFrame, m: MonitorSettings, start: pd.Timestamp) -> pd.DataFrame:
    """The catalog's events that pass the study's selection from `start` on."""
    return select_events(catalog, monitoring_selection(m, start)).events


def decidable(
    sel: pd.DataFrame, catalog: pd.DataFrame, m: MonitorSettings, now: pd.Timestamp
) -> pd.Series:
    """Which selected events the catalog reaches `isolation_after_s` past."""
    if catalog.empty:
        return pd.Series(False, index=sel.index)
    horizon = pd.Timestamp(catalog["source_origin_time"].max()).tz_convert("UTC")
    if not m.monitor.replay:
        horizon = max(horizon, now - pd.Timedelta(seconds=m.monitor.catalog_delay_s))
    reach = sel["source_origin_time"] + pd.Timedelta(
        seconds=m.selection.selection.isolation_after_s
    )
    return reach <= horizon


def new_events(
    catalog: pd.DataFrame,
    m: MonitorSettings,
    known: set[str],
    now: pd.Timestamp,
    start: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Events of the catalog that pass the selection, are not known yet and can be decided
    (the catalog reaches `isolation_after_s` past them), in origin-time order."""
    sel = selected(catalog, m, start)
    keep = decidable(sel, catalog, m, now) & ~sel["source_id"].astype(str).isin(known)
    return sel[keep.to_numpy()].reset_index(drop=True)
