"""`faultprobe.predict`: a trained run's class probabilities for new traces.

Traces (an ObsPy Stream, miniSEED files, or windows already cut as in the cube) go
through the run's own preprocessing: the window around the theoretical P of the study's
velocity model (or a P you give), the ingest's preprocessing (`process_block`: gap and
clipping checks, resampling, rotation, detrend, response removal, band as the study's
cube was built), then the run's time cut, band-pass and per-trace normalisation
(`dataset.prepare`), exactly as in training.  Nothing is reimplemented here.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from faultprobe import columns
from faultprobe.catalogs.readers import CatalogError
from faultprobe.errors import NotFoundError
from faultprobe.ml import dataset
from faultprobe.ml.errors import ModelError
from faultprobe.ml.runs import RunFolder, run_folder_from_path
from faultprobe.pipelines.errors import IngestError
from faultprobe.pipelines.plan import EVENT_COLUMNS

NAT = np.iinfo(np.int64).min


def _folder(run: str | Path | RunFolder) -> RunFolder:
    return run if isinstance(run, RunFolder) else run_folder_from_path(str(run))


def _study(folder: RunFolder):
    """The config frozen in the run's store (the one that built its cube)."""
    import tomllib

    from faultprobe.config import parse_config
    from faultprobe.store import STUDY_TOML

    text = folder.store.read_text(STUDY_TOML)
    return parse_config(tomllib.loads(text), source=folder.store.url(STUDY_TOML))


def _as_stream(data):
    """An ObsPy Stream from a Stream, one path or several (any format ObsPy reads)."""
    from obspy import Stream

    if isinstance(data, Stream):
        return data
    paths = [data] if isinstance(data, str | Path) else list(data)
    st = Stream()
    for p in paths:
        st += _read_waveforms(str(p))
    return st


def _read_waveforms(path: str):
    """One waveform file (or glob pattern); what ObsPy cannot read is an `IngestError` naming
    the file."""
    from obspy import read

    advice = "give miniSEED (or SAC, ...) files with the run's stations"
    if os.path.isdir(path):
        raise IngestError(f"{path} is a directory; give miniSEED files (e.g. {path}/*.mseed)")
    if not any(c in path for c in "*?[") and not os.path.exists(path):
        raise IngestError(f"{path}: waveform file not found; {advice}")
    if os.path.isfile(path) and os.path.getsize(path) == 0:
        raise IngestError(f"{path}: the file is empty; {advice}")
    try:
        with warnings.catch_warnings(record=True) as said:  # one per bad record, hundreds
            warnings.simplefilter("always")
            st = read(path)
    except Exception as err:  # ObsPy raises many kinds (TypeError, its own) for such files
        first = (str(err).splitlines() or [""])[0].strip() or type(err).__name__
        raise IngestError(
            f"{path}: not a waveform file ObsPy can read ({first}); {advice}"
        ) from None
    if said:
        first = (str(said[0].message).splitlines() or [""])[0]
        warnings.warn(f"{path}: ObsPy read it with {len(said)} warnings ({first})", stacklevel=3)
    return st


def _inventory(inventory):
    """An ObsPy Inventory, or the one a StationXML path holds (None stays None)."""
    from obspy import Inventory

    from faultprobe.catalogs.stations import StationError, read_stationxml

    if inventory is None or isinstance(inventory, Inventory):
        return inventory
    if isinstance(inventory, str | Path):
        return read_stationxml(str(inventory), "inventory=", "give the path of a StationXML file")
    raise StationError(
        f"inventory= is a {type(inventory).__name__}; give an ObsPy Inventory or the path of a "
        "StationXML file"
    )


def read_events(events: str | Path | pd.DataFrame) -> pd.DataFrame:
    """The events to predict (a DataFrame, or a Parquet or CSV file) with the names of
    events.parquet (older short names upgraded) and UTC origin times; one without the needed
    columns is a `CatalogError` naming them."""
    where = "events="
    if isinstance(events, str | Path):
        where = str(events)
        events = _read_table_file(where)
    df = columns.from_disk(events, "events.parquet")
    old = {v: k for k, v in columns.legacy("events.parquet").items()}
    missing = [c for c in EVENT_COLUMNS if c not in df.columns]
    if missing:
        names = ", ".join(f"{c} (or {old[c]})" if c in old else c for c in missing)
        raise CatalogError(
            f"{where}: no column {names}; an events table needs "
            f"{', '.join(EVENT_COLUMNS)} (docs/tables.md, events.parquet)"
        )
    t = "source_origin_time"
    try:
        df[t] = pd.to_datetime(df[t], utc=True).dt.as_unit("ns")
    except (ValueError, TypeError) as err:
        raise CatalogError(f"{where}: {t} is not a date and time ({err})") from None
    return df


