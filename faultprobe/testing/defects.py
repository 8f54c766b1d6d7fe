"""Small SDS archives with known defects, for the ingest tests, the benchmark and users
who want to see how every bad input ends up in traces.parquet.

Writes STORE/events.parquet and STORE/stations.parquet (columns: docs/architecture.md) and
an SDS archive of Steim2 miniSEED station-day files: segments around each event (or whole days),
a 125 Hz station, a station without its E component, a station with no data at all, and
on station DEF: short and long gaps, identical and conflicting overlaps, a clipped and an
all-zero trace, a missing window and one corrupt day file. Event 0's window crosses
midnight. `expected` gives the status each (event, station) must end up with.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from obspy import Stream, Trace, UTCDateTime

from faultprobe import store as fp_store
from faultprobe.geodesy import epicentral_km
from faultprobe.pipelines.velocity import PTable

DAY = 86_400.0
T0 = UTCDateTime("2016-10-29T00:00:00Z")

# code, rate, channels, lat, lon, elevation
STATIONS = [
    ("IV", "NRCA", 100.0, "HH", 42.83355, 13.11427, 927.0),
    ("8P", "T1212", 125.0, "EH", 42.751556, 13.044636, 869.0),
    ("IV", "MISS", 100.0, "HH", 42.911418, 13.188976, 1888.0),
    ("IV", "DEF", 100.0, "HH", 42.899333, 13.326833, 957.0),
    ("IV", "GHOST", 100.0, "HH", 42.6305, 13.3353, 1150.0),
]
# DEF defects by event index; events on day 2 at DEF fall in a corrupt file.
DEF_DEFECTS = {
    1: "short_gap",
    2: "long_gap",
    3: "clipped",
    4: "zeros",
    5: "dup_overlap",
    6: "bad_overlap",
    7: "absent",
}


@dataclass
class ToyStudy:
    store: str
    sds_root: str
    events: pd.DataFrame
    stations: pd.DataFrame
    expected: dict[tuple[str, str], str] = field(default_factory=dict)


def _events(n: int, days: int, rng: np.random.Generator) -> pd.DataFrame:
    """Event 0 at 23:59:57 of day 0 (its window crosses midnight); the last two on the
    last day (whose DEF file is corrupt); the rest in between."""
    if days < 3:
        t = np.sort(rng.uniform(600.0, days * DAY - 600.0, n))
    else:
        mid = rng.uniform(DAY + 600.0, (days - 1) * DAY - 600.0, n - 3)
        last = rng.uniform((days - 1) * DAY + 600.0, days * DAY - 600.0, 2)
        t = np.concatenate([[DAY - 3.0], np.sort(mid), np.sort(last)])
    origin = pd.to_datetime([(T0 + float(x)).datetime for x in t], utc=True)
    return pd.DataFrame(
        {
            "source_id": [f"toy{i:04d}" for i in range(n)],
            "source_origin_time": origin,
            "source_latitude_deg": 42.83 + rng.normal(0, 0.03, n),
            "source_longitude_deg": 13.11 + rng.normal(0, 0.03, n),
            "source_depth_km": rng.uniform(3.0, 11.0, n),
            "source_magnitude": rng.uniform(0.6, 2.5, n).round(2),
            "source_magnitude_type": "Mw",
            "fault_distance_km": rng.uniform(0, 3, n),
            "phase": np.where(np.arange(n) < n // 2, "pre", "post"),
            "ttf_s": (t - t[n // 2]).astype(float),
        }
    )


def _stations() -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "station_network_code": n,
                "station_code": s,
                "station_location_code": "",
                "station_channels": c,
                "station_latitude_deg": la,
                "station_longitude_deg": lo,
                "station_elevation_m": el,
                "station_sampling_rate_hz": r,
                "far": s == "GHOST",
            }
            for n, s, r, c, la, lo, el in STATIONS
        ]
    )


def _signal(
    n: int, rate: float, p_index: float, amp: float, rng: np.random.Generator
) -> np.ndarray:
    """Three components: noise plus a decaying P and S wavelet (counts, int32)."""
    t = (np.arange(n) - p_index) / rate
    x = rng.normal(0, 40.0, (3, n))
    for lag, a in ((0.0, 1.0), (0.8 * p_index / rate, 2.0)):
        tt = t - lag
        w = np.where(
            tt >= 0, np.exp(-np.clip(tt, 0, None) / 1.2) * np.sin(2 * np.pi * 7.0 * tt), 0.0
        )
        x += a * amp * w[None, :] * rng.uniform(0.5, 1.0, (3, 1))
    return np.round(x).astype(np.int32)


def write_toy_study(
    folder: str,
    n_events: int = 12,
    days: int = 3,
    seed: int = 0,
    continuous: bool = False,
    segment_s: tuple[float, float] = (-40.0, 60.0),
    corrupt: bool = True,
    with_data: tuple[str, ...] | None = None,
) -> ToyStudy:
    """Write the toy store and SDS archive under `folder`; return where and what to expect."""
    rng = np.random.default_rng(seed)
    ev, st = _events(n_events, days, rng), _stations()
    store, sds = os.path.join(folder, "store"), os.path.join(folder, "sds")
    os.makedirs(store, exist_ok=True)
    fp_store.Store(store).write_table(ev, fp_store.EVENTS)
    fp_store.Store(store).write_table(st, fp_store.STATIONS)
    table = PTable.load("carannante2013")
    dist = epicentral_km(
        ev.source_latitude_deg.to_numpy()[:, None],
        ev.source_longitude_deg.to_numpy()[:, None],
        st.station_latitude_deg.to_numpy()[None],
        st.station_longitude_deg.to_numpy()[None],
    )
    tt = table.travel_time(
        dist,
        np.broadcast_to(ev.source_depth_km.to_numpy()[:, None], dist.shape),
        st.station_elevation_m.to_numpy()[None],
    )
    origin_s = np.array([UTCDateTime(t.to_pydatetime()) - T0 for t in ev.source_origin_time])
    expected = {}
    for j, (net, sta, rate, cha, *_rest) in enumerate(STATIONS):
        if sta == "GHOST" or (with_data is not None and sta not in with_data):
            expected.update({(e, sta): "no_data" for e in ev.source_id})
            continue
        comps = "NZ" if sta == "MISS" else "ENZ"
        traces = {c: [] for c in comps}
        spans = (
            [(0.0, days * DAY)]
            if continuous
            else [(o + segment_s[0], o + segment_s[1]) for o in origin_s]
        )
        for k, (a, b) in enumerate(spans):
            i0, i1 = int(np.ceil(a * rate)), int(np.floor(b * rate))
            n = i1 - i0
            x = rng.normal(0, 40.0, (3, n)).round().astype(np.int32) if continuous else None
            events_here = range(n_events) if continuous else [k]
            for e in events_here:
                p_idx = (origin_s[e] + tt[e, j]) * rate - i0
                if not 0 <= p_idx < n:
                    continue
                lo, hi = max(0, int(p_idx - 10 * rate)), min(n, int(p_idx + 40 * rate))
                sig = _signal(
                    hi - lo, rate, p_idx - lo, 400.0 * 10 ** (ev.source_magnitude[e] / 2), rng
                )
                if x is None:
                    x = rng.normal(0, 40.0, (3, n)).round().astype(np.int32)
                x[:, lo:hi] += sig
            if x is None:
                continue
            start = T0 + i0 / rate
            pieces = [(0, n, x)]
            e = k
            defect = DEF_DEFECTS.get(e) if sta == "DEF" and not continuous else None
            p_rel = int((origin_s[e] + tt[e, j]) * rate) - i0 if not continuous else 0
            if defect == "short_gap":
                pieces = [(0, p_rel + 100, x), (p_rel + 105, n, x)]
            elif defect == "long_gap":
                pieces = [(0, p_rel + 100, x), (p_rel + 200, n, x)]
            elif defect == "clipped":
                x = np.clip(x * 50, -60000, 60000).astype(np.int32)
                pieces = [(0, n, x)]
            elif defect == "zeros":
                pieces = [(0, n, np.zeros_like(x))]
            elif defect == "dup_overlap":
                pieces = [(0, p_rel + 300, x), (p_rel - 200, n, x)]
            elif defect == "bad_overlap":
                y = x.copy()
                y[:, p_rel - 200 : p_rel + 300] += 7
                pieces = [(0, p_rel + 300, x), (p_rel - 200, n, y)]
            elif defect == "absent":
                pieces = []
            for a0, b0, arr in pieces:
                for comp in comps:
                    row = {"E": 0, "N": 1, "Z": 2}[comp]
                    tr = Trace(np.ascontiguousarray(arr[row, a0:b0]))
                    tr.stats.update(
                        dict(
                            network=net,
                            station=sta,
                            location="",
                            channel=f"{cha}{comp}",
                            sampling_rate=rate,
                            starttime=start + a0 / rate,
                        )
                    )
                    traces[comp].append(tr)
        _write_sds(sds, traces)
        for i, eid in enumerate(ev.source_id):
            status = "missing_component" if sta == "MISS" else "ok"
            if sta == "DEF" and not continuous:
                status = {
                    "long_gap": "gap",
                    "clipped": "clipped",
                    "zeros": "no_data",
                    "absent": "no_data",
                }.get(DEF_DEFECTS.get(i, ""), "ok")
                if corrupt and days >= 3 and origin_s[i] >= (days - 1) * DAY:
                    status = "error"
            expected[(eid, sta)] = status
    if corrupt and days >= 3 and not continuous:
        _corrupt(sds, "IV", "DEF", "HH", T0 + (days - 1) * DAY)
    return ToyStudy(store, sds, ev, st, expected)


def _write_sds(root: str, traces: dict[str, list[Trace]]) -> None:
    """Station-day files, split at midnight, Steim2, in SDS layout."""
    files: dict[str, Stream] = {}
    for trs in traces.values():
        for tr in trs:
            t = tr.stats.starttime
            while t < tr.stats.endtime:
                day0 = UTCDateTime(t.year, t.month, t.day)
                part = tr.slice(t, day0 + DAY - 1e-6, nearest_sample=False)
                s = tr.stats
                path = os.path.join(
                    root,
                    str(day0.year),
                    s.network,
                    s.station,
                    f"{s.channel}.D",
                    f"{s.network}.{s.station}.{s.location}.{s.channel}.D.{day0.year}.{day0.julday:03d}",
                )
                files.setdefault(path, Stream()).append(part.copy())
                t = day0 + DAY
    for path, stream in files.items():
        os.makedirs(os.path.dirname(path), exist_ok=True)
        stream.write(path, format="MSEED", encoding="STEIM2", reclen=512)


def _corrupt(root: str, net: str, sta: str, cha: str, day: UTCDateTime) -> None:
    """Overwrite the record headers of one day's files with garbage."""
    for comp in "ENZ":
        path = os.path.join(
            root,
            str(day.year),
            net,
            sta,
            f"{cha}{comp}.D",
            f"{net}.{sta}..{cha}{comp}.D.{day.year}.{day.julday:03d}",
        )
        if os.path.exists(path):
            data = bytearray(open(path, "rb").read())
            data[0 : len(data) : 512] = b"\xff" * len(data[0 : len(data) : 512])
            data[1 : len(data) : 512] = b"\x00" * len(data[1 : len(data) : 512])
            open(path, "wb").write(bytes(data))


