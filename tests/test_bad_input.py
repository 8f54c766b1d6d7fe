"""Bad input as a user meets it, outside the monitor: damaged run files, files `predict`
cannot read, a path where an Inventory is expected, XML of another schema as StationXML,
`ingest` before `catalog`, a missing StationXML, a catalog without a readable row, a
StationXML without responses, `info` on a folder that is no store, temp files of a killed
run, stations active in part of the study window or not at all, velocity models. Each ends
in one line naming the file, key or service and what to do, with the exit code its meaning
says (2 bad input); fixed, the next run gives what a clean run gives."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import obspy
import pandas as pd
import pytest
import xarray as xr
from distributed import LocalCluster

import faultprobe
from faultprobe import cli
from faultprobe.testing.defects import toy_inventory, write_toy_config, write_toy_study

pytestmark = pytest.mark.filterwarnings("ignore:Consolidated metadata:UserWarning")

OBSPY_MSEED = Path(obspy.__file__).parent / "io" / "mseed" / "tests" / "data"
QUAKEML = Path(obspy.__file__).parent / "io" / "quakeml" / "tests" / "data" / "neries_events.xml"


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


# predict and the run's files ------------------------------------------------------------


@pytest.fixture(scope="module")
def run_copy(small_trained, tmp_path_factory):
    """A copy of the trained run's store, a day of its miniSEED and a clean prediction."""
    from small_study import copy_store

    cfg = copy_store(small_trained, tmp_path_factory.mktemp("bad-input-run"))
    run = f"{cfg.study.store}/runs/{small_trained.run_id}"
    preds = pd.read_parquet(f"{run}/predictions.parquet")
    day = preds["source_origin_time"].dt.strftime("%Y.%j").value_counts().index[0]
    files = sorted(Path(cfg.waveforms.sds_root).glob(f"*/IV/NRCA/HH?.D/IV.NRCA..HH?.D.{day}"))
    assert len(files) == 3
    clean = faultprobe.predict(run, files)
    return cfg, run, [str(f) for f in files], clean


def _predict_cli(run: str, files: list[str], *extra: str, out: Path) -> int:
    return cli.main(["predict", run, *files, *extra, "--out", str(out)])


def _same_as_clean(out: Path, clean: pd.DataFrame) -> None:
    got = pd.read_parquet(out)
    pd.testing.assert_frame_equal(got, clean)


@pytest.mark.parametrize(
    ("name", "damage", "says"),
    [
        ("model.safetensors", lambda b: b[: len(b) // 2], "model.safetensors is damaged"),
        ("metrics.json", lambda b: b"", "metrics.json is damaged"),
        ("spec.json", lambda b: b[:-40], "spec.json is damaged"),
    ],
)
def test_a_damaged_run_file(run_copy, tmp_path, capsys, name, damage, says):
    """predict and the monitor's model loading (one shared loader) name the file."""
    from faultprobe.monitor.service import load_run
    from faultprobe.store import StoreError

    _, run, files, clean = run_copy
    path = Path(run, name)
    good = path.read_bytes()
    path.write_bytes(damage(good))
    try:
        out = tmp_path / "p.parquet"
        assert _predict_cli(run, files, out=out) == 2
        line = _one_error_line(capsys)
        assert says in line and f"delete {run}" in line and "faultprobe train" in line
        with pytest.raises(StoreError, match=says):
            load_run(run).folder.load_model()  # the monitor: the run, then its network
    finally:
        path.write_bytes(good)  # fixed
    assert _predict_cli(run, files, out=out) == 0
    _same_as_clean(out, clean)


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (lambda d: d / "empty.mseed", "the file is empty"),
        (lambda d: d / "notes.csv", "not a waveform file ObsPy can read"),
        (lambda d: OBSPY_MSEED / "not.mseed", "not a waveform file ObsPy can read"),
        (lambda d: OBSPY_MSEED / "infinite-loop.mseed", "not a waveform file ObsPy can read"),
        (lambda d: d, "is a directory; give miniSEED files"),
    ],
    ids=["empty", "text", "obspy-not-mseed", "obspy-infinite-loop", "directory"],
)
def test_predict_on_files_it_cannot_read(run_copy, tmp_path, capsys, make, says):
    _, run, files, clean = run_copy
    (tmp_path / "empty.mseed").write_bytes(b"")
    (tmp_path / "notes.csv").write_text("station,comment\nNRCA,fine\n")
    bad = str(make(tmp_path))
    out = tmp_path / "p.parquet"
    assert _predict_cli(run, [*files, bad], out=out) == 2
    line = _one_error_line(capsys)
    assert line.startswith(f"error: {bad}") and says in line
    assert _predict_cli(run, files, out=out) == 0  # without it
    _same_as_clean(out, clean)