def _read_table_file(path: str) -> pd.DataFrame:
    """A CSV (by its suffix) or Parquet file; unreadable is a `CatalogError` naming it."""
    import pyarrow as pa

    if os.path.isdir(path):
        raise CatalogError(f"{path} is a directory; give an events table (.parquet or .csv)")
    if not os.path.exists(path):
        raise CatalogError(f"{path}: events table not found")
    csv = path.lower().endswith(".csv")
    try:
        return pd.read_csv(path) if csv else pd.read_parquet(path)
    except (OSError, ValueError, pa.ArrowException, pd.errors.ParserError) as err:
        first = (str(err).splitlines() or [type(err).__name__])[0]
        kind = "CSV" if csv else "Parquet (name a CSV file *.csv)"
        raise CatalogError(f"{path}: not a readable {kind} table ({first})") from None


def _time_axis(settings) -> np.ndarray:
    return np.round(
        settings.window_s[0] + np.arange(settings.n_samples) / settings.sampling_rate, 6
    )


def _inputs(spec, x: np.ndarray, time: np.ndarray, rate: float) -> np.ndarray:
    """The run's cut of the cube's time axis, band-pass and normalisation."""
    sl = dataset.time_slice(time, spec.window_s)
    return dataset.prepare(np.ascontiguousarray(x[..., sl]), rate, spec.band_hz)


def _probabilities(folder: RunFolder, x: np.ndarray, device: str) -> np.ndarray:
    from faultprobe.ml.trainer import predict as forward
    from faultprobe.ml.trainer import resolve_device, resolve_precision

    dev = resolve_device(device)
    model = folder.load_model(dev)
    probs, _ = forward(model, x, 256, dev, resolve_precision("auto", dev))
    return probs


def _table(ids, names, probs, extra: dict) -> pd.DataFrame:
    df = pd.DataFrame({"source_id": list(ids), **extra})
    pred = np.where(np.isfinite(probs).all(axis=1), probs.argmax(axis=1), -1)
    df["pred"] = pred.astype(np.int64)
    df["pred_class"] = [names[p] if p >= 0 else "" for p in pred]
    for i, name in enumerate(names):
        df[f"p_{name}"] = probs[:, i].astype(np.float32)
    return df


def predict(
    run: str | Path | RunFolder,
    stream_or_array,
    inventory=None,
    *,
    events: pd.DataFrame | str | Path | None = None,
    p_times: pd.DataFrame | None = None,
    device: str = "auto",
) -> pd.DataFrame:
    """Class probabilities of a trained run for new traces, one row per event.

    `stream_or_array`: an ObsPy Stream, a miniSEED path or paths, or an array of windows
    cut as in the cube (events × (stations·3) × time, E/N/Z per station, starting at the
    cube's window start; or already the run's cut).  For traces, `events` (source_id,
    source_origin_time UTC, source_latitude_deg, source_longitude_deg, source_depth_km, as
    in events.parquet) says which windows to cut; default: the run's store's events that
    the traces cover; a Parquet or CSV path is read.  `p_times` (source_id,
    trace_p_arrival_time and, for a multi-station run, station: NET.STA or the station code)
    replaces the theoretical P.  `inventory`
    (ObsPy Inventory, or a StationXML path) orients 1/2 components and removes the response
    when the study's cube did.

    Returns source_id, (for traces) source_origin_time, status_<STA>, p_time_<STA> and
    reason, then pred, pred_class and p_<class> for every class (NaN where a trace is not
    usable); the names of predictions.parquet (docs/tables.md).
    """
    folder = _folder(run)
    inventory = _inventory(inventory)
    spec = folder.spec()
    names = folder.classes()
    if isinstance(stream_or_array, np.ndarray):
        out = _predict_array(folder, spec, names, stream_or_array, device)
    else:
        if events is not None:  # as pandas reads events.parquet, or with the short names
            events = read_events(events)
        if p_times is not None:
            p_times = _p_times(p_times)
        out = _predict_stream(
            folder, spec, names, _as_stream(stream_or_array), inventory, events, p_times, device
        )
    return out


def _predict_array(folder, spec, names, x: np.ndarray, device: str) -> pd.DataFrame:
    from faultprobe.pipelines.blocks import settings

    s = settings(_study(folder).waveforms)
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 2:
        x = x[None]
    want = 3 * len(spec.stations)
    if x.ndim != 3 or x.shape[1] != want:
        raise ModelError(f"expected windows of shape (n, {want}, time), got {x.shape}")
    time = _time_axis(s)
    if x.shape[-1] == len(time):
        x = _inputs(spec, x, time, s.sampling_rate)
    else:  # already the run's cut
        n_cut = len(time[dataset.time_slice(time, spec.window_s)])
        if x.shape[-1] != n_cut:
            raise ModelError(
                f"windows have {x.shape[-1]} samples; the cube's have {len(time)} and the "
                f"run's cut {n_cut}"
            )
        x = dataset.prepare(x, s.sampling_rate, spec.band_hz)
    probs = _probabilities(folder, x, device)
    return _table(range(len(x)), names, probs, {})


