"""Controls computed on a trained binary run's own split: what else tells pre from post.

Each control scores the run's test events (never seen in training) and writes a per-event
table STORE/controls/RUN_ID/CONTROL.parquet (source_id, true, pred, ...), which the verdict
(faultprobe.analysis.verdict) pairs with the CNN's predictions event by event:

- `noise_spectrum`: a small classifier (scikit-learn's histogram gradient boosting) on the
  log band amplitudes of the same records' pre-P noise (its level and spectral shape, which
  the per-trace normalisation hides from the CNN);
- `metadata`: the same classifier on magnitude, hypocentral and fault distance, depth,
  azimuth, hour of day and SNR;
- `matched` is not computed here: it is a CNN trained on its own run, whose train,
  validation and test events are each matched pre-to-post on magnitude, distance and depth
  (faultprobe.ml.matching, optimal one-to-one within a caliper, as the pairs do);
- `physics`: a logistic regression on each record's spectral-decay t* (the classical
  estimator of faultprobe.analysis.physics), and the Spearman correlation of its running
  median with the fault-state index where a tracking result exists;
- `attribution`: the CNN's correct predictions with each time segment (noise, P, P–S, S,
  coda, from the P time and the S time vp/vs implies) × frequency band of its inputs
  masked at inference (no retraining).

docs/diagnostics.md says what each can and cannot rule out.  Arrays in, arrays out; the
I/O is in `control_row`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from faultprobe._optional import need
from faultprobe.config import ControlsGrid
from faultprobe.ml import dataset

CONTROLS = "controls"
SEGMENTS = ("noise", "P", "P–S", "S", "coda")
WAVE_SEGMENTS = SEGMENTS[1:]
ALL_BANDS = "all"


def table_name(run_id: str, control: str) -> str:
    """Where a control's per-event table lies in the study store."""
    return f"{CONTROLS}/{run_id}/{control}.parquet"


# ---------------------------------------------------------------- features


def band_log_amplitudes(
    x: np.ndarray, rate: float, bands: list[tuple[float, float]]
) -> tuple[np.ndarray, list[str]]:
    """log10 rms amplitude of each component in each band (bands above Nyquist left out),
    and the overall log10 rms: (n, features) and their names.  NaN records give NaN."""
    spec = np.abs(np.fft.rfft(np.nan_to_num(x), axis=-1)) ** 2
    f = np.fft.rfftfreq(x.shape[-1], 1.0 / rate)
    cols, names = [], []
    for lo, hi in bands:
        inside = (f >= lo) & (f < hi)
        if not inside.any():
            continue
        power = spec[..., inside].sum(-1) / x.shape[-1] ** 2
        for c in range(x.shape[1]):
            cols.append(0.5 * np.log10(power[:, c] + 1e-300))
            names.append(f"c{c}_{lo:g}-{hi:g}Hz")
    with np.errstate(invalid="ignore"):
        rms = np.sqrt(np.nanmean(x.reshape(len(x), -1) ** 2, axis=1))
    cols.append(np.log10(rms + 1e-300))
    names.append("log_rms")
    out = np.column_stack(cols)
    out[~np.isfinite(x).all(axis=(1, 2))] = np.nan
    return out, names


def snr(x: np.ndarray, time_s: np.ndarray, noise_window_s: tuple[float, float]) -> np.ndarray:
    """log10 of the rms in the first 2 s after P over the rms of the pre-P noise window."""
    sig = (time_s >= 0) & (time_s < 2.0)
    noi = (time_s >= noise_window_s[0]) & (time_s < noise_window_s[1])
    if not sig.any() or not noi.any():
        return np.full(len(x), np.nan)
    s = np.sqrt(np.mean(x[..., sig] ** 2, axis=(1, 2)))
    n = np.sqrt(np.mean(x[..., noi] ** 2, axis=(1, 2)))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log10(s / n)


