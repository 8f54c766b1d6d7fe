"""`faultprobe ingest` on bad inputs and bad moments, as a user meets them: a corrupt
events.parquet, a missing archive root, a template state cut by a kill, a StationXML
corrected after a run, a full disk, Ctrl-C, a read-only store. Each ends in one line and an
exit code (or in status rows), and the next run after the fix gives the store a clean run
gives."""

from __future__ import annotations

import contextlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from distributed import Client, Event, LocalCluster

from faultprobe import cli
from faultprobe.store import TRACES, Store
from faultprobe.testing.defects import toy_inventory, write_toy_config, write_toy_study

pytestmark = pytest.mark.filterwarnings("ignore:Consolidated metadata:UserWarning")


@pytest.fixture(scope="module")
def address():
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, protocol="tcp", dashboard_address=":0"
    ) as c:
        yield c.scheduler_address


@pytest.fixture(scope="module")
def toy(tmp_path_factory, address):
    """The toy archive and the store of a clean run."""
    d = tmp_path_factory.mktemp("toy")
    study = write_toy_study(str(d), n_events=12, days=2, corrupt=False)
    cfg = write_toy_config(str(d), study, cluster={"kind": "address", "address": address})
    assert cli.main(["ingest", cfg, "-q"]) == 0
    return study


def _twin(folder: Path, study, address: str | None, **waveforms) -> tuple[str, str]:
    store = folder / "store"
    store.mkdir(parents=True)
    study.events.to_parquet(store / "events.parquet")
    study.stations.to_parquet(store / "stations.parquet")
    twin = type(study)(str(store), study.sds_root, study.events, study.stations)
    cluster = {"kind": "address", "address": address} if address else None
    return str(store), write_toy_config(str(folder), twin, waveforms=waveforms, cluster=cluster)


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


def _same_store(store: str, ref: str) -> None:
    x = xr.open_zarr(f"{ref}/waveforms.zarr").load()
    y = xr.open_zarr(f"{store}/waveforms.zarr").load()
    for var in ("waveform", "status", "start_time", "p_time"):
        np.testing.assert_array_equal(x[var].values, y[var].values)
    assert y.attrs["complete"] is True
    pd.testing.assert_frame_equal(
        pd.read_parquet(f"{ref}/traces.parquet"), pd.read_parquet(f"{store}/traces.parquet")
    )


def test_corrupt_events_table(tmp_path, toy, address, capsys):
    store, cfg = _twin(tmp_path, toy, address)
    Path(store, "events.parquet").write_bytes(b"PAR1 not really")
    assert cli.main(["ingest", cfg, "-q"]) == 2
    line = _one_error_line(capsys)
    assert "events.parquet is not a readable Parquet table" in line
    assert "faultprobe catalog" in line
    toy.events.to_parquet(Path(store, "events.parquet"))  # fixed
    assert cli.main(["ingest", cfg, "-q"]) == 0
    _same_store(store, toy.store)


def test_missing_archive_root_is_an_error_before_anything_runs(tmp_path, toy, address, capsys):
    store, cfg = _twin(tmp_path, toy, address, sds_root=str(tmp_path / "nowhere"))
    assert cli.main(["ingest", cfg, "-q"]) == 2
    line = _one_error_line(capsys)
    assert f"waveforms.sds_root = {tmp_path / 'nowhere'} does not exist" in line
    assert sorted(os.listdir(store)) == ["events.parquet", "stations.parquet"]


def test_template_state_cut_by_a_kill(tmp_path, toy, address):
    store, cfg = _twin(tmp_path, toy, address)
    assert cli.main(["ingest", cfg, "-q"]) == 0
    Path(store, "ingest", "template.json").write_text("")  # what a kill left before
    Path(store, "ingest", "blocks", "000001.json").unlink()  # and an unfinished block
    assert cli.main(["ingest", cfg, "-q"]) == 0
    assert json.loads(Path(store, "ingest", "template.json").read_text())["codec"]
    _same_store(store, toy.store)


def test_a_corrected_stationxml_redoes_the_blocks_built_from_the_old_one(
    tmp_path, toy, address, capsys
):
    settings = {"remove_response": True, "codec": "zstd-3"}
    # The clean run, with the right StationXML from the start.
    ref, ref_cfg = _twin(tmp_path / "ref", toy, address, **settings)
    toy_inventory(toy.stations).write(str(tmp_path / "ref" / "stations.xml"), "STATIONXML")
    assert cli.main(["ingest", ref_cfg, "-q"]) == 0
    # A StationXML without NRCA: its windows cannot have their response removed.
    store, cfg = _twin(tmp_path / "run", toy, address, **settings)
    inv = tmp_path / "run" / "stations.xml"
    toy_inventory(toy.stations[toy.stations.station_code != "NRCA"]).write(str(inv), "STATIONXML")
    assert cli.main(["ingest", cfg, "-q"]) == 0
    tr = Store(store).read_table(TRACES)
    nrca = tr[tr.station_code == "NRCA"]
    assert (nrca.status == "error").all() and nrca.reason.str.contains("response").all()
    capsys.readouterr()
    toy_inventory(toy.stations).write(str(inv), "STATIONXML")  # corrected
    assert cli.main(["ingest", cfg]) == 0
    err = capsys.readouterr().err
    assert "3 of 3 finished blocks were built from other inputs (the StationXML)" in err
    _same_store(store, ref)


def _cli(config: str, preexec=None, session: bool = False) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "faultprobe.cli", "ingest", config, "-q"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=preexec,
        start_new_session=session,
    )


