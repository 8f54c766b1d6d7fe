"""Network aliases: a station the study calls 8P.T1212 whose data are filed under IV.

In 2016 the 8P stations were distributed under IV, so an archive or a data centre may hold
them under either code.  With `network_aliases = {"8P" = ["IV"]}` the ingest finds them
under IV, from an SDS archive and through ObsPy's FDSN Client, and the cube equals the one
built from the archive that files them under 8P.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from fdsn_loopback import FDSNService
from obspy import read

from faultprobe.config import load_config
from faultprobe.pipelines.ingest import ingest
from faultprobe.testing.defects import write_toy_config, write_toy_study

pytestmark = pytest.mark.filterwarnings("ignore:Consolidated metadata:UserWarning")

ALIASES = 'network_aliases = { "8P" = ["IV"] }'


def _refile(sds: Path, out: Path, net: str, alias: str) -> int:
    """Copy an SDS archive, filing network `net` under `alias` (paths and headers)."""
    n = 0
    for path in sds.rglob("*"):
        if not path.is_file():
            continue
        rel = path.relative_to(sds)
        parts = rel.parts
        if parts[1] == net:
            st = read(str(path))
            for tr in st:
                tr.stats.network = alias
            name = rel.name.replace(f"{net}.", f"{alias}.", 1)
            target = out / parts[0] / alias / Path(*parts[2:-1]) / name
            target.parent.mkdir(parents=True, exist_ok=True)
            st.write(str(target), format="MSEED", encoding="STEIM2")
            n += 1
        else:
            target = out / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    return n


def _study_config(folder: Path, study, waveforms: dict, tail: str = "") -> object:
    folder.mkdir()
    store = folder / "store"
    store.mkdir()
    study.events.to_parquet(store / "events.parquet")
    study.stations.to_parquet(store / "stations.parquet")
    toy = type(study)(str(store), "", study.events, study.stations)
    path = Path(write_toy_config(str(folder), toy, waveforms=waveforms))
    text = path.read_text().replace(
        'inventory = "stations.xml"', f'inventory = "stations.xml"\n{ALIASES}'
    )
    path.write_text(text + tail)
    return load_config(path)


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    d = tmp_path_factory.mktemp("aliases")
    study = write_toy_study(str(d / "a"), corrupt=False)
    ingest(load_config(write_toy_config(str(d / "a"), study)))
    refiled = d / "refiled"
    assert _refile(Path(study.sds_root), refiled, "8P", "IV") > 0
    return d, study, refiled


def _same_cube(a: str, b: str) -> None:
    ref = xr.open_zarr(f"{a}/waveforms.zarr").load()
    got = xr.open_zarr(f"{b}/waveforms.zarr").load()
    assert list(got.station.values) == list(ref.station.values)
    assert "8P.T1212" in list(ref.station.values)  # NET.STA: the study's network, not IV
    np.testing.assert_array_equal(got.status.values, ref.status.values)
    np.testing.assert_array_equal(got.waveform.values, ref.waveform.values)
    assert (got.status.values == 0).sum() > 0


def test_sds_archive_filed_under_the_alias(toy):
    d, study, refiled = toy
    cfg = _study_config(d / "sds", study, {"sds_root": str(refiled)})
    ingest(cfg)
    _same_cube(study.store, cfg.study.store)


@pytest.mark.slow  # end to end (the fast tier leaves it out)
def test_fdsn_service_answering_under_the_alias(toy):
    d, study, refiled = toy
    with FDSNService(str(refiled), study.stations, study.events) as svc:
        w = {"source": "fdsn", "fdsn": svc.url, "cache": str(d / "cache"), "max_bulk_items": 8}
        cfg = _study_config(d / "fdsn", study, w)
        ingest(cfg)
    _same_cube(study.store, cfg.study.store)


@pytest.mark.slow  # end to end (the fast tier leaves it out)
def test_fdsn_station_days_under_the_alias(toy):
    """Station-day mode (the driver asks whole days) finds 8P's days served as IV."""
    d, study, refiled = toy
    with FDSNService(str(refiled), study.stations, study.events) as svc:
        w = {"source": "fdsn", "fdsn": svc.url, "cache": str(d / "cache-days")}
        cfg = _study_config(d / "days", study, w, '\n[waveforms.limits]\nmode = "days"\n')
        ingest(cfg)
        spans = {round(float(t1 - t0)) for *_, t0, t1 in svc.asked}
        asked_iv = {ln[2] for ln in svc.asked if ln[1] == "IV"}
    assert spans == {86_400} and "T1212" in asked_iv
    _same_cube(study.store, cfg.study.store)
