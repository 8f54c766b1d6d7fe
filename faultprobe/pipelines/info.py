"""`faultprobe info STORE`: what a study store holds, in a few lines of text."""

from __future__ import annotations

import pandas as pd

from faultprobe.pipelines.status import Status
from faultprobe.store import CUBE, EVENTS, RESULTS, STATIONS, STUDY_TOML, TRACES, Store, StoreError
from faultprobe.storelock import LOCK

# What any study store (or monitoring store) holds once a stage has written into it (the
# lock: a command started writing it; state.json: the monitor's, docs/monitoring.md).
STORE_ITEMS = (EVENTS, STATIONS, STUDY_TOML, CUBE, TRACES, RESULTS, "runs", "state.json", LOCK)


def _size(store: Store, name: str) -> int:
    try:
        return int(store.fs.du(store.path(name), total=True))
    except FileNotFoundError:
        return 0


def describe(root: str) -> str:
    """Events, stations, status counts per station, cube chunking and sizes on disk."""
    import xarray as xr

    store = Store(root)
    if not store.exists():
        raise FileNotFoundError(f"{root} does not exist")
    if not store.fs.isdir(store.path()):
        raise StoreError(
            f"{root} is a file, not a study store; give the folder [study] store names"
        )
    empty = not store.fs.ls(store.path())  # e.g. a monitor killed as it started
    if not empty and not any(store.exists(name) for name in STORE_ITEMS):
        raise StoreError(
            f"{root} is not a study store (none of {', '.join(STORE_ITEMS)} in it); give the "
            "folder that [study] store names (`faultprobe catalog` creates it)"
        )
    lines = [f"store {root}" + (": empty, nothing written yet" if empty else "")]
    if store.exists(EVENTS):
        ev = store.read_table(EVENTS)
        phases = ev["phase"].value_counts().to_dict() if "phase" in ev else {}
        lines.append(f"events: {len(ev)} ({', '.join(f'{k} {v}' for k, v in phases.items())})")
    if store.exists(STATIONS):
        st = store.read_table(STATIONS)
        lines.append(
            f"stations: {len(st)} ({', '.join(st['station_network_code'] + '.' + st['station_code'])})"
        )
    if store.exists(TRACES):
        tr = store.read_table(TRACES)
        code = (tr["station_network_code"] + "." + tr["station_code"]).rename("station")
        table = pd.crosstab(code, tr["status"]).reindex(
            columns=[s.label for s in Status if s.label in set(tr["status"])]
        )
        lines.append("traces by station and status:")
        lines.extend("  " + row for row in table.to_string().splitlines())
        transient = int((tr["status"] == "transient").sum())
        if transient:
            lines.append(
                f"{transient} windows failed transiently: `faultprobe ingest` asks them again"
            )
    if store.exists("state.json"):  # a monitoring store (docs/monitoring.md)
        import json

        state = json.loads(store.read_text("state.json"))
        lines.append(f"monitor: run {state.get('run')}, {state.get('committed', 0)} events "
                     f"committed, {len(state.get('pending') or {})} waiting")  # fmt: skip
    if store.exists(CUBE):
        try:
            ds = xr.open_zarr(store.url(CUBE))
        except Exception as err:  # xarray and zarr raise many kinds for a damaged cube
            again = (
                "start `faultprobe monitor` again: it cuts the cube back to its committed events"
                if store.exists("state.json")
                else "run `faultprobe ingest` again"
            )
            first = (str(err).splitlines() or [type(err).__name__])[0]
            lines.append(f"cube: {store.url(CUBE)} cannot be opened ({first}); {again}")
            lines.append(f"store size on disk: {_size(store, '') / 1e6:.1f} MB")
            return "\n".join(lines)
        dims = " x ".join(f"{k} {v}" for k, v in ds.sizes.items())
        w = ds["waveform"]
        chunks = w.encoding.get("chunks") or w.data.chunksize
        lines.append(
            f"cube: {dims}; waveform {w.dtype} chunks {tuple(chunks)}, codec {ds.attrs.get('codec')}"
        )
        lines.append(
            f"cube complete: {ds.attrs.get('complete', False)}; source {ds.attrs.get('source')}; velocity model {ds.attrs.get('velocity_model')}"
        )
        raw = w.size * w.dtype.itemsize
        disk = _size(store, CUBE)
        lines.append(
            f"cube size: {disk / 1e6:.1f} MB on disk, {raw / 1e6:.1f} MB in memory ({raw / max(disk, 1):.2f}x)"
        )
    lines.append(f"store size on disk: {_size(store, '') / 1e6:.1f} MB")
    return "\n".join(lines)