def write_toy_config(
    folder: str,
    study: ToyStudy,
    waveforms: dict | None = None,
    cluster: dict | None = None,
    name: str = "toy.toml",
) -> str:
    """A study config for the toy archive (extra [waveforms] / [cluster] keys as given)."""
    w = {"source": "sds", "sds_root": study.sds_root, "block_size": 4, "max_gap_s": 0.1}
    w.update(waveforms or {})
    c = {"kind": "local", "n_workers": 1}
    c.update(cluster or {})

    def table(d: dict) -> str:
        out = []
        for k, v in d.items():
            if isinstance(v, bool):
                out.append(f"{k} = {'true' if v else 'false'}")
            elif isinstance(v, int | float):
                out.append(f"{k} = {v!r}")
            elif isinstance(v, list | tuple):
                out.append(f"{k} = [{', '.join(repr(float(x)) for x in v)}]")
            else:
                out.append(f'{k} = "{v}"')
        return "\n".join(out)

    codes = ", ".join(f'"{n}.{s}"' for n, s, *_ in STATIONS)
    text = f"""[study]
name = "toy"
store = "{study.store}"
start = 2016-10-01T00:00:00Z
end = 2016-12-01T00:00:00Z

[mainshock]
name = "Norcia"
time = 2016-10-30T06:40:17Z
latitude = 42.83
longitude = 13.11
depth_km = 9.0
magnitude = 6.5

[fault]
strike = 155.0
dip = 47.0

[catalog]
path = "catalog.txt"

[stations]
codes = [{codes}]
inventory = "stations.xml"

[waveforms]
{table(w)}

[cluster]
{table(c)}
"""
    path = os.path.join(folder, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def toy_inventory(stations, source: str = "faultprobe toy archive"):
    """An ObsPy Inventory for a stations table (station_network_code, station_code,
    station_channels, station_latitude_deg, station_longitude_deg, station_elevation_m,
    station_sampling_rate_hz): E/N/Z channels with a 120 s broadband velocity
    response.  Used by the toy archive, the tests' station files and their FDSN service."""
    from obspy.core.inventory import Channel, Inventory, Network, Site, Station
    from obspy.core.inventory.response import Response

    nets: dict[str, list] = {}
    for r in stations.itertuples():
        chans = []
        for comp, az, dip in (("E", 90.0, 0.0), ("N", 0.0, 0.0), ("Z", 0.0, -90.0)):
            resp = Response.from_paz(
                zeros=[0j, 0j],
                poles=[-0.037 + 0.037j, -0.037 - 0.037j, -251.3 + 0j],
                stage_gain=1500.0 * 2**23 / 20.0,
                input_units="M/S",
                output_units="COUNTS",
                normalization_frequency=1.0,
                pz_transfer_function_type="LAPLACE (RADIANS/SECOND)",
            )
            chans.append(
                Channel(
                    f"{r.station_channels}{comp}",
                    "",
                    r.station_latitude_deg,
                    r.station_longitude_deg,
                    r.station_elevation_m,
                    0.0,
                    azimuth=az,
                    dip=dip,
                    sample_rate=r.station_sampling_rate_hz,
                    response=resp,
                )
            )
        nets.setdefault(r.station_network_code, []).append(
            Station(
                r.station_code,
                r.station_latitude_deg,
                r.station_longitude_deg,
                r.station_elevation_m,
                channels=chans,
                site=Site(r.station_code),
            )
        )
    return Inventory([Network(k, stations=v) for k, v in nets.items()], source=source)


def write_toy_inventory(folder: str, study: ToyStudy, name: str = "stations.xml") -> str:
    """StationXML for the toy stations (see `toy_inventory`)."""
    inv = toy_inventory(study.stations)
    path = os.path.join(folder, name)
    inv.write(path, format="STATIONXML")
    return path
