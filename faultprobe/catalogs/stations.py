"""Station metadata from StationXML or an FDSN station service into the stations table."""

from __future__ import annotations

import fnmatch
import io
import os
from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd
from obspy import Inventory, UTCDateTime, read_inventory

from faultprobe import _compat
from faultprobe.config import Stations
from faultprobe.errors import InputError, ServiceFailure

STATION_COLUMNS = [
    "station_network_code",
    "station_code",
    "station_location_code",
    "station_channels",
    "station_latitude_deg",
    "station_longitude_deg",
    "station_elevation_m",
    "station_sampling_rate_hz",
    "far",
    "station_data_network_code",
]


DAY_S = 86_400.0
STATIONXML_NS = "http://www.fdsn.org/xml/station/1"


class StationError(InputError, ValueError):
    """Station metadata that cannot be read or holds none of the study's stations."""


class StationServiceDown(ServiceFailure, StationError):
    """The FDSN station service cannot be reached or refuses, and no saved copy exists."""


@dataclass
class StationTable:
    """The stations table, the configured stations that could not be found, those in the
    metadata but inactive in the study window, and those active in part of it only."""

    stations: pd.DataFrame
    missing: list[str] = field(default_factory=list)
    inactive: list[str] = field(default_factory=list)
    partial: list[str] = field(default_factory=list)


def load_inventory(cfg: Stations, start: datetime, end: datetime) -> Inventory:
    """Read the StationXML file, or ask the FDSN station service, for the study's stations."""
    if cfg.inventory:
        return read_stationxml(cfg.inventory)
    return parse_stationxml(fetch_stationxml(cfg, start, end), f"the answer of {cfg.fdsn}")


CONFIG_ADVICE = "correct the path, or set [stations] fdsn to ask an FDSN web service instead"


def read_stationxml(
    path: str, key: str = "[stations] inventory", advice: str = CONFIG_ADVICE
) -> Inventory:
    """A StationXML file; a missing or unreadable one is a `StationError` naming it (`key`:
    where the path was given, `advice`: what to do about a missing file)."""
    if os.path.isdir(path):
        raise StationError(f"{path} ({key}) is a directory; give a StationXML file")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise StationError(f"{path}: StationXML file not found ({key}); {advice}") from None
    except OSError as err:
        raise StationError(f"{path}: cannot read the StationXML file ({err.strerror})") from None
    return parse_stationxml(data, f"{path} ({key})")


def _root_tag(data: bytes) -> str:
    """The root element of an XML document as {namespace}name; `ValueError` if not XML."""
    from lxml import etree

    try:
        for _, element in etree.iterparse(io.BytesIO(data), events=("start",)):
            return str(element.tag)
    except etree.XMLSyntaxError as err:
        raise ValueError(f"not an XML document: {err}") from None
    raise ValueError("an empty document")


def parse_stationxml(data: bytes, where: str) -> Inventory:
    """StationXML bytes; anything else (not XML, XML of another schema) is a `StationError`."""
    try:
        tag = _root_tag(data)
    except ValueError as err:
        raise StationError(
            f"{where}: not readable StationXML ({err}); give a StationXML file"
        ) from None
    if tag != f"{{{STATIONXML_NS}}}FDSNStationXML":
        raise StationError(
            f"{where}: not readable StationXML: XML of another kind (root element {tag}; "
            f"StationXML has FDSNStationXML in {STATIONXML_NS}); give a StationXML file"
        )
    try:
        return read_inventory(io.BytesIO(data), format="STATIONXML")
    except Exception as err:  # ObsPy raises many kinds for a damaged document
        first = (str(err).splitlines() or [type(err).__name__])[0]
        raise StationError(f"{where}: not readable StationXML ({first})") from None


def fetch_stationxml(cfg: Stations, start: datetime, end: datetime, timeout: float = 60.0) -> bytes:
    """The study's stations (channel level) from the FDSN station service, as StationXML."""
    from obspy.clients.fdsn.header import URL_MAPPINGS, FDSNException, FDSNNoDataException

    base = URL_MAPPINGS.get(str(cfg.fdsn).upper(), cfg.fdsn)
    codes = cfg.all_codes
    networks = sorted(
        {c.split(".")[0] for c in codes} | {a for v in cfg.network_aliases.values() for a in v}
    )
    stations = sorted({c.split(".")[1] for c in codes})
    buf = io.BytesIO()
    try:
        client = _compat.fdsn_client(cfg.fdsn, timeout)
        client.get_stations(
            network=",".join(networks),
            station=",".join(stations),
            starttime=UTCDateTime(start),
            endtime=UTCDateTime(end),
            level="channel",
            filename=buf,
        )
    except FDSNNoDataException:
        raise StationError(
            f"the FDSN station service {base} knows none of {', '.join(codes)} in the study "
            "window; check [stations] codes and network_aliases"
        ) from None
    except (FDSNException, OSError, ValueError) as err:
        first = (str(err).splitlines() or [type(err).__name__])[0]
        raise StationServiceDown(
            f"cannot get station metadata from the FDSN station service {base} ({first}); "
            "check the network connection and [stations] fdsn, or give [stations] inventory = "
            "a StationXML file"
        ) from None
    return buf.getvalue()


