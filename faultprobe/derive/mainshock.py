"""The mainshock of a new study: origin, magnitude and nodal planes from a QuakeML file, an
FDSN event service or a catalog row."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from faultprobe.catalogs.readers import _event_id_from_resource
from faultprobe.config import Shock
from faultprobe.derive.errors import DeriveError, ServiceError


@dataclass(frozen=True)
class NodalPlane:
    """One nodal plane of a focal mechanism (degrees; dipping toward strike + 90°)."""

    strike: float
    dip: float
    rake: float


@dataclass(frozen=True)
class Mainshock:
    """The mainshock as a config `Shock`, its nodal planes and where each value came from."""

    shock: Shock
    planes: tuple[NodalPlane, ...]
    source: str
    magnitude_type: str
    event_id: str | None = None
    region: str | None = None


def _first_line(err: BaseException) -> str:
    return (str(err).splitlines() or [type(err).__name__])[0]


def _planes(event) -> tuple[NodalPlane, ...]:
    """The nodal planes of the preferred focal mechanism (else the first that has them)."""
    mechs = [event.preferred_focal_mechanism(), *event.focal_mechanisms]
    for fm in mechs:
        if fm is None or fm.nodal_planes is None:
            continue
        planes = [
            NodalPlane(float(p.strike), float(p.dip), float(p.rake if p.rake is not None else -90))
            for p in (fm.nodal_planes.nodal_plane_1, fm.nodal_planes.nodal_plane_2)
            if p is not None and p.strike is not None and p.dip is not None
        ]
        if planes:
            return tuple(planes)
    return ()


def _magnitude(event):
    mags = [m for m in event.magnitudes if m.mag is not None]
    pref = event.preferred_magnitude()
    return pref if pref is not None and pref.mag is not None else (mags[0] if mags else None)


def from_obspy(cat, where: str) -> Mainshock:
    """The mainshock of an ObsPy Catalog (the largest event when it holds several)."""
    if len(cat) == 0:
        raise DeriveError(
            f"{where}: no event in it; give the mainshock's QuakeML (one event with its "
            "origin and magnitude)"
        )
    sizes = [(m.mag if (m := _magnitude(ev)) is not None else -np.inf) for ev in cat]
    event = cat[int(np.argmax(sizes))]
    eid = _event_id_from_resource(str(event.resource_id))
    origin = event.preferred_origin() or (event.origins[0] if event.origins else None)
    if origin is None or origin.time is None or origin.latitude is None:
        raise DeriveError(
            f"{where}: event {eid} has no origin (time, latitude, longitude, depth); a "
            "mainshock needs one: export the event with its origin, or give --time and a "
            "--catalog that holds the mainshock"
        )
    if origin.depth is None:
        raise DeriveError(
            f"{where}: event {eid}'s origin has no depth; export the event with a located "
            "origin, or give --time and a --catalog that holds the mainshock"
        )
    mag = _magnitude(event)
    if mag is None:
        raise DeriveError(
            f"{where}: event {eid} has no magnitude; a mainshock needs one (the window, the "
            "other shocks and the rupture length scale with it): export the event with its "
            "magnitudes, or give --time and a --catalog that holds the mainshock"
        )
    desc = next((d.text for d in event.event_descriptions if d.type == "region name"), None)
    mtype = mag.magnitude_type or "M"
    shock = Shock(
        name=_place(desc) or "mainshock",
        time=pd.Timestamp(origin.time.datetime, tz="UTC").to_pydatetime(),
        latitude=float(origin.latitude),
        longitude=float(origin.longitude),
        depth_km=float(origin.depth) / 1000.0,
        magnitude=float(mag.mag),
    )
    more = f" (the largest of its {len(cat)} events)" if len(cat) > 1 else ""
    how = f"{where}, event {eid}{more}: preferred origin and {mtype} {mag.mag:.1f}"
    return Mainshock(shock, _planes(event), how, mtype, eid, desc)


def _place(region: str | None) -> str | None:
    """'1 km W Accumoli (RI)' → 'Accumoli': the place name of a region description."""
    if not region:
        return None
    text = re.sub(r"^\s*[\d.]+\s*km\s+[NSEW]{1,3}\s+", "", region)
    text = re.sub(r"\s*\(.*?\)\s*", " ", text).strip()
    return text.title() if text else None


def read_mainshock(path: str) -> Mainshock:
    """The mainshock of a QuakeML file."""
    from obspy import read_events

    try:
        cat = read_events(str(path), format="QUAKEML")
    except FileNotFoundError:
        raise DeriveError(f"{path}: QuakeML file not found (--quakeml); correct the path") from None
    except Exception as err:  # ObsPy raises many kinds for unreadable XML
        raise DeriveError(
            f"{path}: not readable QuakeML ({_first_line(err)}); give the mainshock as "
            "QuakeML (an FDSN event service's answer)"
        ) from None
    return from_obspy(cat, str(path))


def fetch_mainshock(url: str, event_id: str, timeout: float = 60.0) -> Mainshock:
    """The mainshock from an FDSN event service, by its event id."""
    from obspy.clients.fdsn import Client
    from obspy.clients.fdsn.header import FDSNException, FDSNNoDataException

    try:
        client = Client(url, timeout=timeout)
        cat = client.get_events(eventid=event_id)
    except FDSNNoDataException:
        raise DeriveError(
            f"the FDSN event service {url} has no event {event_id}; check --event-id"
        ) from None
    except (FDSNException, OSError, ValueError) as err:
        raise ServiceError(
            f"cannot get event {event_id} from the FDSN event service {url} "
            f"({_first_line(err)}); check --event-service and the network, or give the "
            "event as a QuakeML file (--quakeml)"
        ) from None
    return from_obspy(cat, f"event service {url}")


def from_catalog(
    events: pd.DataFrame, time: pd.Timestamp, tolerance_s: float, where: str
) -> Mainshock:
    """The largest catalog event within `tolerance_s` of `time` (no focal mechanism)."""
    t = pd.Timestamp(time)
    t = t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")
    dt = (events["source_origin_time"] - t).dt.total_seconds().abs()
    near = events[(dt <= tolerance_s) & events["source_magnitude"].notna()]
    if near.empty:
        raise DeriveError(
            f"{where}: no event with a magnitude within {tolerance_s:g} s of {t.isoformat()}; "
            "give the mainshock's origin time in UTC (--time), or a larger --time-tolerance-s"
        )
    row = near.loc[near["source_magnitude"].idxmax()]
    shock = Shock(
        name="mainshock",
        time=row["source_origin_time"].to_pydatetime(),
        latitude=float(row["source_latitude_deg"]),
        longitude=float(row["source_longitude_deg"]),
        depth_km=max(float(row["source_depth_km"]), 0.0),
        magnitude=float(row["source_magnitude"]),
    )
    mtype = str(row["source_magnitude_type"]) or "M"
    how = (
        f"{where}, event {row['source_id']}: the largest within {tolerance_s:g} s of "
        f"{t.isoformat()} ({mtype} {shock.magnitude:.1f}; no focal mechanism)"
    )
    return Mainshock(shock, (), how, mtype, str(row["source_id"]))