def event_geometry(ds, store, station: str, pos: np.ndarray) -> pd.DataFrame:
    """Magnitude, depth, hypocentral and fault distance (km), azimuth and hour of day of
    the events at `pos` (NaN where the store does not know them)."""
    from faultprobe.geodesy import geodesic
    from faultprobe.store import EVENTS, STATIONS

    ev = dataset.event_table(ds).iloc[pos].reset_index(drop=True)
    lat = np.asarray(ds["latitude"].values, float)[pos]
    lon = np.asarray(ds["longitude"].values, float)[pos]
    depth = np.asarray(ds["depth_km"].values, float)[pos]
    t = pd.DatetimeIndex(ev["source_origin_time"])
    hour = t.hour + t.minute / 60.0
    out = pd.DataFrame(
        {
            "source_magnitude": np.asarray(ev["source_magnitude"], float),
            "source_depth_km": depth,
            "hour_sin": np.sin(2 * np.pi * hour / 24),
            "hour_cos": np.cos(2 * np.pi * hour / 24),
            "hypocentral_km": np.nan,
            "azimuth_sin": np.nan,
            "azimuth_cos": np.nan,
            "fault_distance_km": np.nan,
        }
    )
    code = station.split(".")[-1]
    if store.exists(STATIONS):
        st = store.read_table(STATIONS)
        row = st[st["station_code"].astype(str) == code]
        if len(row):
            slat = float(row["station_latitude_deg"].iloc[0])
            slon = float(row["station_longitude_deg"].iloc[0])
            km, az_deg = geodesic(slat, slon, lat, lon)  # from the station to the event
            az = np.radians(az_deg)
            out["hypocentral_km"] = np.sqrt(km**2 + depth**2)
            out["azimuth_sin"], out["azimuth_cos"] = np.sin(az), np.cos(az)
    if store.exists(EVENTS):
        cat = store.read_table(EVENTS)
        if "fault_distance_km" in cat:
            m = dict(zip(cat["source_id"].astype(str), cat["fault_distance_km"].astype(float)))
            out["fault_distance_km"] = ev["source_id"].astype(str).map(m).to_numpy(float)
    return out


def usable(features: pd.DataFrame) -> pd.DataFrame:
    """The columns that vary (an all-NaN or constant column tells nothing)."""
    keep = [c for c in features if features[c].notna().any() and features[c].nunique() > 1]
    return features[keep]


def classify(
    features: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray, seed: int
) -> np.ndarray:
    """Predictions of a small gradient-boosting classifier fitted on the `train` rows, for
    the `test` rows (NaN features are handled by the trees)."""
    ensemble = need("sklearn.ensemble", extra="analysis", what="the controls' classifiers")

    if features.shape[1] == 0 or len(np.unique(y[train])) < 2:
        return np.zeros(int(test.sum()), dtype=np.int64)
    clf = ensemble.HistGradientBoostingClassifier(
        max_iter=100, max_leaf_nodes=8, learning_rate=0.1, l2_regularization=1.0,
        random_state=seed, early_stopping=False,
    )  # fmt: skip
    clf.fit(features[train], y[train])
    return clf.predict(features[test]).astype(np.int64)


# ---------------------------------------------------------------- attribution


def segment_masks(
    time_s: np.ndarray, s_minus_p: np.ndarray, p_window_s: float, s_window_s: float
) -> np.ndarray:
    """(segments, events, samples) masks of noise (before P), P (the first `p_window_s`,
    never past S), P–S (to the S time), S (`s_window_s` from S) and coda (after)."""
    t = np.asarray(time_s, float)[None, :]
    ts = np.asarray(s_minus_p, float)[:, None]
    p_end = np.minimum(p_window_s, ts)
    noise = np.broadcast_to(t < 0, (len(ts), t.shape[1]))
    p = (t >= 0) & (t < p_end)
    ps = (t >= p_end) & (t < ts)
    s = (t >= ts) & (t < ts + s_window_s)
    coda = t >= ts + s_window_s
    return np.stack([noise, p, ps, s, coda])


def band_parts(x: np.ndarray, rate: float, bands: list[tuple[float, float]]) -> np.ndarray:
    """(bands + 1, *x.shape): each band's part of x (FFT brick-wall), then x itself."""
    spec = np.fft.rfft(x, axis=-1)
    f = np.fft.rfftfreq(x.shape[-1], 1.0 / rate)
    parts = [
        np.fft.irfft(spec * ((f >= lo) & (f < hi)), n=x.shape[-1], axis=-1) for lo, hi in bands
    ]
    return np.stack([*parts, x]).astype(np.float32)


def band_labels(bands: list[tuple[float, float]]) -> list[str]:
    return [f"{lo:g}–{hi:g} Hz" for lo, hi in bands] + [ALL_BANDS]


