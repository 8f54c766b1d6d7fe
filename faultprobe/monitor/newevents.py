"""New events for the monitor: the catalog as it is now, and which of its events are new,
pass the study's selection and can be decided.

The catalog is the study's `[catalog]` file read again at every poll, or an FDSN event
service asked for the events since the last poll (less `lookback_s`, for late reports).
The study's rules (`faultprobe.catalogs.selection.select_events`) keep the events, with the
study window opened from `[monitor] start` on.  The isolation rule looks `isolation_after_s`
past an origin, so an event is decided only once the catalog reaches that far: its latest
event is later, or (unless `replay`) the wall clock is `catalog_delay_s` past that.
"""

from __future__ import annotations

import io
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime

import pandas as pd

from faultprobe.catalogs.readers import read_catalog
from faultprobe.catalogs.selection import select_events
from faultprobe.config import StudyConfig
from faultprobe.errors import ServiceFailure

FAR_FUTURE = pd.Timestamp("2200-01-01T00:00:00Z")


class EventServiceDown(ServiceFailure, RuntimeError):
    """The FDSN event service could not be used at this poll (asked again at the next)."""


def _iso(t: pd.Timestamp) -> str:
    return pd.Timestamp(t).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%S.%f")


def fetch_fdsn_events(
    service: str, start: pd.Timestamp, end: pd.Timestamp, timeout: float, magnitude: str
) -> pd.DataFrame:
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
        return quakeml_events([], url, magnitude).events
    try:
        cat = read_events(io.BytesIO(body))
    except Exception as err:  # ObsPy raises many kinds for unreadable XML
        raise EventServiceDown(f"event service {service}: not QuakeML ({err})") from None
    return quakeml_events(cat, url, magnitude).events


def read_now(
    cfg: StudyConfig, cursor: pd.Timestamp | None, now: pd.Timestamp
) -> tuple[pd.DataFrame, pd.Timestamp | None]:
    """The catalog to select from at this poll, and the next cursor (event service only):
    the latest origin time it answered, so the next poll asks from there (less
    `lookback_s`) whether the events are live or a past sequence fed now."""
    mon = cfg.monitor
    if mon.events == "catalog":
        return read_catalog(cfg.catalog).events, None
    start = monitor_start(cfg) if cursor is None else cursor
    start = start - pd.Timedelta(seconds=mon.lookback_s + cfg.selection.isolation_before_s)
    events = fetch_fdsn_events(
        mon.fdsn_event, start, FAR_FUTURE, mon.request_timeout_s, cfg.catalog.magnitude
    )
    if events.empty:
        return events, cursor
    latest = pd.Timestamp(events["origin_time"].max()).tz_convert("UTC")
    return events, latest if cursor is None else max(cursor, latest)


def monitor_start(cfg: StudyConfig) -> pd.Timestamp:
    return pd.Timestamp(cfg.monitor.start or cfg.study.start).tz_convert("UTC")


def monitoring_config(cfg: StudyConfig) -> StudyConfig:
    """The study's config with its window opened: from the monitor's start, no end."""
    study = cfg.study.model_copy(
        update={"start": monitor_start(cfg).to_pydatetime(), "end": FAR_FUTURE.to_pydatetime()}
    )
    return cfg.model_copy(update={"study": study})


def utc_now() -> pd.Timestamp:
    return pd.Timestamp(datetime.now(UTC))


def new_events(
    catalog: pd.DataFrame, cfg: StudyConfig, known: set[str], now: pd.Timestamp
) -> pd.DataFrame:
    """Events of the catalog that pass the selection, are not known yet and can be decided
    (the catalog reaches `isolation_after_s` past them), in origin-time order."""
    if catalog.empty:
        return select_events(catalog, monitoring_config(cfg)).events
    sel = select_events(catalog, monitoring_config(cfg)).events
    horizon = pd.Timestamp(catalog["origin_time"].max()).tz_convert("UTC")
    if not cfg.monitor.replay:
        horizon = max(horizon, now - pd.Timedelta(seconds=cfg.monitor.catalog_delay_s))
    reach = sel["origin_time"] + pd.Timedelta(seconds=cfg.selection.isolation_after_s)
    keep = (reach <= horizon) & ~sel["event_id"].astype(str).isin(known)
    return sel[keep.to_numpy()].reset_index(drop=True)
