"""Messages are `logging` records: the command line shows them on stderr (`-q` keeps only
warnings and the error line, `-v` adds debug lines), one module's logger can be turned up
or silenced on its own, and a library call shows nothing unless the caller configures
logging."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from catalog_files import NORCIA_STATIONS, random_catalog, write_stationxml, write_tan
from distributed import LocalCluster
from fdsn_loopback import FDSNService
from test_config import toml_text

from faultprobe import cli
from faultprobe.store import EVENTS, STATIONS, Store
from faultprobe.testing.defects import write_toy_config, write_toy_study

pytestmark = pytest.mark.filterwarnings("ignore:Consolidated metadata:UserWarning")

PLAN = "debug faultprobe.pipelines.ingest: plan "
WORKERS = "debug faultprobe.cluster.connect: "


CODES = {"codes": ["IV.NRCA", "IV.FDMO", "8P.T1212"], "far": ["IV.SMA1"],
            "network_aliases": {"8P": ["IV"]}}  # fmt: skip


def _catalog_config(folder: Path, raw: dict, **stations) -> str:
    """The real study config over a small catalog in `folder`, stations as given."""
    raw["study"]["store"] = "store"
    raw["catalog"]["path"] = "cat.txt"
    raw["stations"] = CODES | stations
    write_tan(folder / "cat.txt", random_catalog(3000, seed=5, days=200))
    (folder / "study.toml").write_text(toml_text(raw))
    return str(folder / "study.toml")


@pytest.fixture
def catalog_study(tmp_path, norcia_raw):
    """A catalog study whose FDSN station service is down."""
    cols = ["station_network_code", "station_code", "station_latitude_deg",
            "station_longitude_deg", "station_elevation_m", "station_channels",
            "station_sampling_rate_hz"]  # fmt: skip
    rows = pd.DataFrame(NORCIA_STATIONS, columns=cols)
    (tmp_path / "sds").mkdir()
    svc = FDSNService(str(tmp_path / "sds"), rows, pd.DataFrame())
    svc.up()
    svc.down()  # the port refuses connections
    return _catalog_config(tmp_path, norcia_raw, fdsn=svc.url)


@pytest.mark.parametrize("argv", [["catalog", "{}", "-q"], ["-q", "catalog", "{}"]])
def test_quiet_keeps_only_the_error_line(catalog_study, capsys, argv):
    assert cli.main(["catalog", catalog_study]) == 3
    loud = capsys.readouterr().err.strip().splitlines()
    assert any(line.startswith("reading ") for line in loud), loud
    assert any(line.startswith("asking the FDSN station service") for line in loud), loud
    assert loud[-1].startswith("error: ") and "FDSN station service" in loud[-1]
    assert cli.main([a.format(catalog_study) for a in argv]) == 3
    quiet = capsys.readouterr().err.strip().splitlines()
    assert quiet == loud[-1:]


@pytest.fixture(scope="module")
def address():
    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, protocol="tcp", dashboard_address=":0"
    ) as c:
        yield c.scheduler_address


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    return write_toy_study(str(tmp_path_factory.mktemp("toy")), n_events=8, days=2, corrupt=False)


def _fresh(folder: Path, study, address: str) -> str:
    """A config over a new store holding the toy's tables only: ingest has work to do."""
    store = Store(str(folder / "store"))
    store.write_table(study.events, EVENTS)
    store.write_table(study.stations, STATIONS)
    twin = type(study)(store.root, study.sds_root, study.events, study.stations)
    return write_toy_config(str(folder), twin, cluster={"kind": "address", "address": address})


@pytest.fixture
def pipelines_level():
    """Restore the level of `faultprobe.pipelines` that a test changes."""
    logger = logging.getLogger("faultprobe.pipelines")
    before = logger.level
    yield logger
    logger.setLevel(before)


def test_verbose_adds_debug_lines_and_one_part_is_turned_up_or_down(
    toy, address, tmp_path, capsys, pipelines_level
):
    assert cli.main(["ingest", _fresh(tmp_path / "a", toy, address)]) == 0
    err = capsys.readouterr().err
    assert "Dask dashboard: " in err and "debug " not in err
    assert cli.main(["-v", "ingest", _fresh(tmp_path / "b", toy, address)]) == 0
    err = capsys.readouterr().err
    assert PLAN in err and WORKERS in err
    # The ingest's own debug lines off, the rest of the package as asked.
    pipelines_level.setLevel(logging.INFO)
    assert cli.main(["ingest", _fresh(tmp_path / "c", toy, address), "-v"]) == 0
    err = capsys.readouterr().err
    assert WORKERS in err and "faultprobe.pipelines" not in err
    # Only the ingest's debug lines on.
    pipelines_level.setLevel(logging.DEBUG)
    assert cli.main(["ingest", _fresh(tmp_path / "d", toy, address)]) == 0
    err = capsys.readouterr().err
    assert PLAN in err and WORKERS not in err and "Dask dashboard: " in err


LIBRARY_CALL = """
import sys
from faultprobe.catalogs.study import build_catalog
from faultprobe.config import load_config
from faultprobe.store import Store
from faultprobe.storelock import LOCK

if sys.argv[2] == "configure":
    import logging

    logging.basicConfig(level=logging.INFO, format="%(message)s")
cfg = load_config(sys.argv[1])
Store(cfg.study.store).write_text("", LOCK)  # a lock cut by a crash: taken over, with a note
with Store(cfg.study.store).lock("catalog"):
    build_catalog(cfg)
"""


def test_a_library_call_prints_nothing_unless_logging_is_configured(tmp_path, norcia_raw):
    write_stationxml(tmp_path / "st.xml", NORCIA_STATIONS)
    config = _catalog_config(tmp_path, norcia_raw, inventory="st.xml")

    def run(mode: str) -> subprocess.CompletedProcess:
        argv = [sys.executable, "-c", LIBRARY_CALL, config, mode]
        return subprocess.run(argv, capture_output=True, text=True, timeout=300)

    silent = run("plain")
    assert silent.returncode == 0, silent.stderr
    assert silent.stdout == "" and silent.stderr == ""
    told = run("configure")  # the same call, logging configured by the application
    assert told.returncode == 0, told.stderr
    assert "which is gone; taking it over" in told.stderr and "reading " in told.stderr