def masked_correct(model, x, y, masks, parts, device, amp) -> np.ndarray:
    """(segments, bands + 1, events) correct predictions with that segment's band removed."""
    from faultprobe.ml.trainer import predict

    out = np.zeros((masks.shape[0], parts.shape[0], len(y)), dtype=bool)
    for i, m in enumerate(masks):
        for j, part in enumerate(parts):
            xm = x - part * m[:, None, :].astype(np.float32)
            probs, _ = predict(model, xm, 256, device, amp)
            out[i, j] = probs.argmax(1) == y
    return out


# ---------------------------------------------------------------- the controls


def p_travel(ds, station: str, pos: np.ndarray) -> np.ndarray:
    """P travel time (s) of the events at `pos` to the station, from the cube's P times."""
    from faultprobe.ml.errors import ModelError

    if "p_time" not in ds:
        raise ModelError("the cube has no p_time: the S time of the controls needs it")
    j = dataset.station_positions(ds, [station])[0]
    p = np.asarray(ds["p_time"].isel(station=j).values)[pos].astype("datetime64[ns]")
    o = np.asarray(ds["origin_time"].values)[pos].astype("datetime64[ns]")
    return (p - o).astype(np.int64) / 1e9


def _raw(ds, station: str, pos: np.ndarray, window_s=None):
    sl = dataset.read_station_slice(ds, [station], window_s, events=pos)
    t = np.asarray(ds["time"].values, float)[dataset.time_slice(ds["time"].values, window_s)]
    return sl.x.astype(np.float64), t, sl.sampling_rate


def noise_spectrum_control(ds, store, run, preds, pos, opts: ControlsGrid) -> tuple[dict, float]:
    """The pre-P noise's band amplitudes → classifier; per-event columns and NaN."""
    station = run.spec.stations[0]
    x, _, rate = _raw(ds, station, pos, tuple(opts.noise_window_s))
    feats, _ = band_log_amplitudes(x, rate, opts.bands_hz)
    split, y = preds["split"].to_numpy(), preds["true"].to_numpy()
    pred = classify(feats, y, split == "train", split == "test", run.spec.seed)
    return {"pred": pred}, float("nan")


def metadata_control(ds, store, run, preds, pos, opts: ControlsGrid) -> tuple[dict, float]:
    """Catalog metadata and SNR → classifier."""
    station = run.spec.stations[0]
    geo = event_geometry(ds, store, station, pos)
    x, t, _ = _raw(ds, station, pos)
    geo["log_snr"] = snr(x, t, tuple(opts.noise_window_s))
    feats = usable(geo)
    split, y = preds["split"].to_numpy(), preds["true"].to_numpy()
    pred = classify(feats.to_numpy(float), y, split == "train", split == "test", run.spec.seed)
    return {"pred": pred}, float("nan")


def physics_control(ds, store, run, preds, pos, opts: ControlsGrid) -> tuple[dict, float]:
    """Logistic regression on t*; statistic: Spearman of its running median with the
    fault-state index (NaN without a tracking result)."""
    from faultprobe.analysis import physics
    from faultprobe.analysis.tracking import read_tracking, station_label

    station = run.spec.stations[0]
    x, t, rate = _raw(ds, station, pos)
    travel = p_travel(ds, station, pos)
    mags = np.asarray(dataset.event_table(ds)["source_magnitude"], float)[pos]
    lead = -float(t[0])  # the signal and noise windows must fit the cube's pre-P time
    decay = physics.DecayOptions(vp_vs=opts.vp_vs, window_s=min(2.0, lead - 0.35))
    fit = physics.record_tstar(x, t, travel, mags, rate, decay)
    ts = np.asarray(fit.tstar, float)
    split, y = preds["split"].to_numpy(), preds["true"].to_numpy()
    train, test = split == "train", split == "test"
    fill = np.nanmedian(ts[train]) if np.isfinite(ts[train]).any() else 0.0
    v = np.where(np.isfinite(ts), ts, fill)[:, None]
    sd = v[train].std() or 1.0
    z = (v - v[train].mean()) / sd
    if len(np.unique(y[train])) < 2:
        pred = np.zeros(int(test.sum()), dtype=np.int64)
    else:
        linear = need("sklearn.linear_model", extra="analysis", what="the physics control")
        pred = linear.LogisticRegression().fit(z[train], y[train]).predict(z[test]).astype(np.int64)
    rho = float("nan")
    tracked = (
        read_tracking(store, station_label(store, station)) if store.exists("tracking") else None
    )
    if tracked is not None:
        series = physics.tstar_series(
            pd.DataFrame({"source_origin_time": preds["source_origin_time"], "tstar": ts})
        )
        sec = pd.DatetimeIndex(series["source_origin_time"]).as_unit("ns").asi8 / 1e9
        idx = tracked[0]
        at = np.interp(
            pd.DatetimeIndex(idx["time"]).as_unit("ns").asi8 / 1e9,
            sec[np.isfinite(series["tstar_median"])],
            series["tstar_median"].dropna(),
        )
        rho = physics.spearman(idx["index"].to_numpy(float), at)
    return {"pred": pred, "tstar": ts[test]}, rho


