"""Metadata of machine-learning waveform datasets, as one normalised table of traces.

Two layouts are read:

- `seisbench`: a SeisBench dataset folder (INSTANCE and every SeisBench dataset use it):
  `metadata.csv` + `waveforms.hdf5`, or chunks `metadata<C>.csv` + `waveforms<C>.hdf5`
  (listed in a `chunks` file or found by name); columns in SeisBench's
  `CATEGORY_PARAMETER_UNIT` vocabulary (`source_id`, `station_code`,
  `trace_sampling_rate_hz`, `trace_p_arrival_sample`, …); a trace is one HDF5 dataset
  (`data/<trace_name>`) or a block of one (`bucket3$12,:3,:2500`).
- `laurenti2024`: the layout the paper's authors released (Zenodo 10.5281/zenodo.12795621):
  per station, HDF5 files of waveforms and CSV files of attributes sharing their stem
  (`NRCA_pre.csv` + `NRCA_pre.hdf5`), columns `trace_name` (`NRCA.IV.<event id>_EV`),
  `trace_start_time`, `network_code`, `receiver_name`, `receiver_type`,
  `receiver_latitude`, …, `source_id`, `source_origin_time`, …, `p_travel_sec`; each trace
  one (3, N) dataset in E, N, Z order.

Both give `TRACE_COLUMNS`: where each trace's samples are, which station and event it
belongs to, when its first sample is, its sampling rate, component order and P arrival.
From that table come the study's catalog (`catalog_from_traces`) and station table
(`stations_from_traces`); `faultprobe.pipelines.datasets` reads the samples.  CSV and
HDF5 only: nothing here unpickles anything.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pandas as pd

from faultprobe._optional import need
from faultprobe.errors import InputError

#: The normalised trace table (one row per trace of the dataset).
TRACE_COLUMNS = [
    "file",  # HDF5 file holding the samples
    "locator",  # dataset name inside it, optionally `$` and a block location
    "station_network_code",
    "station_code",
    "station_location_code",
    "station_channels",  # band + instrument code, e.g. "HH"
    "component_order",  # e.g. "ZNE" or "ENZ"
    "trace_sampling_rate_hz",
    "start_ns",  # first sample, UTC ns
    "p_ns",  # P arrival, UTC ns (int64 min when not given)
    "source_id",
    "source_origin_time",  # UTC ns
    "source_latitude_deg",
    "source_longitude_deg",
    "source_depth_km",
    "source_magnitude",
    "source_magnitude_type",
    "station_latitude_deg",
    "station_longitude_deg",
    "station_elevation_m",
]
LAYOUTS = ("seisbench", "laurenti2024")
NAT = np.iinfo(np.int64).min


class DatasetError(InputError, ValueError):
    """A dataset folder that cannot be read; the message names the file and what is wrong."""


def _col(df: pd.DataFrame, *names: str) -> pd.Series | None:
    """The first of `names` present (case-insensitively), or None."""
    lower = {c.lower(): c for c in df.columns}
    for n in names:
        if n.lower() in lower:
            return df[lower[n.lower()]]
    return None


def _need(df: pd.DataFrame, path: Path, *names: str) -> pd.Series:
    s = _col(df, *names)
    if s is None:
        raise DatasetError(f"{path}: no column {' or '.join(names)}")
    return s


def _utc_ns(values: pd.Series, path: Path, name: str) -> np.ndarray:
    try:
        t = pd.to_datetime(values, utc=True, format="ISO8601")
    except (ValueError, TypeError) as err:
        raise DatasetError(f"{path}: column {name} has times that do not parse ({err})") from None
    return (
        t.dt.tz_convert("UTC")
        .dt.tz_localize(None)
        .astype("datetime64[ns]")
        .to_numpy()
        .view(np.int64)
    )


def _text(s: pd.Series | None, n: int, default: str = "") -> np.ndarray:
    if s is None:
        return np.full(n, default, dtype=object)
    out = s.astype(object).where(s.notna(), default).astype(str)
    return out.to_numpy(dtype=object)


def _num(s: pd.Series | None, n: int) -> np.ndarray:
    if s is None:
        return np.full(n, np.nan)
    return pd.to_numeric(s, errors="coerce").to_numpy(float)


def _event_table(df: pd.DataFrame, path: Path) -> dict[str, np.ndarray]:
    """The per-trace event columns shared by both layouts."""
    n = len(df)
    origin = _need(df, path, "source_origin_time")
    return {
        "source_id": _text(_need(df, path, "source_id"), n),
        "source_origin_time": _utc_ns(origin, path, "source_origin_time"),
        "source_latitude_deg": _num(_col(df, "source_latitude_deg", "source_latitude"), n),
        "source_longitude_deg": _num(_col(df, "source_longitude_deg", "source_longitude"), n),
        "source_depth_km": _num(_col(df, "source_depth_km"), n),
        "source_magnitude": _num(_col(df, "source_magnitude"), n),
        "source_magnitude_type": _text(_col(df, "source_magnitude_type"), n),
    }


# SeisBench --------------------------------------------------------------------------


def seisbench_chunks(folder: Path) -> list[str]:
    """The dataset's chunks as SeisBench finds them ("" for an unchunked dataset)."""
    listed = folder / "chunks"
    if listed.is_file():
        chunks = [c.strip() for c in listed.read_text().splitlines() if c.strip()]
        if chunks:
            return sorted(chunks)
    if (folder / "waveforms.hdf5").is_file():
        return [""]
    meta = {p.name[8:-4] for p in folder.glob("metadata*.csv")}
    wave = {p.name[9:-5] for p in folder.glob("waveforms*.hdf5")}
    if not meta & wave:
        raise DatasetError(
            f"{folder}: not a SeisBench dataset (no metadata.csv + waveforms.hdf5, nor chunks "
            f"metadata<C>.csv + waveforms<C>.hdf5)"
        )
    return sorted(meta & wave)