def test_predict_with_an_inventory_of_the_wrong_kind(run_copy, tmp_path, capsys):
    """A miniSEED or a QuakeML file as --inventory: one line naming it and the option."""
    cfg, run, files, _ = run_copy
    out = tmp_path / "p.parquet"
    assert _predict_cli(run, files, "--inventory", files[0], out=out) == 2
    line = _one_error_line(capsys)
    assert f"{files[0]} (--inventory): not readable StationXML (not an XML document" in line
    assert _predict_cli(run, files, "--inventory", str(QUAKEML), out=out) == 2
    line = _one_error_line(capsys)
    assert f"{QUAKEML} (--inventory): not readable StationXML: XML of another kind" in line
    assert "quakeml" in line
    assert _predict_cli(run, files, "--inventory", cfg.stations.inventory, out=out) == 0
    with_inv = faultprobe.predict(run, files, obspy.read_inventory(cfg.stations.inventory))
    _same_as_clean(out, with_inv)


def test_predict_takes_a_stationxml_path_for_inventory(run_copy):
    from faultprobe.catalogs.stations import StationError

    cfg, run, files, _ = run_copy
    by_path = faultprobe.predict(run, files, inventory=cfg.stations.inventory)
    by_object = faultprobe.predict(run, files, obspy.read_inventory(cfg.stations.inventory))
    pd.testing.assert_frame_equal(by_path, by_object)
    with pytest.raises(StationError, match="inventory= is a int; give an ObsPy Inventory"):
        faultprobe.predict(run, files, inventory=42)


def test_events_csv_without_depth(run_copy, tmp_path, capsys):
    """The line names the user's file and the accepted column names, cites docs/."""
    cfg, run, files, _ = run_copy
    events = pd.read_parquet(f"{cfg.study.store}/events.parquet")
    csv = tmp_path / "ev.csv"
    events.drop(columns=["source_depth_km"]).to_csv(csv, index=False)
    out = tmp_path / "p.parquet"
    assert _predict_cli(run, files, "--events", str(csv), out=out) == 2
    line = _one_error_line(capsys)
    assert f"{csv}: no column source_depth_km (or depth_km)" in line
    assert "docs/tables.md" in line and "DESIGN" not in line
    events.to_csv(csv, index=False)  # fixed
    assert _predict_cli(run, files, "--events", str(csv), out=out) == 0
    _same_as_clean(out, faultprobe.predict(run, files, events=pd.read_csv(csv)))
    assert len(pd.read_parquet(out)) == len(events)


# the ingest on the toy archive --------------------------------------------------------


@pytest.fixture(scope="module")
def address():
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, protocol="tcp", dashboard_address=":0"
    ) as c:
        yield c.scheduler_address


@pytest.fixture(scope="module")
def toy(tmp_path_factory, address):
    """The toy archive (with its StationXML) and the store of a clean run."""
    d = tmp_path_factory.mktemp("toy")
    study = write_toy_study(str(d), n_events=12, days=2, corrupt=False)
    toy_inventory(study.stations).write(str(d / "stations.xml"), "STATIONXML")
    cfg = write_toy_config(str(d), study, cluster={"kind": "address", "address": address})
    assert cli.main(["ingest", cfg, "-q"]) == 0
    return study


def _twin(folder: Path, study, address: str, tables: bool = True, **waveforms) -> tuple[str, str]:
    store = folder / "store"
    store.mkdir(parents=True)
    if tables:
        study.events.to_parquet(store / "events.parquet")
        study.stations.to_parquet(store / "stations.parquet")
    toy_inventory(study.stations).write(str(folder / "stations.xml"), "STATIONXML")
    twin = type(study)(str(store), study.sds_root, study.events, study.stations)
    cluster = {"kind": "address", "address": address}
    return str(store), write_toy_config(str(folder), twin, waveforms=waveforms, cluster=cluster)


