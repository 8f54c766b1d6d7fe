"""One writer at a time: the store lock (host, pid, start time), a second `faultprobe ingest`
refused while the first runs, a lock left by a killed process detected and taken over, a
lock from another host broken only with --force."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from faultprobe.store import Store
from faultprobe.storelock import LOCK, LockInfo, StoreLocked, acquire, release
from faultprobe.testing.defects import write_toy_config, write_toy_study


def test_lock_file_says_who_holds_it_and_a_second_writer_is_refused(tmp_path):
    store = Store(str(tmp_path / "s"))
    with store.lock("ingest") as info:
        held = json.loads((tmp_path / "s" / LOCK).read_text())
        assert held["pid"] == os.getpid() and held["host"] == socket.gethostname()
        assert held["command"] == "ingest" and held["started"].endswith("Z")
        with pytest.raises(StoreLocked, match=r"being written by `faultprobe ingest` \(pid"):
            acquire(store, "catalog")
        with pytest.raises(StoreLocked):  # a live holder on this host is never broken
            acquire(store, "catalog", force=True)
        assert info.token
    assert not (tmp_path / "s" / LOCK).exists()


def _write_lock(path: Path, **fields) -> None:
    path.mkdir(parents=True, exist_ok=True)
    base = {"host": socket.gethostname(), "pid": 1, "started": "2016-10-30T06:40:17Z",
            "command": "ingest", "proc_start": None, "token": "x"}  # fmt: skip
    (path / LOCK).write_text(json.dumps(base | fields))


def _said(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name.startswith("faultprobe")]


def test_a_stale_lock_is_reported_and_taken_over(tmp_path, caplog):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    _write_lock(tmp_path / "s", pid=dead.pid)
    with caplog.at_level(logging.WARNING, logger="faultprobe"):
        info = acquire(Store(str(tmp_path / "s")), "ingest")
    said = _said(caplog)
    assert len(said) == 1 and f"pid {dead.pid}" in said[0] and "which is gone" in said[0]
    release(Store(str(tmp_path / "s")), info)


def test_a_lock_from_another_host_needs_force(tmp_path, caplog):
    _write_lock(tmp_path / "s", host="node-17", pid=4242)
    store = Store(str(tmp_path / "s"))
    with pytest.raises(StoreLocked, match="node-17.*--force"):
        acquire(store, "ingest")
    with caplog.at_level(logging.WARNING, logger="faultprobe"):
        info = acquire(store, "ingest", force=True)
    said = _said(caplog)
    assert "breaking" in said[0] and info.pid == os.getpid()
    release(store, info)


def test_an_unreadable_lock_file_is_taken_over(tmp_path):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / LOCK).write_text("")  # cut by a crash while written
    info = acquire(Store(str(tmp_path / "s")), "ingest")
    assert LockInfo(**json.loads((tmp_path / "s" / LOCK).read_text())).token == info.token


def _start(config: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "faultprobe.cli", "ingest", config, "-q"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 120) -> None:
    t0 = time.time()
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.time() - t0 < timeout
        time.sleep(0.02)


@pytest.fixture
def toy(tmp_path):
    study = write_toy_study(str(tmp_path), n_events=24, days=2, corrupt=False)
    return study, write_toy_config(str(tmp_path), study, waveforms={"block_size": 2})


@pytest.mark.slow  # end to end (the fast tier leaves it out)
def test_two_concurrent_ingests(toy):
    study, config = toy
    first = _start(config)
    _wait_for(Path(study.store) / LOCK, first)
    second = _start(config)
    out, err = second.communicate(timeout=120)
    assert second.returncode == 4, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "is being written by `faultprobe ingest`" in lines[0]
    assert f"pid {first.pid}" in lines[0]
    out, err = first.communicate(timeout=180)
    assert first.returncode == 0, err
    assert not (Path(study.store) / LOCK).exists()


@pytest.mark.slow  # end to end (the fast tier leaves it out)
def test_a_killed_ingest_leaves_a_lock_the_next_run_takes_over(toy):
    study, config = toy
    first = _start(config)
    _wait_for(Path(study.store) / LOCK, first)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    assert (Path(study.store) / LOCK).exists()
    again = _start(config)
    out, err = again.communicate(timeout=180)
    assert again.returncode == 0, err
    assert f"pid {first.pid}" in err and "which is gone; taking it over" in err
    assert (Path(study.store) / "ingest" / "complete.json").exists()
