"""A small study store for tests and benchmarks of the learning core.

Writes STORE/events.parquet and STORE/waveforms.zarr in the ingest's schema
(docs/architecture.md) without running the full catalog → SDS → ingest chain, but with the
simulator's own physics:
records from `faultprobe.synthetic.records.render_batch` (Brune ω² source, spreading,
path t* and site κ, P/S trains with coda), the fault-zone Δt*(t) of
`faultprobe.synthetic.effect.dtstar_at` weighted by each station's exposure, and ambient
noise from `faultprobe.synthetic.noise.render_noise` with its seasonal and daily cycles.
Events are spread uniformly in time (a flat rate, so no class is favoured by counts), a few
traces are marked not ok (NaN), and the P arrival sits at time 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from faultprobe.config import FaultZoneEffect, NoiseChange, StationChange, Synthetic
from faultprobe.store import CUBE, EVENTS, Store
from faultprobe.synthetic.effect import dtstar_at
from faultprobe.synthetic.noise import render_noise
from faultprobe.synthetic.records import render_batch

VP, VS = 6.2, 3.35  # km/s


@dataclass(frozen=True)
class ToyStudy:
    """Knobs of the toy study (times UTC; t* in s; noise rms in m/s)."""

    n_events: int = 600
    start: str = "2016-08-30T06:40:17Z"
    mainshock: str = "2016-10-30T06:40:17Z"
    end: str = "2016-12-30T06:40:17Z"
    stations: tuple[tuple[str, str, float], ...] = (("IV", "NRCA", 1.0), ("IV", "SMA1", 0.0))
    sampling_rate: float = 100.0
    window_s: tuple[float, float] = (-1.0, 3.0)
    dtstar_pre_max: float = 0.0  # the fault-zone effect (s), see FaultZoneEffect
    dtstar_jump: float = 0.0
    effect_band_hz: tuple[float, float] | None = None
    noise_level: float = 3e-8
    seasonal: float = 0.0  # seasonal and daily noise modulation amplitude
    min_magnitude: float = 0.8
    q_p: float = 350.0
    q_s: float = 250.0
    kappa_s: float = 0.03
    bad_fraction: float = 0.02  # traces marked not ok (filled with NaN)
    chunk: int = 256
    seed: int = 0
    noise_change: NoiseChange | None = None  # a confound: the noise after the mainshock
    post_magnitude_shift: float = 0.0  # a confound: post events smaller (< 0) or larger
    # a confound: undocumented gain and response changes (station "NRCA", not "IV.NRCA"),
    # left in the data as an ingest that cannot remove them would leave them
    station_changes: tuple[StationChange, ...] = ()


def render(study: ToyStudy) -> xr.Dataset:
    """The cube as an in-memory xarray Dataset (same schema as the ingest writes)."""
    rng = np.random.default_rng(study.seed)
    n, fs = study.n_events, study.sampling_rate
    t0, tm, t1 = (pd.Timestamp(x) for x in (study.start, study.mainshock, study.end))
    offsets = np.sort(rng.uniform(0, (t1 - t0).total_seconds(), n))
    origin = t0 + pd.to_timedelta(offsets, unit="s")
    ttf = (origin - tm).total_seconds().to_numpy()
    mw = np.minimum(study.min_magnitude + rng.exponential(1 / (1.1 * np.log(10)), n), 3.5)
    mw = np.where(ttf >= 0, mw + study.post_magnitude_shift, mw)
    drop = 2.1 * rng.lognormal(0.0, 0.5, n)
    time = np.round(study.window_s[0] + np.arange(int(round(np.ptp(study.window_s) * fs))) / fs, 6)
    n_t = time.size
    effect = FaultZoneEffect(
        dtstar_pre_max=study.dtstar_pre_max,
        dtstar_jump=study.dtstar_jump,
        band_hz=study.effect_band_hz,
    )
    dts = dtstar_at(effect, ttf / 86400.0)
    syn = Synthetic(
        noise_level=study.noise_level,
        noise_seasonal_amplitude=study.seasonal,
        noise_daily_amplitude=study.seasonal,
        noise_change=study.noise_change or NoiseChange(),
    )
    main_ns = int(tm.as_unit("ns").value) if study.noise_change is not None else None
    n_sta = len(study.stations)
    wf = np.empty((n, n_sta, 3, n_t), dtype=np.float32)
    p_time = np.empty((n, n_sta), dtype="datetime64[ns]")
    lead = -study.window_s[0]
    for j, (_, _, exposure) in enumerate(study.stations):
        r = rng.uniform(6.0, 16.0, n)
        seeds = study.seed * 10_000_000 + j * 1_000_000 + np.arange(n)
        wf[:, j] = render_batch(
            mw,
            drop,
            r,
            lead,
            lead + r * (1 / VS - 1 / VP),
            sampling_rate=fs,
            n_samples=n_t,
            seeds=seeds,
            tstar_p=r / VP / study.q_p,
            tstar_s=r / VS / study.q_s,
            kappa=study.kappa_s,
            dtstar=exposure * dts,
            band_hz=study.effect_band_hz,
            azimuth_deg=rng.uniform(0, 360, n),
        )
        start_ns = (origin + pd.to_timedelta(r / VP - lead, unit="s")).as_unit("ns").asi8
        p_time[:, j] = (start_ns + int(round(lead * 1e9))).astype("datetime64[ns]")
        for i in range(n):  # noise spans are seeded per record, as the simulator does
            wf[i, j] += render_noise(syn, n_t, fs, int(start_ns[i]), int(seeds[i]), main_ns)
        _instrument(wf[:, j], start_ns, fs, study, study.stations[j][1])
    status = (rng.random((n, n_sta)) < study.bad_fraction).astype(np.int8) * 2
    wf[status != 0] = np.nan
    ev_ids = np.array([f"toy{i:06d}" for i in range(n)])
    phase = np.where(ttf < 0, "pre", "post")
    coords = {
        "event": ev_ids.astype(object),
        "station": np.array([s for _, s, _ in study.stations], dtype=object),
        "component": np.array(["E", "N", "Z"], dtype=object),
        "time": time,
        "origin_time": ("event", origin.tz_localize(None).to_numpy()),
        "latitude": ("event", 42.83 + rng.normal(0, 0.02, n)),
        "longitude": ("event", 13.11 + rng.normal(0, 0.02, n)),
        "depth_km": ("event", rng.uniform(2.0, 12.0, n)),
        "magnitude": ("event", mw),
        "phase": ("event", phase.astype(object)),
        "ttf_s": ("event", ttf),
        "network": ("station", np.array([net for net, _, _ in study.stations], dtype=object)),
    }
    return xr.Dataset(
        {
            "waveform": (("event", "station", "component", "time"), wf),
            "status": (("event", "station"), status),
            "p_time": (("event", "station"), p_time),
        },
        coords=coords,
        attrs={"sampling_rate": fs, "window": list(study.window_s), "source": "toycube"},
    )


def _instrument(x: np.ndarray, start_ns: np.ndarray, fs: float, study: ToyStudy, code: str):
    """Records after a station change of `code` through its epoch's filters and gain."""
    from faultprobe.synthetic.instrument import station_epochs

    changes = [c for c in study.station_changes if c.station.split(".")[-1] == code]
    if not changes:
        return
    epochs, _ = station_epochs(changes[0].station, fs, 1.0, changes)
    which = np.searchsorted([e.start_ns for e in epochs], start_ns, side="right") - 1
    for k, ep in enumerate(epochs):
        mine = which == k
        if k and mine.any():
            x[mine] = ep.record(x[mine].astype(np.float64)) * ep.sensitivity


def write_toy_store(root: str, study: ToyStudy) -> Store:
    """Write events.parquet and waveforms.zarr for `study` under `root`."""
    store = Store(root)
    ds = render(study)
    store.makedirs()
    events = pd.DataFrame(  # the events table's names; the cube keeps its own (above)
        {
            "source_id": ds["event"].values.astype(str),
            "source_origin_time": pd.DatetimeIndex(ds["origin_time"].values).tz_localize("UTC"),
            "source_latitude_deg": ds["latitude"].values,
            "source_longitude_deg": ds["longitude"].values,
            "source_depth_km": ds["depth_km"].values,
            "source_magnitude": ds["magnitude"].values,
            "source_magnitude_type": "Mw",
            "fault_distance_km": 1.0,
            "phase": ds["phase"].values,
            "ttf_s": ds["ttf_s"].values,
        }
    )
    store.write_table(events, EVENTS)
    n_t = ds.sizes["time"]
    enc = {"waveform": {"chunks": (study.chunk, 1, 3, n_t)}, "status": {"chunks": (study.chunk, 1)}}
    ds.to_zarr(store.url(CUBE), mode="w", encoding=enc, consolidated=True)
    return store