def attribution_control(ds, store, run, preds, pos, opts: ControlsGrid) -> tuple[dict, float]:
    """Correct predictions with each segment × band masked; statistic: the largest
    accuracy drop over the wave segments."""
    from faultprobe.ml import stream
    from faultprobe.ml.runs import RunFolder
    from faultprobe.ml.trainer import resolve_device, resolve_precision

    spec = run.spec
    test = (preds["split"] == "test").to_numpy()
    tpos = pos[test]
    x = stream.read_slice(ds, spec, tpos)[0]
    t = np.asarray(ds["time"].values, float)[dataset.time_slice(ds["time"].values, spec.window_s)]
    rate = dataset.sampling_rate(ds)
    ts = p_travel(ds, spec.stations[0], tpos) * (opts.vp_vs - 1.0)
    masks = segment_masks(t, ts, opts.p_window_s, opts.s_window_s)
    parts = band_parts(x, rate, opts.bands_hz)
    dev = resolve_device(spec.training.device)
    model = RunFolder(store, spec.run_id).load_model(dev)
    y = preds["true"].to_numpy()[test]
    correct = masked_correct(model, x, y, masks, parts, dev, resolve_precision("auto", dev))
    base = preds["pred"].to_numpy()[test]
    cols: dict = {"pred": base}
    labels = band_labels(opts.bands_hz)
    for i, seg in enumerate(SEGMENTS):
        for j, band in enumerate(labels):
            cols[f"{seg}|{band}"] = correct[i, j]
    drops = (base == y).mean() - correct.mean(axis=2)
    return cols, float(drops[1:].max())


MAKERS = {
    "noise_spectrum": noise_spectrum_control,
    "metadata": metadata_control,
    "physics": physics_control,
    "attribution": attribution_control,
}


def control_row(store, run, metrics: dict, preds: pd.DataFrame) -> dict:
    """Compute the run's control, write its per-event table, return its results row."""
    from faultprobe.analysis.scoring import result_row
    from faultprobe.ml.metrics import chance_interval

    control = run.meta["control"]
    opts = ControlsGrid.model_validate(run.meta.get("options") or {})
    ds = dataset.open_cube(store)
    ids = dataset.event_table(ds)["source_id"].astype(str)
    where = pd.Series(np.arange(len(ids)), index=ids.to_numpy())
    preds = preds.reset_index(drop=True)
    pos = where.loc[preds["source_id"].astype(str)].to_numpy()
    cols, statistic = MAKERS[control](ds, store, run, preds, pos, opts)
    test = preds[preds["split"] == "test"]
    table = pd.DataFrame(
        {"source_id": test["source_id"].to_numpy(), "true": test["true"].to_numpy(), **cols}
    )
    store.makedirs(f"{CONTROLS}/{run.run_id}")
    store.write_table(table, table_name(run.run_id, control))
    scored = table
    row = result_row(run, metrics, preds)
    y, p = scored["true"].to_numpy(), scored["pred"].to_numpy()
    recall = [float((p[y == c] == c).mean()) if (y == c).any() else np.nan for c in (0, 1)]
    n = len(scored)
    lo, hi = chance_interval(n, 2) if n else (np.nan, np.nan)
    row.update(
        n_test=n,
        n_correct=int((y == p).sum()),
        accuracy=float((y == p).mean()) if n else np.nan,
        balanced_accuracy=float(np.nanmean(recall)),
        recall_pre=recall[0],
        recall_post=recall[1],
        chance_lo=lo,
        chance_hi=hi,
        statistic=statistic,
    )
    return row
