"""Station metadata from StationXML or an FDSN station service into the stations table."""

from __future__ import annotations

import fnmatch
import io
from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd
from obspy import Inventory, UTCDateTime, read_inventory

from faultprobe.config import Stations
from faultprobe.errors import InputError, ServiceFailure

STATION_COLUMNS = [
    "network",
    "station",
    "location",
    "channels",
    "latitude",
    "longitude",
    "elevation_m",
    "sampling_rate",
    "far",
    "data_network",
]


class StationError(InputError, ValueError):
    """Station metadata that cannot be read or holds none of the study's stations."""


class StationServiceDown(ServiceFailure, StationError):
    """The FDSN station service cannot be reached or refuses, and no saved copy exists."""


@dataclass
class StationTable:
    """The stations table and the configured stations that could not be found."""

    stations: pd.DataFrame
    missing: list[str] = field(default_factory=list)


def load_inventory(cfg: Stations, start: datetime, end: datetime) -> Inventory:
    """Read the StationXML file, or ask the FDSN station service, for the study's stations."""
    if cfg.inventory:
        return read_stationxml(cfg.inventory)
    return parse_stationxml(fetch_stationxml(cfg, start, end), f"the answer of {cfg.fdsn}")


def read_stationxml(path: str) -> Inventory:
    """A StationXML file; a missing or unreadable one is a `StationError` naming it."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise StationError(
            f"{path}: StationXML file not found ([stations] inventory); correct the path, or "
            "give [stations] fdsn = a station service instead"
        ) from None
    except OSError as err:
        raise StationError(f"{path}: cannot read the StationXML file ({err.strerror})") from None
    return parse_stationxml(data, path)


def parse_stationxml(data: bytes, where: str) -> Inventory:
    try:
        return read_inventory(io.BytesIO(data), format="STATIONXML")
    except Exception as err:
        first = (str(err).splitlines() or [type(err).__name__])[0]
        raise StationError(f"{where}: not readable StationXML ({first})") from None


def fetch_stationxml(cfg: Stations, start: datetime, end: datetime, timeout: float = 60.0) -> bytes:
    """The study's stations (channel level) from the FDSN station service, as StationXML."""
    from obspy.clients.fdsn import Client
    from obspy.clients.fdsn.header import URL_MAPPINGS, FDSNException, FDSNNoDataException

    base = URL_MAPPINGS.get(str(cfg.fdsn).upper(), cfg.fdsn)
    codes = cfg.all_codes
    networks = sorted(
        {c.split(".")[0] for c in codes} | {a for v in cfg.network_aliases.values() for a in v}
    )
    stations = sorted({c.split(".")[1] for c in codes})
    buf = io.BytesIO()
    try:
        client = Client(cfg.fdsn, timeout=timeout, _discover_services=False)
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


def station_table(inv: Inventory, cfg: Stations, start: datetime, end: datetime) -> StationTable:
    """One row per configured station found in `inv` (network aliases honoured)."""
    t0, t1 = UTCDateTime(start), UTCDateTime(end)
    far = set(cfg.far)
    rows, missing = [], []
    for code in cfg.all_codes:
        net, sta = code.split(".")
        found = None
        for data_net in [net, *cfg.network_aliases.get(net, [])]:
            sub = inv.select(network=data_net, station=sta)
            for network in sub:
                for station in network:
                    chans = _pick_channels(station, cfg.channel_priority, t0, t1)
                    if chans:
                        found = (data_net, station, chans)
                        break
                if found:
                    break
            if found:
                break
        if not found:
            missing.append(code)
            continue
        data_net, station, chans = found
        ch = chans[0]
        rows.append(
            {
                "network": net,
                "station": sta,
                "location": ch.location_code,
                "channels": ch.code[:2],
                "latitude": float(station.latitude),
                "longitude": float(station.longitude),
                "elevation_m": float(station.elevation),
                "sampling_rate": float(ch.sample_rate),
                "far": code in far,
                "data_network": data_net,
            }
        )
    if not rows:
        raise StationError(
            f"none of the study's stations {cfg.all_codes} are in the station metadata"
        )
    return StationTable(pd.DataFrame(rows, columns=STATION_COLUMNS), missing)