def _sampling_rates(folder: Path, chunk: str, df: pd.DataFrame, path: Path) -> np.ndarray:
    rate = _num(_col(df, "trace_sampling_rate_hz"), len(df))
    dt = _num(_col(df, "trace_dt_s"), len(df))
    rate = np.where(np.isnan(rate) & (dt > 0), 1.0 / dt, rate)
    if np.isnan(rate).any():
        fmt = read_data_format(folder / f"waveforms{chunk}.hdf5")
        if "sampling_rate" not in fmt:
            raise DatasetError(
                f"{path}: traces without trace_sampling_rate_hz and no data_format/sampling_rate "
                f"in waveforms{chunk}.hdf5"
            )
        rate = np.where(np.isnan(rate), float(fmt["sampling_rate"]), rate)
    return rate


def read_data_format(path: Path) -> dict:
    """The `data_format` group of a SeisBench waveform file, decoded to str/float."""
    h5py = need("h5py", extra="datasets", what="SeisBench datasets (HDF5)")

    out: dict = {}
    try:
        with h5py.File(path, "r") as f:
            if "data_format" not in f:
                return out
            for key, value in f["data_format"].items():
                v = value[()]
                out[key] = v.decode() if isinstance(v, bytes) else v
    except OSError as err:
        raise DatasetError(f"{path}: cannot read HDF5 ({err})") from None
    return out


