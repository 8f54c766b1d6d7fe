"""The simulated network: the built-in table of real Norcia stations and its StationXML.

Values from docs/norcia2016.md (INGV StationXML, channels valid on 2016-10-30).  A
`[[synthetic.stations]]` table in the config replaces the built-in one.
"""

from __future__ import annotations

from dataclasses import dataclass

from obspy import UTCDateTime
from obspy.core.inventory import (
    Channel,
    Inventory,
    Network,
    Site,
    Station,
)

from faultprobe.config import ConfigError, SyntheticStation
from faultprobe.config.stages import SynthWorld
from faultprobe.synthetic.instrument import FIRST, Epoch, epoch_dates

# code, latitude, longitude, elevation_m, band, sampling_rate, sensitivity counts/(m/s)
_NORCIA: tuple[tuple[str, float, float, float, str, float, float], ...] = (
    ("IV.NRCA", 42.83355, 13.11427, 927.0, "HH", 100.0, 1.17965e9),
    ("IV.FDMO", 43.0365, 13.0873, 550.0, "HH", 100.0, 4.786e8),
    ("IV.MC2", 42.911418, 13.188976, 1888.0, "EH", 100.0, 5.03316e8),
    ("IV.MMO1", 42.899333, 13.326833, 957.0, "EH", 100.0, 5.03316e8),
    ("IV.SMA1", 42.6305, 13.3353, 1150.0, "EH", 100.0, 5.03316e8),
    ("8P.T1212", 42.751556, 13.044636, 869.0, "EH", 125.0, 2.51652e8),
    ("8P.T1213", 42.724918, 13.125775, 860.0, "EH", 125.0, 2.51652e8),
    ("8P.T1214", 42.759537, 13.208697, 1490.0, "EH", 125.0, 2.51652e8),
    ("8P.T1216", 42.890667, 13.019, 620.0, "EH", 125.0, 2.51652e8),
    ("8P.T1244", 42.75697, 13.29779, 950.0, "EH", 100.0, 5.03316e8),
)

BUILTIN: dict[str, SyntheticStation] = {
    row[0]: SyntheticStation(
        code=row[0],
        latitude=row[1],
        longitude=row[2],
        elevation_m=row[3],
        band=row[4],
        sampling_rate=row[5],
        sensitivity=row[6],
    )
    for row in _NORCIA
}

COMPONENTS = ("E", "N", "Z")


@dataclass(frozen=True)
class SimStation:
    """One simulated station with everything the renderer needs."""

    network: str
    station: str
    latitude: float
    longitude: float
    elevation_m: float
    band: str
    sampling_rate: float
    sensitivity: float
    kappa_s: float

    @property
    def code(self) -> str:
        return f"{self.network}.{self.station}"

    @property
    def channels(self) -> tuple[str, str, str]:
        return tuple(f"{self.band}{c}" for c in COMPONENTS)  # type: ignore[return-value]


def simulated_stations(world: SynthWorld) -> list[SimStation]:
    """The study's stations (codes and far stations) with coordinates and rates."""
    table = {s.code: s for s in world.synthetic.stations} or BUILTIN
    for change in world.synthetic.station_changes:
        if change.station not in world.station_codes:
            raise ConfigError(
                f"{world.source_path or '<config>'}: synthetic.station_changes: station "
                f"{change.station} is not one of the study's stations "
                f"({', '.join(world.station_codes)})"
            )
    out = []
    for code in world.station_codes:
        if code not in table:
            where = "[[synthetic.stations]]" if world.synthetic.stations else "the built-in table"
            raise ConfigError(
                f"{world.source_path or '<config>'}: station {code} is not in {where}; "
                f"add it under [[synthetic.stations]] (known: {', '.join(sorted(table))})"
            )
        s = table[code]
        net, sta = code.split(".")
        kappa = world.synthetic.kappa_s if s.kappa_s is None else s.kappa_s
        out.append(
            SimStation(
                net,
                sta,
                s.latitude,
                s.longitude,
                s.elevation_m,
                s.band,
                s.sampling_rate,
                s.sensitivity,
                kappa,
            )  # fmt: skip
        )
    return out


def build_inventory(
    stations: list[SimStation],
    start: UTCDateTime,
    created: UTCDateTime,
    epochs: list[list[Epoch]] | None = None,
) -> Inventory:
    """An ObsPy Inventory with E/N/Z channels, one channel epoch per documented epoch.

    Without `epochs` every station has one epoch with a flat velocity response (its
    sensitivity); see `faultprobe.synthetic.instrument` for the others.
    """
    networks: dict[str, Network] = {}
    for i, s in enumerate(stations):
        net = networks.setdefault(s.network, Network(code=s.network, stations=[], start_date=start))
        own = epochs[i] if epochs else [Epoch(FIRST, s.sampling_rate, s.sensitivity)]
        chans = []
        for epoch, (begin, end) in zip(own, epoch_dates(own, start)):
            for comp, cha in zip(COMPONENTS, s.channels):
                azimuth, dip = {"E": (90.0, 0.0), "N": (0.0, 0.0), "Z": (0.0, -90.0)}[comp]
                chans.append(
                    Channel(
                        code=cha,
                        location_code="",
                        latitude=s.latitude,
                        longitude=s.longitude,
                        elevation=s.elevation_m,
                        depth=0.0,
                        azimuth=azimuth,
                        dip=dip,
                        sample_rate=epoch.sampling_rate,
                        start_date=begin,
                        end_date=end,
                        response=epoch.response(),
                    )  # fmt: skip
                )
        net.stations.append(
            Station(
                code=s.station,
                latitude=s.latitude,
                longitude=s.longitude,
                elevation=s.elevation_m,
                channels=chans,
                start_date=start,
                creation_date=start,
                site=Site(name=f"faultprobe synthetic {s.code}"),
            )  # fmt: skip
        )
    return Inventory(
        networks=list(networks.values()), source="faultprobe synthetic", sender="faultprobe",
        created=created, module="faultprobe.synthetic",
    )  # fmt: skip
