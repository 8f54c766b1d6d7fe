"""Stations for a new study: candidates within a radius, ranked by the selectable events each
recorded, the near ones and one far control beyond the study box."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import pandas as pd
from obspy import UTCDateTime

from faultprobe.catalogs.geometry import box_coordinates
from faultprobe.catalogs.stations import _pick_channels, parse_stationxml, read_stationxml
from faultprobe.config import Box, Fault, Shock
from faultprobe.derive.errors import DeriveError, ServiceError
from faultprobe.geodesy import KM_PER_DEGREE, local_xy

CANDIDATE_COLUMNS = [
    "code", "station_network_code", "station_code", "station_latitude_deg",
    "station_longitude_deg", "station_elevation_m", "band", "station_sampling_rate_hz",
    "sensitivity", "start_ns", "end_ns", "distance_km",
]  # fmt: skip
#: a near station records at least this fraction of what the best one records
NEAR_FRACTION = 0.25
_FAR_FUTURE_NS = np.iinfo(np.int64).max
_FAR_PAST_NS = np.iinfo(np.int64).min


def fetch_inventory(
    url: str, main: Shock, radius_km: float, start, end, timeout: float = 60.0
) -> tuple[object, bytes]:
    """Channel-level StationXML of every station within `radius_km` of the epicentre."""
    from obspy.clients.fdsn import Client
    from obspy.clients.fdsn.header import FDSNException, FDSNNoDataException

    buf = io.BytesIO()
    try:
        Client(url, timeout=timeout).get_stations(
            latitude=main.latitude,
            longitude=main.longitude,
            maxradius=radius_km / KM_PER_DEGREE,
            starttime=UTCDateTime(start),
            endtime=UTCDateTime(end),
            level="channel",
            filename=buf,
        )
    except FDSNNoDataException:
        raise DeriveError(
            f"the FDSN station service {url} has no station within {radius_km:g} km of the "
            f"mainshock ({main.latitude:.3f} N, {main.longitude:.3f} E) in the study window; "
            "give a larger --station-radius-km or another --station-service"
        ) from None
    except (FDSNException, OSError, ValueError) as err:
        first = (str(err).splitlines() or [type(err).__name__])[0]
        raise ServiceError(
            f"cannot get station metadata from the FDSN station service {url} ({first}); "
            "check --station-service and the network, or give a StationXML file (--inventory)"
        ) from None
    data = buf.getvalue()
    return parse_stationxml(data, f"the answer of {url}"), data


def load_inventory(path: str):
    """A StationXML file (errors name it)."""
    return read_stationxml(path)


def _ns(t) -> int | None:
    return None if t is None else pd.Timestamp(t.datetime, tz="UTC").value


def candidates(
    inv, main: Shock, radius_km: float, start, end, channel_priority: list[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stations with a channel group of `channel_priority` open in [start, end], and their
    epicentral distance; (within `radius_km`, all with usable channels)."""
    t0, t1 = UTCDateTime(start), UTCDateTime(end)
    rows = []
    for net in inv:
        for sta in net:
            chans = _pick_channels(sta, channel_priority, t0, t1)
            if not chans:
                continue
            ch = chans[0]
            sens = None
            if ch.response is not None and ch.response.instrument_sensitivity is not None:
                sens = ch.response.instrument_sensitivity.value
            starts = [_ns(c.start_date) for c in chans]
            ends = [_ns(c.end_date) for c in chans]
            rows.append(
                {
                    "code": f"{net.code}.{sta.code}",
                    "station_network_code": net.code,
                    "station_code": sta.code,
                    "station_latitude_deg": float(sta.latitude),
                    "station_longitude_deg": float(sta.longitude),
                    "station_elevation_m": float(sta.elevation or 0.0),
                    "band": ch.code[:2],
                    "station_sampling_rate_hz": float(ch.sample_rate),
                    "sensitivity": float(sens) if sens else np.nan,
                    "start_ns": min(s if s is not None else _FAR_PAST_NS for s in starts),
                    "end_ns": max(e if e is not None else _FAR_FUTURE_NS for e in ends),
                }
            )
    table = pd.DataFrame(rows, columns=CANDIDATE_COLUMNS[:-1]).drop_duplicates("code")
    east, north = local_xy(
        table["station_latitude_deg"].to_numpy(float),
        table["station_longitude_deg"].to_numpy(float),
        main.latitude, main.longitude,
    )  # fmt: skip
    table["distance_km"] = np.hypot(east, north)
    table = table.sort_values("distance_km").reset_index(drop=True)
    return table[table["distance_km"] <= radius_km].reset_index(drop=True), table


