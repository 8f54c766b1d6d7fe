"""The ingest plan: events x stations, theoretical P for every pair, blocks of events.

Everything here is computed once in the driver from events.parquet and stations.parquet
and handed to the tasks as plain arrays, so a task needs no table I/O of its own.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from faultprobe import columns
from faultprobe.config import Waveforms
from faultprobe.errors import InputError
from faultprobe.geodesy import epicentral_km
from faultprobe.pipelines.velocity import load_p_table

OPERATIONAL = (
    "max_requests_per_second",
    "max_concurrent_requests",
    "request_timeout_s",
    "max_attempts",
    "retry_backoff_s",
    "max_bulk_items",
    "eida_token",
    "cache",
    "breaker_failures",
    "limits",
)
# What changes the content of blocks but not the cube's shape: checked block by block by
# the ingest (a block built from other inputs is redone), so not part of the plan hash.
INPUTS = (
    "source",
    "sds_root",
    "fdsn",
    "detrend",
    "remove_response",
    "bandpass_hz",
    "max_gap_s",
    "pad_s",
    "clip_counts",
    "clip_run",
)
# (their order is part of the plan hash: the values are hashed, not the names)
EVENT_COLUMNS = [
    "source_id",
    "source_origin_time",
    "source_latitude_deg",
    "source_longitude_deg",
    "source_depth_km",
]
STATION_COLUMNS = [
    "station_network_code",
    "station_code",
    "station_location_code",
    "station_channels",
    "station_latitude_deg",
    "station_longitude_deg",
    "station_elevation_m",
]


@dataclass(frozen=True)
class StationInfo:
    """One station of the study, as the sources need it."""

    network: str
    station: str
    location: str
    channels: str  # band + instrument code, e.g. "HH"
    sampling_rate: float
    aliases: tuple[str, ...] = ()

    @property
    def code(self) -> str:
        return f"{self.network}.{self.station}"


@dataclass(frozen=True)
class Plan:
    """What the ingest will produce, and how the work is cut into blocks."""

    events: pd.DataFrame
    stations: list[StationInfo]
    station_table: pd.DataFrame
    station_names: list[str]  # NET.STA
    p_time_ns: np.ndarray  # (n_event, n_station) int64, theoretical P (UTC ns)
    block_size: int
    plan_hash: str
    p_source: np.ndarray | None = None  # (n_event, n_station) int8 `placement.PSource`; None: model

    @property
    def n_blocks(self) -> int:
        return -(-len(self.events) // self.block_size)

    def block(self, i: int) -> slice:
        return slice(i * self.block_size, min((i + 1) * self.block_size, len(self.events)))


class PlanError(InputError, ValueError):
    """An events or stations table the plan cannot be made from (the message says why)."""


def _check_columns(df: pd.DataFrame, wanted: list[str], name: str) -> None:
    """The table has the columns the plan needs; the message names them (and the short
    names of older stores, which are read as these)."""
    missing = [c for c in wanted if c not in df.columns]
    if missing:
        old = {v: k for k, v in columns.legacy(name).items()}
        was = ", ".join(old[c] for c in missing if c in old)
        raise PlanError(
            f"{name}: missing columns {missing}"
            + (f" (formerly {was})" if was else "")
            + "; docs/tables.md lists them"
        )


def _utc_ns(values: pd.Series) -> np.ndarray:
    t = pd.to_datetime(values, utc=True)
    return (
        t.dt.tz_convert("UTC")
        .dt.tz_localize(None)
        .astype("datetime64[ns]")
        .to_numpy()
        .astype(np.int64)
    )


def make_plan(
    events: pd.DataFrame,
    stations: pd.DataFrame,
    cfg: Waveforms,
    aliases: dict[str, list[str]] | None = None,
) -> Plan:
    """Build the plan; P times come from the configured model's table (NaN off the table)."""
    _check_columns(events, EVENT_COLUMNS, "events.parquet")
    _check_columns(stations, STATION_COLUMNS, "stations.parquet")
    if events["source_id"].duplicated().any():
        dup = events.loc[events["source_id"].duplicated(), "source_id"].iloc[0]
        raise PlanError(f"events.parquet: source_id {dup!r} appears more than once")
    events = events.reset_index(drop=True)
    stations = stations.reset_index(drop=True)
    aliases = aliases or {}
    infos = [
        StationInfo(
            network=str(r.station_network_code),
            station=str(r.station_code),
            location=str(
                r.station_location_code if isinstance(r.station_location_code, str) else ""
            ),
            channels=str(r.station_channels)[:2],
            sampling_rate=float(
                getattr(r, "station_sampling_rate_hz", cfg.sampling_rate) or cfg.sampling_rate
            ),
            aliases=tuple(aliases.get(str(r.station_network_code), [])),
        )
        for r in stations.itertuples()
    ]
    names = [s.code for s in infos]  # the cube's station labels: NET.STA
    table = load_p_table(cfg.velocity_model)
    dist = epicentral_km(
        events["source_latitude_deg"].to_numpy()[:, None],
        events["source_longitude_deg"].to_numpy()[:, None],
        stations["station_latitude_deg"].to_numpy()[None, :],
        stations["station_longitude_deg"].to_numpy()[None, :],
    )
    depth = np.broadcast_to(events["source_depth_km"].to_numpy(float)[:, None], dist.shape)
    tt = table.travel_time(dist, depth, stations["station_elevation_m"].to_numpy(float)[None, :])
    origin = _utc_ns(events["source_origin_time"])
    p_ns = origin[:, None] + np.round(np.nan_to_num(tt, nan=0.0) * 1e9).astype(np.int64)
    p_ns = np.where(np.isnan(tt), np.iinfo(np.int64).min, p_ns)
    digest = hashlib.sha256()
    # What shapes the cube; request limits, retries and timeouts may change between an
    # interrupted run and its resumption, and the inputs (INPUTS) are checked per block.
    operational = set(OPERATIONAL) | set(INPUTS)
    content = {k: v for k, v in cfg.model_dump(mode="json").items() if k not in operational}
    digest.update(json.dumps(content, sort_keys=True).encode())
    digest.update(
        pd.util.hash_pandas_object(events[EVENT_COLUMNS], index=False).to_numpy().tobytes()
    )
    digest.update(
        pd.util.hash_pandas_object(stations[STATION_COLUMNS], index=False).to_numpy().tobytes()
    )
    return Plan(events, infos, stations, names, p_ns, cfg.block_size, digest.hexdigest()[:16])