def read_seisbench(folder: str | Path) -> pd.DataFrame:
    """Every trace of a SeisBench dataset folder as `TRACE_COLUMNS`."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"{folder}: dataset folder not found")
    parts = []
    for chunk in seisbench_chunks(folder):
        path = folder / f"metadata{chunk}.csv"
        try:
            df = pd.read_csv(path, low_memory=False)
        except (OSError, pd.errors.ParserError) as err:
            raise DatasetError(f"{path}: cannot read CSV ({err})") from None
        n = len(df)
        fmt = read_data_format(folder / f"waveforms{chunk}.hdf5")
        rate = _sampling_rates(folder, chunk, df, path)
        start = _utc_ns(_need(df, path, "trace_start_time"), path, "trace_start_time")
        p_sample = _num(_col(df, "trace_p_arrival_sample", "trace_P_arrival_sample"), n)
        offset = np.round(np.nan_to_num(p_sample) * 1e9 / rate).astype(np.int64)
        p_ns = np.where(np.isnan(p_sample), NAT, start + offset)
        order = _text(_col(df, "trace_component_order"), n, str(fmt.get("component_order", "")))
        if (order == "").any():
            raise DatasetError(
                f"{path}: no trace_component_order and no data_format/component_order in "
                f"waveforms{chunk}.hdf5"
            )
        channels = _text(_col(df, "station_channels", "station_channel"), n)
        parts.append(
            pd.DataFrame(
                {
                    "file": str(folder / f"waveforms{chunk}.hdf5"),
                    "locator": _text(_need(df, path, "trace_name"), n),
                    "station_network_code": _text(_need(df, path, "station_network_code"), n),
                    "station_code": _text(_need(df, path, "station_code"), n),
                    "station_location_code": _text(_col(df, "station_location_code"), n),
                    "station_channels": [c[:2] for c in channels],
                    "component_order": order,
                    "trace_sampling_rate_hz": rate,
                    "start_ns": start,
                    "p_ns": p_ns,
                    **_event_table(df, path),
                    "station_latitude_deg": _num(_col(df, "station_latitude_deg"), n),
                    "station_longitude_deg": _num(_col(df, "station_longitude_deg"), n),
                    "station_elevation_m": _num(_col(df, "station_elevation_m"), n),
                }
            )
        )
    return _finish(pd.concat(parts, ignore_index=True))


# The paper's released layout -----------------------------------------------------------


def read_laurenti2024(folder: str | Path, sampling_rate: float = 100.0) -> pd.DataFrame:
    """Every trace of the paper's released dataset folder as `TRACE_COLUMNS`.

    Each `X.csv` is paired with `X.hdf5` (or `X.h5`) in the same folder or below it; the
    samples are 3 × N in E, N, Z order at `sampling_rate` unless the CSV has
    `trace_sampling_rate_hz`.  The P arrival is `source_origin_time + p_travel_sec`.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"{folder}: dataset folder not found")
    parts = []
    for path in sorted(folder.rglob("*.csv")):
        h5 = next((p for p in (path.with_suffix(".hdf5"), path.with_suffix(".h5")) if p.is_file()), None)  # fmt: skip
        if h5 is None:
            continue
        try:
            df = pd.read_csv(path, low_memory=False)
        except (OSError, pd.errors.ParserError) as err:
            raise DatasetError(f"{path}: cannot read CSV ({err})") from None
        n = len(df)
        ev = _event_table(df, path)
        rate = _num(_col(df, "trace_sampling_rate_hz"), n)
        rate = np.where(np.isnan(rate), sampling_rate, rate)
        travel = _num(_col(df, "p_travel_sec", "p_travel_s", "path_p_travel_s"), n)
        offset = np.round(np.nan_to_num(travel) * 1e9).astype(np.int64)
        p_ns = np.where(np.isnan(travel), NAT, ev["source_origin_time"] + offset)
        names = _text(_need(df, path, "trace_name"), n)
        station = _text(_col(df, "receiver_name", "station_code"), n)
        if (station == "").any():  # NRCA.IV.<id>_EV
            station = np.array([s or t.split(".")[0] for s, t in zip(station, names)], object)
        parts.append(
            pd.DataFrame(
                {
                    "file": str(h5),
                    "locator": names,
                    "station_network_code": _text(
                        _need(df, path, "network_code", "station_network_code"), n
                    ),
                    "station_code": station,
                    "station_location_code": _text(_col(df, "station_location_code"), n),
                    "station_channels": [c[:2] for c in _text(_col(df, "receiver_type"), n)],
                    "component_order": "ENZ",
                    "trace_sampling_rate_hz": rate,
                    "start_ns": _utc_ns(
                        _need(df, path, "trace_start_time"), path, "trace_start_time"
                    ),
                    "p_ns": p_ns,
                    **ev,
                    "station_latitude_deg": _num(_col(df, "receiver_latitude"), n),
                    "station_longitude_deg": _num(_col(df, "receiver_longitude"), n),
                    "station_elevation_m": _num(_col(df, "receiver_elevation_m"), n),
                }
            )
        )
    if not parts:
        raise DatasetError(
            f"{folder}: no attributes CSV with an HDF5 file of the same name (e.g. NRCA_pre.csv "
            "and NRCA_pre.hdf5)"
        )
    return _finish(pd.concat(parts, ignore_index=True))