def _same_store(store: str, ref: str) -> None:
    x = xr.open_zarr(f"{ref}/waveforms.zarr").load()
    y = xr.open_zarr(f"{store}/waveforms.zarr").load()
    for var in ("waveform", "status", "start_time", "p_time"):
        np.testing.assert_array_equal(x[var].values, y[var].values)
    assert y.attrs["complete"] is True
    pd.testing.assert_frame_equal(
        pd.read_parquet(f"{ref}/traces.parquet"), pd.read_parquet(f"{store}/traces.parquet")
    )


def test_ingest_before_catalog(tmp_path, toy, address, capsys):
    """The store's own message, not `[Errno None] None: 'STORE'`."""
    store, cfg = _twin(tmp_path, toy, address, tables=False)
    assert cli.main(["ingest", cfg, "-q"]) == 2
    line = _one_error_line(capsys)
    assert line == f"error: {store}/events.parquet does not exist (run `faultprobe catalog` first)"
    toy.events.to_parquet(Path(store, "events.parquet"))  # what the catalog stage writes
    toy.stations.to_parquet(Path(store, "stations.parquet"))
    assert cli.main(["ingest", cfg, "-q"]) == 0
    _same_store(store, toy.store)


def _without_responses(stations, path: Path) -> None:
    inv = toy_inventory(stations)
    for net in inv:
        for sta in net:
            for cha in sta:
                cha.response = None
    inv.write(str(path), "STATIONXML")


def test_a_stationxml_without_any_response(tmp_path, toy, address, capsys):
    """Every window lacks its response: the line says so, naming the StationXML."""
    settings = {"remove_response": True, "codec": "zstd-3"}
    ref, ref_cfg = _twin(tmp_path / "ref", toy, address, **settings)
    assert cli.main(["ingest", ref_cfg, "-q"]) == 0
    store, cfg = _twin(tmp_path / "run", toy, address, **settings)
    inv = tmp_path / "run" / "stations.xml"
    _without_responses(toy.stations, inv)
    assert cli.main(["ingest", cfg, "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    line = err[-1]  # (evalresp may print warnings of its own before)
    assert line.startswith("error: none of the 60 windows could be used: the StationXML")
    assert f"the StationXML {inv} has no instrument response for " in line
    assert "IV.NRCA..HH" in line
    assert "remove_response" in line and "check the source" not in line
    toy_inventory(toy.stations).write(str(inv), "STATIONXML")  # fixed
    assert cli.main(["ingest", cfg, "-q"]) == 0
    _same_store(store, ref)


def test_temp_files_of_a_killed_run_are_removed(tmp_path, toy, address, capsys):
    """A kill between write and rename (compaction, a run's file) leaves *.tmp-PID-TID;
    the next command that takes the lock removes them; the monitor's folder is its own."""
    store, cfg = _twin(tmp_path, toy, address)
    assert cli.main(["ingest", cfg, "-q"]) == 0
    left = [Path(store, "traces.parquet.tmp-999999-1"), Path(store, "ingest", "x.json.tmp-9-9")]
    for f in left:
        f.write_bytes(b"PAR1 half")
    mine = Path(store, "monitor", "state.json.tmp-9-9")
    mine.parent.mkdir()
    mine.write_bytes(b"{")
    capsys.readouterr()
    assert cli.main(["ingest", cfg]) == 0
    assert "removed 2 temporary files left by a killed run" in capsys.readouterr().err
    assert not any(f.exists() for f in left) and mine.exists()
    shutil.rmtree(mine.parent)
    _same_store(store, toy.store)


def test_info_on_a_folder_that_is_not_a_store(tmp_path, toy, capsys):
    (tmp_path / "notes.txt").write_text("a folder of other things")
    assert cli.main(["info", str(tmp_path)]) == 2
    line = _one_error_line(capsys)
    assert f"{tmp_path} is not a study store" in line and "[study] store" in line
    assert cli.main(["info", str(tmp_path / "notes.txt")]) == 2
    assert "is a file, not a study store" in _one_error_line(capsys)
    (tmp_path / "new").mkdir()  # empty: a store nothing was written into yet
    assert cli.main(["info", str(tmp_path / "new")]) == 0
    assert "empty, nothing written yet" in capsys.readouterr().out
    assert cli.main(["info", toy.store]) == 0
    assert "traces by station and status" in capsys.readouterr().out


# the catalog stage -----------------------------------------------------------------------


@pytest.fixture
def study(tmp_path, norcia_raw):
    """The real study config with its store, a small catalog and stations in tmp_path."""
    from catalog_files import NORCIA_STATIONS, random_catalog, write_stationxml, write_tan
    from test_config import toml_text

    norcia_raw["study"]["store"] = "store"
    norcia_raw["catalog"]["path"] = "cat.txt"
    norcia_raw["stations"] = {"codes": ["IV.NRCA", "IV.FDMO"], "inventory": "st.xml"}
    write_tan(tmp_path / "cat.txt", random_catalog(300, seed=5, days=200))
    write_stationxml(tmp_path / "st.xml", NORCIA_STATIONS)

    def write(raw=norcia_raw) -> str:
        (tmp_path / "study.toml").write_text(toml_text(raw))
        return str(tmp_path / "study.toml")

    return norcia_raw, write


def _clean_catalog(tmp_path, study) -> pd.DataFrame:
    from test_config import toml_text

    raw, _ = study
    other = tmp_path / "clean"
    other.mkdir()
    shutil.copy(tmp_path / "cat.txt", other / "cat.txt")
    shutil.copy(tmp_path / "st.xml", other / "st.xml")
    (other / "study.toml").write_text(toml_text(raw))
    assert cli.main(["catalog", str(other / "study.toml"), "-q"]) == 0
    return pd.read_parquet(other / "store" / "events.parquet")


def test_a_missing_stationxml_is_bad_input(tmp_path, study, capsys):
    """Exit 2 (the file is the user's), although the advice mentions a web service."""
    raw, write = study
    good = (tmp_path / "st.xml").read_bytes()
    (tmp_path / "st.xml").unlink()
    assert cli.main(["catalog", write(), "-q"]) == 2
    line = _one_error_line(capsys)
    assert "st.xml: StationXML file not found ([stations] inventory)" in line
    (tmp_path / "st.xml").write_bytes(good)  # fixed
    assert cli.main(["catalog", write(), "-q"]) == 0
    clean = _clean_catalog(tmp_path, study)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "store" / "events.parquet"), clean)


