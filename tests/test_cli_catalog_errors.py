"""`faultprobe catalog` (and `synth`) on bad inputs, as a user meets them: one line on
stderr naming the file, key or service and what to do, a non-zero exit, no traceback, and
nothing written; or a row in catalog_problems.parquet. Fixed, the next run gives the store
a clean run gives. Station metadata fetched once is reused without the network."""

from __future__ import annotations

import os
import shutil

import pandas as pd
import pytest
from catalog_files import NORCIA_STATIONS, random_catalog, write_stationxml, write_tan
from fdsn_loopback import FDSNService
from test_config import toml_text

from faultprobe import cli

STATIONS = {"codes": ["IV.NRCA", "IV.FDMO", "8P.T1212"], "far": ["IV.SMA1"],
            "inventory": "st.xml", "network_aliases": {"8P": ["IV"]}}  # fmt: skip


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    assert "Traceback" not in err[0]
    return err[0]


@pytest.fixture
def study(tmp_path, norcia_raw):
    """The real study config with its store, catalog and stations in tmp_path."""
    norcia_raw["study"]["store"] = "store"
    norcia_raw["catalog"]["path"] = "cat.txt"
    norcia_raw["stations"] = dict(STATIONS)
    write_tan(tmp_path / "cat.txt", random_catalog(3000, seed=5, days=200))
    write_stationxml(tmp_path / "st.xml", NORCIA_STATIONS)

    def write(raw=norcia_raw) -> str:
        (tmp_path / "study.toml").write_text(toml_text(raw))
        return str(tmp_path / "study.toml")

    return norcia_raw, write


def _clean(tmp_path, study) -> pd.DataFrame:
    """events.parquet of a clean run in another folder, for comparison."""
    raw, _ = study
    other = tmp_path / "clean"
    other.mkdir()
    shutil.copy(tmp_path / "cat.txt", other / "cat.txt")
    shutil.copy(tmp_path / "st.xml", other / "st.xml")
    (other / "study.toml").write_text(toml_text(raw))
    assert cli.main(["catalog", str(other / "study.toml"), "-q"]) == 0
    return pd.read_parquet(other / "store" / "events.parquet")


def test_the_real_config_without_its_catalog_file(tmp_path, capsys):
    from conftest import CONFIGS

    config = tmp_path / "norcia2016.toml"
    config.write_text((CONFIGS / "norcia2016.toml").read_text())
    assert cli.main(["catalog", str(config), "-q"]) == 2
    line = _one_error_line(capsys)
    assert "Amatrice_CAT5.v20210325: catalog file not found (catalog.path)" in line
    assert "Tan et al. (2021)" in line and "10.5281/zenodo.4662870" in line
    assert not (tmp_path.parent / "studies" / "norcia2016").exists()


def test_duplicate_event_ids_name_their_lines(tmp_path, study, capsys):
    raw, write = study
    cat = random_catalog(3000, seed=5, days=200)
    cat.loc[9, "source_id"] = cat.loc[2, "source_id"]
    write_tan(tmp_path / "cat.txt", cat)
    assert cli.main(["catalog", write(), "-q"]) == 2
    line = _one_error_line(capsys)
    header = 20  # lines before the first row in the test files
    assert f"event id 3 appears on lines {header + 3}, {header + 10}" in line
    assert not (tmp_path / "store" / "events.parquet").exists()
    write_tan(tmp_path / "cat.txt", random_catalog(3000, seed=5, days=200))  # fixed
    assert cli.main(["catalog", write(), "-q"]) == 0
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "store" / "events.parquet"), _clean(tmp_path, study)
    )


def test_a_catalog_that_is_not_utf8_costs_only_its_bad_rows(tmp_path, study, capsys):
    raw, write = study
    text = (tmp_path / "cat.txt").read_bytes().splitlines(keepends=True)
    text[25] = text[25].replace(b" ", b" \xe9", 1)  # a Latin-1 byte inside row 6
    (tmp_path / "cat.txt").write_bytes(b"".join(text))
    assert cli.main(["catalog", write(), "-q"]) == 0
    problems = pd.read_parquet(tmp_path / "store" / "catalog_problems.parquet")
    assert problems.line.tolist() == [26]


def test_unreadable_stationxml(tmp_path, study, capsys):
    raw, write = study
    (tmp_path / "st.xml").write_text("<?xml version='1.0'?><not-stationxml")
    assert cli.main(["catalog", write(), "-q"]) == 2
    line = _one_error_line(capsys)
    assert "st.xml" in line and "not readable StationXML" in line


