"""Every cube the project writes uses only data types the Zarr v3 specification defines
(text as variable-length `string`, not numpy's fixed-length `<U`), so other Zarr readers
can open them, and zarr raises no warning about an unspecified data type on the way.

The event cube comes from a real ingest of the toy SDS archive, the noise cube from the
seasonality grid's builder on a small SDS archive, the toy cube from faultprobe.testing;
the monitoring cube is checked in tests/test_monitor.py (it is the event cube's template).
"""

from __future__ import annotations

import warnings

import pandas as pd
import pytest
import xarray as xr
from test_analysis_noise import _write_sds
from zarr_v3 import arrays, dtype_warnings, unspecified

from faultprobe.analysis.noise import build_noise_cube
from faultprobe.config import load_config, parse_config
from faultprobe.pipelines.ingest import ingest
from faultprobe.store import CUBE, Store
from faultprobe.testing.defects import write_toy_config, write_toy_study
from faultprobe.testing.toycube import ToyStudy, write_toy_store

pytestmark = pytest.mark.filterwarnings("ignore:Consolidated metadata:UserWarning")


def _check(url: str, caught) -> None:
    found = arrays(url)
    assert "waveform" in found and found["station"] == "string", found
    assert unspecified(url) == {}
    assert dtype_warnings(caught) == []
    ds = xr.open_zarr(url)
    for name in (n for n, dtype in found.items() if dtype == "string"):
        assert all(isinstance(v, str) for v in ds[name].values.tolist()), name


def test_the_checker_sees_a_fixed_length_string(tmp_path):
    url = str(tmp_path / "u.zarr")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        xr.Dataset(coords={"s": ("x", ["ab", "c"])}).to_zarr(url, consolidated=False)
    assert set(unspecified(url)) == {"s"}
    assert dtype_warnings(caught)


def test_event_cube(tmp_path, client):
    study = write_toy_study(str(tmp_path), n_events=4, days=1, corrupt=False)
    cfg = load_config(write_toy_config(str(tmp_path), study))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ingest(cfg, client=client)
    _check(Store(study.store).url(CUBE), caught)


def test_noise_cube(tmp_path):
    _write_sds(tmp_path / "sds", [])
    store = Store(str(tmp_path / "store"))
    empty = pd.DataFrame({"source_origin_time": pd.to_datetime([], utc=True)})
    store.write_table(empty, "events.parquet")
    raw = {
        "study": {"name": "n", "store": store.root, "start": "2015-01-01", "end": "2015-12-31"},
        "mainshock": {"name": "m", "time": "2015-06-01", "latitude": 42.8, "longitude": 13.1,
                      "depth_km": 9, "magnitude": 6},
        "fault": {"strike": 155, "dip": 47},
        "catalog": {"path": str(tmp_path / "no-catalog.txt")},
        "stations": {"codes": ["XX.AAA"], "inventory": "x.xml"},
        "waveforms": {"source": "sds", "sds_root": str(tmp_path / "sds")},
        "experiments": {"seasonality": {"enabled": True, "windows_per_day": 2}},
    }  # fmt: skip
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        build_noise_cube(parse_config(raw), client=None)
    _check(Store(store.url("noise")).url(CUBE), caught)
    noise = xr.open_zarr(Store(store.url("noise")).url(CUBE))
    assert set(noise["phase"].values.tolist()) == {"noise"}
    assert noise["event_id"].values.tolist()[0].startswith("noise-AAA-")


def test_toy_cube(tmp_path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        store = write_toy_store(str(tmp_path / "store"), ToyStudy(n_events=40))
    _check(store.url(CUBE), caught)