def test_xml_of_another_schema_as_stationxml(tmp_path, study, capsys):
    raw, write = study
    good = (tmp_path / "st.xml").read_bytes()
    shutil.copy(QUAKEML, tmp_path / "st.xml")
    assert cli.main(["catalog", write(), "-q"]) == 2
    line = _one_error_line(capsys)
    assert "st.xml ([stations] inventory): not readable StationXML: XML of another kind" in line
    (tmp_path / "st.xml").write_bytes(good)
    assert cli.main(["catalog", write(), "-q"]) == 0


def _csv_catalog(path: Path, times=None) -> None:
    from catalog_files import random_catalog

    cat = random_catalog(300, seed=5, days=200)
    pd.DataFrame(
        {
            # the CSV file's own column names (the reader's input), from the frame's
            "time": cat.source_origin_time.dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            if times is None
            else times,
            "latitude": cat.source_latitude_deg,
            "longitude": cat.source_longitude_deg,
            "depth": cat.source_depth_km,
            "magnitude": cat.mw,
        }
    ).to_csv(path, index=False)


def test_catalog_force_with_every_row_unreadable(tmp_path, study, capsys):
    """The line names the catalog file and the reader's problems, not [selection]."""
    raw, write = study
    raw["catalog"] = {"path": "cat.csv", "format": "csv"}
    _csv_catalog(tmp_path / "cat.csv")
    config = write(raw)
    assert cli.main(["catalog", config, "-q"]) == 0
    clean = pd.read_parquet(tmp_path / "store" / "events.parquet")
    _csv_catalog(tmp_path / "cat.csv", times="24/08/2016 3.36")  # a format it cannot read
    capsys.readouterr()
    assert cli.main(["catalog", config, "-q", "--force"]) == 2
    line = _one_error_line(capsys)
    assert "cat.csv: none of its 300 rows could be read as a csv catalog (catalog.format)" in line
    assert "line 2: unparseable time or coordinates" in line and "[selection]" not in line
    _csv_catalog(tmp_path / "cat.csv")  # fixed
    assert cli.main(["catalog", config, "-q", "--force"]) == 0
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "store" / "events.parquet"), clean)