def test_an_empty_selection_writes_nothing(tmp_path, study, capsys):
    raw, write = study
    raw["selection"]["min_magnitude"] = 9.0
    assert cli.main(["catalog", write(), "-q"]) == 2
    line = _one_error_line(capsys)
    assert "no event of 3000" in line and "below magnitude threshold" in line
    assert not (tmp_path / "store" / "events.parquet").exists()


def test_catalog_again_on_an_ingested_store(tmp_path, study, capsys):
    raw, write = study
    config = write()
    assert cli.main(["catalog", config, "-q"]) == 0
    cube = tmp_path / "store" / "waveforms.zarr"
    cube.mkdir()  # stands for an ingest made from this selection
    (tmp_path / "store" / "traces.parquet").write_bytes(b"")
    capsys.readouterr()
    assert cli.main(["catalog", config, "-q"]) == 2
    line = _one_error_line(capsys)
    assert "already holds an ingest (waveforms.zarr, traces.parquet)" in line and "--force" in line
    # Forced with the same selection: nothing is invalidated.
    assert cli.main(["catalog", config, "-q", "--force"]) == 0
    assert cube.exists() and "selection changed" not in capsys.readouterr().out
    # Forced with another selection: what was built from the old one is removed, and said.
    raw["selection"]["min_magnitude"] = 1.0
    assert cli.main(["catalog", write(raw), "-q", "--force"]) == 0
    out = capsys.readouterr().out
    assert "removed what was built from the previous one (waveforms.zarr, traces.parquet)" in out
    assert not cube.exists()


def _station_rows():
    cols = ["station_network_code", "station_code", "station_latitude_deg",
            "station_longitude_deg", "station_elevation_m", "station_channels",
            "station_sampling_rate_hz"]  # fmt: skip
    return pd.DataFrame([dict(zip(cols, r)) for r in NORCIA_STATIONS])


def test_station_metadata_is_saved_and_used_offline(tmp_path, study, capsys):
    raw, write = study
    (tmp_path / "sds").mkdir()
    svc = FDSNService(str(tmp_path / "sds"), _station_rows(), pd.DataFrame())
    svc.up()
    svc.down()  # the port refuses connections
    raw["stations"] = {k: v for k, v in STATIONS.items() if k != "inventory"} | {"fdsn": svc.url}
    config = write(raw)
    # The service down and nothing saved: one line naming the service and what to do.
    assert cli.main(["catalog", config, "-q"]) == 3
    line = _one_error_line(capsys)
    assert f"FDSN station service {svc.url}" in line and "[stations] inventory" in line
    with svc:
        assert cli.main(["catalog", config]) == 0
    first = pd.read_parquet(tmp_path / "store" / "stations.parquet")
    assert (tmp_path / "store" / "stations.xml").exists()
    assert "saved to" in capsys.readouterr().err
    # The network is off: the saved StationXML is used.
    assert cli.main(["catalog", config]) == 0
    assert "saved earlier" in capsys.readouterr().err
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "store" / "stations.parquet"), first)
    # Asking again needs the service.
    assert cli.main(["catalog", config, "-q", "--refresh-stations"]) == 3
    _one_error_line(capsys)
    assert first["station_code"].tolist() == ["NRCA", "FDMO", "T1212", "SMA1"]


def test_synth_refuses_a_config_without_a_synthetic_section(tmp_path, study, capsys):
    raw, write = study
    assert cli.main(["synth", write(), "-q"]) == 2
    line = _one_error_line(capsys)
    assert "no [synthetic] section" in line
    assert not (tmp_path / "synthetic").exists()


def test_debug_shows_the_traceback(tmp_path, study):
    raw, write = study
    raw["selection"]["min_magnitude"] = 9.0
    from faultprobe.catalogs.readers import CatalogError

    with pytest.raises(CatalogError):
        cli.main(["catalog", write(), "-q", "--debug"])


@pytest.mark.parametrize("content", [b"", b"\x1f\x8b\x08\x00 gzip bytes \x00\xff" * 50])
def test_an_empty_or_binary_catalog(tmp_path, study, capsys, content):
    raw, write = study
    (tmp_path / "cat.txt").write_bytes(content)
    assert cli.main(["catalog", write(), "-q"]) == 2
    line = _one_error_line(capsys)
    assert "cat.txt: not a Tan et al. (2021) catalog" in line
    assert not (tmp_path / "store" / "events.parquet").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads unreadable files")
@pytest.mark.parametrize("name", ["cat.txt", "st.xml"])
def test_unreadable_files(tmp_path, study, capsys, name):
    raw, write = study
    os.chmod(tmp_path / name, 0)
    assert cli.main(["catalog", write(), "-q"]) == 2
    line = _one_error_line(capsys)
    assert name in line and "Permission denied" in line
