"""A small synthetic study, simulated and catalogued once, that the cluster and object-store
tests ingest and train on: analyst mode (every event of the 4-day window), blocks of 8
events, a Table 1 grid of tiny single-thread models at IV.NRCA."""

from __future__ import annotations

import tomllib
from pathlib import Path

from faultprobe.config import dump_toml, parse_config

TABLES = ("events.parquet", "stations.parquet", "study.toml")


def build_grid_study(folder: Path, classes: tuple[int, ...] = (2, 4)) -> dict:
    """Simulate and select the study into folder/store; returns its raw config table."""
    from faultprobe.catalogs.study import build_catalog
    from faultprobe.synthetic.run import synthesize
    from faultprobe.testing.studies import small_study_table

    table = small_study_table(folder)
    table["selection"] = {"mode": "analyst"}
    table["waveforms"] = {**table["waveforms"], "block_size": 8}
    table["train"] = {
        "epochs": 1,
        "width": 0.125,
        "batch_size": 16,
        "seeds": [1],
        "device": "cpu",
        "threads": 1,
        "stations": ["IV.NRCA"],
    }
    table["experiments"] = {
        "table1": {"classes": list(classes), "stations": ["IV.NRCA"]},
        "false_dates": {"enabled": False},
        "bands": {"enabled": False},
        "null": {"enabled": False},
        "pairs": {"enabled": False},
    }
    cfg = parse_config(table)
    synthesize(cfg, parallel=False)
    build_catalog(cfg)
    return table


def config_copy(folder: Path, table: dict, name: str, cluster: dict, store: str | None = None,
                **sections: dict) -> str:  # fmt: skip
    """A config file folder/NAME.toml whose store (folder/NAME, or `store`) starts with a
    copy of the study's tables; `sections` replace whole sections. Returns its path."""
    import fsspec

    target = store or str(folder / name)
    fs, path = fsspec.core.url_to_fs(target)
    fs.makedirs(path, exist_ok=True)
    for t in TABLES:
        fs.put(str(folder / "store" / t), f"{path}/{t}")
    raw = {**table, **sections, "study": {**table["study"], "store": target}, "cluster": cluster}
    out = folder / f"{name}.toml"
    out.write_text(dump_toml(parse_config(raw)))
    return str(out)


def store_of(config: str) -> str:
    """The study store a config file names."""
    with open(config, "rb") as f:
        return parse_config(tomllib.load(f)).study.store


def assert_same_store(a: str, b: str) -> None:
    """Two stores hold the same complete cube and the same traces.parquet."""
    import numpy as np
    import pandas as pd
    import xarray as xr

    from faultprobe.store import Store

    ca = xr.open_zarr(f"{a}/waveforms.zarr").load()
    cb = xr.open_zarr(f"{b}/waveforms.zarr").load()
    assert ca.attrs["complete"] is True and cb.attrs["complete"] is True
    for v in ("waveform", "status", "p_time", "start_time"):
        np.testing.assert_array_equal(ca[v].values, cb[v].values, err_msg=v)
    pd.testing.assert_frame_equal(
        Store(a).read_table("traces.parquet"), Store(b).read_table("traces.parquet")
    )