def _pick_channels(sta, patterns: list[str], start: UTCDateTime, end: UTCDateTime):
    """Channels of the first priority pattern that has any active in the study window."""
    active = [
        ch
        for ch in sta.channels
        if (ch.start_date is None or ch.start_date <= end)
        and (ch.end_date is None or ch.end_date >= start)
    ]
    for pattern in patterns:
        chosen = [ch for ch in active if fnmatch.fnmatchcase(ch.code, pattern)]
        if chosen:
            return chosen
    return []


def _day(t: UTCDateTime | None, open_end: str) -> str:
    return t.strftime("%Y-%m-%d") if t is not None else open_end


def _covered(chans, t0: UTCDateTime, t1: UTCDateTime) -> list[tuple[UTCDateTime, UTCDateTime]]:
    """The parts of [t0, t1] that the channels' epochs cover (merged, in order)."""
    spans = sorted((max(ch.start_date or t0, t0), min(ch.end_date or t1, t1)) for ch in chans)
    merged: list[list[UTCDateTime]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return [(a, b) for a, b in merged if b > a]


def _inactive(stations, patterns: list[str], t0: UTCDateTime, t1: UTCDateTime) -> str:
    """Why stations found in the metadata have no channel to use in the study window."""
    chans = [ch for sta in stations for ch in sta.channels]
    active = sorted({ch.code for sta in stations for ch in _pick_channels(sta, ["*"], t0, t1)})
    if active:
        return (
            f"its channels in the study window ({', '.join(active)}) match none of "
            f"[stations] channel_priority {patterns}"
        )
    starts = [ch.start_date for ch in chans if ch.start_date is not None]
    ends = [ch.end_date for ch in chans if ch.end_date is not None]
    if not chans:
        return "in the station metadata without any channel"
    first = min(starts) if len(starts) == len(chans) else None
    last = max(ends) if len(ends) == len(chans) else None
    return (
        f"inactive in the study window {_day(t0, '')} to {_day(t1, '')}: its channels are "
        f"active from {_day(first, 'the beginning')} to {_day(last, 'now')}"
    )


def station_table(inv: Inventory, cfg: Stations, start: datetime, end: datetime) -> StationTable:
    """One row per configured station found in `inv` (network aliases honoured); a station
    in `inv` without channels in the window is `inactive`, one active in part of it `partial`."""
    t0, t1 = UTCDateTime(start), UTCDateTime(end)
    far = set(cfg.far)
    rows, missing, inactive, partial = [], [], [], []
    for code in cfg.all_codes:
        net, sta = code.split(".")
        found, seen = None, []
        for data_net in [net, *cfg.network_aliases.get(net, [])]:
            sub = inv.select(network=data_net, station=sta)
            for network in sub:
                for station in network:
                    seen.append(station)
                    chans = _pick_channels(station, cfg.channel_priority, t0, t1)
                    if chans:
                        found = (data_net, station, chans)
                        break
                if found:
                    break
            if found:
                break
        if not found:
            if seen:
                inactive.append(f"{code} ({_inactive(seen, cfg.channel_priority, t0, t1)})")
            else:
                missing.append(code)
            continue
        data_net, station, chans = found
        cover = _covered(chans, t0, t1)
        if (t1 - t0) - sum(b - a for a, b in cover) > DAY_S:  # a day of slack at the edges
            parts = ", ".join(f"{_day(a, '')} to {_day(b, '')}" for a, b in cover)
            partial.append(
                f"{code}: channels {chans[0].code[:2]}? cover only {parts} of the study window "
                f"{_day(t0, '')} to {_day(t1, '')}; its windows outside that are no_data"
            )
        ch = chans[0]
        rows.append(
            {
                "station_network_code": net,
                "station_code": sta,
                "station_location_code": ch.location_code,
                "station_channels": ch.code[:2],
                "station_latitude_deg": float(station.latitude),
                "station_longitude_deg": float(station.longitude),
                "station_elevation_m": float(station.elevation),
                "station_sampling_rate_hz": float(ch.sample_rate),
                "far": code in far,
                "station_data_network_code": data_net,
            }
        )
    if not rows:
        why = "; ".join(inactive)
        raise StationError(
            f"none of the study's stations {cfg.all_codes} are in the station metadata"
            + (f" and active in the study window ({why})" if why else "")
        )
    return StationTable(pd.DataFrame(rows, columns=STATION_COLUMNS), missing, inactive, partial)