def _stations(folder: RunFolder, codes: Iterable[str]) -> pd.DataFrame:
    """The run's stations as rows of the store's stations table, in the run's order."""
    from faultprobe.store import STATIONS

    table = folder.store.read_table(STATIONS)
    full = table["station_network_code"] + "." + table["station_code"]
    rows = []
    for code in codes:
        hit = table[(full == code) | (table["station_code"] == code.split(".")[-1])]
        if hit.empty:
            raise NotFoundError(f"station {code!r} is not in {folder.store.url(STATIONS)}")
        rows.append(hit.iloc[0])
    return pd.DataFrame(rows).reset_index(drop=True)


def _covered(events, p_ns: np.ndarray, window_s, stream) -> np.ndarray:
    """Events whose window overlaps the stream at every station."""
    spans = [(tr.stats.starttime.ns, tr.stats.endtime.ns) for tr in stream]
    if not spans:
        return np.zeros(len(events), bool)
    a = p_ns + int(window_s[0] * 1e9)
    b = p_ns + int(window_s[1] * 1e9)
    ok = np.zeros(p_ns.shape, bool)
    for s0, s1 in spans:
        ok |= (a <= s1) & (b >= s0)
    return ok.all(axis=1) & (p_ns != NAT).all(axis=1)


def _predict_stream(folder, spec, names, stream, inventory, events, p_times, device):
    from faultprobe.config.stages import IngestSettings
    from faultprobe.pipelines.blocks import BlockSpec, process_block, settings
    from faultprobe.pipelines.plan import make_plan
    from faultprobe.pipelines.sources import StreamSource
    from faultprobe.store import EVENTS

    job = IngestSettings.of(_study(folder))
    s = settings(job.waveforms)
    stations = _stations(folder, spec.stations)
    given = events is not None
    if events is None:
        events = folder.store.read_table(EVENTS)
    events = events.reset_index(drop=True)
    plan = make_plan(events, stations, job.waveforms, job.network_aliases)
    p_ns = _given_p(plan, p_times) if p_times is not None else plan.p_time_ns
    keep = np.ones(len(events), bool) if given else _covered(events, p_ns, s.window_s, stream)
    if not keep.any():
        raise ModelError(
            "no event of the run's store has its window in these traces (give events=)"
        )
    idx = np.flatnonzero(keep)
    ids = events["source_id"].astype(str).to_numpy()[idx]
    block = BlockSpec(0, 0, len(idx), ids, p_ns[idx], tuple(plan.stations))
    source = StreamSource(stream)
    batch, rows = process_block(job, block, source=source, inventory=inventory)
    n_st = len(plan.stations)
    x = batch.waveform.reshape(len(idx), n_st * 3, -1)
    status = batch.status.reshape(len(idx), n_st)
    ok = (status == 0).all(axis=1)
    probs = np.full((len(idx), len(names)), np.nan, dtype=np.float32)
    if ok.any():
        probs[ok] = _probabilities(
            folder, _inputs(spec, x[ok], _time_axis(s), s.sampling_rate), device
        )
    extra: dict = {"source_origin_time": pd.DatetimeIndex(events["source_origin_time"].iloc[idx])}
    for j, st in enumerate(plan.stations):
        r = rows.iloc[j::n_st]
        extra[f"status_{st.station}"] = r["status"].to_numpy()
        extra[f"p_time_{st.station}"] = pd.DatetimeIndex(r["trace_p_arrival_time"])
    out = _table(ids, names, probs, extra)
    reasons = rows.groupby(np.repeat(np.arange(len(idx)), n_st))["reason"].agg(
        lambda r: "; ".join(x for x in r if x)
    )
    out["reason"] = reasons.to_numpy()
    return out


def _p_times(p_times: pd.DataFrame) -> pd.DataFrame:
    """Given P times with today's names (source_id, trace_p_arrival_time; the older event_id,
    p_time are taken too); one without them is a `CatalogError` naming them."""
    old = {"event_id": "source_id", "p_time": "trace_p_arrival_time"}
    df = p_times.rename(columns={k: v for k, v in old.items() if v not in p_times})
    missing = [v for v in old.values() if v not in df.columns]
    if missing:
        raise CatalogError(f"p_times: no column {', '.join(missing)}")
    return df


def _given_p(plan, p_times: pd.DataFrame) -> np.ndarray:
    """The plan's P times replaced by the given ones (source_id, trace_p_arrival_time[,
    station])."""
    p = plan.p_time_ns.copy()
    row = {e: i for i, e in enumerate(plan.events["source_id"].astype(str))}
    col = {s.station: j for j, s in enumerate(plan.stations)}
    col.update({s.code: j for j, s in enumerate(plan.stations)})
    t = (
        pd.to_datetime(p_times["trace_p_arrival_time"], utc=True)
        .dt.tz_localize(None)
        .astype("datetime64[ns]")
    )
    for k, (e, ns) in enumerate(zip(p_times["source_id"].astype(str), t.to_numpy().view(np.int64))):
        i = row.get(e)
        if i is None:
            continue
        if "station" in p_times:
            j = col.get(str(p_times["station"].iloc[k]))
            if j is None:
                raise NotFoundError(
                    f"p_times: station {p_times['station'].iloc[k]!r} is not the run's"
                )
            p[i, j] = ns
        else:
            p[i, :] = ns
    return p