def _small_disk() -> None:
    """No file may grow past 30 kB: writes of cube chunks fail as on a full disk."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (30_000, 30_000))


@pytest.mark.slow  # end to end (the fast tier leaves it out)
def test_a_full_disk(tmp_path, toy):
    store, cfg = _twin(tmp_path, toy, None)
    full = _cli(cfg, _small_disk)
    _, err = full.communicate(timeout=180)
    assert full.returncode == 5, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: no space left while writing {store}")
    assert "Traceback" not in err
    again = _cli(cfg)
    _, err = again.communicate(timeout=180)
    assert again.returncode == 0, err
    _same_store(store, toy.store)


def _hold(name: str) -> None:
    """A task that keeps its worker busy until the named Dask event is set."""
    from distributed import Event

    Event(name).wait()


def _scheduler_tasks(dask_scheduler) -> int:
    return len(dask_scheduler.tasks)


@pytest.mark.slow  # end to end (the fast tier leaves it out)
def test_ctrl_c(tmp_path, toy, address):
    """Ctrl-C while the ingest waits on the cluster: one line, exit 130, lock gone, the next
    run finishes. Both workers are held busy first, so the interrupt cannot come too late."""
    store, cfg = _twin(tmp_path, toy, address)
    with Client(address) as client:
        release = Event("faultprobe-test-release", client=client)
        workers = list(client.scheduler_info(n_workers=-1)["workers"])
        holds = [
            client.submit(_hold, release.name, workers=[w], pure=False, key=f"hold-{i}")
            for i, w in enumerate(workers)
        ]
        try:
            run = _cli(cfg)
            t0 = time.time()  # wait until the ingest has tasks queued behind the held ones
            while client.run_on_scheduler(_scheduler_tasks) <= len(holds):
                assert time.time() - t0 < 120 and run.poll() is None, run.communicate()
                time.sleep(0.1)
            assert Path(store, "faultprobe.lock").exists()
            run.send_signal(signal.SIGINT)
            _, err = run.communicate(timeout=120)
        finally:
            release.set()
            client.gather(holds)
    assert run.returncode == 130, err
    assert err.strip().splitlines() == [
        "interrupted; run the same command again to finish (finished work is kept)"
    ]
    assert not Path(store, "faultprobe.lock").exists()
    again = _cli(cfg)
    _, err = again.communicate(timeout=180)
    assert again.returncode == 0, err
    _same_store(store, toy.store)


def _writer_of(fifo: Path, run: subprocess.Popen, timeout: float = 120.0) -> int:
    """Open the FIFO for writing once a reader (a worker's task) has it open; the reader
    then waits in read() until the returned descriptor is closed."""
    t0 = time.time()
    while True:
        try:
            return os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:  # ENXIO: no reader yet
            assert time.time() - t0 < timeout and run.poll() is None, run.communicate()
            time.sleep(0.1)


def _worker_importing(run: subprocess.Popen, timeout: float = 120.0) -> None:
    """Wait until a worker process of the CLI is importing its libraries (NumPy's core is
    mapped, so Python's own Ctrl-C handler is in place there)."""
    import psutil

    t0 = time.time()
    while True:
        with contextlib.suppress(psutil.Error, OSError):
            for k in psutil.Process(run.pid).children(recursive=True):
                if "spawn_main" in " ".join(k.cmdline()):
                    if "_multiarray_umath" in Path(f"/proc/{k.pid}/maps").read_text():
                        return
        assert time.time() - t0 < timeout and run.poll() is None, run.communicate()
        time.sleep(0.02)


def _interrupted(run: subprocess.Popen) -> None:
    """Ctrl-C at a terminal: SIGINT to the whole process group; only the promised line."""
    os.killpg(run.pid, signal.SIGINT)
    _, err = run.communicate(timeout=120)
    assert run.returncode == 130, err
    assert err.strip().splitlines() == [
        "interrupted; run the same command again to finish (finished work is kept)"
    ]


def test_ctrl_c_in_a_terminal_reaches_the_workers_too(tmp_path, toy):
    """Ctrl-C at a terminal reaches the local cluster's worker processes too: once while they
    start (importing), once while a task reads a day file (a FIFO holds it until we let go).
    Each time only the promised line, exit 130, no lock left; the next run is a clean one."""
    sds = tmp_path / "sds"
    shutil.copytree(toy.sds_root, sds)
    store, cfg = _twin(tmp_path, toy, None, sds_root=str(sds))
    run = _cli(cfg, session=True)
    _worker_importing(run)
    _interrupted(run)
    day = sorted(sds.rglob("*.D.*"))[0]
    real = day.read_bytes()
    day.unlink()
    os.mkfifo(day)
    run = _cli(cfg, session=True)
    fd = _writer_of(day, run)
    try:
        _interrupted(run)
    finally:
        os.close(fd)
    assert not Path(store, "faultprobe.lock").exists()
    day.unlink()
    day.write_bytes(real)
    again = _cli(cfg)
    _, err = again.communicate(timeout=180)
    assert again.returncode == 0, err
    _same_store(store, toy.store)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_store(tmp_path, toy, address, capsys):
    store, cfg = _twin(tmp_path, toy, address)
    os.chmod(store, 0o555)
    try:
        assert cli.main(["ingest", cfg, "-q"]) == 5
        line = _one_error_line(capsys)
        assert "cannot write" in line and "Permission denied" in line
    finally:
        os.chmod(store, 0o755)
    assert cli.main(["ingest", cfg, "-q"]) == 0
    _same_store(store, toy.store)


def test_an_archive_without_the_studys_data_is_not_a_success(tmp_path, toy, address, capsys):
    (tmp_path / "empty").mkdir()
    store, cfg = _twin(tmp_path, toy, address, sds_root=str(tmp_path / "empty"))
    assert cli.main(["ingest", cfg, "-q"]) == 2
    line = _one_error_line(capsys)
    assert "none of the 60 windows got any samples (mostly no_data)" in line