def _station_epochs(path: Path, code: str, start: str | None, end: str | None) -> None:
    """Set the epochs of one station's channels in a StationXML file."""
    inv = obspy.read_inventory(str(path))
    for ch in inv.select(station=code)[0][0]:
        ch.start_date = obspy.UTCDateTime(start) if start else None
        ch.end_date = obspy.UTCDateTime(end) if end else None
    inv.write(str(path), "STATIONXML")


def test_stations_active_in_part_of_the_window_or_not_at_all(tmp_path, study, capsys):
    """FDMO covers part of the window: a warning with the dates; NRCA's channels ended
    before it: "inactive from … to …", not "not found"."""
    raw, write = study
    config = write()
    start, end = raw["study"]["start"], raw["study"]["end"]
    mid = pd.Timestamp(start) + (pd.Timestamp(end) - pd.Timestamp(start)) / 2
    _station_epochs(tmp_path / "st.xml", "FDMO", mid.isoformat(), None)
    _station_epochs(tmp_path / "st.xml", "NRCA", "2009-01-01", "2012-06-30")
    assert cli.main(["catalog", config]) == 0
    out = capsys.readouterr().out
    day = pd.Timestamp(start).strftime("%Y-%m-%d")
    assert f"IV.FDMO: channels HH? cover only {mid:%Y-%m-%d} to " in out
    assert f"of the study window {day} to" in out
    assert "IV.NRCA (inactive in the study window" in out
    assert "active from 2009-01-01 to 2012-06-30" in out
    assert "not found in the station metadata" not in out
    assert list(pd.read_parquet(tmp_path / "store" / "stations.parquet").station_code) == ["FDMO"]


# velocity models -------------------------------------------------------------------------


def test_an_unknown_velocity_model_is_a_config_error(tmp_path, toy, address, capsys):
    store, cfg = _twin(tmp_path, toy, address, velocity_model="ak135x")
    assert cli.main(["ingest", cfg, "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()  # config errors: a line per key
    assert err[0] == f"error: {cfg}: invalid study config" and len(err) == 2, err
    assert "waveforms.velocity_model: unknown velocity model 'ak135x'" in err[1]
    assert "accepted: carannante2013, iasp91, " in err[1] and "ak135," in err[1]
    Path(cfg).write_text(Path(cfg).read_text().replace("ak135x", "carannante2013"))  # fixed
    assert cli.main(["ingest", cfg, "-q"]) == 0
    _same_store(store, toy.store)


def test_obspy_models_are_accepted_and_their_table_is_taup(tmp_path, monkeypatch, caplog):
    """ak135 is one of ObsPy's TauPy models: its first-P table (built once into the user's
    cache, here a small grid) gives TauPy's own first-P times."""
    from obspy.taup import TauPyModel

    from faultprobe.config.sections import Waveforms
    from faultprobe.pipelines.velocity import KM_PER_DEGREE, cache_dir, load_p_table, write_p_table

    assert Waveforms(sds_root="x", velocity_model="ak135").velocity_model == "ak135"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    grid = {"distances": np.arange(0.0, 41.0, 2.0), "depths": np.arange(0.0, 21.0, 5.0)}
    write_p_table("ak135", cache_dir() / "ak135_p_table.npz", workers=2, **grid)
    caplog.set_level(logging.INFO, logger="faultprobe")
    table = load_p_table("ak135")
    said = [r.getMessage() for r in caplog.records if r.name.startswith("faultprobe")]
    assert not said  # read from the cache, not built again
    rng = np.random.default_rng(3)
    dist, depth = rng.uniform(1, 39, 8), rng.uniform(1, 19, 8)
    got = table.travel_time(dist, depth)
    taup = TauPyModel("ak135")
    want = [
        min(a.time for a in taup.get_travel_times(z, x / KM_PER_DEGREE, ["p", "P"]))
        for x, z in zip(dist, depth)
    ]
    np.testing.assert_allclose(got, want, atol=0.05)
