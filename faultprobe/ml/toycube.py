"""A small study store for tests and benchmarks of the learning core.

Writes STORE/events.parquet and STORE/waveforms.zarr in the ingest's schema (DESIGN.md §3)
from a compact physical record model, vectorised over events: a random-phase P and S wave
train with an exponential coda, shaped by a Brune ω² source spectrum (corner frequency
from moment and a log-normal stress drop), path attenuation exp(-π f t*) with
t* = travel time / Q, site κ, and Gaussian noise.  The time-varying part is an extra Δt*
on each station's path, weighted by its exposure to the fault zone: it grows before the
mainshock, jumps at it and heals in log time after.  `seasonal` modulates the noise level
with a yearly and a daily cycle.  The full simulator lives in `faultprobe.synthetic`; this
is the minimum needed to check that the learning core finds an effect that is there and
none that is not.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from faultprobe.store import CUBE, EVENTS, Store

YEAR_S = 365.25 * 86400.0


@dataclass(frozen=True)
class ToyStudy:
    """Knobs of the toy study (all times UTC)."""

    n_events: int = 600
    start: str = "2016-08-30T06:40:17Z"
    mainshock: str = "2016-10-30T06:40:17Z"
    end: str = "2016-12-30T06:40:17Z"
    stations: tuple[tuple[str, str, float], ...] = (("IV", "NRCA", 1.0), ("IV", "SMA1", 0.0))
    sampling_rate: float = 100.0
    window_s: tuple[float, float] = (-1.0, 3.0)
    dtstar_s: float = 0.0  # the fault-zone effect: extra t* after the mainshock
    seasonal: float = 0.0  # relative noise-level modulation (yearly and daily)
    noise: float = 1.0
    q: float = 300.0
    kappa_s: float = 0.03
    bad_fraction: float = 0.02  # traces marked not ok (filled with NaN)
    chunk: int = 256
    seed: int = 0


def effect_history(ttf_s: np.ndarray, dtstar_s: float) -> np.ndarray:
    """Δt* at each time to the mainshock: a ramp to 30 % before, 100 % at, log healing."""
    days = ttf_s / 86400.0
    pre_span = max(float(-days.min()), 1.0) if days.size else 1.0
    ramp = 0.3 * np.clip(1.0 + days / pre_span, 0.0, 1.0)
    heal = 1.0 - 0.3 * np.log10(1.0 + np.clip(days, 0, None)) / np.log10(61.0)
    return dtstar_s * np.where(days < 0, ramp, np.clip(heal, 0.0, 1.0))


def render(study: ToyStudy) -> xr.Dataset:
    """The cube as an in-memory xarray Dataset (same schema as the ingest writes)."""
    rng = np.random.default_rng(study.seed)
    n, fs = study.n_events, study.sampling_rate
    t0, tm, t1 = (pd.Timestamp(x) for x in (study.start, study.mainshock, study.end))
    offsets = np.sort(rng.uniform(0, (t1 - t0).total_seconds(), n))
    origin = t0 + pd.to_timedelta(offsets, unit="s")
    ttf = (origin - tm).total_seconds().to_numpy()
    mw = np.minimum(0.5 + rng.exponential(1 / (1.1 * np.log(10)), n), 3.5)
    m0 = 10 ** (1.5 * mw + 9.1)
    stress = 2.1e6 * rng.lognormal(0.0, 0.5, n)
    fc = 0.4906 * 3300.0 * (stress / m0) ** (1 / 3)
    time = np.round(np.arange(*study.window_s, 1 / fs), 6)
    n_t = time.size
    freqs = np.fft.rfftfreq(n_t, 1 / fs)
    n_sta = len(study.stations)
    wf = np.empty((n, n_sta, 3, n_t), dtype=np.float32)
    dt_eff = effect_history(ttf, study.dtstar_s)
    season = 1 + study.seasonal * (
        0.5 * np.sin(2 * np.pi * offsets / YEAR_S) + 0.5 * np.sin(2 * np.pi * offsets / 86400)
    )
    for j, (_, _, exposure) in enumerate(study.stations):
        r = rng.uniform(6.0, 16.0, n)
        tp, ts = r / 6.2, r / 3.35
        tstar = tp / study.q + study.kappa_s + exposure * dt_eff
        lag = (ts - tp)[:, None, None]
        tt = time[None, None, :]
        env = (tt >= 0) * np.exp(-np.clip(tt, 0, None) / 0.3) + 3.0 * (tt >= lag) * np.exp(
            -np.clip(tt - lag, 0, None) / 0.8
        )
        part = rng.dirichlet([2.0, 2.0, 1.5], n)[:, :, None] ** 0.5
        burst = rng.standard_normal((n, 3, n_t)) * env * part
        shape = 1.0 / (1.0 + (freqs[None, :] / fc[:, None]) ** 2)
        shape *= np.exp(-np.pi * freqs[None, :] * tstar[:, None])
        sig = np.fft.irfft(np.fft.rfft(burst, axis=-1) * shape[:, None, :], n=n_t, axis=-1)
        amp = 10 ** (0.8 * (mw - 0.5)) * 200.0 / r
        sig *= (amp / (np.abs(sig).max(axis=-1).max(axis=-1) + 1e-12))[:, None, None]
        noise = rng.standard_normal((n, 3, n_t)) * (study.noise * season)[:, None, None]
        wf[:, j] = sig + noise
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
    ds = xr.Dataset(
        {
            "waveform": (("event", "station", "component", "time"), wf),
            "status": (("event", "station"), status),
        },
        coords=coords,
        attrs={"sampling_rate": fs, "window": list(study.window_s), "source": "toycube"},
    )
    return ds


def write_toy_store(root: str, study: ToyStudy) -> Store:
    """Write events.parquet and waveforms.zarr for `study` under `root`."""
    store = Store(root)
    ds = render(study)
    store.makedirs()
    events = pd.DataFrame(
        {
            "event_id": ds["event"].values.astype(str),
            "origin_time": pd.DatetimeIndex(ds["origin_time"].values).tz_localize("UTC"),
            "latitude": ds["latitude"].values,
            "longitude": ds["longitude"].values,
            "depth_km": ds["depth_km"].values,
            "magnitude": ds["magnitude"].values,
            "magnitude_type": "Mw",
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