def _finish(df: pd.DataFrame) -> pd.DataFrame:
    df["station_location_code"] = df["station_location_code"].replace({"--": ""})
    return df[TRACE_COLUMNS].reset_index(drop=True)


def read_traces(folder: str | Path, layout: str) -> pd.DataFrame:
    """The trace table of a dataset folder in `layout` (`seisbench` or `laurenti2024`).

    The metadata of a large dataset (INSTANCE: 1.2 M rows) is parsed once per process and
    version of its CSV files; each call gets its own copy.
    """
    if layout not in LAYOUTS:
        raise DatasetError(f"unknown dataset layout {layout!r}; choose from {list(LAYOUTS)}")
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"{folder}: dataset folder not found")
    stamp = tuple(
        (str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in sorted(folder.rglob("*.csv"))
    )
    return _read_cached(str(folder.resolve()), layout, stamp).copy()


@functools.lru_cache(maxsize=2)
def _read_cached(folder: str, layout: str, stamp: tuple) -> pd.DataFrame:
    return read_seisbench(folder) if layout == "seisbench" else read_laurenti2024(folder)


# Catalog and stations from the traces ---------------------------------------------------


def catalog_from_traces(traces: pd.DataFrame) -> pd.DataFrame:
    """One row per event (`faultprobe.catalogs.readers.CATALOG_COLUMNS`), origin in UTC."""
    ev = traces.drop_duplicates("source_id").reset_index(drop=True)
    mag = ev["source_magnitude"].to_numpy(float)
    kind = ev["source_magnitude_type"].astype(str).str.lower().to_numpy()
    return pd.DataFrame(
        {
            "source_id": ev["source_id"].astype(str),
            "source_origin_time": pd.to_datetime(
                ev["source_origin_time"].to_numpy().view("datetime64[ns]")
            ).tz_localize("UTC"),
            "source_latitude_deg": ev["source_latitude_deg"].to_numpy(float),
            "source_longitude_deg": ev["source_longitude_deg"].to_numpy(float),
            "source_depth_km": ev["source_depth_km"].to_numpy(float),
            "mw": np.where(kind == "mw", mag, np.nan),
            "ml": np.where(kind == "ml", mag, np.nan),
            "source_magnitude": mag,
            "source_magnitude_type": ev["source_magnitude_type"].astype(str),
        }
    )


def stations_from_traces(
    traces: pd.DataFrame, codes: list[str], far: list[str], aliases: dict[str, list[str]]
) -> tuple[pd.DataFrame, list[str]]:
    """The stations table (`faultprobe.catalogs.stations.STATION_COLUMNS`) and the codes not
    found, from the traces' station columns (the most common row per station)."""
    rows, missing = [], []
    for code in dict.fromkeys([*codes, *far]):
        net, sta = code.split(".")
        found = None
        for data_net in [net, *aliases.get(net, [])]:
            net_ok = traces["station_network_code"] == data_net
            sel = traces[net_ok & (traces["station_code"] == sta)]
            if len(sel):
                found = (data_net, sel)
                break
        if found is None:
            missing.append(code)
            continue
        data_net, sel = found
        key = [
            "station_location_code",
            "station_channels",
            "station_latitude_deg",
            "station_longitude_deg",
        ]
        first = sel.groupby(key, dropna=False).size().sort_values(ascending=False).index[0]
        row = sel[(sel[key[0]] == first[0]) & (sel[key[1]] == first[1])].iloc[0]
        rows.append(
            {
                "station_network_code": net,
                "station_code": sta,
                "station_location_code": row["station_location_code"],
                "station_channels": row["station_channels"],
                "station_latitude_deg": float(row["station_latitude_deg"]),
                "station_longitude_deg": float(row["station_longitude_deg"]),
                "station_elevation_m": float(np.nan_to_num(row["station_elevation_m"])),
                "station_sampling_rate_hz": float(row["trace_sampling_rate_hz"]),
                "far": code in far,
                "station_data_network_code": data_net,
            }
        )
    return pd.DataFrame(rows), missing