def no_station_error(
    where: str, main: Shock, radius_km: float, usable: pd.DataFrame
) -> DeriveError:
    """The one line for an inventory without a usable station in range."""
    nearest = (
        f"; the nearest usable one is {usable['code'].iloc[0]} at "
        f"{usable['distance_km'].iloc[0]:.0f} km"
        if len(usable)
        else "; it has no station with such channels at all"
    )
    return DeriveError(
        f"{where}: no station within {radius_km:g} km of the mainshock ({main.latitude:.3f} N, "
        f"{main.longitude:.3f} E) with channels open in the study window{nearest}: give an "
        "inventory of the area (--inventory, --station-service) or a larger --station-radius-km"
    )


def rank(
    stations: pd.DataFrame, events: pd.DataFrame, hypo: Shock, record_km: float
) -> pd.DataFrame:
    """Per station: selected events recorded (open channels, hypocentral distance within
    `record_km`) in all, pre and post, and those in its epochs at any distance."""
    se, sn = local_xy(
        stations["station_latitude_deg"].to_numpy(float),
        stations["station_longitude_deg"].to_numpy(float),
        hypo.latitude, hypo.longitude,
    )  # fmt: skip
    ee, en = local_xy(
        events["source_latitude_deg"].to_numpy(float),
        events["source_longitude_deg"].to_numpy(float),
        hypo.latitude, hypo.longitude,
    )  # fmt: skip
    depth = events["source_depth_km"].to_numpy(float)[:, None]
    dist = np.sqrt((ee[:, None] - se) ** 2 + (en[:, None] - sn) ** 2 + depth**2)
    t = pd.DatetimeIndex(events["source_origin_time"]).as_unit("ns").asi8[:, None]
    open_ = (t >= stations["start_ns"].to_numpy()) & (t <= stations["end_ns"].to_numpy())
    rec = open_ & (dist <= record_km)
    phase = events["phase"].to_numpy()[:, None]
    out = stations.copy()
    out["recorded"] = rec.sum(axis=0)
    out["pre"] = (rec & (phase == "pre")).sum(axis=0)
    out["post"] = (rec & (phase == "post")).sum(axis=0)
    out["in_epoch"] = open_.sum(axis=0)
    return out


@dataclass(frozen=True)
class Choice:
    """The near stations (best first) and the far control (or None), with the table."""

    near: list[str]
    far: str | None
    table: pd.DataFrame


def choose(
    ranked: pd.DataFrame, fault: Fault, box: Box, hypo: Shock, n_near: int, far_margin_km: float
) -> Choice:
    """Near: the `n_near` that recorded most (at least `NEAR_FRACTION` of the best); far:
    the one beyond the box by at least
    `far_margin_km` that was open for most events (the nearest of those)."""
    u, c = box_coordinates(
        fault,
        hypo,
        ranked["station_latitude_deg"].to_numpy(float),
        ranked["station_longitude_deg"].to_numpy(float),
    )
    du = np.maximum.reduce([box.along_strike_km[0] - u, u - box.along_strike_km[1], 0 * u])
    dc = np.maximum.reduce([box.across_strike_km[0] - c, c - box.across_strike_km[1], 0 * c])
    table = ranked.assign(outside_box_km=np.hypot(du, dc))
    beyond = table[(table["outside_box_km"] >= far_margin_km) & (table["in_epoch"] > 0)]
    far = None
    if len(beyond):
        far = beyond.sort_values(["in_epoch", "distance_km"], ascending=[False, True])
        far = str(far["code"].iloc[0])
    best = table.loc[table["code"] != far, "recorded"].max() if len(table) else 0
    rest = table[(table["code"] != far) & (table["recorded"] > 0)]
    rest = rest[rest["recorded"] >= NEAR_FRACTION * best]
    rest = rest.sort_values(["recorded", "distance_km"], ascending=[False, True])
    return Choice(list(rest["code"].iloc[:n_near]), far, table)
